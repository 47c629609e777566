// The walk-in ticket screen: poll the queue and update the place in line and
// the estimated wait (or, when nobody qualified can answer, reload to say so);
// when a staff member accepts, go to the call screen.
// Texts come from the page (data-*), so they are in the screen's language.

import { counted, pageLang } from "../lib/plural.js";

const root = document.getElementById("kiosk-ticket");
const POLL_MS = 3000;

function fill(template, n) {
  return template.replace("{n}", String(n));
}

function sameMoment(a, b) {
  return (!a && !b) || (Boolean(a) && Boolean(b) && Date.parse(a) === Date.parse(b));
}

async function poll() {
  let ticket = null;
  try {
    const response = await fetch(root.dataset.statusUrl, {
      headers: { accept: "application/json" },
      cache: "no-store",
    });
    if (response.ok) ticket = await response.json();
  } catch {
    // A network hiccup: keep the last numbers and try again.
  }
  if (ticket && ticket.status === "in-call") {
    document.getElementById("ticket-position").textContent = root.dataset.connectingText;
    window.location.replace(root.dataset.callUrl);
    return;
  }
  if (ticket && ticket.status !== "waiting") {
    window.location.replace(document.body.dataset.home || "/");
    return;
  }
  if (
    ticket &&
    (String(ticket.staffed) !== root.dataset.staffed ||
      !sameMoment(ticket.expected_at, root.dataset.expectedAt))
  ) {
    // Someone qualified came on duty or left, or the outlook moved: the
    // server renders what to say (the wait, or who is expected and other ways).
    window.location.replace(window.location.pathname + window.location.search);
    return;
  }
  if (ticket) {
    document.getElementById("ticket-position").textContent =
      ticket.position === 1
        ? root.dataset.nextText
        : fill(root.dataset.positionTemplate, ticket.position);
    const estimate = document.getElementById("ticket-estimate");
    if (estimate && ticket.estimate_minutes !== null) {
      estimate.textContent = counted(root.dataset, "estimate", ticket.estimate_minutes, pageLang());
    }
  }
  window.setTimeout(poll, POLL_MS);
}

if (root) window.setTimeout(poll, POLL_MS);
