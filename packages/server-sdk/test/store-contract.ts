/**
 * The behaviour every TranscriptStore promises, written once and run against
 * each implementation (store-memory.test.ts, store-redis.test.ts).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { ErrorCode, LecternError } from '@lectern/server-sdk';
import type { LectureListing, LectureRecord, LectureSummary, TranscriptEntry, TranscriptStore } from '@lectern/server-sdk/transcription';

export interface StoreHarness {
  /** A fresh, empty store (the contract closes it after each test). */
  create(): Promise<TranscriptStore>;
  /**
   * Every key the store holds in its backend (Redis: SCAN of its prefix), for
   * the "nothing leaks" checks; a store with no backend to inspect leaves it out.
   */
  keys?(store: TranscriptStore): Promise<string[]>;
}

export function entry(batchId: string, index: number, start: number, text = `${batchId}#${index}`): TranscriptEntry {
  return { batchId, index, start, end: start + 1, text };
}

export function batch(batchId: string, starts: number[], tag = ''): TranscriptEntry[] {
  return starts.map((start, index) => entry(batchId, index, start, `${batchId}#${index}${tag}`));
}

export const summary = (text = 'We covered eigenvalues.'): LectureSummary => ({
  text,
  keyPoints: ['Eigenvalues scale eigenvectors.', 'The trace is their sum.'],
  generator: 'offline-extractive',
  createdAt: '2024-05-01T10:30:00.000Z',
  coveredSeconds: 3600,
});

export const record = (lectureId: string): LectureRecord => ({
  lectureId,
  roomId: 'room-1',
  startedAt: '2024-05-01T09:00:00.000Z',
});

/** `[batchId, index]` pairs, in the order returned. */
const keysOf = (entries: TranscriptEntry[]) => entries.map((e) => `${e.batchId}/${e.index}`);

export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: string): Promise<LecternError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof LecternError, `${message ?? 'expected a LecternError'}; got ${String(caught)}`);
  assert.equal(caught.code, code, `${message ?? ''} ${caught.message}`);
  return caught;
}

export function transcriptStoreContract(label: string, harness: StoreHarness): void {
  describe(`${label}: TranscriptStore contract`, () => {
    let open: TranscriptStore[] = [];
    const fresh = async () => {
      const store = await harness.create();
      open.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(open.map((s) => s.close()));
      open = [];
    });

    test('orders entries by start across batches put out of order', async () => {
      const store = await fresh();
      await store.putBatch('L', 'b2', batch('b2', [20, 25]));
      await store.putBatch('L', 'b0', batch('b0', [0, 5, 22]));
      await store.putBatch('L', 'b1', batch('b1', [10, 3.5]));
      const all = await store.getTranscript('L');
      assert.deepEqual(all.map((e) => e.start), [0, 3.5, 5, 10, 20, 22, 25]);
      assert.deepEqual(keysOf(all), ['b0/0', 'b1/1', 'b0/1', 'b1/0', 'b2/0', 'b0/2', 'b2/1']);
      assert.deepEqual(all[0], entry('b0', 0, 0));
    });

    test('breaks start ties by batchId, then index (numeric)', async () => {
      const store = await fresh();
      // Indexes 2 and 10 (numeric order, not text order) and batch ids that are prefixes of each other.
      const tied = (batchId: string, indexes: number[]) => indexes.map((i) => entry(batchId, i, 7));
      await store.putBatch('L', 'b-9', tied('b-9', [10, 2]));
      await store.putBatch('L', 'b', tied('b', [1]));
      await store.putBatch('L', 'b!', tied('b!', [0]));
      await store.putBatch('L', 'b-10', tied('b-10', [0]));
      await store.putBatch('L', 'a', [entry('a', 0, 6.999)]);
      assert.deepEqual(keysOf(await store.getTranscript('L')), ['a/0', 'b/1', 'b!/0', 'b-10/0', 'b-9/2', 'b-9/10']);
    });

    test('putting the same batch twice replaces it (no duplicates)', async () => {
      const store = await fresh();
      await store.putBatch('L', 'b0', batch('b0', [0, 1, 2]));
      await store.putBatch('L', 'b1', batch('b1', [3]));
      await store.putBatch('L', 'b0', batch('b0', [0, 1, 2]));
      const all = await store.getTranscript('L');
      assert.deepEqual(keysOf(all), ['b0/0', 'b0/1', 'b0/2', 'b1/0']);
      assert.deepEqual(await store.getBatchIds('L'), ['b0', 'b1']);
    });

    test('a retried batch with fewer or more entries leaves no leftovers', async () => {
      const store = await fresh();
      await store.putBatch('L', 'b1', batch('b1', [30]));
      await store.putBatch('L', 'b0', batch('b0', [0, 1, 2, 3], ' v1'));
      await store.putBatch('L', 'b0', batch('b0', [0.5, 1.5], ' v2'));
      assert.deepEqual(
        (await store.getTranscript('L')).map((e) => [e.batchId, e.index, e.start, e.text]),
        [['b0', 0, 0.5, 'b0#0 v2'], ['b0', 1, 1.5, 'b0#1 v2'], ['b1', 0, 30, 'b1#0']],
      );
      await store.putBatch('L', 'b0', batch('b0', [0, 1, 2, 3, 4, 5], ' v3'));
      const all = await store.getTranscript('L');
      assert.deepEqual(keysOf(all), ['b0/0', 'b0/1', 'b0/2', 'b0/3', 'b0/4', 'b0/5', 'b1/0']);
      assert.ok(all.filter((e) => e.batchId === 'b0').every((e) => e.text.endsWith(' v3')));
    });

    test('an empty batch clears the batch but is still recorded', async () => {
      const store = await fresh();
      await store.putBatch('L', 'b0', batch('b0', [0, 1]));
      await store.putBatch('L', 'b0', []);
      await store.putBatch('L', 'silence', []);
      assert.deepEqual(await store.getTranscript('L'), []);
      assert.deepEqual(await store.getBatchIds('L'), ['b0', 'silence']);
    });

    test('concurrent retries of one batch end as exactly one whole version', async () => {
      const store = await fresh();
      const sizes = [5, 1, 8, 3, 0, 7, 2, 6];
      await Promise.all(sizes.map((n, v) => store.putBatch('L', 'b0', batch('b0', Array.from({ length: n }, (_, i) => i), ` v${v}`))));
      const all = await store.getTranscript('L');
      const versions = new Set(all.map((e) => e.text.split(' ')[1]));
      assert.ok(versions.size <= 1, `one version only, got ${[...versions].join(',')}`);
      const v = Number([...versions][0]?.slice(1) ?? sizes.indexOf(0));
      assert.equal(all.length, sizes[v]);
      assert.deepEqual(all.map((e) => e.index), Array.from({ length: all.length }, (_, i) => i));
    });

    test('range queries return entries starting in [from, to)', async () => {
      const store = await fresh();
      await store.putBatch('L', 'b1', batch('b1', [10, 12.5, 15]));
      await store.putBatch('L', 'b0', batch('b0', [0, 5, 9.999]));
      const starts = async (range?: { from?: number; to?: number }) => (await store.getTranscript('L', range)).map((e) => e.start);
      assert.deepEqual(await starts({ from: 5, to: 12.5 }), [5, 9.999, 10]);
      assert.deepEqual(await starts({ from: 10 }), [10, 12.5, 15]);
      assert.deepEqual(await starts({ to: 10 }), [0, 5, 9.999]);
      assert.deepEqual(await starts({ from: 9.999, to: 10 }), [9.999]);
      assert.deepEqual(await starts({ from: 10, to: 10 }), []);
      assert.deepEqual(await starts({ from: 12, to: 3 }), []);
      assert.deepEqual(await starts({ from: -Infinity, to: Infinity }), [0, 5, 9.999, 10, 12.5, 15]);
      assert.deepEqual(await starts({}), [0, 5, 9.999, 10, 12.5, 15]);
      await rejectsWith(store.getTranscript('L', { from: Number.NaN }), ErrorCode.INVALID_REQUEST);
    });

    test('unknown lectures read as empty', async () => {
      const store = await fresh();
      assert.equal(await store.getLecture('nope'), undefined);
      assert.equal(await store.getSummary('nope'), undefined);
      assert.deepEqual(await store.getTranscript('nope'), []);
      assert.deepEqual(await store.getBatchIds('nope'), []);
      await store.deleteLecture('nope');
    });

    test('summary round-trips and is replaced by a later put', async () => {
      const store = await fresh();
      const first = { ...summary('Ünïcode ✓ — 固有値'), keyPoints: [] };
      await store.putSummary('L', first);
      assert.deepEqual(await store.getSummary('L'), first);
      assert.equal(await store.getLecture('L'), undefined, 'a summary alone is not a lecture record');
      await store.putSummary('L', summary());
      assert.deepEqual(await store.getSummary('L'), summary());
      // Its source (live captions or batches) round-trips; anything else is refused.
      await store.putSummary('L', { ...summary('live'), source: 'live' });
      assert.equal((await store.getSummary('L'))?.source, 'live');
      await store.putSummary('L', { ...summary('batch'), source: 'batch' });
      assert.equal((await store.getSummary('L'))?.source, 'batch');
      await rejectsWith(store.putSummary('L', { ...summary(), source: 'guess' as never }), ErrorCode.INVALID_REQUEST);
    });

    test('a detected language joins the requested one in the record', async () => {
      const store = await fresh();
      await store.putLecture({ ...record('K'), requestedLanguage: 'auto' });
      assert.deepEqual(await store.getLecture('K'), { ...record('K'), requestedLanguage: 'auto' });
      await store.putLecture({ ...record('K'), language: 'ko' });
      assert.deepEqual(await store.getLecture('K'), { ...record('K'), requestedLanguage: 'auto', language: 'ko' });
    });

    test('putLecture merges fields into the record', async () => {
      const store = await fresh();
      await store.putLecture(record('L'));
      assert.deepEqual(await store.getLecture('L'), record('L'));
      await store.putLecture({ ...record('L'), language: 'en' });
      await store.putLecture({ ...record('L'), endedAt: '2024-05-01T10:00:00.000Z', language: undefined });
      assert.deepEqual(await store.getLecture('L'), { ...record('L'), language: 'en', endedAt: '2024-05-01T10:00:00.000Z' });
      await store.putLecture({ ...record('L'), roomId: 'room-2' });
      assert.deepEqual(await store.getLecture('L'), { ...record('L'), roomId: 'room-2', language: 'en', endedAt: '2024-05-01T10:00:00.000Z' });
      await store.putSummary('L', summary());
      assert.equal((await store.getLecture('L'))?.roomId, 'room-2', 'the summary does not disturb the record');
    });

    test('reads are copies: callers cannot mutate stored data', async () => {
      const store = await fresh();
      const input = batch('b0', [0, 1]);
      input[0]!.words = [{ start: 0, end: 0.5, word: 'hi', probability: 0.9 }];
      await store.putBatch('L', 'b0', input);
      input[0]!.text = 'mutated input';
      input[0]!.words[0]!.word = 'mutated';
      input.push(entry('b0', 2, 2));
      const rec = record('L');
      await store.putLecture(rec);
      rec.roomId = 'mutated';
      const sum = summary();
      await store.putSummary('L', sum);
      sum.keyPoints.push('mutated');

      const read = await store.getTranscript('L');
      assert.equal(read.length, 2);
      assert.equal(read[0]!.text, 'b0#0');
      assert.equal(read[0]!.words?.[0]?.word, 'hi');
      read[0]!.text = 'mutated output';
      read[0]!.words![0]!.word = 'mutated';
      read.pop();
      (await store.getLecture('L'))!.roomId = 'mutated';
      (await store.getSummary('L'))!.keyPoints.push('mutated');
      (await store.getBatchIds('L')).push('mutated');

      assert.deepEqual(await store.getTranscript('L'), [{ ...entry('b0', 0, 0), words: [{ start: 0, end: 0.5, word: 'hi', probability: 0.9 }] }, entry('b0', 1, 1)]);
      assert.deepEqual(await store.getLecture('L'), record('L'));
      assert.deepEqual(await store.getSummary('L'), summary());
      assert.deepEqual(await store.getBatchIds('L'), ['b0']);
    });

    test('lectures are isolated, including ids with braces and unicode', async () => {
      const store = await fresh();
      const ids = ['a', 'a}:entries', '{a}', 'a:b', 'лекция 1 🎓'];
      for (const [i, id] of ids.entries()) {
        await store.putLecture({ ...record(id), roomId: `room-${i}` });
        await store.putBatch(id, `batch-${i}`, batch(`batch-${i}`, [i]));
        await store.putSummary(id, summary(`summary ${i}`));
      }
      for (const [i, id] of ids.entries()) {
        assert.equal((await store.getLecture(id))?.roomId, `room-${i}`, id);
        assert.deepEqual(keysOf(await store.getTranscript(id)), [`batch-${i}/0`], id);
        assert.deepEqual(await store.getBatchIds(id), [`batch-${i}`], id);
        assert.equal((await store.getSummary(id))?.text, `summary ${i}`, id);
      }
    });

    test('the live transcript (caption finals) is kept beside the batch one, with the same rules', async () => {
      const store = await fresh();
      await store.putLecture(record('L'));
      await store.putBatch('L', 'b0', batch('b0', [0, 10]));
      await store.putBatch('L', 'live-a', batch('live-a', [2]), { source: 'live' });
      await store.putBatch('L', 'live-b', batch('live-b', [1, 3]), { source: 'live' });
      await store.putBatch('L', 'live-b', batch('live-b', [1.5]), { source: 'live' }); // a retried write replaces
      assert.deepEqual(keysOf(await store.getTranscript('L')), ['b0/0', 'b0/1'], 'the default is the batch transcript');
      assert.deepEqual(keysOf(await store.getTranscript('L', { source: 'batch' })), ['b0/0', 'b0/1']);
      assert.deepEqual(keysOf(await store.getTranscript('L', { source: 'live' })), ['live-b/0', 'live-a/0']);
      assert.deepEqual(keysOf(await store.getTranscript('L', { source: 'live', from: 1.8, to: 5 })), ['live-a/0']);
      assert.deepEqual(await store.getBatchIds('L'), ['b0']);
      assert.deepEqual(await store.getBatchIds('L', { source: 'live' }), ['live-a', 'live-b']);
      await rejectsWith(store.getTranscript('L', { source: 'captions' as never }), ErrorCode.INVALID_REQUEST);
      await rejectsWith(store.putBatch('L', 'x', batch('x', [1]), { source: 'other' as never }), ErrorCode.INVALID_REQUEST);
      await store.deleteLecture('L');
      assert.deepEqual(await store.getTranscript('L', { source: 'live' }), []);
      assert.deepEqual(await store.getBatchIds('L', { source: 'live' }), []);
      if (harness.keys) assert.deepEqual(await harness.keys(store), [], 'deleting the lecture removes its live keys too');
    });

    test('deleteLecture removes everything of that lecture only', async () => {
      const store = await fresh();
      for (const id of ['L', 'other']) {
        await store.putLecture(record(id));
        await store.putBatch(id, 'b0', batch('b0', [0, 1]));
        await store.putSummary(id, summary());
      }
      await store.deleteLecture('L');
      assert.equal(await store.getLecture('L'), undefined);
      assert.equal(await store.getSummary('L'), undefined);
      assert.deepEqual(await store.getTranscript('L'), []);
      assert.deepEqual(await store.getBatchIds('L'), []);
      assert.deepEqual(await store.getLecture('other'), record('other'));
      assert.equal((await store.getTranscript('other')).length, 2);
      await store.deleteLecture('L');
      // A deleted lecture can be written again from scratch.
      await store.putBatch('L', 'b9', batch('b9', [5]));
      assert.deepEqual(keysOf(await store.getTranscript('L')), ['b9/0']);
    });

    test('invalid ids and entries are rejected with INVALID_REQUEST', async () => {
      const store = await fresh();
      const badIds = ['', 'x'.repeat(257), 'a\nb', 'a\u0000b', 'tab\there', 'del\u007f', 'lone\uD800surrogate'];
      for (const id of badIds) {
        const what = JSON.stringify(id.slice(0, 20));
        await rejectsWith(store.putBatch(id, 'b0', batch('b0', [0])), ErrorCode.INVALID_REQUEST, `lectureId ${what}`);
        await rejectsWith(store.putBatch('L', id, []), ErrorCode.INVALID_REQUEST, `batchId ${what}`);
        await rejectsWith(store.putLecture(record(id)), ErrorCode.INVALID_REQUEST, `record ${what}`);
        await rejectsWith(store.getTranscript(id), ErrorCode.INVALID_REQUEST, `getTranscript ${what}`);
        await rejectsWith(store.getLecture(id), ErrorCode.INVALID_REQUEST, `getLecture ${what}`);
        await rejectsWith(store.putSummary(id, summary()), ErrorCode.INVALID_REQUEST, `putSummary ${what}`);
        await rejectsWith(store.deleteLecture(id), ErrorCode.INVALID_REQUEST, `deleteLecture ${what}`);
      }
      await store.putBatch('x'.repeat(256), 'y'.repeat(256), []); // the limit itself is fine
      const bad: [string, TranscriptEntry[]][] = [
        ['batchId mismatch', [entry('other', 0, 0)]],
        ['repeated index', [entry('b0', 0, 0), entry('b0', 0, 1)]],
        ['negative index', [entry('b0', -1, 0)]],
        ['fractional index', [entry('b0', 0.5, 0)]],
        ['NaN start', [entry('b0', 0, Number.NaN)]],
        ['infinite start', [entry('b0', 0, Infinity)]],
        ['text not a string', [{ ...entry('b0', 0, 0), text: 42 as unknown as string }]],
      ];
      for (const [what, entries] of bad) await rejectsWith(store.putBatch('L', 'b0', entries), ErrorCode.INVALID_REQUEST, what);
      await rejectsWith(store.putLecture({ ...record('L'), roomId: '' }), ErrorCode.INVALID_REQUEST, 'empty roomId');
      await rejectsWith(store.putSummary('L', { ...summary(), keyPoints: 'x' as unknown as string[] }), ErrorCode.INVALID_REQUEST, 'keyPoints');
      assert.deepEqual(await store.getBatchIds('L'), [], 'nothing was written by rejected calls');
    });

    test("listLectures: a room's lectures, oldest first, with status and time range", async () => {
      const store = await fresh();
      const at = (minute: number) => new Date(Date.UTC(2024, 4, 1, 9, minute)).toISOString();
      const lecture = (lectureId: string, roomId: string, minute: number): LectureRecord => ({ lectureId, roomId, startedAt: at(minute) });
      // Written out of order; L-b and L-b2 start at the same time (ties by id).
      await store.putLecture({ ...lecture('L-c', 'bio', 30), requestedLanguage: 'auto' });
      await store.putLecture(lecture('L-b2', 'bio', 20));
      await store.putLecture(lecture('L-a', 'bio', 10));
      await store.putLecture(lecture('L-b', 'bio', 20));
      await store.putLecture(lecture('X-1', 'chem', 15));
      // L-a summarised, L-b stopped (ended, no summary yet), the rest running.
      await store.putLecture({ ...lecture('L-a', 'bio', 10), endedAt: at(50) });
      await store.putSummary('L-a', summary());
      await store.putLecture({ ...lecture('L-b', 'bio', 20), endedAt: at(55), language: 'en' });
      // A transcript without a record is not a lecture of any room.
      await store.putBatch('orphan', 'b0', batch('b0', [0]));

      const ids = (list: LectureListing[]) => list.map((l) => l.lectureId);
      const all = await store.listLectures('bio');
      assert.deepEqual(ids(all), ['L-a', 'L-b', 'L-b2', 'L-c']);
      assert.deepEqual(all.map((l) => l.status), ['summarised', 'stopped', 'running', 'running']);
      assert.deepEqual(all[1], { ...lecture('L-b', 'bio', 20), endedAt: at(55), language: 'en', status: 'stopped' });
      assert.equal(all[3]!.requestedLanguage, 'auto');
      assert.deepEqual(ids(await store.listLectures('chem')), ['X-1']);
      assert.deepEqual(await store.listLectures('nobody'), []);

      // [from, to) over startedAt; Date or ISO string.
      assert.deepEqual(ids(await store.listLectures('bio', { from: at(20) })), ['L-b', 'L-b2', 'L-c']);
      assert.deepEqual(ids(await store.listLectures('bio', { to: new Date(at(20)) })), ['L-a']);
      assert.deepEqual(ids(await store.listLectures('bio', { from: new Date(at(11)), to: at(30) })), ['L-b', 'L-b2']);
      assert.deepEqual(await store.listLectures('bio', { from: at(30), to: at(30) }), []);
      assert.deepEqual(await store.listLectures('bio', { from: at(40), to: at(10) }), []);
      // Status filter: one or several.
      assert.deepEqual(ids(await store.listLectures('bio', { status: 'running' })), ['L-b2', 'L-c']);
      assert.deepEqual(ids(await store.listLectures('bio', { status: ['summarised', 'stopped'] })), ['L-a', 'L-b']);
      assert.deepEqual(ids(await store.listLectures('bio', { status: [], from: at(0) })), []);
      assert.deepEqual(ids(await store.listLectures('bio', { status: 'running', from: at(25) })), ['L-c']);

      // Returned objects are copies.
      all[0]!.roomId = 'mutated';
      assert.equal((await store.listLectures('bio'))[0]!.roomId, 'bio');

      for (const [what, options] of [
        ['from not a date', { from: 'yesterday' }],
        ['to an invalid Date', { to: new Date(Number.NaN) }],
        ['unknown status', { status: 'paused' }],
        ['status list with an unknown', { status: ['running', 'gone'] }],
      ] as const) {
        await rejectsWith(store.listLectures('bio', options as never), ErrorCode.INVALID_REQUEST, what);
      }
      await rejectsWith(store.listLectures(''), ErrorCode.INVALID_REQUEST, 'empty roomId');
      await rejectsWith(store.listLectures('a\nb'), ErrorCode.INVALID_REQUEST, 'control character in roomId');
      await rejectsWith(store.putLecture({ ...lecture('L-z', 'bio', 0), startedAt: 'soon' }), ErrorCode.INVALID_REQUEST, 'startedAt not a time');
    });

    test('listLectures follows a lecture that moves room or is deleted; deleting every lecture leaves nothing behind', async () => {
      const store = await fresh();
      const lecture = (lectureId: string, roomId: string): LectureRecord => ({ ...record(lectureId), roomId });
      for (const id of ['A', 'B']) {
        await store.putLecture(lecture(id, 'r1'));
        await store.putBatch(id, 'b0', batch('b0', [0, 1]));
        await store.putSummary(id, summary());
      }
      await store.putLecture(lecture('C', 'r2'));
      assert.deepEqual((await store.listLectures('r1')).map((l) => l.lectureId), ['A', 'B']);
      // The record's roomId decides where a lecture is listed.
      await store.putLecture(lecture('B', 'r2'));
      // Status comes from the record: no endedAt is running, whatever else is stored.
      assert.deepEqual((await store.listLectures('r2')).map((l) => [l.lectureId, l.status]), [['B', 'running'], ['C', 'running']]);
      await store.deleteLecture('A');
      await store.deleteLecture('B');
      // Checked before r1 is listed again (a listing may tidy up what it meets).
      if (harness.keys) {
        assert.deepEqual((await harness.keys(store)).filter((k) => !k.includes('{C}') && !k.includes('{r2}')), [], "only C's keys and r2's list are left");
      }
      assert.deepEqual(await store.listLectures('r1'), []);
      await store.deleteLecture('C');
      await store.deleteLecture('never-written');
      assert.deepEqual(await store.listLectures('r2'), []);
      if (harness.keys) assert.deepEqual(await harness.keys(store), [], 'no key of any lecture or room list is left');
    });

    test('close() is idempotent and later calls reject with CLOSED', async () => {
      const store = await fresh();
      await store.putBatch('L', 'b0', batch('b0', [0]));
      await Promise.all([store.close(), store.close()]);
      await store.close();
      await rejectsWith(store.getTranscript('L'), ErrorCode.CLOSED);
      await rejectsWith(store.putBatch('L', 'b1', []), ErrorCode.CLOSED);
      await rejectsWith(store.listLectures('room-1'), ErrorCode.CLOSED);
    });
  });
}
