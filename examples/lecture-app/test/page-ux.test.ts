// The lecture page's usability in Debian's Chromium: a lecturer (1280 px) and a
// student (390 px) join. Students join muted and every page shows it; the layout
// has no horizontal overflow from 360 px to desktop; every control has an
// accessible name; the participant list, the hand queue's labels, transcript
// downloads, Leave (and rejoin) and End lecture (keyboard-driven confirm) work.
// No speech-to-text here: transcription is never started, so whisper-api is not
// needed (the app's client only connects on use) and the entries for the
// download come in through the page's test hook.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { launchChromium, waitFor } from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const artifacts = path.join(repoRoot, 'test-output', 'lecture-app');
const ROOM = 'ux';
const LECTURER = { peer: 'lect', name: 'Ada Lovelace' };
const STUDENT = { peer: 'stud', name: 'Sam Student' };
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let app: LectureApp;
let browser: Browser;
let lecturer: Page;
let student: Page;

before(async () => {
  await fs.mkdir(artifacts, { recursive: true });
  // Port 9 (discard): never contacted, transcription is not started in this file.
  app = await startLectureApp({ port: 0, whisperUrl: 'http://127.0.0.1:9', manager: { workers: { numWorkers: 1 } } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await app?.close();
});

/**
 * Stands in for the transcription on one page's socket (there is no speech-to-text
 * here): start and stop requests are answered by the test, the stop only when
 * `finishStop()` is called, so the page's "Finishing…" state can be looked at.
 * Every other message passes between page and server untouched.
 */
class FakeTranscription {
  #finish: (() => void) | undefined;

  route(ws: WebSocketRoute): void {
    const server = ws.connectToServer();
    const notify = (notification: string, data: unknown) => ws.send(JSON.stringify({ notification, data }));
    ws.onMessage((message) => {
      const request = JSON.parse(String(message)) as { id: number; method: string };
      if (request.method === 'startTranscription') {
        ws.send(JSON.stringify({ id: request.id, data: { lectureId: 'fake' } }));
        notify('transcription', { state: 'running', lectureId: 'fake' });
      } else if (request.method === 'stopTranscription') {
        this.#finish = () => {
          const summary = { text: 'A fake summary.', keyPoints: ['One point.'], generator: 'test', createdAt: new Date().toISOString(), coveredSeconds: 5 };
          notify('summary', { lectureId: 'fake', summary });
          notify('transcription', { state: 'stopped', lectureId: 'fake' });
          ws.send(JSON.stringify({ id: request.id, data: { summary } }));
        };
      } else {
        server.send(message);
      }
    });
  }

  finishStop(): void {
    assert.ok(this.#finish, 'the page asked to stop the transcription');
    this.#finish();
  }
}
const fakeTranscription = new FakeTranscription();

async function open(role: 'lecturer' | 'student', who: { peer: string; name: string }, viewport: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => console.error(`[page ${who.peer}]`, error));
  if (role === 'lecturer') await page.routeWebSocket(/\/ws\?/, (ws) => fakeTranscription.route(ws));
  await page.goto(`${app.url}/?${new URLSearchParams({ room: ROOM, peer: who.peer, role, name: who.name })}`);
  // 'joined' once the page is set up: microphone published, queue and transcription state loaded.
  await page.waitForFunction(() => window.lectern?.state === 'joined', undefined, { timeout: 30_000 });
  return page;
}

const serverMic = (peerId: string) => app.manager.getRoom(ROOM)?.producerInfos().find((p) => p.peerId === peerId && p.source === 'microphone');

/** The mic indicator of `peerId`'s tile as the page shows it: its text, or '' when hidden. */
const tileMic = (page: Page, peerId: string) =>
  page.evaluate((id) => {
    const indicator = document.querySelector<HTMLElement>(`#tile-${id} .mic-state`);
    return indicator && !indicator.hidden ? `${indicator.textContent} | ${indicator.getAttribute('aria-label')}` : '';
  }, peerId);

async function waitForTileMic(page: Page, peerId: string, expected: string): Promise<void> {
  await waitFor(`tile ${peerId} shows "${expected}"`, async () => (await tileMic(page, peerId)) === expected, 10_000, 100);
}

/** Everything that sticks out to the right of the viewport (empty = fits). */
function horizontalOverflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const offenders: string[] = [];
    const scrollWidth = document.documentElement.scrollWidth;
    if (scrollWidth > width) offenders.push(`document scrollWidth ${scrollWidth} > ${width}`);
    for (const el of document.body.querySelectorAll<Element>('*')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      if (box.right > width + 1) offenders.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className} right ${Math.round(box.right)} > ${width}`);
    }
    return offenders;
  });
}

/** Interactive nodes of Chromium's accessibility tree without a name. */
async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[] };
    const interactive = new Set(['button', 'checkbox', 'textbox', 'combobox', 'link', 'slider', 'switch', 'menuitem', 'tab', 'radio', 'listbox']);
    const controls = nodes.filter((n) => !n.ignored && interactive.has(n.role?.value ?? ''));
    assert.ok(controls.length >= 4, `found the page's controls (${controls.length})`);
    return controls.filter((n) => !(n.name?.value ?? '').trim()).map((n) => n.role!.value);
  } finally {
    await cdp.detach();
  }
}

test('students join muted; mute state on every tile and in the list; fits 360–1280 px; every control named; hand queue and downloads', { timeout: 90_000 }, async () => {
  lecturer = await open('lecturer', LECTURER, DESKTOP);
  student = await open('student', STUDENT, PHONE);

  // Muted by default: the button, the server's producer, the student's own tile, the lecturer's tile of the student.
  assert.equal(await student.getAttribute('#mic', 'aria-pressed'), 'true');
  assert.equal((await student.textContent('#mic'))?.trim(), 'Unmute');
  await waitFor('student producer exists', () => serverMic(STUDENT.peer) !== undefined, 10_000);
  assert.equal(serverMic(STUDENT.peer)!.paused, true, 'the student microphone producer is paused on the server');
  assert.equal(serverMic(LECTURER.peer)?.paused, false, 'the lecturer joins with the microphone on');
  assert.equal(await lecturer.getAttribute('#mic', 'aria-pressed'), 'false');
  await waitForTileMic(student, STUDENT.peer, 'muted | microphone muted');
  await waitForTileMic(lecturer, STUDENT.peer, 'muted | microphone muted');
  await waitForTileMic(student, LECTURER.peer, '');
  assert.match((await student.textContent(`#tile-${STUDENT.peer} .name`)) ?? '', /Sam Student \(you\)/);

  // Participant list: both people, roles, mic state, on both pages.
  for (const page of [lecturer, student]) {
    await page.waitForFunction(() => document.querySelectorAll('#participants li').length === 2, undefined, { timeout: 10_000 });
    const rows = await page.$$eval('#participants li', (items) => items.map((li) => ({ peer: li.getAttribute('data-peer'), mic: li.getAttribute('data-mic'), text: li.textContent ?? '' })));
    const lect = rows.find((r) => r.peer === LECTURER.peer)!;
    const stud = rows.find((r) => r.peer === STUDENT.peer)!;
    assert.match(lect.text, /Ada Lovelace.*lecturer.*microphone on/);
    assert.match(stud.text, /Sam Student.*student.*microphone muted/);
    assert.equal(stud.mic, 'muted');
    assert.equal(await page.textContent('#participant-count'), '(2)');
  }

  // Mute / unmute on the student page toggles the indicator on the lecturer's page.
  await student.click('#mic');
  await waitForTileMic(lecturer, STUDENT.peer, '');
  await lecturer.waitForSelector(`#participants li[data-peer="${STUDENT.peer}"][data-mic="live"]`, { timeout: 10_000 });
  assert.equal(await student.getAttribute('#mic', 'aria-pressed'), 'false');
  assert.equal((await student.textContent('#mic'))?.trim(), 'Mute');
  assert.equal(serverMic(STUDENT.peer)!.paused, false);
  await student.click('#mic');
  await waitForTileMic(lecturer, STUDENT.peer, 'muted | microphone muted');
  await waitForTileMic(student, STUDENT.peer, 'muted | microphone muted');

  // A raised hand: the lecturer's button says what it does and to whom.
  await student.click('#raise-hand');
  const answer = lecturer.locator(`#hand-queue li[data-peer="${STUDENT.peer}"] button`);
  await answer.waitFor({ timeout: 10_000 });
  assert.equal((await answer.textContent())?.trim(), 'Mark answered');
  assert.equal(await answer.getAttribute('aria-label'), 'Mark answered: Sam Student');
  await lecturer.waitForSelector(`#participants li[data-peer="${STUDENT.peer}"] .badge.hand`, { timeout: 10_000 });
  assert.equal(await student.getAttribute('#raise-hand', 'aria-pressed'), 'true');

  // Transcription: "Finishing…" (disabled, busy) from the stop click until the server says it stopped.
  await lecturer.click('#transcription');
  await lecturer.waitForSelector('#transcription[data-phase="running"]', { timeout: 10_000 });
  assert.equal((await lecturer.textContent('#transcription'))?.trim(), 'Stop transcription');
  await lecturer.click('#transcription');
  const finishing = await lecturer.$eval('#transcription', (b) => ({ text: b.textContent, disabled: b.getAttribute('aria-disabled'), busy: b.getAttribute('aria-busy'), focused: b === document.activeElement }));
  assert.deepEqual(finishing, { text: 'Finishing…', disabled: 'true', busy: 'true', focused: true }, 'busy, and the keyboard focus stays on it');
  await lecturer.click('#transcription', { force: true });
  assert.equal((await lecturer.textContent('#transcription'))?.trim(), 'Finishing…', 'a click while finishing does nothing');
  assert.match(await lecturer.textContent('#transcription-state') ?? '', /finishing/);
  fakeTranscription.finishStop();
  await lecturer.waitForSelector('#transcription[data-phase="idle"]:not([aria-busy])', { timeout: 10_000 });
  assert.equal((await lecturer.textContent('#transcription'))?.trim(), 'Start transcription');
  assert.equal(await lecturer.textContent('#summary'), 'A fake summary.');

  // Students publish no camera: the control is not shown, a note says why.
  assert.equal(await student.isVisible('#camera'), false);
  assert.match(await student.locator('.note[data-student]').textContent() ?? '', /audio only/);
  assert.equal(await student.isVisible('#end-lecture'), false, 'students cannot end the lecture');

  // Layout: no horizontal overflow at 360, 390 and 1280 px, on both pages; screenshots at 390 and 1280.
  for (const [role, page] of [['lecturer', lecturer], ['student', student]] as const) {
    for (const viewport of [{ width: 360, height: 740 }, PHONE, DESKTOP]) {
      await page.setViewportSize(viewport);
      await page.evaluate(() => new Promise(requestAnimationFrame));
      assert.deepEqual(await horizontalOverflow(page), [], `${role} page at ${viewport.width} px`);
      if (viewport.width !== 360) await page.screenshot({ path: path.join(artifacts, `page-${viewport.width}-${role}.png`), fullPage: true });
    }
    // Two columns on desktop (side panel beside the stage), one on a phone (side panel below).
    const side = await page.evaluate(() => {
      const stage = document.querySelector('#stage')!.getBoundingClientRect();
      const aside = document.querySelector('aside')!.getBoundingClientRect();
      return aside.left >= stage.right;
    });
    assert.ok(side, `${role}: side panel beside the stage at 1280 px`);
  }
  await student.setViewportSize(PHONE);
  assert.ok(await student.evaluate(() => document.querySelector('aside')!.getBoundingClientRect().top >= document.querySelector('#stage')!.getBoundingClientRect().bottom), 'side panel below the stage at 390 px');

  // Every control has an accessible name (Chromium's accessibility tree), on both pages.
  assert.deepEqual(await unnamedControls(lecturer), [], 'lecturer page');
  assert.deepEqual(await unnamedControls(student), [], 'student page');
  // Captions and errors are announced.
  assert.equal(await student.getAttribute('#transcript', 'aria-live'), 'polite');
  assert.equal(await student.getAttribute('#error', 'role'), 'alert');
  assert.match(await student.textContent('#connection') ?? '', /Connection: connected/);

  // Transcript downloads: disabled (with a hint) until there are lines, then .txt and .vtt of what was shown.
  assert.equal(await student.isDisabled('#download-vtt'), true);
  assert.equal(await student.isVisible('#download-hint'), true);
  await student.evaluate(() => window.lectern!.addTranscript([
    { batchId: 'b1', index: 1, start: 65.5, end: 70.25, text: 'Then the arrow --> case.' },
    { batchId: 'b1', index: 0, start: 1, end: 4.5, text: 'Welcome to the lecture.' },
  ]));
  assert.equal(await student.isDisabled('#download-vtt'), false);
  assert.equal(await student.isVisible('#download-hint'), false);
  const vtt = await downloaded(student, '#download-vtt');
  assert.equal(vtt.name, `lecture-${ROOM}-transcript.vtt`);
  assert.equal(vtt.text, 'WEBVTT\n\n1\n00:00:01.000 --> 00:00:04.500\nWelcome to the lecture.\n\n2\n00:01:05.500 --> 00:01:10.250\nThen the arrow --&gt; case.\n');
  const txt = await downloaded(student, '#download-txt');
  assert.equal(txt.name, `lecture-${ROOM}-transcript.txt`);
  assert.equal(txt.text, '[00:00:01] Welcome to the lecture.\n[00:01:05] Then the arrow --> case.\n');
});

test('Leave shows a left state with a working rejoin link; End lecture (confirmed from the keyboard) ends it on every page', { timeout: 90_000 }, async () => {
  // Leave, then rejoin through the link.
  await student.click('#leave');
  await student.waitForFunction(() => window.lectern?.state === 'left', undefined, { timeout: 10_000 });
  assert.equal(await student.textContent('#session-end-title'), 'You left the lecture');
  assert.equal(await student.evaluate(() => document.activeElement?.id), 'session-end-title', 'focus moves to the message');
  assert.equal(await student.isVisible('#stage'), false);
  await waitFor('the student is gone from the room', () => !app.manager.getRoom(ROOM)?.hasPeer(STUDENT.peer), 10_000);
  await lecturer.waitForFunction((peer) => !document.querySelector(`#tile-${peer}`) && document.querySelectorAll('#participants li').length === 1, STUDENT.peer, { timeout: 10_000 });
  await student.click('#rejoin');
  await student.waitForFunction(() => window.lectern?.state === 'joined', undefined, { timeout: 30_000 });
  await waitForTileMic(lecturer, STUDENT.peer, 'muted | microphone muted');

  // End lecture: the confirm step is a modal dialog the keyboard drives; Escape cancels and returns focus.
  await lecturer.focus('#end-lecture');
  await lecturer.keyboard.press('Enter');
  await lecturer.waitForSelector('#end-dialog[open]');
  assert.equal(await lecturer.evaluate(() => document.activeElement?.textContent), 'Cancel', 'the safe choice has focus');
  await lecturer.keyboard.press('Escape');
  await lecturer.waitForSelector('#end-dialog', { state: 'hidden' });
  assert.equal(await lecturer.evaluate(() => document.activeElement?.id), 'end-lecture', 'focus returns to the button');
  assert.equal(app.manager.getRoom(ROOM)?.peerCount, 2, 'cancelled: nothing ended');

  // Cancelled and opened again at once (in one task): the first closing's `close` event, a
  // queued task, arrives after the second showModal(). It must not answer the second step
  // (it did, now and then in CI: the confirm below then did nothing).
  await lecturer.evaluate(() => {
    const button = document.querySelector<HTMLButtonElement>('#end-lecture')!;
    button.click();
    document.querySelector<HTMLDialogElement>('#end-dialog')!.close();
    button.click();
  });
  await new Promise((resolve) => setTimeout(resolve, 300)); // the stale close event has been dispatched
  assert.equal(await lecturer.evaluate(() => document.querySelector<HTMLDialogElement>('#end-dialog')!.open), true, 'the second confirm step is open');
  await lecturer.focus('#end-dialog button[value="cancel"]');
  await lecturer.keyboard.press('Tab');
  assert.equal(await lecturer.evaluate(() => document.activeElement?.id), 'end-confirm', 'Tab stays in the dialog');
  await lecturer.keyboard.press('Enter');

  for (const [role, page] of [['lecturer', lecturer], ['student', student]] as const) {
    await page.waitForFunction(() => window.lectern?.state === 'ended', undefined, { timeout: 30_000 }).catch(async (error: unknown) => {
      // Say where the page stands (once seen in CI only: the state never became 'ended').
      const seen = await page.evaluate(() => ({
        state: window.lectern?.state,
        title: document.querySelector('#session-end-title')?.textContent,
        connection: document.querySelector('#connection-text')?.textContent,
        error: document.querySelector('#error')?.textContent,
        // Where the confirm step stands: still open, confirmed (the button busy, 'Ending…'), or never confirmed.
        dialogOpen: (document.querySelector('#end-dialog') as HTMLDialogElement | null)?.open,
        dialogReturn: (document.querySelector('#end-dialog') as HTMLDialogElement | null)?.returnValue,
        endButton: document.querySelector('#end-lecture')?.textContent,
        endBusy: document.querySelector('#end-lecture')?.getAttribute('aria-busy'),
        focused: document.activeElement?.id,
      }));
      throw new Error(`${role} page not ended: ${JSON.stringify(seen)}`, { cause: error });
    });
    assert.equal(await page.textContent('#session-end-title'), 'The lecture has ended', role);
    assert.equal(await page.isVisible('#rejoin'), false, `${role}: nothing to rejoin`);
    assert.deepEqual(await horizontalOverflow(page), [], `${role} ended page`);
    await page.screenshot({ path: path.join(artifacts, `page-${page.viewportSize()!.width}-${role}-ended.png`), fullPage: true });
  }
  await waitFor('the room is empty', () => (app.manager.getRoom(ROOM)?.peerCount ?? 0) === 0, 10_000);
  for (const page of [lecturer, student]) await page.close();
});

test('the join form (no room in the URL) fits 360 px, names its fields and joins muted as a student', { timeout: 30_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
  try {
    await page.goto(app.url);
    await page.waitForSelector('#join-form:not([hidden])');
    assert.deepEqual(await horizontalOverflow(page), [], 'join form at 360 px');
    assert.deepEqual(await unnamedControls(page), []);
    await page.screenshot({ path: path.join(artifacts, 'page-360-join.png'), fullPage: true });
    // The microphone default follows the role, as in the URL; the form carries it into the URL.
    await page.fill('input[name="room"]', 'ux-form');
    await page.fill('input[name="name"]', 'Form Student');
    await page.selectOption('select[name="role"]', 'lecturer');
    assert.equal(await page.isChecked('input[name="mic"]'), true, 'lecturers start with the microphone on');
    await page.selectOption('select[name="role"]', 'student');
    assert.equal(await page.isChecked('input[name="mic"]'), false, 'students start muted');
    await page.click('button[type="submit"]');
    await page.waitForFunction(() => window.lectern?.state === 'joined', undefined, { timeout: 30_000 });
    assert.equal(new URL(page.url()).searchParams.get('mic'), 'off');
    assert.equal(await page.getAttribute('#mic', 'aria-pressed'), 'true');
  } finally {
    await page.close();
  }
});

async function downloaded(page: Page, button: string): Promise<{ name: string; text: string }> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click(button)]);
  const file = await download.path();
  return { name: download.suggestedFilename(), text: await fs.readFile(file, 'utf8') };
}
