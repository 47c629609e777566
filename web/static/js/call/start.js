// Starting a call: the sequence every call page shares. Used by the resident's
// join page (also opened by interpreters and invited colleagues), the staff
// call page, the kiosk's call screen and the staff side of a walk-in call.
//
//   callPage()   the page's parts (#call-app's data-*, texts, view) and state;
//                leaving the page leaves the call
//   openCamera() camera and microphone, the outcome said in #device-status
//   (the join page's pre-call check runs here, in its page script)
//   joinCall()   the call's configuration (signaling URL, ICE servers), then
//                signaling join and peer connections (CallSession), with the
//                page following the call's state (follow.js) from the start
//
// What differs between pages comes in as options: when each step runs, the
// role, where the join token comes from, and what the screen says.

import { DeviceError, openDevices, stopStream } from "./media.js";
import { CallSession, loadRtcConfig } from "./session.js";
import { CallView, readConfig, translator } from "./ui.js";

export const FINISHED = ["ended", "left", "error"];

// `exposeAs` names the window property that shows `state` to tests
// (window.madoguchiJoin, …); window.madoguchiCall comes from the session.
export function callPage({ exposeAs, state = {} } = {}) {
  const root = document.getElementById("call-app");
  const config = readConfig(root);
  const t = translator(config.messages);
  // Only the visitor's pages (home, kiosk) name sign languages: theirs is the side-by-side layout.
  const view = new CallView(t, { signLanguages: JSON.parse(root.dataset.signLanguages || "[]") });
  const page = {
    root,
    config,
    t,
    view,
    $: (id) => document.getElementById(id),
    state: { step: "device", stream: null, audioOnly: false, session: null, ...state },
    rtc: null,
    // One step of the call on screen, also in #call-app[data-step].
    step(name, options) {
      page.state.step = name;
      root.dataset.step = name;
      view.showStep(name, options);
    },
  };
  if (exposeAs) window[exposeAs] = page.state;
  view.watchNetwork();
  window.addEventListener("pagehide", () => {
    const session = page.state.session;
    if (session && !FINISHED.includes(session.state)) session.hangUp();
    else if (!session) stopStream(page.state.stream); // the camera, before any call
  });
  return page;
}

// Resolves with the stream, shown in the preview, or with null once
// #device-status says what is wrong; `onProblem(kind)` adds the page's help
// (kind: blocked | missing | busy | unsupported | failed, media.js).
export async function openCamera(page, { onProblem } = {}) {
  const { view, t, state } = page;
  view.setText("device-status", t("device.asking"));
  try {
    const { stream, audioOnly } = await openDevices();
    state.stream = stream;
    state.audioOnly = audioOnly;
    view.attachLocal(stream);
    view.setText("device-status", t(audioOnly ? "device.audio-only" : "device.ready"));
    return stream;
  } catch (err) {
    const kind = err instanceof DeviceError ? err.kind : "failed";
    view.setText("device-status", t(`device.${kind}`));
    onProblem?.(kind);
    return null;
  }
}

// The call's configuration, fetched once per page (the pre-call check needs
// it first on the join page). Throws when the server cannot be reached.
export async function rtcConfig(page) {
  page.rtc ??= await loadRtcConfig(page.config.rtcConfigUrl);
  return page.rtc;
}

// A join ticket fetched from the logged-in staff session before every join,
// so a reconnect late in a long call still gets a valid one.
export function staffTicket(url) {
  return async () => {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      const err = new Error(`ticket ${response.status}`);
      // Logged out, not allowed, or a cancelled booking: retrying will not help.
      err.fatal = [401, 403, 404, 409].includes(response.status);
      err.code = "ticket";
      throw err;
    }
    return (await response.json()).token;
  };
}

// Joins with the stream from openCamera(). `follow(session)` wires the page
// to the call before it starts; `getToken` defaults to the page's own token
// (data-token). Resolves with the session, or with null after
// `onNoConfig()` when the configuration could not be loaded.
export async function joinCall(page, { role, getToken, follow, onNoConfig }) {
  let rtc;
  try {
    rtc = await rtcConfig(page);
  } catch (err) {
    if (!onNoConfig) throw err;
    onNoConfig();
    return null;
  }
  const session = new CallSession({
    signalingUrl: rtc.signalingUrl,
    room: page.config.room,
    role,
    getToken: getToken ?? (async () => page.config.token),
    iceServers: rtc.iceServers,
    iceTransportPolicy: rtc.iceTransportPolicy,
    stream: page.state.stream,
    view: page.view,
    t: page.t,
  });
  page.state.session = session;
  follow(session);
  session.start();
  return session;
}
