// Signaling client for protocol v1 (docs/signaling.md).
//
// One WebSocket to the signaling server: `join` with the token (and `resume`
// with the session id after a drop), a keep-alive ping, and reconnection with
// back-off (backoff.js: 0.5 s doubling to 8 s, with jitter) whenever the close
// code allows it. Any 4xxx close, 1000, 1008 or 1009 means "do not reconnect".
//
// Events (all CustomEvent, the message in `detail`):
//   "joined"        the server's `joined` (also after a resume)
//   "message"       every other server message except `pong`
//   "reconnecting"  {attempt, delay}: the socket dropped, a new one follows
//   "closed"        {code, error}: for good (`error` is the last error code)
//   "state"         {state}: idle → connecting → joined ⇄ reconnecting → closed

import { backoffDelay, isFinalClose } from "./backoff.js";

export const PROTOCOL_VERSION = 1;
const PING_EVERY_MS = 10000;
const PONG_TIMEOUT_MS = 8000;
const JOIN_TIMEOUT_MS = 10000;

export class SignalingClient extends EventTarget {
  // getToken: async () => token (called before every join, so it may refresh).
  constructor({ url, room, role, getToken }) {
    super();
    this.url = url;
    this.room = room;
    this.role = role;
    this.getToken = getToken;
    this.state = "idle";
    this.session = null;
    this.me = null;
    this.attempt = 0;
    this.lastError = null;
    this.ws = null;
    this.timers = { ping: null, pong: null, retry: null, join: null };
    this.nonce = 0;
    this.stopped = false;
    this.reconnects = 0; // reconnection attempts after a lost socket
    this.resumes = 0; // joins the server answered with resumed: true
    this.onOnline = () => this.reconnectNow();
    window.addEventListener("online", this.onOnline);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", { state });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async connect() {
    this.clearTimer("retry");
    this.setState(this.session ? "reconnecting" : "connecting");
    let token;
    try {
      token = await this.getToken();
    } catch (err) {
      // A refused ticket (logged out, no right to this room) will not get better.
      if (err && err.fatal) this.finish(4001, err.code || "token-invalid");
      else this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.finish(1006, "connect-failed");
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const join = { type: "join", v: PROTOCOL_VERSION, room: this.room, token };
      if (this.role) join.role = this.role;
      if (this.session) join.resume = this.session;
      ws.send(JSON.stringify(join));
      // A server that never answers the join is as good as a dead socket.
      this.timers.join = setTimeout(() => this.drop(ws), JOIN_TIMEOUT_MS);
    };
    ws.onmessage = (event) => this.receive(ws, event);
    ws.onclose = (event) => this.closed(ws, event.code);
    ws.onerror = () => {}; // a close event always follows
  }

  receive(ws, event) {
    if (ws !== this.ws) return;
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    this.alive();
    switch (msg.type) {
      case "joined":
        this.clearTimer("join");
        this.session = msg.session;
        this.me = msg.you;
        this.attempt = 0;
        this.lastError = null;
        if (msg.resumed) this.resumes += 1;
        this.setState("joined");
        this.startPing();
        this.emit("joined", msg);
        break;
      case "pong":
        break;
      case "error":
        this.lastError = msg.code;
        this.emit("message", msg);
        break;
      default:
        this.emit("message", msg);
    }
  }

  // Any frame from the server proves the socket is alive.
  alive() {
    this.clearTimer("pong");
  }

  startPing() {
    this.clearTimer("ping");
    this.timers.ping = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      this.nonce += 1;
      this.ws.send(JSON.stringify({ type: "ping", nonce: String(this.nonce) }));
      if (!this.timers.pong) {
        const ws = this.ws;
        this.timers.pong = setTimeout(() => this.drop(ws), PONG_TIMEOUT_MS);
      }
    }, PING_EVERY_MS);
  }

  // Give up on a socket that went silent (Wi-Fi gone): the browser may take
  // minutes to notice by itself.
  drop(ws) {
    if (ws !== this.ws) return;
    try {
      ws.close();
    } catch {
      // already closing
    }
    this.closed(ws, 1006);
  }

  closed(ws, code) {
    if (ws !== this.ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    this.ws = null;
    this.clearTimer("ping");
    this.clearTimer("pong");
    this.clearTimer("join");
    if (this.stopped) {
      this.finish(code, this.lastError);
    } else if (isFinalClose(code)) {
      this.finish(code, this.lastError);
    } else {
      this.scheduleReconnect();
    }
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.reconnects += 1;
    this.setState("reconnecting");
    this.emit("reconnecting", { attempt: this.attempt, delay });
    this.clearTimer("retry");
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  // Back online: do not sit out the rest of a long back-off.
  reconnectNow() {
    if (this.state === "reconnecting" && this.timers.retry) {
      this.attempt = 0;
      this.connect();
    }
  }

  finish(code, error) {
    this.stopped = true;
    for (const name of Object.keys(this.timers)) this.clearTimer(name);
    window.removeEventListener("online", this.onOnline);
    this.setState("closed");
    this.emit("closed", { code, error });
  }

  clearTimer(name) {
    const timer = this.timers[name];
    if (timer) {
      clearTimeout(timer);
      clearInterval(timer);
      this.timers[name] = null;
    }
  }

  // Send a message; false if it could not go out (not joined right now).
  send(msg) {
    if (this.state !== "joined" || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  leave() {
    this.send({ type: "leave" });
    this.stop(1000);
  }

  end() {
    return this.send({ type: "end" });
  }

  stop(code = 1000) {
    this.stopped = true;
    const ws = this.ws;
    if (ws) {
      try {
        ws.close(1000);
      } catch {
        // ignore
      }
      this.closed(ws, code);
    } else if (this.state !== "closed") {
      this.finish(code, null);
    }
  }
}
