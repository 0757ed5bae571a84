#!/bin/sh
# One PostgreSQL server for the local stack: run.sh DATA_DIR PORT CHECK_USER
# Makes the data directory on first start (initdb, a login role for HAProxy's pgsql-check that
# needs no password from loopback), then becomes the server on 127.0.0.1:PORT, its socket in
# DATA_DIR. PostgreSQL refuses to run as root: started by root, it runs as the postgres user.
set -eu
data="$1" port="$2" check_user="$3"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/postgres" ] || { echo "run.sh: PostgreSQL's server is not installed (Debian package postgresql)" >&2; exit 127; }

as_owner=""
if [ "$(id -u)" -eq 0 ]; then
  # As the postgres user, with the one privilege of passing through directories it may not
  # search (a run directory under a private home): no directory's mode is changed for it.
  as_owner="setpriv --reuid=postgres --regid=postgres --init-groups --inh-caps=+dac_read_search --ambient-caps=+dac_read_search --"
fi

if [ ! -f "$data/PG_VERSION" ]; then
  rm -rf "$data" && mkdir -p "$data"
  [ -n "$as_owner" ] && chown postgres:postgres "$data"
  $as_owner "$bin/initdb" --pgdata="$data" --username=postgres --auth-local=trust --auth-host=reject --no-sync >/dev/null
  # Loopback only: the check's role and the superuser without a password, nobody else.
  printf 'local all all trust\nhost all %s 127.0.0.1/32 trust\nhost all postgres 127.0.0.1/32 trust\n' "$check_user" > "$data/pg_hba.conf"
  echo "CREATE ROLE \"$check_user\" LOGIN;" | $as_owner "$bin/postgres" --single -D "$data" postgres >/dev/null
fi
exec $as_owner "$bin/postgres" -D "$data" -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$data" -c fsync=off
