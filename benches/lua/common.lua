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

function setup(thread)
  table.insert(threads, thread)
end

function summarize(summary)
  local n, bad = 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("ok")
    bad = bad + t:get("failed")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("%s: %d in %.2fs = %.0f/s, failures %d\n", counted, n, secs, n / secs, bad))
end
