#!/usr/bin/env bash
# Lets ../shared/bench/run.sh drive `warren perf` instead of its amqp-load:
#   AMQP_LOAD=scripts/warren-perf-as-amqp-load.sh ../shared/bench/run.sh ...
# `run` maps to `warren perf` (same option letters, same RESULT line); the S8 helpers
# (`conns`, `queues`) are amqp-load's own.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WARREN=${WARREN_BIN:-$HERE/../target/release/warren}
AMQP_LOAD_REAL=${AMQP_LOAD_REAL:-$HOME/.cache/amqp-bench/target/release/amqp-load}
cmd=$1; shift
case $cmd in
  run) exec "$WARREN" perf "$@" ;;
  *) exec "$AMQP_LOAD_REAL" "$cmd" "$@" ;;
esac
