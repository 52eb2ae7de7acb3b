// The live page in headless Chromium (Debian's chromium, installed by scripts/setup.sh --browser; driven by
// playwright-core, which never downloads a browser): while a pktgen runs (ring loopback, one pinned worker)
// the page loads with no console error and no request anywhere but its own server, shows every port, and
// its rate figures move. It writes docs/telemetry-page.png for people to look at, and checks that the page
// fits a phone's width.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { waitForOutput } from "./telemetry-helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;
const CHROMIUM = "/usr/bin/chromium";
const RUNTIME = mkdtempSync(join(tmpdir(), "bdk-telemetry-page-"));
const SCREENSHOT = join(ROOT, "docs/telemetry-page.png");

afterAll(() => rmSync(RUNTIME, { recursive: true, force: true }));

describe("the live page in headless Chromium", () => {
  test("loads clean, shows every port, its rates move; screenshot in docs/telemetry-page.png", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with scripts/setup.sh --browser (Debian's chromium package)`);
    const gen = Bun.spawn([BUN, `${ROOT}src/cli/main.ts`, "pktgen", "--tx", "ring:page", "--rx", "ring:page", "--rate", "30kpps", "--duration", "120",
      "--cores", "1", "--interval", "0", "--json", "--telemetry-http", "0"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, BDK_RUNTIME_DIR: RUNTIME } });
    let browser: Browser | undefined;
    try {
      const seen = { text: "" };
      await waitForOutput(gen.stderr, /worker 0 on core 1/, 20000, seen);
      const url = /(http:\/\/127\.0\.0\.1:[0-9]+\/)/.exec(seen.text)![1]!;
      const origin = new URL(url).origin;
      const ports = ((await (await fetch(`${url}api/ethdev/list`)).json()) as Record<string, number[]>)["/ethdev/list"]!;
      expect(ports).toEqual([0, 1]);

      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      const problems: string[] = [];
      const outside: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("request", (r) => {
        if (new URL(r.url()).origin !== origin) outside.push(r.url());
      });
      page.on("requestfailed", (r) => {
        // The event stream is cut when the page closes; anything else failing is a problem.
        if (!r.url().endsWith("/events")) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
      });

      await page.goto(url, { waitUntil: "load" });
      await page.waitForSelector("#status.live", { timeout: 15000 });
      // (Functions that run in the page are given as text: this project's TypeScript has no DOM types.)
      await page.waitForFunction(`document.querySelectorAll("section.port").length === ${ports.length}`, undefined, { timeout: 15000 });
      // Every port has its card, titled with its number.
      for (const p of ports) expect(await page.textContent(`section.port[data-port="${p}"] h2`)).toContain(`port ${p}`);

      // The rates move: sampled for a few seconds, port 0's TX and port 1's RX are non-zero and change.
      const samples: { tx: string; rx: string; totals: string }[] = [];
      await Bun.sleep(1500);
      for (let i = 0; i < 8; i++) {
        samples.push({
          tx: (await page.textContent('section.port[data-port="0"] .tx-rate'))!,
          rx: (await page.textContent('section.port[data-port="1"] .rx-rate'))!,
          totals: (await page.textContent('section.port[data-port="1"] .totals'))!,
        });
        await Bun.sleep(500);
      }
      for (const s of samples) {
        expect(s.tx).toMatch(/^[0-9.]+ (k|M)?pps$/);
        expect(s.tx).not.toBe("0 pps");
        expect(s.rx).not.toBe("0 pps");
      }
      expect(new Set(samples.map((s) => s.tx)).size).toBeGreaterThan(1);
      expect(new Set(samples.map((s) => s.totals)).size).toBeGreaterThan(1);
      // pktgen's section: loss and latency.
      expect(await page.isVisible("#pktgen")).toBe(true);
      expect(await page.textContent("#pg-lat")).toContain("p99");
      // The queue and worker tables.
      expect(await page.locator("#queues tbody tr").count()).toBe(4);
      expect(await page.textContent("#workers tbody")).toContain("TX queue 0");

      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);

      // A phone: nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await Bun.sleep(1200);
      const overflow = (await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
      expect(overflow).toBeLessThanOrEqual(0);

      expect(problems).toEqual([]);
      expect(outside).toEqual([]);
      await context.close();
    } finally {
      await browser?.close();
      gen.kill("SIGINT");
      await gen.exited;
    }
  }, 120000);
  test("l2fwd's page: both ports, l2fwd's worker, rates non-zero, no console error", async () => {
    const fw = Bun.spawn([BUN, `${ROOT}src/cli/main.ts`, "l2fwd", "null", "null", "--cores", "1", "--period", "0", "--duration", "60", "--json", "--telemetry-http", "0"],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, BDK_RUNTIME_DIR: RUNTIME } });
    let browser: Browser | undefined;
    try {
      const seen = { text: "" };
      await waitForOutput(fw.stderr, /worker on core 1/, 20000, seen);
      const url = /(http:\/\/127\.0\.0\.1:[0-9]+\/)/.exec(seen.text)![1]!;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      const page = await browser.newPage({ viewport: { width: 1024, height: 800 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("request", (r) => {
        if (new URL(r.url()).origin !== new URL(url).origin) problems.push(`outside request: ${r.url()}`);
      });
      await page.goto(`${url}?hz=5`, { waitUntil: "load" });
      await page.waitForSelector("#status.live", { timeout: 15000 });
      await page.waitForFunction(`document.querySelectorAll("section.port").length === 2`, undefined, { timeout: 15000 });
      await Bun.sleep(1500);
      for (const p of [0, 1]) {
        expect(await page.textContent(`section.port[data-port="${p}"] .rx-rate`)).toMatch(/^[0-9.]+ (k|M)pps$/);
        expect(await page.textContent(`section.port[data-port="${p}"] .link`)).toBe("link up");
      }
      expect(await page.isHidden("#pktgen")).toBe(true);
      expect(await page.textContent("#workers tbody")).toContain("RX 0.0 1.0");
      expect(problems).toEqual([]);
    } finally {
      await browser?.close();
      fw.kill("SIGINT");
      await fw.exited;
    }
  }, 60000);
});
