// The resident's side of a form pushed during the call (kiosk and home):
// the filled form large and read-only, page by page; the resident confirms
// each page, then signs on the signature pad, or declines (docs/forms.md §3).
// What is shown is the server's frozen view of one version of the form, and
// each answer goes back with that view's hash, so the server stores exactly
// what the resident saw. A form edited meanwhile is refused (409
// view-changed): the screen says so and waits for the staff member's new push.
//
// The push arrives as the protocol's `document` message (docs/signaling.md);
// the page fetches the link with its own join token and finds a form's view
// (JSON) there instead of a PDF or an image. After signing or declining, a
// `consent` message with purpose `form` tells the staff member at once.
//
// Markup: templates/forms/_review.html (texts in its data-messages).

import { residentForms } from "./api.js";
import { SignaturePad } from "./signature.js";
import { formTitle, pageTitle, renderSheet } from "./sheet.js";

const $ = (id) => document.getElementById(id);

let listening = null; // the one review of the page; a rejoin only hands it the new session

// `session`: the CallSession (session.js); `token`: the page's join token.
export function setupReview({ session: first, token, view: callView }) {
  const root = $("form-review");
  if (!root || !first) return null;
  if (listening) {
    listening(first);
    return window.madoguchiForm;
  }
  let session = first;
  const api = residentForms(token);
  const texts = JSON.parse(root.dataset.messages || "{}");
  const t = (key, params = {}) => {
    let text = texts[key] ?? key;
    for (const [name, value] of Object.entries(params)) text = text.replace(`{${name}}`, value);
    return text;
  };
  const lang = document.documentElement.lang === "en" ? "en" : "ja";
  const app = $("call-app");
  const state = {
    form: null, // the ResidentForm being shown
    from: null, // the staff member who pushed it (participant id)
    page: 0,
    phase: "idle", // idle | review | sign | sending | signed | declined | changed
  };
  window.madoguchiForm = state; // for tests, like window.madoguchiCall
  let pad = null;

  const say = (text, kind = "info") => {
    const el = $("form-review-status");
    el.dataset.kind = kind;
    if (el.textContent !== text) el.textContent = text;
  };

  function setPhase(phase) {
    state.phase = phase;
    root.dataset.phase = phase;
    $("form-review-pages").hidden = phase !== "review";
    $("form-sign").hidden = !["sign", "sending"].includes(phase);
    $("form-done").hidden = !["signed", "declined", "changed"].includes(phase);
    $("form-decline-row").hidden = !["review", "sign"].includes(phase);
    $("form-decline-confirm").hidden = true;
  }

  function showPage(index, { focus = true } = {}) {
    const pages = state.form.view.pages;
    state.page = index;
    root.dataset.page = String(index + 1);
    const page = pages[index];
    $("form-review-progress").textContent = t("progress", { n: index + 1, total: pages.length });
    $("form-review-page-title").textContent = pageTitle(page, lang);
    $("form-review-sheet").replaceChildren(renderSheet(page, { lang, t, level: 3 }));
    $("btn-form-back").hidden = index === 0;
    $("btn-form-confirm").textContent = t(index + 1 < pages.length ? "confirm-next" : "confirm-last");
    $("btn-form-confirm").disabled = false;
    if (focus) $("form-review-page-title").focus();
  }

  function open(form, { again = false } = {}) {
    state.form = form;
    root.hidden = false;
    app?.setAttribute("data-form", "open");
    $("form-review-name").textContent = formTitle(form.view, lang);
    $("form-review-intro").textContent = t(again ? "intro-again" : "intro");
    say("");
    if (form.state === "signed" || form.state === "declined") {
      finished(form.state, { tell: false });
      return;
    }
    if (form.state === "superseded") {
      changed(); // an older push (a reload, a late message): the next one will come
      return;
    }
    setPhase("review");
    // Pages confirmed before a reload are not asked again.
    const done = new Set(form.confirmed_pages ?? []);
    const first = form.view.pages.findIndex((_, n) => !done.has(n));
    if (first === -1) startSigning({ focus: false });
    else showPage(first, { focus: false });
    $("form-review-title").focus();
  }

  // The form changed under the resident's eyes: nothing they do now counts.
  function changed() {
    setPhase("changed");
    $("form-done-text").textContent = t("changed");
    $("form-done-title").focus();
  }

  async function answer(request) {
    try {
      state.form = await request();
      return true;
    } catch (err) {
      if (err.status === 409 && ["view-changed", "form-not-pushed"].includes(err.code)) changed();
      else if (err.status === 409 && err.code === "push-closed") {
        // Already answered (another tap, another tab): show how it ended.
        api.get(state.form.form_id).then((form) => open(form), () => changed());
      }
      else if (err.status === 409 && err.code === "pages-not-confirmed") {
        setPhase("review");
        showPage(0);
        say(t("confirm-pages"), "error");
      } else if (err.status === 422) say(t("sign-refused"), "error");
      else say(t("send-failed"), "error");
      return false;
    }
  }

  async function confirmPage() {
    const index = state.page;
    $("btn-form-confirm").disabled = true;
    const { form_id: id, view_hash: hash } = state.form;
    if (!(await answer(() => api.confirm(id, index, hash)))) {
      $("btn-form-confirm").disabled = false;
      return;
    }
    say("");
    if (index + 1 < state.form.view.pages.length) showPage(index + 1);
    else startSigning();
  }

  function padChanged() {
    const empty = !pad || pad.empty;
    $("btn-sign-submit").disabled = empty;
    $("btn-sign-undo").disabled = empty;
    $("btn-sign-clear").disabled = empty;
  }

  function startSigning({ focus = true } = {}) {
    setPhase("sign");
    if (!pad) {
      pad = new SignaturePad($("signature-canvas"));
      pad.addEventListener("change", padChanged);
    } else {
      pad.resize();
    }
    pad.clear();
    if (focus) $("form-sign-title").focus();
  }

  function tellStaff(granted) {
    if (!state.from) return;
    session.signaling.send({ type: "consent", to: state.from, purpose: "form", granted });
  }

  function finished(outcome, { tell = true } = {}) {
    setPhase(outcome);
    $("form-done-text").textContent = t(outcome);
    say("");
    if (tell) tellStaff(outcome === "signed");
    $("form-done-title").focus();
  }

  async function submitSignature() {
    if (!pad || pad.empty || pad.points < 3) {
      say(t(pad && !pad.empty ? "sign-too-short" : "sign-first"), "error");
      return;
    }
    setPhase("sending");
    $("btn-sign-submit").disabled = true;
    say(t("sending"));
    const blob = await pad.toBlob();
    const { form_id: id, view_hash: hash } = state.form;
    if (await answer(() => api.sign(id, hash, blob))) {
      finished("signed");
    } else if (state.phase === "sending") {
      state.phase = "sign";
      setPhase("sign");
      padChanged();
    }
  }

  async function decline() {
    const { form_id: id, view_hash: hash } = state.form;
    if (await answer(() => api.decline(id, hash))) finished("declined");
  }

  $("btn-form-confirm").addEventListener("click", confirmPage);
  $("btn-form-back").addEventListener("click", () => showPage(Math.max(0, state.page - 1)));
  $("btn-sign-undo").addEventListener("click", () => pad?.undo());
  $("btn-sign-clear").addEventListener("click", () => pad?.clear());
  $("btn-sign-submit").addEventListener("click", submitSignature);
  $("btn-sign-review").addEventListener("click", () => {
    setPhase("review");
    showPage(0);
  });
  $("btn-form-decline").addEventListener("click", () => {
    $("form-decline-confirm").hidden = false;
    $("btn-decline-no").focus();
  });
  $("btn-decline-yes").addEventListener("click", decline);
  $("btn-decline-no").addEventListener("click", () => {
    $("form-decline-confirm").hidden = true;
    $("btn-form-decline").focus();
  });
  $("btn-form-close").addEventListener("click", () => {
    root.hidden = true;
    app?.removeAttribute("data-form");
    setPhase("idle");
  });

  // Every pushed link comes here first (session.js lets a listener claim it):
  // a form's view opens the review, anything else is listed as before.
  const onDocument = async (event) => {
    const msg = event.detail;
    event.preventDefault();
    let form = null;
    try {
      form = await api.opened(msg.url);
    } catch {
      root.hidden = false;
      say(t("load-failed"), "error");
      return;
    }
    if (!form) {
      callView.showDocument(msg.url, msg.name);
      return;
    }
    const again = state.form !== null && state.form.form_id === form.form_id;
    state.from = msg.from;
    open(form, { again });
  };
  listening = (next) => {
    session = next;
    session.addEventListener("document", onDocument);
  };
  listening(first);
  return state;
}
