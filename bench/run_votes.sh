#!/usr/bin/env bash
# Write-path benchmark: 100 concurrent users voting (and commenting) on one hot event.
#
# In one run, with the same load tool and settings (wrk -t1 -c100 -d30s --latency):
#   1. Quorum (one uvicorn process, uvloop + httptools) on a fresh PostgreSQL database
#      seeded by bench/votes/seed.py: "mixed" = 4 votes to 1 comment, then "votes" =
#      votes only (the references' workload); then, with SCALE=1 (the default), the
#      scale-out phase "quorum-${WORKERS}workers": the same server with uvicorn --workers
#      $WORKERS on the same database, votes only (its CPU summed over the supervisor and
#      its workers); then the invariant check on its database;
#   2. the seeds' sync design   (../shared/bench/peer_seed004_votes.py) on a fresh "bench" db;
#   3. raw asyncpg, the floor   (../shared/bench/limit_votes_asyncpg.py) on a fresh "bench" db.
# Each server gets a short warm-up first (Quorum also every token used once: bench/votes/
# warm_tokens.py) and a CHECKPOINT before it is measured.
# Raw outputs go to $OUT (default bench/out/votes-<time>/), the table to $OUT/summary.md.
#
#   bash bench/run_votes.sh                  # from the repository root
#   DURATION=15s ONLY=quorum PROFILE=1 bash bench/run_votes.sh
#
# Settings (environment): DURATION (30s), WARMUP (5s), CONNECTIONS (100), TIMEOUT (10s: wrk's
# default of 2 s would drop the slowest responses from the latency figures), USERS (10000),
# PROPOSALS (1000), COMMENT_EVERY (5), SHARED_BENCH (../shared/bench), OUT, ONLY
# (space-separated subset of "quorum seeds asyncpg"), BENCH_QUORUM_DB (quorum_bench) and
# BENCH_QUORUM_PORT (18020) for runs side by side, PROFILE=1 or py-spy (adds a phase with
# Quorum sampled by py-spy, summarised by bench/votes/profile_summary.py; not counted in the
# table), PROFILE=pyinstrument (the same under pyinstrument, far more intrusive), SCALE (1:
# the scale-out phase; 0: none), WORKERS (2: its worker processes).
# Needs: PostgreSQL at 127.0.0.1:5432 (user postgres, trust), wrk, uv; creates and drops
# the databases quorum_bench and bench.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if ! command -v wrk >/dev/null; then  # Debian's package; the machines here start without it
  echo "wrk is missing: installing it (apt-get install wrk)" >&2
  apt-get install -y -qq wrk >/dev/null
fi
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-5s}
CONNECTIONS=${CONNECTIONS:-100}
USERS=${USERS:-10000}
PROPOSALS=${PROPOSALS:-1000}
COMMENT_EVERY=${COMMENT_EVERY:-5}
SHARED_BENCH=$(cd "${SHARED_BENCH:-$ROOT/../shared/bench}" && pwd)
OUT=${OUT:-bench/out/votes-$(date -u +%Y%m%dT%H%M%SZ)}
ONLY=${ONLY:-quorum seeds asyncpg}
PROFILE=${PROFILE:-0}
SCALE=${SCALE:-1}
WORKERS=${WORKERS:-2}
PG=(-h 127.0.0.1 -p 5432 -U postgres)
QUORUM_DB=${BENCH_QUORUM_DB:-quorum_bench}
REFERENCE_DB=bench # fixed by the reference servers
QUORUM_PORT=${BENCH_QUORUM_PORT:-18020}
SEEDS_PORT=18010
ASYNCPG_PORT=18011
UVICORN_FLAGS=(--host 127.0.0.1 --loop uvloop --http httptools --no-access-log)
WRK=(wrk -t1 "-c$CONNECTIONS" --latency --timeout "${TIMEOUT:-10s}")
UV=(uv run --quiet --group bench)
export QUORUM_SECRET_KEY=${QUORUM_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')}

mkdir -p "$OUT/data"
: >"$OUT/phases.txt"
source "$ROOT/bench/servers.sh" # start_server, stop_servers (on exit), log

# serve NAME PORT UVICORN_ARGS...: `uv run uvicorn ...` on PORT with this script's flags.
serve() {
	local name=$1 port=$2
	shift 2
	start_server "$name" "$port" "$@" --port "$port" "${UVICORN_FLAGS[@]}"
}

# seconds 30s|2m|45 -> 30|120|45 (wrk's duration syntax, the units this script uses)
seconds() {
	case $1 in
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

# measure PHASE SERVER SCENARIO CHECK URL SCRIPT [SCRIPT_ARGS...]
measure() {
	local phase=$1 server=$2 scenario=$3 check=$4 url=$5 script=$6
	shift 6
	local args=()
	[[ $# -gt 0 ]] && args=(-- "$@")
	log "$phase: warm-up $WARMUP"
	"${WRK[@]}" "-d$WARMUP" -s "$script" "$url" "${args[@]}" >"$OUT/$phase.warmup.txt"
	psql "${PG[@]}" -q -c CHECKPOINT
	log "$phase: ${WRK[*]} -d$DURATION -s $script $url ${args[*]}"
	local db=$REFERENCE_DB
	[[ $check == quorum ]] && db=$QUORUM_DB
	"${UV[@]}" python bench/votes/pgwait.py "$db" "$(($(seconds "$DURATION") - 2))" \
		>"$OUT/$phase.pgwait.json" &
	local sampler=$!
	"${UV[@]}" python bench/votes/cpu.py "$SERVER_PID" >"$OUT/$phase.cpu-before.json"
	local TIMEFORMAT="%U %S %R"
	{ time "${WRK[@]}" "-d$DURATION" -s "$script" "$url" "${args[@]}" >"$OUT/$phase.wrk.txt"; } \
		2>"$OUT/$phase.wrk-time.txt"
	"${UV[@]}" python bench/votes/cpu.py "$SERVER_PID" >"$OUT/$phase.cpu-after.json"
	wait "$sampler" || true
	grep -E 'Requests/sec|Non-2xx|Socket|  (50|99)%' "$OUT/$phase.wrk.txt" >&2 || true
	echo "$phase $server $scenario $check" >>"$OUT/phases.txt"
}

reference_db() {
	psql "${PG[@]}" -q -d postgres -c "DROP DATABASE IF EXISTS $REFERENCE_DB WITH (FORCE)" \
		-c "CREATE DATABASE $REFERENCE_DB"
	psql "${PG[@]}" -q -d "$REFERENCE_DB" -v ON_ERROR_STOP=1 -f "$SHARED_BENCH/votes_schema.sql"
}

{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc=$(nproc)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
	echo "postgres=$(psql "${PG[@]}" -Atc 'SHOW server_version' | cut -d' ' -f1 | sed 's/^/PostgreSQL /')"
	echo "wrk=$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "python=$("${UV[@]}" python -c 'import platform; print(platform.python_version())')"
	echo "git=$(git rev-parse --short HEAD)$(git diff --quiet -- quorum || echo '+changes')"
	echo "command=SCALE=$SCALE WORKERS=$WORKERS bash bench/run_votes.sh  # each server: ${WRK[*]} -d$DURATION after a $WARMUP warm-up"
} >"$OUT/meta.env"

if [[ " $ONLY " == *" quorum "* ]]; then
	log "seeding $QUORUM_DB: $USERS members, $PROPOSALS proposals, one event"
	"${UV[@]}" python bench/votes/seed.py "$QUORUM_DB" "$OUT/data" \
		--users "$USERS" --proposals "$PROPOSALS" | tee "$OUT/seed.json" >&2
	export QUORUM_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$QUORUM_DB"
	serve quorum "$QUORUM_PORT" uvicorn quorum.app:create_app --factory
	url=http://127.0.0.1:$QUORUM_PORT
	"${UV[@]}" python bench/votes/warm_tokens.py "$url" "$OUT/data"
	measure quorum-mixed quorum "mixed-1:$((COMMENT_EVERY - 1))" quorum \
		"$url" bench/votes/quorum.lua "$OUT/data" "$COMMENT_EVERY"
	measure quorum-votes quorum votes-only quorum "$url" bench/votes/quorum.lua "$OUT/data" 0
	stop_servers
	if [[ $SCALE == 1 ]]; then
		# How throughput grows with processes on the same database, and where it stops.
		serve "quorum-${WORKERS}workers" "$QUORUM_PORT" uvicorn quorum.app:create_app \
			--factory --workers "$WORKERS"
		"${UV[@]}" python bench/votes/warm_tokens.py "$url" "$OUT/data" # each worker sees some
		measure "quorum-${WORKERS}workers" "quorum-${WORKERS}-workers" votes-only quorum "$url" \
			bench/votes/quorum.lua "$OUT/data" 0
		stop_servers
	fi
	if [[ $PROFILE == 1 || $PROFILE == py-spy ]]; then
		# py-spy samples the server from outside: it costs a share of a core, not the
		# server's own time. The profiled phase is not a result.
		serve quorum-profiled "$QUORUM_PORT" uvicorn quorum.app:create_app --factory
		"${UV[@]}" py-spy record --pid "$SERVER_PID" --nonblocking --rate 250 --format raw \
			--duration "$(($(seconds "$WARMUP") + $(seconds "$DURATION")))" \
			-o "$OUT/quorum-profile.raw" >"$OUT/py-spy.log" 2>&1 &
		spy=$!
		measure quorum-profiled quorum-py-spy mixed quorum \
			"$url" bench/votes/quorum.lua "$OUT/data" "$COMMENT_EVERY"
		sed -i '$d' "$OUT/phases.txt"
		wait "$spy" || true
		stop_servers
		"${UV[@]}" python bench/votes/profile_summary.py "$OUT/quorum-profile.raw" \
			>"$OUT/quorum-profile.txt"
		log "profile: $OUT/quorum-profile.txt"
	elif [[ $PROFILE == pyinstrument ]]; then
		# pyinstrument hooks every call: it slows this code several times over.
		serve quorum-profiled "$QUORUM_PORT" python -m pyinstrument -r pyisession \
			-o "$OUT/quorum.pyisession" -m uvicorn quorum.app:create_app --factory
		measure quorum-profiled quorum-pyinstrument mixed quorum \
			"$url" bench/votes/quorum.lua "$OUT/data" "$COMMENT_EVERY"
		sed -i '$d' "$OUT/phases.txt"
		stop_servers
		"${UV[@]}" pyinstrument --load "$OUT/quorum.pyisession" -r text -o "$OUT/quorum-profile.txt"
		"${UV[@]}" pyinstrument --load "$OUT/quorum.pyisession" -r html -o "$OUT/quorum-profile.html"
		log "profile: $OUT/quorum-profile.txt and .html"
	fi
	log "invariants of $QUORUM_DB"
	"${UV[@]}" python bench/votes/check.py "$QUORUM_DB" | tee "$OUT/check-quorum.json" >&2 ||
		echo "INVARIANTS BROKEN" >&2
fi

if [[ " $ONLY " == *" seeds "* ]]; then
	reference_db
	serve seeds "$SEEDS_PORT" uvicorn --app-dir "$SHARED_BENCH" peer_seed004_votes:app
	measure seeds seeds-sync votes-only seeds "http://127.0.0.1:$SEEDS_PORT" bench/votes/reference.lua
	stop_servers
	"${UV[@]}" python bench/votes/check.py "$REFERENCE_DB" --reference >"$OUT/check-seeds.json" || true
fi

if [[ " $ONLY " == *" asyncpg "* ]]; then
	reference_db
	serve asyncpg "$ASYNCPG_PORT" uvicorn --app-dir "$SHARED_BENCH" limit_votes_asyncpg:app
	measure asyncpg asyncpg votes-only asyncpg "http://127.0.0.1:$ASYNCPG_PORT" bench/votes/reference.lua
	stop_servers
	"${UV[@]}" python bench/votes/check.py "$REFERENCE_DB" --reference >"$OUT/check-asyncpg.json" || true
fi

log "summary ($OUT/summary.md)"
"${UV[@]}" python bench/votes/summarize.py "$OUT"
