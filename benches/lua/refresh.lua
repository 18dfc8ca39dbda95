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
  return post_next("/oauth/token", body_prefix)
end

function response(status, headers, body)
  if not settle(body) then return end
  local token = status == 200 and body:match('"refresh_token":"([^"]+)"')
  if token then
    ok = ok + 1
    push(token)
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  summarize(summary)
end
