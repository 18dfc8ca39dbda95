-- Requests with a DPoP proof (RFC 9449): each sends the next pre-made proof from
-- LK_PROOFS (benches/assertions.mjs proofs), each with its own jti, so the server does
-- the whole check — signature, claims and the replay-cache insert — every time.
-- Client credentials (the default): LK_TOKEN_PATH the token endpoint's path, LK_AUTH
-- the Basic credentials, LK_BODY the form; a success is a DPoP-bound token. A
-- resource (LK_METHOD=GET): LK_TOKEN_PATH its path, LK_AUTHORIZATION the whole
-- `Authorization` value (`DPoP <token>`); a success is a body with `"sub"`.
dofile(os.getenv("LK_LUA") .. "/common.lua")
counted = "tokens"
local inflight, checked = 0, false

function init(args)
  read_lines(os.getenv("LK_PROOFS"))
  token_path = os.getenv("LK_TOKEN_PATH") or "/oauth/token"
  method = os.getenv("LK_METHOD") or "POST"
  auth = os.getenv("LK_AUTHORIZATION") or ("Basic " .. os.getenv("LK_AUTH"))
  body = os.getenv("LK_BODY") or "grant_type=client_credentials"
  success = method == "POST" and '"token_type":"DPoP"' or '"sub"'
  if method ~= "POST" then body = nil end
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
  local headers = { ["Authorization"] = auth, ["DPoP"] = proof }
  if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(method, token_path, headers, body)
end

function response(status, headers, body)
  -- The /healthz fillers (the peer answers them 404, naming the route).
  if body:match('"status"') or body:match("healthz") then return end
  inflight = inflight - 1
  if status == 200 and body:match(success) then
    ok = ok + 1
  else
    failed = failed + 1
    if failed == 1 then io.write("first failure: " .. status .. " " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  summarize(summary)
end
