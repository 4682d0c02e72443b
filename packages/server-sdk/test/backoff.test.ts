// The server SDK's one backoff helper: bounded, exponential, jittered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from '../src/util/backoff.js';

test('backoffDelay: the first retry waits the minimum; later ones stay within [min, min·2^(n−1)] and never exceed max', () => {
  const policy = { minMs: 100, maxMs: 1000 };
  for (let i = 0; i < 200; i++) assert.equal(backoffDelay(1, policy), 100);
  for (const attempt of [2, 3, 4, 5, 10, 60, 1e6, Infinity]) {
    const ceiling = Math.min(1000, 100 * 2 ** (attempt - 1));
    const seen = Array.from({ length: 500 }, () => backoffDelay(attempt, policy));
    for (const d of seen) assert.ok(d >= 100 && d <= ceiling, `attempt ${attempt}: ${d} within [100, ${ceiling}]`);
    assert.ok(new Set(seen).size > 1, `attempt ${attempt} is jittered`);
  }
  // Attempt 0 or negative is treated as the first retry.
  assert.equal(backoffDelay(0, policy), 100);
  assert.equal(backoffDelay(-3, policy), 100);
});

test('backoffDelay: a zero minimum, and a minimum above the maximum, stay within the maximum', () => {
  for (let i = 0; i < 100; i++) {
    assert.equal(backoffDelay(5, { minMs: 0, maxMs: 50 }), 0, 'min 0 doubles to nothing: no wait');
    assert.equal(backoffDelay(3, { minMs: 500, maxMs: 200 }), 200);
  }
});
