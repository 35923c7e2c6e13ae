// trigger.mjs — the official @microsoft/signalr client against a function
// app with SignalR trigger functions (e2e/testdata/triggerapp), driven by
// e2e/trigger_test.go. It runs one scenario and prints one JSON line per
// check on stdout, then {"event":"done"} and exits 0; a failed step prints
// {"event":"error",...} and exits 1.
//
//   node trigger.mjs --url http://127.0.0.1:PORT/api --transport WebSockets [--count 1000] [--protocol messagepack]
import { parseArgs } from "node:util";
import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    transport: { type: "string", default: "WebSockets" },
    count: { type: "string", default: "1000" },
    timeout: { type: "string", default: "60000" },
    protocol: { type: "string", default: "json" },
  },
});
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => { out({ event: "error", stage: "timeout" }); process.exit(1); }, Number(opts.timeout)).unref();

function connect(user) {
  const b = new signalR.HubConnectionBuilder()
    .withUrl(opts.url, {
      transport: signalR.HttpTransportType[opts.transport],
      headers: { "x-ms-client-principal-id": user },
    })
    .configureLogging(signalR.LogLevel.None);
  if (opts.protocol === "messagepack") b.withHubProtocol(new MessagePackHubProtocol());
  return b.build();
}

// next resolves with the arguments of the next call of target on c whose
// arguments pass want.
function next(c, target, want = () => true) {
  return new Promise((resolve) => {
    const h = (...args) => { if (want(args)) { c.off(target, h); resolve(args); } };
    c.on(target, h);
  });
}

try {
  const watcher = connect("bob");
  const left = next(watcher, "left", (args) => args[1] === "alice");
  await watcher.start();

  const alice = connect("alice");
  await alice.start();
  out({ event: "connected", connectionId: alice.connectionId, transport: opts.transport });

  for (const v of [{ a: [1, 2], b: "x" }, "text", 42, 1.5, null, true]) {
    out({ event: "result", sent: v, got: await alice.invoke("echo", v) });
  }
  try {
    await alice.invoke("fail", "bad thing happened");
    out({ event: "result", stage: "fail", got: "resolved" });
  } catch (e) {
    out({ event: "rejected", stage: "fail", message: e.message });
  }
  try {
    await alice.invoke("echo");
    out({ event: "result", stage: "wrongArgs", got: "resolved" });
  } catch (e) {
    out({ event: "rejected", stage: "wrongArgs", message: e.message });
  }

  const notified = next(alice, "notified");
  await alice.send("notify", "hi there");
  out({ event: "notified", args: await notified });

  const n = Number(opts.count);
  for (let i = 0; i < n; i++) alice.send("seq", i); // not awaited: pipelined
  const seq = await alice.invoke("seqDone");
  let inOrder = Array.isArray(seq) && seq.length === n;
  for (let i = 0; inOrder && i < n; i++) inOrder = seq[i] === i;
  out({ event: "sequence", count: Array.isArray(seq) ? seq.length : -1, inOrder });

  const rejected = connect("reject-me");
  const closed = new Promise((resolve) => rejected.onclose((e) => resolve(e ? e.message : "")));
  try {
    await rejected.start();
    out({ event: "refused", started: true, closeError: await closed });
  } catch (e) {
    out({ event: "refused", started: false, startError: e.message });
  }

  const aliceId = alice.connectionId;
  await alice.stop();
  const [connId, user, err] = await left;
  out({ event: "left", connectionId: connId, user, error: err, wasAlice: connId === aliceId });
  await watcher.stop();
  out({ event: "done" });
  process.exit(0);
} catch (e) {
  out({ event: "error", stage: "scenario", message: String(e && e.message || e) });
  process.exit(1);
}
