// Connection quality from getStats(): packet loss and round-trip time over
// the last interval, as one of "good", "fair", "poor" (or "unknown").

export const LIMITS = {
  good: { loss: 0.02, rtt: 0.3 },
  fair: { loss: 0.08, rtt: 0.6 },
};

export function level(loss, rtt) {
  if (loss === null) return "unknown";
  const r = rtt ?? 0;
  if (loss <= LIMITS.good.loss && r <= LIMITS.good.rtt) return "good";
  if (loss <= LIMITS.fair.loss && r <= LIMITS.fair.rtt) return "fair";
  return "poor";
}

export async function snapshot(pc) {
  const report = await pc.getStats();
  const out = {
    received: 0,
    lost: 0,
    rtt: null,
    framesDecoded: 0,
    audioPacketsReceived: 0,
    videoPacketsReceived: 0,
  };
  let pairId = null;
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  report.forEach((s) => {
    if (s.type === "inbound-rtp") {
      out.received += s.packetsReceived || 0;
      out.lost += Math.max(0, s.packetsLost || 0);
      if (s.kind === "video") {
        out.framesDecoded += s.framesDecoded || 0;
        out.videoPacketsReceived += s.packetsReceived || 0;
      } else if (s.kind === "audio") {
        out.audioPacketsReceived += s.packetsReceived || 0;
      }
    } else if (s.type === "candidate-pair") {
      const selected = pairId ? s.id === pairId : s.nominated && s.state === "succeeded";
      if (selected && typeof s.currentRoundTripTime === "number") out.rtt = s.currentRoundTripTime;
    }
  });
  return out;
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
      const received = now.received - previous.received;
      const lost = now.lost - previous.lost;
      const total = received + lost;
      // Nothing arrived at all in the interval: as bad as it gets.
      const loss = total > 0 ? lost / total : 1;
      onLevel(level(loss, now.rtt), { loss, rtt: now.rtt, ...now });
    }
    previous = now;
  }, everyMs);
  return () => clearInterval(timer);
}
