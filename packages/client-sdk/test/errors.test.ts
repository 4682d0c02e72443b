// LecternClientError.from: every rejection shape a host's signaling may use
// becomes a typed error with the server's code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientErrorCode, ErrorCode, LecternClientError, isServerErrorCode } from '../src/index.js';

test('a plain {code, message, details} object keeps its code, message and details', () => {
  const e = LecternClientError.from({ code: 'FORBIDDEN', message: 'students may not send camera', details: { source: 'camera' } }, 'produce');
  assert.ok(e instanceof LecternClientError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'LecternClientError');
  assert.equal(e.code, ErrorCode.FORBIDDEN);
  assert.equal(e.message, 'students may not send camera');
  assert.deepEqual(e.details, { source: 'camera' });
  assert.equal(e.method, 'produce');
  assert.ok(e.is('FORBIDDEN'));
  assert.deepEqual(e.toJSON(), { code: 'FORBIDDEN', message: 'students may not send camera', details: { source: 'camera' } });
});

test('an Error carrying .code (Object.assign(new Error(m), json)) keeps its code and the cause', () => {
  const original = Object.assign(new Error('room r1 is full (2 peers)'), { code: 'ROOM_FULL' });
  const e = LecternClientError.from(original, 'join');
  assert.equal(e.code, 'ROOM_FULL');
  assert.equal(e.message, 'room r1 is full (2 peers)');
  assert.equal(e.cause, original);
  assert.equal(e.details, undefined);
});

test('a reply wrapped as {error: {code, message}} is unwrapped', () => {
  const e = LecternClientError.from({ id: 3, error: { code: 'NOT_FOUND', message: 'producer not found: x' } });
  assert.equal(e.code, 'NOT_FOUND');
  assert.equal(e.message, 'producer not found: x');
});

test('a LecternClientError passes through unchanged; fromJSON rebuilds the server JSON', () => {
  const e = new LecternClientError('TIMEOUT', 'late');
  assert.equal(LecternClientError.from(e), e);
  const j = LecternClientError.fromJSON({ code: 'OVERLOADED', message: 'no worker', details: { ceilingPercent: 85 } });
  assert.equal(j.code, 'OVERLOADED');
  assert.deepEqual(j.details, { ceilingPercent: 85 });
});

test('rejections without a code are SIGNALING_FAILED; unknown codes become INTERNAL with serverCode', () => {
  const closed = LecternClientError.from(new Error('socket closed'), 'consume');
  assert.equal(closed.code, ClientErrorCode.SIGNALING_FAILED);
  assert.match(closed.message, /^consume: socket closed$/);
  assert.equal(LecternClientError.from('timeout').code, 'SIGNALING_FAILED');
  assert.equal(LecternClientError.from(undefined).code, 'SIGNALING_FAILED');
  assert.equal(LecternClientError.from({ code: 42, message: 'numeric code (DOMException-style)' }).code, 'SIGNALING_FAILED');
  const newer = LecternClientError.from({ code: 'SOMETHING_NEW', message: 'from a newer server' });
  assert.equal(newer.code, 'INTERNAL');
  assert.equal(newer.details?.serverCode, 'SOMETHING_NEW');
  assert.equal(newer.message, 'from a newer server');
});

test('isServerErrorCode knows exactly the server codes', () => {
  assert.ok(isServerErrorCode('INVALID_STATE'));
  assert.ok(!isServerErrorCode('SIGNALING_FAILED'));
  assert.ok(!isServerErrorCode('toString'));
  assert.ok(!isServerErrorCode(undefined));
});
