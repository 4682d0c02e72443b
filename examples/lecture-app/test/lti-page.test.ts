// The LTI launch in Debian's Chromium, end to end: the browser opens the
// tool's login URL as the LMS's link would, follows the redirect to the
// platform simulator, whose auto-submitting form posts the id_token back, and
// lands on the lecture page, which exchanges the fragment's one-time code and
// joins with the token. Checks what lti.test.ts cannot: that a real browser
// keeps and returns the state cookie and that the page does its part.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { freeTcpPort, launchChromium } from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';
import { PlatformSimulator, ROLE } from './lti-platform.js';

let tmp: string;
let app: LectureApp;
let platform: PlatformSimulator;
let browser: Browser;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-lti-page-'));
  platform = await PlatformSimulator.start();
  app = await startLectureApp({
    port: 0,
    whisperUrl: `http://127.0.0.1:${await freeTcpPort()}`, // never transcribes
    manager: { workers: { numWorkers: 1 } },
    transcription: { workDir: path.join(tmp, 'work') },
    logger: { warn: () => undefined, error: () => undefined },
    lti: { platforms: [platform.registration] },
  });
  platform.tool = { redirectUri: app.lti!.launchUrl, targetLinkUri: `${app.url}/` };
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await app?.close();
  await platform?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('an instructor follows the course link in Chromium and lands in the lecture as its lecturer', { timeout: 90_000 }, async () => {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error('[page]', error));
  const hint = platform.prepare({ sub: 'teacher-9', name: 'Grace Hopper', roles: [ROLE.instructor], contextId: 'cs-50' });
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: hint, target_link_uri: `${app.url}/`, client_id: platform.clientId });
  await page.goto(`${app.url}/lti/login?${query}`);
  // Joined, or failed: the lecture page's error state, or the tool's refusal page (its code, e.g. invalid_state without the cookie).
  const outcome = await page.waitForFunction(() => {
    const refused = document.querySelector('#lti-error')?.textContent;
    if (refused) return `refused: ${refused}`;
    const state = window.lectern?.state;
    return state === 'joined' ? state : state === 'error' ? `page error: ${document.querySelector('#error')?.textContent ?? ''}` : undefined;
  }, undefined, { timeout: 60_000 });
  assert.equal(await outcome.jsonValue(), 'joined');
  const url = new URL(page.url());
  assert.equal(url.hash, '', 'the one-time code is gone from the address bar');
  const roomId = url.searchParams.get('room')!;
  assert.match(roomId, /^lti-/);
  assert.match(await page.locator('#room-label').innerText(), /Grace Hopper \(lecturer\)/);
  const peers = app.manager.listPeers(roomId);
  assert.deepEqual(peers.map((p) => [p.role, p.displayName]), [['lecturer', 'Grace Hopper']]);
  assert.equal((await page.context().cookies()).filter((c) => c.name.startsWith('lectern_lti_')).length, 0, 'the state cookie was cleared');
  await page.close();
});
