// chat.mjs drives the chat page of examples/chat in Debian's Chromium
// (playwright-core): two pages, alice and bob, use it as people would —
// type a name, connect, send to everyone, privately, to a group — and
// check what each page shows. It takes a screenshot of alice's page.
//
//   node chat.mjs <page-url> <screenshot.png> [step-timeout-ms]
//
// It prints one JSON line {"steps": [...], "clock": [...], "console": [...],
// "failedRequests": [...], "error": …} and exits 0 when every step passed,
// 1 otherwise; "steps" lists the steps that passed, so a failure names the
// first that did not.
import { ending, launch } from "./browser.mjs";

const [url, screenshot, timeoutArg] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node chat.mjs <page-url> <screenshot.png> [step-timeout-ms]");
  process.exit(2);
}
const stepTimeout = Number(timeoutArg ?? 15000);

const report = { steps: [], clock: [], console: [], failedRequests: [], error: null };
let browser;
const finish = ending("chat.mjs", report, () => browser, stepTimeout * 12);

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    throw new Error(`step "${name}": ${e?.message ?? e}`);
  }
  report.steps.push(name);
}

// open loads the page in a browser context of its own (as another person
// on another machine) and connects as name.
async function open(name) {
  const context = await browser.newContext({ viewport: { width: 960, height: 420 } });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeout);
  page.on("console", (m) => report.console.push(`${name} ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => report.console.push(`${name} pageerror: ${e.message}`));
  page.on("requestfailed", (r) => {
    // Closing a page aborts its open WebSocket; nothing else may fail.
    if (!page.isClosed()) report.failedRequests.push(`${name} ${r.method()} ${r.url()}: ${r.failure()?.errorText ?? "failed"}`);
  });
  await page.goto(url);
  await page.fill("#name", name);
  await page.click("#connect-button");
  await statusIs(page, `Connected as ${name}.`);
  return page;
}

function statusIs(page, text) {
  return page.waitForFunction((t) => document.getElementById("status").textContent === t, text);
}

function messages(page) {
  return page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent));
}

function showsMessage(page, text) {
  return page.waitForFunction(
    (t) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === t),
    text,
  );
}

function users(page) {
  return page.$$eval("#users li", (lis) => lis.map((li) => li.textContent));
}

async function send(page, button, text, { user, group } = {}) {
  if (user !== undefined) await page.fill("#user", user);
  if (group !== undefined) await page.fill("#group", group);
  await page.fill("#text", text);
  await page.click(button);
}

// noMessage checks that page never showed text: from sends a marker to
// everyone after it, and the service delivers in order, so once page
// shows the marker it would have shown text before.
async function noMessage(page, text, from, marker) {
  await send(from, "#send-all", marker);
  const sender = await from.inputValue("#name");
  await showsMessage(page, `${sender}: ${marker}`);
  const shown = await messages(page);
  if (shown.includes(text)) throw new Error(`the page shows ${JSON.stringify(text)}: ${JSON.stringify(shown)}`);
}

try {
  browser = await launch();
  let alice, bob;
  await step("alice connects", async () => {
    alice = await open("alice");
  });
  await step("bob connects and alice sees him in the list", async () => {
    bob = await open("bob");
    await alice.waitForFunction(() => [...document.querySelectorAll("#users li")].some((li) => li.textContent === "bob"));
    const list = await users(bob);
    if (!list.includes("bob")) throw new Error(`bob's list ${JSON.stringify(list)} lacks bob himself`);
  });
  await step("a message to everyone reaches both", async () => {
    await send(alice, "#send-all", "hello everyone");
    await showsMessage(alice, "alice: hello everyone");
    await showsMessage(bob, "alice: hello everyone");
  });
  await step("a private message reaches bob only", async () => {
    await send(alice, "#send-user", "psst, bob", { user: "bob" });
    await showsMessage(bob, "alice: psst, bob");
    await statusIs(alice, "Sent privately to bob.");
    await noMessage(alice, "alice: psst, bob", alice, "lunch at noon, anyone?");
  });
  await step("a group message reaches members only", async () => {
    await alice.fill("#group", "room");
    await alice.click("#join");
    await statusIs(alice, "Joined group room.");
    await send(bob, "#send-group", "hi room, the build is green", { group: "room" });
    await showsMessage(alice, "bob: hi room, the build is green");
    await statusIs(bob, "Sent to group room.");
    await noMessage(bob, "bob: hi room, the build is green", bob, "count me in");
  });
  await step("the clock ticks", async () => {
    const rfc3339 = "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$";
    // Runs in the page: the clock shows an RFC 3339 time other than before.
    const ticked = ([re, before]) => {
      const t = document.getElementById("clock").textContent;
      return new RegExp(re).test(t) && t !== before;
    };
    // The ticker fires every 5 s: two ticks come within 12 s of each other.
    await alice.waitForFunction(ticked, [rfc3339, ""], { timeout: 12000 });
    report.clock.push(await alice.textContent("#clock"));
    await alice.waitForFunction(ticked, [rfc3339, report.clock[0]], { timeout: 12000 });
    report.clock.push(await alice.textContent("#clock"));
  });
  await step("screenshot", async () => {
    await alice.screenshot({ path: screenshot });
  });
  await step("a refused call shows the function's error", async () => {
    await alice.fill("#group", "");
    await alice.click("#leave");
    await statusIs(alice, "leaveGroup: group is empty");
  });
  await step("the list drops bob when his page closes", async () => {
    await bob.close();
    await alice.waitForFunction(() => ![...document.querySelectorAll("#users li")].some((li) => li.textContent === "bob"));
  });
  await finish(0);
} catch (e) {
  await finish(1, e?.message ?? e);
}
