// A walk-in call on the staff side (templates/staff/counter_call.html): join
// at once (the staff member just answered), talk, and "end the call" ends it
// for both and frees the staff member for the next call. Their part of the
// call (ended here, handed over and left, or ended by a colleague) ends on
// the call's wrap-up page: outcome, notes, application.

import { followAsStaff } from "../call/follow.js";
import { keepPresence, setupHandover, setupInvite } from "../call/handover.js";
import { setupInterpreterPanel } from "../call/interpreter.js";
import { FINISHED, callPage, joinCall, openCamera, staffTicket } from "../call/start.js";
import { setupFormPanel } from "../forms/panel.js";

const page = callPage({
  exposeAs: "madoguchiCounterCall", // tests
  state: { finished: false, ending: false },
});
const { root, config, t, view, $, state } = page;

// After the end nothing but the wrap-up is left (hand-over, invitations,
// interpreters and "end" need a call); the wrap-up page opens once the
// ticket is finished when this page ended the call.
function showEnded() {
  page.step("ended");
  for (const el of root.querySelectorAll(".call-team, .call-interpreter")) el.hidden = true;
  $("btn-end").hidden = true;
  if (!state.ending || state.finished) openWrapUp();
}

function openWrapUp() {
  if (config.wrapupUrl) window.location.assign(config.wrapupUrl);
}

async function join() {
  if (!(await openCamera(page))) return;
  await joinCall(page, {
    role: "staff",
    getToken: staffTicket(config.ticketUrl),
    follow: (session) => {
      followAsStaff(session, page, { onFinished: showEnded });
      formPanel?.attach(session);
    },
    onNoConfig: () => view.setText("device-status", t("net.failed")),
  });
}

$("btn-end").addEventListener("click", async () => {
  const button = $("btn-end");
  button.disabled = true;
  state.ending = true;
  const session = state.session;
  if (session && !FINISHED.includes(session.state)) await session.endForAll();
  const response = await fetch(config.finishUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (response.ok || response.status === 409) {
    state.finished = true;
    root.dataset.finished = "true";
    showEnded();
  } else {
    button.hidden = false;
    button.disabled = false;
  }
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
setupInterpreterPanel();
const formPanel = setupFormPanel(); // application forms (書かない窓口): forms/panel.js

page.step("device", { focus: false });
keepPresence(config.heartbeatUrl);
join();
