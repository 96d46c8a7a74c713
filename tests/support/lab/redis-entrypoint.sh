#!/bin/sh
# doctor lab: redis-server with test defaults; REDIS_PASSWORD -> --requirepass.
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" != redis-server ]; then
  exec "$@"
fi
shift
if [ -n "${REDIS_PASSWORD:-}" ]; then
  set -- --requirepass "$REDIS_PASSWORD" "$@"
fi
exec redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
