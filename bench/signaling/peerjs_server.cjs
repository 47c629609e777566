// The PeerJS signaling server as the baseline for load.py. Loopback only.
// Usage: node peerjs_server.cjs [PORT]   (prints "PORT <n>" once listening)
const { PeerServer } = require("peer");

const port = parseInt(process.argv[2] || "0", 10);
PeerServer(
  {
    port,
    host: "127.0.0.1",
    path: "/",
    key: "peerjs",
    concurrent_limit: 100000,
    alive_timeout: 600000,
  },
  (server) => {
    console.log(`PORT ${server.address().port}`);
  },
);
