#!/usr/bin/env bash
# Schemathesis against the checked-in OpenAPI document and a real server: every
# operation, examples, coverage, fuzzing and stateful links, each with the
# credentials it takes: an operator's admin token, a person's token from the code
# flow (/api/*, UserInfo), a service's Basic credentials (token, introspect, revoke). Passes only with no 5xx and no response that breaks the schema.
# Needs a built target/debug/latchkey and the venv .ci/run installs
# (SCHEMATHESIS=path/to/schemathesis). Usage: bash tests/schemathesis/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
st=${SCHEMATHESIS:?set SCHEMATHESIS to the schemathesis executable}
examples=${SCHEMATHESIS_EXAMPLES:-25}
work=$(mktemp -d /tmp/latchkey-st.XXXXXX)
bin="$root/target/debug/latchkey"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$work"
export LATCHKEY_DATABASE_URL="sqlite://$work/st.db" LATCHKEY_KEYS_DIR="$work/keys" LATCHKEY_LOG=warn
# Rate limits off: thousands of requests from one address are the point here.
"$bin" serve --bind "127.0.0.1:$port" --rate-limit-token off --rate-limit-register off \
  --rate-limit-login off --rate-limit-revoke off 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
# An operator's admin token, from its own client (a pass may delete the clients it
# finds, so each pass gets a client of its own).
admin_token() {
  local admin
  admin=$("$bin" clients create --name "schemathesis-$1" --grant-type client_credentials --scope latchkey:admin)
  curl -fsS -u "$(field client_id <<<"$admin"):$(field client_secret <<<"$admin")" \
    -d grant_type=client_credentials "http://127.0.0.1:$port/oauth/token" | field access_token
}
# A service that authenticates to /oauth/token, /introspect and /revoke with Basic.
service=$("$bin" clients create --name schemathesis-service --grant-type client_credentials)
service_basic=$(printf '%s:%s' "$(field client_id <<<"$service")" "$(field client_secret <<<"$service")" | base64 -w0)
# A person's token from the code flow, for /api/* and UserInfo.
redirect=http://127.0.0.1:9/callback
scope="openid profile email apps:read apps:write grants:read grants:write"
app=$("$bin" clients create --name schemathesis-app --public --redirect-uri "$redirect" --scope "$scope")
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
person() {
  "$bin" users create "$1" --password-stdin <<<"$password" >/dev/null
  python3 "$root/tests/schemathesis/person_token.py" "http://127.0.0.1:$port" \
    "$(field client_id <<<"$app")" "$redirect" "$scope" "$1" "$password"
}
person_token=$(person schemathesis)
# Revoking a grant (found through GET /api/grants) revokes the token that did it:
# that operation gets a second person's token, so the first stays valid.
revoker_token=$(person schemathesis-revoker)
# Each operation gets the credentials it is documented to take (operation settings
# override the project's headers; a header on the command line would override both).
run() {
  local config="$work/schemathesis-$1.toml"
  cat >"$config" <<TOML
headers = { Authorization = "Bearer $(admin_token "$1")" }

[[operations]]
include-name = "DELETE /api/grants/{client_id}"
headers = { Authorization = "Bearer $revoker_token" }

[[operations]]
include-path-regex = "^/(api/|oauth/userinfo)"
headers = { Authorization = "Bearer $person_token" }

[[operations]]
include-path-regex = "^/oauth/(token|introspect|revoke)\$"
headers = { Authorization = "Basic $service_basic" }
TOML
  shift
  "$st" --config-file "$config" run "$root/openapi/latchkey.json" \
    --url "http://127.0.0.1:$port" --checks not_a_server_error,response_schema_conformance \
    --max-examples "$examples" --generation-deterministic --request-timeout 10 \
    --no-color "$@" 2>&1 | tee -a "$work/report.txt"
  return "${PIPESTATUS[0]}"
}
# Three passes, the destructive admin operations last: disabling or deleting the
# people above revokes the tokens the first pass uses, and deleting a client (ids
# come back from GET /admin/clients) revokes every token issued to it.
set +e
status=0
run everything --exclude-path-regex '^/admin/(users|clients)' || status=1
run users --include-path-regex '^/admin/users' || status=1
run clients --include-path-regex '^/admin/clients' || status=1
set -e
total=$(grep -oE '[0-9]+ generated, [0-9]+ passed' "$work/report.txt" |
  awk '{g+=$1; p+=$3} END {print g " generated, " p " passed"}')
echo "all passes: $total"
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2; grep -B2 -A5 panicked "$work/server.log" >&2; exit 1
fi
exit "$status"
