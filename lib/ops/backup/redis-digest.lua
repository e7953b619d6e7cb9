#!lua flags=no-writes
-- The keyspace digest of vectorstack backups: per database, the number of keys and the XOR of one SHA-1 per key over
-- (key, type, absolute expiry in ms, canonical value). XOR makes it independent of key order; inside a value, ordered
-- types (string, list, sorted set, stream) are hashed in order and unordered ones (set, hash) by the XOR of one SHA-1
-- per member. Types the script does not know (module types) are hashed through their DUMP payload.
-- ARGV: the database numbers to digest. Returns JSON: [{"db": n, "keys": n, "digest": "<40 hex>"}, ...].
local function xor_into(acc, hex)
  for i = 1, 5 do
    acc[i] = bit.bxor(acc[i], tonumber(string.sub(hex, i * 8 - 7, i * 8), 16))
  end
end
local function to_hex(acc)
  local parts = {}
  for i = 1, 5 do parts[i] = bit.tohex(acc[i], 8) end
  return table.concat(parts)
end
local function lp(s)
  s = tostring(s)
  return #s .. ':' .. s
end
local function ordered(items)
  local parts = {}
  for i, item in ipairs(items) do parts[i] = lp(item) end
  return table.concat(parts)
end
local function unordered(items, step)
  local acc = { 0, 0, 0, 0, 0 }
  for i = 1, #items, step do
    local member = lp(items[i])
    if step == 2 then member = member .. lp(items[i + 1]) end
    xor_into(acc, redis.sha1hex(member))
  end
  return (#items / step) .. ':' .. to_hex(acc)
end
local result = {}
for _, db in ipairs(ARGV) do
  redis.call('SELECT', db)
  local acc = { 0, 0, 0, 0, 0 }
  local keys = redis.call('KEYS', '*')
  for _, key in ipairs(keys) do
    local kind = redis.call('TYPE', key)['ok']
    local value
    if kind == 'string' then
      value = lp(redis.call('GET', key))
    elseif kind == 'list' then
      value = ordered(redis.call('LRANGE', key, 0, -1))
    elseif kind == 'set' then
      value = unordered(redis.call('SMEMBERS', key), 1)
    elseif kind == 'hash' then
      value = unordered(redis.call('HGETALL', key), 2)
    elseif kind == 'zset' then
      value = ordered(redis.call('ZRANGE', key, 0, -1, 'WITHSCORES'))
    elseif kind == 'stream' then
      local parts = {}
      for _, entry in ipairs(redis.call('XRANGE', key, '-', '+')) do
        parts[#parts + 1] = lp(entry[1]) .. ordered(entry[2])
      end
      value = table.concat(parts)
    else
      value = lp(redis.call('DUMP', key))
    end
    local expiry = redis.call('PEXPIRETIME', key)
    xor_into(acc, redis.sha1hex(lp(key) .. lp(kind) .. lp(expiry) .. value))
  end
  result[#result + 1] = { db = tonumber(db), keys = #keys, digest = to_hex(acc) }
end
return cjson.encode(result)
