--[[
  Adds one job to a BullMQ queue as BullMQ's own addStandardJob script
  does for a job with a custom id and no parent, delay, priority or
  deduplication: the same keys, fields and events, in the same order.

  KEYS[1] wait   KEYS[2] meta    KEYS[3] id     KEYS[4] active
  KEYS[5] events KEYS[6] marker  KEYS[7] the job's hash
  ARGV[1] job id  ARGV[2] name  ARGV[3] timestamp (ms)
  ARGV[4] data (JSON)  ARGV[5] opts (JSON)

  Returns 1 when the job was added, 0 when a job with that id exists.
]]
local rcall = redis.call
local metaKey, eventsKey, jobKey = KEYS[2], KEYS[5], KEYS[7]
local jobId, name = ARGV[1], ARGV[2]

rcall("INCR", KEYS[3])

local maxEvents = rcall("HGET", metaKey, "opts.maxLenEvents")
if not maxEvents then
  maxEvents = 10000
  rcall("HSET", metaKey, "opts.maxLenEvents", maxEvents)
end

if rcall("EXISTS", jobKey) == 1 then
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "duplicated", "jobId", jobId)
  return 0
end

rcall("HMSET", jobKey, "name", name, "data", ARGV[4], "opts", ARGV[5],
      "timestamp", ARGV[3], "delay", 0, "priority", 0)
rcall("XADD", eventsKey, "*", "event", "added", "jobId", jobId, "name", name)

-- A paused queue, or one at its global concurrency, gets no marker: the
-- job waits in the list until the queue resumes.
local attrs = rcall("HMGET", metaKey, "paused", "concurrency")
local pausedOrMaxed = false
if attrs[1] then
  pausedOrMaxed = true
elseif attrs[2] then
  pausedOrMaxed = rcall("LLEN", KEYS[4]) >= tonumber(attrs[2])
end

rcall("LPUSH", KEYS[1], jobId)
if not pausedOrMaxed then
  rcall("ZADD", KEYS[6], 0, "0")
end

rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", jobId)
return 1
