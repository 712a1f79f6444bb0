-- NovaOS admission: check and charge requests/min, tokens/min and a
-- concurrency lease in one atomic step. Same arithmetic as
-- novaos/limits/memory.py (keep the two in step).
-- Mode "top_up" grows an admitted lease's token reservation instead: only the
-- tokens/min check, no new request and no new lease. Mode "top_up_retry" is a
-- top-up before a later model call of the request (failover, regeneration): its
-- reservation holds what the earlier calls are charged, so one over the whole
-- limit is refused as tokens/min (2, with a retry), never as 4.
--
-- KEYS: 1 requests zset (id -> admitted ms), 2 token zset (id -> admitted ms),
--       3 token hash (id -> reserved tokens, "_total"), 4 lease zset (id -> expiry ms),
--       5 this lease's release tombstone, 6 what this lease was charged in all (admission
--       and top-ups: its release reads it, since a top-up that ran here but whose answer
--       was lost is missing from the caller's count)
-- ARGV: 1 lease id, 2 requests/min, 3 tokens/min, 4 concurrency, 5 tokens,
--       6 lease ttl ms, 7 window ms, 8 now ms ("" = server TIME),
--       9 "admit" | "top_up" | "top_up_retry", 10 the top-up's own id (top-ups only)
-- A call Redis ran but did not answer in time may be sent again (redis-py's retry
-- on a new connection): running it twice charges once. An admission whose lease
-- is already held, or a top-up whose id is the last one applied, only answers.
-- Returns {admitted 0|1, violation 0 none|1 requests|2 tokens|3 concurrency|
--          4 the request alone reserves more than tokens/min (no wait admits it),
--          retry ms, requests in window, ms until the oldest request leaves it,
--          tokens in window, ms until the oldest reservation leaves it}

local id = ARGV[1]
local req_limit = tonumber(ARGV[2])
local tok_limit = tonumber(ARGV[3])
local conc_limit = tonumber(ARGV[4])
local tokens = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local window = tonumber(ARGV[7])
local top_up = ARGV[9] == 'top_up' or ARGV[9] == 'top_up_retry'
local now
if ARGV[8] ~= '' then
  now = tonumber(ARGV[8])
else
  -- The server clock: every gateway process shares one time line.
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local horizon = now - window

-- Purge what left the window, and leases whose TTL ran out (crashed holders).
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', horizon)
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', horizon)
if #old > 0 then
  local amounts = redis.call('HMGET', KEYS[3], unpack(old))
  local freed = 0
  for i = 1, #amounts do freed = freed + (tonumber(amounts[i]) or 0) end
  redis.call('HDEL', KEYS[3], unpack(old))
  for i = 1, #old do old[i] = old[i] .. ':top_up' end
  redis.call('HDEL', KEYS[3], unpack(old))
  -- Lua's -0 reaches Redis as "-0", which HINCRBY refuses (an all-zero charge left).
  if freed ~= 0 then redis.call('HINCRBY', KEYS[3], '_total', -freed) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
end

local count = redis.call('ZCARD', KEYS[1])
local function reset_ms(n)
  if n == 0 then return window end
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(first[2]) + window - now
end
-- Read last: after this call's own charge.
local function answer(admitted, code, retry, n)
  local used = tonumber(redis.call('HGET', KEYS[3], '_total') or '0')
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local tokens_reset = window
  if #first > 0 then tokens_reset = tonumber(first[2]) + window - now end
  return {admitted, code, retry, n, reset_ms(n), used, tokens_reset}
end
local function refuse(code, retry)
  return answer(0, code, retry, count)
end

if not top_up then
  -- Released before it ran: an admission the caller gave up on (it timed out and
  -- was served from memory) whose take-back reached Redis first. Charge nothing.
  if redis.call('EXISTS', KEYS[5]) == 1 then return answer(0, 0, 0, count) end
  -- Run already (this is the retry): admitted then, and charged then.
  if redis.call('ZSCORE', KEYS[4], id) then return answer(1, 0, 0, count) end
  -- More than the whole limit fits no window: refused as such, before the other
  -- checks, charging nothing; the caller must ask for less, not wait.
  if tokens > tok_limit then return refuse(4, 0) end
  -- Concurrency first: a refusal here must not charge request or token quota.
  local leases = redis.call('ZCARD', KEYS[4])
  if leases >= conc_limit then
    local soonest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    local retry = 1000
    if #soonest > 0 then retry = math.max(math.min(1000, tonumber(soonest[2]) - now), 1) end
    return refuse(3, retry)
  end
  if count >= req_limit then
    if req_limit == 0 then return refuse(1, window) end
    local oldest = redis.call('ZRANGE', KEYS[1], count - req_limit, count - req_limit, 'WITHSCORES')
    return refuse(1, tonumber(oldest[2]) + window - now)
  end
end
local top_up_field = id .. ':top_up'
if top_up and redis.call('HGET', KEYS[3], top_up_field) == ARGV[10] then
  return answer(1, 0, 0, count)  -- run already (this is the retry)
end
-- A top-up: the lease's whole reservation would be over the limit (as above).
if ARGV[9] == 'top_up' and tonumber(redis.call('HGET', KEYS[3], id) or '0') + tokens > tok_limit then
  return refuse(4, 0)
end
local used = tonumber(redis.call('HGET', KEYS[3], '_total') or '0')
if used + tokens > tok_limit then
  local need, freed = used + tokens - tok_limit, 0
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    freed = freed + (tonumber(redis.call('HGET', KEYS[3], entries[i])) or 0)
    if freed >= need then return refuse(2, tonumber(entries[i + 1]) + window - now) end
  end
  return refuse(2, window)
end

if top_up then
  -- The reservation keeps its admission time; one already out of the window starts anew.
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HINCRBY', KEYS[3], id, tokens)
  else
    redis.call('ZADD', KEYS[2], now, id)
    redis.call('HSET', KEYS[3], id, tokens)
  end
  redis.call('HSET', KEYS[3], top_up_field, ARGV[10])
  redis.call('HINCRBY', KEYS[3], '_total', tokens)
  -- Not recreated when lost (a restart): the release then has the caller's count.
  if redis.call('EXISTS', KEYS[6]) == 1 then redis.call('INCRBY', KEYS[6], tokens) end
  redis.call('PEXPIRE', KEYS[2], window)
  redis.call('PEXPIRE', KEYS[3], window)
  return answer(1, 0, 0, count)
end

redis.call('ZADD', KEYS[1], now, id)
redis.call('ZADD', KEYS[2], now, id)
redis.call('HSET', KEYS[3], id, tokens)
redis.call('HINCRBY', KEYS[3], '_total', tokens)
redis.call('ZADD', KEYS[4], now + ttl, id)
-- For a lease TTL and a window past its last refresh (a stream longer than the window
-- that Redis could not refresh for a while still finds it); its release deletes it.
redis.call('SET', KEYS[6], tokens, 'PX', ttl + window)
-- Idle subjects vanish: window entries after a window, leases after a TTL.
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[2], window)
redis.call('PEXPIRE', KEYS[3], window)
if redis.call('PTTL', KEYS[4]) < ttl then redis.call('PEXPIRE', KEYS[4], ttl) end
return answer(1, 0, 0, count + 1)
