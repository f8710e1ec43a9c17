"""The run store's Lua scripts, as data: each is registered by the part of the store that runs it
(``workflows.storecommit``, ``leases``, ``envlocks``, ``runretention``, ``outbox``; and
``announcements`` for its list and its lock, ACK and LEASE, ``cardstore`` for the card's lock,
LEASE). Above each, the KEYS and ARGV it takes.
"""

__all__ = [
    "ACK",
    "CARD_DONE",
    "CLAIM",
    "COMMIT",
    "FORGET",
    "LEASE",
    "LOCK",
    "LOCKS",
    "SNAPSHOT",
    "TAKE",
]

# The commit: its KEYS and ARGV are built by ``storecommit.CommitArgs``.
# KEYS: run, audit, ledger, lease, seen, outbox [, due, cards: single server only]
#       [, the environment locks: the last ARGV[23] keys, single server only]
# ARGV: 1 expected version, 2 token, 3 new version, 4 doc, 5 ledger mode, 6 ledger field,
#       7 ledger value, 8 dedup key, 9 dedup value, 10 outbox JSON array or '', 11 plan JSON
#       (only when created) or '', 12-16 audit type, at, actor, step, detail,
#       17 due ms or '', 18 now ms, 19 run id (the indexes, with KEYS 7 and 8),
#       20 lock op ('', 'take', 'release'), 21 the run that may already hold them (a take-over)
#       or '', 22 unused, 23 how many lock keys
COMMIT = """
if ARGV[2] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[2] then
  return {'lease_lost', ''}
end
if ARGV[8] ~= '' then
  local prior = redis.call('HGET', KEYS[5], ARGV[8])
  if prior then return {'duplicate', prior} end
end
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return {'conflict', v} end
local nlocks = tonumber(ARGV[23] or '0') or 0
local firstlock = #KEYS - nlocks + 1
if ARGV[20] == 'take' then
  for i = firstlock, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if holder and holder ~= ARGV[19] and holder ~= ARGV[21] then
      return {'locked', KEYS[i] .. '=' .. holder}
    end
  end
end
if ARGV[5] == 'intent' then
  if redis.call('HSETNX', KEYS[3], ARGV[6], ARGV[7]) == 0 then return {'in_doubt', ''} end
elseif ARGV[5] == 'outcome' then
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'doc', ARGV[4])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'plan', ARGV[11]) end
redis.call('XADD', KEYS[2], '*', 'type', ARGV[12], 'at', ARGV[13], 'actor', ARGV[14],
           'step', ARGV[15], 'v', ARGV[3], 'detail', ARGV[16])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[5], ARGV[8], ARGV[9]) end
if ARGV[10] ~= '' then
  local out = cjson.decode(ARGV[10])
  for i = 1, #out do redis.call('RPUSH', KEYS[6], out[i]) end
end
for i = firstlock, #KEYS do
  if ARGV[20] == 'take' then
    redis.call('SET', KEYS[i], ARGV[19])
  elseif ARGV[20] == 'release' and redis.call('GET', KEYS[i]) == ARGV[19] then
    redis.call('DEL', KEYS[i])
  end
end
if #KEYS - nlocks >= 8 then
  if ARGV[17] ~= '' then redis.call('ZADD', KEYS[7], 'LT', ARGV[17], ARGV[19]) end
  redis.call('ZADD', KEYS[8], ARGV[18], ARGV[19])
end
return {'ok', ARGV[3]}
"""

# KEYS: the run's owned keys (keys.RunKeys.owned: run, audit, ledger, lease, fence, seen, outbox,
#       card, card lock, card requests) [, finished, recent, active, due, cards, archived: single
#       server only]
# ARGV: 1 version archived, 2 last audit entry id archived, 3 run id, 4 finished ms,
#       5 archived entries kept, 6 how many owned keys, 7 outbox length archived,
#       8 a card marked dirty after this (ms) is still being posted
# Deletes the run only if it is still exactly what was archived and nobody is posting its card.
FORGET = """
local n = tonumber(ARGV[6])
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'gone' end
if v ~= ARGV[1] then return 'changed' end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local lid = ''
if #last > 0 then lid = last[1][1] end
if lid ~= ARGV[2] then return 'changed' end
if redis.call('LLEN', KEYS[7]) ~= tonumber(ARGV[7]) then return 'changed' end
if redis.call('EXISTS', KEYS[9]) == 1 then return 'busy' end
if #KEYS > n then
  local dirty = redis.call('ZSCORE', KEYS[n + 5], ARGV[3])
  if dirty and tonumber(dirty) > tonumber(ARGV[8]) then return 'busy' end
end
for i = 1, n do redis.call('DEL', KEYS[i]) end
if #KEYS > n then
  for i = n + 1, n + 5 do redis.call('ZREM', KEYS[i], ARGV[3]) end
  redis.call('ZADD', KEYS[n + 6], ARGV[4], ARGV[3])
  redis.call('ZREMRANGEBYRANK', KEYS[n + 6], 0, -tonumber(ARGV[5]) - 1)
end
return 'deleted'
"""

# Cluster only (the lock is in another slot than the run). KEYS: lock
# ARGV: 'take' | 'release' | 'restore', owner, take-over from ('' or a run id)
# take: the holder when another run holds it; 1 when the owner already held it (not taken now,
# so never the taker's to give back); else nothing (taken).
LOCK = """
local holder = redis.call('GET', KEYS[1])
if ARGV[1] == 'take' then
  if holder == ARGV[2] then return 1 end
  if holder and holder ~= ARGV[3] then return holder end
  redis.call('SET', KEYS[1], ARGV[2])
  return false
elseif ARGV[1] == 'restore' then
  if holder == ARGV[2] then
    if ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[3]) else redis.call('DEL', KEYS[1]) end
  end
  return false
end
if holder == ARGV[2] then redis.call('DEL', KEYS[1]) end
return false
"""

# One server. KEYS: the locks   ARGV: 'release' | 'retake', the run
# release: delete the locks the run holds. retake: take them all if each is free or the run's,
# else change nothing and return 'key=holder' of the first held by another run.
LOCKS = """
if ARGV[1] == 'retake' then
  for i = 1, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if holder and holder ~= ARGV[2] then return KEYS[i] .. '=' .. holder end
  end
  for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2]) end
  return false
end
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2] then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
"""

# KEYS: run, audit, ledger, card, outbox: everything the archive keeps of a run, read at once
SNAPSHOT = """
local doc = redis.call('HGET', KEYS[1], 'doc')
if not doc then return false end
return {doc, redis.call('HGET', KEYS[1], 'plan') or '', redis.call('HGET', KEYS[1], 'v') or '0',
        redis.call('XRANGE', KEYS[2], '-', '+'), redis.call('HGETALL', KEYS[3]),
        redis.call('HGETALL', KEYS[4]), redis.call('LRANGE', KEYS[5], 0, -1)}
"""

# KEYS: lease, fence, run   ARGV: worker, ttl ms
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
-- a run archived (its keys deleted) after its id was read from the due index: nothing to take,
-- and no key may be created for it (a fence counter would outlive the run for ever)
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
local token = ARGV[1] .. ':' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""

# KEYS: cards   ARGV: run id, the score the notifier saw
CARD_DONE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# KEYS: outbox   ARGV: how many
TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
return items
"""

# KEYS: outbox (or the announcements list)   ARGV: the items posted, oldest first (pop each only
# while it is still the head, so an acknowledgement that comes late, after another notifier
# trimmed, removes nothing else)
ACK = """
local n = 0
for i = 1, #ARGV do
  if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[i] then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
return n
"""

# KEYS: lease   ARGV: token, ttl ms (0 = release)
LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""
