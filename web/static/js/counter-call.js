// A walk-in call on the staff side: join at once (the staff member just
// answered), talk, and "end the call" ends it for both and frees the
// staff member for the next call. Built from the call page's modules.

import { DeviceError, openDevices } from "./call/media.js";
import { CallSession, loadRtcConfig } from "./call/session.js";
import { keepPresence, setupHandover, setupInvite } from "./call/handover.js";
import { CallView, readConfig, translator } from "./call/ui.js";

const root = document.getElementById("call-app");
const config = readConfig(root);
const t = translator(config.messages);
const view = new CallView(t);
const $ = (id) => document.getElementById(id);
const state = { session: null, finished: false };
window.madoguchiCounterCall = state; // for tests

async function fetchTicket() {
  const response = await fetch(config.ticketUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    const err = new Error(`ticket ${response.status}`);
    err.fatal = [401, 403, 404, 409].includes(response.status);
    err.code = "ticket";
    throw err;
  }
  return (await response.json()).token;
}

async function join() {
  view.setText("device-status", t("device.asking"));
  let devices;
  let rtc;
  try {
    devices = await openDevices();
    rtc = await loadRtcConfig(config.rtcConfigUrl);
  } catch (err) {
    view.setText("device-status", t(`device.${err instanceof DeviceError ? err.kind : "failed"}`));
    return;
  }
  view.attachLocal(devices.stream);
  const session = new CallSession({
    signalingUrl: rtc.signalingUrl,
    room: config.room,
    role: "staff",
    getToken: fetchTicket,
    iceServers: rtc.iceServers,
    iceTransportPolicy: rtc.iceTransportPolicy,
    stream: devices.stream,
    view,
    t,
  });
  state.session = session;
  session.addEventListener("state", (event) => {
    const s = event.detail.state;
    root.dataset.callState = s;
    if (s === "waiting") view.setText("call-status", t("staff.resident-absent"));
    else if (s === "in-call") view.setText("call-status", t("call.connected"));
    else if (s === "ended" || s === "left") view.showStep("ended");
    else if (s === "error") {
      view.showStep("error");
      view.setText("error-text", t("fatal.other"));
    }
  });
  view.showStep("call");
  view.setText("call-status", t("wait.connecting"));
  session.start();
}

$("btn-end").addEventListener("click", async () => {
  const button = $("btn-end");
  button.disabled = true;
  const session = state.session;
  if (session && !["ended", "left", "error"].includes(session.state)) await session.endForAll();
  const response = await fetch(config.finishUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (response.ok || response.status === 409) {
    state.finished = true;
    view.showStep("ended");
  } else {
    button.disabled = false;
  }
});

window.addEventListener("pagehide", () => {
  const session = state.session;
  if (session && !["ended", "left", "error"].includes(session.state)) session.hangUp();
});
setupHandover({
  form: $("handover-form"),
  getSession: () => state.session,
  view,
  t,
  showLink: null,
  beforeLeave: async () => {},
});
setupInvite({ form: $("invite-form"), view, t });

view.watchNetwork();
view.showStep("device", { focus: false });
keepPresence(config.heartbeatUrl);
join();
