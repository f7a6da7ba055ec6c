// The dashboard's only script: the live tail on the overview page, and a
// confirmation before the buttons that touch many deliveries. Everything
// it shows goes in through textContent, never as HTML.
"use strict";

document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-confirm]");
  if (b && !window.confirm(b.dataset.confirm)) e.preventDefault();
});

(function liveTail() {
  const table = document.getElementById("tail");
  if (!table || !window.EventSource) return;
  const body = table.tBodies[0];
  const state = document.getElementById("live-state");
  const keep = 200;

  function cell(row, text, cls) {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function eventLink(td, id) {
    const a = document.createElement("a");
    a.href = "/ui/events/" + encodeURIComponent(id);
    a.textContent = id.slice(-8);
    a.title = id;
    a.className = "mono";
    td.appendChild(a);
  }
  function add(when, what, id, detail, cls) {
    const row = body.insertRow(0);
    row.className = "fresh " + (cls || "");
    cell(row, new Date(when).toLocaleTimeString());
    cell(row, what);
    const td = cell(row, "");
    if (id) eventLink(td, id);
    cell(row, detail);
    row.dataset.event = id || "";
    while (body.rows.length > keep) body.deleteRow(-1);
  }

  const es = new EventSource("/v1/stream");
  es.onopen = () => { state.textContent = "live"; };
  es.onerror = () => { state.textContent = "reconnecting…"; };
  es.addEventListener("event", (m) => {
    const v = JSON.parse(m.data);
    add(v.received_at, "received", v.id, [v.type, v.subject, v.status, v.attention].filter(Boolean).join(" · "), "received");
  });
  es.addEventListener("attempt", (m) => {
    const v = JSON.parse(m.data);
    const detail = [v.destination, "#" + v.attempt, v.outcome, v.status_code || "", v.duration_ms + " ms", v.error || ""]
      .filter((x) => x !== "").join(" · ");
    add(v.started_at, "attempt → " + v.delivery_status, v.event_id, detail, v.outcome);
  });
  es.addEventListener("rejection", (m) => {
    const v = JSON.parse(m.data);
    add(v.received_at, "rejected", "", v.reason + " from " + v.remote_addr, "rejected");
  });
  es.addEventListener("gap", (m) => {
    const v = JSON.parse(m.data);
    add(Date.now(), "missed", "", v.missed + " updates were missed: reload for the full picture", "gap");
  });
})();
