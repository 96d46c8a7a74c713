#!/bin/sh
# doctor lab: the parts of the official postgres image's docker-entrypoint.sh the tests need.
# The image holds a pristine cluster made at build time (`lab-make-template`, initdb -U postgres)
# in $PGDATA, marked by $MARK: a first start only renames the superuser, sets its password and
# creates the database, in single-user mode (a full initdb costs ~3 s per container).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
MARK=$PGDATA/.doctor-lab-template
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
case $1 in
  postgres | lab-make-template) ;;
  *) exec "$@" ;;
esac
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  # `--`: busybox su would otherwise take a later `-c` (e.g. `-c max_connections=8`) as its own.
  exec su -s /bin/sh -c 'exec /entrypoint.sh "$@"' -- postgres entrypoint "$@"
fi
mode=$1
shift

ident() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
literal() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
# Runs the statements on stdin (each ends with ";" and a blank line) in single-user mode.
single() {
  err=$(postgres --single -j -D "$PGDATA" -c listen_addresses= -c fsync=off -c log_checkpoints=off postgres \
    2>&1 >/dev/null) || { printf '%s\n' "$err" >&2; exit 1; }
  case $err in *ERROR* | *FATAL* | *PANIC*) printf '%s\n' "$err" >&2; exit 1 ;; esac
}
initdb_as() { # user password
  pwfile=$(mktemp)
  printf '%s\n' "$2" >"$pwfile"
  initdb -D "$PGDATA" --username="$1" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C --no-sync --no-instructions
  rm -f "$pwfile"
  printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
}

if [ "$mode" = lab-make-template ]; then
  initdb_as postgres "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  : >"$MARK"
  exit 0
fi

if [ ! -s "$PGDATA/PG_VERSION" ] || [ -e "$MARK" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
EOF
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ -e "$MARK" ]; then
    echo "initialising the database from the image's pre-built cluster (superuser \"$user\")"
    {
      if [ "$user" != postgres ]; then
        # The bootstrap superuser cannot rename itself: do it as a temporary superuser.
        printf 'CREATE ROLE doctor_lab_tmp SUPERUSER;\n\nSET SESSION AUTHORIZATION doctor_lab_tmp;\n\n'
        printf 'ALTER ROLE postgres RENAME TO %s;\n\nSET SESSION AUTHORIZATION %s;\n\n' "$(ident "$user")" "$(ident "$user")"
        printf 'DROP ROLE doctor_lab_tmp;\n\n'
      fi
      printf 'ALTER ROLE %s PASSWORD %s;\n\n' "$(ident "$user")" "$(literal "$POSTGRES_PASSWORD")"
      if [ "$db" != postgres ]; then
        printf 'CREATE DATABASE %s;\n\n' "$(ident "$db")"
      fi
    } | single
    rm -f "$MARK"
  else
    initdb_as "$user" "$POSTGRES_PASSWORD"
    if [ "$db" != postgres ]; then
      printf 'CREATE DATABASE %s;\n\n' "$(ident "$db")" | single
    fi
  fi
  echo
  echo 'PostgreSQL init process complete; ready for start up.'
  echo
fi
exec postgres -D "$PGDATA" -c 'listen_addresses=*' -c 'unix_socket_directories=/var/run/postgresql,/tmp' "$@"
