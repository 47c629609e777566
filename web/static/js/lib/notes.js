// Autosave of consultation notes (the booking page and the staff call page):
// posts the form in the background a moment after typing stops, and when
// leaving the field with changes unsaved, and says when it was saved. Texts
// come from the form (data-saving-text, data-saved-text with {time},
// data-error-text), so they are in the page's language. Without JS the
// form's own "Save notes" button still works.

const DELAY_MS = 1500;

// `inBackground`: the form's own submit also saves in the background (the
// call page must not navigate away from the call). Returns { flush }, which
// saves now and resolves once the latest text is stored (or failed).
export function autosaveNotes(form, { inBackground = false } = {}) {
  const status = document.getElementById("notes-status");
  const say = (text) => {
    if (status && status.textContent !== text) status.textContent = text;
  };
  let timer = null;
  let inFlight = null;
  let dirty = false;

  async function save() {
    clearTimeout(timer);
    timer = null;
    if (inFlight) {
      dirty = true; // save again once the running request is done
      return inFlight;
    }
    dirty = false;
    say(form.dataset.savingText);
    inFlight = (async () => {
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) throw new Error(String(response.status));
        const body = await response.json();
        say(form.dataset.savedText.replace("{time}", body.saved_at));
      } catch {
        say(form.dataset.errorText);
      }
    })();
    await inFlight;
    inFlight = null;
    if (dirty) schedule();
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(save, DELAY_MS);
  }

  const notes = form.elements.notes;
  notes.addEventListener("input", schedule);
  // Save at once when leaving the field (e.g. before clicking an outcome).
  notes.addEventListener("blur", () => {
    if (timer) save();
  });
  if (inBackground) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      save();
    });
  }

  return {
    async flush() {
      if (inFlight) await inFlight;
      await save();
    },
  };
}
