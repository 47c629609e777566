// The rush queue's waiting page: ask the queue for this place every
// `retry_after` seconds and update the polite live region; at the resident's
// turn (or any other final answer) reload the page, which the server turns
// into the booking page or the answer's own page. "Fully booked" is shown in
// place instead, with no reload: when a rush fills, every waiting page learns
// it within one poll, and a reload each would double that burst. Without
// JavaScript the page's <noscript> meta refresh does the same. Texts come
// from the page (data-*). Taking a place answers with this page at the
// form's address: the waiting address replaces it, so a reload or a bookmark
// keeps the place instead of sending the form again.

import { counted, pageLang } from "../lib/plural.js";

const root = document.getElementById("rush-wait");
const FALLBACK_SECONDS = 10;

function fill(template, n) {
  return template.replace("{n}", String(n));
}

function show(place) {
  const ahead = document.getElementById("rush-ahead");
  const minutes = document.getElementById("rush-minutes");
  const aheadText =
    place.ahead === 0 ? root.dataset.nextText : fill(root.dataset.aheadTemplate, place.ahead);
  const minutesText = counted(root.dataset, "minutes", Math.max(1, Math.ceil(place.eta_seconds / 60)), pageLang());
  // Only changed text is written, so screen readers announce changes, not every poll.
  if (ahead.textContent !== aheadText) ahead.textContent = aheadText;
  if (minutes.textContent !== minutesText) minutes.textContent = minutesText;
}

function showFull() {
  document.getElementById("rush-title").textContent = root.dataset.fullTitle;
  document.title = root.dataset.fullTitle;
  document.getElementById("rush-ahead").textContent = root.dataset.fullTitle;
  document.getElementById("rush-minutes").textContent = root.dataset.fullText;
  for (const element of document.querySelectorAll("[data-rush-while-waiting]")) element.hidden = true;
}

async function poll() {
  let place = null;
  try {
    const response = await fetch(root.dataset.statusUrl, {
      headers: { accept: "application/json" },
      cache: "no-store",
    });
    if (response.ok) place = await response.json();
  } catch {
    // A network hiccup: keep the last figures and ask again.
  }
  if (place && place.state === "full") {
    showFull();
    return;
  }
  if (place && place.state !== "waiting") {
    if (place.state === "admitted") document.getElementById("rush-ahead").textContent = root.dataset.turnText;
    window.location.replace(root.dataset.waitUrl);
    return;
  }
  if (place) show(place);
  const seconds = place && place.retry_after > 0 ? place.retry_after : FALLBACK_SECONDS;
  window.setTimeout(poll, seconds * 1000);
}

if (root && window.location.pathname !== root.dataset.waitUrl) {
  window.history.replaceState(null, "", root.dataset.waitUrl + window.location.search);
}
if (root) window.setTimeout(poll, (Number(root.dataset.refresh) || FALLBACK_SECONDS) * 1000);
