// Shows a call's progress on the page's steps: waiting room → call → ended.
// Shared by the resident's join page and the kiosk's call screen; each says
// what happens once the call is over (rejoin button, or back to the start).

export function followCall(session, { root, view, t, step, state, messages, onFinished }) {
  let staffLeft = false;
  session.addEventListener("peer", (event) => {
    const { status } = event.detail;
    if (status === "left") staffLeft = true;
    if (status === "present") staffLeft = false;
    view.setText("peer-status", status === "reconnecting" ? t("call.peer-reconnecting") : "");
  });
  session.addEventListener("state", (event) => {
    const s = event.detail.state;
    root.dataset.callState = s;
    if (s === "waiting") {
      step("waiting");
      view.setText("wait-status", t(staffLeft ? "wait.staff-left" : "wait.waiting"));
    } else if (s === "connecting-peer") {
      step("waiting");
      view.setText("wait-status", t("call.connecting"));
    } else if (s === "in-call") {
      if (state.step !== "call") step("call");
      view.setText("peer-status", "");
    } else if (s === "restoring") {
      if (state.step !== "call") step("call");
      view.setText("peer-status", t("call.restarting"));
    } else if (s === "ended" || s === "left") {
      step("ended");
      view.setText("ended-text", t(s === "ended" ? "ended.by-staff" : "ended.left"));
      onFinished(s);
    } else if (s === "error") {
      step("error");
      const key = `fatal.${session.errorCode}`;
      view.setText("error-text", messages[key] ? t(key) : t("fatal.other"));
      onFinished(s);
    }
  });
}
