// How a page follows a call's state (session.js), in two styles:
//
// followCall    the visitor's pages (the join page and the kiosk's call
//               screen): steps waiting room → call → ended; each page says
//               what happens once the call is over (rejoin, or back to the
//               kiosk's start screen)
// followAsStaff the staff pages (booked call and walk-in call): the call step
//               with one status line, then ended or error
//
// Both record the state in #call-app[data-call-state] (tests wait on it).

export function followCall(session, page, { onFinished }) {
  const { root, view, t, config, state } = page;
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
      page.step("waiting");
      view.setText("wait-status", t(staffLeft ? "wait.staff-left" : "wait.waiting"));
    } else if (s === "connecting-peer") {
      page.step("waiting");
      view.setText("wait-status", t("call.connecting"));
    } else if (s === "in-call") {
      if (state.step !== "call") page.step("call");
      view.setText("peer-status", "");
    } else if (s === "restoring") {
      if (state.step !== "call") page.step("call");
      view.setText("peer-status", t("call.restarting"));
    } else if (s === "ended" || s === "left") {
      page.step("ended");
      view.setText("ended-text", t(s === "ended" ? "ended.by-staff" : "ended.left"));
      onFinished(s);
    } else if (s === "error") {
      page.step("error");
      const key = `fatal.${session.errorCode}`;
      view.setText("error-text", config.messages[key] ? t(key) : t("fatal.other"));
      onFinished(s);
    }
  });
}

// `onState(state)` adds the page's own signs (the resident's presence);
// `onFinished(state)` shows the end ("ended" or "left").
export function followAsStaff(session, page, { onState = () => {}, onFinished }) {
  const { root, view, t, config } = page;
  session.addEventListener("state", (event) => {
    const s = event.detail.state;
    root.dataset.callState = s;
    onState(s);
    if (s === "waiting") {
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
      onFinished(s);
    } else if (s === "error") {
      page.step("error");
      const key =
        session.errorCode === "ticket" ? "staff.ticket-failed" : `fatal.${session.errorCode}`;
      view.setText("error-text", config.messages[key] ? t(key) : t("fatal.other"));
    }
  });
  page.step("call");
  view.setText("call-status", t("wait.connecting"));
}
