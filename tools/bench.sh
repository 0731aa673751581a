#!/usr/bin/env bash
# tools/bench.sh [--quick] [--no-setup] [--only FAMILY[,FAMILY...]] — run the benchmarks, write the report.
#
#   1. tools/setup.sh (unless --no-setup): apt packages, .venv, cffi module, extension;
#   2. the benchmark extras into .venv: torch==2.13.0 (CPU wheel), matplotlib, threadpoolctl
#      (full runs only: the smoke mode never installs anything and skips what is missing);
#   3. bench/run.py: every bench/bench_<family>.py in one Python process, inside one throw-away
#      cluster (tools/with-temp-pg.sh) for the SQL ones, or against $PGHOST when it is already
#      set (e.g. when tools/test.sh runs this inside its cluster);
#   4. bench/report.py: docs/benchmarks.md and docs/img/bench_*.png.
#
# --quick     smoke mode, a few seconds: tiny sizes, every code path; results go to
#             bench/results/quick/ and the report to bench/results/quick/benchmarks.md, so that
#             docs/ is never overwritten by meaningless numbers.
# --no-setup  skip step 1 (the caller already ran tools/setup.sh).
# --only      run only these families (decode, multihead, softmax, overhead, cross, types, sql,
#             memory);
#             the report still includes every family that has results.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

usage() { sed -n '2,18s/^# \{0,1\}//p' "$0"; }
say() { printf 'bench: %s\n' "$*"; }

QUICK=0
SETUP=1
ONLY=
ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --no-setup) SETUP=0 ;;
    --only) ONLY=${2:?--only needs a list}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
START=$SECONDS

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

if [ "$SETUP" = 1 ]; then
  bash tools/setup.sh
fi
[ -x "$PY" ] || { echo "bench.sh: $PY missing: run tools/setup.sh first" >&2; exit 1; }

if [ "$QUICK" = 1 ]; then
  OUT=$ROOT/bench/results/quick
  REPORT=(--results "$OUT" --out "$OUT/benchmarks.md" --img "$OUT/img")
  FLAGS=(--quick)
  "$PY" - <<'EOF'
import importlib.util
for mod in ("torch", "matplotlib", "threadpoolctl"):
    if importlib.util.find_spec(mod) is None:
        print(f"bench: note: {mod} is not installed: its parts are skipped "
              "(tools/bench.sh without --quick installs it)")
EOF
else
  OUT=$ROOT/bench/results
  REPORT=(--results "$OUT" --out "$ROOT/docs/benchmarks.md" --img "$ROOT/docs/img")
  FLAGS=()
  # torch is pinned: 2.13.0 is the CPU wheel available locally; any other version is a huge download.
  EXTRAS=(torch==2.13.0 matplotlib threadpoolctl)
  if "$PY" - <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if m.version("torch").split("+")[0] == "2.13.0" and m.version("matplotlib") and m.version("threadpoolctl") else 1)
EOF
  then
    say "extras: ${EXTRAS[*]} already installed"
  else
    say "extras: installing ${EXTRAS[*]}"
    "$PY" -m pip install -q --disable-pip-version-check "${EXTRAS[@]}"
  fi
fi

# Not root: the extension lives in ./tmp_install, which the temp server must be told about.
if [ "$(id -u)" != 0 ] && [ -f tmp_install/pgtemp.env ]; then
  # shellcheck source=/dev/null
  . tmp_install/pgtemp.env
  export PGTEMP_OPTS
fi

# All families run in one Python process (torch is imported once), inside one throw-away
# cluster for the SQL parts, or against $PGHOST when it is already set.
FAMS=()
for fam in decode multihead softmax overhead cross types sql memory; do
  if want "$fam"; then FAMS+=("$fam"); fi
done
if [ ${#FAMS[@]} -eq 0 ]; then
  echo "bench.sh: --only '$ONLY' names no family (decode, multihead, softmax, overhead, cross, types, sql, memory)" >&2
  exit 2
fi
FAILED=()
RUN=("$PY" bench/run.py ${FLAGS[@]+"${FLAGS[@]}"} "${FAMS[@]}")
if [ -n "${PGHOST:-}" ]; then
  "${RUN[@]}" || FAILED+=("bench/run.py")
else
  bash tools/with-temp-pg.sh "${RUN[@]}" || FAILED+=("bench/run.py in tools/with-temp-pg.sh")
fi

CMD="tools/bench.sh${ARGS[*]:+ ${ARGS[*]}}"
"$PY" bench/report.py "${REPORT[@]}" --command "$CMD" || FAILED+=("report")

say "done in $((SECONDS - START)) s"
if [ ${#FAILED[@]} -gt 0 ]; then
  say "FAILED: ${FAILED[*]}"
  exit 1
fi
