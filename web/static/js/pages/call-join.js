// The join page (templates/call/join.html) of a resident, an interpreter or
// an invited colleague: camera and microphone → pre-call check → waiting
// room → call → ended. An early link stops after the check.

import { PrecheckBusy, runPrecheck } from "../call/precheck.js";
import { followCall } from "../call/follow.js";
import { networkRequest } from "../call/path.js";
import { callPage, joinCall, openCamera, rtcConfig } from "../call/start.js";
import { setupReview } from "../forms/review.js";

const page = callPage({ exposeAs: "madoguchiJoin", state: { report: null } }); // tests: step, report
const { root, config, t, view, $, state } = page;
const ITEMS = ["camera", "microphone", "network"];

// -- 1. camera and microphone ------------------------------------------------------

async function askDevices() {
  const button = $("btn-devices");
  button.disabled = true;
  $("device-help").hidden = true;
  const stream = await openCamera(page, {
    onProblem: (kind) => {
      const help = $("device-help");
      help.hidden = false;
      for (const part of help.querySelectorAll("[data-help]")) part.hidden = part.dataset.help !== kind;
      button.disabled = kind === "unsupported";
    },
  });
  if (!stream) return;
  button.hidden = true;
  startCheck();
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
  if (unreachable) text = networkRequest(t, iceServers, window.location.hostname);
  else if (path) text = t(path.relayed ? "check.path-relay-only" : "check.path-direct");
  root.dataset.path = unreachable ? "none" : path ? (path.relayed ? "relay" : "direct") : "";
  view.setText("check-path", text);
}

async function startCheck() {
  page.step("check");
  for (const name of ITEMS) showItem(name, null);
  view.setText("check-path", "");
  view.setText("check-summary", t("check.measuring"));
  $("btn-check-again").hidden = true;
  const enter = $("btn-enter");
  if (enter) enter.hidden = true;
  let summary;
  try {
    const rtc = await rtcConfig(page);
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
    if (!(err instanceof PrecheckBusy)) showPath(null, page.rtc?.iceServers);
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

function enterRoom() {
  page.step("waiting");
  view.setText("wait-status", t("wait.connecting"));
  joinCall(page, {
    // The same page also serves an interpreter (booked or invited) and an observer.
    role: config.role || "resident",
    follow: (session) => {
      followCall(session, page, {
        onFinished: (s) => {
          if (s === "left") $("btn-rejoin").hidden = false;
        },
      });
      // Forms pushed by staff are for the resident (docs/forms.md), not for an interpreter.
      if ((config.role || "resident") === "resident") setupReview({ session, token: config.token, view });
    },
    onNoConfig: () => {
      // Back to the check, whose "enter" button tries again.
      page.step("check");
      view.setText("check-summary", t("net.failed"));
    },
  });
}

// -- wiring -------------------------------------------------------------------------------------

$("btn-devices").addEventListener("click", askDevices);
$("btn-check-again").addEventListener("click", startCheck);
$("btn-enter")?.addEventListener("click", enterRoom);
$("btn-hangup")?.addEventListener("click", () => state.session?.hangUp());
$("btn-rejoin")?.addEventListener("click", () => window.location.reload());
page.step("device", { focus: false });
