package redis

import goredis "github.com/redis/go-redis/v9"

// Data layout, under the prefix P:
//
//	P c:KEY@BUCKET   hash {s: spent, r: reserved} of one cell
//	P l:KEY          sorted set of the leased reservations of one counter:
//	                 member "BUCKET:AMOUNT:LEASE", score its deadline (ms)
//
// Every script first takes back the lapsed leases of the counters it
// touches, so a dead replica's reservations free their room at the next
// call that looks. Cells and lease sets expire an hour after the charge's
// Keep (or its lease's deadline, if later); a lease set never expires
// before the cells it points into.

// luaLib is shared by the scripts: the time, lapsed-lease cleanup, window
// sums and key expiry.
const luaLib = `
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local GRACE = 3600000

local function cellkey(key, b) return P .. 'c:' .. key .. '@' .. b end

-- take back the leased reservations of key whose deadline passed
local cleaned = {}
local function clean(key)
  if cleaned[key] then return end
  cleaned[key] = true
  local lz = P .. 'l:' .. key
  local dead = redis.call('ZRANGEBYSCORE', lz, '-inf', now)
  if #dead == 0 then return end
  for _, m in ipairs(dead) do
    local b, a = string.match(m, '^(%-?%d+):(%d+):')
    local ck = cellkey(key, b)
    if a ~= '0' and redis.call('EXISTS', ck) == 1 then
      if redis.call('HINCRBY', ck, 'r', '-' .. a) < 0 then redis.call('HSET', ck, 'r', 0) end
    end
  end
  redis.call('ZREMRANGEBYSCORE', lz, '-inf', now)
end

-- Lua numbers are doubles: sums never wrap, but one at or past 2^63
-- does not fit the integer reply, so it is answered as the largest int64
-- (a string, exact): counters saturate instead of turning negative.
local MAXI = '9223372036854775807'
local function sat(x)
  if x >= 9223372036854775807 then return MAXI end
  return x
end

-- add a (a string) to field f of cell ck, saturated at the largest int64
-- where HINCRBY would refuse the overflow
local function incr(ck, f, a)
  local res = redis.pcall('HINCRBY', ck, f, a)
  if type(res) == 'table' and res.err then redis.call('HSET', ck, f, MAXI) end
end

-- spent and reserved over the span cells up to bucket b, saturated
local function window(key, b, span)
  local s, r = 0, 0
  b = tonumber(b)
  for j = 0, span - 1 do
    local v = redis.call('HMGET', cellkey(key, string.format('%d', b - j)), 's', 'r')
    s = s + (tonumber(v[1]) or 0)
    r = r + (tonumber(v[2]) or 0)
  end
  return sat(s), sat(r)
end

-- make k live at least until at (ms); at 0 leaves it as it is
local function keep(k, at)
  if at <= 0 then return end
  local ttl = redis.call('PTTL', k)
  if ttl == -1 or (ttl >= 0 and ttl < at - now) then redis.call('PEXPIREAT', k, at) end
end

local function deadline(keepms, ttlms)
  if keepms <= 0 then return 0 end
  return math.max(keepms, now + ttlms) + GRACE
end

-- take back amount a (a string) reserved on cell ck, never below zero
local function unreserve(ck, a)
  if a == '0' or redis.call('EXISTS', ck) == 0 then return end
  if redis.call('HINCRBY', ck, 'r', '-' .. a) < 0 then redis.call('HSET', ck, 'r', 0) end
end
`

// reserveScript is Counters.Reserve. ARGV: prefix, n, then per charge key,
// bucket, span, amount, limit, lease, lease ttl ms (0: none), keep ms (0:
// none). It returns {failed (-1 when all were added), then spent and
// reserved of each charge checked}.
var reserveScript = goredis.NewScript(luaLib + `
local n = tonumber(ARGV[2])
local out = {-1}
for i = 0, n - 1 do
  local o = 3 + i * 8
  local key, span, amt, lim = ARGV[o], tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  clean(key)
  local s, r = window(key, ARGV[o + 1], span)
  out[2 + i * 2], out[3 + i * 2] = s, r
  if lim >= 0 and tonumber(s) + tonumber(r) + amt > lim then
    out[1] = i
    return out
  end
end
for i = 0, n - 1 do
  local o = 3 + i * 8
  local key, b, amt, lease, ttl, keepms = ARGV[o], ARGV[o + 1], ARGV[o + 3], ARGV[o + 5], tonumber(ARGV[o + 6]), tonumber(ARGV[o + 7])
  if amt ~= '0' then
    local ck = cellkey(key, b)
    incr(ck, 'r', amt)
    out[3 + i * 2] = sat(tonumber(out[3 + i * 2]) + tonumber(amt))
    local at = deadline(keepms, ttl)
    keep(ck, at)
    if lease ~= '' and ttl > 0 then
      local lz = P .. 'l:' .. key
      redis.call('ZADD', lz, now + ttl, b .. ':' .. amt .. ':' .. lease)
      if keepms > 0 then keep(lz, math.max(at, now + ttl + GRACE)) end
    end
  end
end
return out
`)

// settleScript is Counters.Settle and Release. ARGV: prefix, n, sums (1:
// return the window sums), then per charge key, bucket, span, amount,
// actual, lease ("" when the reservation had none), keep ms. It returns
// the spent and reserved of each charge after settling, if asked.
var settleScript = goredis.NewScript(luaLib + `
local n, want = tonumber(ARGV[2]), ARGV[3] == '1'
local out = {}
for i = 0, n - 1 do
  local o = 4 + i * 7
  local key, b, span, amt, actual, lease, keepms = ARGV[o], ARGV[o + 1], tonumber(ARGV[o + 2]), ARGV[o + 3], ARGV[o + 4], ARGV[o + 5], tonumber(ARGV[o + 6])
  clean(key)
  local ck = cellkey(key, b)
  if lease == '' then
    unreserve(ck, amt)
  elseif redis.call('ZREM', P .. 'l:' .. key, b .. ':' .. amt .. ':' .. lease) == 1 then
    unreserve(ck, amt)
  end
  if actual ~= '0' then
    incr(ck, 's', actual)
    keep(ck, deadline(keepms, 0))
  end
  if want then
    out[1 + i * 2], out[2 + i * 2] = window(key, b, span)
  end
end
return out
`)

// addSpentScript is Counters.AddSpent. ARGV: prefix, n, then per charge
// key, bucket, actual, keep ms.
var addSpentScript = goredis.NewScript(luaLib + `
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
  local o = 3 + i * 4
  local actual = ARGV[o + 2]
  if actual ~= '0' then
    local ck = cellkey(ARGV[o], ARGV[o + 1])
    incr(ck, 's', actual)
    keep(ck, deadline(tonumber(ARGV[o + 3]), 0))
  end
end
return 0
`)

// readScript is Counters.Read. ARGV: prefix, key, bucket, span. It
// returns {spent, reserved}.
var readScript = goredis.NewScript(luaLib + `
clean(ARGV[2])
local s, r = window(ARGV[2], ARGV[3], tonumber(ARGV[4]))
return {s, r}
`)
