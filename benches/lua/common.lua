-- Shared by the stateful wrk scripts of benches/load.sh: a FIFO of strings, the
-- per-thread counters gathered in done(), and the extra summary line load.sh reads.
-- Each script sets `counted` to the name of what it counts.
threads = {}
ok, failed = 0, 0
queue = { first = 1, last = 0 }

function push(v)
  queue.last = queue.last + 1
  queue[queue.last] = v
end

function pop()
  if queue.first > queue.last then return nil end
  local v = queue[queue.first]
  queue[queue.first] = nil
  queue.first = queue.first + 1
  return v
end

function read_lines(path)
  for line in io.lines(path) do
    if line ~= "" then push(line) end
  end
end

function form_post(path, body)
  return wrk.format("POST", path, { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

-- A POST of body_prefix .. the next queued value. With nothing queued (every token
-- in flight or failed, or the codes used up) a harmless GET /healthz goes instead,
-- until the requests still in flight have been answered; then this thread stops.
-- wrk also calls request() once before the run to check what it returns (on the
-- first thread); that call must not take a value, which would be lost.
local inflight, checked = 0, false
ran_out = false

function post_next(path, body_prefix)
  if first_thread and not checked then
    checked = true
    return wrk.format("GET", "/healthz")
  end
  local v = pop()
  if v == nil then
    ran_out = true
    if inflight == 0 then wrk.thread:stop() end
    return wrk.format("GET", "/healthz")
  end
  inflight = inflight + 1
  return form_post(path, body_prefix .. v)
end

-- Whether this answer is to a real request (not a /healthz filler), which it settles.
function settle(body)
  if body:match('"status"') then return false end
  inflight = inflight - 1
  return true
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("first_thread", #threads == 1)
end

function summarize(summary)
  local n, bad, short = 0, 0, false
  for _, t in ipairs(threads) do
    n = n + t:get("ok")
    bad = bad + t:get("failed")
    short = short or t:get("ran_out")
  end
  -- wrk reports the whole duration even when a thread stopped early.
  if short then
    io.write("WARNING: the queue ran dry before the end; the rate below is understated\n")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("%s: %d in %.2fs = %.0f/s, failures %d\n", counted, n, secs, n / secs, bad))
end
