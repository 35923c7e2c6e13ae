// session.mjs — an interactive @microsoft/signalr client for the Go
// end-to-end tests of hubs with SignalR trigger functions (e2e/chat_test.go).
// It connects, prints one JSON line per event on stdout, and takes one JSON
// command per line on stdin:
//
//   stdin  {"id":1,"invoke":"sendToUser","args":["bob","hi"]}  connection.invoke
//   stdout {"event":"result","id":1,"result":…}                 it resolved
//   stdout {"event":"error","stage":"invoke","id":1,"message":"…"}  it rejected
//   stdin  {"stop":true}  (or end of input)                      stop, then exit 0
//
// Commands are for after the connected line: before it, invoke rejects.
//
// and, unprompted:
//   {"event":"connected","connectionId":"…","transport":"WebSocketTransport"}
//   {"event":"message","target":"newMessage","args":[…]}        one per message
//   {"event":"error","stage":"start","message":"…"}              exit 2
//   {"event":"closed","error":"…"|null}                          exit 3 (unless stopping)
//
// Usage:
//   node session.mjs --url http://127.0.0.1:7071/api --user alice \
//        --targets newMessage,newConnection,connectionClosed,tick
//
// --url      the function app's /api (negotiate redirects to the service)
// --user     sent as x-ms-client-principal-id, where negotiate takes the user id
// --targets  comma list of hub methods to listen to (default newMessage)
// --timeout  milliseconds after which the process ends whatever happens
//            (default 120000): a forgotten session never outlives its test
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import * as signalR from "@microsoft/signalr";

const EXIT = { ok: 0, usage: 1, start: 2, closed: 3, timeout: 4 };

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      url: { type: "string" },
      user: { type: "string" },
      targets: { type: "string", default: "newMessage" },
      timeout: { type: "string", default: "120000" },
    },
    strict: true,
  }));
} catch (e) {
  emit({ event: "error", stage: "usage", message: String(e.message || e) });
  exit(EXIT.usage);
}

if (opts) {
  const timeout = Number(opts.timeout);
  if (!opts.url || !Number.isInteger(timeout) || timeout <= 0) {
    emit({ event: "error", stage: "usage", message: "--url is required; --timeout is a positive number of milliseconds" });
    exit(EXIT.usage);
  } else {
    run(opts, timeout);
  }
}

function run(opts, timeout) {
  const options = { transport: signalR.HttpTransportType.WebSockets };
  if (opts.user) options.headers = { "x-ms-client-principal-id": opts.user };
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(opts.url, options)
    .configureLogging({
      // stdout carries only JSON lines; the client's own log goes to stderr.
      log(level, message) {
        if (level >= signalR.LogLevel.Warning) process.stderr.write(`[${signalR.LogLevel[level]}] ${message}\n`);
      },
    })
    .build();

  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    await Promise.race([connection.stop().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    exit(code);
  };
  setTimeout(() => {
    emit({ event: "timeout" });
    stop(EXIT.timeout);
  }, timeout).unref();

  for (const target of opts.targets.split(",").filter(Boolean)) {
    connection.on(target, (...args) => emit({ event: "message", target, args }));
  }
  connection.onclose((error) => {
    if (stopping) return;
    emit({ event: "closed", error: error ? String(error.message || error) : null });
    exit(EXIT.closed);
  });

  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      emit({ event: "error", stage: "command", message: `not JSON: ${line}` });
      return;
    }
    if (cmd.stop) return stop(EXIT.ok);
    connection.invoke(cmd.invoke, ...(cmd.args || [])).then(
      (result) => emit({ event: "result", id: cmd.id, target: cmd.invoke, result: result === undefined ? null : result }),
      (e) => emit({ event: "error", stage: "invoke", id: cmd.id, target: cmd.invoke, message: String(e && e.message || e) }),
    );
  });
  commands.on("close", () => stop(EXIT.ok));

  connection.start().then(
    () => {
      const t = connection.connection && connection.connection.transport;
      emit({ event: "connected", connectionId: connection.connectionId, transport: t ? t.constructor.name : null });
    },
    (e) => {
      emit({ event: "error", stage: "start", message: String(e && e.message || e) });
      exit(EXIT.start);
    },
  );
}
