#!/usr/bin/env bash
# Checks .ci/lib.sh: in CI a missing tool fails unless its opt-out variable says skip.
#   bash .ci/selftest.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BAD=0
# case EXPECTED(skip|fail) ENV... -- ARGS...: runs tolerate_missing ARGS with only ENV set.
case_() {
  local want=$1
  shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  local got=skip
  env -i "${envs[@]}" bash -c 'source "$0"; tolerate_missing "$@"' "$HERE/lib.sh" "$@" >/dev/null || got=fail
  if [ "$got" = "$want" ]; then
    echo "ok - ${envs[*]:-no env}: $want"
  else
    echo "FAILED - ${envs[*]:-no env}: expected $want, got $got"
    BAD=1
  fi
}
case_ skip -- "chromium" WARREN_SKIP_BROWSER
case_ skip CI=false -- "chromium" WARREN_SKIP_BROWSER
case_ fail CI=true -- "chromium" WARREN_SKIP_BROWSER
case_ fail CI=1 -- "chromium" WARREN_SKIP_BROWSER
case_ fail CI=true WARREN_SKIP_BROWSER=0 -- "chromium" WARREN_SKIP_BROWSER
case_ skip CI=true WARREN_SKIP_BROWSER=1 -- "chromium" WARREN_SKIP_BROWSER
case_ skip CI=true WARREN_SKIP_RABBITMQADMIN=v2 -- "v2" WARREN_SKIP_RABBITMQADMIN v2
case_ fail CI=true WARREN_SKIP_RABBITMQADMIN=v1 -- "v2" WARREN_SKIP_RABBITMQADMIN v2
case_ skip CI=true WARREN_SKIP_RABBITMQADMIN=1 -- "v2" WARREN_SKIP_RABBITMQADMIN v2
case_ fail CI=true -- "c++" WARREN_SKIP_FUZZ
case_ skip CI=true WARREN_SKIP_FUZZ=1 -- "c++" WARREN_SKIP_FUZZ
# .ci/fuzz.sh itself, with a PATH that has no compiler: fails in CI, skips when told or not CI.
NOTOOLS=$(mktemp -d)
ln -s "$(command -v dirname)" "$NOTOOLS/dirname"
fuzz_case() { # fuzz_case EXPECTED(skip|fail) ENV...
  local want=$1 got=skip
  shift
  env -i PATH="$NOTOOLS" "$@" "$BASH" "$HERE/fuzz.sh" 1 >/dev/null || got=fail
  if [ "$got" = "$want" ]; then
    echo "ok - fuzz.sh without c++, ${*:-no env}: $want"
  else
    echo "FAILED - fuzz.sh without c++, ${*:-no env}: expected $want, got $got"
    BAD=1
  fi
}
fuzz_case fail CI=true
fuzz_case skip CI=true WARREN_SKIP_FUZZ=1
fuzz_case skip CI=false
rm -rf "$NOTOOLS"
# The scripts use it where a tool can be missing.
grep -q '^bash .ci/fuzz.sh' "$HERE/run" || { echo "FAILED - .ci/run does not run .ci/fuzz.sh"; BAD=1; }
grep -q 'tolerate_missing .*WARREN_SKIP_BROWSER' "$HERE/run" || { echo "FAILED - .ci/run does not use tolerate_missing for the browser tests"; BAD=1; }
[ "$(grep -c 'tolerate_missing .*WARREN_SKIP_RABBITMQADMIN' "$HERE/rabbitmqadmin.sh")" = 2 ] || { echo "FAILED - .ci/rabbitmqadmin.sh does not use tolerate_missing for v1 and v2"; BAD=1; }
if grep -nE 'skipped"|: skipped$' "$HERE/run" "$HERE/rabbitmqadmin.sh" | grep -v compat; then
  echo "FAILED - a skip that bypasses tolerate_missing (above)"
  BAD=1
fi
exit $BAD
