// Connection quality of a live RTCPeerConnection, measured every few seconds
// (the rules are in quality-level.js).

import { intervalLoss, level, summarize } from "./quality-level.js";

export async function snapshot(pc) {
  return summarize(await pc.getStats());
}

// Calls onLevel(level, details) every `everyMs` while the connection lives.
export function watchQuality(getPc, onLevel, everyMs = 2000) {
  let previous = null;
  const timer = setInterval(async () => {
    const pc = getPc();
    if (!pc || pc.connectionState !== "connected") {
      previous = null;
      return;
    }
    let now;
    try {
      now = await snapshot(pc);
    } catch {
      return;
    }
    if (previous) {
      const loss = intervalLoss(previous, now);
      onLevel(level(loss, now.rtt), { loss, rtt: now.rtt, ...now });
    }
    previous = now;
  }, everyMs);
  return () => clearInterval(timer);
}
