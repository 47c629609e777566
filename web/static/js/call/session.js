// One participant's call: signaling + peer connections + the shared screen.
//
// state: "connecting" (to signaling) → "waiting" (nobody else in the room) →
// "connecting-peer" (someone is there, media not yet flowing) → "in-call"
// (⇄ "restoring" while a broken media path is restored) →
// "ended" (staff ended it) | "left" (we hung up) | "error" (refused for good).
// A dropped socket does not change the state: a banner says we reconnect,
// and the call resumes with the session id (docs/signaling.md).
//
// window.madoguchiCall exposes { state, pc, peers, signaling, stats() } for
// tests and support staff; nothing else reads it.

import { PeerManager } from "./peer.js";
import { SignalingClient } from "./signaling.js";
import { stopStream } from "./media.js";
import { snapshot } from "./quality.js";

export async function loadRtcConfig(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`rtc-config answered ${response.status}`);
  return response.json();
}

export class CallSession extends EventTarget {
  constructor({
    signalingUrl,
    room,
    role,
    getToken,
    iceServers,
    iceTransportPolicy,
    stream,
    view,
    t,
  }) {
    super();
    this.view = view;
    this.t = t;
    this.stream = stream;
    this.state = "connecting";
    this.endedBy = null;
    this.signaling = new SignalingClient({ url: signalingUrl, room, role, getToken });
    this.peers = new PeerManager({
      signaling: this.signaling,
      iceServers,
      iceTransportPolicy,
      stream,
    });
    this.wire();
    const session = this;
    window.madoguchiCall = {
      get state() {
        return session.state;
      },
      get pc() {
        return session.peers.pc;
      },
      get peers() {
        return session.peers;
      },
      get signaling() {
        return session.signaling;
      },
      get restarts() {
        return session.peers.restarts;
      },
      get remoteVideos() {
        return session.view.remoteCount();
      },
      stats: () => (session.peers.pc ? snapshot(session.peers.pc) : Promise.resolve(null)),
      log: session.peers.log,
    };
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    document.documentElement.dataset.callState = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  others() {
    return [...this.peers.peers.values()];
  }

  wire() {
    const s = this.signaling;
    s.addEventListener("joined", (event) => {
      this.view.banner("banner-reconnecting", "");
      this.view.setLinked(true);
      this.peers.onJoined(event.detail);
      this.recompute();
    });
    s.addEventListener("message", (event) => this.onMessage(event.detail));
    s.addEventListener("reconnecting", () => {
      this.view.setLinked(false);
      this.view.banner("banner-reconnecting", this.t("net.reconnecting"));
    });
    s.addEventListener("closed", (event) => this.onClosed(event.detail));

    this.peers.addEventListener("track", (event) => {
      const { peer, stream } = event.detail;
      const info = this.peers.peers.get(peer)?.info;
      this.view.attachRemote(stream, peer, info?.name || "", info || {});
    });
    this.peers.addEventListener("connection", () => this.recompute());
    this.peers.addEventListener("restart", () => this.emit("restart"));
    this.peers.addEventListener("peer", (event) => {
      const { status, peer } = event.detail;
      if (status === "left") this.view.removeRemote(peer);
      this.emit("peer", event.detail);
      this.recompute();
    });
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  onMessage(msg) {
    if (msg.type === "ended") {
      this.endedBy = msg.by;
      this.finish("ended");
      return;
    }
    if (msg.type === "consent-request") {
      this.askConsent(msg);
      return;
    }
    if (msg.type === "document") {
      // A listener may claim the link (forms/review.js: a form's view, not a file).
      const event = new CustomEvent("document", { detail: msg, cancelable: true });
      if (this.dispatchEvent(event)) this.view.showDocument(msg.url, msg.name);
      return;
    }
    if (msg.type === "consent") {
      this.emit("consent", msg);
      return;
    }
    if (msg.type === "transfer") {
      // Staff hand the call over; we stay in the room (docs/signaling.md).
      this.view.banner("banner-transfer", this.t("call.transfer"));
      this.emit("transfer", msg);
      return;
    }
    this.peers.onMessage(msg);
  }

  // The resident decides on their own screen; the answer goes back through
  // signaling, where it is recorded (the photo upload checks that record).
  askConsent(msg) {
    const box = document.getElementById("consent-box");
    if (!box) return;
    const answer = (granted) => {
      box.hidden = true;
      this.signaling.send({ type: "consent", purpose: msg.purpose, granted, to: msg.from });
    };
    document.getElementById("btn-consent-yes").onclick = () => answer(true);
    document.getElementById("btn-consent-no").onclick = () => answer(false);
    box.hidden = false;
    document.getElementById("btn-consent-yes").focus();
  }

  onClosed({ code, error }) {
    this.view.banner("banner-reconnecting", "");
    this.view.setLinked(false);
    if (this.state === "ended" || this.state === "left") return;
    if (code === 4010) {
      this.finish("ended");
    } else if (code === 1000 && !error) {
      this.finish("left");
    } else {
      this.errorCode = error || "other";
      this.finish("error");
    }
  }

  // The state follows from who is in the room and how the media is doing.
  recompute() {
    if (["ended", "left", "error"].includes(this.state)) return;
    const others = this.others();
    if (this.signaling.state !== "joined" && this.state === "connecting") return;
    if (others.length === 0) {
      this.setState("waiting");
    } else if (others.some((peer) => peer.pc.connectionState === "connected")) {
      this.setState("in-call");
    } else if (others.some((peer) => peer.connectedOnce)) {
      // Media was flowing and stopped: ICE is being restored (or restarted).
      this.setState("restoring");
    } else {
      this.setState("connecting-peer");
    }
  }

  start() {
    this.view.bindControls(this.stream);
    this.view.attachLocal(this.stream);
    this.view.startQuality(() => this.peers.pc);
    this.signaling.start();
  }

  hangUp() {
    this.signaling.leave();
    this.finish("left");
  }

  // Staff only: end the call for everyone. Resolves once the server confirmed
  // (`ended`) or the socket closed, at most after `timeoutMs`.
  endForAll(timeoutMs = 5000) {
    if (this.state === "ended" || this.signaling.state === "closed") return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok) => {
        clearTimeout(timer);
        this.removeEventListener("state", onState);
        resolve(ok);
      };
      const onState = () => {
        if (["ended", "left", "error"].includes(this.state)) done(this.state === "ended");
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.addEventListener("state", onState);
      if (!this.signaling.end()) done(false);
    });
  }

  finish(state) {
    this.setState(state);
    this.view.stop();
    this.peers.closeAll();
    this.view.clearRemote();
    if (state !== "error" || this.signaling.state !== "closed") this.signaling.stop();
    stopStream(this.stream);
  }
}
