// The lecture app's access flow: /api/join (the demo's stand-in for the LMS)
// mints an access token; /ws takes only a token (401 without a good one, 403
// once banned) and the server derives room, identity, role, name and grants
// from it. A lecturer removes (and bans) a student over the signaling: the
// student hears `removed`, its socket closes with 4001, and its token no longer
// opens a connection. Real app, real mediasoup worker, real signatures.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { AccessToken } from '@lectern/server-sdk';
import { freeTcpPort } from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';
import { TOKEN_AUDIENCE, type JoinReply } from '../server/join-api.js';
import { SignalingPeer, until } from './hardening-helpers.js';

const SECRET = 'the-lecture-app-test-secret-32-bytes+';
let tmp: string;
let app: LectureApp;
const silent = { warn: () => undefined, error: () => undefined };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-access-'));
  app = await startLectureApp({
    port: 0,
    whisperUrl: `http://127.0.0.1:${await freeTcpPort()}`, // never transcribes
    manager: { workers: { numWorkers: 1 }, room: { studentMedia: 'all' } },
    transcription: { workDir: path.join(tmp, 'work') },
    tokenSecret: SECRET,
    logger: silent,
  });
});
after(async () => {
  await app?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function join(query: Record<string, string>): Promise<{ status: number; body: JoinReply & { error?: { code: string } } }> {
  const response = await fetch(`${app.url}/api/join?${new URLSearchParams(query)}`);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  return { status: response.status, body: (await response.json()) as JoinReply & { error?: { code: string } } };
}

/** The HTTP status a WebSocket upgrade to `/ws?query` is refused with (or 101). */
function upgradeStatus(query: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${app.url.replace(/^http/, 'ws')}/ws?${query}`);
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

const connect = (token: string) => SignalingPeer.connect(app.url, new URLSearchParams({ token }).toString());

test('/api/join mints a token for the form\'s fields; bad fields are 400', async () => {
  const { status, body } = await join({ room: 'access', role: 'student', name: 'Bob', peer: 'bob' });
  assert.equal(status, 200);
  assert.deepEqual({ ...body, token: undefined, expiresAt: undefined }, { token: undefined, expiresAt: undefined, roomId: 'access', peerId: 'bob', role: 'student', name: 'Bob' });
  const context = await app.manager.verifyToken(body.token);
  assert.deepEqual({ ...context, grants: undefined }, { roomId: 'access', peerId: 'bob', role: 'student', displayName: 'Bob', grants: undefined });
  assert.deepEqual(context.grants?.canPublish, ['microphone']);
  for (const bad of [{ room: 'access', role: 'admin', name: 'x' }, { room: 'bad room', role: 'student', name: 'x' }, { room: 'access', role: 'student', name: '' }]) {
    assert.equal((await join(bad)).status, 400, JSON.stringify(bad));
  }
});

test('/ws takes only a verified token: none, tampered, foreign or expired is 401', async () => {
  assert.equal(await upgradeStatus('room=access&peer=bob&role=lecturer'), 401, 'the old URL interface is refused');
  const { body } = await join({ room: 'access', role: 'student', name: 'Bob', peer: 'bob' });
  const [header, payload, signature] = body.token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { lectern: { role: string } };
  claims.lectern.role = 'lecturer';
  assert.equal(await upgradeStatus(`token=${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`), 401);
  const foreign = await new AccessToken('some-other-apps-secret-of-32-bytes!!', { identity: 'bob', audience: TOKEN_AUDIENCE }).addGrant({ room: 'access', role: 'lecturer' }).toJwt();
  assert.equal(await upgradeStatus(`token=${foreign}`), 401);
  const expired = await new AccessToken(SECRET, { identity: 'bob', audience: TOKEN_AUDIENCE, ttl: 1 }).addGrant({ room: 'access' }).toJwt();
  await new Promise((r) => setTimeout(r, 6_500)); // past the 5 s clock tolerance
  assert.equal(await upgradeStatus(`token=${expired}`), 401);
  assert.equal(await upgradeStatus(`token=${body.token}`), 101);
});

test('the server acts on the token, not on what the page says; a lecturer removes and bans a student', { timeout: 60_000 }, async () => {
  const lecturerJoin = (await join({ room: 'access-ban', role: 'lecturer', name: 'Ada', peer: 'ada' })).body;
  const studentJoin = (await join({ room: 'access-ban', role: 'student', name: 'Bob', peer: 'bob' })).body;
  const lecturer = await connect(lecturerJoin.token);
  const student = await connect(studentJoin.token);
  const joined = await student.request('join', { rtpCapabilities: {}, displayName: 'Professor Bob' });
  assert.equal(joined.error, undefined, JSON.stringify(joined.error));
  assert.equal((joined.data as { role: string }).role, 'student');
  assert.equal(app.manager.getRoom('access-ban')!.peerInfo('bob')!.displayName, 'Bob', "the token's name, not the page's");
  assert.equal((await lecturer.request('join', { rtpCapabilities: {} })).error, undefined);
  // The student's grants: no admin API, no camera.
  assert.equal((await student.request('listPeers')).error?.code, 'FORBIDDEN');
  assert.equal((await student.request('removePeer', { peerId: 'ada' })).error?.code, 'FORBIDDEN');
  const peers = await lecturer.request('listPeers');
  assert.deepEqual((peers.data as { peers: { peerId: string; role: string }[] }).peers.map((p) => [p.peerId, p.role]), [['bob', 'student'], ['ada', 'lecturer']]);

  const removed = await lecturer.request('removePeer', { peerId: 'bob', reason: 'disruptive', ban: true });
  assert.equal(removed.error, undefined, JSON.stringify(removed.error));
  await until('the student is disconnected', () => student.closed !== undefined);
  assert.deepEqual(student.closed, { code: 4001, reason: 'removed from the room' });
  assert.deepEqual(student.notifications.find((n) => n.notification === 'removed')?.data, { reason: 'disruptive', banned: true, by: 'ada' });
  assert.deepEqual(lecturer.notifications.filter((n) => n.notification === 'peerLeft').map((n) => n.data), [{ peerId: 'bob', reason: 'removed' }]);
  assert.equal(app.manager.getRoom('access-ban')!.hasPeer('bob'), false);
  // The same (unexpired) token, and a fresh one for the same identity, no longer open a connection.
  assert.equal(await upgradeStatus(`token=${studentJoin.token}`), 403);
  assert.equal(await upgradeStatus(`token=${(await join({ room: 'access-ban', role: 'student', name: 'Bob', peer: 'bob' })).body.token}`), 403);
  await lecturer.closeAndWait();
});
