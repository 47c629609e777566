// The hand-over form of both staff call pages (templates/staff/_handover.html):
// to a department (the server routes it to the department's qualified staff,
// who are rung in their counter console) or to a named colleague (rung too;
// a booked call also gets a link as a fallback). Then the signaling
// `transfer` tells the resident to stay (docs/signaling.md); a cold hand-over
// leaves at once, a warm one shows "leave" for when the colleague is there.

export function setupHandover({ form, getSession, view, t, beforeLeave, showLink }) {
  const $ = (id) => document.getElementById(id);
  const toDepartment = () => form.elements.to.value !== "person";

  function syncFields() {
    const dept = toDepartment();
    $("handover-department-fields").hidden = !dept;
    $("handover-person-fields").hidden = dept;
    form.elements.department_id.required = dept;
    form.elements.staff_id.required = !dept;
    // Only the chosen department's services can be picked.
    const chosen = form.elements.department_id.value;
    for (const option of form.elements.service_id.querySelectorAll("option[data-department]")) {
      option.hidden = option.disabled = Boolean(chosen) && option.dataset.department !== chosen;
    }
    if (form.elements.service_id.selectedOptions[0]?.disabled) form.elements.service_id.value = "";
  }

  for (const radio of form.querySelectorAll('input[name="to"]')) {
    radio.addEventListener("change", syncFields);
  }
  form.elements.department_id.addEventListener("change", syncFields);
  syncFields();

  async function leave() {
    await beforeLeave();
    getSession()?.hangUp();
  }
  $("btn-leave").addEventListener("click", leave);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) {
      view.setText("team-status", t("staff.handover-choose"));
      return;
    }
    const mode = form.elements.mode.value;
    const body = { mode, note: form.elements.note.value };
    if (toDepartment()) {
      body.department_id = Number(form.elements.department_id.value);
      if (form.elements.service_id.value) body.service_id = Number(form.elements.service_id.value);
    } else {
      body.staff_id = Number(form.elements.staff_id.value);
    }
    let out;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(String(response.status));
      out = await response.json();
    } catch {
      view.setText("team-status", t("staff.link-failed"));
      return;
    }
    if (out.url && showLink) showLink("staff.handover-rung", out.url);
    else view.setText("team-status", t(out.department ? "staff.handover-requested" : "staff.handover-rung"));
    $("btn-leave").hidden = mode !== "warm";
    const session = getSession();
    if (session && !["ended", "left", "error"].includes(session.state)) {
      const transfer = { type: "transfer", mode };
      if (out.target) transfer.target = out.target;
      if (out.department) transfer.department = out.department;
      session.signaling.send(transfer);
      if (mode === "cold") await leave();
    }
  });
}

// A link for the colleague or the invited person, selected for copying.
export function showTeamLink(view, t, messageKey, url) {
  const link = document.getElementById("team-link");
  view.setText("team-status", t(messageKey));
  if (!link) return;
  link.value = url;
  link.hidden = false;
  link.select();
}

// The invitation form of both staff call pages (templates/staff/_handover.html,
// app/api/call_team.py): a join link for an interpreter or a colleague, and a
// ring in the colleague's console when one is chosen.
export function setupInvite({ form, view, t }) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const body = { role: form.elements.role.value, name: form.elements.name.value };
    const colleague = form.elements.staff_id.value;
    if (colleague && body.role === "observer") body.staff_id = Number(colleague);
    let out;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(String(response.status));
      out = await response.json();
    } catch {
      view.setText("team-status", t("staff.link-failed"));
      return;
    }
    showTeamLink(view, t, out.request_id ? "staff.invite-rung" : "staff.invite-ready", out.url);
  });
}

// Tells the server this staff member is at their desk (in a call), so the
// counter console's timeout does not set them offline (app/counter/service.py).
export function keepPresence(url, everyMs = 20000) {
  if (!url) return;
  const beat = () =>
    fetch(url, { method: "POST", credentials: "same-origin" }).catch(() => undefined);
  beat();
  setInterval(beat, everyMs);
}
