// The console's only script (served by the console itself; CSP script-src 'self', no inline script).
// Two small enhancements; every page works without them.
"use strict";

// The events page follows live: every 5 s it fetches its table's rows again (same filters) from this server.
function followEvents() {
  const rows = document.getElementById("event-rows");
  if (!rows || !rows.dataset.fragment) return;
  setInterval(async () => {
    try {
      const answer = await fetch(rows.dataset.fragment, { credentials: "same-origin", cache: "no-store" });
      if (answer.ok) rows.innerHTML = await answer.text();  // the server's own escaped HTML
    } catch (e) { /* the console stopped: keep what is shown */ }
  }, 5000);
}

// The write token, typed once per tab: kept in this tab's sessionStorage (never a cookie) and filled into
// confirmation forms.
function rememberToken() {
  for (const field of document.querySelectorAll("input.console-token")) {
    const kept = sessionStorage.getItem("console-token");
    if (kept && !field.value) field.value = kept;
    field.form.addEventListener("submit", () => sessionStorage.setItem("console-token", field.value));
  }
}

// The connections and streams pages read the stack again every few seconds, unless a field is being used.
function refreshPage() {
  const main = document.querySelector("main[data-refresh]");
  if (!main) return;
  const seconds = Math.max(5, Number(main.dataset.refresh) || 15);
  setInterval(() => {
    const busy = document.activeElement && ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (!busy) location.reload();
  }, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => { followEvents(); rememberToken(); refreshPage(); });
