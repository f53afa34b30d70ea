/* The explore view: numbers from the explore API, value pickers from the values API.
 *
 * The page's controls are a plain GET form: the URL is the whole state. This script fetches
 * the view for that state (200 now, or 202 then poll the run, as dashboard tiles do, through
 * dashboard.js's fetchResult) and draws the chart and the table. dashboard.js fills each
 * filter's picker with the values found in the window and their row counts, as on dashboards.
 */
(function () {
  "use strict";

  var M = window.portalMetrics;
  var COLORS = ["#2f5bea", "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#06aed4", "#667085", "#b42318"];
  var form = document.getElementById("explore-controls");

  // A new metric has other dimensions: its breakdown and filters start empty.
  var metricSelect = form && form.querySelector("[data-metric-select]");
  if (metricSelect) {
    metricSelect.addEventListener("change", function () {
      form.querySelectorAll("[data-reset-on-metric]").forEach(function (el) { el.disabled = true; });
      form.submit();
    });
  }

  // ---- value pickers: filled by dashboard.js; a pick applies itself ----

  document.querySelectorAll("select[data-values-url]").forEach(function (select) {
    select.addEventListener("change", function () { form.submit(); });
  });

  // ---- the view ----

  var root = document.getElementById("explore");
  if (!root) return;
  var format = root.dataset.format;
  var unit = root.dataset.unit;
  var higherIsBetter = root.dataset.higherIsBetter === "true";
  var state = root.querySelector(".tile-state");

  function field(name) { return root.querySelector("[data-field=" + name + "]"); }

  function show(name, message) {
    root.dataset.state = name;
    state.hidden = name === "done";
    state.className = "tile-state " + name;
    state.querySelector(".message").textContent = message || "";
  }

  function fmt(v) { return M.formatValue(v, format, unit); }

  function renderTotals(body) {
    var box = field("totals");
    box.textContent = "";
    body.totals.forEach(function (t) {
      var item = document.createElement("div");
      item.className = "total";
      item.dataset.series = t.name;
      item.dataset.raw = t.value === null ? "" : String(t.value);
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = t.name === "all" ? "Whole window" : t.name;
      var value = document.createElement("span");
      value.className = "value";
      value.textContent = fmt(t.value);
      item.appendChild(name);
      item.appendChild(value);
      if (body.compare_window) {
        var diff = M.change(t.value, t.compare_value, format, higherIsBetter);
        var note = document.createElement("span");
        note.className = "change " + (diff ? diff.tone : "");
        note.textContent = (diff ? diff.arrow + " " + diff.text + " " : "") + "vs " + fmt(t.compare_value);
        item.appendChild(note);
      }
      box.appendChild(item);
    });
  }

  function renderChart(body) {
    var traces = [];
    var split = body.series.length > 1 || (body.series[0] && body.series[0].name !== "all");
    body.series.forEach(function (s, i) {
      var color = COLORS[i % COLORS.length];
      var name = split ? s.name : "This period";
      traces.push({
        type: "scatter", mode: "lines+markers", x: s.periods, y: s.values, name: name,
        text: s.values.map(fmt), hovertemplate: "%{x|%d %b %Y}<br>%{text}<extra>" + name + "</extra>",
        marker: { color: color, size: 4 }, line: { color: color, width: 2 },
      });
      if (body.compare_window) {
        // Drawn at the periods they are compared with, dotted.
        var label = (split ? s.name + ", " : "") + "compared";
        traces.push({
          type: "scatter", mode: "lines", x: s.periods, y: s.compare_values, name: label,
          customdata: s.compare_periods, text: s.compare_values.map(fmt),
          hovertemplate: "%{customdata}<br>%{text}<extra>" + label + "</extra>",
          line: { color: split ? color : "#98a2b3", width: 1.5, dash: "dot" },
        });
      }
    });
    var max = 0;
    traces.forEach(function (t) { t.y.forEach(function (v) { if (v !== null && v > max) max = v; }); });
    var layout = {
      margin: { l: 56, r: 10, t: 6, b: 48 },
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 11, color: "#475467" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: traces.length > 1, legend: { orientation: "h", x: 0, y: -0.15, font: { size: 10 } },
      xaxis: { type: "date", showgrid: false, linecolor: "#e4e7ec", tickformat: "%d %b %Y", nticks: 8 },
      yaxis: Object.assign({ gridcolor: "#eef0f3", zeroline: false, rangemode: "tozero" }, M.axisFormat(format, unit, max)),
      hovermode: "x unified",
    };
    Plotly.react(field("plot"), traces, layout, { displayModeBar: false, responsive: true });
  }

  var HEADINGS = {
    period: "Period", series: "Series", value: "Value", numerator: "Numerator",
    denominator: "Denominator", compare_period: "Compared with", compare_value: "Its value",
    change: "Change", change_relative: "Change %",
  };

  function cell(column, v) {
    if (v === null || v === undefined) return "–";
    if (column === "value" || column === "compare_value" || column === "change") return fmt(v);
    if (column === "numerator" || column === "denominator") return M.formatValue(v, "number", "count");
    if (column === "change_relative") return (v >= 0 ? "+" : "−") + Math.abs(v * 100).toFixed(1) + "%";
    return String(v);
  }

  function renderTable(body) {
    var table = field("table");
    var columns = body.table.columns;
    var head = document.createElement("tr");
    columns.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = HEADINGS[c] || c;
      th.dataset.column = c;
      if (c !== "period" && c !== "series" && c !== "compare_period") th.className = "num";
      head.appendChild(th);
    });
    table.tHead.textContent = "";
    table.tHead.appendChild(head);
    var rows = document.createDocumentFragment();
    body.table.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      columns.forEach(function (column) {
        var v = row[column];
        var td = document.createElement("td");
        td.textContent = cell(column, v);
        td.dataset.column = column;
        if (typeof v === "number") { td.className = "num"; td.dataset.raw = String(v); }
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
    table.tBodies[0].textContent = "";
    table.tBodies[0].appendChild(rows);
  }

  function render(body) {
    renderTotals(body);
    field("notes").textContent = body.notes.join(" ");
    renderChart(body);
    renderTable(body);
    field("meta").textContent = "Data as of " + (body.data_as_of || "unknown") + " · query runs " + body.run_ids.join(", ");
    show("done");
    if (!body.table.rows.length) {
      state.hidden = false;
      state.className = "tile-state empty";
      state.querySelector(".message").textContent = "No data in this window.";
    }
  }

  var started = performance.now();
  show("queued", "Queued");
  M.fetchResult(root.dataset.url, function (status) {
    var label = status === "running" ? "Running" : "Queued";
    show(status === "running" ? "running" : "queued", label + " · " + ((performance.now() - started) / 1000).toFixed(1) + " s");
  }).then(render, function (err) { show("failed", err.message); });
})();
