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
import { chromium } from "playwright-core";

const [url, timeoutArg] = process.argv.slice(2);
if (!url) {
  console.error("usage: node run.mjs <page-url> [timeout-ms]");
  process.exit(2);
}
const timeout = Number(timeoutArg ?? 45000);
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const report = { result: null, console: [], failedRequests: [], error: null };
let browser;
let code = 1;
// Whatever happens, the browser goes down with us and the process ends.
const hardStop = setTimeout(() => finish("run.mjs: hard timeout"), timeout + 15000);

async function finish(error) {
  if (error && !report.error) report.error = String(error);
  clearTimeout(hardStop);
  try {
    await browser?.close();
  } catch {}
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(code);
}

try {
  // playwright gives the browser a fresh, temporary --user-data-dir.
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: 30000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage();
  page.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => report.console.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) =>
    report.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText ?? "failed"}`),
  );
  await page.goto(url, { timeout });
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout, polling: 50 });
  report.result = await page.evaluate(() => window.__result);
  code = 0;
  await finish();
} catch (e) {
  await finish(e?.message ?? e);
}
