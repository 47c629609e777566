// The staff side of 書かない窓口 during a call (booked or walk-in): choose the
// procedure's form, fill it in beside the video while talking (each field
// checked as it is left, with the server's own rules: lib/formcheck.js),
// save it (a versioned PUT), push it to the resident's screen over the call
// (the protocol's `document` message with the push's signed link) and follow
// the resident's confirmations and signature (docs/forms.md §3).
//
// Markup: templates/forms/_panel.html (texts in #form-launch's data-messages).
// The page calls `attach(session)` once it has joined, so a push can be sent
// and the resident's `consent` (purpose `form`) reloads the form at once.

import { INCOMPLETE, validate } from "../lib/formcheck.js";
import { staffForms as api } from "./api.js";
import { FormFields } from "./fields.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;
const LIVE = ["in-call", "restoring", "connecting-peer"];

export function setupFormPanel() {
  const launch = $("form-launch");
  if (!launch) return null;
  const texts = JSON.parse(launch.dataset.messages || "{}");
  const t = (key, params = {}, fallback = key) => {
    let text = texts[key] ?? fallback;
    for (const [name, value] of Object.entries(params)) text = text.replace(`{${name}}`, value);
    return text;
  };
  const of = JSON.parse(launch.dataset.of || "{}");
  const lang = document.documentElement.lang === "en" ? "en" : "ja";
  const title = (thing) => (lang === "en" ? thing.title_en : thing.title_ja) || thing.title_ja;
  const panel = $("form-panel");
  const state = {
    templates: [],
    forms: [],
    form: null, // the Form being edited (docs/forms.md §3)
    dirty: false,
    touched: new Set(),
    session: null,
  };
  window.madoguchiFormPanel = state; // for tests
  let fields = null;
  let pollTimer = null;

  const say = (id, text) => {
    const el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  };
  const clock = (iso) =>
    new Date(iso).toLocaleTimeString(lang === "en" ? "en-GB" : "ja-JP", {
      timeZone: "Asia/Tokyo",
      hour: "2-digit",
      minute: "2-digit",
    });

  // -- choosing and opening -------------------------------------------------------------

  function listExisting() {
    const list = $("form-existing");
    list.replaceChildren();
    for (const form of state.forms) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary small";
      button.dataset.formId = String(form.id);
      button.textContent = `${t("reopen", { title: title(form) })} (${t(`state.${form.state}`)})`;
      button.addEventListener("click", () => openById(form.id));
      item.append(button);
      list.append(item);
    }
  }

  async function load() {
    try {
      [state.templates, state.forms] = await Promise.all([
        api.templates(launch.dataset.serviceId),
        api.list(of),
      ]);
    } catch {
      say("form-launch-status", t("load-failed"));
      return;
    }
    const select = $("form-template");
    select.replaceChildren();
    for (const tpl of state.templates) {
      const option = document.createElement("option");
      option.value = tpl.slug;
      option.textContent = title(tpl);
      select.append(option);
    }
    $("btn-form-open").disabled = state.templates.length === 0;
    say("form-launch-status", state.templates.length ? "" : t("none"));
    listExisting();
  }

  async function openById(id) {
    try {
      show(await api.get(id));
    } catch {
      say("form-launch-status", t("load-failed"));
    }
  }

  // "Open": the chosen template's form of this call if there is one, else a new one.
  async function openChosen() {
    const slug = $("form-template").value;
    const existing = [...state.forms].reverse().find((f) => f.template === slug);
    if (existing) return openById(existing.id);
    $("btn-form-open").disabled = true;
    try {
      const form = await api.start(slug, of);
      state.forms.push(form);
      listExisting();
      show(form);
      say("form-status", t("started", { title: title(form) }));
    } catch (err) {
      say("form-launch-status", err.message || t("load-failed"));
    } finally {
      $("btn-form-open").disabled = false;
    }
  }

  function show(form) {
    state.form = form;
    state.dirty = false;
    state.touched = new Set();
    panel.hidden = false;
    say("form-panel-title", title(form));
    fields = new FormFields($("form-fields"), form.definition, form.values, { t, lang });
    fields.addEventListener("input", () => edited());
    fields.addEventListener("change", (event) => {
      edited();
      state.touched.add(event.detail.path);
      check();
    });
    status();
    say("form-status", "");
    follow();
    $("form-panel-title").focus();
  }

  // -- editing, checking, saving ------------------------------------------------------------

  function edited() {
    if (!state.dirty) {
      state.dirty = true;
      say("form-status", t(state.form.state === "signed" ? "signed-edit" : "unsaved"));
    }
  }

  // The errors of the fields the staff member has already left (all on save).
  function check({ all = false } = {}) {
    const result = validate(state.form.definition, fields.values());
    fields.showErrors(result.errors, all ? null : state.touched);
    const missing = result.errors.filter((e) => INCOMPLETE.has(e.code)).length;
    say("form-missing", missing ? t("missing", { n: missing }) : t("complete"));
    return result;
  }

  function status() {
    const form = state.form;
    const el = $("form-state");
    el.dataset.state = form.state;
    say("form-state", t(`state.${form.state}`));
    say("form-version", t("version", { n: form.version }));
    say("form-missing", form.missing.length ? t("missing", { n: form.missing.length }) : t("complete"));
    panel.dataset.state = form.state;
    panel.dataset.version = String(form.version);
    resident();
    const entry = state.forms.findIndex((f) => f.id === form.id);
    if (entry >= 0) state.forms[entry] = form;
    listExisting();
  }

  function serverErrors(err) {
    // Field problems from the envelope: {field, code, message}.
    return (err.fields || []).map((f) => ({ path: f.field, code: f.code }));
  }

  async function save() {
    const result = check({ all: true });
    const invalid = result.errors.filter((e) => !INCOMPLETE.has(e.code));
    if (invalid.length) {
      say("form-status", t("save-invalid"));
      fields.focus(invalid[0].path);
      return false;
    }
    say("form-status", t("saving"));
    $("btn-form-save").disabled = true;
    try {
      state.form = await api.save(state.form.id, state.form.version, fields.values());
    } catch (err) {
      if (err.code === "version-conflict") {
        say("form-status", t("conflict"));
        offerReload();
      } else if (err.code === "form-invalid") {
        const errors = serverErrors(err);
        fields.showErrors(errors);
        say("form-status", t("save-invalid"));
        if (errors[0]) fields.focus(errors[0].path);
      } else {
        say("form-status", err.message || t("save-failed"));
      }
      return false;
    } finally {
      $("btn-form-save").disabled = false;
    }
    state.dirty = false;
    status();
    say("form-status", t("saved", { n: state.form.version }));
    follow();
    return true;
  }

  function offerReload() {
    const box = $("form-status");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary small";
    button.textContent = $("btn-form-open").textContent;
    button.addEventListener("click", () => openById(state.form.id));
    box.append(" ", button);
  }

  // -- pushing and following the resident ----------------------------------------------------

  async function push() {
    if (state.dirty && !(await save())) return;
    const result = check({ all: true });
    if (result.errors.length) {
      say("form-status", t("push-incomplete"));
      fields.focus(result.errors[0].path);
      return;
    }
    const session = state.session;
    if (!session || !LIVE.includes(session.state)) {
      say("form-status", t("push-no-call"));
      return;
    }
    $("btn-form-push").disabled = true;
    try {
      const pushed = await api.push(state.form.id, state.form.version);
      session.signaling.send({ type: "document", url: pushed.document_url, name: pushed.name });
      state.form = await api.get(state.form.id);
      status();
      say("form-status", t("pushed"));
      follow();
    } catch (err) {
      if (err.code === "form-incomplete") {
        fields.showErrors(serverErrors(err));
        say("form-status", t("push-incomplete"));
      } else if (err.code === "version-conflict") {
        say("form-status", t("conflict"));
        offerReload();
      } else {
        say("form-status", err.message || t("push-failed"));
      }
    } finally {
      $("btn-form-push").disabled = false;
    }
  }

  function resident() {
    const form = state.form;
    const pages = $("form-pages");
    pages.replaceChildren();
    const live = form.push;
    if (live && form.state === "pushed") {
      const done = new Set(live.confirmed_pages);
      say("form-pages-summary", t("pages", { n: done.size, total: live.page_count }));
      for (let n = 0; n < live.page_count; n += 1) {
        const item = document.createElement("li");
        item.dataset.done = String(done.has(n));
        item.textContent = t(done.has(n) ? "page-done" : "page-open", { n: n + 1 });
        pages.append(item);
      }
    } else if (form.state === "declined") {
      say("form-pages-summary", t("resident-declined"));
    } else {
      say("form-pages-summary", "");
    }
    const list = $("form-signatures");
    list.replaceChildren();
    for (const sig of form.signatures ?? []) {
      const item = document.createElement("li");
      item.textContent = sig.voided_at
        ? t("voided", { time: clock(sig.signed_at), reason: sig.void_reason || "" })
        : t("resident-signed", { time: clock(sig.signed_at) });
      item.dataset.void = String(Boolean(sig.voided_at));
      list.append(item);
    }
    const pdf = $("form-pdf");
    pdf.hidden = form.state !== "signed";
    pdf.href = api.pdfUrl(form.id);
  }

  // While the form waits on the resident: poll (the `consent` message only hurries it).
  function follow() {
    clearTimeout(pollTimer);
    if (!state.form || state.form.state !== "pushed" || panel.hidden) return;
    pollTimer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    if (!state.form) return;
    try {
      const form = await api.get(state.form.id);
      // Never overwrite what the staff member is typing; the state still shows.
      if (!state.dirty) state.form = form;
      else state.form = { ...state.form, state: form.state, push: form.push, signatures: form.signatures };
      status();
    } catch {
      // The next poll will tell.
    }
    follow();
  }

  $("btn-form-open").addEventListener("click", openChosen);
  $("btn-form-save").addEventListener("click", save);
  $("btn-form-push").addEventListener("click", push);
  $("btn-form-hide").addEventListener("click", () => {
    panel.hidden = true;
    clearTimeout(pollTimer);
    $("btn-form-open").focus();
  });
  load();

  return {
    state,
    attach(session) {
      state.session = session;
      session.addEventListener("consent", (event) => {
        if (event.detail.purpose === "form") refresh();
      });
    },
  };
}
