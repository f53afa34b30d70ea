/* Annotations on charts drawn in the browser, and the Notes block under a page's charts
 * (templates/annotations/_notes.html: a metric page, a dashboard, pipeline health).
 *
 * window.portalAnnotations, for any page that draws Plotly time series (dashboard.js, explore):
 *   load({start, end, metric | dashboard}) -> Promise of the items of /api/annotations (cached
 *     per window; an error gives no items: a chart never fails for want of its annotations);
 *   forMetric(items, slug) -> the items a chart of that metric shows (a dashboard's answer
 *     holds the notes of all its tiles);
 *   decorate(traces, layout, items) -> adds a dotted line per item and a marker with hover text
 *     (kind, time, title, text), as annotations/charts.py does for figures built in Python;
 *   attach(plotEl, metric) -> a click on the chart sends "portal:chart-click" {date, metric};
 *   changed() -> forgets the cache and sends "portal:annotations-changed" (charts redraw).
 */
(function () {
  "use strict";

  // The Notes block brings this file along, and chart pages load it too: it runs once.
  if (window.portalAnnotations) return;

  var COLOURS = {
    experiment_launch: "#12805c",
    experiment_kill: "#b42318",
    experiment_conclusion: "#7a5af8",
    alarm_raised: "#f79009",
    alarm_resolved: "#98a2b3",
    note: "#2f5bea",
  };
  var AXIS = "y9";
  var TEXT_WIDTH = 60;
  var TEXT_LINES = 4;
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var cache = {};

  function query(params) {
    var q = new URLSearchParams();
    Object.keys(params).forEach(function (k) { if (params[k]) q.set(k, params[k]); });
    return "/api/annotations?" + q.toString();
  }

  function load(params) {
    var url = query(params);
    if (!cache[url]) {
      cache[url] = fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (body) { return body.items || []; })
        .catch(function () { return []; });
    }
    return cache[url];
  }

  function forMetric(items, slug) {
    return items.filter(function (a) { return !a.note || !a.note.metric || a.note.metric === slug; });
  }

  function changed() {
    cache = {};
    document.dispatchEvent(new CustomEvent("portal:annotations-changed"));
  }

  function escapeHtml(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
  }

  // The API answers times in UTC ("2026-01-20T14:30:00Z"); the charts' days are UTC days.
  function plotTime(iso) {
    return iso.slice(0, 19).replace("T", " ");
  }

  function shownTime(iso) {
    var d = iso.slice(0, 10).split("-");
    return d[2] + " " + MONTHS[parseInt(d[1], 10) - 1] + " " + d[0] + " " + iso.slice(11, 16);
  }

  function wrap(text) {
    var lines = [];
    var line = "";
    text.split(/\s+/).filter(Boolean).forEach(function (word) {
      if (line && (line + " " + word).length > TEXT_WIDTH) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    });
    if (line) lines.push(line);
    if (lines.length > TEXT_LINES) lines = lines.slice(0, TEXT_LINES - 1).concat([lines[TEXT_LINES - 1] + " …"]);
    return lines;
  }

  function hoverText(a) {
    var lines = ["<b>" + escapeHtml(a.label) + "</b> · " + shownTime(a.at), escapeHtml(a.title)];
    return lines.concat(wrap(a.text || "").map(escapeHtml)).join("<br>");
  }

  function decorate(traces, layout, items) {
    if (!items || !items.length) return;
    var xs = items.map(function (a) { return plotTime(a.at); });
    var colours = items.map(function (a) { return COLOURS[a.kind] || "#667085"; });
    layout.shapes = (layout.shapes || []).concat(xs.map(function (x, i) {
      return {
        type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, layer: "below",
        line: { color: colours[i], width: 1, dash: "dot" },
      };
    }));
    layout["yaxis" + AXIS.slice(1)] = { overlaying: "y", range: [0, 1], visible: false, fixedrange: true };
    traces.push({
      type: "scatter",
      mode: "markers",
      name: "annotations",
      x: xs,
      y: xs.map(function () { return 1; }),
      yaxis: AXIS,
      marker: { symbol: "triangle-down", size: 10, color: colours },
      text: items.map(hoverText),
      hovertemplate: "%{text}<extra></extra>",
      showlegend: false,
      cliponaxis: false,
    });
  }

  function attach(plotEl, metric) {
    if (plotEl.dataset.annotationsAttached || !plotEl.on) return;
    plotEl.dataset.annotationsAttached = "true";
    plotEl.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      if (!point) return;
      var date = String(point.x).slice(0, 10);
      document.dispatchEvent(new CustomEvent("portal:chart-click", { detail: { date: date, metric: metric } }));
    });
  }

  window.portalAnnotations = {
    load: load, forMetric: forMetric, decorate: decorate, attach: attach, changed: changed,
  };

  // ---- the Notes block ([data-notes]): on its data-metric or data-dashboard, else on every
  // chart only; data-reload when the page's charts are drawn by the server ----

  function Notes(el) {
    this.el = el;
    this.form = el.querySelector("form");
    this.list = el.querySelector("[data-note-list]");
    this.error = el.querySelector("[data-note-error]");
    this.submit = this.form.querySelector("button[type=submit]");
    this.cancel = this.form.querySelector("[data-action=cancel]");
    this.editing = null;
    var self = this;
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.save(); });
    this.cancel.addEventListener("click", function () { self.reset(); });
    document.addEventListener("portal:chart-click", function (e) {
      // A metric page's own chart; any tile of a dashboard.
      if (!el.dataset.metric || e.detail.metric === el.dataset.metric) {
        self.form.elements.at.value = e.detail.date;
      }
    });
    document.addEventListener("portal:annotations-changed", function () { self.refresh(); });
    this.refresh();
  }

  Notes.prototype.params = function () {
    var d = this.el.dataset;
    return { start: d.start, end: d.end, metric: d.metric, dashboard: d.dashboard };
  };

  Notes.prototype.refresh = function () {
    var self = this;
    load(this.params()).then(function (items) {
      var notes = items.filter(function (a) { return a.note; });
      self.list.replaceChildren.apply(self.list, notes.map(function (a) { return self.row(a.note); }));
      self.el.querySelector("[data-note-empty]").hidden = notes.length > 0;
    });
  };

  Notes.prototype.row = function (note) {
    var self = this;
    var li = document.createElement("li");
    li.dataset.noteId = note.id;
    var head = document.createElement("span");
    head.className = "note-head";
    head.textContent = note.at.slice(0, 10) + " · " + note.author + this.scopeOf(note);
    var text = document.createElement("span");
    text.className = "note-text";
    text.textContent = note.text;
    li.append(head, " ", text);
    if (note.editable) {
      li.append(" ", button("Edit", "edit", function () { self.edit(note); }));
      li.append(" ", button("Delete", "delete", function () { self.remove(note); }));
    }
    return li;
  };

  // What a listed note is on, unless it is this block's metric: a dashboard lists the notes
  // of its tiles' metrics too.
  Notes.prototype.scopeOf = function (note) {
    if (note.metric) return note.metric === this.el.dataset.metric ? "" : " · " + note.metric;
    return note.dashboard ? " · this dashboard" : " · every chart";
  };

  function button(label, action, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.dataset.action = action;
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  Notes.prototype.edit = function (note) {
    this.editing = note;
    this.form.elements.at.value = note.at.slice(0, 10);
    this.form.elements.text.value = note.text;
    this.form.elements.scope.disabled = true;
    this.submit.textContent = "Save note";
    this.cancel.hidden = false;
    this.form.elements.text.focus();
  };

  Notes.prototype.reset = function () {
    this.editing = null;
    this.form.elements.text.value = "";
    this.form.elements.scope.disabled = false;
    this.submit.textContent = "Add note";
    this.cancel.hidden = true;
    this.showError("");
  };

  Notes.prototype.showError = function (message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  };

  Notes.prototype.send = function (method, url, body) {
    var token = this.form.elements.csrfmiddlewaretoken.value;
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { return { ok: r.ok, status: r.status, body: b }; });
    });
  };

  Notes.prototype.done = function (res) {
    if (!res.ok) {
      var body = res.body || {};
      var field = Object.keys(body)[0];
      var message = body.detail || (field ? field + ": " + [].concat(body[field]).join(" ") : "");
      this.showError(message || "The server answered " + res.status + ".");
      return;
    }
    this.reset();
    if (this.el.dataset.reload !== undefined) {
      window.location.reload();  // the server draws this page's charts, with their notes
      return;
    }
    changed();
  };

  Notes.prototype.save = function () {
    var f = this.form.elements;
    var self = this;
    var changes = { text: f.text.value };
    // A date only when it moved: the note keeps its time of day otherwise.
    if (this.editing && f.at.value !== this.editing.at.slice(0, 10)) changes.at = f.at.value;
    var note = { at: f.at.value, text: f.text.value };
    if (f.scope.value === "metric") note.metric = this.el.dataset.metric;
    if (f.scope.value === "dashboard") note.dashboard = this.el.dataset.dashboard;
    var request = this.editing
      ? this.send("PATCH", "/api/annotations/notes/" + this.editing.id, changes)
      : this.send("POST", "/api/annotations/notes", note);
    this.submit.disabled = true;
    request.then(function (res) { self.done(res); }).finally(function () { self.submit.disabled = false; });
  };

  Notes.prototype.remove = function (note) {
    var self = this;
    this.send("DELETE", "/api/annotations/notes/" + note.id).then(function (res) { self.done(res); });
  };

  document.querySelectorAll("[data-notes]").forEach(function (el) { new Notes(el); });
})();
