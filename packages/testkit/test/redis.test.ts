import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { pingRedis, startRedis } from '@lectern/testkit';

test('startRedis runs a real redis-server on loopback and stop() removes every trace', async () => {
  const redis = await startRedis();
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await pingRedis(redis.port), true);
  const pid = redis.process.child.pid!;
  const dir = fs.readlinkSync(`/proc/${pid}/cwd`);
  await redis.stop();
  assert.equal(await pingRedis(redis.port), false, 'port closed after stop');
  assert.equal(fs.existsSync(`/proc/${pid}`), false, 'process gone');
  assert.equal(fs.existsSync(dir), false, 'working directory removed');
});
