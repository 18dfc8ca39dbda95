#!/usr/bin/env bash
# Schemathesis against the checked-in OpenAPI document and a real server: every
# operation, examples, coverage, fuzzing and stateful links, with an operator's
# admin token. Passes only with no 5xx and no response that breaks the schema.
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
admin=$("$bin" clients create --name schemathesis --grant-type client_credentials --scope latchkey:admin)
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
id=$(field client_id <<<"$admin")
secret=$(field client_secret <<<"$admin")
token=$(curl -fsS -u "$id:$secret" -d grant_type=client_credentials "http://127.0.0.1:$port/oauth/token" | field access_token)
set +e
"$st" run "$root/openapi/latchkey.json" --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$examples" --generation-deterministic --request-timeout 10 \
  -H "Authorization: Bearer $token" --no-color 2>&1 | tee "$work/report.txt"
status=${PIPESTATUS[0]}
set -e
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2; grep -B2 -A5 panicked "$work/server.log" >&2; exit 1
fi
exit "$status"
