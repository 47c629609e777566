// The pre-call check (docs/media.md): our tracks go to the server's echo peer
// for a few seconds, and it reports camera, microphone and network as pass or
// fail with a stable code each. The offer is fully gathered (no trickle), a
// data channel carries ping/pong for the round-trip time and, at the end,
// the report.

import { connectionPath } from "./path.js";

const GATHER_TIMEOUT_MS = 5000;
const REPORT_TIMEOUT_MS = 40000;

const POLL_MS = 3000;

export class PrecheckBusy extends Error {}

function pollReport(reportUrl, headers) {
  let timer = null;
  let stopped = false;
  const done = new Promise((resolve) => {
    const ask = async () => {
      if (stopped) return;
      try {
        const response = await fetch(reportUrl, { headers, credentials: "same-origin" });
        const body = response.ok ? await response.json() : null;
        if (body && body.status === "complete") return resolve(body);
      } catch {
        // The next try, or the data channel, or the time limit decides.
      }
      if (!stopped) timer = setTimeout(ask, POLL_MS);
    };
    timer = setTimeout(ask, POLL_MS);
  });
  return {
    done,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    // Whatever was gathered by then is enough on a working network.
    setTimeout(resolve, GATHER_TIMEOUT_MS);
  });
}

// Resolves with the report (CheckReport.to_dict()). `headers` carry the
// access proof, e.g. {"X-Join-Token": token}; staff pages use their session.
export async function runPrecheck({ url, stream, iceServers, headers = {} }) {
  const pc = new RTCPeerConnection({ iceServers: iceServers || [] });
  let checkId = null;
  try {
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    const channel = pc.createDataChannel("precheck");
    const report = new Promise((resolve) => {
      channel.onmessage = (event) => {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch {
          return;
        }
        if (msg.type === "ping") channel.send(JSON.stringify({ type: "pong", id: msg.id }));
        else if (msg.type === "report") resolve(msg.report);
      };
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      credentials: "same-origin",
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
    });
    if (response.status === 503) throw new PrecheckBusy("busy");
    if (response.status !== 201) throw new Error(`precheck answered ${response.status}`);
    const answer = await response.json();
    checkId = answer.check_id;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), REPORT_TIMEOUT_MS));
    // When no media path works the channel never opens; the server still
    // completes its report (no connection) after its own time limit, so ask
    // for it now and then instead of waiting for REPORT_TIMEOUT_MS.
    const polled = pollReport(`${url}/${checkId}`, headers);
    let result = await Promise.race([report, timeout, polled.done]);
    polled.stop();
    if (!result) {
      // The channel never delivered: ask over HTTP before giving up.
      const again = await fetch(`${url}/${checkId}`, { headers, credentials: "same-origin" });
      result = again.ok ? await again.json() : null;
      if (!result || result.status !== "complete") throw new Error("no report");
    }
    // How the check's media travelled: direct, or only through the relay.
    return { ...result, path: await connectionPath(pc).catch(() => null) };
  } finally {
    pc.close();
    if (checkId) {
      fetch(`${url}/${checkId}`, { method: "DELETE", headers, credentials: "same-origin" }).catch(
        () => {},
      );
    }
  }
}
