// The resident's join page: camera and microphone → pre-call check →
// waiting room → call → ended. An early link stops after the check.

import { DeviceError, openDevices, stopStream } from "./media.js";
import { PrecheckBusy, runPrecheck } from "./precheck.js";
import { followCall } from "./follow.js";
import { networkRequest } from "./path.js";
import { CallSession, loadRtcConfig } from "./session.js";
import { CallView, readConfig, translator } from "./ui.js";

const root = document.getElementById("call-app");
const config = readConfig(root);
const t = translator(config.messages);
const view = new CallView(t);
const $ = (id) => document.getElementById(id);
const ITEMS = ["camera", "microphone", "network"];

const state = { step: "device", stream: null, audioOnly: false, report: null, session: null };
window.madoguchiJoin = state; // for tests: step, report

function step(name, options) {
  state.step = name;
  root.dataset.step = name;
  view.showStep(name, options);
}

// -- 1. camera and microphone ------------------------------------------------------

function showDeviceProblem(kind) {
  view.setText("device-status", t(`device.${kind}`));
  const help = $("device-help");
  help.hidden = false;
  for (const part of help.querySelectorAll("[data-help]")) part.hidden = part.dataset.help !== kind;
}

async function askDevices() {
  const button = $("btn-devices");
  button.disabled = true;
  $("device-help").hidden = true;
  view.setText("device-status", t("device.asking"));
  try {
    const { stream, audioOnly } = await openDevices();
    state.stream = stream;
    state.audioOnly = audioOnly;
    view.attachLocal(stream);
    view.setText("device-status", t(audioOnly ? "device.audio-only" : "device.ready"));
    button.hidden = true;
    startCheck();
  } catch (err) {
    const kind = err instanceof DeviceError ? err.kind : "failed";
    showDeviceProblem(kind);
    button.disabled = kind === "unsupported";
  }
}

// -- 2. the pre-call check ---------------------------------------------------------------

function showItem(name, item) {
  const li = document.querySelector(`#check-list [data-item="${name}"]`);
  const status = item ? item.status : "pending";
  li.dataset.status = status;
  const result = li.querySelector(".check-result");
  const advice = li.querySelector(".check-advice");
  if (status === "pending") {
    result.textContent = t("check.measuring");
    advice.textContent = "";
  } else {
    result.textContent = t(status === "pass" ? "check.pass" : "check.fail");
    advice.textContent = t(`check.${item.code}`);
  }
}

// How the check connected: directly, only through the relay server, or not at
// all (then what to ask the network team for).
function showPath(report, iceServers) {
  const path = report ? report.path : null;
  const unreachable = !report || report.network?.code === "network-no-connection";
  let text = "";
  if (unreachable) text = networkRequest(t, iceServers);
  else if (path) text = t(path.relayed ? "check.path-relay-only" : "check.path-direct");
  root.dataset.path = unreachable ? "none" : path ? (path.relayed ? "relay" : "direct") : "";
  view.setText("check-path", text);
}

async function startCheck() {
  step("check");
  for (const name of ITEMS) showItem(name, null);
  view.setText("check-path", "");
  view.setText("check-summary", t("check.measuring"));
  $("btn-check-again").hidden = true;
  const enter = $("btn-enter");
  if (enter) enter.hidden = true;
  let summary;
  try {
    const rtc = await loadRtcConfig(config.rtcConfigUrl);
    state.iceServers = rtc.iceServers;
    state.signalingUrl = rtc.signalingUrl;
    const report = await runPrecheck({
      url: config.precheckUrl,
      stream: state.stream,
      iceServers: rtc.iceServers,
      headers: { "X-Join-Token": config.token },
    });
    state.report = report;
    for (const name of ITEMS) showItem(name, report[name]);
    summary = t(report.passed ? "check.passed" : "check.failed");
    showPath(report, rtc.iceServers);
  } catch (err) {
    state.report = { passed: false, error: String(err) };
    for (const name of ITEMS) {
      const li = document.querySelector(`#check-list [data-item="${name}"]`);
      li.dataset.status = "unknown";
      li.querySelector(".check-result").textContent = "";
    }
    summary = t(err instanceof PrecheckBusy ? "check.busy" : "check.error");
    if (!(err instanceof PrecheckBusy)) showPath(null, state.iceServers);
  }
  view.setText("check-summary", summary);
  $("btn-check-again").hidden = false;
  if (config.mode === "early") {
    $("early-done").hidden = false;
    return;
  }
  // A failed check is advice, not a gate: staff can still help by voice.
  enter.hidden = false;
  root.dataset.checked = state.report.passed ? "passed" : "failed";
}

// -- 3. waiting room and 4. the call ---------------------------------------------------------

async function enterRoom() {
  step("waiting");
  view.setText("wait-status", t("wait.connecting"));
  if (!state.signalingUrl) {
    const rtc = await loadRtcConfig(config.rtcConfigUrl);
    state.iceServers = rtc.iceServers;
    state.signalingUrl = rtc.signalingUrl;
  }
  const session = new CallSession({
    signalingUrl: state.signalingUrl,
    room: config.room,
    // The same page also serves an interpreter (booked or invited) and an observer.
    role: config.role || "resident",
    getToken: async () => config.token,
    iceServers: state.iceServers,
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
    onFinished: (s) => {
      if (s === "left") $("btn-rejoin").hidden = false;
    },
  });
  session.start();
}

// -- wiring -------------------------------------------------------------------------------------

view.watchNetwork();
$("btn-devices").addEventListener("click", askDevices);
$("btn-check-again").addEventListener("click", startCheck);
$("btn-enter")?.addEventListener("click", () => enterRoom());
$("btn-hangup")?.addEventListener("click", () => state.session?.hangUp());
$("btn-rejoin")?.addEventListener("click", () => window.location.reload());
window.addEventListener("pagehide", () => {
  if (state.session && ["waiting", "connecting-peer", "in-call"].includes(state.session.state)) {
    state.session.hangUp();
  } else if (!state.session) {
    stopStream(state.stream);
  }
});
step("device", { focus: false });
