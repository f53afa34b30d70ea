// Live progress of an erasure request: polls its API entry and redraws the table of tables;
// reloads the page once the request is finished, to show the verified result and the audit log,
// or (a filed request) once its preview is scanned.
(function () {
  const script = document.currentScript;
  const url = script.dataset.url;
  const body = document.getElementById("dsar-tables");
  const status = document.getElementById("dsar-status");

  function cell(text, numeric) {
    const td = document.createElement("td");
    if (numeric) td.className = "num";
    td.textContent = text === null || text === undefined ? "\u2013" : String(text);
    return td;
  }

  function draw(data) {
    status.textContent = data.status;
    status.className = "status " + data.status;
    body.replaceChildren(...data.tables.map(function (t) {
      const tr = document.createElement("tr");
      tr.append(cell(t.target), cell(t.table), cell(t.state), cell(t.files_with_ids, true),
        cell(t.files_rewritten, true), cell(t.rows_changed, true), cell(t.remaining_rows, true),
        cell(t.duration_s, true));
      return tr;
    }));
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        draw(data);
        const previewed = script.dataset.waitingPreview && data.preview;
        if (previewed || ["completed", "failed", "unknown_subject"].includes(data.status)) {
          window.location.reload();
          return;
        }
      }
    } catch (err) {
      // A dropped request is retried on the next tick.
    }
    setTimeout(poll, 1000);
  }

  setTimeout(poll, 500);
})();
