#!/usr/bin/env bash
# tools/setup.sh — everything ruvector needs on a Debian 12 machine, idempotent.
#
#   1. apt packages: PostgreSQL 15 server + headers, pgTAP + pg_prove, pgxnclient, clang-14 and
#      its sanitizer runtime, the aarch64 cross compiler and qemu-user, SIMDe (for the C tests'
#      emulated AVX-512); only when something is missing, so a second run costs a dpkg-query;
#   2. .venv with the Python tools, then `pip install -e .` (rebuilds the cffi module from the
#      current csrc/ every time);
#   3. the PostgreSQL extension: `make COPT=-Werror` and `make install` (as root into the
#      system PostgreSQL; otherwise into ./tmp_install, see below).
#
# As a non-root user the extension goes to ./tmp_install and this script writes
# tmp_install/pgtemp.env, which sets PGTEMP_OPTS="-c extension_destdir=..." for
# tools/with-temp-pg.sh (tools/test.sh reads it).  Missing apt packages are installed through
# `sudo -n` when that works; otherwise they are listed and the script carries on.
#
# Environment: PG_CONFIG (default pg_config), PYTHON (interpreter for the venv, default
# python3), RUVECTOR_SKIP_APT=1 (do not touch apt at all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
START=$SECONDS
LOG=$(mktemp /tmp/ruvector-setup.XXXXXX)   # output of the noisy steps, shown when they fail
trap 'rm -f "$LOG"' EXIT

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. apt packages ------------------------------------------------------------------------
# postgresql-15 is named explicitly: postgresql-server-dev-15 may come from bookworm-security
# at a newer minor version, and naming the server upgrades it too, so headers and server agree.
APT_PACKAGES=(
  postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap postgresql-plpython3-15 python3-numpy
  libtap-parser-sourcehandler-pgtap-perl pgxnclient
  clang-14 libclang-rt-14-dev
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libsimde-dev
  make zip unzip
)

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || echo "$p"
  done
}

if [ "${RUVECTOR_SKIP_APT:-0}" = 1 ]; then
  say "apt: skipped (RUVECTOR_SKIP_APT=1)"
elif ! command -v dpkg-query >/dev/null; then
  say "apt: not a Debian system, skipped; install the equivalents of: ${APT_PACKAGES[*]}"
else
  mapfile -t MISSING < <(missing_packages)
  if [ ${#MISSING[@]} -eq 0 ]; then
    say "apt: all ${#APT_PACKAGES[@]} packages present"
  else
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
      else
        SUDO=(none)
      fi
    fi
    if [ "${SUDO[0]:-}" = none ]; then
      say "apt: WARNING: missing ${MISSING[*]}; not root and no password-less sudo, so ask an admin for:"
      say "  apt-get install --no-install-recommends ${APT_PACKAGES[*]}"
    else
      say "apt: installing (missing: ${MISSING[*]})"
      t=$SECONDS
      ${SUDO[@]+"${SUDO[@]}"} apt-get -qq -o DPkg::Lock::Timeout=300 update
      # All packages are named, not only the missing ones, so that an already installed
      # postgresql-15 is upgraded to the version of the headers.
      ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 --no-install-recommends \
        "${APT_PACKAGES[@]}" >"$LOG" 2>&1 \
        || { tail -n 40 "$LOG" >&2; die "apt-get install failed"; }
      mapfile -t STILL < <(missing_packages)
      [ ${#STILL[@]} -eq 0 ] || die "apt: still missing after install: ${STILL[*]}"
      say "apt: installed in $((SECONDS - t)) s"
    fi
  fi
fi

PG_CONFIG=${PG_CONFIG:-pg_config}
if command -v "$PG_CONFIG" >/dev/null; then
  server_bin="$("$PG_CONFIG" --bindir)/postgres"
  headers="$("$PG_CONFIG" --version | awk '{print $2}')"
  if [ -x "$server_bin" ]; then
    server="$("$server_bin" --version | awk '{print $3}')"
    say "postgresql: server $server, headers $headers ($PG_CONFIG)"
    [ "$server" = "$headers" ] || say "WARNING: server $server and headers $headers differ"
  fi
fi

# --- 2. Python virtual environment -----------------------------------------------------------
PY_TOOLS=('setuptools>=70.1' wheel cffi numpy pytest hypothesis 'psycopg[binary]>=3.2' jsonschema mypy)
VENV=$ROOT/.venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  say "venv: $VENV exists ($("$VENV/bin/python" -V 2>&1))"
else
  rm -rf "$VENV"
  PYTHON=${PYTHON:-python3}
  # A non-root user may not be able to run a python3 that lives in root's home (pyenv).
  if ! "$PYTHON" -c 'import venv' 2>/dev/null; then PYTHON=/usr/bin/python3; fi
  say "venv: creating $VENV with $PYTHON ($("$PYTHON" -V 2>&1))"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip -q --disable-pip-version-check)

# Build requirements of the project are installed into the venv too, so that
# `pip install -e . --no-build-isolation` works offline and fast.
BUILD_REQS=()
if [ -f pyproject.toml ]; then
  mapfile -t BUILD_REQS < <("$VENV/bin/python" - 2>/dev/null <<'EOF'
import tomllib
with open("pyproject.toml", "rb") as f:
    data = tomllib.load(f)
for req in data.get("build-system", {}).get("requires", []):
    print(req)
EOF
)
fi
WANT="${PY_TOOLS[*]} ${BUILD_REQS[*]}"
STAMP=$VENV/.ruvector-tools
if [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  say "venv: tools already installed"
else
  say "venv: installing $WANT"
  t=$SECONDS
  "${PIP[@]}" install "${PY_TOOLS[@]}" ${BUILD_REQS[@]+"${BUILD_REQS[@]}"} >"$LOG" 2>&1 \
    || { tail -n 60 "$LOG" >&2; die "pip install of the tools failed"; }
  echo "$WANT" >"$STAMP"
  say "venv: tools installed in $((SECONDS - t)) s"
fi

if [ -f pyproject.toml ]; then
  t=$SECONDS
  # Editable installs do not notice C changes by themselves: drop the built module so that
  # it is always compiled from the current sources.
  find ruvector_cffi -maxdepth 1 \( -name '_ruvector*.so' -o -name '_ruvector*.pyd' \) -delete 2>/dev/null || true
  EXTRA=
  if "$VENV/bin/python" - 2>/dev/null <<'EOF'
import sys, tomllib
with open("pyproject.toml", "rb") as f:
    data = tomllib.load(f)
sys.exit(0 if "test" in data.get("project", {}).get("optional-dependencies", {}) else 1)
EOF
  then EXTRA='[test]'; fi
  "${PIP[@]}" install --no-build-isolation -e ".$EXTRA" >"$LOG" 2>&1 \
    || { tail -n 60 "$LOG" >&2; die "pip install -e . failed"; }
  say "python: ruvector_cffi built and installed (editable$EXTRA) in $((SECONDS - t)) s"
else
  say "python: no pyproject.toml yet, skipped"
fi

# --- 3. PostgreSQL extension -----------------------------------------------------------------
if [ -f Makefile ]; then
  t=$SECONDS
  JOBS=$(nproc 2>/dev/null || echo 2)
  make -s -j"$JOBS" PG_CONFIG="$PG_CONFIG" COPT=-Werror >"$LOG" 2>&1 \
    || { cat "$LOG" >&2; die "make COPT=-Werror failed"; }
  if [ "$(id -u)" = 0 ]; then
    make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
    rm -f tmp_install/pgtemp.env
    say "extension: built with -Werror and installed into $("$PG_CONFIG" --sharedir)/extension in $((SECONDS - t)) s"
  else
    make -s PG_CONFIG="$PG_CONFIG" install DESTDIR="$ROOT/tmp_install" >/dev/null
    echo "PGTEMP_OPTS=\"\${PGTEMP_OPTS:-} -c extension_destdir=$ROOT/tmp_install\"" >tmp_install/pgtemp.env
    say "extension: built with -Werror and installed into $ROOT/tmp_install in $((SECONDS - t)) s"
    say "  (not root: tools/with-temp-pg.sh needs PGTEMP_OPTS=\"-c extension_destdir=$ROOT/tmp_install\";"
    say "   tools/test.sh sets it from tmp_install/pgtemp.env)"
  fi
else
  say "extension: no Makefile yet, skipped"
fi

say "done in $((SECONDS - START)) s"
