#!/usr/bin/env bash
# Two Quorum API instances on this machine, sharing the local PostgreSQL and Redis: the
# scale-out topology of deploy/compose.yaml without a Docker engine.
#
#   bash bench/cluster.sh            # Ctrl-C (or SIGTERM) stops both instances
#   PORTS="8001 8002" DB=quorum_cluster REDIS_URL=redis://127.0.0.1:6379/0 bash bench/cluster.sh
#
# Creates the database if it is missing and migrates it (`quorum migrate`), then starts
# one `quorum serve` per port and waits until each answers /readyz. A client streaming
# from one instance sees what is written through the other (Redis fan-out, log replay).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PORTS=${PORTS:-8001 8002}
DB=${DB:-quorum_cluster}
PG_HOST=${PG_HOST:-127.0.0.1}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export QUORUM_DATABASE_URL="postgresql+asyncpg://postgres@${PG_HOST}:5432/${DB}"
export QUORUM_REDIS_URL="$REDIS_URL"
export QUORUM_SECRET_KEY=${QUORUM_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')}

psql -h "$PG_HOST" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || createdb -h "$PG_HOST" -U postgres "$DB"
uv run --locked quorum migrate >/dev/null

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

for port in $PORTS; do
  uv run --locked quorum serve --host 127.0.0.1 --port "$port" &
  pids+=($!)
done
for port in $PORTS; do
  for _ in $(seq 1 300); do  # up to 60 s: a loaded machine imports slowly
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "instance on $port did not become ready" >&2; exit 1; }
  echo "ready: http://127.0.0.1:$port"
done
echo "cluster up (database $DB, Redis $REDIS_URL); Ctrl-C stops it"
wait
