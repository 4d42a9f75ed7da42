#!/usr/bin/env bash
# The database's cost of Quorum's vote statements alone, with pgbench: no Python server in
# the loop, side by side with the floor's SQL on the same machine state.
#
# In one run:
#   1. seeds $DATABASE (bench/votes/seed.py: one OPEN event, $USERS members, $PROPOSALS
#      proposals) and the floor's $FLOOR_DATABASE (../shared/bench/votes_schema.sql);
#   2. writes the pgbench scripts from the statements as compiled now
#      (bench/votes/pgbench_scripts.py: at_once.VOTE, batched.BATCH);
#   3. at each client count of $CLIENTS: the floor's transaction (limit_votes_asyncpg.py's
#      four statements in BEGIN/COMMIT), Quorum's VOTE, and VOTE's lookup line alone; then,
#      at one client (one batch per event is in flight), BATCH with B ballots for each B of
#      $BATCHES, and its lookup alone. Each phase: CHECKPOINT, then
#      pgbench -n -M prepared -c C -j min(C, 2) -T $DURATION (bench/votes/pgbench_measure.py,
#      which fails on any pgbench error or a phase that wrote too few votes);
#   4. checks the invariants of both databases (bench/votes/check.py) and prints the table
#      (also $OUT/summary.md); drops both databases unless KEEP=1.
#
#   bash bench/votes/statement.sh               # from the repository root; about 3 minutes
#   DURATION=30 CLIENTS="1 2 10 30" BATCHES="1 5 20 50" bash bench/votes/statement.sh
#
# Settings (environment): DURATION (15, seconds per phase), CLIENTS ("2 30"), BATCHES
# ("5 20"), DATABASE (quorum_pgbench), FLOOR_DATABASE (pgbench_floor), USERS (10000),
# PROPOSALS (1000), KEEP (0), PLAN_CACHE (empty: the server's plan_cache_mode, auto, as the
# app runs; force_custom_plan or force_generic_plan to compare), PGBENCH (pgbench),
# SHARED_BENCH (../shared/bench), OUT (bench/out/statement-<UTC time>).
# Needs: PostgreSQL at 127.0.0.1:5432 on this machine (user postgres, trust; its CPU is read
# from /proc), pgbench, uv.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-15}
CLIENTS=${CLIENTS:-2 30}
BATCHES=${BATCHES:-5 20}
DATABASE=${DATABASE:-quorum_pgbench}
FLOOR_DATABASE=${FLOOR_DATABASE:-pgbench_floor}
USERS=${USERS:-10000}
PROPOSALS=${PROPOSALS:-1000}
KEEP=${KEEP:-0}
SHARED_BENCH=$(cd "${SHARED_BENCH:-$ROOT/../shared/bench}" && pwd)
OUT=${OUT:-bench/out/statement-$(date -u +%Y%m%dT%H%M%SZ)}
PG=(-h 127.0.0.1 -p 5432 -U postgres)
UV=(uv run --quiet --group bench)
export PGBENCH=${PGBENCH:-pgbench}
export QUORUM_SECRET_KEY=${QUORUM_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')}
if [[ -n ${PLAN_CACHE:-} ]]; then
	export PGOPTIONS="${PGOPTIONS:-} -c plan_cache_mode=$PLAN_CACHE"
fi
case $DATABASE$FLOOR_DATABASE in *[!a-z0-9_]*)
	echo "database names: lower-case letters, digits and _ only" >&2
	exit 1
	;;
esac

log() { printf '== %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

drop_databases() {
	[[ $KEEP == 1 ]] && return
	psql "${PG[@]}" -q -d postgres -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS $FLOOR_DATABASE WITH (FORCE)" || true
}
trap drop_databases EXIT

mkdir -p "$OUT/data"
: >"$OUT/rows.jsonl"
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc: $(nproc)"
	echo "postgres: $(psql "${PG[@]}" -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1)"
	echo "pgbench: $("$PGBENCH" --version | cut -d' ' -f3)"
	echo "git: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- quorum bench || echo '+changes')"
	echo "command: DURATION=$DURATION CLIENTS=\"$CLIENTS\" BATCHES=\"$BATCHES\"${PLAN_CACHE:+ PLAN_CACHE=$PLAN_CACHE} bash bench/votes/statement.sh"
} >"$OUT/meta.txt"

log "seeding $DATABASE: $USERS members, $PROPOSALS proposals, one event"
"${UV[@]}" python bench/votes/seed.py "$DATABASE" "$OUT/data" \
	--users "$USERS" --proposals "$PROPOSALS" >"$OUT/seed.json"
# shellcheck disable=SC2086 # BATCHES is a list
"${UV[@]}" python bench/votes/pgbench_scripts.py "$DATABASE" "$(cat "$OUT/data/event.txt")" \
	"$OUT" --batches $BATCHES >&2
log "creating $FLOOR_DATABASE"
psql "${PG[@]}" -q -d postgres -c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $FLOOR_DATABASE WITH (FORCE)" \
	-c "CREATE DATABASE $FLOOR_DATABASE"
psql "${PG[@]}" -q -d "$FLOOR_DATABASE" -v ON_ERROR_STOP=1 -f "$SHARED_BENCH/votes_schema.sql"

# measure [--lookup] LABEL DATABASE SCRIPT CLIENTS VOTES_PER_TRANSACTION
measure() {
	local flag=()
	[[ $1 == --lookup ]] && flag=(--lookup) && shift
	log "$1, $4 clients, ${DURATION}s"
	"${UV[@]}" python bench/votes/pgbench_measure.py run "${flag[@]}" "$OUT" "$1" "$2" \
		"$OUT/$3.pgb" "$4" "$DURATION" "$5"
}

for clients in $CLIENTS; do
	measure "floor (4 statements, BEGIN/COMMIT)" "$FLOOR_DATABASE" floor "$clients" 1
	measure "VOTE" "$DATABASE" vote "$clients" 1
	measure --lookup "VOTE's lookup alone" "$DATABASE" lookup-vote "$clients" 1
done
for size in $BATCHES; do
	measure "BATCH, B=$size" "$DATABASE" "batch$size" 1 "$size"
	measure --lookup "BATCH's lookup alone, B=$size" "$DATABASE" "lookup-batch$size" 1 "$size"
done

log "invariants"
for db in "$DATABASE" "$FLOOR_DATABASE"; do
	flag=()
	[[ $db == "$FLOOR_DATABASE" ]] && flag=(--reference)
	"${UV[@]}" python bench/votes/check.py "$db" "${flag[@]}" >"$OUT/check-$db.json" || {
		echo "INVARIANTS BROKEN in $db: $OUT/check-$db.json" >&2
		exit 1
	}
done

{
	cat "$OUT/meta.txt"
	echo
	"${UV[@]}" python bench/votes/pgbench_measure.py table "$OUT"
} | tee "$OUT/summary.md"
