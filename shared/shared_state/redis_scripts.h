// The Lua scripts RedisState runs (EVAL: each runs atomically, so two relays never both take
// the last SMS of a limit, both open the same storm, or both claim the same message).
#pragma once

namespace smsm::redis_scripts {

// Rate limits, sliding windows on sorted sets (one member per SMS, scored by its time).
// KEYS: the counters. ARGV[1]: now; ARGV[2]: the reservation's member prefix; then per key
// its limit, its period in seconds and the comma-separated numbers (1-based indexes) that
// count against it. Forgets what has left each window, then returns the 1-based index of the
// first key that refuses, or 0 once every number is reserved: member PREFIX:INDEX in each key
// it counts against, scored now (a reservation counts like an SMS until it is released).
inline constexpr const char* kReserve = R"lua(
local now = tonumber(ARGV[1])
local want = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3 * i])
  local period = tonumber(ARGV[3 * i + 1])
  local idx = {}
  for n in string.gmatch(ARGV[3 * i + 2], '%d+') do idx[#idx + 1] = n end
  want[i] = idx
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  if redis.call('ZCARD', key) + #idx > limit then return i end
end
for i, key in ipairs(KEYS) do
  for _, n in ipairs(want[i]) do redis.call('ZADD', key, now, ARGV[2] .. ':' .. n) end
  redis.call('EXPIRE', key, tonumber(ARGV[3 * i + 1]) + 60)
end
return 0
)lua";

// End of message, per job: its dedup key and its storm key ("" for none).
// KEYS[2i-1], KEYS[2i]: job i's smsm:dup:... and smsm:storm:... keys.
// ARGV: now, storm window, pending mark, pending seconds, duplicate window, new storm id prefix.
// Returns per job {dedup, storm, storm id, closes}: dedup "none", "owned" (set to the pending
// mark), "queued" or "pending" (another relay's mark); storm "none", "first" (a storm opened
// with a new id) or "held" (counted in the open one). A duplicate or pending job touches no
// storm.
inline constexpr const char* kClaim = R"lua(
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS / 2 do
  local dup, storm = KEYS[2 * i - 1], KEYS[2 * i]
  local d = 'none'
  if dup ~= '' then
    if redis.call('SET', dup, ARGV[3], 'NX', 'EX', ARGV[4]) then
      d = 'owned'
    else
      local v = redis.call('GET', dup)
      if v == 'queued' then d = 'queued' elseif v then d = 'pending' else d = 'none' end
    end
  end
  local s, id, closes = 'none', '', 0
  if storm ~= '' and (d == 'none' or d == 'owned') and window > 0 then
    local cur = redis.call('HMGET', storm, 'id', 'closes')
    if cur[1] and tonumber(cur[2]) > now then
      s, id, closes = 'held', cur[1], tonumber(cur[2])
      redis.call('INCR', 'smsm:held:' .. id)
      redis.call('EXPIRE', 'smsm:held:' .. id, window + 86400)
    else
      s, id, closes = 'first', ARGV[6] .. ':' .. i, now + window
      redis.call('DEL', storm)
      redis.call('HSET', storm, 'id', id, 'closes', closes)
      redis.call('EXPIRE', storm, window + 60)
    end
  end
  out[i] = {d, s, id, tostring(closes)}
end
return out
)lua";

// Undoes one job's claim when it was not queued. KEYS[1]: its dup key ("": none), KEYS[2]:
// its storm key ("": none). ARGV: its pending mark, storm role ("first", "held" or ""), storm
// id. The dup key goes only while it still holds this relay's mark; a storm it opened goes
// only while it is still that storm; a hold is taken back.
inline constexpr const char* kUndo = R"lua(
if KEYS[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] == 'first' and KEYS[2] ~= '' and redis.call('HGET', KEYS[2], 'id') == ARGV[3] then
  redis.call('DEL', KEYS[2])
elseif ARGV[2] == 'held' then
  local h = 'smsm:held:' .. ARGV[3]
  if tonumber(redis.call('GET', h) or '0') > 0 then redis.call('DECR', h) end
end
return 0
)lua";

// Takes the held counts of closed storms: ARGV: the storm ids; returns the counts, each
// removed.
inline constexpr const char* kTakeHeld = R"lua(
local out = {}
for i, id in ipairs(ARGV) do
  local h = 'smsm:held:' .. id
  out[i] = tonumber(redis.call('GET', h) or '0')
  redis.call('DEL', h)
end
return out
)lua";

}  // namespace smsm::redis_scripts
