// Connection quality from getStats() figures: packet loss and round-trip time
// over the last interval, as "good", "fair", "poor" (or "unknown"); the page
// words them "good / somewhat unstable / unstable" (quality.* messages).
// Pure: quality.js feeds it the browser's reports, and
// tests/js/quality.test.mjs runs it under Node.

export const LIMITS = {
  good: { loss: 0.02, rtt: 0.3 },
  fair: { loss: 0.08, rtt: 0.6 },
};

// loss: a fraction 0…1 (null: not measured yet); rtt in seconds (null: unknown).
export function level(loss, rtt) {
  if (loss === null) return "unknown";
  const r = rtt ?? 0;
  if (loss <= LIMITS.good.loss && r <= LIMITS.good.rtt) return "good";
  if (loss <= LIMITS.fair.loss && r <= LIMITS.fair.rtt) return "fair";
  return "poor";
}

// The totals of one RTCStatsReport (anything with forEach over stats objects):
// packets received and lost on every inbound stream, and the round-trip time
// of the candidate pair in use.
export function summarize(report) {
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

// The share of packets lost between two summaries of the same connection.
export function intervalLoss(previous, now) {
  const received = now.received - previous.received;
  const lost = now.lost - previous.lost;
  const total = received + lost;
  // Nothing arrived at all in the interval: as bad as it gets.
  return total > 0 ? lost / total : 1;
}
