// Kiosk screen behaviour: the idle reset with a visible warning, the
// full-screen button and the on-screen keypad for the booking code.
//
// Settings come from <body>: data-idle (seconds without a touch before the
// screen goes back to the start; 0 = never), data-warn (seconds of warning
// before that) and data-home (the start screen). Every text comes from the
// page, so it is already in the screen's language.

import { counted, pageLang } from "../lib/plural.js";

const body = document.body;
const idleSeconds = Number(body.dataset.idle || 0);
const warnSeconds = Number(body.dataset.warn || 20);
const home = body.dataset.home || "";

// -- idle reset ---------------------------------------------------------------

function setupIdleReset() {
  const dialog = document.getElementById("kiosk-idle");
  const count = document.getElementById("kiosk-idle-count");
  const keep = document.getElementById("kiosk-idle-continue");
  if (!idleSeconds || !home || !dialog || !count || !keep) return;
  let lastActivity = Date.now();
  let leaving = false;

  function showCountdown(left) {
    count.textContent = counted(count.dataset, "left", left, pageLang());
    if (!dialog.open) {
      dialog.showModal();
      keep.focus();
    }
  }

  function carryOn() {
    lastActivity = Date.now();
    if (dialog.open) dialog.close();
  }

  // Any touch, key or typing counts as activity; while the warning shows, a
  // touch anywhere keeps the screen (the button says so explicitly).
  for (const type of ["pointerdown", "keydown", "input", "wheel"]) {
    window.addEventListener(type, carryOn, { capture: true, passive: true });
  }
  keep.addEventListener("click", carryOn);
  // Escape closes a modal dialog: treat it as "keep using".
  dialog.addEventListener("cancel", carryOn);

  function tick() {
    if (leaving) return;
    const left = Math.ceil(idleSeconds - (Date.now() - lastActivity) / 1000);
    if (left <= 0) {
      leaving = true;
      // replace(): the next person cannot go "back" into this visit.
      window.location.replace(home);
    } else if (left <= warnSeconds) {
      showCountdown(left);
    }
  }
  window.setInterval(tick, 250);
}

// -- full screen ----------------------------------------------------------------

function setupFullscreen() {
  const button = document.getElementById("kiosk-fullscreen");
  if (!button || !document.fullscreenEnabled) return;
  const label = () => {
    button.textContent = document.fullscreenElement ? button.dataset.leave : button.dataset.enter;
  };
  button.hidden = false;
  label();
  document.addEventListener("fullscreenchange", label);
  button.addEventListener("click", async () => {
    try {
      if (document.fullscreenElement) {
        await document.exitFullscreen();
      } else {
        await document.documentElement.requestFullscreen({ navigationUI: "hide" });
      }
    } catch {
      // Refused by the browser (policy, iframe): the page works as it is.
    }
  });
}

// -- booking-code keypad -----------------------------------------------------------

function setupKeypad() {
  const input = document.getElementById("code");
  const keypad = document.getElementById("kiosk-keypad");
  const status = document.getElementById("code-status");
  if (!input || !keypad) return;
  const prefix = input.dataset.prefix || "";
  const length = Number(input.dataset.length || 6);
  const bare = prefix.replace(/[^0-9A-Z]/g, "");

  // What follows the prefix, as typed so far.
  const rest = () => {
    let text = input.value.toUpperCase().replace(/[^0-9A-Z]/g, "");
    if (bare && text.startsWith(bare)) text = text.slice(bare.length);
    return text;
  };
  const show = (text) => {
    input.value = prefix + text.slice(0, length);
    if (status) status.textContent = text.split("").join(" ");
  };

  keypad.hidden = false;
  // The keypad replaces the device's own keyboard (a hardware keyboard still works).
  input.setAttribute("inputmode", "none");
  if (!input.value) show("");

  keypad.addEventListener("click", (event) => {
    const key = event.target.closest("button[data-key]");
    if (!key) return;
    const typed = rest();
    if (key.dataset.key === "delete") show(typed.slice(0, -1));
    else if (key.dataset.key === "clear") show("");
    else if (typed.length < length) show(typed + key.dataset.key);
  });

  // One submission only: a double tap must not send the code twice.
  const form = input.form;
  if (form) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
    });
  }
}

setupIdleReset();
setupFullscreen();
setupKeypad();
