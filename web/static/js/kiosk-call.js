// The kiosk's call screen: camera and microphone (started by themselves) →
// waiting room → call → ended, then back to the kiosk's start screen.
//
// Built from the call page's modules (web/static/js/call/). The kiosk is set
// up once by branch staff, so there is no pre-call check here; a camera that
// does not start is reported in plain words with "try again".

import { DeviceError, openDevices, stopStream } from "./call/media.js";
import { followCall } from "./call/follow.js";
import { CallSession, loadRtcConfig } from "./call/session.js";
import { CallView, readConfig, translator } from "./call/ui.js";

const root = document.getElementById("call-app");
const config = readConfig(root);
const t = translator(config.messages);
const view = new CallView(t);
const $ = (id) => document.getElementById(id);
const returnSeconds = Number(config.returnSeconds || 30);

const state = { step: "device", stream: null, session: null, returning: null };
window.madoguchiKiosk = state; // for tests: step, session

function step(name, options) {
  state.step = name;
  root.dataset.step = name;
  view.showStep(name, options);
}

function goHome() {
  // replace(): the next person cannot go "back" into this visit.
  window.location.replace(config.home);
}

// After the call: a visible countdown, then the start screen for the next person.
function returnLater() {
  if (state.returning) return;
  const until = Date.now() + returnSeconds * 1000;
  const show = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    for (const el of document.querySelectorAll("[data-return-text]")) {
      el.textContent = config.returnTemplate.replace("{n}", String(left));
    }
    if (left === 0) {
      window.clearInterval(state.returning);
      goHome();
    }
  };
  state.returning = window.setInterval(show, 500);
  show();
}

// -- camera and microphone -----------------------------------------------------------

async function startDevices() {
  const button = $("btn-devices");
  button.hidden = true;
  $("device-help").hidden = true;
  view.setText("device-status", t("device.asking"));
  try {
    const { stream, audioOnly } = await openDevices();
    state.stream = stream;
    view.setText("device-status", t(audioOnly ? "device.audio-only" : "device.ready"));
    enterRoom();
  } catch (err) {
    const kind = err instanceof DeviceError ? err.kind : "failed";
    view.setText("device-status", t(`device.${kind}`));
    $("device-help").hidden = false;
    button.hidden = kind === "unsupported";
  }
}

// -- waiting room and call ---------------------------------------------------------------

async function enterRoom() {
  step("waiting");
  view.attachLocal(state.stream);
  view.setText("wait-status", t("wait.connecting"));
  let rtc;
  try {
    rtc = await loadRtcConfig(config.rtcConfigUrl);
  } catch {
    step("error");
    view.setText("error-text", t("net.failed"));
    stopStream(state.stream);
    returnLater();
    return;
  }
  const session = new CallSession({
    signalingUrl: rtc.signalingUrl,
    room: config.room,
    role: "kiosk",
    getToken: async () => config.token,
    iceServers: rtc.iceServers,
    iceTransportPolicy: rtc.iceTransportPolicy,
    stream: state.stream,
    view,
    t,
  });
  state.session = session;
  followCall(session, {
    root,
    view,
    t,
    step,
    state,
    messages: config.messages,
    onFinished: returnLater,
  });
  session.start();
}

// -- wiring -------------------------------------------------------------------------------

view.watchNetwork();
$("btn-devices").addEventListener("click", startDevices);
$("btn-hangup").addEventListener("click", () => state.session?.hangUp());
$("btn-cancel").addEventListener("click", () => {
  if (state.session) state.session.hangUp();
  else stopStream(state.stream);
  goHome();
});
window.addEventListener("pagehide", () => {
  if (state.session && ["waiting", "connecting-peer", "in-call"].includes(state.session.state)) {
    state.session.hangUp();
  } else if (!state.session) {
    stopStream(state.stream);
  }
});
step("device", { focus: false });
startDevices();
