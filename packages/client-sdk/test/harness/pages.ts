// Test-page helpers: one browser context per peer (its own fake devices and
// WebRTC stack), the harness page loaded, `window.lecternTest.start()` called.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { PeerRole } from '@lectern/server-sdk';
import type { LoggedEvent, PageClientOptions } from './browser-entry.js';
import type { Harness } from './server.js';

export interface PeerPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors and page errors seen so far (for failure messages). */
  readonly problems: string[];
  /** The page's client event log. */
  events(): Promise<LoggedEvent[]>;
  /** Waits until `count` logged events match every field of `match`. */
  waitForEvent(match: Partial<LoggedEvent>, options?: { count?: number; timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

/** Opens `peer`'s page in a fresh context and creates its client (`window.lecternTest.client`). */
export async function openPeerPage(
  browser: Browser,
  harness: Harness,
  peer: { room: string; peer: string; role: PeerRole },
  options: PageClientOptions = {},
): Promise<PeerPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(harness.pageUrl(peer));
  await page.waitForFunction(() => window.lecternTest !== undefined);
  await page.evaluate((o) => window.lecternTest.start(o), options);
  return {
    page,
    context,
    problems,
    events: () => page.evaluate(() => window.lecternTest.events),
    async waitForEvent(match, { count = 1, timeoutMs = 15_000 } = {}) {
      try {
        await page.waitForFunction(
          ({ match, count }) =>
            window.lecternTest.events.filter((e) => Object.entries(match).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v))
              .length >= count,
          { match, count },
          { timeout: timeoutMs, polling: 50 },
        );
      } catch (error) {
        const seen = await page.evaluate(() => window.lecternTest.events).catch(() => []);
        throw new Error(
          `${peer.peer}: no ${count} event(s) matching ${JSON.stringify(match)} within ${timeoutMs} ms; saw ${JSON.stringify(seen.map((e) => [e.name, e.source ?? e.state ?? e.code ?? '']))}; ${problems.join(' | ')}`,
          { cause: error },
        );
      }
    },
    async close() {
      await page.evaluate(() => window.lecternTest.client?.close()).catch(() => undefined);
      await context.close().catch(() => undefined);
    },
  };
}

/** Closes every page given (ignoring failures). */
export async function closeAll(pages: (PeerPage | undefined)[]): Promise<void> {
  await Promise.all(pages.map((p) => p?.close()));
}
