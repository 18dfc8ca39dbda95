#!/usr/bin/env bash
# What the metrics cost on the token endpoint: client-credentials tokens/s of this
# tree's release build against a build without metrics (BASE_BIN), side by side,
# alternating A B A B so drift on a shared machine hits both. Server on core 0, wrk
# on core 1, SQLite, rate limits off. EdDSA shows overhead most (its signature is
# cheap); RS256 is what most run.
# Usage: BASE_BIN=/path/to/latchkey-without-metrics bash benches/metrics_cost.sh [SECONDS] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
rounds=${2:-3}
base=${BASE_BIN:?set BASE_BIN to a release build without metrics}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --manifest-path "$root/Cargo.toml" >/dev/null 2>&1
new="$root/target/release/latchkey"
work=$(mktemp -d /tmp/latchkey-metrics-cost.XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
run() { # bin alg -> req/s (a fresh database, keys and port each time)
  local bin=$1 alg=$2 dir port
  dir=$(mktemp -d "$work/run.XXXXXX"); cd "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  export LATCHKEY_DATABASE_URL="sqlite://$dir/bench.db" LATCHKEY_LOG=warn
  taskset -c 0 "$bin" serve --bind "127.0.0.1:$port" --signing-alg "$alg" --keys-dir "$dir/keys" \
    --rate-limit-token off >/dev/null 2>&1 &
  local pid=$!
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
  local creds id secret
  creds=$("$bin" clients create --name bench --keys-dir "$dir/keys" 2>/dev/null)
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$creds")
  secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$creds")
  cat > post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
LUA
  taskset -c 1 wrk -t1 -c32 -d2s -s post.lua "http://127.0.0.1:$port/oauth/token" >/dev/null
  local out
  out=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" -s post.lua "http://127.0.0.1:$port/oauth/token")
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers: $out" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
  kill $pid; wait $pid 2>/dev/null || true
}
for alg in EdDSA RS256; do
  a=(); b=()
  for _ in $(seq "$rounds"); do
    a+=("$(run "$base" "$alg")")
    b+=("$(run "$new" "$alg")")
  done
  python3 - "$alg" "${a[*]}" "${b[*]}" <<'PY'
import sys, statistics as st
alg, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ma, mb = st.median(a), st.median(b)
print(f"{alg:6} without metrics {ma:9.0f}/s  with metrics {mb:9.0f}/s  ratio {mb/ma:.3f}  "
      f"(runs: {' '.join(f'{x:.0f}' for x in a)} | {' '.join(f'{x:.0f}' for x in b)})")
PY
done
