// The staff console's counter: presence buttons, incoming calls that ring
// (a repeated two-tone sound, a highlighted banner and a screen-reader alert)
// and answer / decline; for administrators the supervisor's board.
// State arrives over Server-Sent Events (/staff/counter/events).

import { unlockAudio } from "../call/audio.js";

const root = document.getElementById("counter-app");
const $ = (id) => document.getElementById(id);
const title = document.title;
const state = { offers: [], presence: null, audio: null, ringTimer: null };
window.madoguchiCounter = state; // for tests

// -- the ring ------------------------------------------------------------------------------------

function audio() {
  // Browsers allow sound only after a click on the page: the presence buttons,
  // "answer" and "turn on the ring sound" create (or resume) the context
  // (call/audio.js: the same click also lets the call page play the visitor's voice).
  state.audio = unlockAudio();
  return state.audio;
}

function beep() {
  const ctx = state.audio;
  if (!ctx || ctx.state !== "running") {
    $("sound-on").hidden = false;
    return;
  }
  const now = ctx.currentTime;
  for (const [i, freq] of [880, 660].entries()) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.2, now + i * 0.35);
    gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.35 + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now + i * 0.35);
    osc.stop(now + i * 0.35 + 0.3);
  }
}

function ring(on) {
  if (on && !state.ringTimer) {
    beep();
    state.ringTimer = setInterval(beep, 2000);
  } else if (!on && state.ringTimer) {
    clearInterval(state.ringTimer);
    state.ringTimer = null;
  }
  document.title = on ? `● ${root.dataset.ringTitle} – ${title}` : title;
  document.body.classList.toggle("counter-ringing", on);
}

// -- rendering --------------------------------------------------------------------------------------

function renderOffers(offers) {
  const list = $("offers");
  const known = new Set(state.offers.map((o) => o.id));
  list.replaceChildren();
  for (const offer of offers) {
    const item = $("offer-template").content.firstElementChild.cloneNode(true);
    item.dataset.offer = String(offer.id);
    item.querySelector(".offer-text").textContent = offer.text;
    if (offer.kind) item.classList.add("offer-handover");
    if (offer.context) {
      // The notes so far, so the colleague knows the case before answering.
      item.querySelector(".offer-context-text").textContent = offer.context;
      item.querySelector(".offer-context").hidden = false;
    }
    item.querySelector(".offer-accept").addEventListener("click", () => answer(offer, "accept"));
    item.querySelector(".offer-decline").addEventListener("click", () => answer(offer, "decline"));
    list.append(item);
    if (!known.has(offer.id)) $("ring-announce").textContent = offer.text;
  }
  $("no-offers").hidden = offers.length > 0;
  state.offers = offers;
  ring(offers.length > 0);
}

function renderBoard(rows) {
  const body = $("board");
  if (!body) return;
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    if (row.escalated) tr.className = "escalated";
    const what = row.escalated
      ? body.dataset.escalated
      : row.ringing
        ? body.dataset.ringing
        : body.dataset.waiting;
    // Calls needing an interpreter show the language asked for at the kiosk.
    for (const text of [row.number, row.service, row.since, row.waited, row.interpreter ?? "", what]) {
      const td = document.createElement("td");
      td.textContent = String(text);
      tr.append(td);
    }
    body.append(tr);
  }
}

// The chosen presence button is pressed (aria-pressed, styled in staff.css).
function showChosen(presence) {
  for (const button of document.querySelectorAll("[data-presence-choice]")) {
    button.setAttribute("aria-pressed", String(button.dataset.presenceChoice === presence));
  }
}

function render(data) {
  const now = $("presence-now");
  now.dataset.presence = data.presence;
  now.textContent = data.presence_label;
  state.presence = data.presence;
  showChosen(data.presence);
  renderOffers(data.offers);
  renderBoard(data.board);
}

// -- actions ------------------------------------------------------------------------------------------

async function answer(offer, how) {
  if (how === "accept") audio();
  $("answer-problem").textContent = "";
  const response = await fetch(`${offer.answer_url}/${how}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (how === "accept" && response.ok) {
    ring(false);
    // A hand-over says where its call is (a booked call's page, or the join page).
    const body = await response.json().catch(() => ({}));
    window.location.assign(body.page || `/staff/counter/call/${offer.ticket}`);
    return;
  }
  if (!response.ok) $("answer-problem").textContent = root.dataset.acceptedFailed;
  renderOffers(state.offers.filter((o) => o.id !== offer.id));
}

async function setPresence(status) {
  audio();
  const response = await fetch("/api/v1/staff/presence", {
    method: "PUT",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({ status }),
  });
  if (response.ok) {
    const body = await response.json();
    $("presence-now").dataset.presence = body.presence;
    showChosen(body.presence);
  }
}

for (const button of document.querySelectorAll("[data-presence-choice]")) {
  button.addEventListener("click", () => setPresence(button.dataset.presenceChoice));
}
$("sound-on").addEventListener("click", () => {
  audio();
  $("sound-on").hidden = true;
});

const events = new EventSource(root.dataset.eventsUrl);
events.addEventListener("counter", (event) => render(JSON.parse(event.data)));
events.addEventListener("logout", () => {
  events.close();
  window.location.assign("/staff/login");
});
