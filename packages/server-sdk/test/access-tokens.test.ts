// Access tokens against real signatures (jose, HS256 / EdDSA / ES256) and a real
// mediasoup worker: what the verifier refuses (UNAUTHORIZED with a reason), what
// the manager derives from a token (room, identity, role, name, grants), the
// grant table enforced for every method of the request API (FORBIDDEN with the
// missing grant), and a token reused after its identity was banned.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { allRequestSchemas } from '@lectern/protocol/schemas';
import {
  AccessToken,
  LecternError,
  methodGrants,
  RoomManager,
  TokenVerifier,
  type GrantName,
  type PeerGrants,
  type RequestMethod,
  type RoomGrant,
} from '@lectern/server-sdk';
import type { RtpCapabilities } from '@lectern/protocol';
import { notificationLog, workerTotals } from './helpers.js';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';
const OTHER_SECRET = 'another-secret-of-at-least-32-bytes!';
const now = () => Math.floor(Date.now() / 1000);

/** A token for `identity` in `room`, HS256 with SECRET unless told otherwise. */
function mint(identity: string, grant: RoomGrant, options: { name?: string; ttl?: number; key?: string; notBefore?: number; audience?: string; issuer?: string } = {}) {
  const { key = SECRET, ...rest } = options;
  return new AccessToken(key, { identity, ...rest }).addGrant(grant).toJwt();
}

/** The UNAUTHORIZED reason (or other code) a promise rejects with. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LecternError, `not a LecternError: ${String(error)}`);
  const reason = (error.details as { reason?: string } | undefined)?.reason;
  return error.code === 'UNAUTHORIZED' ? `UNAUTHORIZED:${reason}` : `${error.code}${reason ? `:${reason}` : ''}`;
}

describe('TokenVerifier', () => {
  const verifier = new TokenVerifier({ secret: SECRET, issuer: 'lms.example', audience: 'lectern' });
  const opts = { issuer: 'lms.example', audience: 'lectern' };

  test('a good token verifies: identity, name, room, role, grants over the role defaults', async () => {
    const token = await mint('ada', { room: 'r1', role: 'lecturer', canPublish: ['microphone'] }, { name: 'Ada', ...opts });
    const verified = await verifier.verify(token, { roomId: 'r1' });
    assert.equal(verified.identity, 'ada');
    assert.equal(verified.name, 'Ada');
    assert.equal(verified.roomId, 'r1');
    assert.equal(verified.role, 'lecturer');
    assert.deepEqual(verified.grants, { canPublish: ['microphone'], canSubscribe: true, canRaiseHand: true, roomAdmin: true, plainTransport: false });
    assert.ok(verified.expiresAt.getTime() > Date.now() + 500_000 && verified.expiresAt.getTime() <= Date.now() + 601_000, 'ttl 600 s by default');
    // A student's defaults are least privilege: the microphone only, no admin.
    const student = await verifier.verify(await mint('bob', { room: 'r1' }, opts));
    assert.equal(student.role, 'student');
    assert.deepEqual(student.grants, { canPublish: ['microphone'], canSubscribe: true, canRaiseHand: true, roomAdmin: false, plainTransport: false });
  });

  test('a tampered payload, a wrong key, alg none and garbage are refused', async () => {
    const token = await mint('bob', { room: 'r1' }, opts);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { lectern: RoomGrant };
    claims.lectern.role = 'lecturer';
    const tampered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    assert.equal(await refusal(verifier.verify(tampered)), 'UNAUTHORIZED:bad-signature');
    assert.equal(await refusal(verifier.verify(await mint('bob', { room: 'r1' }, { ...opts, key: OTHER_SECRET }))), 'UNAUTHORIZED:bad-signature');
    const unsigned = new UnsecuredJWT({ lectern: { room: 'r1', role: 'lecturer' } }).setSubject('bob').setExpirationTime('5m').setIssuer('lms.example').setAudience('lectern').encode();
    assert.equal(await refusal(verifier.verify(unsigned)), 'UNAUTHORIZED:algorithm-not-allowed');
    for (const junk of ['', 'a.b.c', 'not a token', 'x'.repeat(9000), 42, null, undefined, { token }]) {
      assert.equal(await refusal(verifier.verify(junk)), 'UNAUTHORIZED:malformed', `junk ${String(junk).slice(0, 20)}`);
    }
  });

  test('expired and not yet valid, with a small clock tolerance', async () => {
    const signed = (claims: Record<string, unknown>, exp: number, nbf?: number) => {
      const jwt = new SignJWT({ lectern: { room: 'r1' }, ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setIssuedAt(now() - 120)
        .setIssuer('lms.example').setAudience('lectern').setExpirationTime(exp);
      if (nbf !== undefined) jwt.setNotBefore(nbf);
      return jwt.sign(new TextEncoder().encode(SECRET));
    };
    assert.equal(await refusal(verifier.verify(await signed({}, now() - 60))), 'UNAUTHORIZED:expired');
    await verifier.verify(await signed({}, now() - 2)); // 2 s late: within the 5 s tolerance
    assert.equal(await refusal(verifier.verify(await mint('bob', { room: 'r1' }, { ...opts, notBefore: 60 }))), 'UNAUTHORIZED:not-yet-valid');
    await verifier.verify(await mint('bob', { room: 'r1' }, { ...opts, notBefore: 2 })); // 2 s early: tolerated
    const strict = new TokenVerifier({ secret: SECRET, clockToleranceSeconds: 0 });
    assert.equal(await refusal(strict.verify(await signed({}, now() - 2))), 'UNAUTHORIZED:expired');
    // No exp at all is refused; so is a lifetime over maxTtlSeconds.
    const noExp = await new SignJWT({ lectern: { room: 'r1' } }).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').sign(new TextEncoder().encode(SECRET));
    assert.match(await refusal(strict.verify(noExp)), /^UNAUTHORIZED:(invalid-claims|malformed)$/);
    const shortLived = new TokenVerifier({ secret: SECRET, maxTtlSeconds: 3600 });
    assert.equal(await refusal(shortLived.verify(await mint('bob', { room: 'r1' }, { ttl: 7200 }))), 'UNAUTHORIZED:too-long-lived');
    await shortLived.verify(await mint('bob', { room: 'r1' }, { ttl: 3600 }));
  });

  test('wrong room, audience and issuer', async () => {
    const token = await mint('bob', { room: 'r1' }, opts);
    assert.equal(await refusal(verifier.verify(token, { roomId: 'r2' })), 'UNAUTHORIZED:wrong-room');
    assert.equal(await refusal(verifier.verify(await mint('bob', { room: 'r1' }, { ...opts, audience: 'another-app' }))), 'UNAUTHORIZED:wrong-audience');
    assert.equal(await refusal(verifier.verify(await mint('bob', { room: 'r1' }, { issuer: 'lms.example' }))), 'UNAUTHORIZED:wrong-audience');
    assert.equal(await refusal(verifier.verify(await mint('bob', { room: 'r1' }, { ...opts, issuer: 'evil.example' }))), 'UNAUTHORIZED:wrong-issuer');
  });

  test('signed claims of the wrong shape are refused (invalid-claims)', async () => {
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setIssuedAt().setExpirationTime('5m').setIssuer('lms.example').setAudience('lectern').sign(new TextEncoder().encode(SECRET));
    for (const claims of [{}, { lectern: {} }, { lectern: { room: 'r 1' } }, { lectern: { room: 'r1', role: 'admin' } }, { lectern: { room: 'r1', canPublish: ['hologram'] } }, { lectern: { room: 'r1', superpower: true } }]) {
      assert.equal(await refusal(verifier.verify(await sign(claims))), 'UNAUTHORIZED:invalid-claims', JSON.stringify(claims));
    }
  });

  test('EdDSA and ES256 public keys; the kid picks the key; HS256 is not accepted without a secret', async () => {
    const ed = generateKeyPairSync('ed25519');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ed25519');
    const keys = new TokenVerifier({
      publicKeys: [
        { alg: 'EdDSA', key: ed.publicKey, kid: 'ed-1' },
        { alg: 'EdDSA', key: other.publicKey, kid: 'ed-2' },
        { alg: 'ES256', key: ec.publicKey.export({ format: 'jwk' }) },
      ],
    });
    const edToken = await new AccessToken({ alg: 'EdDSA', key: ed.privateKey, kid: 'ed-1' }, { identity: 'ada' }).addGrant({ room: 'r1', role: 'lecturer' }).toJwt();
    assert.equal((await keys.verify(edToken)).role, 'lecturer');
    const ecToken = await new AccessToken({ alg: 'ES256', key: ec.privateKey }, { identity: 'bob' }).addGrant({ room: 'r1' }).toJwt();
    assert.equal((await keys.verify(ecToken)).identity, 'bob');
    // Signed by ed but naming the other key's id: the signature does not verify with that key.
    const lying = await new AccessToken({ alg: 'EdDSA', key: ed.privateKey, kid: 'ed-2' }, { identity: 'ada' }).addGrant({ room: 'r1' }).toJwt();
    assert.equal(await refusal(keys.verify(lying)), 'UNAUTHORIZED:bad-signature');
    // Two EdDSA keys and no kid: which one is ambiguous.
    const noKid = await new AccessToken({ alg: 'EdDSA', key: ed.privateKey }, { identity: 'ada' }).addGrant({ room: 'r1' }).toJwt();
    assert.equal(await refusal(keys.verify(noKid)), 'UNAUTHORIZED:unknown-key');
    // Algorithm confusion: an HS256 token "signed" with the public key's bytes is refused outright.
    const pem = ed.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const confused = await new SignJWT({ lectern: { room: 'r1', role: 'lecturer' } }).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setExpirationTime('5m').sign(new TextEncoder().encode(pem));
    assert.equal(await refusal(keys.verify(confused)), 'UNAUTHORIZED:algorithm-not-allowed');
  });

  test('configuration mistakes are INVALID_CONFIG', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as LecternError).code;
      }
      return 'no error';
    };
    assert.equal(code(() => new TokenVerifier({})), 'INVALID_CONFIG');
    assert.equal(code(() => new TokenVerifier({ secret: 'short' })), 'INVALID_CONFIG');
    assert.equal(code(() => new AccessToken('short', { identity: 'a' })), 'INVALID_CONFIG');
    assert.equal(code(() => new AccessToken(SECRET, { identity: 'a', ttl: 0 })), 'INVALID_CONFIG');
    assert.equal(code(() => new AccessToken(SECRET, { identity: 'a' }).addGrant({ room: 'bad room' })), 'INVALID_CONFIG');
  });
});

describe('RoomManager with tokens', () => {
  let manager: RoomManager;
  let caps: RtpCapabilities;
  const opus = (ssrc: number) => ({ codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] });
  const vp8 = (ssrc: number) => ({ codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc }] });

  before(async () => {
    manager = await RoomManager.create({
      workers: { numWorkers: 1 },
      room: { studentMedia: 'all' },
      plainTransport: { enabled: true },
      emptyRoomTimeoutMs: null,
      auth: { secret: SECRET, audience: 'lectern' },
    });
    caps = (await manager.request({ roomId: 'caps', peerId: 'caps' }, 'getRouterRtpCapabilities', {})).routerRtpCapabilities;
    manager.closeRoom('caps');
  });
  after(() => manager?.close());

  const tokenFor = (identity: string, grant: RoomGrant, name?: string) => mint(identity, grant, { audience: 'lectern', ...(name ? { name } : {}) });

  test('the context comes from the token: identity, role, name (over the client\'s) and grants', async () => {
    const token = await tokenFor('ada', { room: 'tk-join', role: 'lecturer' }, 'Ada Lovelace');
    const context = await manager.verifyToken(token);
    assert.deepEqual({ ...context, grants: undefined }, { roomId: 'tk-join', peerId: 'ada', role: 'lecturer', displayName: 'Ada Lovelace', grants: undefined });
    const reply = (await manager.handleWithToken(token, 'join', { rtpCapabilities: caps, displayName: 'Mallory' })) as { peerId: string; role: string; grants: PeerGrants };
    assert.equal(reply.peerId, 'ada');
    assert.equal(reply.role, 'lecturer');
    assert.equal(reply.grants.roomAdmin, true);
    assert.equal(manager.getRoom('tk-join')!.peerInfo('ada')!.displayName, 'Ada Lovelace', "the host's name wins over the client's");
    // A bad token is UNAUTHORIZED and reported like any failed request.
    const failures: string[] = [];
    manager.on('requestFailed', (e) => failures.push(e.error.code));
    assert.equal(await refusal(manager.handleWithToken(`${token}x`, 'getHandQueue', {})), 'UNAUTHORIZED:bad-signature');
    assert.equal(await refusal(manager.handleWithToken(await mint('ada', { room: 'tk-join' }), 'getHandQueue', {})), 'UNAUTHORIZED:wrong-audience');
    assert.equal(await refusal(manager.verifyToken(token, { roomId: 'elsewhere' })), 'UNAUTHORIZED:wrong-room');
    assert.deepEqual(failures, ['UNAUTHORIZED', 'UNAUTHORIZED']);
    manager.closeRoom('tk-join');
  });

  test('a student without canPublish camera cannot publish a camera; with it, it can', async () => {
    const room = 'tk-publish';
    const micOnly = await tokenFor('s-mic', { room }); // default student grant: microphone only
    const withCamera = await tokenFor('s-cam', { room, canPublish: ['microphone', 'camera'] });
    for (const token of [micOnly, withCamera]) await manager.handleWithToken(token, 'join', { rtpCapabilities: caps });
    const send = async (token: string) => ((await manager.handleWithToken(token, 'createWebRtcTransport', { direction: 'send' })) as { transportId: string }).transportId;
    const micSend = await send(micOnly);
    const camSend = await send(withCamera);
    const refusedCamera = await manager.handleWithToken(micOnly, 'produce', { transportId: micSend, kind: 'video', source: 'camera', rtpParameters: vp8(1) }).catch((e: LecternError) => e);
    assert.ok(refusedCamera instanceof LecternError);
    assert.equal(refusedCamera.code, 'FORBIDDEN');
    assert.deepEqual(refusedCamera.details, { grant: 'canPublish', what: 'camera' });
    await manager.handleWithToken(micOnly, 'produce', { transportId: micSend, kind: 'audio', source: 'microphone', rtpParameters: opus(2) });
    await manager.handleWithToken(withCamera, 'produce', { transportId: camSend, kind: 'video', source: 'camera', rtpParameters: vp8(3) });
    assert.deepEqual(manager.getRoom(room)!.producerInfos().map((p) => `${p.peerId}:${p.source}`).sort(), ['s-cam:camera', 's-mic:microphone']);
    // No publish grant at all: not even a send transport.
    const listener = await tokenFor('s-none', { room, canPublish: [] });
    await manager.handleWithToken(listener, 'join', { rtpCapabilities: caps });
    assert.equal(await refusal(manager.handleWithToken(listener, 'createWebRtcTransport', { direction: 'send' })), 'FORBIDDEN');
    manager.closeRoom(room);
  });

  /**
   * A valid payload for every method (unknown ids are fine: the grant is checked
   * before the handler looks anything up). Typed over every method: a new
   * method does not compile until it has a row here.
   */
  const payloads: { [M in RequestMethod]: unknown } = {
    getRouterRtpCapabilities: {},
    join: { rtpCapabilities: {} },
    createWebRtcTransport: { direction: 'recv' },
    connectTransport: { transportId: 'unknown', dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] } },
    restartIce: { transportId: 'unknown' },
    createPlainTransport: {},
    connectPlainTransport: { transportId: 'unknown', ip: '127.0.0.1', port: 9 },
    produce: { transportId: 'unknown', kind: 'audio', source: 'microphone', rtpParameters: opus(9) },
    closeProducer: { producerId: 'unknown' },
    pauseProducer: { producerId: 'unknown' },
    resumeProducer: { producerId: 'unknown' },
    consume: { producerId: 'unknown' },
    pauseConsumer: { consumerId: 'unknown' },
    resumeConsumer: { consumerId: 'unknown' },
    setConsumerPreferredLayers: { consumerId: 'unknown', spatialLayer: 0 },
    leave: {},
    sendGesture: { gesture: 'thumbs-up', phase: 'start', confidence: 0.9 },
    raiseHand: {},
    lowerHand: {},
    getHandQueue: {},
    dismissHand: { peerId: 'unknown' },
    clearHandQueue: {},
    listPeers: {},
    removePeer: { peerId: 'unknown' },
    muteProducer: { producerId: 'unknown' },
    endRoom: { reason: 'grant table test' },
  };
  /** The grant each requirement names when missing, and the grants that lack it. */
  const ALL: PeerGrants = { canPublish: ['microphone', 'camera', 'screen', 'screen-audio'], canSubscribe: true, canRaiseHand: true, roomAdmin: true, plainTransport: true };
  const lacking: Record<string, { grant: GrantName; grants: PeerGrants }> = {
    publish: { grant: 'canPublish', grants: { ...ALL, canPublish: ['camera', 'screen', 'screen-audio'] } },
    transport: { grant: 'canSubscribe', grants: { ...ALL, canSubscribe: false } }, // the payload asks for a recv transport
    subscribe: { grant: 'canSubscribe', grants: { ...ALL, canSubscribe: false } },
    raiseHand: { grant: 'canRaiseHand', grants: { ...ALL, canRaiseHand: false } },
    roomAdmin: { grant: 'roomAdmin', grants: { ...ALL, roomAdmin: false } },
    plainTransport: { grant: 'plainTransport', grants: { ...ALL, plainTransport: false } },
  };
  const NONE: PeerGrants = { canPublish: [], canSubscribe: false, canRaiseHand: false, roomAdmin: false, plainTransport: false };
  const grantError = (e: unknown) => (e instanceof LecternError && e.code === 'FORBIDDEN' ? (e.details as { grant?: string } | undefined)?.grant : undefined);

  test('the grant table names every method of the schemas', () => {
    assert.deepEqual(Object.keys(methodGrants).sort(), Object.keys(allRequestSchemas).sort());
    assert.deepEqual(Object.keys(payloads).sort(), Object.keys(allRequestSchemas).sort());
  });

  for (const method of Object.keys(allRequestSchemas) as RequestMethod[]) {
    const requirement = methodGrants[method];
    test(`grants: ${method} needs ${requirement === 'member' ? 'no grant' : lacking[requirement]!.grant}`, async () => {
      const room = `grants-${method}`;
      const without = requirement === 'member' ? NONE : lacking[requirement]!.grants;
      const denied = await tokenFor('without', { room, role: 'lecturer', ...without });
      const allowed = await tokenFor('with', { room, role: 'student', ...ALL });
      const scoped = method !== 'join' && method !== 'getRouterRtpCapabilities';
      if (scoped) for (const token of [denied, allowed]) await manager.handleWithToken(token, 'join', { rtpCapabilities: caps });
      const data = method === 'join' ? { rtpCapabilities: caps } : payloads[method];
      const deniedOutcome = await manager.handleWithToken(denied, method, data).then(() => undefined, (e: unknown) => e);
      if (requirement === 'member') {
        assert.equal(grantError(deniedOutcome), undefined, `${method} refused for a grant: ${String(deniedOutcome)}`);
      } else {
        assert.equal(grantError(deniedOutcome), lacking[requirement]!.grant, `${method}: ${String(deniedOutcome)}`);
        assert.match((deniedOutcome as LecternError).message, new RegExp(`${method} needs the ${lacking[requirement]!.grant} grant`));
      }
      const allowedOutcome = await manager.handleWithToken(allowed, method, data).then(() => undefined, (e: unknown) => e);
      assert.equal(grantError(allowedOutcome), undefined, `${method} with every grant: ${String(allowedOutcome)}`);
      manager.closeRoom(room);
    });
  }

  test('the same rules hold for trusted contexts that state grants, and a joined peer keeps the grants it joined with', async () => {
    const room = 'trusted-grants';
    const context = { roomId: room, peerId: 'quiet', role: 'student' as const, grants: { canRaiseHand: false } };
    await manager.handle(context, 'join', { rtpCapabilities: caps });
    assert.equal(grantError(await manager.handle(context, 'raiseHand', {}).catch((e: unknown) => e)), 'canRaiseHand');
    // A later context claiming more does not widen what the peer joined with.
    const louder = { roomId: room, peerId: 'quiet', role: 'lecturer' as const, grants: { canRaiseHand: true, roomAdmin: true } };
    assert.equal(grantError(await manager.handle(louder, 'raiseHand', {}).catch((e: unknown) => e)), 'canRaiseHand');
    assert.equal(grantError(await manager.handle(louder, 'clearHandQueue', {}).catch((e: unknown) => e)), 'roomAdmin');
    manager.closeRoom(room);
  });

  test('a token reused after its identity was banned is refused; a removal without ban lets it back', async () => {
    const room = 'tk-ban';
    const log = notificationLog(manager);
    const lecturer = await tokenFor('lecturer', { room, role: 'lecturer' });
    const kicked = await tokenFor('kicked', { room });
    const banned = await tokenFor('banned', { room });
    const start = workerTotals(manager);
    await manager.handleWithToken(lecturer, 'join', { rtpCapabilities: caps });
    for (const token of [kicked, banned]) {
      await manager.handleWithToken(token, 'join', { rtpCapabilities: caps });
      await manager.handleWithToken(token, 'createWebRtcTransport', { direction: 'recv' });
    }
    assert.equal(workerTotals(manager).transports, start.transports + 2);

    await manager.handleWithToken(lecturer, 'removePeer', { peerId: 'kicked', reason: 'off topic' });
    await manager.handleWithToken(lecturer, 'removePeer', { peerId: 'banned', reason: 'disruptive', ban: true });
    assert.equal(workerTotals(manager).transports, start.transports, "the removed peers' transports closed");
    const removed = log.filter((n) => n.roomId === room && n.name === 'removed');
    assert.deepEqual(removed.map((n) => [n.to, n.data]), [
      [['kicked'], { reason: 'off topic', banned: false, by: 'lecturer' }],
      [['banned'], { reason: 'disruptive', banned: true, by: 'lecturer' }],
    ]);
    assert.deepEqual(
      log.filter((n) => n.roomId === room && n.name === 'peerLeft' && n.to.includes('lecturer')).map((n) => n.data),
      [{ peerId: 'kicked', reason: 'removed' }, { peerId: 'banned', reason: 'removed' }],
    );

    // The banned identity's (still valid) token: refused at verification and at join.
    assert.equal(await refusal(manager.verifyToken(banned)), 'FORBIDDEN:banned');
    assert.equal(await refusal(manager.handleWithToken(banned, 'join', { rtpCapabilities: caps })), 'FORBIDDEN:banned');
    // A new token for the same identity does not help; the trusted path is refused too.
    assert.equal(await refusal(manager.handleWithToken(await tokenFor('banned', { room }), 'join', { rtpCapabilities: caps })), 'FORBIDDEN:banned');
    assert.equal(await refusal(manager.handle({ roomId: room, peerId: 'banned', role: 'student' }, 'join', { rtpCapabilities: caps })), 'FORBIDDEN:banned');
    // Not banned: the same token joins again.
    await manager.handleWithToken(kicked, 'join', { rtpCapabilities: caps });
    // The ban lasts the room's lifetime: once the room closed, the identity may join the new room of that id.
    manager.closeRoom(room);
    await manager.handleWithToken(banned, 'join', { rtpCapabilities: caps });
    manager.closeRoom(room);
  });

  test('a timed ban outlives the room and ends on time', async () => {
    const room = 'tk-timed-ban';
    const lecturer = await tokenFor('lecturer', { room, role: 'lecturer' });
    const student = await tokenFor('student', { room });
    await manager.handleWithToken(lecturer, 'join', { rtpCapabilities: caps });
    await manager.handleWithToken(student, 'join', { rtpCapabilities: caps });
    await manager.handleWithToken(lecturer, 'removePeer', { peerId: 'student', ban: true, banSeconds: 1 });
    manager.closeRoom(room);
    assert.equal(await refusal(manager.handleWithToken(student, 'join', { rtpCapabilities: caps })), 'FORBIDDEN:banned');
    await new Promise((r) => setTimeout(r, 1100));
    await manager.handleWithToken(student, 'join', { rtpCapabilities: caps });
    manager.closeRoom(room);
  });

  test('without auth configured, tokens are INVALID_CONFIG', async () => {
    const bare = await RoomManager.create({ workers: { numWorkers: 1 } });
    try {
      assert.equal(await refusal(bare.verifyToken(await tokenFor('a', { room: 'r' }))), 'INVALID_CONFIG');
    } finally {
      bare.close();
    }
  });
});
