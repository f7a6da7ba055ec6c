// The dashboard's only script: the overview's live tiles, charts and tail,
// and a confirmation before the buttons that touch many deliveries.
// Everything it shows goes in through textContent, never as HTML; the
// charts come drawn from the server (/ui/charts), parsed, not run.
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

  // The tiles name the number they show by its path in the "stats"
  // message (data-stat="queue.depth"); data-alarm marks a tile red while
  // its number is above zero.
  function lookup(v, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), v);
  }
  function updateTiles(v) {
    for (const el of document.querySelectorAll("[data-stat]")) {
      const n = lookup(v, el.dataset.stat);
      if (typeof n !== "number") continue;
      const text = String(el.dataset.round ? Math.round(n) : n);
      if (el.textContent !== text) el.textContent = text;
    }
    for (const el of document.querySelectorAll("[data-alarm]")) {
      el.classList.toggle("alarm", lookup(v, el.dataset.alarm) > 0);
    }
  }

  // The charts are drawn on the server: fetch them again, one fetch at a
  // time, when the latest minute changed.
  let lastMinute = null, fetching = false, again = false;
  function refreshCharts() {
    const old = document.getElementById("charts");
    if (!old) return;
    if (fetching) { again = true; return; }
    fetching = true;
    fetch("/ui/charts", { credentials: "same-origin", cache: "no-store" })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.status))))
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("charts");
        if (fresh) document.getElementById("charts").replaceWith(document.adoptNode(fresh));
      })
      .catch(() => {})
      .finally(() => {
        fetching = false;
        if (again) { again = false; refreshCharts(); }
      });
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
  es.addEventListener("stats", (m) => {
    const v = JSON.parse(m.data);
    updateTiles(v);
    const minute = JSON.stringify(v.minute || null);
    if (minute !== lastMinute) {
      lastMinute = minute;
      refreshCharts();
    }
  });
  es.addEventListener("gap", (m) => {
    const v = JSON.parse(m.data);
    add(Date.now(), "missed", "", v.missed + " updates were missed: reload for the full picture", "gap");
  });
})();
