// When the signaling client reconnects (docs/signaling.md): which close codes
// end the call for good, and how long to wait before the next attempt.
// Pure: no browser objects, so tests/js/backoff.test.mjs runs it under Node.

export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 8000;

// Any 4xxx close, 1000, 1008 or 1009 means "do not reconnect".
export function isFinalClose(code) {
  return code === 1000 || code === 1008 || code === 1009 || (code >= 4000 && code < 5000);
}

// attempt 0, 1, 2, … waits about 0.5 s, 1 s, 2 s, … up to 8 s.
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  // Full jitter on the upper half: never 0, never in lock-step with others.
  return Math.round(base / 2 + (random() * base) / 2);
}
