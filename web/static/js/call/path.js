// How a call (or the pre-call check) reaches the other side: the selected
// ICE candidate pair's types. "host" and "srflx" are direct paths; "relay"
// goes through the city's TURN server, over UDP, TCP or TLS.

export async function connectionPath(pc) {
  if (!pc) return null;
  const report = await pc.getStats();
  let pairId = null;
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  if (!pairId) {
    // Firefox names no selected pair on the transport; it marks it instead.
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pairId = s.id;
    });
  }
  const pair = pairId ? report.get(pairId) : null;
  if (!pair) return null;
  const local = report.get(pair.localCandidateId);
  const remote = report.get(pair.remoteCandidateId);
  if (!local || !remote) return null;
  const relayed = local.candidateType === "relay" || remote.candidateType === "relay";
  const protocol = local.candidateType === "relay" ? local.relayProtocol || "udp" : local.protocol;
  return { local: local.candidateType, remote: remote.candidateType, relayed, protocol };
}

export function describePath(path, t) {
  if (!path) return "";
  if (!path.relayed) return t("path.direct");
  return t("path.relay", { protocol: String(path.protocol || "udp").toUpperCase() });
}

// What a resident or branch staff should ask their network team for when
// nothing connects: HTTPS to this site, and one way to the relay server.
export function networkRequest(t, iceServers, host) {
  let turn = "";
  const ports = [];
  for (const server of iceServers || []) {
    for (const url of [].concat(server.urls || [])) {
      const match = /^(turns?):([^:?]+)(?::(\d+))?(?:\?transport=(\w+))?/.exec(url);
      if (!match) continue;
      const [, scheme, host, port, transport] = match;
      turn = turn || host;
      const proto = scheme === "turns" || transport === "tcp" ? "TCP" : "UDP";
      const entry = `${proto} ${port || (scheme === "turns" ? 5349 : 3478)}`;
      if (host === turn && !ports.includes(entry)) ports.push(entry);
    }
  }
  return t(turn ? "check.network-ask" : "check.network-ask-no-relay", {
    host,
    turn,
    ports: ports.join(" / "),
  });
}
