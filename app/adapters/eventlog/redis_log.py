"""The event log on Redis: one Lua script assigns the id, appends to the groups' backlog
streams and PUBLISHes, atomically; another answers a replay (see ``REPLAY``)."""
import json
import logging
import threading

import redis

from app.adapters.eventlog import CONTROL, Event, Replay, channel_header, decode, frame_prefix

log = logging.getLogger(__name__)

# KEYS: sequence, epoch, group streams...  ARGV: window ms, backlog cap + 1, channel, header
# JSON, frame prefix (the envelope up to its event_id's opening quote), users (csv), and
# '1' for a gap marker: an entry that says events of these groups were lost here (a
# publish that failed); it is kept in the backlogs, never delivered. A stream keeps one
# entry more than the cap: once trimmed, its oldest entry only marks where the kept events
# begin (MAXLEN trimming does not move XINFO's max-deleted-entry-id; only XDEL does).
PUBLISH = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = redis.call('GET', KEYS[1])
local id
if not last then
  id = string.format('%.0f-0', ms)
else
  local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
  last_ms, last_seq = tonumber(last_ms), tonumber(last_seq)
  if ms > last_ms then id = string.format('%.0f-0', ms) else id = string.format('%.0f-%.0f', last_ms, last_seq + 1) end
end
redis.call('SET', KEYS[1], id)
if not last then redis.call('SET', KEYS[2], id) end
local gap = ARGV[7] == '1'
local frame = ARGV[5] .. id .. '"}'
for i = 3, #KEYS do
  if gap then
    redis.call('XADD', KEYS[i], 'MAXLEN', '=', ARGV[2], id, 'gap', '1')
  else
    redis.call('XADD', KEYS[i], 'MAXLEN', '=', ARGV[2], id, 'f', frame, 'u', ARGV[6])
  end
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
if not gap then redis.call('PUBLISH', ARGV[3], 'E' .. id .. '\\n' .. ARGV[4] .. '\\n' .. frame) end
return id
"""

# KEYS: sequence, epoch, group stream.  ARGV: last id, window ms, replay max.
# Returns {recovered (0|1), newest id, [id, frame, users]...}. Not recovered when the id
# is from the future or from before a loss of Redis's data (the epoch), when events came
# after it and it is older than the window, when the backlog no longer holds all of them
# (trimmed past the id: a trimmed stream keeps the cap + 1 newest entries, so an id before
# the oldest of them may have missed a trimmed event; or an entry after it deleted), when
# there are more than the replay max, or when a gap marker (events lost) follows it. A
# group without a backlog key had no event in the window: recovered if the id is
# within the window (an event after it would have kept the key) or nothing came after it.
REPLAY = """
local function parse(id)
  local a, b = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(a), tonumber(b)
end
local function before(x, y)
  local xa, xb = parse(x)
  local ya, yb = parse(y)
  return xa < ya or (xa == ya and xb < yb)
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = ARGV[1]
local newest = redis.call('GET', KEYS[1]) or '0-0'
if before(newest, last) then return {0, newest} end
local epoch = redis.call('GET', KEYS[2])
if epoch and before(last, epoch) then return {0, newest} end
local in_window = parse(last) >= ms - tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 0 then
  if in_window or not before(last, newest) then return {1, newest} end
  return {0, newest}
end
local info = redis.call('XINFO', 'STREAM', KEYS[3])
local stats = {}
for i = 1, #info, 2 do stats[info[i]] = info[i + 1] end
if before(last, stats['max-deleted-entry-id']) then return {0, newest} end
-- Trimmed (more added than kept): only what follows the oldest entry kept is complete.
local first = stats['first-entry']
if stats['entries-added'] > stats['length'] and (not first or before(last, first[1])) then return {0, newest} end
local max = tonumber(ARGV[3])
local entries = redis.call('XRANGE', KEYS[3], '(' .. last, '+', 'COUNT', max + 1)
if #entries == 0 then return {1, newest} end
if #entries > max or not in_window then return {0, newest} end
local out = {1, newest}
for _, entry in ipairs(entries) do
  local fields = {}
  for j = 1, #entry[2], 2 do fields[entry[2][j]] = entry[2][j + 1] end
  if fields['gap'] then return {0, newest} end
  table.insert(out, {entry[1], fields['f'], fields['u']})
end
return out
"""


class RedisEventLog:
    delivers_in_process = False  # a listener thread reads the channel

    def __init__(self, url, *, channel, window_seconds, backlog, replay_max, prefix="ventroom:rt:"):
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2,
                                          health_check_interval=30)
        self.url, self.channel, self.prefix = url, channel, prefix
        self.window_ms, self.backlog, self.replay_max = window_seconds * 1000, backlog, replay_max
        self._publish = self.redis.register_script(PUBLISH)
        self._replay = self.redis.register_script(REPLAY)
        self._seq, self._epoch = prefix + "seq", prefix + "epoch"
        self._lost = set()  # groups whose events this process could not publish
        self._lost_lock = threading.Lock()

    def group_key(self, group):
        return f"{self.prefix}g:{group}"

    def _run_publish(self, groups, header="", prefix="", users="", gap=False):
        return self._publish(
            keys=[self._seq, self._epoch, *(self.group_key(group) for group in groups)],
            args=[self.window_ms, self.backlog + 1, self.channel, header, prefix, users, "1" if gap else "0"]).decode()

    def _mark_gaps(self):
        """Write the gap markers of events this process failed to publish, so that no
        resume across them can answer recovered (no silent gaps)."""
        with self._lost_lock:
            lost, self._lost = self._lost, set()
        if lost:
            try:
                self._run_publish(sorted(lost), gap=True)
            except redis.RedisError:
                with self._lost_lock:
                    self._lost |= lost
                raise
            log.warning("event log: marked lost events in %d groups", len(lost))

    def publish(self, envelope, groups, users=()):
        """Give ``envelope`` (without an ``event_id``) its id, keep it in each group's
        backlog and send it to every process; returns the id. If Redis cannot be reached
        the event is lost, and its groups get a gap marker as soon as Redis answers."""
        users = sorted(set(users))
        try:
            self._mark_gaps()
            return self._run_publish(groups, channel_header(groups, users), frame_prefix(envelope), ",".join(users))
        except redis.RedisError:
            with self._lost_lock:
                self._lost.update(groups)
            raise

    def control(self, message):
        self.redis.publish(self.channel, CONTROL + json.dumps(message, separators=(",", ":")))

    def newest_id(self):
        value = self.redis.get(self._seq)
        return value.decode() if value else "0-0"

    def replay(self, group, last_id):
        """A ``Replay`` of ``group`` after ``last_id`` (already known to be well formed)."""
        result = self._replay(keys=[self._seq, self._epoch, self.group_key(group)],
                              args=[last_id, self.window_ms, self.replay_max])
        events = [Event.from_stored(group, entry[0].decode(), entry[1].decode(), (entry[2] or b"").decode())
                  for entry in result[2:]]
        return Replay(bool(result[0]), result[1].decode(), events)

    def listen(self, deliver, stop, on_connect=None):
        """Call ``deliver(kind, payload)`` for every channel message, in order, until
        ``stop`` is set; reconnects (with backoff) whenever Redis goes away."""
        delay = 0.2
        while not stop.is_set():
            pubsub = None
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._mark_gaps()  # before catching up, so the catch-up sees them
                if on_connect:
                    on_connect()
                delay = 0.2
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "message":
                        deliver(*decode(message["data"]))
            except redis.RedisError as exc:
                log.warning("event log: listener lost Redis (%s); reconnecting in %.1fs", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except redis.RedisError:
                        pass
