// Kiosk device heartbeat: every few seconds the paired device tells the server
// it is alive, with its camera, microphone and network checks, for the admin
// status board. A refused heartbeat (the device was locked out, the kiosk
// switched off) reloads the page, which then shows the lock screen.
//
// The checks never open the camera: permissions and the device list say
// whether a camera and a microphone are there and allowed.

const body = document.body;
const url = body.dataset.heartbeat;
const seconds = Math.max(5, Number(body.dataset.heartbeatSeconds || 30));
// Slower round trips than this make the network "slow" on the board.
const SLOW_MS = 1500;

let lastRtt = null;
// Heartbeats that did not reach the server since the last one that did.
// (navigator.onLine is no use here: it says "offline" on networks without a
// default route, such as a branch LAN that only reaches the city's server.)
let lost = 0;

async function permission(name) {
  try {
    if (navigator.permissions && navigator.permissions.query) {
      const status = await navigator.permissions.query({ name });
      return status.state;
    }
  } catch {
    // Not a permission this browser knows: fall back to the device list.
  }
  return "prompt";
}

async function check(name, kind) {
  if ((await permission(name)) === "denied") return "denied";
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return "unknown";
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    return devices.some((d) => d.kind === kind) ? "ok" : "missing";
  } catch {
    return "unknown";
  }
}

function network() {
  if (lost > 0) return "offline";
  if (lastRtt !== null && lastRtt > SLOW_MS) return "slow";
  return "ok";
}

async function beat() {
  const report = {
    camera: await check("camera", "videoinput"),
    microphone: await check("microphone", "audioinput"),
    network: network(),
    // The kiosk's call screen (waiting room or call) counts as "in a call".
    in_call: Boolean(document.querySelector('[data-role="kiosk"]')),
    rtt_ms: lastRtt === null ? null : Math.round(lastRtt),
  };
  const started = performance.now();
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(report),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    // Not reachable: the board shows the silence; the next beat that gets
    // through reports the loss.
    lost += 1;
    return;
  }
  lastRtt = performance.now() - started;
  lost = 0;
  if (response.status === 401 || response.status === 403) {
    window.location.reload();
  }
  body.dataset.heartbeatState = response.ok ? "ok" : "error";
}

if (url) {
  beat();
  window.setInterval(beat, seconds * 1000);
}
