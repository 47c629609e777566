// Admin kiosk status board: refreshes the table body by polling its rows.
// Failed refreshes keep the last table; the next one tries again.

const rows = document.getElementById("kiosk-rows");
const alerts = document.getElementById("kiosk-alerts");

async function refresh() {
  try {
    const response = await fetch(rows.dataset.src, {
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) return;
    rows.innerHTML = await response.text();
    const count = rows.querySelectorAll("tr.alert").length;
    alerts.dataset.alerts = String(count);
    alerts.textContent = count ? alerts.dataset.template.replace("{n}", String(count)) : "";
    rows.dataset.refreshed = String(Date.now());
  } catch {
    // Offline for a moment: keep what is shown.
  }
}

if (rows && alerts) {
  const seconds = Math.max(3, Number(rows.dataset.refresh || 15));
  window.setInterval(refresh, seconds * 1000);
}
