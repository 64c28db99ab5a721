// txhook console: the live event log. Rows are built with textContent only: everything an
// event holds came from a sender and is never parsed as HTML.
"use strict";
(function () {
  const log = document.querySelector("#event-log tbody");
  const status = document.getElementById("live-status");
  if (!log || !status) return;
  const MAX_ROWS = 500;
  const page = new URLSearchParams(window.location.search);
  const query = new URLSearchParams();
  for (const name of ["source", "type", "state", "event"]) {
    const value = (page.get(name) || "").trim();
    if (value) query.set(name, value);
  }
  query.set("after", status.dataset.after || "0");

  function cell(row, text, href) {
    const td = document.createElement("td");
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function show(item) {
    const row = document.createElement("tr");
    row.className = "event fresh";
    row.dataset.sequence = String(item.sequence);
    cell(row, String(item.sequence), "/console/events/" + encodeURIComponent(item.sequence));
    cell(row, String(item.receivedAt || ""));
    cell(row, String(item.source || ""));
    cell(row, String(item.type || item.event || ""));
    cell(row, String(item.state || ""));
    if (item.transactionId) {
      cell(row, String(item.transactionId),
        "/console/transactions/" + encodeURIComponent(item.transactionId));
    } else {
      cell(row, String(item.entityId || ""));
    }
    cell(row, String(item.outcome || ""));
    log.insertBefore(row, log.firstChild);
    while (log.rows.length > MAX_ROWS) log.deleteRow(log.rows.length - 1);
  }

  const source = new EventSource("/console/events/stream?" + query.toString());
  source.onopen = function () { status.textContent = "live"; };
  source.onerror = function () { status.textContent = "reconnecting…"; };
  source.onmessage = function (message) {
    try {
      show(JSON.parse(message.data));
    } catch (e) {
      status.textContent = "an event could not be read";
    }
  };
})();
