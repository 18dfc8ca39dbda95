#!/usr/bin/env bash
# Load benchmark: Latchkey and node-oidc-provider side by side, in one run.
#
#   bash benches/load.sh [SECONDS]
#
# Builds the release binary, measures the raw signing rate (criterion), then for
# each scenario starts a fresh server on loopback with rate limits off, pinned to
# core 0, and drives it with wrk pinned to core 1 (-t1 -c32), reporting requests/s,
# p50, p99, server CPU seconds (from /proc) and peak RSS. Client credentials run
# against node-oidc-provider too (benches/peer/, installed from npm), with the same
# wrk settings, and the ratio is printed. Client credentials with private_key_jwt
# (pre-made ES256 assertions, benches/assertions.mjs, a fresh jti each) run beside
# client_secret_basic ES256 on both servers, and so does client credentials with a
# DPoP proof (pre-made ES256 proofs, a fresh jti each). The code flow (authorize, code exchange)
# and refresh rotation run on SQLite, and on
# PostgreSQL when LATCHKEY_BENCH_POSTGRES_URL names a scratch database (and
# LATCHKEY_BENCH_POSTGRES_OIDC_URL another, for the OpenID Connect run).
# Installs wrk, node and npm from Debian's packages when missing.
# LOAD_ONLY=cc,flow,peer (the default: all) picks parts: client credentials with
# introspection, JWKS, start-up and idle memory; the code flow and refresh rotation;
# the peer. LOAD_BIN=path runs that binary instead of building one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
conns=32
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need node nodejs
need npm npm
need curl curl
only=",${LOAD_ONLY:-cc,flow,peer},"
want() { [[ $only == *",$1,"* ]]; }
cores=$(nproc)
server_cpu=0
load_cpu=$([ "$cores" -gt 1 ] && echo 1 || echo 0)

if [ -n "${LOAD_BIN:-}" ]; then # another build, for A/B comparisons
  bin=$(realpath "$LOAD_BIN")
else
  echo "building the release binary…" >&2
  cargo build --release --manifest-path "$root/Cargo.toml" >/dev/null 2>&1
  bin="$root/target/release/latchkey"
fi
work=$(mktemp -d /tmp/latchkey-load.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Raw signing rate of the chosen backend: whole JWS (header, claims, signature).
echo "measuring the raw signing rate…" >&2
bench_out=""
want cc && bench_out=$(cd "$root" && taskset -c "$server_cpu" cargo bench --bench components -- \
  sign_access_token --warm-up-time 1 --measurement-time 3 2>/dev/null)
sign_rate() { # ALG -> signatures/s from criterion's middle estimate
  awk -v alg="$1" '
    index($0, "sign_access_token/" alg) { grab = 1 }
    grab && /time:/ { v = $5; u = $6; grab = 0
      f = (u == "ns") ? 1e-9 : (u == "µs" || u == "us") ? 1e-6 : (u == "ms") ? 1e-3 : 1
      printf "%.0f", 1 / (v * f) }' <<<"$bench_out"
}

port=19100
next_port() { port=$((port + 1)); }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
wait_http() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }

start_latchkey() { # DIR ALG [extra args…] -> sets srv_pid, base
  local dir=$1 alg=$2; shift 2
  mkdir -p "$dir"
  next_port
  base="http://127.0.0.1:$port"
  (cd "$dir" && LATCHKEY_DATABASE_URL=${DB_URL:-"sqlite://$dir/bench.db"} LATCHKEY_LOG=warn \
    exec taskset -c "$server_cpu" "$bin" serve --bind "127.0.0.1:$port" --keys-dir "$dir/keys" \
      --signing-alg "$alg" --rate-limit-token off --rate-limit-login off \
      --rate-limit-revoke off --rate-limit-register off "$@") &
  srv_pid=$!
  pids+=("$srv_pid")
  wait_http "$base/readyz"
}

new_client() { # DIR [args…] -> JSON
  local dir=$1; shift
  (cd "$dir" && LATCHKEY_DATABASE_URL=${DB_URL:-"sqlite://$dir/bench.db"} LATCHKEY_LOG=warn \
    "$bin" clients create --keys-dir "$dir/keys" "$@")
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

results=()
run_wrk() { # NAME PID URL LUA -> appends a result row; sets last_rps
  local name=$1 pid=$2 url=$3 lua=$4 out c0 c1 rps p50 p99 cpu errs fails
  c0=$(cpu_ticks "$pid")
  out=$(taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"${secs}s" --latency ${lua:+-s "$lua"} "$url")
  c1=$(cpu_ticks "$pid")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  # The stateful scripts count what succeeded themselves ("codes: N in S = R/s, failures F").
  grep '^WARNING' <<<"$out" | sed "s/^/$name: /" >&2 || true
  if grep -q ', failures ' <<<"$out"; then
    rps=$(grep -o '= [0-9]*/s' <<<"$out" | grep -o '[0-9]*')
    fails=$(grep -o 'failures [0-9]*' <<<"$out" | awk '{print $2}')
    [ "$fails" = 0 ] || echo "WARNING: $name: $fails requests failed" >&2
  else
    fails=0
  fi
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  cpu=$(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / t }')
  local per_cpu
  per_cpu=$(awk -v r="$rps" -v s="$secs" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", r * s / c; else print "-" }')
  errs=$((${errs:-0} + fails)); [ "$errs" = 0 ] && errs=""
  [ -z "$errs" ] || echo "WARNING: $name answered $errs non-2xx responses; its figures are not valid" >&2
  results+=("| $name | $rps | $p50 | $p99 | $cpu | $per_cpu | $(peak_rss_mb "$pid") | ${errs:-0} |")
  last_rps=$rps
}

post_lua() { # FILE BODY AUTH
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = "$2"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $3"
LUA
}

declare -A latchkey_cc peer_cc
# Pre-made assertions per second of run: more than either server answers, so the
# queue never runs dry.
assertions_per_sec=${LOAD_ASSERTIONS_PER_SEC:-15000}
want cc && for alg in RS256 ES256 EdDSA; do
  dir="$work/cc-$alg"
  start_latchkey "$dir" "$alg"
  creds=$(new_client "$dir" --name bench --scope profile)
  auth=$(printf '%s:%s' "$(field client_id <<<"$creds")" "$(field client_secret <<<"$creds")" | base64 -w0)
  post_lua "$dir/cc.lua" "grant_type=client_credentials" "$auth"
  run_wrk "latchkey client_credentials $alg" "$srv_pid" "$base/oauth/token" "$dir/cc.lua"
  latchkey_cc[$alg]=$last_rps

  if [ "$alg" = ES256 ]; then
    # private_key_jwt beside client_secret_basic on the same signing algorithm:
    # pre-made ES256 assertions (benches/assertions.mjs), a fresh jti each.
    node "$root/benches/assertions.mjs" key "$dir"
    key_id=$(new_client "$dir" --name bench-pkjwt --scope profile \
      --token-endpoint-auth-method private_key_jwt --jwks "$dir/jwks.json" | field client_id)
    node "$root/benches/assertions.mjs" sign "$dir" "$key_id" "$base" $((secs * assertions_per_sec))
    LK_LUA="$root/benches/lua" LK_ASSERTIONS="$dir/assertions" \
      run_wrk "latchkey client_credentials private_key_jwt ES256" "$srv_pid" "$base" "$root/benches/lua/assertion.lua"
    latchkey_pkjwt=$last_rps
    # DPoP beside bearer on the same client and signing algorithm: pre-made ES256
    # proofs, a fresh jti each, made just before the run (iat is checked to 60 s).
    node "$root/benches/assertions.mjs" proofs "$dir" "$base/oauth/token" $((secs * assertions_per_sec))
    LK_LUA="$root/benches/lua" LK_PROOFS="$dir/proofs" LK_AUTH="$auth" \
      run_wrk "latchkey client_credentials DPoP ES256" "$srv_pid" "$base" "$root/benches/lua/dpop.lua"
    latchkey_dpop=$last_rps
    # UserInfo with a person's token (one code flow, benches/flow_setup.py): as a
    # bearer token, and DPoP-bound (refreshed with a proof) with a fresh proof and
    # `ath` on every request.
    (cd "$dir" && printf 'correct horse battery' | LATCHKEY_DATABASE_URL=${DB_URL:-"sqlite://$dir/bench.db"} LATCHKEY_LOG=warn \
      "$bin" users create "bench$$-ui" --password-stdin --keys-dir "$dir/keys" >/dev/null)
    ui_id=$(new_client "$dir" --name userinfo --public --scope profile --redirect-uri http://127.0.0.1/cb | field client_id)
    mkdir -p "$dir/ui"
    python3 "$root/benches/flow_setup.py" "$base" "$ui_id" "bench$$-ui" 'correct horse battery' 2 "$dir/ui"
    refresh_with() { # REFRESH_TOKEN [DPOP_PROOF] -> access token
      curl -fs ${2:+-H "DPoP: $2"} -d grant_type=refresh_token -d client_id="$ui_id" \
        --data-urlencode refresh_token="$1" "$base/oauth/token" | field access_token
    }
    bearer_at=$(refresh_with "$(sed -n 1p "$dir/ui/refresh_tokens")")
    node "$root/benches/assertions.mjs" proofs "$dir" "$base/oauth/token" 1
    dpop_at=$(refresh_with "$(sed -n 2p "$dir/ui/refresh_tokens")" "$(cat "$dir/proofs")")
    printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$bearer_at" > "$dir/userinfo.lua"
    run_wrk "latchkey UserInfo bearer" "$srv_pid" "$base/oauth/userinfo" "$dir/userinfo.lua"
    latchkey_userinfo=$last_rps
    node "$root/benches/assertions.mjs" proofs "$dir" "$base/oauth/userinfo" $((secs * assertions_per_sec)) GET "$dpop_at"
    LK_LUA="$root/benches/lua" LK_PROOFS="$dir/proofs" LK_METHOD=GET LK_TOKEN_PATH=/oauth/userinfo \
      LK_AUTHORIZATION="DPoP $dpop_at" \
      run_wrk "latchkey UserInfo DPoP (proof with ath)" "$srv_pid" "$base" "$root/benches/lua/dpop.lua"
    latchkey_userinfo_dpop=$last_rps
  fi
  if [ "$alg" = RS256 ]; then
    # Introspection of a JWT access token, by a resource server client.
    token=$(curl -fs -u "$(base64 -d <<<"$auth")" -d grant_type=client_credentials "$base/oauth/token" | field access_token)
    rs=$(new_client "$dir" --name resource-server)
    rs_auth=$(printf '%s:%s' "$(field client_id <<<"$rs")" "$(field client_secret <<<"$rs")" | base64 -w0)
    post_lua "$dir/introspect.lua" "token=$token" "$rs_auth"
    run_wrk "latchkey introspection" "$srv_pid" "$base/oauth/introspect" "$dir/introspect.lua"
    run_wrk "latchkey JWKS" "$srv_pid" "$base/.well-known/jwks.json" ""
  fi
  kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
done

# Start-up to ready with an existing key and database, and idle memory.
started_ms() { # URL -> milliseconds until it answers 200, polling every 2 ms
  local t0 t1
  t0=$(date +%s%N)
  until curl -fs "$1" >/dev/null 2>&1; do sleep 0.002; done
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
want cc && {
next_port
(cd "$work/cc-RS256" && LATCHKEY_DATABASE_URL="sqlite://$work/cc-RS256/bench.db" LATCHKEY_LOG=warn \
  exec taskset -c "$server_cpu" "$bin" serve --bind "127.0.0.1:$port" --keys-dir "$work/cc-RS256/keys") &
srv_pid=$!
pids+=("$srv_pid")
latchkey_start=$(started_ms "http://127.0.0.1:$port/readyz")
sleep 1
latchkey_idle=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$srv_pid/status")
kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
}

# The code flow and refresh rotation, per database, through the real endpoints:
# benches/flow_setup.py signs a user in, approves a public client once and makes
# 2 x connections token families; then wrk (stateful scripts in benches/lua/) asks for
# codes as that user, redeems them with PKCE, and rotates the families' refresh tokens.
# ES256 here, so the figures show the database work rather than RSA. Each runs twice:
# plain OAuth (scope profile) and OpenID Connect (openid offline_access profile: an
# ID token, with the user's row read for its claims, on every exchange and refresh).
flow() { # NAME [SCOPE]
  local name=$1 scope=${2:-profile} dir="$work/flow-$1"
  local scope_q=${scope// /%20}
  start_latchkey "$dir" ES256 --code-ttl 600
  (cd "$dir" && printf 'correct horse battery' | LATCHKEY_DATABASE_URL=${DB_URL:-"sqlite://$dir/bench.db"} LATCHKEY_LOG=warn \
    "$bin" users create "bench$$-$name" --password-stdin --keys-dir "$dir/keys" >/dev/null)
  id=$(new_client "$dir" --name flow --public --scope "$scope" --redirect-uri http://127.0.0.1/cb | field client_id)
  LK_SCOPE="$scope" python3 "$root/benches/flow_setup.py" "$base" "$id" "bench$$-$name" 'correct horse battery' $((conns * 2)) "$dir"
  local redirect=http%3A%2F%2F127.0.0.1%3A9%2Fcb
  export LK_LUA="$root/benches/lua" LK_CLIENT_ID="$id" LK_COOKIE="$(cat "$dir/cookie")" LK_CODES="$dir/codes" \
    LK_TOKENS="$dir/refresh_tokens" LK_REDIRECT="$redirect" LK_VERIFIER="$(sed -n 1p "$dir/pkce")"
  export LK_AUTHORIZE_PATH="/oauth/authorize?response_type=code&client_id=$id&redirect_uri=$redirect&scope=$scope_q&code_challenge=$(sed -n 2p "$dir/pkce")&code_challenge_method=S256&state=bench"
  # Codes for twice the run time, so the exchange run cannot run out of them.
  local secs_run=$secs
  secs=$((secs_run * 2)) run_wrk "latchkey authorize (consent remembered) $name" "$srv_pid" "$base" "$LK_LUA/authorize.lua"
  secs=$secs_run
  run_wrk "latchkey code exchange + PKCE $name" "$srv_pid" "$base" "$LK_LUA/exchange.lua"
  run_wrk "latchkey refresh rotation $name" "$srv_pid" "$base" "$LK_LUA/refresh.lua"
  kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
}
want flow && flow sqlite && flow sqlite-oidc "openid offline_access profile"
if ! want flow; then
  :
elif [ -n "${LATCHKEY_BENCH_POSTGRES_URL:-}" ]; then
  DB_URL=$LATCHKEY_BENCH_POSTGRES_URL flow postgres
  # A second scratch database keeps the second run from meeting the first one's rows.
  DB_URL=${LATCHKEY_BENCH_POSTGRES_OIDC_URL:-$LATCHKEY_BENCH_POSTGRES_URL} flow postgres-oidc "openid offline_access profile"
else
  echo "the code flow and refresh rotation on PostgreSQL SKIPPED: set LATCHKEY_BENCH_POSTGRES_URL" >&2
fi

# The peer, same wrk settings.
want peer && {
echo "installing node-oidc-provider…" >&2
peer_dir=$(bash "$root/benches/peer/install.sh" "$work/peer")
}
want peer && for alg in RS256 ES256 EdDSA; do
  next_port
  secret="peer-secret-0123456789abcdef0123456789abcdef"
  peer_keys=""
  if [ "$alg" = ES256 ]; then
    mkdir -p "$work/peer-pkjwt"
    node "$root/benches/assertions.mjs" key "$work/peer-pkjwt"
    peer_keys="$work/peer-pkjwt/jwks.json"
  fi
  (cd "$peer_dir" && NODE_ENV=production exec taskset -c "$server_cpu" node provider.mjs "$port" bench "$secret" "$alg" $peer_keys 2>/dev/null) &
  peer_pid=$!
  pids+=("$peer_pid")
  if [ "$alg" = RS256 ]; then
    peer_start=$(started_ms "http://127.0.0.1:$port/jwks")
    sleep 1
    peer_idle=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$peer_pid/status")
  fi
  wait_http "http://127.0.0.1:$port/jwks"
  auth=$(printf 'bench:%s' "$secret" | base64 -w0)
  post_lua "$work/peer-$alg.lua" "grant_type=client_credentials&scope=profile" "$auth"
  run_wrk "node-oidc-provider client_credentials $alg" "$peer_pid" "http://127.0.0.1:$port/token" "$work/peer-$alg.lua"
  peer_cc[$alg]=$last_rps
  if [ "$alg" = RS256 ]; then
    run_wrk "node-oidc-provider JWKS" "$peer_pid" "http://127.0.0.1:$port/jwks" ""
  fi
  if [ "$alg" = ES256 ]; then
    node "$root/benches/assertions.mjs" sign "$work/peer-pkjwt" bench-pkjwt "http://127.0.0.1:$port" $((secs * assertions_per_sec))
    LK_LUA="$root/benches/lua" LK_ASSERTIONS="$work/peer-pkjwt/assertions" LK_TOKEN_PATH=/token LK_EXTRA="&scope=profile" \
      run_wrk "node-oidc-provider client_credentials private_key_jwt ES256" "$peer_pid" "http://127.0.0.1:$port" "$root/benches/lua/assertion.lua"
    peer_pkjwt=$last_rps
    node "$root/benches/assertions.mjs" proofs "$work/peer-pkjwt" "http://127.0.0.1:$port/token" $((secs * assertions_per_sec))
    LK_LUA="$root/benches/lua" LK_PROOFS="$work/peer-pkjwt/proofs" LK_AUTH="$auth" LK_TOKEN_PATH=/token \
      LK_BODY="grant_type=client_credentials&scope=profile" \
      run_wrk "node-oidc-provider client_credentials DPoP ES256" "$peer_pid" "http://127.0.0.1:$port" "$root/benches/lua/dpop.lua"
    peer_dpop=$last_rps
  fi
  kill "$peer_pid"; wait "$peer_pid" 2>/dev/null || true
done

echo
echo "server on core $server_cpu, wrk -t1 -c$conns -d${secs}s on core $load_cpu; $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo
echo "| scenario | req/s | p50 | p99 | server CPU s | per CPU-s | peak RSS MB | errors |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
echo
want cc && want peer || exit 0
echo "start to first 200: latchkey ${latchkey_start} ms (existing key and database), node-oidc-provider ${peer_start} ms (key generated at start)"
echo "idle RSS: latchkey ${latchkey_idle} MB, node-oidc-provider ${peer_idle} MB"
awk -v k="$latchkey_pkjwt" -v b="${latchkey_cc[ES256]}" -v p="$peer_pkjwt" 'BEGIN {
  printf "private_key_jwt ES256: %.0f%% of client_secret_basic ES256; latchkey/node-oidc-provider = %.2fx\n",
    100 * k / b, k / p }'
awk -v d="$latchkey_dpop" -v b="${latchkey_cc[ES256]}" -v p="$peer_dpop" 'BEGIN {
  printf "DPoP ES256 proofs: %.0f%% of bearer client credentials ES256; latchkey/node-oidc-provider = %.2fx\n",
    100 * d / b, d / p }'
awk -v d="$latchkey_userinfo_dpop" -v b="$latchkey_userinfo" 'BEGIN {
  printf "UserInfo: DPoP (ES256 proof) at %.0f%% of bearer\n", 100 * d / b }'
for alg in RS256 ES256 EdDSA; do
  raw=$(sign_rate "$alg")
  awk -v a="$alg" -v l="${latchkey_cc[$alg]}" -v p="${peer_cc[$alg]}" -v r="$raw" 'BEGIN {
    printf "%s: latchkey/node-oidc-provider = %.2fx; latchkey at %.0f%% of the raw signing rate (%d/s on one core)\n",
      a, l / p, 100 * l / r, r }'
done
