#!/usr/bin/env bash
# Bounded run of the frame_decoder fuzz target (fuzz/README.md "The CI run"): coverage-guided
# libFuzzer on the stable toolchain (no cargo-fuzz, no nightly), built into fuzz/target and
# started from fuzz/seeds/frame_decoder plus whatever fuzz/corpus/frame_decoder already holds.
# A crash, panic, hang (an input taking over 10 s) or out-of-memory fails the run and names
# the reproducer to replay.
#   bash .ci/fuzz.sh [SECONDS]      fuzzing time, default $WARREN_FUZZ_SECONDS or 90
# In CI a missing C++ compiler (libfuzzer-sys builds libFuzzer's runtime with it) fails the
# run unless WARREN_SKIP_FUZZ=1; WARREN_SKIP_FUZZ=1 also skips the whole step (see .ci/run).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
cd "$HERE/../fuzz"
FUZZ_SECONDS=${1:-${WARREN_FUZZ_SECONDS:-90}}

if [ "${WARREN_SKIP_FUZZ:-}" = 1 ]; then
  tolerate_missing "the fuzz run" WARREN_SKIP_FUZZ
  exit 0
fi
if ! command -v c++ >/dev/null; then
  tolerate_missing "no C++ compiler (c++) to build libFuzzer: the fuzz run" WARREN_SKIP_FUZZ || exit 1
  exit 0
fi

# The instrumentation cargo-fuzz passes, minus the sanitizer (nightly only); an explicit
# --target keeps the flags away from build scripts and proc macros.
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  -Cdebug-assertions -Copt-level=3"
cargo build --release --target "$TRIPLE" --bin frame_decoder
BIN=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/$TRIPLE/release/frame_decoder

mkdir -p corpus/frame_decoder artifacts
ART=$(mktemp -d "$PWD/artifacts/run.XXXXXX")
LOG=$ART.log
echo "fuzzing frame_decoder for ${FUZZ_SECONDS}s (log: $LOG)"
rc=0
# New inputs go to the first directory (corpus/, git-ignored); the seeds are only read.
"$BIN" corpus/frame_decoder seeds/frame_decoder -max_total_time="$FUZZ_SECONDS" \
  -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$ART/" >"$LOG" 2>&1 || rc=$?
grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+(INITED|DONE)|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$LOG" || true
mapfile -t found < <(find "$ART" -type f | sort)
if [ "$rc" != 0 ] || [ "${#found[@]}" != 0 ]; then
  tail -60 "$LOG"
  echo "FAILED - fuzz target frame_decoder (libFuzzer exit $rc)"
  for f in "${found[@]}"; do
    echo "reproducer: $f"
    echo "  replay: (cd fuzz && $BIN $f)"
    echo "     or: (cd fuzz && cargo run --release --example replay -- $(dirname "$f") --random 0)"
  done
  [ "${#found[@]}" != 0 ] || echo "no reproducer was written: see $LOG"
  exit 1
fi
rm -rf "$ART" "$LOG"
echo "fuzz: no crash in ${FUZZ_SECONDS}s"
