// The MDE calculator: POST /api/stats/mde, fill from GET /api/stats/baseline, draw the curve.
// A computed answer greys out once any input changes: it no longer answers what is typed.
(function () {
  var form = document.getElementById("mde-form");
  var result = document.getElementById("mde-result");
  var createLink = document.getElementById("create-link");
  var staleNote = result.querySelector(".stale-note");
  var formatter = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
  // The catalogue metric the baseline was last filled from: a ratio, sized as a mean of its
  // per-unit linearisation, and the primary metric of an experiment created from here.
  var filledMetric = "";

  function count(n) { return formatter.format(n); }
  // Counts may be typed with thousands separators: 20,000 or 20 000 or 20_000.
  function whole(text) { return number(text.replace(/[,_\s]/g, "")); }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function value(name) { return form.elements[name].value.trim(); }
  function number(text) { return text === "" ? undefined : Number(text); }
  function list(text) { return text.split(/[\s,]+/).filter(Boolean).map(Number); }

  // Tests the correction controls: one per treatment, or one without a correction (as the
  // experiment's plan counts them).
  function comparisons() {
    var treatments = Math.max(1, list(value("weights")).length - 1);
    return value("correction") === "none" ? 1 : treatments;
  }

  function syncVisibility() {
    var k = comparisons();
    document.getElementById("comparisons-note").textContent =
      k + (k === 1 ? " comparison" : " comparisons") + ": each test at alpha / " + k;
    var mean = value("metric_type") === "mean";
    form.querySelectorAll(".mean-only").forEach(function (el) { el.hidden = !mean; });
    ["mde_rel", "n_per_variant"].forEach(function (mode) {
      form.querySelector(".mode-" + mode).hidden = value("mode") !== mode;
    });
  }

  function body() {
    var data = {
      metric_type: value("metric_type"),
      baseline: number(value("baseline")),
      weights: list(value("weights")),
      daily_units: whole(value("daily_units")),
      alpha: number(value("alpha")),
      power: number(value("power")),
      comparisons: comparisons(),
    };
    if (data.metric_type === "mean") {
      data.std = number(value("std"));
      // Blank means no CUPED (the API's default); anything else goes as typed, so a typo
      // comes back as an error on the field instead of silently counting as 0.
      data.correlation = number(value("correlation"));
    }
    if (value("mode") === "mde_rel") {
      data.mde_rel = number(value("mde_rel"));
    } else {
      // Arms apart by spaces, slashes or commas; a comma before exactly three digits groups
      // thousands (the answer's "21,813 / 21,813" pasted back reads as two arms).
      var counts = value("n_per_variant").split(/[\s;/]+|,(?!\d{3}(?!\d))/).filter(Boolean).map(whole);
      data.n_per_variant = counts.length === 1 ? counts[0] : counts;
    }
    return data;
  }

  function showErrors(errors) {
    form.querySelectorAll("[data-field]").forEach(function (el) {
      var label = el.closest("label");
      if (label) label.classList.remove("invalid");
      if (el.tagName === "P") el.textContent = "";
    });
    Object.keys(errors).forEach(function (field) {
      var root = field.split(/[.[]/)[0];
      var input = form.querySelector('[data-field="' + root + '"]');
      var message = field + ": " + errors[field].join(" ");
      if (input && input.closest("label")) input.closest("label").classList.add("invalid");
      form.querySelector('p[data-field="body"]').textContent += message + " ";
    });
  }

  function draw(answer) {
    var curve = answer.curve;
    Plotly.react("mde-chart", [
      { type: "scatter", mode: "lines", name: "units in total",
        x: curve.map(function (p) { return p.mde_rel * 100; }),
        y: curve.map(function (p) { return p.n_total; }),
        customdata: curve.map(function (p) { return p.days; }),
        hovertemplate: "MDE %{x:.2f}%: %{y:,} units, %{customdata:,} days<extra></extra>" },
      { type: "scatter", mode: "markers", name: "this plan", marker: { size: 11 },
        x: [answer.mde_rel * 100], y: [answer.n_total] },
    ], {
      margin: { l: 70, r: 20, t: 30, b: 50 }, height: 340, showlegend: false,
      xaxis: { title: { text: "minimum detectable effect (relative, %)" } },
      yaxis: { title: { text: "sample size (units in total)" }, type: "log" },
    }, { responsive: true, displaylogo: false });
  }

  function markStale() {
    if (result.hidden || result.classList.contains("stale")) return;
    result.classList.add("stale");
    staleNote.hidden = false;
  }

  function show(answer, sent) {
    result.hidden = false;
    result.classList.remove("stale");
    staleNote.hidden = true;
    result.querySelector('[data-out="n_per_variant"]').textContent = answer.n_per_variant.map(count).join(" / ");
    result.querySelector('[data-out="n_total"]').textContent = count(answer.n_total);
    result.querySelector('[data-out="days"]').textContent = count(answer.days);
    result.querySelector('[data-out="mde_rel"]').textContent = (answer.mde_rel * 100).toFixed(2) + "%";
    var k = sent.comparisons;
    result.querySelector('[data-out="sizing"]').textContent = k === 1
      ? "Sized for 1 comparison at alpha " + sent.alpha + "."
      : "Sized for " + k + " comparisons: each test at alpha " + sent.alpha + " / " + k + " = " +
        formatter.format(sent.alpha / k) + ".";
    draw(answer);
    if (createLink) {
      var names = sent.weights.map(function (w, i) { return i === 0 ? "control" : String.fromCharCode(97 + i); });
      var params = new URLSearchParams({
        primary_metric: sent.metric_type === "mean" ? (filledMetric || "outcome_value") : "conversion",
        baseline: sent.baseline, mde_rel: answer.mde_rel.toPrecision(4), alpha: sent.alpha,
        power: sent.power, expected_daily_units: Math.round(sent.daily_units),
        max_duration_days: answer.days, correction: value("correction"),
        variants: names.map(function (n, i) { return n + " " + sent.weights[i]; }).join("\n"),
      });
      if (sent.metric_type === "mean") {
        params.set("baseline_std", sent.std);
        params.set("expected_correlation", sent.correlation === undefined ? 0 : sent.correlation);
      }
      createLink.href = createLink.pathname + "?" + params.toString();
    }
  }

  form.addEventListener("change", syncVisibility);
  // A type chosen by hand is no longer the filled metric's.
  form.elements.metric_type.addEventListener("change", function () { filledMetric = ""; });
  form.addEventListener("input", markStale);
  form.addEventListener("change", markStale);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var sent = body();
    fetch("/api/stats/mde", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(sent),
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (answer) {
      if (answer.status === 200) { showErrors({}); show(answer.data, sent); return; }
      // Numbers of earlier inputs would read as the answer to these: hide them.
      result.hidden = true;
      showErrors(answer.status === 400 ? answer.data
        : { body: ["the server could not answer (" + answer.status + ")"] });
    }, function () {
      result.hidden = true;
      showErrors({ body: ["the server did not answer; try again"] });
    });
  });

  var fillStatus = document.getElementById("fill-status");
  function fill(tries) {
    var panel = document.getElementById("fill");
    var metric = panel.querySelector('[name="metric"]').value;
    var params = new URLSearchParams({
      experiment_key: panel.querySelector('[name="experiment_key"]').value,
      days: panel.querySelector('[name="days"]').value,
      metric: metric,
    });
    fillStatus.textContent = "Querying the lake…";
    fetch("/api/stats/baseline?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (data) { return { status: response.status, data: data }; });
      }).then(function (answer) {
        if (answer.status === 202 && tries < 120) { setTimeout(function () { fill(tries + 1); }, 1000); return; }
        if (answer.status !== 200) { fillStatus.textContent = "Could not fill: " + JSON.stringify(answer.data); return; }
        var b = answer.data.baseline, w = answer.data.window;
        if (b.control_units < 2) { fillStatus.textContent = "Too few units in " + w.start + " to " + w.end + "."; return; }
        if (b.mean === null) { fillStatus.textContent = "No control unit has the metric's denominator in " + w.start + " to " + w.end + ": no ratio to size."; return; }
        if (metric) { form.elements.metric_type.value = "mean"; syncVisibility(); }
        filledMetric = metric;
        var mean = value("metric_type") === "mean";
        form.elements.baseline.value = (mean ? b.mean : b.conversion_rate).toPrecision(4);
        if (mean) {
          form.elements.std.value = b.std.toPrecision(4);
          form.elements.correlation.value = b.correlation.toFixed(3);
        }
        form.elements.daily_units.value = count(Math.round(b.daily_units));
        markStale();
        fillStatus.textContent = "Filled from " + b.control_units.toLocaleString() + " control units, " + w.start + " to " + w.end + " (query run " + answer.data.run_id + ")" +
          (metric ? "; the ratio is sized as a mean of its per-unit linearisation." : ".");
      });
  }
  document.getElementById("fill-button").addEventListener("click", function () { fill(0); });
  syncVisibility();
})();
