// Peer connections of one call, driven by signaling messages (protocol v1).
//
// One RTCPeerConnection per other participant. The protocol decides who
// offers: a peer entry's `initiator: true` means *we* send the offer (staff
// towards a resident); the other side only answers, so there is never glare.
// ICE candidates trickle both ways as `candidate.toJSON()` (null = end of
// candidates) and wait in a queue until the remote description is set.
//
// ICE restart: when a connection fails (or stays disconnected), we send
// `restart-ice`; the server tells the pair's initiator (maybe us) with
// `restart-ice`, and after a resume `peer-resumed {initiator: true}` does the
// same. The initiator calls `pc.restartIce()` and offers with
// `iceRestart: true`.
//
// Negotiation ids (docs/signaling.md): every offer carries a `negotiation`
// number, raised with each offer to that peer, and its answer echoes it. When
// both sides resume after their node died, the initiator can send two restart
// offers that both arrive; we apply only the answer naming our pending offer
// (a stale one would set the ICE credentials and DTLS fingerprint of a
// connection the other side has already replaced), and never answer an offer
// older than one already answered. Offers, answers and candidates are handled
// one at a time, in arrival order, so each answer is made for, and labelled
// with, the offer it answers. The rules are in negotiation.js;
// media/peerlink.py follows the same ones.
//
// Events: "track" {peer, stream}, "connection" {peer, state},
// "peer" {peer, info, status} (joined / left / reconnecting / resumed).

import { isStaleAnswer, nextNegotiation, offerToAnswer } from "./negotiation.js";

const DISCONNECTED_GRACE_MS = 4000;

export class PeerManager extends EventTarget {
  constructor({ signaling, iceServers, iceTransportPolicy, stream }) {
    super();
    this.signaling = signaling;
    this.iceServers = iceServers || [];
    // "relay" on staff consoles and kiosks when the city asks for it (rtc-config).
    this.iceTransportPolicy = iceTransportPolicy || "all";
    this.stream = stream;
    this.peers = new Map();
    this.restarts = 0;
    this.log = [];
    this.serial = Promise.resolve();
  }

  // Run `task` after every negotiation step queued before it.
  enqueue(task) {
    this.serial = this.serial.then(task).catch((err) => this.note(`ERROR ${err}`));
    return this.serial;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  note(line) {
    this.log.push(`${new Date().toISOString()} ${line}`);
    if (this.log.length > 200) this.log.shift();
  }

  // The first (in a 1:1 call: the only) peer connection.
  get pc() {
    for (const peer of this.peers.values()) return peer.pc;
    return null;
  }

  onJoined(msg) {
    const seen = new Set();
    for (const info of msg.peers || []) {
      seen.add(info.id);
      const known = this.peers.get(info.id);
      if (known && msg.resumed) {
        known.info = info;
        known.initiator = info.initiator;
        this.emit("peer", { peer: info.id, info, status: info.status });
      } else {
        this.addPeer(info);
      }
    }
    // Anyone we knew but who is not in the room any more is gone.
    for (const id of [...this.peers.keys()]) {
      if (!seen.has(id)) this.removePeer(id, "left");
    }
  }

  onMessage(msg) {
    switch (msg.type) {
      case "peer-joined":
        this.addPeer(msg.peer);
        break;
      case "peer-left":
        this.removePeer(msg.peer, msg.reason);
        break;
      case "peer-reconnecting": {
        const peer = this.peers.get(msg.peer);
        if (peer) this.emit("peer", { peer: msg.peer, info: peer.info, status: "reconnecting" });
        break;
      }
      case "peer-resumed": {
        const peer = this.peers.get(msg.peer);
        if (!peer) break;
        peer.initiator = msg.initiator;
        this.emit("peer", { peer: msg.peer, info: peer.info, status: "present" });
        if (msg.initiator) this.restart(msg.peer);
        break;
      }
      case "restart-ice":
        this.restart(msg.peer);
        break;
      case "offer":
        this.enqueue(() => this.onOffer(msg));
        break;
      case "answer":
        this.enqueue(() => this.onAnswer(msg));
        break;
      case "candidate":
        this.enqueue(() => this.onCandidate(msg));
        break;
      default:
        break;
    }
  }

  addPeer(info) {
    if (this.peers.has(info.id)) this.closePeer(info.id);
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
    });
    const peer = {
      id: info.id,
      info,
      initiator: Boolean(info.initiator),
      pc,
      queue: [],
      restartPending: false,
      disconnectTimer: null,
      connectedOnce: false,
      lastOffered: 0, // the id of our latest offer
      offerNegotiation: null, // the id of our offer still waiting for its answer
      lastAnswered: 0, // the highest offer id we answered
    };
    this.peers.set(info.id, peer);
    for (const track of this.stream.getTracks()) pc.addTrack(track, this.stream);
    pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.emit("track", { peer: info.id, stream });
    };
    pc.onicecandidate = (event) => {
      this.signaling.send({
        type: "candidate",
        to: info.id,
        candidate: event.candidate ? event.candidate.toJSON() : null,
      });
    };
    pc.onconnectionstatechange = () => this.onConnectionState(peer);
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === "stable" && peer.restartPending) {
        peer.restartPending = false;
        this.restart(peer.id);
      }
    };
    this.note(`peer ${info.id} added (initiator=${peer.initiator})`);
    this.emit("peer", { peer: info.id, info, status: info.status || "present" });
    if (peer.initiator) this.enqueue(() => this.offer(peer, false));
    return peer;
  }

  onConnectionState(peer) {
    const state = peer.pc.connectionState;
    this.note(`peer ${peer.id} connection ${state}`);
    this.emit("connection", { peer: peer.id, state });
    clearTimeout(peer.disconnectTimer);
    peer.disconnectTimer = null;
    if (state === "connected") {
      peer.connectedOnce = true;
      this.signaling.send({ type: "connected", peer: peer.id });
    } else if (state === "failed") {
      this.askRestart(peer);
    } else if (state === "disconnected") {
      // Often recovers by itself within seconds; restart only if it does not.
      peer.disconnectTimer = setTimeout(() => {
        if (peer.pc.connectionState === "disconnected") this.askRestart(peer);
      }, DISCONNECTED_GRACE_MS);
    }
  }

  askRestart(peer) {
    this.note(`peer ${peer.id}: asking for an ICE restart`);
    // The server tells the pair's initiator, which may be us.
    this.signaling.send({ type: "restart-ice", peer: peer.id });
  }

  async offer(peer, iceRestart) {
    const pc = peer.pc;
    try {
      if (pc.signalingState === "have-local-offer") {
        // An offer that was lost (the peer was reconnecting): start over.
        await pc.setLocalDescription({ type: "rollback" });
      } else if (pc.signalingState !== "stable") {
        peer.restartPending = peer.restartPending || iceRestart;
        return;
      }
      if (iceRestart) pc.restartIce();
      const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
      await pc.setLocalDescription(offer);
      const negotiation = nextNegotiation(peer.lastOffered);
      peer.lastOffered = negotiation;
      peer.offerNegotiation = negotiation;
      this.signaling.send({
        type: "offer",
        to: peer.id,
        sdp: pc.localDescription.sdp,
        negotiation,
      });
      this.note(`offer ${negotiation} sent to ${peer.id} (iceRestart=${iceRestart})`);
    } catch (err) {
      this.note(`ERROR offer to ${peer.id}: ${err}`);
    }
  }

  restart(id) {
    const peer = this.peers.get(id);
    if (!peer || peer.pc.connectionState === "closed") return;
    if (!peer.initiator) {
      // Not ours to restart: ask the server to get the initiator to do it.
      this.askRestart(peer);
      return;
    }
    this.restarts += 1;
    this.emit("restart", { peer: id });
    this.enqueue(() => this.offer(peer, true));
  }

  async onOffer(msg) {
    let peer = this.peers.get(msg.from);
    if (!peer) {
      peer = this.addPeer({ id: msg.from, role: "", name: "", status: "present", initiator: false });
    }
    const pc = peer.pc;
    const { id: negotiation, answer: toAnswer } = offerToAnswer(msg.negotiation, peer.lastAnswered);
    if (!toAnswer) {
      this.note(`superseded offer ${negotiation} of ${peer.id} ignored`);
      return;
    }
    if (negotiation !== null) peer.lastAnswered = negotiation;
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      await this.flush(peer);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      const reply = { type: "answer", to: peer.id, sdp: pc.localDescription.sdp };
      if (negotiation !== null) reply.negotiation = negotiation;
      this.signaling.send(reply);
      this.note(`answer ${negotiation ?? "-"} sent to ${peer.id}`);
    } catch (err) {
      this.note(`ERROR answering ${peer.id}: ${err}`);
    }
  }

  async onAnswer(msg) {
    const peer = this.peers.get(msg.from);
    if (!peer || peer.pc.signalingState !== "have-local-offer") return;
    if (isStaleAnswer(msg.negotiation, peer.offerNegotiation)) {
      this.note(`stale answer ${msg.negotiation} of ${peer.id} ignored`);
      return;
    }
    peer.offerNegotiation = null;
    try {
      await peer.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
      await this.flush(peer);
    } catch (err) {
      this.note(`ERROR applying answer of ${peer.id}: ${err}`);
    }
  }

  async onCandidate(msg) {
    const peer = this.peers.get(msg.from);
    if (!peer) return;
    if (!peer.pc.remoteDescription) {
      peer.queue.push(msg.candidate);
      return;
    }
    await this.addCandidate(peer, msg.candidate);
  }

  async flush(peer) {
    const queued = peer.queue.splice(0);
    for (const candidate of queued) await this.addCandidate(peer, candidate);
  }

  async addCandidate(peer, candidate) {
    try {
      await peer.pc.addIceCandidate(candidate ?? undefined);
    } catch (err) {
      // A candidate of an older ICE generation after a restart: harmless.
      this.note(`candidate from ${peer.id} ignored: ${err}`);
    }
  }

  closePeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    clearTimeout(peer.disconnectTimer);
    peer.pc.ontrack = peer.pc.onicecandidate = peer.pc.onconnectionstatechange = null;
    peer.pc.close();
    this.peers.delete(id);
  }

  removePeer(id, reason) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.closePeer(id);
    this.note(`peer ${id} left (${reason})`);
    this.emit("peer", { peer: id, info: peer.info, status: "left", reason });
  }

  closeAll() {
    for (const id of [...this.peers.keys()]) this.closePeer(id);
  }
}
