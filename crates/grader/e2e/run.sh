#!/usr/bin/env bash
# Runs the grading service's browser test: needs Debian's chromium and node/npm. Starts a Warren
# ($1, default target/debug/warren) on free ports, creates a teacher and a student, starts
# `grader serve` ($2, default target/debug/grader) on a free port and one `grader worker`,
# runs page.mjs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WARREN=${1:-$ROOT/target/debug/warren}
GRADER=${2:-$ROOT/target/debug/grader}
command -v chromium >/dev/null || { echo "chromium not installed (apt-get install chromium)"; exit 1; }
# The exact version in package-lock.json (one that drives Debian's chromium).
[ -d "$HERE/node_modules/playwright-core" ] || (cd "$HERE" && npm ci --no-audit --no-fund --silent)
DATA=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$DATA"
}
trap cleanup EXIT
fail() { echo "$1:"; cat "$2"; exit 1; }

NO_COLOR=1 "$WARREN" server --amqp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$DATA/warren" >"$DATA/warren.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -qs "AMQP listening on" "$DATA/warren.log" && break; sleep 0.1; done
AMQP=$(sed -n 's/.*AMQP listening on \([^ ]*\) .*/\1/p' "$DATA/warren.log" | head -1)
[ -n "$AMQP" ] || fail "warren did not start" "$DATA/warren.log"
export GRADER_AMQP_URL="amqp://guest:guest@$AMQP/%2f"

"$GRADER" user add tina --role teacher --password tina-pw --data-dir "$DATA/grader" >/dev/null
"$GRADER" user add sam --role student --password sam-pw --data-dir "$DATA/grader" >/dev/null

NO_COLOR=1 "$GRADER" serve --http-listen 127.0.0.1:0 --data-dir "$DATA/grader" >"$DATA/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -qs "grader service on http://" "$DATA/serve.log" && break; sleep 0.1; done
GRADER_HTTP=$(sed -n 's/^grader service on \(http:[^ ]*\)$/\1/p' "$DATA/serve.log" | head -1)
[ -n "$GRADER_HTTP" ] || fail "grader serve did not start" "$DATA/serve.log"

NO_COLOR=1 "$GRADER" worker --concurrency 1 >"$DATA/worker.log" 2>&1 &
PIDS+=($!)

GRADER_HTTP=$GRADER_HTTP SHOTS=${SHOTS:-$ROOT/docs/} node "$HERE/page.mjs" || {
  echo "--- grader serve log"; tail -30 "$DATA/serve.log"
  echo "--- grader worker log"; tail -30 "$DATA/worker.log"
  exit 1
}
