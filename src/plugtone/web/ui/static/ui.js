// plugtone admin UI: progressive enhancement only. Every page works without this file;
// with it, event tables marked data-stream follow new requests live (server-sent events).
"use strict";

(function () {
  var MAX_ROWS = 200;

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function eventRow(event) {
    var row = document.createElement("tr");
    if (event.status !== "ok") row.className = "bad";
    row.dataset.eventId = String(event.id);
    cell(row, event.time);
    var device = cell(row, "");
    if (event.mac) {
      var link = document.createElement("a");
      link.href = "/phones/" + event.mac;
      link.textContent = event.mac;
      device.appendChild(link);
    }
    cell(row, event.path, "path");
    cell(row, event.transport);
    cell(row, event.status);
    cell(row, String(event.bytes), "num");
    cell(row, event.client);
    return row;
  }

  // A boot timeline (tbody data-gap): the oldest first; a request after a pause longer
  // than the gap (seconds) begins a new boot, which replaces the rows.
  function bootStep(body, event) {
    var when = Date.parse(event.time.replace(" UTC", "Z").replace(" ", "T"));
    var last = Number(body.dataset.last || "0");
    if (last && when - last > Number(body.dataset.gap) * 1000) {
      while (body.rows.length) body.deleteRow(0);
    }
    body.dataset.last = String(when);
    var row = document.createElement("tr");
    if (event.status !== "ok") row.className = "bad";
    row.dataset.eventId = String(event.id);
    cell(row, event.time);
    cell(row, event.path, "path");
    cell(row, event.transport);
    cell(row, event.status);
    cell(row, String(event.bytes), "num");
    body.appendChild(row);
    while (body.rows.length > MAX_ROWS) body.deleteRow(0);
  }

  function follow(body) {
    if (!window.EventSource) return;
    var url = body.dataset.stream;
    var after = body.dataset.after || "0";
    url += (url.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(after);
    var source = new EventSource(url);
    var table = body.closest("table");
    var badge = table ? table.querySelector("[data-live-status]") : null;
    source.addEventListener("open", function () {
      if (badge) badge.hidden = false;
    });
    source.addEventListener("error", function () {
      if (badge) badge.hidden = true;
    });
    source.addEventListener("provisioning", function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      var empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      if (body.dataset.gap) {
        bootStep(body, event);
        return;
      }
      body.insertBefore(eventRow(event), body.firstChild);
      while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
    });
  }

  function start() {
    var bodies = document.querySelectorAll("tbody[data-stream]");
    for (var i = 0; i < bodies.length; i++) follow(bodies[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
