#!/usr/bin/env bash
# Starts the machine's PostgreSQL (Debian's cluster 15/main) for the tests,
# creates a test role and database, and prints the DSN on standard output:
#
#   export PALISADE_TEST_POSTGRES_DSN=$(scripts/test-postgres.sh)
#
# Needs root or password-less sudo (pg_ctlcluster and psql run as the
# postgres user). Messages go to standard error; exit status 1 when
# PostgreSQL could not be made ready (the reason is printed). A cluster this
# script started is recorded in $PG_STARTED_FILE (default
# /tmp/palisade-test-postgres.started) so that `scripts/test-postgres.sh
# stop` stops only what it started. docs/store.md.
set -euo pipefail
version="${PG_VERSION:-15}"
cluster="${PG_CLUSTER:-main}"
started_file="${PG_STARTED_FILE:-/tmp/palisade-test-postgres.started}"
role="${PG_TEST_ROLE:-palisade_test}"
db="${PG_TEST_DB:-palisade_test}"

say() { echo "test-postgres: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    sudo -n -u postgres -- "$@"
  fi
}
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n -- "$@"; fi
}

if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
  say "neither root nor password-less sudo: cannot start PostgreSQL (pg_ctlcluster runs as root); set PALISADE_TEST_POSTGRES_DSN to an existing test database instead"
  exit 1
fi

if [ "${1:-}" = stop ]; then
  if [ -f "$started_file" ]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" stop && rm -f "$started_file"
    say "stopped PostgreSQL $version/$cluster (started by this script)"
  else
    say "PostgreSQL $version/$cluster was not started by this script: left alone"
  fi
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  say "pg_ctlcluster not found: installing postgresql-$version"
  (as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "postgresql-$version" >/dev/null) \
    || { say "could not install postgresql-$version"; exit 1; }
fi
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version $cluster"; then
  say "creating cluster $version/$cluster"
  as_root pg_createcluster "$version" "$cluster" >/dev/null
fi
status=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}')
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $3}')
if [ "$status" != online ]; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
  echo "$version/$cluster" >"$started_file"
  say "started PostgreSQL $version/$cluster on port $port"
else
  say "PostgreSQL $version/$cluster already running on port $port"
fi
for _ in $(seq 1 30); do
  as_postgres pg_isready -q -p "$port" && break
  sleep 1
done
as_postgres pg_isready -q -p "$port" || { say "PostgreSQL does not accept connections on port $port"; exit 1; }

# A fresh password each run; the role owns the test database (the store
# must own its tables: VACUUM FULL after an erasure).
pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 -v role="$role" -v pw="$pw" -v db="$db" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
-- Test only: TestErasureRewritesFiles reads the store's data files to prove
-- an erased address left no bytes behind. A production role never needs
-- these (docs/store.md lists what it needs).
SELECT format('GRANT pg_read_server_files, pg_checkpoint TO %I', :'role') \gexec
-- Function privileges belong to each database: grant in the test database
-- (granted in the maintenance database, a freshly created test database
-- did not have it).
\c :db
SELECT format('GRANT EXECUTE ON FUNCTION pg_read_binary_file(text) TO %I', :'role') \gexec
SQL
say "role $role, database $db ready"
echo "postgres://$role:$pw@127.0.0.1:$port/$db?sslmode=disable"
