// Negotiation ids (docs/signaling.md): every offer to a peer carries a
// `negotiation` number, raised with each offer, and its answer echoes it.
// These rules decide which offers to answer and which answers to apply;
// peer.js applies them, media/peerlink.py follows the same ones.
// Pure: tests/js/negotiation.test.mjs runs it under Node.

// The id of our next offer: milliseconds since the epoch, but above the last
// id, so ids keep rising across a reloaded page (whose counter would begin
// again) and a clock stepped back.
export function nextNegotiation(last, now = Date.now()) {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(last + 1, now));
}

// An offer that arrived: its id (null when the sender predates ids; such an
// offer is answered as before) and whether to answer it. An offer no newer
// than one already answered has been superseded and is never answered.
export function offerToAnswer(negotiation, lastAnswered) {
  const id = Number.isInteger(negotiation) ? negotiation : null;
  return { id, answer: id === null || id > lastAnswered };
}

// An answer naming an offer other than the one we wait on answers an offer
// we have since replaced: applying it would set the ICE credentials and DTLS
// fingerprint of a connection the other side has already dropped. An answer
// without an id (a peer from before ids) is applied.
export function isStaleAnswer(negotiation, pendingOffer) {
  return Number.isInteger(negotiation) && negotiation !== pendingOffer;
}
