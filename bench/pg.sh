# Sourced by the service benchmarks: a throwaway PostgreSQL cluster (Debian's postgresql
# package, which scripts/setup.sh installs) and moto's S3 server, both on loopback, removed
# by pg_cleanup / s3_cleanup. Sets PG_URL and S3_ENDPOINT.

pg_start() { # folder
  local dir=$1 bin run=()
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    # The server runs as the postgres user, who must be able to reach its folder.
    chmod o+x "$(dirname "$dir")"
    chown postgres:postgres "$dir"
    run=(runuser -u postgres --)
  fi
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-locale --no-sync >/dev/null
  # Durable settings as a real deployment would run them (fsync on).
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
    -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" >/dev/null
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE bench" postgres
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/bench"
  PG_DIR=$dir
  PG_RUN=("${run[@]}")
  PG_BIN=$bin
}

pg_cleanup() {
  [ -n "${PG_DIR:-}" ] && "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
  PG_DIR=""
}

s3_start() { # python
  S3_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$1" -m moto.server -H 127.0.0.1 -p "$S3_PORT" >/dev/null 2>&1 &
  S3_PID=$!
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$S3_PORT" >/dev/null && break; sleep 0.1; done
  curl -sf -X PUT "http://127.0.0.1:$S3_PORT/bench" >/dev/null
  S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
}

s3_cleanup() {
  [ -n "${S3_PID:-}" ] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
  S3_PID=""
}
