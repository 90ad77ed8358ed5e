# Shared by the CI scripts (sourced). A test whose tool is missing fails a CI run instead of
# passing as "skipped"; each such test has an explicit opt-out variable.

# Is this a CI run? CI services set CI=true (some CI=1).
in_ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }

# tolerate_missing WHAT VAR [VALUE...]: a test cannot run because WHAT is missing. Returns 0
# (a skip, said so) outside CI, or when $VAR is 1 or one of the VALUEs; in CI otherwise it
# prints FAILED and returns 1.
tolerate_missing() {
  local what=$1 var=$2
  shift 2
  local val=${!var:-} v
  if [ -n "$val" ]; then
    for v in 1 "$@"; do
      if [ "$val" = "$v" ]; then
        echo "$what: skipped ($var=$val)"
        return 0
      fi
    done
  fi
  if in_ci; then
    echo "FAILED - $what (CI=$CI: a test that cannot run fails; $var=${1:-1} skips it)"
    return 1
  fi
  echo "$what: skipped (not CI)"
  return 0
}
