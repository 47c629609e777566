// A walk-in call on the staff side (templates/staff/counter_call.html): join
// at once (the staff member just answered), talk, and "end the call" ends it
// for both and frees the staff member for the next call.

import { followAsStaff } from "../call/follow.js";
import { keepPresence, setupHandover, setupInvite } from "../call/handover.js";
import { setupInterpreterPanel } from "../call/interpreter.js";
import { FINISHED, callPage, joinCall, openCamera, staffTicket } from "../call/start.js";
import { setupFormPanel } from "../forms/panel.js";

const page = callPage({ exposeAs: "madoguchiCounterCall", state: { finished: false } }); // tests
const { config, t, view, $, state } = page;

async function join() {
  if (!(await openCamera(page))) return;
  await joinCall(page, {
    role: "staff",
    getToken: staffTicket(config.ticketUrl),
    follow: (session) => {
      followAsStaff(session, page, { onFinished: () => page.step("ended") });
      formPanel?.attach(session);
    },
    onNoConfig: () => view.setText("device-status", t("net.failed")),
  });
}

$("btn-end").addEventListener("click", async () => {
  const button = $("btn-end");
  button.disabled = true;
  const session = state.session;
  if (session && !FINISHED.includes(session.state)) await session.endForAll();
  const response = await fetch(config.finishUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (response.ok || response.status === 409) {
    state.finished = true;
    page.step("ended");
  } else {
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
