-- Client credentials with a DPoP proof (RFC 9449): each request sends the client's
-- Basic credentials and the next pre-made proof from LK_PROOFS (benches/assertions.mjs
-- proofs), each with its own jti, so the server does the whole check — signature,
-- claims and the replay-cache insert — and binds every token. LK_TOKEN_PATH is the
-- token endpoint's path, LK_AUTH the Basic credentials, LK_BODY the form.
dofile(os.getenv("LK_LUA") .. "/common.lua")
counted = "tokens"
local inflight, checked = 0, false

function init(args)
  read_lines(os.getenv("LK_PROOFS"))
  token_path = os.getenv("LK_TOKEN_PATH") or "/oauth/token"
  auth = "Basic " .. os.getenv("LK_AUTH")
  body = os.getenv("LK_BODY") or "grant_type=client_credentials"
end

function request()
  if first_thread and not checked then
    checked = true
    return wrk.format("GET", "/healthz")
  end
  local proof = pop()
  if proof == nil then
    ran_out = true
    if inflight == 0 then wrk.thread:stop() end
    return wrk.format("GET", "/healthz")
  end
  inflight = inflight + 1
  return wrk.format("POST", token_path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
    ["DPoP"] = proof,
  }, body)
end

function response(status, headers, body)
  -- The /healthz fillers (the peer answers them 404, naming the route).
  if body:match('"status"') or body:match("healthz") then return end
  inflight = inflight - 1
  if status == 200 and body:match('"token_type":"DPoP"') then
    ok = ok + 1
  else
    failed = failed + 1
    if failed == 1 then io.write("first failure: " .. status .. " " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  summarize(summary)
end
