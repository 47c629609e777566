// The walk-in ticket screen: poll the queue and update the place in line and
// the estimated wait; when a staff member accepts, go to the call screen.
// Texts come from the page (data-*), so they are in the screen's language.

const root = document.getElementById("kiosk-ticket");
const POLL_MS = 3000;

function fill(template, n) {
  return template.replace("{n}", String(n));
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
  if (ticket) {
    document.getElementById("ticket-position").textContent =
      ticket.position === 1
        ? root.dataset.nextText
        : fill(root.dataset.positionTemplate, ticket.position);
    document.getElementById("ticket-estimate").textContent = fill(
      root.dataset.estimateTemplate,
      ticket.estimate_minutes,
    );
  }
  window.setTimeout(poll, POLL_MS);
}

if (root) window.setTimeout(poll, POLL_MS);
