# shellcheck shell=bash
# A throw-away PostgreSQL server for the test suite, sourced by .ci/run.
#
#   medbill_start_postgres   initdb in a temp dir, start on a unix socket there (no TCP), create the
#                            database, export MEDBILL_TEST_DATABASE_URL; stopped and removed at exit.
#
# Runs as root (initdb refuses root: the cluster belongs to the `postgres` user, via runuser) and as
# a normal user (the cluster is the caller's). With no PostgreSQL installed it says so and returns:
# the PostgreSQL half of the `db` fixture then skips. An already set MEDBILL_TEST_DATABASE_URL is
# used as it is.

MEDBILL_PG_TMP=""
MEDBILL_PG_BIN=""
MEDBILL_PG_AS=()

medbill_find_pg_bin() {
  local dir
  if [ -n "${MEDBILL_PG_BIN_DIR:-}" ] && [ -x "${MEDBILL_PG_BIN_DIR}/initdb" ]; then
    echo "$MEDBILL_PG_BIN_DIR"; return 0
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

medbill_stop_postgres() {
  if [ -n "$MEDBILL_PG_TMP" ] && [ -d "$MEDBILL_PG_TMP/data" ]; then
    "${MEDBILL_PG_AS[@]}" "$MEDBILL_PG_BIN/pg_ctl" -D "$MEDBILL_PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$MEDBILL_PG_TMP" ]; then rm -rf "$MEDBILL_PG_TMP"; fi
  MEDBILL_PG_TMP=""
}

medbill_start_postgres() {
  if [ -n "${MEDBILL_TEST_DATABASE_URL:-}" ]; then
    echo "postgres: using MEDBILL_TEST_DATABASE_URL from the environment"
    return 0
  fi
  if ! MEDBILL_PG_BIN=$(medbill_find_pg_bin); then
    echo "postgres: NO PostgreSQL installed (no initdb under /usr/lib/postgresql/*/bin or on PATH):"
    echo "postgres: the PostgreSQL-parametrised tests will SKIP; install postgresql to run them"
    return 0
  fi
  MEDBILL_PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/medbill-pg.XXXXXX")
  local sock="$MEDBILL_PG_TMP/sock" data="$MEDBILL_PG_TMP/data" log="$MEDBILL_PG_TMP/server.log"
  mkdir -p "$sock"
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "postgres: running as root and there is no 'postgres' user for initdb: PostgreSQL tests will SKIP"
      rm -rf "$MEDBILL_PG_TMP"; MEDBILL_PG_TMP=""
      return 0
    fi
    chown -R postgres: "$MEDBILL_PG_TMP"
    MEDBILL_PG_AS=(runuser -u postgres --)
  else
    MEDBILL_PG_AS=()
  fi
  chmod 700 "$MEDBILL_PG_TMP"
  trap medbill_stop_postgres EXIT
  if ! "${MEDBILL_PG_AS[@]}" "$MEDBILL_PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
      >"$MEDBILL_PG_TMP/initdb.log" 2>&1; then
    echo "postgres: initdb failed:"; cat "$MEDBILL_PG_TMP/initdb.log"; return 1
  fi
  if ! "${MEDBILL_PG_AS[@]}" "$MEDBILL_PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$sock' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
    echo "postgres: the server did not start:"; tail -n 30 "$log"; return 1
  fi
  "${MEDBILL_PG_AS[@]}" "$MEDBILL_PG_BIN/createdb" -h "$sock" -U postgres medbill_test
  export MEDBILL_TEST_DATABASE_URL="postgresql://postgres@/medbill_test?host=$sock"
  echo "postgres: $("$MEDBILL_PG_BIN/postgres" --version) on $sock (stopped at exit)"
}
