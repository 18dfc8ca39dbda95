-- Refresh rotation: a pool of token families (LK_TOKENS, one refresh token per line,
-- more families than connections). Each request takes a family's current token; its
-- answer puts the new token back, so every token is presented exactly once and any
-- non-200 is a real failure (a lost or refused rotation).
dofile(os.getenv("LK_LUA") .. "/common.lua")
counted = "rotations"

function init(args)
  read_lines(os.getenv("LK_TOKENS"))
  body_prefix = "grant_type=refresh_token&client_id=" .. os.getenv("LK_CLIENT_ID") .. "&refresh_token="
end

function request()
  local token = pop()
  if token == nil then -- every family failed or is in flight: nothing valid to send
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  return form_post("/oauth/token", body_prefix .. token)
end

function response(status, headers, body)
  local token = status == 200 and body:match('"refresh_token":"([^"]+)"')
  if token then
    ok = ok + 1
    push(token)
  elseif not body:match('"status"') then -- a /healthz answer after stopping is not counted
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  summarize(summary)
end
