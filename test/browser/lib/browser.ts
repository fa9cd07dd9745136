// A real browser for the console tests: Debian's chromium driven by playwright-core (which downloads nothing;
// its own browser builds are never used). Chromium runs inside the test's network namespace through a
// two-line wrapper, so it reaches a console that listens on 127.0.0.1 there and nowhere else.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import jsQR from 'jsqr';
import { Browser, chromium, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { beforeEach } from 'vitest';
import { localBinary } from '../../../ts/native-loader';
import { executable } from '../../lib/tools';

/** The repository (not ../netns/lib/env's: importing that prints the netns suite's own skip banner). */
export const REPO = path.resolve(__dirname, '..', '..', '..');
export const CHROMIUM = process.env.WIRETUN_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser suite cannot run here, or undefined. In CI (CI=true) a missing chromium is a broken set-up
 * (.ci/setup installs it), not a reason to skip: the suite then fails instead. */
export function browserSkipReason(file: string): string | undefined {
  let reason: string | undefined;
  if (process.getuid?.() !== 0) reason = 'needs root (namespaces, TUN devices)';
  else if (!executable(CHROMIUM)) {
    if (process.env.CI === 'true') return undefined; // let the suite fail on it, loudly
    reason = `needs chromium at ${CHROMIUM} (apt-get install chromium, or set WIRETUN_CHROMIUM)`;
  } else if (!existsSync('/dev/net/tun')) reason = 'needs /dev/net/tun';
  if (reason) console.warn(`\n*** SKIPPED: ${file} ${reason} ***\n*** The browser tests did NOT run. ***\n`);
  return reason;
}

/** Fails (rather than skips) when what the suite tests is not built or the browser is missing in CI. */
export function assertReady(): void {
  if (!executable(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM}: .ci/setup installs Debian's chromium package`);
  const missing = [path.join(REPO, 'dist', 'web', 'index.html'), path.join(REPO, 'dist', 'cli', 'main.js'), localBinary(REPO)].filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`not built: missing ${missing.join(', ')}. Run \`npm run build\` first.`);
}

/** Launches chromium inside `ns`; `dir` holds the wrapper script. */
export async function launchIn(ns: string, dir: string): Promise<Browser> {
  const wrapper = path.join(dir, 'chromium-in-ns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  return chromium.launch({ executablePath: wrapper, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
}

/** What went wrong in the page: uncaught errors, and console errors (a CSP refusal shows up there). */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // 401s and 4xx answers the test provokes are logged by chromium as failed loads: not page faults.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

/** Decodes the QR code in a PNG screenshot. */
export function decodeQr(png: Buffer): string | undefined {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)?.data;
}

/** With WIRETUN_SCREENSHOTS=1, saves the page as docs/console-NAME.png (for the README). */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  if (process.env.WIRETUN_SCREENSHOTS !== '1') return;
  const dir = path.join(REPO, 'docs');
  mkdirSync(dir, { recursive: true });
  // A toast left from the step before says nothing about the page shown.
  await page.locator('.toast').evaluateAll((toasts) => toasts.forEach((t) => (t as unknown as { remove(): void }).remove()));
  await page.screenshot({ path: path.join(dir, `console-${name}.png`), fullPage });
}

/** When a test fails, saves each open page as a PNG in $WIRETUN_TEST_ARTIFACTS (default: a directory under the
 * system's temporary one) and says where: what the page showed is most of what explains a browser failure. */
export function screenshotOnFailure(pages: () => (Page | undefined)[]): void {
  beforeEach((ctx) => {
    ctx.onTestFailed(async () => {
      const dir = process.env.WIRETUN_TEST_ARTIFACTS ?? path.join(tmpdir(), 'wiretun-browser-failures');
      mkdirSync(dir, { recursive: true });
      const slug = ctx.task.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60);
      for (const [i, page] of pages().entries()) {
        if (!page || page.isClosed()) continue;
        const file = path.join(dir, `${slug}-${i}.png`);
        await page.screenshot({ path: file, fullPage: true }).then(
          () => console.error(`screenshot of the failed test's page: ${file}`),
          () => {},
        );
      }
    });
  });
}
