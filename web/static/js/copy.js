// Copy buttons for the join and manage links: progressive enhancement.
// Buttons start hidden (the links are always shown as text) and appear only
// when this module runs. Messages come from the page (data-copied,
// data-failed) so they are already in the resident's language.

// Each button's message appears next to it, in a polite live region
// (id = the target's id + "-status").
function announce(button, message) {
  const status = document.getElementById(button.dataset.copyTarget + "-status");
  if (status) {
    status.textContent = "";
    // A fresh text node makes screen readers announce repeated messages too.
    window.setTimeout(() => { status.textContent = message; }, 50);
  }
}

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

for (const button of document.querySelectorAll("button[data-copy-target]")) {
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = target.textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
      announce(button, button.dataset.copied);
    } catch {
      // No clipboard access (old browser, http): select it for manual copying.
      selectText(target);
      announce(button, button.dataset.failed);
    }
  });
}
