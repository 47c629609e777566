// Autosave of consultation notes: posts the form in the background a moment
// after typing stops, and says when it was saved. Without JS the form's own
// "Save notes" button still works.

const form = document.getElementById("notes-form");
const status = document.getElementById("notes-status");
const DELAY_MS = 1500;
let timer = null;
let inFlight = null;
let dirty = false;

async function save() {
  timer = null;
  if (inFlight) {
    dirty = true; // save again once the running request is done
    return;
  }
  dirty = false;
  status.textContent = form.dataset.savingText;
  inFlight = fetch(form.action, {
    method: "POST",
    body: new FormData(form),
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  try {
    const response = await inFlight;
    if (!response.ok) throw new Error(String(response.status));
    const body = await response.json();
    status.textContent = form.dataset.savedText.replace("{time}", body.saved_at);
  } catch {
    status.textContent = form.dataset.errorText;
  } finally {
    inFlight = null;
    if (dirty) schedule();
  }
}

function schedule() {
  if (timer) clearTimeout(timer);
  timer = setTimeout(save, DELAY_MS);
}

if (form && window.fetch) {
  form.elements.notes.addEventListener("input", schedule);
  // Save at once when leaving the field (e.g. before clicking an outcome).
  form.elements.notes.addEventListener("blur", () => {
    if (timer) {
      clearTimeout(timer);
      save();
    }
  });
}
