// The pure half of the LTI launch: roles → Lectern role, course/link → room id,
// issuer + sub → peer id, name claims → display name. Launch flow: lti.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayNameFor, lecternRole, peerIdFor, roomIdFor } from '../server/lti/claims.js';
import { resolveLtiOptions } from '../server/lti/config.js';

const M = 'http://purl.imsglobal.org/vocab/lis/v2/membership';
const I = 'http://purl.imsglobal.org/vocab/lis/v2/institution/person';
const S = 'http://purl.imsglobal.org/vocab/lis/v2/system/person';

test('LTI roles: course roles decide; only administrators lecture without one; unknown is student', () => {
  const cases: [string[], 'lecturer' | 'student'][] = [
    [[`${M}#Instructor`], 'lecturer'],
    [[`${M}#Administrator`], 'lecturer'],
    [[`${M}#ContentDeveloper`], 'lecturer'],
    [[`${M}/Instructor#TeachingAssistant`], 'lecturer'],
    [[`${M}#Learner`, `${I}#Student`], 'student'],
    [[`${M}/Learner#Learner`], 'student'],
    [[`${M}#Mentor`], 'student'],
    [['Instructor'], 'lecturer'], // LTI 1.1 short name, still sent by some platforms
    [['Learner'], 'student'],
    // A faculty member enrolled as a learner is a student in this course.
    [[`${M}#Learner`, `${I}#Faculty`], 'student'],
    [[`${I}#Faculty`], 'student'],
    [[`${I}#Administrator`], 'lecturer'],
    [[`${S}#Administrator`], 'lecturer'],
    [[`${M}#Learner`, `${I}#Administrator`], 'student'],
    [['http://example.org/roles#Wizard'], 'student'],
    [[], 'student'],
  ];
  for (const [roles, expected] of cases) assert.equal(lecternRole(roles), expected, JSON.stringify(roles));
});

test('room ids: deterministic, inside [A-Za-z0-9_-]{1,64}, per course or per link, issuer and deployment apart', () => {
  const base = { issuer: 'https://lms.example.edu', deploymentId: 'd1', contextId: 'course/101 ünïcode <x>', resourceLinkId: 'link-1' };
  const room = roomIdFor(base, 'context');
  assert.match(room, /^[A-Za-z0-9_-]{1,64}$/);
  assert.equal(roomIdFor({ ...base }, 'context'), room, 'the same course, the same room');
  assert.equal(roomIdFor({ ...base, resourceLinkId: 'link-2' }, 'context'), room, 'per course: every link of it');
  assert.notEqual(roomIdFor({ ...base, resourceLinkId: 'link-2' }, 'resource-link'), roomIdFor(base, 'resource-link'));
  assert.notEqual(roomIdFor({ ...base, issuer: 'https://other.example.edu' }, 'context'), room);
  assert.notEqual(roomIdFor({ ...base, deploymentId: 'd2' }, 'context'), room);
  assert.notEqual(roomIdFor({ ...base, contextId: undefined }, 'context'), room, 'no course: the link\'s own room');
  assert.match(roomIdFor({ ...base, contextId: 'x'.repeat(10_000) }, 'context'), /^lti-[A-Za-z0-9_-]{22}$/);
});

test('peer ids: one per issuer and sub, a valid Lectern identity', () => {
  const id = peerIdFor('https://lms.example.edu', '42');
  assert.match(id, /^lti-[A-Za-z0-9_-]{22}$/);
  assert.equal(peerIdFor('https://lms.example.edu', '42'), id);
  assert.notEqual(peerIdFor('https://other.example.edu', '42'), id, 'the same sub at another platform is another person');
});

test('display names: name, else given + family, no control characters, at most 128 code points', () => {
  assert.equal(displayNameFor({ name: '  Ada  Lovelace ' }), 'Ada Lovelace');
  assert.equal(displayNameFor({ given_name: 'Ada', family_name: 'Lovelace' }), 'Ada Lovelace');
  assert.equal(displayNameFor({ name: 'Ada\u0000\nL' }), 'Ada L');
  assert.equal(displayNameFor({ name: 42 }), 'Participant');
  assert.equal([...displayNameFor({ name: '😀'.repeat(200) })].length, 128);
});

test('the LTI options are checked at start-up', () => {
  const platform = { issuer: 'https://lms', clientId: 'c', deploymentIds: ['d'], authLoginUrl: 'https://lms/auth', jwksUrl: 'https://lms/jwks' };
  assert.equal(resolveLtiOptions({ platforms: [platform] }).roomPer, 'context');
  assert.throws(() => resolveLtiOptions({ platforms: [] }), /at least one platform/);
  assert.throws(() => resolveLtiOptions({ platforms: [platform, platform] }), /registered twice/);
  assert.throws(() => resolveLtiOptions({ platforms: [{ ...platform, deploymentIds: [] }] }), /deployment id/);
  assert.throws(() => resolveLtiOptions({ platforms: [{ ...platform, jwksUrl: 'file:///etc/passwd' }] }), /http/);
  assert.throws(() => resolveLtiOptions({ platforms: [platform], loginTtlSeconds: 0 }), /loginTtlSeconds/);
  assert.equal(resolveLtiOptions({ platforms: [platform], toolUrl: 'https://lectern.example.edu/' }).toolUrl, 'https://lectern.example.edu');
  assert.throws(() => resolveLtiOptions({ platforms: [platform], toolUrl: 'https://example.edu/lectern' }), /without a path/);
});
