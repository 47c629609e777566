// The kiosk's call screen (templates/kiosk/call.html): camera and microphone
// (started by themselves) → waiting room → call → ended, then back to the
// kiosk's start screen.
//
// The kiosk is set up once by branch staff, so there is no pre-call check
// here; a camera that does not start is reported in plain words with "try
// again".

import { stopStream } from "../call/media.js";
import { counted, pageLang } from "../lib/plural.js";
import { followCall } from "../call/follow.js";
import { callPage, joinCall, openCamera } from "../call/start.js";
import { setupReview } from "../forms/review.js";

const page = callPage({ exposeAs: "madoguchiKiosk", state: { returning: null } }); // tests: step, session
const { config, t, view, $, state } = page;
const returnSeconds = Number(config.returnSeconds || 30);

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
      el.textContent = counted(config, "return", left, pageLang());
    }
    if (left === 0) {
      window.clearInterval(state.returning);
      goHome();
    }
  };
  state.returning = window.setInterval(show, 500);
  show();
}

async function start() {
  const button = $("btn-devices");
  button.hidden = true;
  $("device-help").hidden = true;
  const stream = await openCamera(page, {
    onProblem: (kind) => {
      $("device-help").hidden = false;
      button.hidden = kind === "unsupported";
    },
  });
  if (!stream) return;
  page.step("waiting");
  view.setText("wait-status", t("wait.connecting"));
  await joinCall(page, {
    role: "kiosk",
    follow: (session) => {
      followCall(session, page, { onFinished: returnLater });
      setupReview({ session, token: config.token, view });
    },
    onNoConfig: () => {
      page.step("error");
      view.setText("error-text", t("net.failed"));
      stopStream(stream);
      returnLater();
    },
  });
}

$("btn-devices").addEventListener("click", start);
$("btn-hangup").addEventListener("click", () => state.session?.hangUp());
$("btn-cancel").addEventListener("click", () => {
  if (state.session) state.session.hangUp();
  else stopStream(state.stream);
  goHome();
});
page.step("device", { focus: false });
start();
