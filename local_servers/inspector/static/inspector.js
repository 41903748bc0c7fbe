// The inspector's live parts: every element with data-live="<url>" is refreshed from that URL
// (an HTML fragment the server rendered and escaped) every few seconds while the tab is visible.
// A reset page (data-wait) polls until the restarted servers answer, then returns to the overview.
"use strict";
const PERIOD_MS = 2000;

async function refresh(element) {
  try {
    const reply = await fetch(element.dataset.live, {credentials: "same-origin", cache: "no-store"});
    if (reply.ok) {
      const text = await reply.text();
      if (element.dataset.shown !== text) {
        element.innerHTML = text;  // server-rendered, every value escaped there
        element.dataset.shown = text;
      }
    }
  } catch (error) {
    // the servers restart (a reset) or stopped: try again next time
  }
}

function tick() {
  if (document.visibilityState === "visible") {
    document.querySelectorAll("[data-live]").forEach(refresh);
  }
}

async function waitForRestart(element) {
  // Back when a server process other than the one that took the reset answers (or after a minute).
  const giveUp = Date.now() + 60000;
  for (;;) {
    await new Promise(resolve => setTimeout(resolve, 500));
    try {
      const reply = await fetch(element.dataset.wait, {credentials: "same-origin", cache: "no-store"});
      const state = reply.ok ? await reply.json() : null;
      if ((state && String(state.pid) !== element.dataset.pid) || Date.now() > giveUp) {
        window.location.assign("/");
        return;
      }
    } catch (error) { /* between the two processes: nobody listens */ }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setInterval(tick, PERIOD_MS);
  const waiting = document.querySelector("[data-wait]");
  if (waiting) waitForRestart(waiting);
});
