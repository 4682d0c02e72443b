import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryTranscriptStore } from '@lectern/server-sdk/transcription';
import { batch, transcriptStoreContract } from './store-contract.js';

transcriptStoreContract('MemoryTranscriptStore', { create: async () => new MemoryTranscriptStore() });

test('MemoryTranscriptStore: name is "memory" and stores are independent', async () => {
  const a = new MemoryTranscriptStore();
  const b = new MemoryTranscriptStore();
  assert.equal(a.name, 'memory');
  await a.putBatch('L', 'b0', batch('b0', [0]));
  assert.deepEqual(await b.getTranscript('L'), []);
  await Promise.all([a.close(), b.close()]);
});
