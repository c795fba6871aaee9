/**
 * GCRA as one Redis Lua script (same arithmetic as gcra.ts), so that read-decide-write is
 * atomic and every instance uses Redis's clock (TIME) rather than its own.
 *
 * KEYS[1] = bucket key; ARGV = emission interval (ms), burst, cost.
 * Returns { allowed (0|1), remaining, resetAfterMs, retryAfterMs } as integers.
 * The TAT is stored in ms with microsecond precision and expires when the bucket is full
 * again, so Redis holds no state for idle keys.
 */
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tolerance = burst * interval
local eps = 1e-9
local slack = math.min(burst * 0.001, interval / 2)
-- Whole ms until a moment, rounded up less 1 µs of floating-point noise (as gcra.ts's ceilMs).
local function ceil_ms(x) return math.ceil(x - 0.001) end
local tat = tonumber(redis.call('GET', KEYS[1]))
local capped = false
if tat == nil or tat < now then
  tat = now
elseif tat > now + tolerance then
  tat = now + tolerance
  capped = true
end
local new_tat = tat + cost * interval
local allow_at = new_tat - tolerance
if allow_at > now + slack then
  if capped then
    redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
  end
  local remaining = math.max(0, math.floor((now + tolerance - tat) / interval + eps))
  return { 0, remaining, ceil_ms(tat - now), math.max(1, ceil_ms(allow_at - now)) }
end
if cost > 0 or capped then
  redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
end
local remaining = math.max(0, math.floor((now + tolerance - new_tat) / interval + eps))
return { 1, remaining, ceil_ms(new_tat - now), 0 }
`;
