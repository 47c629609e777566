// web/static/js/call/path.js: what the pre-call check and the call screen say
// about how they connect.

import assert from "node:assert/strict";
import { test } from "node:test";

import { connectionPath, describePath, networkRequest } from "../../web/static/js/call/path.js";

const t = (key, params = {}) => `${key} ${JSON.stringify(params)}`;

function fakePc(entries) {
  return { getStats: async () => new Map(entries.map((s) => [s.id, s])) };
}

test("a relay pair is reported with the relay's transport", async () => {
  const pc = fakePc([
    { id: "T", type: "transport", selectedCandidatePairId: "P" },
    { id: "P", type: "candidate-pair", localCandidateId: "L", remoteCandidateId: "R" },
    { id: "L", type: "local-candidate", candidateType: "relay", relayProtocol: "tls", protocol: "udp" },
    { id: "R", type: "remote-candidate", candidateType: "host" },
  ]);
  const path = await connectionPath(pc);
  assert.deepEqual(path, { local: "relay", remote: "host", relayed: true, protocol: "tls" });
  assert.equal(describePath(path, t), 'path.relay {"protocol":"TLS"}');
});

test("host and srflx pairs are direct; no selected pair is no path", async () => {
  const direct = await connectionPath(
    fakePc([
      { id: "P", type: "candidate-pair", nominated: true, state: "succeeded", localCandidateId: "L", remoteCandidateId: "R" },
      { id: "L", type: "local-candidate", candidateType: "srflx", protocol: "udp" },
      { id: "R", type: "remote-candidate", candidateType: "host" },
    ]),
  );
  assert.equal(direct.relayed, false);
  assert.equal(describePath(direct, t), "path.direct {}");
  assert.equal(await connectionPath(fakePc([{ id: "T", type: "transport" }])), null);
  assert.equal(await connectionPath(null), null);
});

test("the network team is asked for the site and the relay's ports from the TURN URLs", () => {
  const servers = [
    { urls: ["stun:turn.city.example:3478"] },
    {
      urls: [
        "turn:turn.city.example:3478?transport=udp",
        "turn:turn.city.example:3478?transport=tcp",
        "turns:turn.city.example:443?transport=tcp",
      ],
      username: "u",
      credential: "c",
    },
  ];
  assert.equal(
    networkRequest(t, servers, "madoguchi.city.example"),
    'check.network-ask {"host":"madoguchi.city.example","turn":"turn.city.example","ports":"UDP 3478 / TCP 3478 / TCP 443"}',
  );
  assert.equal(
    networkRequest(t, [], "madoguchi.city.example"),
    'check.network-ask-no-relay {"host":"madoguchi.city.example","turn":"","ports":""}',
  );
});
