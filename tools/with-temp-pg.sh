#!/usr/bin/env bash
# tools/with-temp-pg.sh COMMAND [ARG...]
#
# Runs COMMAND against a throw-away PostgreSQL cluster and removes the cluster afterwards,
# whatever happens (success, failure, Ctrl-C, SIGTERM).  COMMAND sees
#   PGHOST (a private socket directory; no TCP port is opened), PGPORT, PGUSER=postgres,
#   PGDATABASE=postgres, and PGTEMP_LOG (the server log file).
# Its exit code is passed through; on failure the tail of the server log is printed.
#
# Works as root (the server runs as the OS user postgres through runuser, because initdb
# refuses to run as root) and as any other user (the server runs as that user).
#
# Environment:
#   PG_CONFIG      which PostgreSQL to use (default: pg_config on PATH)
#   PGTEMP_OPTS    extra server options appended last, e.g.
#                  PGTEMP_OPTS="-c extension_destdir=$PWD/tmp_install"
#                  (as root the server runs as postgres: what it reads must be readable by it)
#   PGTEMP_PORT    port number; it only names the socket file (default 54329)
#   PGTEMP_OSUSER  OS user that runs the server when invoked as root (default postgres)
#   PGTEMP_KEEP=1  keep the cluster directory (stopped) for a post-mortem
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]   (runs COMMAND against a throw-away PostgreSQL cluster)" >&2
  exit 2
fi

PG_CONFIG=${PG_CONFIG:-pg_config}
if ! BINDIR=$("$PG_CONFIG" --bindir 2>/dev/null); then
  echo "with-temp-pg: cannot run '$PG_CONFIG --bindir': is PostgreSQL installed? (bash tools/setup.sh)" >&2
  exit 2
fi
for prog in initdb pg_ctl; do
  if [ ! -x "$BINDIR/$prog" ]; then
    echo "with-temp-pg: $BINDIR/$prog not found: the PostgreSQL server package is missing" >&2
    exit 2
  fi
done
PORT=${PGTEMP_PORT:-54329}

RUNAS=()
if [ "$(id -u)" = 0 ]; then
  OSUSER=${PGTEMP_OSUSER:-postgres}
  if ! id -u "$OSUSER" >/dev/null 2>&1; then
    echo "with-temp-pg: running as root needs the OS user '$OSUSER' (created by the postgresql packages)" >&2
    exit 2
  fi
  RUNAS=(runuser -u "$OSUSER" --)
fi

TMPD=$(mktemp -d /tmp/pgtemp.XXXXXX)
chmod 755 "$TMPD"
[ ${#RUNAS[@]} -gt 0 ] && chown "$OSUSER" "$TMPD"

# Runs a server-side program as the server's OS user, from / so that runuser does not warn
# about an unreadable working directory.
as_server() { ( cd / && ${RUNAS[@]+"${RUNAS[@]}"} "$@" ); }

child=
cleanup() {
  local rc=$?
  set +e   # a failing step (e.g. stderr is a closed pipe) must not skip the removal below
  as_server "$BINDIR/pg_ctl" -D "$TMPD/data" -m immediate -w stop >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ] && [ -f "$TMPD/log" ]; then
    echo "--- with-temp-pg: server log (last 30 lines) ---" >&2
    tail -n 30 "$TMPD/log" >&2
  fi
  if [ "${PGTEMP_KEEP:-0}" = 1 ]; then
    echo "with-temp-pg: kept $TMPD" >&2
  else
    rm -rf "$TMPD"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 130' INT TERM HUP

if ! as_server "$BINDIR/initdb" -D "$TMPD/data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
      >"$TMPD/initdb.log" 2>&1; then
  cat "$TMPD/initdb.log" >&2
  exit 1
fi

# Durability is pointless for a cluster that lives for one command; few connections keep
# several clusters side by side cheap.
SERVER_OPTS="-c listen_addresses='' -k $TMPD -p $PORT"
SERVER_OPTS+=" -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
SERVER_OPTS+=" -c max_connections=20 -c max_wal_senders=0 -c wal_level=minimal"
SERVER_OPTS+=" -c log_checkpoints=off"
SERVER_OPTS+=" ${PGTEMP_OPTS:-}"
if ! as_server "$BINDIR/pg_ctl" -D "$TMPD/data" -l "$TMPD/log" -w -t 60 -o "$SERVER_OPTS" start >/dev/null; then
  echo "with-temp-pg: the server did not start (options: $SERVER_OPTS)" >&2
  exit 1
fi

export PGHOST="$TMPD" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres PGTEMP_LOG="$TMPD/log"
unset PGPASSWORD PGSERVICE PGSERVICEFILE PGSYSCONFDIR PGHOSTADDR PGOPTIONS

# Background + wait: a signal to this script interrupts `wait` at once, so cleanup runs even
# while COMMAND is busy.  stdin stays attached to COMMAND.
"$@" <&0 &
child=$!
wait "$child"
