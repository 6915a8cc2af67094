# A throwaway PostgreSQL cluster on loopback for tests and benchmarks. Source it, then `pg_start`; it sets
# PG_URL and PG_BIN; `pg_stop` removes it. PG_OPTIONS: more server options (bench/pg_cost.py:
# PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements"). Installs Debian's postgresql when initdb is missing.

pg_find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_BIN=$dir
}

pg_as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  pg_find_bin
  PG_DIR=$(mktemp -d /tmp/vafa-pg.XXXXXX)
  PG_PORT=${PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
  if [ "$(id -u)" = "0" ]; then chown postgres "$PG_DIR"; fi
  pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U vafa --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200 -c shared_buffers=256MB ${PG_OPTIONS:-}" start >/dev/null
  pg_as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U vafa vafa
  PG_URL="postgresql://vafa@127.0.0.1:$PG_PORT/vafa"
  export PG_URL PG_BIN PG_DIR PG_PORT
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
