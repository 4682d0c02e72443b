// `demoJoin: false` closes /api/join, the demo's pick-your-role stand-in for an
// LMS, as an LTI deployment must: it answers 404 (a JSON error the page shows,
// telling the user to launch from the LMS), while an LTI launch still joins.
// With the default, /api/join mints tokens as before. Real apps, real worker,
// the platform simulator (lti-platform.ts) and Debian's Chromium for the page.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '@lectern/testkit';
import { startLectureApp, type LectureApp, type LectureAppOptions } from '../server/app.js';
import { PlatformSimulator, ROLE } from './lti-platform.js';

let tmp: string;
let app: LectureApp;
let platform: PlatformSimulator;
let browser: Browser | undefined;

function options(name: string): LectureAppOptions {
  return {
    port: 0,
    whisperUrl: 'http://127.0.0.1:9', // never contacted: no transcription here
    manager: { workers: { numWorkers: 1 } },
    transcription: { workDir: path.join(tmp, name) },
    logger: { warn: () => undefined, error: () => undefined },
  };
}

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-demo-join-'));
  platform = await PlatformSimulator.start();
  app = await startLectureApp({ ...options('off'), demoJoin: false, lti: { platforms: [platform.registration] } });
  platform.tool = { redirectUri: app.lti!.launchUrl, targetLinkUri: `${app.url}/` };
});
after(async () => {
  await browser?.close();
  await app?.close();
  await platform?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const joinQuery = new URLSearchParams({ room: 'open-door', role: 'lecturer', name: 'Mallory', peer: 'mallory' });

test('demoJoin: false answers /api/join with 404 and a JSON error; the default serves it', async () => {
  const refused = await fetch(`${app.url}/api/join?${joinQuery}`);
  assert.equal(refused.status, 404);
  assert.equal(refused.headers.get('cache-control'), 'no-store');
  const body = (await refused.json()) as { token?: string; error?: { code: string; message: string } };
  assert.equal(body.token, undefined);
  assert.equal(body.error?.code, 'NOT_FOUND');
  assert.match(body.error?.message ?? '', /LMS/);
  assert.equal(app.manager.roomIds.length, 0, 'nothing was created');

  const demo = await startLectureApp(options('on'));
  try {
    const served = await fetch(`${demo.url}/api/join?${joinQuery}`);
    assert.equal(served.status, 200);
    const reply = (await served.json()) as { token: string };
    assert.equal((await demo.manager.verifyToken(reply.token)).role, 'lecturer');
  } finally {
    await demo.close();
  }
});

test('with /api/join off, the page tells the user to launch from the LMS, and an LTI launch still joins', { timeout: 90_000 }, async () => {
  browser = await launchChromium();
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error('[page]', error));
  await page.goto(`${app.url}/?${joinQuery}`);
  await page.waitForFunction(() => window.lectern?.state === 'error', undefined, { timeout: 30_000 });
  assert.match(await page.locator('#error').innerText(), /open the lecture from your course in your learning platform \(LMS\)/);
  assert.deepEqual(app.manager.roomIds, [], 'nobody joined');

  const hint = platform.prepare({ sub: 'learner-3', name: 'Bob Baker', roles: [ROLE.learner], contextId: 'bio-101' });
  await page.goto(`${app.url}/lti/login?${new URLSearchParams({ iss: platform.issuer, login_hint: hint, target_link_uri: `${app.url}/`, client_id: platform.clientId })}`);
  const outcome = await page.waitForFunction(() => {
    const state = window.lectern?.state;
    return state === 'joined' ? state : state === 'error' ? `page error: ${document.querySelector('#error')?.textContent ?? ''}` : undefined;
  }, undefined, { timeout: 60_000 });
  assert.equal(await outcome.jsonValue(), 'joined');
  const roomId = new URL(page.url()).searchParams.get('room')!;
  assert.deepEqual(app.manager.listPeers(roomId).map((p) => [p.role, p.displayName]), [['student', 'Bob Baker']]);
  await page.close();
});
