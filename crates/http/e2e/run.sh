#!/usr/bin/env bash
# Runs the dashboard's browser test: needs Debian's chromium and node/npm. Starts a Warren
# (the binary given as $1, default target/debug/warren) on free ports with a token issuer,
# runs dashboard.mjs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WARREN=${1:-$ROOT/target/debug/warren}
command -v chromium >/dev/null || { echo "chromium not installed (apt-get install chromium)"; exit 1; }
# Playwright as pinned in package-lock.json (the version whose Chromium matches Debian's):
# `npm ci` when node_modules lacks it or holds another version.
want=$(node -p "require('$HERE/package-lock.json').packages['node_modules/playwright-core'].version")
have=$(node -p "require('$HERE/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
[ "$want" = "$have" ] || (cd "$HERE" && npm ci --no-audit --no-fund --silent)
DATA=$(mktemp -d)
# With [jwt], password logins get a token from POST /api/auth/token and the token tab is tested.
printf '[jwt]\n[[jwt.keys]]\nalgorithm = "HS256"\nsecret = "dashboard-e2e-secret-%s"\n' "$RANDOM$RANDOM" >"$DATA/warren.toml"
NO_COLOR=1 "$WARREN" server --amqp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$DATA" --config "$DATA/warren.toml" >"$DATA/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do grep -q "management HTTP listening on" "$DATA/log" && break; sleep 0.1; done
HTTP=$(sed -n "s/.*management HTTP listening on \(http:[^ ]*\) .*/\1/p" "$DATA/log" | head -1)
AMQP=$(sed -n 's/.*AMQP listening on \([^ ]*\) .*/\1/p' "$DATA/log" | head -1)
[ -n "$HTTP" ] || { echo "warren did not start:"; cat "$DATA/log"; exit 1; }
WARREN_HTTP=$HTTP WARREN_AMQP=$AMQP WARREN_BIN=$WARREN SHOTS=${SHOTS:-$ROOT/docs/} node "$HERE/dashboard.mjs"
