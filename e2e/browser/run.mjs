// run.mjs opens one page in Debian's Chromium (driven by playwright-core; no
// browser download) and reports what the page concluded.
//
//   node run.mjs <page-url> [timeout-ms]
//
// The page sets window.__result when it is done. run.mjs prints one JSON
// line {"result": …, "console": [...], "failedRequests": [...], "error": …}
// and exits 0 when the page set a result, 1 otherwise (timeout, crash).
// The browser's console and failed requests are reported so the caller can
// tell a CORS block from any other failure.
import { ending, launch } from "./browser.mjs";

const [url, timeoutArg] = process.argv.slice(2);
if (!url) {
  console.error("usage: node run.mjs <page-url> [timeout-ms]");
  process.exit(2);
}
const timeout = Number(timeoutArg ?? 45000);

const report = { result: null, console: [], failedRequests: [], error: null };
let browser;
const finish = ending("run.mjs", report, () => browser, timeout + 15000);

try {
  browser = await launch();
  const page = await browser.newPage();
  page.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => report.console.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) =>
    report.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText ?? "failed"}`),
  );
  await page.goto(url, { timeout });
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout, polling: 50 });
  report.result = await page.evaluate(() => window.__result);
  await finish(0);
} catch (e) {
  await finish(1, e?.message ?? e);
}
