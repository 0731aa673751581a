#!/usr/bin/env bash
# tools/test.sh [--quick] — set up and run every ruvector test; the command CI runs.
#
#   1. tools/setup.sh              apt packages, .venv, cffi module, extension build + install
#   2. tools/test-c.sh             the C test drivers (csrc/test: every SIMD kernel vs scalar and
#                                  float64, the core's API) under gcc, clang, ASan+UBSan, NEON/qemu
#   3. in ONE throw-away cluster (tools/with-temp-pg.sh):
#        make installcheck         pg_regress (test/sql, test/expected)
#        pg_prove test/pgtap/*.sql pgTAP
#        pytest tests/             Python API, SQL through psycopg, packaging
#        tools/bench.sh --quick    the benchmarks' smoke mode (seconds; numbers meaningless)
#   4. tools/validate_meta.py      META.json against the PGXN Meta Spec
#
# Every stage runs even when an earlier one failed (except setup, which everything needs);
# the script ends with a summary and exits 1 if any stage failed.
#
# --quick   skip the slow parts: RUVECTOR_QUICK=1 is exported, and the C scripts are given
#           --quick when they understand it (no sanitizer builds, no qemu).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

usage() { sed -n '2,17s/^# \{0,1\}//p' "$0"; }

QUICK=0
INNER=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --in-cluster) INNER=$2; shift ;;   # internal: the stages run inside with-temp-pg.sh
    -h|--help) usage; exit 0 ;;
    *) echo "test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[ "$QUICK" = 1 ] && export RUVECTOR_QUICK=1

# stage NAME COMMAND...: runs one stage, prints a header and its result, records the result.
# COMMAND must report failure through its exit code (shell functions used here do so
# explicitly: errexit does not apply inside a command tested with ||).
stage() {
  local name=$1 t=$SECONDS rc=0
  shift
  printf '\n==== %s ====\n' "$name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf -- '---- %s: PASS (%d s)\n' "$name" $((SECONDS - t))
    printf 'PASS %s (%d s)\n' "$name" $((SECONDS - t)) >>"$RESULTS"
  else
    printf -- '---- %s: FAIL (exit %d, %d s)\n' "$name" "$rc" $((SECONDS - t))
    printf 'FAIL %s (exit %d, %d s)\n' "$name" "$rc" $((SECONDS - t)) >>"$RESULTS"
  fi
  return 0
}

skip() {  # skip NAME REASON
  printf '\n==== %s ====\nskipped: %s\n' "$1" "$2"
  printf 'SKIP %s (%s)\n' "$1" "$2" >>"$RESULTS"
}

run_installcheck() {
  if ! compgen -G 'test/sql/*.sql' >/dev/null; then
    echo "no pg_regress tests in test/sql"; return 1
  fi
  local rc=0
  make -s installcheck || rc=$?
  if [ "$rc" -ne 0 ] && [ -s test/regression.diffs ]; then
    echo "---- test/regression.diffs (first 400 lines) ----"
    head -n 400 test/regression.diffs
  fi
  return "$rc"
}

run_pgtap() {
  if ! compgen -G 'test/pgtap/*.sql' >/dev/null; then
    echo "no pgTAP tests in test/pgtap"; return 1
  fi
  pg_prove test/pgtap/*.sql
}

run_pytest() {
  local rc=0
  "$PY" -m pytest -q -ra tests/ || rc=$?
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: that counts as a failure"; fi
  return "$rc"
}

run_c_script() {  # run_c_script SCRIPT: passes --quick when asked for and understood
  local args=()
  if [ "$QUICK" = 1 ] && grep -q -- '--quick' "$1"; then args=(--quick); fi
  bash "$1" ${args[@]+"${args[@]}"}
}

# ---- inside the temp cluster (re-invoked by the outer run) ----------------------------------
if [ -n "$INNER" ]; then
  RESULTS=$INNER
  echo "(temp cluster: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER)"
  stage "pg_regress: make installcheck" run_installcheck
  stage "pgTAP: pg_prove test/pgtap/*.sql" run_pgtap
  export RUVECTOR_REQUIRE_PG=1   # pytest: the SQL tests (test_sql.py, test_demo.py) must not skip in here
  stage "pytest: tests/" run_pytest
  # benchmarks are not tests, but their smoke mode runs here so that they cannot rot
  stage "bench smoke: tools/bench.sh --quick" bash tools/bench.sh --quick --no-setup
  exit 0
fi

# ---- outer run ---------------------------------------------------------------------------------
START=$SECONDS
RESULTS=$(mktemp /tmp/ruvector-test.XXXXXX)
trap 'rm -f "$RESULTS"' EXIT

summary() {
  local passed failed skipped
  passed=$(grep -c '^PASS' "$RESULTS" || true)
  failed=$(grep -c '^FAIL' "$RESULTS" || true)
  skipped=$(grep -c '^SKIP' "$RESULTS" || true)
  printf '\n==== summary (%d s) ====\n' $((SECONDS - START))
  cat "$RESULTS"
  printf 'summary: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
  [ "$failed" -eq 0 ]
}

stage "setup: tools/setup.sh" bash tools/setup.sh
if grep -q '^FAIL' "$RESULTS"; then
  echo "setup failed: the other stages need it, so they are not run"
  summary || true
  exit 1
fi

stage "C: tools/test-c.sh" run_c_script tools/test-c.sh

# Not root: the extension was installed into ./tmp_install, which the server must be told of.
if [ "$(id -u)" != 0 ] && [ -f tmp_install/pgtemp.env ]; then
  # shellcheck source=/dev/null
  . tmp_install/pgtemp.env
  export PGTEMP_OPTS
fi
before=$(wc -l <"$RESULTS")
cluster_rc=0
bash tools/with-temp-pg.sh bash tools/test.sh --in-cluster "$RESULTS" ${RUVECTOR_QUICK:+--quick} || cluster_rc=$?
if [ "$(wc -l <"$RESULTS")" -eq "$before" ] || [ "$cluster_rc" -ne 0 ]; then
  echo "FAIL temp cluster: tools/with-temp-pg.sh (exit $cluster_rc)" >>"$RESULTS"
fi

stage "META.json: tools/validate_meta.py" "$PY" tools/validate_meta.py META.json

summary || exit 1
