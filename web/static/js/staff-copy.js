// "Copy link" buttons: copy the target field's value to the clipboard.
// The buttons stay hidden without JS; the field itself is selectable.

const status = document.getElementById("copy-status");

for (const button of document.querySelectorAll("button[data-copy-target]")) {
  const field = document.getElementById(button.dataset.copyTarget);
  if (!field) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = button.dataset.copiedText;
    } catch {
      field.focus();
      field.select();
      status.textContent = button.dataset.failedText;
    }
  });
}
