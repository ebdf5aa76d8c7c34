/* The reports page: while a report is waiting or being made, ask for the list every
   data-poll-ms and redraw the rows (status, progress, downloads). Text set with textContent. */
(function () {
  "use strict";
  var table = document.getElementById("reports-table");
  if (!table) { return; }
  var body = document.getElementById("reports-rows");
  var live = document.getElementById("reports-live");
  var url = table.getAttribute("data-status-url");
  var pollMs = parseInt(table.getAttribute("data-poll-ms"), 10) || 1500;
  var progressLabel = table.querySelector("thead th:nth-child(4)").textContent;
  var emptyText = body.querySelector(".reports-empty td");
  emptyText = emptyText ? emptyText.textContent : "";

  function busy(status) { return status === "pending" || status === "running"; }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function rowFor(report) {
    var row = document.createElement("tr");
    row.setAttribute("data-report", report.id);
    row.setAttribute("data-status", report.status);
    cell(row, report.subdistrict_name);
    cell(row, report.month);
    cell(row, report.status_label + (report.error ? ": " + report.error : "")).className = "report-status";
    var td = cell(row, "");
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = report.progress;
    bar.textContent = report.progress + "%";
    bar.setAttribute("aria-label", progressLabel + " " + report.subdistrict_name + " " + report.month);
    td.appendChild(bar);
    var stage = document.createElement("span");
    stage.className = "report-stage";
    stage.textContent = " " + report.progress + "% " + report.stage_label;
    td.appendChild(stage);
    cell(row, report.finished_at);
    var links = cell(row, "");
    links.className = "report-downloads";
    ["xlsx", "pdf"].forEach(function (kind) {
      if (!report.downloads[kind]) { return; }
      var link = document.createElement("a");
      link.href = report.downloads[kind];
      link.textContent = kind.toUpperCase();
      links.appendChild(link);
      links.appendChild(document.createTextNode(" "));
    });
    return row;
  }

  function draw(reports) {
    body.replaceChildren();
    if (!reports.length) {
      var empty = document.createElement("tr");
      empty.className = "reports-empty";
      var td = cell(empty, emptyText);
      td.colSpan = 6;
      body.appendChild(empty);
    }
    reports.forEach(function (report) { body.appendChild(rowFor(report)); });
  }

  function anyBusy() {
    return Array.prototype.some.call(body.querySelectorAll("tr[data-status]"), function (row) {
      return busy(row.getAttribute("data-status"));
    });
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data) {
          var wasBusy = anyBusy();
          draw(data.reports);
          if (wasBusy && !anyBusy()) {
            live.textContent = data.reports.length ? data.reports[0].status_label : "";
          }
        }
        if (anyBusy()) { window.setTimeout(poll, pollMs); }
      })
      .catch(function () { window.setTimeout(poll, pollMs * 4); });
  }

  if (anyBusy()) { window.setTimeout(poll, pollMs); }
})();
