// A minimal WebSocket client for trying the API by hand:
//   node infra/scripts/ws-client.mjs [--listen] 'ws://127.0.0.1:3001/?token=<JWT>'
// (Node 22+; on Node 20 add --experimental-websocket before the script.)
// Prints every frame it receives, one per line. Without --listen, each line of stdin is sent
// as a frame, and when stdin ends it waits a moment for answers, then closes. With --listen it
// reads nothing and stays connected until stopped (for use in the background).
import readline from "node:readline";

const args = process.argv.slice(2);
const listenOnly = args[0] === "--listen";
const url = listenOnly ? args[1] : args[0];
if (!url) {
  console.error("usage: node infra/scripts/ws-client.mjs [--listen] 'ws://127.0.0.1:3001/?token=<JWT>'");
  process.exit(2);
}
if (typeof WebSocket === "undefined") {
  console.error("this Node has no WebSocket: use Node 22+, or Node 20 with --experimental-websocket");
  process.exit(2);
}
const socket = new WebSocket(url);
const pending = [];
let stdinDone = false;
const closeSoon = () => setTimeout(() => socket.close(1000), 1500);
socket.onopen = () => {
  console.error("connected");
  pending.splice(0).forEach((line) => socket.send(line));
  if (stdinDone) closeSoon();
};
socket.onmessage = (event) => console.log(event.data);
socket.onerror = () => {};
socket.onclose = (event) => {
  console.error(event.code === 1006 ? "refused or lost" : `closed (${event.code})`);
  process.exit(event.code === 1000 ? 0 : 1);
};
if (!listenOnly) readline
  .createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (!line.trim()) return;
    if (socket.readyState === WebSocket.OPEN) socket.send(line);
    else pending.push(line);
  })
  .on("close", () => {
    stdinDone = true;
    if (socket.readyState === WebSocket.OPEN) closeSoon();
  });
