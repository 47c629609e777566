// Connection quality (web/static/js/call/quality-level.js): the getStats
// figures of an interval → good / fair ("somewhat unstable") / poor ("unstable").

import assert from "node:assert/strict";
import { test } from "node:test";

import { intervalLoss, level, summarize } from "../../web/static/js/call/quality-level.js";

test("good needs at most 2 % loss and 300 ms round trip", () => {
  assert.equal(level(0, 0.05), "good");
  assert.equal(level(0.02, 0.3), "good");
  assert.equal(level(0.021, 0.1), "fair");
  assert.equal(level(0, 0.301), "fair");
});

test("fair allows up to 8 % loss and 600 ms; beyond either is poor", () => {
  assert.equal(level(0.08, 0.6), "fair");
  assert.equal(level(0.05, 0.45), "fair");
  assert.equal(level(0.081, 0.1), "poor");
  assert.equal(level(0, 0.601), "poor");
  assert.equal(level(1, 0), "poor");
});

test("no loss figure yet is unknown; an unknown round trip counts as none", () => {
  assert.equal(level(null, 0.05), "unknown");
  assert.equal(level(0.01, null), "good");
  assert.equal(level(0.05, undefined), "fair");
});

// An RTCStatsReport is a map-like of stats objects.
function report(stats) {
  return new Map(stats.map((s) => [s.id, s]));
}

test("a report sums every inbound stream and takes the selected pair's round trip", () => {
  const out = summarize(
    report([
      { id: "a", type: "inbound-rtp", kind: "audio", packetsReceived: 300, packetsLost: 3 },
      { id: "v", type: "inbound-rtp", kind: "video", packetsReceived: 900, packetsLost: 7, framesDecoded: 240 },
      { id: "o", type: "outbound-rtp", kind: "video", packetsSent: 5000 },
      { id: "t", type: "transport", selectedCandidatePairId: "p2" },
      { id: "p1", type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.9 },
      { id: "p2", type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.04 },
    ]),
  );
  assert.deepEqual(out, {
    received: 1200,
    lost: 10,
    rtt: 0.04,
    framesDecoded: 240,
    audioPacketsReceived: 300,
    videoPacketsReceived: 900,
  });
});

test("without a transport entry the nominated, succeeded pair counts; negative loss is 0", () => {
  const out = summarize(
    report([
      // Duplicates make packetsLost negative in RTP's count.
      { id: "a", type: "inbound-rtp", kind: "audio", packetsReceived: 50, packetsLost: -2 },
      { id: "p1", type: "candidate-pair", nominated: false, state: "succeeded", currentRoundTripTime: 0.7 },
      { id: "p2", type: "candidate-pair", nominated: true, state: "in-progress", currentRoundTripTime: 0.8 },
      { id: "p3", type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.12 },
    ]),
  );
  assert.equal(out.lost, 0);
  assert.equal(out.received, 50);
  assert.equal(out.rtt, 0.12);
  assert.equal(summarize(report([])).rtt, null);
});

test("loss is measured over the interval between two reports", () => {
  const before = { received: 1000, lost: 10 };
  assert.equal(intervalLoss(before, { received: 1095, lost: 15 }), 0.05);
  assert.equal(level(intervalLoss(before, { received: 1095, lost: 15 }), 0.1), "fair");
  assert.equal(intervalLoss(before, { received: 1200, lost: 10 }), 0);
  // Nothing arrived at all: as bad as it gets.
  assert.equal(intervalLoss(before, { received: 1000, lost: 10 }), 1);
  assert.equal(level(intervalLoss(before, before), 0.02), "poor");
});
