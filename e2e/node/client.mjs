// client.mjs — the official @microsoft/signalr client, driven by the Go
// end-to-end tests (e2e/signalr_test.go). It connects, prints one JSON line
// per event on stdout and exits by itself (the client alone does not let Node
// exit after stop()):
//
//   {"event":"connected","connectionId":"…","transport":"WebSockets"}
//   {"event":"message","target":"newMessage","args":[…]}      one per message
//       (with --protocol messagepack also "raw": the invocation as received,
//       base64 MessagePack, so that tests can check the wire types)
//   {"event":"result","index":i,"target":"echo","result":…}     a --calls invoke resolved
//   {"event":"rejected","index":i,"target":"echo","message":"…"}  a --calls invoke or send rejected
//   {"event":"calls-done"}                                      every --calls step settled
//   {"event":"done","received":N}                              exit 0
//   {"event":"error","stage":"start","message":"…","statusCode":401}   exit 2
//   {"event":"closed","error":"…"}                             exit 3 before N messages
//   {"event":"timeout","received":K}                           exit 4
//   {"event":"error","stage":"usage","message":"…"}            exit 1
//
// Usage:
//   node client.mjs --url http://127.0.0.1:7071/api --transport WebSockets \
//        --user alice --targets newMessage,bulk --expect 3 --timeout 20000
//
// --url          the function app's /api (negotiate redirects to the service),
//                or a service's /client/?hub=H together with --access-token
// --transport    WebSockets | ServerSentEvents | LongPolling (default WebSockets)
// --user         sent as x-ms-client-principal-id, where negotiate takes the user id
// --targets      comma list of hub methods to listen to (default newMessage)
// --expect       exit 0 after this many messages; 0 = right after connecting
// --timeout      milliseconds before giving up with exit 4 (default 20000)
// --access-token a raw access token (accessTokenFactory): connect without our negotiate
// --skip-negotiation  WebSockets only: connect without the service's negotiate
// --log-level    the client's own log level, written to stderr (default Warning)
// --protocol     json | messagepack (default json): the hub protocol
// --calls        once connected, a JSON array of steps issued at once, in order,
//                without waiting for one another:
//                {"invoke"|"send": target, "args": [...], "repeat": N}; with
//                repeat the step is issued N times, its index i (0…N-1)
//                appended to args. The client exits 0 once every step settled
//                and --expect messages came.
//
// Every flag may also come from the environment as SIGNALR_CLIENT_<FLAG>
// (upper case, dashes as underscores), e.g. SIGNALR_CLIENT_ACCESS_TOKEN.
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";

// RecordingMessagePackHubProtocol keeps each invocation's bytes as received,
// per target (lower case, as the client dispatches), in arrival order.
class RecordingMessagePackHubProtocol extends MessagePackHubProtocol {
  constructor() {
    super();
    this.raw = new Map();
  }
  _parseMessage(input, logger) {
    const m = super._parseMessage(input, logger);
    if (m && m.type === signalR.MessageType.Invocation) {
      const key = m.target.toLowerCase();
      if (!this.raw.has(key)) this.raw.set(key, []);
      this.raw.get(key).push(Buffer.from(input).toString("base64"));
    }
    return m;
  }
}

// The WebSocket implementation the client loads itself under Node (ws),
// subclassed only to remember the status of a refused upgrade: the client's
// own error for it does not say why ("WebSocket failed to connect …").
const WebSocket = createRequire(createRequire(import.meta.url).resolve("@microsoft/signalr"))("ws");
let refusedUpgradeStatus;
class StatusRecordingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on("error", (e) => {
      const m = /Unexpected server response: (\d+)/.exec(e && e.message);
      if (m) refusedUpgradeStatus = Number(m[1]);
    });
  }
}

const EXIT = { ok: 0, usage: 1, start: 2, closed: 3, timeout: 4 };

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// exit flushes stdout (a pipe) before ending the process.
function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

function usage(msg) {
  emit({ event: "error", stage: "usage", message: msg });
  exit(EXIT.usage);
}

const flags = {
  url: { type: "string" },
  transport: { type: "string", default: "WebSockets" },
  user: { type: "string" },
  targets: { type: "string", default: "newMessage" },
  expect: { type: "string", default: "0" },
  timeout: { type: "string", default: "20000" },
  "access-token": { type: "string" },
  "skip-negotiation": { type: "boolean", default: "false" },
  "log-level": { type: "string", default: "Warning" },
  protocol: { type: "string", default: "json" },
  calls: { type: "string" },
};

// callSteps turns --calls into the list of invocations to make.
function callSteps(text) {
  const calls = JSON.parse(text);
  if (!Array.isArray(calls)) throw new Error("want a JSON array");
  const steps = [];
  for (const c of calls) {
    const kind = c.invoke !== undefined ? "invoke" : c.send !== undefined ? "send" : null;
    if (!kind || typeof c[kind] !== "string") throw new Error(`step ${JSON.stringify(c)}: want "invoke" or "send" naming a hub method`);
    const args = c.args === undefined ? [] : c.args;
    if (!Array.isArray(args)) throw new Error(`step ${JSON.stringify(c)}: args must be an array`);
    if (c.repeat === undefined) {
      steps.push({ kind, target: c[kind], args });
      continue;
    }
    if (!Number.isInteger(c.repeat) || c.repeat < 0) throw new Error(`step ${JSON.stringify(c)}: repeat must be a non-negative integer`);
    for (let i = 0; i < c.repeat; i++) steps.push({ kind, target: c[kind], args: [...args, i] });
  }
  return steps;
}

// options reads the flags; a flag not given falls back to its
// SIGNALR_CLIENT_* variable, then to its default.
function options() {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, { type: v.type }])),
    strict: true,
  });
  for (const [name, f] of Object.entries(flags)) {
    if (values[name] !== undefined) continue;
    const env = process.env["SIGNALR_CLIENT_" + name.toUpperCase().replaceAll("-", "_")];
    const v = env !== undefined ? env : f.default;
    if (v !== undefined) values[name] = f.type === "boolean" ? v === "true" || v === "1" : v;
  }
  return values;
}

// transportNames maps the client's transport classes to transport names.
const transportNames = {
  WebSocketTransport: "WebSockets",
  ServerSentEventsTransport: "ServerSentEvents",
  LongPollingTransport: "LongPolling",
};

function main(opts) {
  const transport = signalR.HttpTransportType[opts.transport];
  const expect = Number(opts.expect);
  const timeout = Number(opts.timeout);
  const logLevel = signalR.LogLevel[opts["log-level"]];
  if (!opts.url) return usage("--url is required");
  if (transport === undefined) return usage(`--transport ${opts.transport}: want WebSockets, ServerSentEvents or LongPolling`);
  if (!Number.isInteger(expect) || expect < 0) return usage("--expect must be a non-negative integer");
  if (!Number.isInteger(timeout) || timeout <= 0) return usage("--timeout must be a positive number of milliseconds");
  if (logLevel === undefined) return usage(`--log-level ${opts["log-level"]}: want a signalR LogLevel name`);
  if (opts["skip-negotiation"] && transport !== signalR.HttpTransportType.WebSockets) {
    return usage("--skip-negotiation needs --transport WebSockets");
  }
  if (opts.protocol !== "json" && opts.protocol !== "messagepack") {
    return usage(`--protocol ${opts.protocol}: want json or messagepack`);
  }
  let steps = null;
  if (opts.calls !== undefined) {
    try {
      steps = callSteps(opts.calls);
    } catch (e) {
      return usage(`--calls: ${e.message}`);
    }
  }
  const protocol = opts.protocol === "messagepack" ? new RecordingMessagePackHubProtocol() : null;

  const options = { transport, skipNegotiation: opts["skip-negotiation"], WebSocket: StatusRecordingWebSocket };
  if (opts.user) options.headers = { "x-ms-client-principal-id": opts.user };
  if (opts["access-token"] !== undefined) {
    const token = opts["access-token"];
    options.accessTokenFactory = () => token;
  }
  const builder = new signalR.HubConnectionBuilder().withUrl(opts.url, options);
  if (protocol) builder.withHubProtocol(protocol);
  const connection = builder
    .configureLogging({
      // stdout carries only JSON lines; the client's own log goes to stderr.
      log(level, message) {
        if (level >= logLevel) process.stderr.write(`[${signalR.LogLevel[level]}] ${message}\n`);
      },
    })
    .build();

  let received = 0;
  let finished = false;
  let callsSettled = steps === null;
  // complete tells whether the client did all it was asked to.
  const complete = () => received >= expect && callsSettled;
  const finish = async (code, event) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    emit(event);
    if (code === EXIT.ok) {
      // Close cleanly, but never wait long on it.
      await Promise.race([connection.stop().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    }
    exit(code);
  };
  const timer = setTimeout(() => finish(EXIT.timeout, { event: "timeout", received }), timeout);

  for (const target of opts.targets.split(",").filter(Boolean)) {
    connection.on(target, (...args) => {
      if (finished) return;
      received++;
      const event = { event: "message", target, args };
      if (protocol) event.raw = (protocol.raw.get(target.toLowerCase()) || []).shift();
      emit(event);
      if (complete()) finish(EXIT.ok, { event: "done", received });
    });
  }
  connection.onclose((error) => {
    finish(EXIT.closed, { event: "closed", error: error ? String(error.message || error) : null, received });
  });

  process.on("unhandledRejection", (e) => finish(EXIT.start, { event: "error", stage: "unhandled", message: String(e && e.message || e) }));

  connection.start().then(
    () => {
      if (finished) return;
      const t = connection.connection && connection.connection.transport;
      emit({
        event: "connected",
        connectionId: connection.connectionId,
        transport: t ? transportNames[t.constructor.name] || t.constructor.name : null,
      });
      if (steps !== null) runCalls(connection, steps, () => {
        callsSettled = true;
        emit({ event: "calls-done" });
        if (complete()) finish(EXIT.ok, { event: "done", received });
      });
      if (complete()) finish(EXIT.ok, { event: "done", received });
    },
    (e) => {
      const message = String(e && e.message || e);
      const m = /Status code '(\d+)'|status code (\d+)|server response: (\d+)/i.exec(message);
      const event = { event: "error", stage: "start", message };
      if (m) event.statusCode = Number(m[1] || m[2] || m[3]);
      else if (refusedUpgradeStatus) event.statusCode = refusedUpgradeStatus;
      finish(EXIT.start, event);
    },
  );
}

// runCalls issues every step at once, in order, prints how each invoke (and
// each failed send) settled, and calls settled when all did.
function runCalls(connection, steps, settled) {
  let pending = steps.length;
  const done = () => {
    if (--pending === 0) settled();
  };
  if (pending === 0) return settled();
  steps.forEach((step, index) => {
    const rejected = (e) => {
      emit({ event: "rejected", index, target: step.target, message: String(e && e.message || e) });
      done();
    };
    if (step.kind === "send") {
      connection.send(step.target, ...step.args).then(done, rejected);
      return;
    }
    connection.invoke(step.target, ...step.args).then((result) => {
      emit({ event: "result", index, target: step.target, result: result === undefined ? null : result });
      done();
    }, rejected);
  });
}

let opts;
try {
  opts = options();
} catch (e) {
  usage(String(e.message || e));
}
if (opts) main(opts);
