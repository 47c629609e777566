// The staff member's call page: see whether the resident is waiting, join
// with a fresh ticket from the logged-in session, talk, keep notes, and end
// the call for everyone while recording the outcome.

import { DeviceError, openDevices } from "./media.js";
import { CallSession, loadRtcConfig } from "./session.js";
import { keepPresence, setupHandover, setupInvite, showTeamLink } from "./handover.js";
import { CallView, readConfig, translator } from "./ui.js";

const root = document.getElementById("call-app");
const config = readConfig(root);
const t = translator(config.messages);
const view = new CallView(t);
const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;

const state = { session: null, finished: false, pollTimer: null };

// -- presence of the resident -----------------------------------------------------------

function showPresence(stateName, label) {
  const el = $("presence");
  el.className = `state state-${stateName}`;
  el.dataset.state = stateName;
  if (el.textContent !== label) el.textContent = label;
}

async function poll() {
  try {
    const response = await fetch(config.stateUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.ok) {
      const body = await response.json();
      showPresence(body.state, body.label);
    }
  } catch {
    // The next poll will tell.
  }
}

function startPolling() {
  poll();
  state.pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  clearInterval(state.pollTimer);
  state.pollTimer = null;
}

// -- joining ---------------------------------------------------------------------------------

async function fetchTicket() {
  const response = await fetch(config.ticketUrl, {
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
}

function onPeer(detail) {
  const { status, info } = detail;
  if (info && info.role && !["resident", "kiosk"].includes(info.role)) return;
  if (status === "reconnecting") {
    showPresence("waiting", t("staff.resident-reconnecting"));
  } else if (status === "left") {
    showPresence("not-yet", t("staff.resident-left"));
  } else {
    showPresence("in-call", t("staff.resident-joined"));
  }
}

async function join() {
  const button = $("btn-join");
  button.disabled = true;
  view.setText("device-status", t("device.asking"));
  let devices;
  try {
    devices = await openDevices();
  } catch (err) {
    view.setText("device-status", t(`device.${err instanceof DeviceError ? err.kind : "failed"}`));
    button.disabled = false;
    return;
  }
  view.attachLocal(devices.stream);
  let rtc;
  try {
    rtc = await loadRtcConfig(config.rtcConfigUrl);
  } catch {
    view.setText("device-status", t("net.failed"));
    button.disabled = false;
    return;
  }
  stopPolling();
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
  session.addEventListener("peer", (event) => onPeer(event.detail));
  session.addEventListener("consent", (event) => onConsent(event.detail));
  session.addEventListener("state", (event) => {
    const s = event.detail.state;
    root.dataset.callState = s;
    if (s === "waiting") {
      showPresence("not-yet", t("staff.resident-absent"));
      view.setText("call-status", t("staff.resident-absent"));
    } else if (s === "connecting-peer") {
      view.setText("call-status", t("call.connecting"));
    } else if (s === "in-call") {
      view.setText("call-status", t("call.connected"));
      view.setText("peer-status", "");
    } else if (s === "restoring") {
      view.setText("call-status", t("call.restarting"));
      view.setText("peer-status", t("call.restarting"));
    } else if (s === "ended" || s === "left") {
      showEnded();
    } else if (s === "error") {
      view.showStep("error");
      const key = session.errorCode === "ticket" ? "staff.ticket-failed" : `fatal.${session.errorCode}`;
      view.setText("error-text", config.messages[key] ? t(key) : t("fatal.other"));
    }
  });
  view.showStep("call");
  view.setText("call-status", t("wait.connecting"));
  session.start();
}

function showEnded() {
  view.showStep("ended");
  view.setText("ended-text", state.finished ? t("staff.finished") : t("staff.call-ended"));
}

// -- notes (autosaved through the console's notes endpoint) ---------------------------------------

const notesForm = $("notes-form");
let notesTimer = null;
let notesBusy = false;
let notesDirty = false;

async function saveNotes() {
  notesTimer = null;
  if (notesBusy) {
    notesDirty = true;
    return;
  }
  notesBusy = true;
  notesDirty = false;
  view.setText("notes-status", t("notes.saving"));
  try {
    const response = await fetch(notesForm.action, {
      method: "POST",
      body: new FormData(notesForm),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(String(response.status));
    const body = await response.json();
    view.setText("notes-status", t("notes.saved", { time: body.saved_at }));
  } catch {
    view.setText("notes-status", t("notes.failed"));
  } finally {
    notesBusy = false;
    if (notesDirty) scheduleNotes();
  }
}

function scheduleNotes() {
  clearTimeout(notesTimer);
  notesTimer = setTimeout(saveNotes, 1500);
}

notesForm.addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(notesTimer);
  saveNotes();
});
notesForm.elements.notes.addEventListener("input", scheduleNotes);

// -- hand-over and invitations (app/api/call_team.py; `transfer` in docs/signaling.md) ------------

function showLink(messageKey, url) {
  showTeamLink(view, t, messageKey, url);
}

setupHandover({
  form: $("handover-form"),
  getSession: () => state.session,
  view,
  t,
  showLink,
  beforeLeave: async () => {
    clearTimeout(notesTimer);
    await saveNotes();
  },
});

setupInvite({ form: $("invite-form"), view, t });

// -- documents at the counter (app/api/documents.py) -----------------------------------------------

function visitor() {
  const peers = state.session ? [...state.session.peers.peers.values()] : [];
  return peers.find((peer) => ["resident", "kiosk"].includes(peer.info?.role));
}

$("btn-ask-photo").addEventListener("click", () => {
  const peer = visitor();
  if (!peer) return;
  $("btn-take-photo").disabled = true;
  state.session.signaling.send({ type: "consent-request", purpose: "photo", to: peer.id });
  view.setText("docs-status", t("staff.photo-asked"));
});

function onConsent(msg) {
  const granted = msg.purpose === "photo" && msg.granted;
  $("btn-take-photo").disabled = !granted;
  view.setText("docs-status", t(granted ? "staff.photo-granted" : "staff.photo-refused"));
}

// A still of the resident's video (the document held to their camera).
function grabFrame(peerId) {
  const videos = [...document.querySelectorAll("#remote-video, #remote-others video")];
  const video = videos.find(
    (v) => (v.dataset.peer || v.closest("[data-peer]")?.dataset.peer) === peerId,
  );
  if (!video || !video.videoWidth) return Promise.resolve(null);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
}

const pushForm = $("push-form");

async function upload(url, blob) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": blob.type },
    body: blob,
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.code || String(response.status));
  return body;
}

$("btn-take-photo").addEventListener("click", async () => {
  const peer = visitor();
  const blob = peer ? await grabFrame(peer.id) : null;
  if (!blob) {
    view.setText("docs-status", t("staff.upload-failed"));
    return;
  }
  try {
    await upload(pushForm.dataset.photosUrl, blob);
    view.setText("docs-status", t("staff.photo-saved"));
  } catch (err) {
    const key = err.message === "consent-required" ? "staff.photo-refused" : "staff.upload-failed";
    view.setText("docs-status", t(key));
  }
  $("btn-take-photo").disabled = true; // one photo per consent
});

pushForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = pushForm.elements.file.files[0];
  if (!file) return;
  try {
    const url = `${pushForm.action}?name=${encodeURIComponent(file.name)}`;
    const out = await upload(url, file);
    state.session?.signaling.send({ type: "document", url: out.url, name: out.name });
    view.setText("docs-status", t("staff.document-shown"));
  } catch {
    view.setText("docs-status", t("staff.upload-failed"));
  }
});

// -- end the call and record the outcome -----------------------------------------------------------

const finishForm = $("finish-form");

finishForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!finishForm.reportValidity()) {
    view.setText("finish-status", t("staff.choose-outcome"));
    return;
  }
  const button = $("btn-end");
  button.disabled = true;
  view.setText("finish-status", "");
  const session = state.session;
  if (session && !["ended", "left", "error"].includes(session.state)) {
    view.setText("call-status", t("staff.ending"));
    await session.endForAll();
  }
  const body = new FormData(finishForm);
  body.append("notes", notesForm.elements.notes.value);
  try {
    const response = await fetch(finishForm.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      const error = await response.json().catch(() => null);
      throw new Error(error?.error?.message || t("staff.finish-failed"));
    }
    state.finished = true;
    root.dataset.finished = "true";
    stopPolling();
    showPresence("done", t("staff.finished"));
    showEnded();
  } catch (err) {
    view.setText("finish-status", err.message || t("staff.finish-failed"));
    button.disabled = false;
  }
});

// -- start --------------------------------------------------------------------------------------------

window.madoguchiStaffCall = state; // for tests: session, finished
view.watchNetwork();
$("btn-join").addEventListener("click", join);
window.addEventListener("pagehide", () => {
  const session = state.session;
  if (session && !["ended", "left", "error"].includes(session.state)) session.hangUp();
});
view.showStep("device", { focus: false });
startPolling();
keepPresence(config.heartbeatUrl);
