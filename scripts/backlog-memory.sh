#!/usr/bin/env bash
# Issue 3's memory check: N persistent 1 KiB messages queued on a durable queue with no
# consumer; the broker's RSS must stay flat (under 300 MB for 5 million), and draining them
# afterwards must work at full speed.
#
#   scripts/backlog-memory.sh [N]        (default 5000000; needs ~6 GB of free disk)
#
# Uses the harness's load generator (../shared/bench/amqp-load) and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000000}
PORT=${PORT:-5710}
LOAD=${AMQP_LOAD:-$HOME/.cache/amqp-bench/target/release/amqp-load}
SHARED=${WARREN_SHARED:-$(cd .. && pwd)/shared}
[ -x "$LOAD" ] || cargo build --release -q --locked --manifest-path "$SHARED/bench/amqp-load/Cargo.toml" --target-dir "$HOME/.cache/amqp-bench/target"
cargo build --release -q -p warren
DATA=$(mktemp -d)
./target/release/warren server --amqp-listen 127.0.0.1:$PORT --data-dir "$DATA" >"$DATA/warren.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
sleep 1
rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$PID/status; }
URI=amqp://guest:guest@127.0.0.1:$PORT/%2f
echo "idle RSS: $(rss) MB"
( while kill -0 $PID 2>/dev/null; do rss >>"$DATA/rss"; sleep 1; done ) &
t0=$(date +%s.%N)
"$LOAD" run --uri "$URI" -x1 -y0 -C "$N" -s1024 --durable --persistent -c1000 -u backlog --wait-enqueued --keep --quiet | grep RESULT
t1=$(date +%s.%N)
echo "published $N persistent 1 KiB messages in $(echo "$t1 - $t0" | bc) s; RSS now $(rss) MB, peak so far $(sort -n "$DATA/rss" | tail -1) MB; disk $(du -sm "$DATA" | cut -f1) MB"
"$LOAD" run --uri "$URI" -x0 -y1 -a -D "$N" -u backlog --predeclared --quiet | grep RESULT
t2=$(date +%s.%N)
echo "drained in $(echo "$t2 - $t1" | bc) s; RSS now $(rss) MB, peak $(sort -n "$DATA/rss" | tail -1) MB; disk $(du -sm "$DATA" | cut -f1) MB"
