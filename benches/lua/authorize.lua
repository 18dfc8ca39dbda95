-- Authorization requests from a signed-in user who already approved the client: each
-- answer is a redirect carrying a fresh code. The codes are written to LK_CODES for
-- lua/exchange.lua.
dofile(os.getenv("LK_LUA") .. "/common.lua")
counted = "codes"
codes = {}

function init(args)
  path = os.getenv("LK_AUTHORIZE_PATH")
  headers = { Cookie = os.getenv("LK_COOKIE") }
end

function request()
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  local location = headers["location"] or headers["Location"] or ""
  local code = (status == 302 or status == 303) and location:match("[?&]code=([^&]+)")
  if code then
    ok = ok + 1
    codes[ok] = code
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  summarize(summary)
  local f = assert(io.open(os.getenv("LK_CODES"), "w"))
  for _, t in ipairs(threads) do
    for _, c in ipairs(t:get("codes")) do f:write(c, "\n") end
  end
  f:close()
end
