// Negotiation ids (web/static/js/call/negotiation.js, docs/signaling.md):
// which offer ids we send, which offers we answer, which answers we apply.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  isStaleAnswer,
  nextNegotiation,
  offerToAnswer,
} from "../../web/static/js/call/negotiation.js";

test("an offer id is the clock in milliseconds, or one above the last id", () => {
  assert.equal(nextNegotiation(0, 1_700_000_000_000), 1_700_000_000_000);
  // A reloaded page restarts at the clock, above what it sent before.
  assert.equal(nextNegotiation(1_700_000_000_000, 1_700_000_000_500), 1_700_000_000_500);
  // The clock stepped back, or two offers in the same millisecond: still rising.
  assert.equal(nextNegotiation(1_700_000_000_500, 1_600_000_000_000), 1_700_000_000_501);
  assert.equal(nextNegotiation(42, 42), 43);
  assert.equal(nextNegotiation(Number.MAX_SAFE_INTEGER, 1), Number.MAX_SAFE_INTEGER);
});

test("ids rise with every offer, with the real clock by default", () => {
  const before = Date.now();
  let last = 0;
  const ids = [];
  for (let i = 0; i < 100; i += 1) {
    last = nextNegotiation(last);
    ids.push(last);
  }
  assert.ok(ids[0] >= before && ids[0] <= Date.now());
  assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), "strictly rising");
  assert.ok(ids.every(Number.isSafeInteger));
});

test("only an offer newer than every offer answered is answered", () => {
  assert.deepEqual(offerToAnswer(11, 10), { id: 11, answer: true });
  assert.deepEqual(offerToAnswer(10, 10), { id: 10, answer: false });
  assert.deepEqual(offerToAnswer(9, 10), { id: 9, answer: false });
  assert.deepEqual(offerToAnswer(1, 0), { id: 1, answer: true });
});

test("an offer without an integer id (a peer from before ids) is answered", () => {
  for (const negotiation of [undefined, null, "12", 1.5, Number.NaN]) {
    assert.deepEqual(offerToAnswer(negotiation, 10), { id: null, answer: true });
  }
});

test("offers arriving twice or out of order: each id is answered once, never an older one", () => {
  // As peer.js does: remember the highest id answered.
  let lastAnswered = 0;
  const answered = [];
  for (const id of [100, 100, 205, 150, 205, 300]) {
    const verdict = offerToAnswer(id, lastAnswered);
    if (!verdict.answer) continue;
    lastAnswered = verdict.id;
    answered.push(id);
  }
  assert.deepEqual(answered, [100, 205, 300]);
});

test("only the answer naming the offer we wait on is applied", () => {
  assert.equal(isStaleAnswer(20, 20), false);
  assert.equal(isStaleAnswer(19, 20), true);
  assert.equal(isStaleAnswer(21, 20), true);
  // Answered already (nothing pending): a late answer with an id is stale.
  assert.equal(isStaleAnswer(20, null), true);
  // No id: a peer from before ids, applied as before.
  assert.equal(isStaleAnswer(undefined, 20), false);
  assert.equal(isStaleAnswer(null, null), false);
});

test("two ICE restarts before the first answer: the first answer is stale", () => {
  // The initiator offers twice; both answers come back after the second offer.
  const first = nextNegotiation(0, 5_000);
  const second = nextNegotiation(first, 5_000);
  let pending = second;
  const applied = [];
  for (const answer of [first, second]) {
    if (isStaleAnswer(answer, pending)) continue;
    applied.push(answer);
    pending = null;
  }
  assert.deepEqual(applied, [second]);
});
