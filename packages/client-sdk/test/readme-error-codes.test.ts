// The README's error-code list cannot drift: every server code (ErrorCode in
// @lectern/protocol) and every client-only code (ClientErrorCode) is named in
// it, and it names no code that does not exist.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ClientErrorCode, errorCodes } from '../src/index.js';

const readme = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md'), 'utf8');

/** The text from `start` to the end of its paragraph (a blank line). */
function paragraph(start: string): string {
  const at = readme.indexOf(start);
  assert.ok(at >= 0, `README has no "${start}"`);
  const end = readme.indexOf('\n\n', at);
  return readme.slice(at, end < 0 ? undefined : end);
}

/** `UPPER_CASE` words in backticks. */
const codesIn = (text: string) => new Set([...text.matchAll(/`([A-Z][A-Z_]+)`/g)].map((m) => m[1]!));

test("the README's server error-code list names every ErrorCode and nothing else", () => {
  const listed = codesIn(paragraph('every failure is a\n`LecternError` with a stable `code`').split('Gesture and hand-raise methods')[0]!);
  assert.deepEqual([...listed].sort(), [...errorCodes].sort());
});

test("the README's client error codes name every ClientErrorCode", () => {
  const listed = codesIn(paragraph('Server errors arrive as `LecternClientError`').split('Gestures:')[0]!);
  assert.deepEqual([...listed].sort(), Object.values(ClientErrorCode).sort());
});

test('the check fails for a missing code (control)', () => {
  const listed = codesIn('`INVALID_REQUEST`, `NOT_FOUND`');
  assert.notDeepEqual([...listed].sort(), [...errorCodes].sort());
});
