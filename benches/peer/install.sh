#!/usr/bin/env bash
# Installs node-oidc-provider 9.x from npm into DIR (default: a temp dir) next to
# its configuration (provider.mjs) and prints DIR. Needs node and npm (Debian:
# apt-get install nodejs npm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$(mktemp -d /tmp/latchkey-peer.XXXXXX)}
command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
mkdir -p "$dir"
cp "$here/provider.mjs" "$dir/"
(cd "$dir" && [ -f package.json ] || echo '{"type":"module","private":true}' > package.json)
(cd "$dir" && npm install --silent --no-audit --no-fund oidc-provider@9 >/dev/null 2>&1)
echo "$dir"
