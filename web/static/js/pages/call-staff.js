// The staff call page (templates/call/staff.html): see whether the resident
// is waiting, join with a fresh ticket from the logged-in session, talk, keep
// notes, and end the call for everyone while recording the outcome.

import { followAsStaff } from "../call/follow.js";
import { keepPresence, setupHandover, setupInvite, showTeamLink } from "../call/handover.js";
import { setupInterpreterPanel } from "../call/interpreter.js";
import { FINISHED, callPage, joinCall, openCamera, staffTicket } from "../call/start.js";
import { setupFormPanel } from "../forms/panel.js";
import { autosaveNotes } from "../lib/notes.js";

const page = callPage({
  exposeAs: "madoguchiStaffCall", // tests: session, finished
  state: { finished: false, ending: false },
});
const { root, config, t, view, $, state } = page;
const POLL_MS = 3000;
let pollTimer = null;

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
  pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

// -- joining ---------------------------------------------------------------------------------

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
  if (!(await openCamera(page))) {
    button.disabled = false;
    return;
  }
  await joinCall(page, {
    role: "staff",
    getToken: staffTicket(config.ticketUrl),
    follow: (session) => {
      stopPolling();
      session.addEventListener("peer", (event) => onPeer(event.detail));
      session.addEventListener("consent", (event) => onConsent(event.detail));
      formPanel?.attach(session);
      followAsStaff(session, page, {
        onState: (s) => {
          if (s === "waiting") showPresence("not-yet", t("staff.resident-absent"));
        },
        onFinished: showEnded,
      });
    },
    onNoConfig: () => {
      view.setText("device-status", t("net.failed"));
      button.disabled = false;
    },
  });
}

// Once the call is over only the wrap-up is left: hand-over, invitations,
// interpreters, documents and "end" need a call to act on. The staff member's
// part ends on the call's wrap-up page (outcome, notes, application), whether
// they ended the call, handed it over and left, or a colleague ended it; when
// they end it here, the outcome is saved first (the finish form below).
function showEnded() {
  page.step("ended");
  for (const el of root.querySelectorAll(".call-team, .call-interpreter, .call-documents")) {
    el.hidden = true;
  }
  $("btn-end").disabled = true;
  view.setText("ended-text", state.finished ? t("staff.finished") : t("staff.call-ended"));
  if (!state.ending || state.finished) openWrapUp();
}

function openWrapUp() {
  if (config.wrapupUrl) window.location.assign(config.wrapupUrl);
}

// -- notes (autosaved through the console's notes endpoint) ---------------------------------------

const notesForm = $("notes-form");
const notes = autosaveNotes(notesForm, { inBackground: true });

// -- hand-over, invitations (app/api/call_team.py; `transfer` in docs/signaling.md), interpreters ---

setupHandover({
  form: $("handover-form"),
  getSession: () => state.session,
  view,
  t,
  showLink: (messageKey, url) => showTeamLink(view, t, messageKey, url),
  beforeLeave: () => notes.flush(),
});
setupInvite({ form: $("invite-form"), view, t });
setupInterpreterPanel();
const formPanel = setupFormPanel(); // application forms (書かない窓口): forms/panel.js

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
  if (msg.purpose !== "photo") return; // a form's answer goes to the form panel
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
  state.ending = true; // the wrap-up opens once the outcome is saved
  view.setText("finish-status", "");
  const session = state.session;
  if (session && !FINISHED.includes(session.state)) {
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
    button.disabled = false; // the call may be over: "end" now records the outcome only
  }
});

// -- start --------------------------------------------------------------------------------------------

$("btn-join").addEventListener("click", join);
page.step("device", { focus: false });
startPolling();
keepPresence(config.heartbeatUrl);
