import { luaScript as lua } from '../util/redis.js';

/**
 * The cluster's Lua scripts. Every key lives under `<prefix>{cluster}:` — one
 * Redis Cluster hash tag, so all of them share a slot and a script may touch a
 * node's or a room's keys that it derives from ids (same slot; the keys whose
 * names the caller knows are passed in KEYS). Time is always the server's
 * (`TIME`), read inside the script that compares or writes it: one clock.
 *
 * Layout (`B` = `<prefix>{cluster}:`):
 * - `B nodes` — sorted set, nodeId → its last heartbeat (server ms);
 * - `B node:<nodeId>` — hash: incarnation, state, load, limits (JSON), meta (JSON), since;
 * - `B node:<nodeId>:rooms` — set of the rooms the node spans (to clean them up when it goes);
 * - `B room:<roomId>` — hash: `owner` → nodeId, `n:<nodeId>` → `<incarnation>|<joinedAt ms>`;
 * - `B gone` — sorted set of recent departures, member `<reason>|<incarnation>|<nodeId>`,
 *   score = when; kept `ttl`, deleted when the last node leaves;
 * - `B activity` / `B calm-until` — when a heartbeat or sweep last ran, and until when
 *   nobody is declared dead after Redis stood still (`stalled`);
 * - `B members:<roomId>` — hash, what a room's nodes share (MediaNode): `p:<peerId>`,
 *   `r:<producerId>`, `h:<peerId>` (a raised hand) → `<incarnation>|<JSON>`, written
 *   by the member's node;
 * - `B nodemembers:<incarnation>` — set of the rooms where that incarnation has
 *   members (so the node that finds it dead can tell its peers);
 * - channels `B roomch:<roomId>` (a room's changes) and `B rpc:<nodeId>` (requests
 *   to a node and its replies).
 *
 * Every key expires (`ttl`, refreshed by its node's heartbeat), so a cluster that
 * vanishes entirely leaves nothing behind.
 */
const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Removes node's entry from a room (only the given incarnation's, unless inc is false);
-- hands the ownership to the earliest remaining member, deletes an empty room.
local function drop_from_room(base, room, node, inc)
  local key = base .. 'room:' .. room
  local v = redis.call('HGET', key, 'n:' .. node)
  if not v then return end
  if inc and string.sub(v, 1, #inc + 1) ~= inc .. '|' then return end
  redis.call('HDEL', key, 'n:' .. node)
  local fields = redis.call('HGETALL', key)
  local owner, best, bestAt = nil, nil, nil
  for i = 1, #fields, 2 do
    local f = fields[i]
    if f == 'owner' then owner = fields[i + 1]
    elseif string.sub(f, 1, 2) == 'n:' then
      local at = tonumber(string.match(fields[i + 1], '|(%d+)$')) or 0
      if best == nil or at < bestAt or (at == bestAt and f < best) then best, bestAt = f, at end
    end
  end
  if best == nil then redis.call('DEL', key)
  elseif owner == node or owner == nil then redis.call('HSET', key, 'owner', string.sub(best, 3)) end
end
local function forget_rooms(base, node, inc)
  local set = base .. 'node:' .. node .. ':rooms'
  for _, room in ipairs(redis.call('SMEMBERS', set)) do drop_from_room(base, room, node, inc) end
  redis.call('DEL', set)
end
local function refresh(key, ttl)
  if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, ttl) end
end
-- Redis itself stood still when no heartbeat or sweep ran for longer than gap ms (it was
-- frozen, or restarted, or every node was away): heartbeat scores are stale for that reason
-- alone, and commands queued during a freeze run in any order across connections. So nobody
-- is declared dead until grace ms after it moves again. True during that grace.
local function stalled(base, now, gap, grace, ttl)
  local last = tonumber(redis.call('GET', base .. 'activity') or '0')
  if now - last > gap then redis.call('SET', base .. 'calm-until', now + grace, 'PX', ttl) end
  redis.call('SET', base .. 'activity', now, 'PX', ttl)
  return now < tonumber(redis.call('GET', base .. 'calm-until') or '0')
end
`;

/**
 * KEYS: nodes, node, node rooms, gone. ARGV: base, nodeId, incarnation, mode
 * ('register' | 'beat'), state, load, limits, meta, ttl, stall gap, stall grace (see `stalled`).
 * Returns {status, now[, other incarnation]}; status: 'registered' (new),
 * 'restored' (a beat found no registration: Redis lost it, or the node was declared
 * dead), 'replaced' (a registration replaced an older incarnation, which is gone),
 * 'superseded' (a beat found a newer incarnation: nothing written), 'ok'.
 */
export const HEARTBEAT = lua(`${COMMON}
local base, node, inc, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl = tonumber(ARGV[9])
local now = now_ms()
stalled(base, now, tonumber(ARGV[10]), tonumber(ARGV[11]), ttl)
local cur = redis.call('HGET', KEYS[2], 'incarnation')
local status = 'ok'
if cur and cur ~= inc then
  if mode == 'beat' then return {'superseded', now, cur} end
  redis.call('ZADD', KEYS[4], now, 'restarted|' .. cur .. '|' .. node)
  forget_rooms(base, node, cur)
  redis.call('DEL', KEYS[2])
  status = 'replaced'
elseif not cur then
  if mode == 'register' then status = 'registered' else status = 'restored' end
end
redis.call('HSET', KEYS[2], 'incarnation', inc, 'state', ARGV[5], 'load', ARGV[6], 'limits', ARGV[7], 'meta', ARGV[8])
if status ~= 'ok' then redis.call('HSET', KEYS[2], 'since', now) end
redis.call('ZADD', KEYS[1], now, node)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
refresh(KEYS[3], ttl)
refresh(KEYS[4], ttl)
for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  refresh(base .. 'room:' .. room, ttl)
  refresh(base .. 'members:' .. room, ttl)
end
refresh(base .. 'nodemembers:' .. inc, ttl)
return {status, now}
`);

/**
 * KEYS: nodes, gone. ARGV: base, deadAfterMs, ttl, stall gap, stall grace.
 * Unless Redis has just stood still (`stalled`), declares every node silent for
 * longer than deadAfterMs dead (tombstone
 * 'missed-heartbeats', its room entries dropped, its keys deleted) — idempotent,
 * any node may run it — then returns {now, swept, live nodes, tombstones}; a
 * live node = {nodeId, heartbeatAt, incarnation, state, load, limits, meta, since}.
 */
export const SWEEP = lua(`${COMMON}
local base = ARGV[1]
local dead, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local stale = {}
if not stalled(base, now, tonumber(ARGV[4]), tonumber(ARGV[5]), ttl) then
  stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - dead))
end
for _, node in ipairs(stale) do
  local nk = base .. 'node:' .. node
  local inc = redis.call('HGET', nk, 'incarnation')
  if inc then redis.call('ZADD', KEYS[2], now, 'missed-heartbeats|' .. inc .. '|' .. node) end
  forget_rooms(base, node, false)
  redis.call('DEL', nk)
  redis.call('ZREM', KEYS[1], node)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl))
refresh(KEYS[2], ttl)
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  local h = redis.call('HMGET', base .. 'node:' .. live[i], 'incarnation', 'state', 'load', 'limits', 'meta', 'since')
  if h[1] then out[#out + 1] = {live[i], live[i + 1], h[1], h[2], h[3], h[4], h[5], h[6]} end
end
return {now, #stale, out, redis.call('ZRANGE', KEYS[2], 0, -1)}
`);

/**
 * KEYS: nodes, node, gone. ARGV: base, nodeId, incarnation, ttl.
 * Deregisters (tombstone 'left'); nothing when another incarnation holds the id.
 */
export const LEAVE_CLUSTER = lua(`${COMMON}
local base, node, inc = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[2], 'incarnation') ~= inc then return 0 end
forget_rooms(base, node, inc)
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], node)
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[3], base .. 'activity', base .. 'calm-until')
else
  redis.call('ZADD', KEYS[3], now_ms(), 'left|' .. inc .. '|' .. node)
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[4]))
end
return 1
`);

/**
 * KEYS: room, nodes, node hash of each candidate. ARGV: base, roomId, deadAfterMs,
 * cost, ttl, then the candidates' nodeIds (in KEYS order).
 * Sticky first (the least loaded of the room's live, serving members with
 * headroom), else the least loaded live serving node with headroom (ties: nodeId),
 * which joins the room (and owns it when it had no owner). Drops entries of dead
 * members on the way (the directory corrects itself). The chosen node's load is
 * raised by `cost` until its next heartbeat, so concurrent placements spread.
 * Returns {'placed', now, nodeId, sticky 0|1, owner} or {'overloaded', now, report}
 * with one 'nodeId|state|load' per candidate.
 */
export const PLACE = lua(`${COMMON}
local base, room = ARGV[1], ARGV[2]
local dead, cost, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local span, owner = {}, nil
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local f = fields[i]
  if f == 'owner' then owner = fields[i + 1]
  elseif string.sub(f, 1, 2) == 'n:' then span[string.sub(f, 3)] = string.match(fields[i + 1], '^(.*)|') end
end
local live, seen = {}, {}
local best, bestLoad, bestSticky, bestInc = nil, nil, false, nil
local report = {}
local function consider(node, key)
  seen[node] = true
  local score = redis.call('ZSCORE', KEYS[2], node)
  local h = redis.call('HMGET', key, 'incarnation', 'state', 'load')
  local alive = score ~= false and tonumber(score) >= now - dead and h[1] ~= false
  local load = tonumber(h[3]) or 1
  if alive then live[node] = h[1] end
  report[#report + 1] = node .. '|' .. (alive and h[2] or 'dead') .. '|' .. (h[3] or '')
  if alive and h[2] == 'serving' and load < 1 and load + cost <= 1 then
    local sticky = span[node] ~= nil and span[node] == h[1]
    if best == nil or (sticky and not bestSticky) or (sticky == bestSticky and (load < bestLoad or (load == bestLoad and node < best))) then
      best, bestLoad, bestSticky, bestInc = node, load, sticky, h[1]
    end
  end
end
for i = 3, #KEYS do consider(ARGV[i + 3], KEYS[i]) end
-- Members the caller did not name (registered after it read the node list): same slot, read them too.
for node, _ in pairs(span) do
  if not seen[node] then consider(node, base .. 'node:' .. node) end
end
for node, inc in pairs(span) do
  if live[node] ~= inc then drop_from_room(base, room, node, inc) end
end
if best == nil then return {'overloaded', now, report} end
if not bestSticky then
  redis.call('HSET', KEYS[1], 'n:' .. best, bestInc .. '|' .. now)
  local o = redis.call('HGET', KEYS[1], 'owner')
  if not o or redis.call('HEXISTS', KEYS[1], 'n:' .. o) == 0 then redis.call('HSET', KEYS[1], 'owner', best) end
  local set = base .. 'node:' .. best .. ':rooms'
  redis.call('SADD', set, room)
  redis.call('PEXPIRE', set, ttl)
end
if cost > 0 then redis.call('HINCRBYFLOAT', base .. 'node:' .. best, 'load', cost) end
redis.call('PEXPIRE', KEYS[1], ttl)
return {'placed', now, best, bestSticky and 1 or 0, redis.call('HGET', KEYS[1], 'owner')}
`);

/**
 * KEYS: room, node hash, node rooms. ARGV: roomId, nodeId, ttl.
 * The node (registered) joins the room; owns it when it has no owner. Keeps
 * the join time of an entry of the same incarnation. Returns the owner, or
 * false when the node is not registered.
 */
export const JOIN = lua(`${COMMON}
local room, node, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local inc = redis.call('HGET', KEYS[2], 'incarnation')
if not inc then return false end
local v = redis.call('HGET', KEYS[1], 'n:' .. node)
if not v or string.sub(v, 1, #inc + 1) ~= inc .. '|' then
  redis.call('HSET', KEYS[1], 'n:' .. node, inc .. '|' .. now_ms())
end
local o = redis.call('HGET', KEYS[1], 'owner')
if not o or redis.call('HEXISTS', KEYS[1], 'n:' .. o) == 0 then redis.call('HSET', KEYS[1], 'owner', node) end
redis.call('SADD', KEYS[3], room)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return redis.call('HGET', KEYS[1], 'owner')
`);

/** KEYS: node rooms. ARGV: base, roomId, nodeId. The node leaves the room (any incarnation). */
export const LEAVE_ROOM = lua(`${COMMON}
drop_from_room(ARGV[1], ARGV[2], ARGV[3], false)
redis.call('SREM', KEYS[1], ARGV[2])
return 1
`);

/**
 * KEYS: room, nodes. ARGV: deadAfterMs, base. The room's hash as {owner, {nodeId,
 * incarnation, joinedAt, alive 0|1}...} (alive: that incarnation is live); read-only.
 */
export const LOOKUP = lua(`${COMMON}
local dead = tonumber(ARGV[1])
local now = now_ms()
local fields = redis.call('HGETALL', KEYS[1])
local owner, out = false, {}
for i = 1, #fields, 2 do
  local f = fields[i]
  if f == 'owner' then owner = fields[i + 1]
  elseif string.sub(f, 1, 2) == 'n:' then
    local node = string.sub(f, 3)
    local inc, at = string.match(fields[i + 1], '^(.*)|(%d+)$')
    local score = redis.call('ZSCORE', KEYS[2], node)
    local alive = score ~= false and tonumber(score) >= now - dead
      and redis.call('HGET', ARGV[2] .. 'node:' .. node, 'incarnation') == inc
    out[#out + 1] = {node, inc, at, alive and 1 or 0}
  end
end
return {owner, out}
`);

/** KEYS: nodes. The registered nodeIds (read-only). */
export const NODE_IDS = lua(`return redis.call('ZRANGE', KEYS[1], 0, -1)`);

/**
 * KEYS: members, nodemembers (the writer's). ARGV: channel, ttl, roomId, message
 * ('' = none), incarnation, then triples (op, field, value): `set`, `del`, `delown`
 * (only if the writer's incarnation wrote it: a peer that moved to another node
 * keeps that node's entry), `delprefix` (every field starting with `field`),
 * `delmine` (every field the writer's incarnation wrote: a re-assert replaces them).
 * Writes, then publishes: a node that subscribed before it read the hash misses nothing.
 */
export const ROOM_WRITE = lua(`
local ttl, inc = tonumber(ARGV[2]), ARGV[5]
local i = 6
while i + 2 <= #ARGV do
  local op, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'set' then redis.call('HSET', KEYS[1], f, v)
  elseif op == 'del' then redis.call('HDEL', KEYS[1], f)
  elseif op == 'delown' then
    local cur = redis.call('HGET', KEYS[1], f)
    if cur and string.sub(cur, 1, #inc + 1) == inc .. '|' then redis.call('HDEL', KEYS[1], f) end
  elseif op == 'delmine' then
    for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
      local cur = redis.call('HGET', KEYS[1], k)
      if string.sub(cur, 1, #inc + 1) == inc .. '|' then redis.call('HDEL', KEYS[1], k) end
    end
  elseif op == 'delprefix' then
    for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
      if string.sub(k, 1, #f) == f then redis.call('HDEL', KEYS[1], k) end
    end
  end
  i = i + 3
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[4]) end
return 1
`);

/** KEYS: members. Returns the hash's fields and values, flat. */
export const ROOM_READ = lua(`return redis.call('HGETALL', KEYS[1])`);

/**
 * KEYS: members, nodemembers (the leaver's). ARGV: channel, incarnation, roomId, message.
 * A node leaves a room cleanly: its entries go, then the others hear it.
 */
export const ROOM_LEAVE = lua(`
local inc = ARGV[2]
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i + 1], 1, #inc + 1) == inc .. '|' then redis.call('HDEL', KEYS[1], fields[i]) end
end
redis.call('SREM', KEYS[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[4]) end
return 1
`);

/**
 * KEYS: nodemembers (of the dead incarnation). ARGV: base, incarnation.
 * Removes a dead incarnation's entries from every room it had members in and
 * returns {roomId, {peerIds}} per room. Once: the set is deleted, so of the nodes
 * that find the same node dead exactly one gets its peers (and tells them).
 */
export const CLAIM_LOST = lua(`
local base, inc = ARGV[1], ARGV[2]
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = base .. 'members:' .. room
  local fields = redis.call('HGETALL', key)
  local peers = {}
  for i = 1, #fields, 2 do
    if string.sub(fields[i + 1], 1, #inc + 1) == inc .. '|' then
      redis.call('HDEL', key, fields[i])
      if string.sub(fields[i], 1, 2) == 'p:' then peers[#peers + 1] = string.sub(fields[i], 3) end
    end
  end
  out[#out + 1] = {room, peers}
end
redis.call('DEL', KEYS[1])
return out
`);

/** ARGV: channel, message. Returns how many subscribers got it (0: nobody listens there). */
export const PUBLISH = lua(`return redis.call('PUBLISH', ARGV[1], ARGV[2])`);
