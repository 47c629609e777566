// Live staff queue: applies Server-Sent Events from /staff/queue/events to the
// table and announces state changes through the page's aria-live region.
// The server sends a snapshot first, then only rows that changed or vanished.

const table = document.getElementById("queue");
const announcer = document.getElementById("queue-announcer");
const lost = document.getElementById("queue-connection");
const empty = document.getElementById("queue-empty");
const template = document.getElementById("queue-row");

function rowFor(code) {
  return table.tBodies[0].querySelector(`tr[data-code="${CSS.escape(code)}"]`);
}

function fill(tr, row) {
  tr.dataset.code = row.code;
  tr.dataset.start = row.start;
  tr.dataset.state = row.state;
  for (const el of tr.querySelectorAll("[data-field]")) {
    const name = el.dataset.field;
    if (name === "sr_suffix") {
      el.textContent = ` ${row.time} ${row.resident}`;
    } else if (name in row) {
      el.textContent = row[name];
    }
  }
  for (const el of tr.querySelectorAll("[data-link]")) {
    el.setAttribute("href", row[el.dataset.link]);
  }
  const badge = tr.querySelector(".state");
  if (badge) {
    badge.className = `state state-${row.state}`;
  }
}

function insertSorted(tr) {
  const body = table.tBodies[0];
  const later = [...body.rows].find((other) => other.dataset.start > tr.dataset.start);
  body.insertBefore(tr, later || null);
}

function apply(data) {
  const news = [];
  for (const row of data.rows) {
    let tr = rowFor(row.code);
    if (!tr) {
      tr = template.content.firstElementChild.cloneNode(true);
      fill(tr, row);
      insertSorted(tr);
      news.push(row.announce);
      continue;
    }
    const changed = tr.dataset.state !== row.state;
    const moved = tr.dataset.start !== row.start;
    fill(tr, row);
    if (moved) {
      tr.remove();
      insertSorted(tr);
    }
    if (changed) {
      news.push(row.announce);
    }
  }
  for (const code of data.removed) {
    rowFor(code)?.remove();
  }
  empty.hidden = table.tBodies[0].rows.length > 0;
  if (news.length) {
    // Replacing the text makes screen readers read the new announcement.
    announcer.textContent = news.join("。 ");
  }
}

function connect() {
  const source = new EventSource(table.dataset.eventsUrl);
  const onData = (event) => {
    lost.hidden = true;
    apply(JSON.parse(event.data));
  };
  source.addEventListener("snapshot", onData);
  source.addEventListener("change", onData);
  source.addEventListener("logout", () => {
    source.close();
    window.location.assign("/staff/login?next=/staff");
  });
  source.addEventListener("error", () => {
    // EventSource reconnects by itself; say so while it does.
    lost.hidden = false;
  });
}

if (table && "EventSource" in window) {
  connect();
}
