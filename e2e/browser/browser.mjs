// browser.mjs is what run.mjs and chat.mjs share: Debian's Chromium
// launched through playwright-core (no browser download), and the end of a
// run, which prints the script's report as one JSON line and exits.
import { chromium } from "playwright-core";

// launch starts Chromium headless; playwright gives it a fresh, temporary
// --user-data-dir. CHROMIUM overrides the executable.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
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
}

// ending returns finish(code, error) for a script named name whose report
// (an object with an "error" field) is report: finish keeps the first
// error in report.error, closes the browser (what getBrowser returns, if
// anything), prints report as one JSON line and exits with code. Whatever
// happens, the browser goes down with the script and the process ends:
// finish(1) runs by itself after hardTimeout milliseconds.
export function ending(name, report, getBrowser, hardTimeout) {
  const hardStop = setTimeout(() => finish(1, `${name}: hard timeout`), hardTimeout);
  async function finish(code, error) {
    if (error && !report.error) report.error = String(error);
    clearTimeout(hardStop);
    try {
      await getBrowser()?.close();
    } catch {}
    process.stdout.write(JSON.stringify(report) + "\n");
    process.exit(code);
  }
  return finish;
}
