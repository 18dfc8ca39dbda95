#!/usr/bin/env bash
# Client-credentials token throughput per signing algorithm, in one run, on SQLite.
# The server is pinned to core 0 and wrk to core 1 (taskset), so the figures compare
# one server core per algorithm. Rate limits are off: one address at this rate would
# be limited by the defaults. Usage: bash benches/token_algs.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --manifest-path "$root/Cargo.toml" >/dev/null 2>&1
bin="$root/target/release/latchkey"
work=$(mktemp -d /tmp/latchkey-algs.XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true' EXIT
port=18080
for alg in RS256 ES256 EdDSA; do
  dir="$work/$alg"; mkdir -p "$dir"; cd "$dir"
  export LATCHKEY_DATABASE_URL="sqlite://$dir/bench.db" LATCHKEY_LOG=warn
  taskset -c 0 "$bin" serve --bind "127.0.0.1:$port" --signing-alg "$alg" --keys-dir "$dir/keys" \
    --rate-limit-token off &
  pid=$!
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
  creds=$("$bin" clients create --name bench --keys-dir "$dir/keys")
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$creds")
  secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$creds")
  auth=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
  cat > post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $auth"
LUA
  cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
  out=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency -s post.lua "http://127.0.0.1:$port/oauth/token")
  cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / t }')
  printf '%-6s %9s req/s  p50 %-8s p99 %-8s server CPU %ss  non-2xx %s\n' "$alg" "$rps" "$p50" "$p99" "$cpu" "${non2xx:-0}"
  kill $pid; wait $pid 2>/dev/null || true
  port=$((port+1))
done
