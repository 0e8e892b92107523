#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for stepeval's tests and print its SQLAlchemy URL.
#
# Idempotent: installs Debian's postgresql if it is missing, creates (once) a dedicated cluster
# named "stepeval" listening on 127.0.0.1 only, starts it if it is down, and creates (once) the test
# role and database. Usage:
#   export STEPEVAL_TEST_POSTGRES_URL="$(bash scripts/start_postgres.sh)"
# Settings: STEPEVAL_PG_PORT (55432), STEPEVAL_PG_USER / _PASSWORD / _DB (stepeval_test).
set -euo pipefail

PORT="${STEPEVAL_PG_PORT:-55432}"
USER_NAME="${STEPEVAL_PG_USER:-stepeval_test}"
PASSWORD="${STEPEVAL_PG_PASSWORD:-stepeval_test}"
DB="${STEPEVAL_PG_DB:-stepeval_test}"
CLUSTER=stepeval

log() { echo "start_postgres: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pg_createcluster >/dev/null 2>&1; then
  log "installing Debian's postgresql"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >&2
fi

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$VERSION/$CLUSTER"; then
  log "creating cluster $VERSION/$CLUSTER on 127.0.0.1:$PORT"
  as_root pg_createcluster "$VERSION" "$CLUSTER" -p "$PORT" -- --auth-local=peer --auth-host=scram-sha-256 >&2
  as_root sh -c "echo \"listen_addresses = '127.0.0.1'\" >> /etc/postgresql/$VERSION/$CLUSTER/postgresql.conf"
fi
PORT="$(pg_lsclusters -h | awk -v c="$CLUSTER" -v v="$VERSION" '$1==v && $2==c {print $3}')"
if ! pg_lsclusters -h | awk -v c="$CLUSTER" -v v="$VERSION" '$1==v && $2==c {print $4}' | grep -q online; then
  log "starting cluster $VERSION/$CLUSTER"
  as_root pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi

psql_admin() { as_root su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -qtA $*"; }
for _ in $(seq 30); do psql_admin "-c 'select 1'" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(psql_admin "-c \"select 1 from pg_roles where rolname='$USER_NAME'\"")" != "1" ]; then
  psql_admin "-c \"create role $USER_NAME login password '$PASSWORD'\"" >&2
fi
if [ "$(psql_admin "-c \"select 1 from pg_database where datname='$DB'\"")" != "1" ]; then
  psql_admin "-c \"create database $DB owner $USER_NAME\"" >&2
fi

echo "postgresql+psycopg://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB"
