-- Authorization-code exchange: each request redeems one code from LK_CODES (made by
-- lua/authorize.lua with the PKCE challenge of LK_VERIFIER) for an access token and a
-- refresh token. A code is presented once; when they run out the run ends early and
-- the rate is taken over the time actually run.
dofile(os.getenv("LK_LUA") .. "/common.lua")
counted = "exchanges"

function init(args)
  read_lines(os.getenv("LK_CODES"))
  body_prefix = "grant_type=authorization_code&client_id=" .. os.getenv("LK_CLIENT_ID")
    .. "&redirect_uri=" .. os.getenv("LK_REDIRECT") .. "&code_verifier=" .. os.getenv("LK_VERIFIER") .. "&code="
end

function request()
  return post_next("/oauth/token", body_prefix)
end

function response(status, headers, body)
  if not settle(body) then return end
  if status == 200 and body:match('"refresh_token"') then
    ok = ok + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  summarize(summary)
end
