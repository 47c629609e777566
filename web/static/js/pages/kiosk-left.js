// "Your ticket has been cancelled" (templates/kiosk/ticket_left.html): a
// visible countdown, then the start screen for the next person.

import { counted, pageLang } from "../lib/plural.js";

const root = document.getElementById("kiosk-left");

if (root) {
  const until = Date.now() + Number(root.dataset.returnSeconds || 10) * 1000;
  const line = document.getElementById("left-return");
  const show = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    line.textContent = counted(root.dataset, "return", left, pageLang());
    if (left === 0) {
      window.clearInterval(timer);
      // replace(): the next person cannot go "back" into this visit.
      window.location.replace(`${document.body.dataset.home || "/"}`);
    }
  };
  const timer = window.setInterval(show, 500);
  show();
}
