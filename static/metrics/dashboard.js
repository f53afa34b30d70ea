/* Dashboard tiles, the metric page chart, and the filter pickers of both (and of explore).
 *
 * Every element with [data-tile] loads on its own: it asks the metric data API for its window
 * (and the window it is compared with: the previous period, last week or last year). A 200
 * carries the result; a 202 carries a run id, which is polled at /api/runs/<id> until it
 * succeeds (then the data is fetched again, now from the cache) or fails (the message and a
 * Retry button are shown). No tile waits for another.
 *
 * Every select[data-values-url] is a filter picker: its options are the values of the window
 * (the values API), with how many rows hold each.
 */
(function () {
  "use strict";

  // Waits between polls of a queued run: quick at first, then every 250 ms, so a tile shows its
  // numbers at most a quarter of a second after the run finishes (bench/dashboards.py does the same).
  var POLL_MS = [100, 150, 200, 250];
  var MAX_REFETCH = 3;
  // A 429 (too many of your queries in flight, QUERY_USER_MAX_IN_FLIGHT, or asked too often)
  // is not an error for a tile: it stays queued and asks again (after Retry-After if given), so
  // a cold dashboard of more tiles than the cap loads in turns.
  var BUSY_MS = [500, 1000, 2000, 3000];
  var BUSY_MAX_MS = 10 * 60 * 1000;
  var SECONDS = { minutes: 60, hours: 3600, days: 86400 };
  var COLORS = ["#2f5bea", "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#06aed4", "#667085", "#b42318"];

  // ---- number formats (per the metric's unit and display format) ----

  function formatValue(value, format, unit) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    if (format === "percent") return percent(value * 100);
    if (format === "multiple") return value.toFixed(2) + "×";
    if (format === "currency") return currency(value, unit);
    if (format === "duration") return duration(value * (SECONDS[unit] || 1));
    return number(value);
  }

  function percent(p) {
    return (Math.abs(p) >= 10 ? p.toFixed(1) : p.toFixed(2)) + "%";
  }

  function currency(value, unit) {
    var big = Math.abs(value) >= 1000;
    return new Intl.NumberFormat("en-GB", {
      style: "currency",
      currency: (unit || "eur").toUpperCase(),
      maximumFractionDigits: big ? 0 : 2,
      minimumFractionDigits: big ? 0 : 2,
    }).format(value);
  }

  function duration(seconds) {
    var abs = Math.abs(seconds);
    if (abs < 90) return seconds.toFixed(0) + " s";
    if (abs < 90 * 60) return (seconds / 60).toFixed(abs < 600 ? 1 : 0) + " min";
    if (abs < 48 * 3600) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " d";
  }

  function number(value) {
    return new Intl.NumberFormat("en-US", {
      maximumFractionDigits: Math.abs(value) < 10 ? 2 : Math.abs(value) < 1000 ? 1 : 0,
    }).format(value);
  }

  // The change from the previous window: percentage points for percentages, relative otherwise.
  function change(current, previous, format, higherIsBetter) {
    if (current === null || previous === null || !isFinite(current) || !isFinite(previous)) {
      return null;
    }
    var delta = current - previous;
    var text;
    if (format === "percent") {
      var pp = delta * 100;
      text = (pp >= 0 ? "+" : "−") + Math.abs(pp).toFixed(Math.abs(pp) < 10 ? 2 : 1) + " pp";
    } else if (previous === 0) {
      text = delta === 0 ? "±0%" : "new";
    } else {
      var rel = (delta / Math.abs(previous)) * 100;
      text = (rel >= 0 ? "+" : "−") + Math.abs(rel).toFixed(1) + "%";
    }
    var tone = delta === 0 ? "flat" : (delta > 0) === higherIsBetter ? "good" : "bad";
    return { text: text, tone: tone, arrow: delta > 0 ? "▲" : delta < 0 ? "▼" : "" };
  }

  function axisFormat(format, unit, max) {
    if (format === "percent") return { tickformat: ".1~%" };
    if (format === "multiple") return { tickformat: "~r", ticksuffix: "×" };
    if (format === "currency") {
      return { tickformat: "~s", tickprefix: unit === "usd" ? "$" : "€" };
    }
    if (format === "duration") {
      return { tickformat: ",~r", ticksuffix: { minutes: " min", hours: " h", days: " d" }[unit] || "" };
    }
    // Counts: whole ticks while small (no "500m" of a breach), SI suffixes once large.
    return max < 5 ? { tickformat: ",d", dtick: 1 } : { tickformat: max >= 10000 ? "~s" : ",~r" };
  }

  // ---- fetching: 200 now, or 202 then poll the run ----

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        var retryAfter = parseFloat(response.headers.get("Retry-After"));
        return response.json().then(
          function (body) { return { status: response.status, body: body, retryAfter: retryAfter }; },
          function () { return { status: response.status, body: null, retryAfter: retryAfter }; }
        );
      });
  }

  async function getTurn(url, onStatus) {
    var waited = 0;
    for (var i = 0; ; i++) {
      var res = await getJSON(url);
      if (res.status !== 429 || waited >= BUSY_MAX_MS) return res;
      onStatus("queued");
      var ms = res.retryAfter > 0 ? res.retryAfter * 1000 : BUSY_MS[Math.min(i, BUSY_MS.length - 1)];
      await sleep(ms);
      waited += ms;
    }
  }

  function messageOf(res) {
    var body = res.body;
    if (body && typeof body === "object") {
      if (body.detail) return String(body.detail);
      var field = Object.keys(body)[0];
      if (field && Array.isArray(body[field])) return field + ": " + body[field].join(" ");
    }
    return "The server answered " + res.status + ".";
  }

  function withoutForce(url) {
    return url.replace(/([?&])force_refresh=true&?/, "$1").replace(/[?&]$/, "");
  }

  function withForce(url) {
    return url + (url.indexOf("?") === -1 ? "?" : "&") + "force_refresh=true";
  }

  async function waitForRun(pollUrl, onStatus) {
    for (var i = 0; ; i++) {
      var res = await getJSON(pollUrl);
      if (res.status !== 200) throw new Error(messageOf(res));
      onStatus(res.body.status);
      if (res.body.status === "succeeded" || res.body.status === "failed") return res.body;
      await sleep(POLL_MS[Math.min(i, POLL_MS.length - 1)]);
    }
  }

  async function fetchResult(url, onStatus) {
    var res = await getTurn(url, onStatus);
    for (var attempt = 0; attempt < MAX_REFETCH; attempt++) {
      if (res.status === 200) return res.body;
      if (res.status !== 202) throw new Error(messageOf(res));
      onStatus(res.body.status);
      var run = await waitForRun(res.body.poll_url, onStatus);
      if (run.status === "failed") throw new Error(run.error || "The query failed.");
      res = await getTurn(withoutForce(url), onStatus);
    }
    throw new Error("The result did not arrive in time.");
  }

  // ---- one tile ----

  function Tile(el) {
    this.el = el;
    this.url = el.dataset.url;
    this.compareUrl = el.dataset.compareUrl || null;
    this.compareLabel = el.dataset.compareLabel || "";
    this.format = el.dataset.format;
    this.unit = el.dataset.unit;
    this.higherIsBetter = el.dataset.higherIsBetter === "true";
    this.chartType = el.dataset.chart || "line";
    // How far the comparison's periods move to lie under the window's (12 months for last
    // year by month: a month's first day a year later is not a fixed number of days away).
    this.shiftDays = parseInt(el.dataset.shiftDays || "0", 10);
    this.shiftMonths = parseInt(el.dataset.shiftMonths || "0", 10);
    this.plot = el.querySelector(".plot");
    this.state = el.querySelector(".tile-state");
    this.refreshButton = el.querySelector("[data-action=refresh]");
    this.statuses = {};
    this.timer = null;
    var self = this;
    if (this.refreshButton) {
      this.refreshButton.addEventListener("click", function () { self.load(true); });
    }
    document.addEventListener("portal:annotations-changed", async function () {
      self.markers = await self.annotations();
      if (self.drawn) self.draw(self.drawn[0], self.drawn[1]);
    });
  }

  // The annotations of the tile's window (static/annotations/annotations.js, where the page
  // loads it): one request per page and window, the dashboard's or the metric's.
  Tile.prototype.annotations = async function () {
    var A = window.portalAnnotations;
    if (!A) return [];
    var board = document.querySelector("[data-annotations-dashboard]");
    var params = { start: this.el.dataset.start, end: this.el.dataset.end };
    if (board) params.dashboard = board.dataset.annotationsDashboard;
    else params.metric = this.el.dataset.metric;
    return A.forMetric(await A.load(params), this.el.dataset.metric);
  };

  Tile.prototype.field = function (name) {
    return this.el.querySelector("[data-field=" + name + "]");
  };

  Tile.prototype.show = function (state, message) {
    this.el.dataset.state = state;
    this.state.hidden = state === "done";
    this.state.className = "tile-state " + state;
    var text = this.state.querySelector(".message");
    var retry = this.state.querySelector("button");
    text.textContent = message || "";
    retry.hidden = state !== "failed";
  };

  Tile.prototype.progress = function () {
    // The least advanced of the tile's runs decides what the tile says.
    var states = Object.values(this.statuses);
    var label = states.indexOf("queued") !== -1 ? "Queued" : "Running";
    var elapsed = (performance.now() - this.startedAt) / 1000;
    this.show(label.toLowerCase(), label + " · " + elapsed.toFixed(1) + " s");
  };

  Tile.prototype.load = async function (force) {
    if (this.loading) return;
    this.loading = true;
    this.startedAt = performance.now();
    this.statuses = { current: "queued" };
    if (this.refreshButton) this.refreshButton.disabled = true;
    var self = this;
    this.progress();
    this.timer = setInterval(function () { self.progress(); }, 100);
    function tracker(key) {
      return function (status) { self.statuses[key] = status; };
    }
    try {
      var jobs = [fetchResult(force ? withForce(this.url) : this.url, tracker("current"))];
      if (this.compareUrl) {
        this.statuses.compare = "queued";
        jobs.push(fetchResult(force ? withForce(this.compareUrl) : this.compareUrl, tracker("compare")));
      }
      var markers = this.annotations();
      var results = await Promise.all(jobs);
      this.markers = await markers;
      clearInterval(this.timer);
      this.render(results[0], results[1] || null);
    } catch (err) {
      clearInterval(this.timer);
      this.show("failed", err.message);
    } finally {
      this.loading = false;
      if (this.refreshButton) this.refreshButton.disabled = false;
    }
  };

  Tile.prototype.render = function (current, compared) {
    var value = current.summary.value;
    var single = current.summary.method !== "none";  // a split median has no single number
    var valueEl = this.field("value");
    valueEl.hidden = !single;
    valueEl.textContent = formatValue(value, this.format, this.unit);
    valueEl.dataset.raw = value === null ? "" : String(value);
    valueEl.classList.remove("skeleton");
    this.field("note").textContent = current.summary.label;
    var changeEl = this.field("change");
    var previousEl = this.field("previous");
    changeEl.textContent = "";
    previousEl.textContent = "";
    if (compared && single) {
      var before = compared.summary.value;
      var when = "the " + this.compareLabel.toLowerCase();  // "the same period last week"
      previousEl.textContent = before === null
        ? "no data in " + when
        : "vs " + formatValue(before, this.format, this.unit) + " in " + when;
      previousEl.dataset.raw = before === null ? "" : String(before);
      var diff = change(value, before, this.format, this.higherIsBetter);
      if (diff) {
        changeEl.textContent = diff.arrow + " " + diff.text;
        changeEl.className = "change " + diff.tone;
      }
    }
    this.field("data_as_of").textContent = "Data as of " + (current.data_as_of || "unknown");
    this.field("cached_at").textContent = "Cached " + localTime(current.cached_at);
    this.field("run").textContent = "Run " + current.run_id;
    this.field("run").href = current.poll_url;
    this.draw(current, compared);
    this.show("done");
    if (!current.result.rows.length) {
      var matures = this.el.dataset.maturesAfterDays;
      this.state.hidden = false;
      this.state.className = "tile-state empty";
      // A censored metric already shows its latest matured window: empty, the data is too short.
      this.state.querySelector(".message").textContent = matures
        ? "No matured cohort in the data yet: cohorts mature after " + matures + " days."
        : "No data in this window.";
    }
  };

  Tile.prototype.draw = function (current, compared) {
    var self = this;
    var traces = [];
    var series = groupRows(current.result);
    var split = series.length > 1 || (series[0] && series[0].name !== "all");
    series.forEach(function (s, i) {
      traces.push(self.trace(s.x, s.y, split ? s.name : "This period", COLORS[i % COLORS.length], false));
    });
    if (compared && !split) {
      groupRows(compared.result).forEach(function (s) {
        // Drawn under the periods they are compared with; the hover says their own dates.
        var shifted = s.x.map(function (x) { return shiftDate(x, self.shiftDays, self.shiftMonths); });
        var t = self.trace(shifted, s.y, self.compareLabel, "#98a2b3", true);
        t.customdata = s.x;
        t.hovertemplate = "%{customdata|%d %b %Y}<br>%{text}<extra>" + self.compareLabel + "</extra>";
        traces.push(t);
      });
    }
    var layout = {
      margin: { l: 52, r: 10, t: 6, b: 28 },
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 11, color: "#475467" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: traces.length > 1,
      legend: { orientation: "h", x: 0, y: -0.18, font: { size: 10 } },
      xaxis: {
        type: "date", showgrid: false, linecolor: "#e4e7ec", tickformat: "%d %b", nticks: 6,
        ticklabelstandoff: 6,
        range: this.xRange(series),
      },
      yaxis: Object.assign(
        { gridcolor: "#eef0f3", zeroline: false, rangemode: "tozero", nticks: 5 },
        axisFormat(this.format, this.unit, maxOf(traces))
      ),
      hovermode: "x unified",
      barmode: "group",
    };
    if (traces.length > 1) layout.margin.b = 48;
    var A = window.portalAnnotations;
    if (A) A.decorate(traces, layout, this.markers);
    Plotly.react(this.plot, traces, layout, { displayModeBar: false, responsive: true });
    if (A) A.attach(this.plot, this.el.dataset.metric);
    this.drawn = [current, compared];
  };

  // The whole window, widened to the first period (a week or month may start before it) and by
  // half a period each side so end points and bars are not cut.
  Tile.prototype.xRange = function (series) {
    var first = this.el.dataset.start;
    series.forEach(function (s) { if (s.x.length && s.x[0] < first) first = s.x[0]; });
    var half = { day: 0.5, week: 3.5, month: 15 }[this.el.dataset.grain] || 0.5;
    var from = new Date(first + "T00:00:00Z").getTime() - half * 86400000;
    var to = new Date(this.el.dataset.end + "T00:00:00Z").getTime() + half * 86400000;
    return [new Date(from).toISOString(), new Date(to).toISOString()];
  };

  Tile.prototype.trace = function (x, y, name, color, dashed) {
    var self = this;
    var bar = this.chartType === "bar" && !dashed;
    return {
      type: bar ? "bar" : "scatter",
      mode: bar ? undefined : "lines+markers",
      x: x,
      y: y,
      name: name,
      text: y.map(function (v) { return formatValue(v, self.format, self.unit); }),
      hovertemplate: "%{x|%d %b %Y}<br>%{text}<extra>" + name + "</extra>",
      marker: bar ? { color: color } : { color: color, size: 4 },
      line: bar ? undefined : { color: color, width: dashed ? 1.5 : 2, dash: dashed ? "dot" : "solid" },
    };
  };

  function maxOf(traces) {
    var max = 0;
    traces.forEach(function (t) {
      t.y.forEach(function (v) { if (v !== null && v > max) max = v; });
    });
    return max;
  }

  function groupRows(result) {
    var col = {};
    result.columns.forEach(function (name, i) { col[name] = i; });
    var byName = {};
    var order = [];
    result.rows.forEach(function (row) {
      var name = col.dimension_value === undefined ? "all" : String(row[col.dimension_value]);
      if (!byName[name]) {
        byName[name] = { name: name, x: [], y: [] };
        order.push(name);
      }
      byName[name].x.push(String(row[col.period]).slice(0, 10));
      byName[name].y.push(row[col.value]);
    });
    return order.map(function (name) { return byName[name]; });
  }

  function shiftDate(iso, days, months) {
    var d = new Date(iso.slice(0, 10) + "T00:00:00Z");
    if (months) d.setUTCMonth(d.getUTCMonth() + months);  // periods by month start on the 1st
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function localTime(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    return d.toLocaleString("en-GB", { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  // ---- filter pickers ----

  // The window's values, most rows first, each with its row count; a value chosen in the URL
  // but absent from the window is kept and said so (its tiles then show no data).
  function fillPicker(select) {
    var chosen = select.value;
    fetchResult(select.dataset.valuesUrl, function () {}).then(function (body) {
      var keep = select.querySelector("option[value='']");
      select.textContent = "";
      select.appendChild(keep);
      var found = false;
      body.values.forEach(function (v) {
        var option = document.createElement("option");
        option.value = v.value;
        option.textContent = v.value + " (" + formatValue(v.items, "number", "count") + ")";
        option.dataset.items = String(v.items);
        if (v.value === chosen) { option.selected = true; found = true; }
        select.appendChild(option);
      });
      if (chosen && !found) {
        var missing = document.createElement("option");
        missing.value = chosen;
        missing.textContent = chosen + " (not in this window)";
        missing.selected = true;
        select.appendChild(missing);
      }
      select.dataset.loaded = "true";
    }, function (err) {
      select.dataset.loaded = "failed";
      select.title = err.message;
    });
  }

  document.querySelectorAll("[data-tile]").forEach(function (el) {
    var tile = new Tile(el);
    el.querySelector(".tile-state button").addEventListener("click", function () { tile.load(false); });
    tile.load(false);
  });
  // After the tiles: their numbers come first when the user's queries are capped.
  document.querySelectorAll("select[data-values-url]").forEach(fillPicker);

  // explore.js draws its own chart with the same formats and the same fetch-and-poll.
  window.portalMetrics = {
    formatValue: formatValue, change: change, fetchResult: fetchResult, axisFormat: axisFormat,
  };
})();
