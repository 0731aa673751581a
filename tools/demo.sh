#!/usr/bin/env bash
# tools/demo.sh — the README's first command: install what ruvector needs (tools/setup.sh,
# idempotent), start a throw-away PostgreSQL cluster, run the demo (demo/demo.py), and
# remove the cluster again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup.sh
# a non-root set-up installs the extension into ./tmp_install and says how to reach it
if [ -f tmp_install/pgtemp.env ]; then . tmp_install/pgtemp.env; export PGTEMP_OPTS; fi
exec tools/with-temp-pg.sh .venv/bin/python demo/demo.py
