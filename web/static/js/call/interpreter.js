// "Call an interpreter" on the staff call pages (templates/staff/_interpreter.html):
// post the language to the API (app/api/interpreters.py) without leaving the
// call, and say who was called, or that nobody of that language is free and
// which languages are.

export function setupInterpreterPanel() {
  const panel = document.getElementById("interpreter-panel");
  if (!panel) return;
  const form = document.getElementById("interpreter-form");
  const status = document.getElementById("interp-status");
  const free = document.getElementById("interp-free");
  const cancel = document.getElementById("btn-interpreter-cancel");
  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ language: form.elements.language.value }),
      });
    } catch {
      status.textContent = panel.dataset.failedText;
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (response.status === 201) {
      status.textContent = fill(panel.dataset.calledTemplate, {
        name: body.interpreter_name,
        language: body.language_name,
      });
      free.textContent = "";
      form.hidden = true;
      cancel.dataset.url = body.cancel_url;
      cancel.hidden = false;
      return;
    }
    const error = body.error || {};
    status.textContent = error.message || panel.dataset.failedText;
    if (error.code === "no-interpreter-free") {
      const names = (error.free_languages || []).map((l) => l.name);
      free.textContent = names.length
        ? fill(panel.dataset.freeTemplate, { languages: names.join("、") })
        : panel.dataset.nobodyText;
    }
  });

  cancel.addEventListener("click", async () => {
    const response = await fetch(cancel.dataset.url, {
      method: "DELETE",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).catch(() => null);
    if (response && (response.status === 204 || response.status === 409)) {
      status.textContent = panel.dataset.cancelledText;
      cancel.hidden = true;
      form.hidden = false;
    } else {
      status.textContent = panel.dataset.failedText;
    }
  });
}
