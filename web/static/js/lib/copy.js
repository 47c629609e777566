// "Copy" buttons for links (the resident's join and manage links, the staff
// calendar feed): progressive enhancement. Each <button data-copy-target=ID>
// starts hidden (the link is always shown, as text or in a read-only field)
// and appears only when this module runs. Its messages come from the page
// (data-copied-text, data-failed-text), so they are in the page's language,
// and appear in the live region with id ID + "-status".

// A fresh text node makes screen readers announce a repeated message too.
function announce(status, message) {
  if (!status) return;
  status.textContent = "";
  window.setTimeout(() => {
    status.textContent = message;
  }, 50);
}

const isField = (el) => el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement;

// Selected for copying by hand (no clipboard access: old browser, http).
function select(target) {
  if (isField(target)) {
    target.focus();
    target.select();
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(target);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

export function enableCopyButtons(root = document) {
  for (const button of root.querySelectorAll("button[data-copy-target]")) {
    const target = document.getElementById(button.dataset.copyTarget);
    if (!target) continue;
    const status = document.getElementById(`${target.id}-status`);
    button.hidden = false;
    button.addEventListener("click", async () => {
      // A form field copies its value, a link its text.
      const text = isField(target) ? target.value : target.textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
        announce(status, button.dataset.copiedText);
      } catch {
        select(target);
        announce(status, button.dataset.failedText);
      }
    });
  }
}
