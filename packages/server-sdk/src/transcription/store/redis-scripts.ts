/**
 * The Redis side of `RedisTranscriptStore`: its key layout and the Lua
 * scripts that make each write atomic. Kept apart from the store's connection
 * and failure handling (redis-store.ts).
 */
import { transcriptSources, type TranscriptSource } from '@lectern/protocol';
import { luaScript } from '../../util/redis.js';

// KEYS of every write script: [lecture hash, then the written source's entries
// zset, entry hash and batches hash, then the other source's three]; each write
// refreshes the expiry of all of them (ARGV[1] = ttl seconds, 0 = none).
const TOUCH = `
local function touch(ttl)
  if ttl > 0 then
    for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
`;

/** ARGV: ttl, then field/value pairs to set on the lecture hash. */
const HSET_SCRIPT = `${TOUCH}
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
touch(tonumber(ARGV[1]))
return 1
`;

/**
 * ARGV: ttl, batchId, JSON array of the batch's member keys, then
 * (member, score, entry JSON) triples. Removes the batch's previous members and
 * writes the new ones in one atomic step.
 */
const PUT_BATCH_SCRIPT = `${TOUCH}
local old = redis.call('HGET', KEYS[4], ARGV[2])
if old then
  for _, member in ipairs(cjson.decode(old)) do
    redis.call('ZREM', KEYS[2], member)
    redis.call('HDEL', KEYS[3], member)
  end
end
for i = 4, #ARGV, 3 do
  redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
end
redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
touch(tonumber(ARGV[1]))
return 1
`;

/** KEYS: entries zset, entry hash. ARGV: min, max score. Returns entry JSONs in score order. */
const GET_TRANSCRIPT_SCRIPT = `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
local out = {}
for i = 1, #members, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #members) do chunk[#chunk + 1] = members[j] end
  local values = redis.call('HMGET', KEYS[2], unpack(chunk))
  for j = 1, #values do
    if values[j] then out[#out + 1] = values[j] end
  end
end
return out
`;

/**
 * KEYS: the room's lecture list. ARGV: ttl, score (start time, ms), lectureId.
 * Adds (or re-scores) the lecture and refreshes the list's expiry.
 */
const ROOM_ADD_SCRIPT = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
`;

const script = luaScript;
export const SCRIPTS = {
  hset: script(HSET_SCRIPT),
  putBatch: script(PUT_BATCH_SCRIPT),
  getTranscript: script(GET_TRANSCRIPT_SCRIPT),
  roomAdd: script(ROOM_ADD_SCRIPT),
};

/**
 * The sorted set listing a room's lectures under `prefix`: member = lecture id,
 * score = start time in epoch ms. `{roomId}` is its Redis Cluster hash tag (a
 * room's list lives in its own slot, apart from its lectures' keys).
 */
export function roomLecturesKey(prefix: string, roomId: string): string {
  return `${prefix}room:{${roomId}}:lectures`;
}

/** The Redis keys of one of a lecture's transcripts. */
export interface TranscriptKeys {
  /** Sorted set: member `batchId:index` (index zero-padded), score = start. */
  entries: string;
  /** Hash: member → entry JSON. */
  entry: string;
  /** Hash: batchId → JSON array of the batch's members. */
  batches: string;
}

/** The Redis keys of one lecture. */
export interface LectureKeys {
  /** Hash: record fields + `summary` (JSON). */
  lecture: string;
  /** Per transcript source: `batch` under `…:entries`, `live` under `…:live:entries` (and so on). */
  transcripts: Record<TranscriptSource, TranscriptKeys>;
}

/** The keys of one lecture under `prefix` (`{id}` is the Redis Cluster hash tag). */
export function lectureKeys(prefix: string, lectureId: string): LectureKeys {
  const base = `${prefix}lecture:{${lectureId}}`;
  const track = (p: string): TranscriptKeys => ({ entries: `${p}:entries`, entry: `${p}:entry`, batches: `${p}:batches` });
  return { lecture: base, transcripts: { batch: track(base), live: track(`${base}:live`) } };
}

/**
 * Every key of a lecture in the order the write scripts take them: the
 * lecture hash, the three keys of `source` (the one written), the other
 * source's three.
 */
export function writeKeys(keys: LectureKeys, source: TranscriptSource = 'batch'): string[] {
  const order: TranscriptSource[] = [source, ...transcriptSources.filter((s) => s !== source)];
  return [keys.lecture, ...order.flatMap((s) => [keys.transcripts[s].entries, keys.transcripts[s].entry, keys.transcripts[s].batches])];
}

/** The sorted-set member (and entry-hash field) of one entry: `batchId:0000000007`. */
export function memberKey(batchId: string, index: number): string {
  return `${batchId}:${String(index).padStart(10, '0')}`;
}
