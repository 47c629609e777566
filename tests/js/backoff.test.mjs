// The signaling client's reconnection timing (web/static/js/call/backoff.js).

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BACKOFF_FIRST_MS,
  BACKOFF_MAX_MS,
  backoffDelay,
  isFinalClose,
} from "../../web/static/js/call/backoff.js";

const top = () => 1 - Number.EPSILON; // Math.random() stays below 1

test("the delay doubles from 0.5 s with each attempt and stops at 8 s", () => {
  const highest = [0, 1, 2, 3, 4, 5, 6, 10, 50].map((attempt) => backoffDelay(attempt, top));
  assert.deepEqual(highest, [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000]);
  const lowest = [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, () => 0));
  assert.deepEqual(lowest, [250, 500, 1000, 2000, 4000, 4000]);
  assert.equal(BACKOFF_FIRST_MS, 500);
  assert.equal(BACKOFF_MAX_MS, 8000);
});

test("jitter keeps every delay in the upper half of its step, never at 0", () => {
  for (let attempt = 0; attempt < 12; attempt += 1) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
    for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, top()]) {
      const delay = backoffDelay(attempt, () => r);
      assert.ok(delay >= base / 2 && delay <= base, `attempt ${attempt}, random ${r}: ${delay}`);
      assert.ok(delay > 0);
    }
  }
  // Halfway through the random range is halfway through the upper half.
  assert.equal(backoffDelay(3, () => 0.5), 3000);
});

test("clients dropped together spread their retries (Math.random by default)", () => {
  const delays = Array.from({ length: 200 }, () => backoffDelay(4));
  assert.ok(delays.every((d) => d >= 4000 && d <= 8000), String(delays));
  assert.ok(new Set(delays).size > 50, "200 draws over 4 s of jitter should rarely repeat");
});

test("1000, 1008, 1009 and every 4xxx close end the call; others reconnect", () => {
  for (const code of [1000, 1008, 1009, 4000, 4001, 4010, 4409, 4999]) {
    assert.equal(isFinalClose(code), true, String(code));
  }
  for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 3000, 3999, 5000]) {
    assert.equal(isFinalClose(code), false, String(code));
  }
});
