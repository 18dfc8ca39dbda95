-- Client credentials authenticated by private_key_jwt: each request sends the next
-- pre-made assertion from LK_ASSERTIONS (benches/assertions.mjs), each with its own
-- jti, so the server does the whole check — signature, claims and the replay-cache
-- insert — every time. LK_TOKEN_PATH is the token endpoint's path.
dofile(os.getenv("LK_LUA") .. "/common.lua")
counted = "tokens"

function init(args)
  read_lines(os.getenv("LK_ASSERTIONS"))
  token_path = os.getenv("LK_TOKEN_PATH") or "/oauth/token"
  body_prefix = "grant_type=client_credentials" .. (os.getenv("LK_EXTRA") or "")
    .. "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
    .. "&client_assertion="
end

function request()
  return post_next(token_path, body_prefix)
end

function response(status, headers, body)
  if not settle(body) then return end
  if status == 200 and body:match('"access_token"') then
    ok = ok + 1
  else
    failed = failed + 1
    if failed == 1 then io.write("first failure: " .. status .. " " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  summarize(summary)
end
