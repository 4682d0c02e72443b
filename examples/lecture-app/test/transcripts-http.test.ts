// The lecture app's transcript routes: a room's lectures and a lecture's
// subtitles (WebVTT / SRT, parsed strictly), for the room's lecturer or a
// roomAdmin grant, authorised by the access token (Bearer or ?token=), never
// across rooms. Real app, real mediasoup worker, real signatures.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { AccessToken, type RoomGrant } from '@lectern/server-sdk';
import { freeTcpPort } from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';
import { TOKEN_AUDIENCE } from '../server/join-api.js';
import { transcriptRoute } from '../server/transcripts.js';
import { parseSrt, parseWebVtt } from '../../../packages/server-sdk/test/subtitle-parser.js';

const SECRET = 'the-transcript-route-test-secret-32b+';
let tmp: string;
let app: LectureApp;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-transcripts-http-'));
  app = await startLectureApp({
    port: 0,
    whisperUrl: `http://127.0.0.1:${await freeTcpPort()}`, // never transcribes: the store is filled directly
    manager: { workers: { numWorkers: 1 } },
    transcription: { workDir: path.join(tmp, 'work') },
    tokenSecret: SECRET,
    logger: { warn: () => undefined, error: () => undefined },
  });
  const store = app.transcription.store;
  await store.putLecture({ lectureId: 'bio-mon', roomId: 'bio', startedAt: '2024-05-06T09:00:00.000Z', endedAt: '2024-05-06T10:00:00.000Z', language: 'en' });
  await store.putBatch('bio-mon', 'b0', [
    { batchId: 'b0', index: 0, start: 0, end: 3, text: 'Welcome to biology.' },
    { batchId: 'b0', index: 1, start: 2.5, end: 6, text: 'Cells & membranes.' },
  ]);
  // The live captions' finals: other words and times than the batch transcript, so a mix-up shows.
  await store.putBatch('bio-mon', 'live-0', [
    { batchId: 'live-0', index: 0, start: 0.4, end: 2.9, text: 'Welcome to bio logy.' },
    { batchId: 'live-0', index: 1, start: 3.1, end: 5.8, text: 'Cells and membranes.' },
  ], { source: 'live' });
  await store.putSummary('bio-mon', { text: 'Cells.', keyPoints: ['Cells.'], generator: 'test', createdAt: '2024-05-06T10:00:01.000Z', coveredSeconds: 6 });
  await store.putLecture({ lectureId: 'bio-tue', roomId: 'bio', startedAt: '2024-05-07T09:00:00.000Z' });
  await store.putLecture({ lectureId: 'chem-mon', roomId: 'chem', startedAt: '2024-05-06T11:00:00.000Z' });
  await store.putBatch('chem-mon', 'b0', [{ batchId: 'b0', index: 0, start: 0, end: 2, text: 'Secret chemistry.' }]);
});
after(async () => {
  await app?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const token = (grant: RoomGrant, identity = 'someone') =>
  new AccessToken(SECRET, { identity, ttl: 300, audience: TOKEN_AUDIENCE }).addGrant(grant).toJwt();
const lecturer = () => token({ room: 'bio', role: 'lecturer' }, 'ada');

async function get(pathAndQuery: string, bearer?: string, method = 'GET') {
  const response = await fetch(`${app.url}${pathAndQuery}`, { method, headers: bearer ? { Authorization: `Bearer ${bearer}` } : {} });
  return { status: response.status, headers: response.headers, text: await response.text() };
}
const errorCode = (text: string) => (JSON.parse(text) as { error: { code: string } }).error.code;

test('the lecturer downloads the lecture as WebVTT (Bearer) and SRT (?token=): valid files, attachment, no-store', async () => {
  const vtt = await get('/api/lectures/bio-mon/transcript.vtt', await lecturer());
  assert.equal(vtt.status, 200, vtt.text);
  assert.equal(vtt.headers.get('content-type'), 'text/vtt; charset=utf-8');
  assert.equal(vtt.headers.get('content-disposition'), 'attachment; filename="bio-mon.vtt"');
  assert.equal(vtt.headers.get('cache-control'), 'no-store');
  const cues = parseWebVtt(vtt.text);
  assert.deepEqual(cues.map((c) => [c.startMs, c.endMs, c.lines.join(' ')]), [
    [0, 2500, 'Welcome to biology.'],
    [2500, 6000, 'Cells &amp; membranes.'],
  ]);
  const srt = await get(`/api/lectures/bio-mon/transcript.srt?${new URLSearchParams({ token: await lecturer() })}`);
  assert.equal(srt.status, 200, srt.text);
  assert.equal(srt.headers.get('content-type'), 'application/x-subrip; charset=utf-8');
  assert.deepEqual(parseSrt(srt.text), cues);
  const head = await get('/api/lectures/bio-mon/transcript.vtt', await lecturer(), 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
});

test('?source=live exports the live captions (WebVTT and SRT, parsed strictly); batch is the default; any other source is 400', async () => {
  const live = await get('/api/lectures/bio-mon/transcript.vtt?source=live', await lecturer());
  assert.equal(live.status, 200, live.text);
  assert.equal(live.headers.get('content-type'), 'text/vtt; charset=utf-8');
  assert.equal(live.headers.get('content-disposition'), 'attachment; filename="bio-mon.live.vtt"');
  const cues = parseWebVtt(live.text);
  assert.deepEqual(cues.map((c) => [c.startMs, c.endMs, c.lines.join(' ')]), [
    [400, 2900, 'Welcome to bio logy.'],
    [3100, 5800, 'Cells and membranes.'],
  ]);
  const srt = await get('/api/lectures/bio-mon/transcript.srt?source=live', await lecturer());
  assert.equal(srt.status, 200, srt.text);
  assert.deepEqual(parseSrt(srt.text), cues);
  const batch = await get('/api/lectures/bio-mon/transcript.vtt?source=batch', await lecturer());
  assert.equal(batch.status, 200, batch.text);
  assert.equal(batch.text, (await get('/api/lectures/bio-mon/transcript.vtt', await lecturer())).text);
  assert.equal(batch.headers.get('content-disposition'), 'attachment; filename="bio-mon.vtt"');
  for (const query of ['source=LIVE', 'source=', 'source=captions', 'source=live&source=batch']) {
    const refused = await get(`/api/lectures/bio-mon/transcript.vtt?${query}`, await lecturer());
    assert.deepEqual([refused.status, errorCode(refused.text)], [400, 'INVALID_REQUEST'], query);
  }
  // The token is checked first: a bad source does not answer anyone without one.
  assert.equal((await get('/api/lectures/bio-mon/transcript.vtt?source=nope')).status, 401);
});

test("the room's lectures, oldest first, with status, time range and status filters", async () => {
  const all = await get('/api/rooms/bio/lectures', await lecturer());
  assert.equal(all.status, 200, all.text);
  const body = JSON.parse(all.text) as { roomId: string; lectures: { lectureId: string; status: string }[] };
  assert.equal(body.roomId, 'bio');
  assert.deepEqual(body.lectures.map((l) => [l.lectureId, l.status]), [['bio-mon', 'summarised'], ['bio-tue', 'running']]);
  const filtered = await get(`/api/rooms/bio/lectures?${new URLSearchParams({ from: '2024-05-07T00:00:00Z', status: 'running,stopped' })}`, await lecturer());
  assert.deepEqual((JSON.parse(filtered.text) as typeof body).lectures.map((l) => l.lectureId), ['bio-tue']);
  const badFilter = await get('/api/rooms/bio/lectures?status=paused', await lecturer());
  assert.deepEqual([badFilter.status, errorCode(badFilter.text)], [400, 'INVALID_REQUEST']);
});

test('refused: no or bad token (401), a student (403), another room (403 for its list, 404 for its lecture), unknown lectures (404)', async () => {
  const none = await get('/api/lectures/bio-mon/transcript.vtt');
  assert.deepEqual([none.status, errorCode(none.text)], [401, 'UNAUTHORIZED']);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  const forged = await get('/api/lectures/bio-mon/transcript.vtt', `${await lecturer()}x`);
  assert.deepEqual([forged.status, errorCode(forged.text)], [401, 'UNAUTHORIZED']);
  const otherSecret = await new AccessToken('another-secret-that-is-32-bytes-long!', { identity: 'ada', ttl: 300, audience: TOKEN_AUDIENCE })
    .addGrant({ room: 'bio', role: 'lecturer' })
    .toJwt();
  assert.equal((await get('/api/rooms/bio/lectures', otherSecret)).status, 401);

  const student = await token({ room: 'bio', role: 'student' }, 'bob');
  for (const route of ['/api/lectures/bio-mon/transcript.vtt', '/api/rooms/bio/lectures']) {
    const refused = await get(route, student);
    assert.deepEqual([refused.status, errorCode(refused.text)], [403, 'FORBIDDEN'], route);
  }
  const chemLecture = await get('/api/lectures/chem-mon/transcript.vtt', await lecturer());
  assert.deepEqual([chemLecture.status, errorCode(chemLecture.text)], [404, 'NOT_FOUND']);
  assert.ok(!chemLecture.text.includes('Secret'), 'nothing of the other room leaks');
  const chemList = await get('/api/rooms/chem/lectures', await lecturer());
  assert.deepEqual([chemList.status, errorCode(chemList.text)], [403, 'FORBIDDEN']);
  assert.equal((await get('/api/lectures/nope/transcript.srt', await lecturer())).status, 404);
});

test('a student with the roomAdmin grant may download; other paths are not these routes', async () => {
  const assistant = await token({ room: 'bio', role: 'student', roomAdmin: true }, 'ta');
  const ok = await get('/api/lectures/bio-tue/transcript.vtt', assistant);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.text, 'WEBVTT\n', 'a lecture with no transcript yet: a valid file without cues');
  assert.equal(transcriptRoute(['api', 'lectures', 'x', 'transcript.txt']), undefined);
  assert.equal(transcriptRoute(['api', 'lectures', 'x', 'transcript.vtt', 'more']), undefined);
  assert.deepEqual(transcriptRoute(['api', 'rooms', 'r', 'lectures']), { kind: 'list', roomId: 'r' });
  assert.equal((await get('/api/lectures/bio-mon/transcript.txt', await lecturer())).status, 404);
});
