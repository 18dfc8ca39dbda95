#!/usr/bin/env bash
# Generates a Python SDK from the checked-in spec with openapi-python-client, with no
# hand edits, and uses it against a real server. Needs a built target/debug/latchkey.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/latchkey-sdk.XXXXXX)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check openapi-python-client ruff
export PATH="$work/venv/bin:$PATH"
out=$(cd "$work" && openapi-python-client generate --path "$root/openapi/latchkey.json" 2>&1)
echo "$out"
if grep -qiE 'warning|unable|error' <<<"$out"; then
  echo "SDK generation reported problems" >&2
  exit 1
fi
pip install -q --disable-pip-version-check "$work/latchkey-client"

bin="$root/target/debug/latchkey"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$work"
export LATCHKEY_DATABASE_URL="sqlite://$work/sdk.db" LATCHKEY_KEYS_DIR="$work/keys" LATCHKEY_LOG=warn
"$bin" serve --bind "127.0.0.1:$port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
creds=$("$bin" clients create --name sdk-smoke)
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$creds")
secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$creds")
admin=$("$bin" clients create --name sdk-operator --grant-type client_credentials --scope latchkey:admin)
admin_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$admin")
admin_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$admin")
python "$root/tests/sdk/smoke.py" "http://127.0.0.1:$port" "$id" "$secret" "$admin_id" "$admin_secret"
