// LTI 1.3 launches into the lecture app, against a platform simulator
// (lti-platform.ts: its own RSA keys, JWKS and OIDC auth endpoint; a real LMS
// cannot run here) and a browser made of fetch + a cookie jar: the OIDC login
// initiation, the platform's auto-posted id_token, the launch, the one-time
// code exchanged for a Lectern access token, and joining the room over /ws
// with it. Then every refusal, each with its stable code. Real app, real
// mediasoup worker, real RS256 signatures.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { freeTcpPort } from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';
import type { JoinReply } from '../server/join-api.js';
import { SignalingPeer } from './hardening-helpers.js';
import { CLAIM, CookieBrowser, newPlatformKey, parseAutoPostForm, PlatformSimulator, ROLE, type LaunchSpec } from './lti-platform.js';

/** Short, so the rotation test need not wait jose's default 30 s before refetching the JWKS. */
const JWKS_COOLDOWN_MS = 1_000;
let tmp: string;
let app: LectureApp;
let platform: PlatformSimulator;
let other: PlatformSimulator;
let deadJwksUrl: string;
const silent = { warn: () => undefined, error: () => undefined };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-lti-'));
  platform = await PlatformSimulator.start();
  other = await PlatformSimulator.start();
  deadJwksUrl = `http://127.0.0.1:${await freeTcpPort()}/jwks`; // nothing listens there
  app = await startLectureApp({
    port: 0,
    whisperUrl: `http://127.0.0.1:${await freeTcpPort()}`, // never transcribes
    manager: { workers: { numWorkers: 1 } },
    transcription: { workDir: path.join(tmp, 'work') },
    logger: silent,
    lti: {
      platforms: [
        platform.registration,
        other.registration,
        { issuer: 'https://down.example', clientId: 'c', deploymentIds: ['d'], authLoginUrl: 'https://down.example/auth', jwksUrl: deadJwksUrl },
      ],
      jwksCooldownMs: JWKS_COOLDOWN_MS,
    },
  });
  for (const p of [platform, other]) p.tool = { redirectUri: app.lti!.launchUrl, targetLinkUri: `${app.url}/` };
});
after(async () => {
  await app?.close();
  await platform?.close();
  await other?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const instructor: LaunchSpec = { sub: 'teacher-1', name: 'Ada Lovelace', roles: [ROLE.instructor], contextId: 'bio-101' };
const learner: LaunchSpec = { sub: 'student-7', name: 'Bob Baker', roles: [ROLE.learner, ROLE.institutionStudent], contextId: 'bio-101' };

function login(browser: CookieBrowser, p: PlatformSimulator, spec: LaunchSpec, extra: Record<string, string> = {}): Promise<Response> {
  const query = new URLSearchParams({
    iss: p.issuer,
    login_hint: p.prepare(spec),
    target_link_uri: `${app.url}/`,
    lti_message_hint: 'message-7',
    client_id: p.clientId,
    lti_deployment_id: p.deploymentId,
    ...extra,
  });
  return browser.fetch(`${app.url}/lti/login?${query}`);
}

/** Login, then the browser follows the redirect to the platform, which answers with its auto-posting form. */
async function throughPlatform(browser: CookieBrowser, p: PlatformSimulator, spec: LaunchSpec): Promise<{ auth: URL; action: string; fields: Record<string, string> }> {
  const response = await login(browser, p, spec);
  assert.equal(response.status, 302, await response.text());
  const auth = new URL(response.headers.get('location')!);
  const page = await browser.fetch(auth.href);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  return { auth, ...parseAutoPostForm(html) };
}

/** The whole launch up to the tool's answer to the form post. */
async function launch(p: PlatformSimulator, spec: LaunchSpec, browser = new CookieBrowser()): Promise<{ response: Response; fields: Record<string, string>; browser: CookieBrowser }> {
  const { action, fields } = await throughPlatform(browser, p, spec);
  return { response: await browser.postForm(action, fields), fields, browser };
}

async function refusal(response: Response): Promise<{ status: number; code: string | undefined }> {
  const body = (await response.json()) as { error?: { code: string } };
  assert.equal(response.headers.get('x-lti-error'), body.error?.code);
  return { status: response.status, code: body.error?.code };
}

/** The page's half: the fragment's one-time code exchanged at /lti/session. */
async function exchange(response: Response): Promise<{ reply: JoinReply; location: URL; code: string }> {
  assert.equal(response.status, 303, await response.clone().text());
  const location = new URL(response.headers.get('location')!, app.url);
  const code = new URLSearchParams(location.hash.slice(1)).get('lti')!;
  const session = await fetch(`${app.url}/lti/session`, { method: 'POST', body: new URLSearchParams({ code }), headers: { Accept: 'application/json' } });
  assert.equal(session.status, 200, await session.clone().text());
  assert.equal(session.headers.get('cache-control'), 'no-store');
  return { reply: (await session.json()) as JoinReply, location, code };
}

test('an instructor and a learner launch from the same course: one room, lecturer and student, and they join it', { timeout: 60_000 }, async () => {
  const browser = new CookieBrowser();
  const { auth, action, fields } = await throughPlatform(browser, platform, instructor);
  // The authentication request, as LTI 1.3 core 5.1.1.2 wants it.
  assert.equal(`${auth.origin}${auth.pathname}`, platform.authLoginUrl);
  const q = auth.searchParams;
  assert.deepEqual(
    { scope: q.get('scope'), response_type: q.get('response_type'), response_mode: q.get('response_mode'), prompt: q.get('prompt'), client_id: q.get('client_id'), redirect_uri: q.get('redirect_uri'), lti_message_hint: q.get('lti_message_hint') },
    { scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none', client_id: platform.clientId, redirect_uri: app.lti!.launchUrl, lti_message_hint: 'message-7' },
  );
  assert.match(q.get('login_hint')!, /^hint-/);
  const state = q.get('state')!;
  assert.match(state, /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.get('nonce')!, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(q.get('nonce'), state);
  // The state is bound to this browser: HttpOnly, only for /lti/, short-lived; SameSite=None for the cross-site post, Secure (loopback counts as secure).
  assert.deepEqual(browser.setCookies, [`lectern_lti_${state}=1; Path=/lti/; Max-Age=300; HttpOnly; SameSite=None; Secure`]);
  assert.equal(action, app.lti!.launchUrl);
  assert.equal(fields.state, state);

  const launched = await browser.postForm(action, fields, 'text/html');
  assert.equal(launched.headers.get('cache-control'), 'no-store');
  const { reply, location, code } = await exchange(launched);
  assert.equal(location.pathname, '/');
  assert.equal(location.searchParams.get('room'), reply.roomId);
  assert.doesNotMatch(launched.headers.get('location')!, /eyJ/, 'no JWT in the URL');
  assert.deepEqual(browser.cookieNames(new URL(app.url).origin), [], 'the state cookie is cleared');
  assert.match(reply.roomId, /^lti-[A-Za-z0-9_-]{22}$/);
  assert.match(reply.peerId, /^lti-[A-Za-z0-9_-]{22}$/);
  assert.deepEqual({ role: reply.role, name: reply.name }, { role: 'lecturer', name: 'Ada Lovelace' });
  const context = await app.manager.verifyToken(reply.token);
  assert.deepEqual({ roomId: context.roomId, peerId: context.peerId, role: context.role, displayName: context.displayName }, { roomId: reply.roomId, peerId: reply.peerId, role: 'lecturer', displayName: 'Ada Lovelace' });
  assert.equal(context.grants?.roomAdmin, true);
  // The code is single use.
  const again = await fetch(`${app.url}/lti/session`, { method: 'POST', body: new URLSearchParams({ code }), headers: { Accept: 'application/json' } });
  assert.deepEqual(await refusal(again), { status: 401, code: 'invalid_code' });

  const student = (await exchange((await launch(platform, learner)).response)).reply;
  assert.deepEqual({ roomId: student.roomId, role: student.role, name: student.name }, { roomId: reply.roomId, role: 'student', name: 'Bob Baker' });
  assert.notEqual(student.peerId, reply.peerId);
  assert.deepEqual((await app.manager.verifyToken(student.token)).grants?.canPublish, ['microphone']);
  // Another course is another room; a TA lectures in it.
  const ta = (await exchange((await launch(platform, { sub: 'ta-3', roles: [ROLE.teachingAssistant], contextId: 'chem-202' })).response)).reply;
  assert.equal(ta.role, 'lecturer');
  assert.notEqual(ta.roomId, reply.roomId);
  assert.equal(platform.jwksFetches, 1, 'the JWKS is fetched once and cached');

  // Joining with the handed-over tokens: the server takes room, role and name from them.
  const lecturer = await SignalingPeer.connect(app.url, new URLSearchParams({ token: reply.token }).toString());
  const learnerPeer = await SignalingPeer.connect(app.url, new URLSearchParams({ token: student.token }).toString());
  const joined = await learnerPeer.request('join', { rtpCapabilities: {}, displayName: 'Professor Bob' });
  assert.equal(joined.error, undefined, JSON.stringify(joined.error));
  assert.equal((joined.data as { role: string }).role, 'student');
  assert.equal((await lecturer.request('join', { rtpCapabilities: {} })).error, undefined);
  const peers = await lecturer.request('listPeers');
  assert.deepEqual((peers.data as { peers: { peerId: string; role: string; displayName: string }[] }).peers.map((p) => [p.peerId, p.role, p.displayName]),
    [[student.peerId, 'student', 'Bob Baker'], [reply.peerId, 'lecturer', 'Ada Lovelace']]);
  assert.equal((await learnerPeer.request('listPeers')).error?.code, 'FORBIDDEN');
  await learnerPeer.closeAndWait();
  await lecturer.closeAndWait();
});

test('refused id_tokens: each with its code, and the state cookie is cleared anyway', async () => {
  const now = () => Math.floor(Date.now() / 1000);
  const foreignKey = await newPlatformKey();
  const cases: { name: string; spec: Partial<LaunchSpec>; status: number; code: string }[] = [
    {
      name: 'tampered payload (roles raised to instructor after signing)',
      spec: {
        tamper: (jwt) => {
          const [h, p, s] = jwt.split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
          claims[CLAIM.roles] = [ROLE.instructor];
          return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
        },
      },
      status: 401, code: 'bad_signature',
    },
    { name: 'another key under the platform\'s kid', spec: { signWith: { ...foreignKey, kid: platform.signingKey.kid } }, status: 401, code: 'bad_signature' },
    { name: 'a kid the platform never published', spec: { signWith: foreignKey }, status: 401, code: 'unknown_key' },
    {
      name: 'HS256 in the header',
      spec: { tamper: (jwt) => [Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: platform.signingKey.kid })).toString('base64url'), ...jwt.split('.').slice(1)].join('.') },
      status: 401, code: 'algorithm_not_allowed',
    },
    { name: 'expired', spec: { claims: (c) => Object.assign(c, { iat: now() - 120, exp: now() - 60 }) }, status: 401, code: 'expired' },
    { name: 'issued in the future', spec: { claims: (c) => Object.assign(c, { iat: now() + 60, exp: now() + 400 }) }, status: 401, code: 'not_yet_valid' },
    { name: 'another tool\'s audience', spec: { claims: (c) => Object.assign(c, { aud: 'another-tool' }) }, status: 401, code: 'wrong_audience' },
    { name: 'several audiences without azp', spec: { claims: (c) => Object.assign(c, { aud: [platform.clientId, 'another-tool'] }) }, status: 401, code: 'wrong_audience' },
    { name: 'azp of another tool', spec: { claims: (c) => Object.assign(c, { aud: [platform.clientId, 'another-tool'], azp: 'another-tool' }) }, status: 401, code: 'wrong_audience' },
    { name: 'an issuer nobody registered', spec: { claims: (c) => Object.assign(c, { iss: 'https://evil.example' }) }, status: 400, code: 'unknown_platform' },
    { name: 'an unregistered deployment', spec: { claims: (c) => Object.assign(c, { [CLAIM.deploymentId]: 'deployment-9' }) }, status: 403, code: 'unknown_deployment' },
    { name: 'a deep linking request', spec: { claims: (c) => Object.assign(c, { [CLAIM.messageType]: 'LtiDeepLinkingRequest' }) }, status: 400, code: 'wrong_message_type' },
    { name: 'LTI 1.1', spec: { claims: (c) => Object.assign(c, { [CLAIM.version]: '1.1.0' }) }, status: 400, code: 'wrong_version' },
    { name: 'no resource link id', spec: { claims: (c) => Object.assign(c, { [CLAIM.resourceLink]: { title: 'x' } }) }, status: 400, code: 'invalid_claims' },
    { name: 'roles not a list', spec: { claims: (c) => Object.assign(c, { [CLAIM.roles]: 'Instructor' }) }, status: 400, code: 'invalid_claims' },
    { name: 'a target on another host', spec: { claims: (c) => Object.assign(c, { [CLAIM.targetLinkUri]: 'https://elsewhere.example/' }) }, status: 400, code: 'wrong_target_link_uri' },
    { name: 'a nonce the tool never issued', spec: { claims: (c) => Object.assign(c, { nonce: 'made-up-nonce' }) }, status: 401, code: 'invalid_nonce' },
    { name: 'no nonce', spec: { claims: (c) => { delete c.nonce; } }, status: 401, code: 'invalid_nonce' },
  ];
  for (const { name, spec, status, code } of cases) {
    const { response, browser } = await launch(platform, { ...learner, ...spec });
    assert.deepEqual(await refusal(response), { status, code }, name);
    assert.deepEqual(browser.cookieNames(new URL(app.url).origin), [], `${name}: state cookie cleared`);
  }
  // Each refusal is the one thing its case changed: the same launch unchanged goes through.
  assert.equal((await launch(platform, learner)).response.status, 303);
});

test('the state: missing, unknown, from another browser, or another launch\'s is invalid_state', async () => {
  const browser = new CookieBrowser();
  const first = await throughPlatform(browser, platform, learner);
  assert.deepEqual(await refusal(await browser.postForm(first.action, { id_token: first.fields.id_token! })), { status: 401, code: 'invalid_state' }, 'missing');
  const second = await throughPlatform(browser, platform, learner);
  assert.deepEqual(await refusal(await browser.postForm(second.action, { ...second.fields, state: 'no-such-state' })), { status: 401, code: 'invalid_state' }, 'unknown');

  // Two logins in one browser, each token posted with the other's state.
  const a = await throughPlatform(browser, platform, learner);
  const b = await throughPlatform(browser, platform, learner);
  assert.deepEqual(await refusal(await browser.postForm(a.action, { id_token: a.fields.id_token!, state: b.fields.state! })), { status: 401, code: 'invalid_state' }, 'mixed up');

  // A launch posted from a browser that did not start it (no state cookie): refused, and burnt for everyone.
  const victim = new CookieBrowser();
  const stolen = await throughPlatform(victim, platform, learner);
  assert.deepEqual(await refusal(await new CookieBrowser().postForm(stolen.action, stolen.fields)), { status: 401, code: 'invalid_state' }, 'another browser');
  assert.deepEqual(await refusal(await victim.postForm(stolen.action, stolen.fields)), { status: 401, code: 'replayed' });
});

test('a launch is single use: the same id_token again is replayed, with its state or a fresh one', async () => {
  const browser = new CookieBrowser();
  const { response, fields } = await launch(platform, learner, browser);
  await exchange(response);
  assert.deepEqual(await refusal(await browser.postForm(app.lti!.launchUrl, fields)), { status: 401, code: 'replayed' });
  const fresh = await throughPlatform(browser, platform, learner);
  assert.deepEqual(await refusal(await browser.postForm(fresh.action, { id_token: fields.id_token!, state: fresh.fields.state! })), { status: 401, code: 'replayed' });
});

test('a token from another registered platform than the login went to is wrong_issuer', async () => {
  const browser = new CookieBrowser();
  const { auth, action, fields } = await throughPlatform(browser, platform, learner);
  // The other platform, genuinely signing for the nonce this login issued.
  const foreign = await other.idToken(learner, auth.searchParams.get('nonce')!);
  assert.deepEqual(await refusal(await browser.postForm(action, { id_token: foreign, state: fields.state! })), { status: 401, code: 'wrong_issuer' });
  assert.equal(other.jwksFetches, 1, "the other platform's own JWKS verified it");
});

test('key rotation: a new kid makes the tool fetch the JWKS again (once), then it is cached', async () => {
  assert.equal((await launch(platform, learner)).response.status, 303);
  const before = platform.jwksFetches;
  await new Promise((resolve) => setTimeout(resolve, JWKS_COOLDOWN_MS + 200)); // past jose's refetch cooldown
  await platform.rotate();
  const { reply } = await exchange((await launch(platform, instructor)).response);
  assert.equal(reply.role, 'lecturer');
  assert.equal(platform.jwksFetches, before + 1, 'one refetch for the new kid');
  assert.equal((await launch(platform, learner)).response.status, 303);
  assert.equal(platform.jwksFetches, before + 1, 'and the new set is cached');
});

test('login initiation refusals, POST logins, and typed error pages (never a 500)', async () => {
  const browser = new CookieBrowser();
  const codeOf = async (response: Response) => ({ status: response.status, code: response.headers.get('x-lti-error') });
  assert.deepEqual(await codeOf(await browser.fetch(`${app.url}/lti/login?login_hint=x&target_link_uri=${app.url}/`)), { status: 400, code: 'invalid_request' });
  assert.deepEqual(await codeOf(await login(browser, platform, learner, { iss: 'https://evil.example' })), { status: 400, code: 'unknown_platform' });
  assert.deepEqual(await codeOf(await login(browser, platform, learner, { client_id: 'someone-else' })), { status: 400, code: 'unknown_platform' });
  assert.deepEqual(await codeOf(await login(browser, platform, learner, { lti_deployment_id: 'deployment-9' })), { status: 403, code: 'unknown_deployment' });
  assert.deepEqual(await codeOf(await login(browser, platform, learner, { target_link_uri: 'https://elsewhere.example/' })), { status: 400, code: 'wrong_target_link_uri' });
  assert.deepEqual(await codeOf(await browser.fetch(`${app.url}/lti/login`, { method: 'PUT' })), { status: 405, code: 'method_not_allowed' });
  assert.deepEqual(browser.cookieNames(new URL(app.url).origin), [], 'no state for a refused login');
  // Platforms may initiate with a form post; client_id and lti_deployment_id are optional.
  const posted = await browser.postForm(`${app.url}/lti/login`, { iss: platform.issuer, login_hint: platform.prepare(learner), target_link_uri: `${app.url}/` });
  assert.equal(posted.status, 302);
  assert.equal(new URL(posted.headers.get('location')!).searchParams.get('client_id'), platform.clientId);

  // What a browser sees: an HTML page naming the code.
  const { action, fields } = await throughPlatform(browser, platform, { ...learner, claims: (c) => Object.assign(c, { [CLAIM.version]: '1.2.0' }) });
  const page = await browser.postForm(action, fields, 'text/html,application/xhtml+xml,*/*');
  assert.equal(page.status, 400);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  assert.match(await page.text(), /<code id="lti-error">wrong_version<\/code>/);

  const post = (body: string, type = 'application/x-www-form-urlencoded') => browser.fetch(`${app.url}/lti/launch`, { method: 'POST', body, headers: { 'Content-Type': type, Accept: 'application/json' } });
  assert.deepEqual(await codeOf(await post('id_token=not-a-jwt&state=s')), { status: 400, code: 'malformed_token' });
  assert.deepEqual(await codeOf(await post('id_token=a.b.c&state=s')), { status: 400, code: 'malformed_token' });
  assert.deepEqual(await codeOf(await post('state=s')), { status: 400, code: 'invalid_request' });
  assert.deepEqual(await codeOf(await post('error=login_required&error_description=x&state=s')), { status: 400, code: 'platform_error' });
  assert.deepEqual(await codeOf(await post('{"id_token":"x"}', 'application/json')), { status: 415, code: 'unsupported_media_type' });
  assert.deepEqual(await codeOf(await post(`id_token=${'x'.repeat(70_000)}`)), { status: 413, code: 'payload_too_large' });
  assert.deepEqual(await codeOf(await browser.fetch(`${app.url}/lti/launch`)), { status: 405, code: 'method_not_allowed' });
  assert.deepEqual(await codeOf(await browser.fetch(`${app.url}/lti/session`, { method: 'POST', body: new URLSearchParams({ code: 'guess' }) })), { status: 401, code: 'invalid_code' });
  // A registered platform whose JWKS cannot be fetched: the platform's fault, 502, not a crash.
  const key = await newPlatformKey();
  const unverifiable = await new SignJWT({ nonce: 'n', sub: 'u' }).setProtectedHeader({ alg: 'RS256', kid: key.kid }).setIssuer('https://down.example').setAudience('c').setIssuedAt().setExpirationTime('5m').sign(key.privateKey);
  assert.deepEqual(await codeOf(await post(`id_token=${unverifiable}&state=s`)), { status: 502, code: 'jwks_unavailable' });
  // Outside the tool's three routes, /lti/ is the app's: 404.
  assert.equal((await browser.fetch(`${app.url}/lti/other`)).status, 404);
});
