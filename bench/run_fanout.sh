#!/usr/bin/env bash
# Fan-out benchmark: one event to N SSE subscribers of one server process.
#
# In one run, for every N in $SUBS (1,000, 5,000 and 10,000), one after the other on the
# same machine state:
#   quorum    Quorum (one uvicorn process, uvloop + httptools) on PostgreSQL, seeded by
#             bench/votes/seed.py; subscribers are members with bearer tokens, events are
#             votes; client: bench/fanout/client.py (raw asyncio, 2 processes);
#   seeds     the seeds' design (../shared/bench/peer_seed002.py: a queue and json.dumps
#             per connection, StreamingResponse);
#   starlette plain sse-starlette (../shared/bench/peer_ssestarlette.py);
#   raw       raw asyncio transports (../shared/bench/limit_raw.py): the practical floor;
#             the three references measured with the unmodified ../shared/bench/fanout.py;
#   quorum-gc (not by default) an experiment: Quorum with the cyclic garbage collector's
#             thresholds raised to $GC_THRESHOLDS (bench/fanout/gc_uvicorn.py);
#   polling   at N = $POLL_SUBS only: the seeds' other design, every connection polling
#             PostgreSQL once a second (bench/fanout/peer_polling.py) on Quorum's database,
#             the votes cast through Quorum; with Quorum's own run at that N, the
#             database's transactions per second (pg_stat_database) over the window.
# Every server is started fresh for each N, warmed up with a few subscribers and one
# event, and measured only while no write-path benchmark (run_votes.sh, wrk) runs.
# RSS per connection: the server's VmRSS once all N are connected and it is idle, minus
# VmRSS before they connected, over N. Raw outputs go to $OUT (default
# bench/out/fanout-<time>/): results.jsonl, summary.md (the table), server logs.
#
#   bash bench/run_fanout.sh                       # from the repository root
#   SUBS=1000 ONLY="quorum raw" bash bench/run_fanout.sh
#   PROFILE=1 bash bench/run_fanout.sh             # + py-spy on Quorum, not in the table
#
# Settings (environment): SUBS ("1000 5000 10000"), ONLY ("quorum seeds starlette raw
# polling"), EVENTS (5), GAP (2.5 s), PROCS (2 client processes), MEMBERS (100: subscriber
# i is member i mod MEMBERS), PROPOSALS (10), MAX_STREAMS (100, Quorum's per-user stream
# cap, default 10: MEMBERS x MAX_STREAMS must cover the largest N), POLL_SUBS (1000),
# GC_THRESHOLDS (50000,20,100, for quorum-gc), PROFILE (0), SHARED_BENCH (../shared/bench), OUT.
# Needs: PostgreSQL at 127.0.0.1:5432 (user postgres, trust), uv; creates and drops the
# database quorum_fanout; a hard open-files limit of at least N + a few hundred.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SUBS=${SUBS:-1000 5000 10000}
ONLY=${ONLY:-quorum seeds starlette raw polling}
EVENTS=${EVENTS:-5}
GAP=${GAP:-2.5}
PROCS=${PROCS:-2}
MEMBERS=${MEMBERS:-100}
PROPOSALS=${PROPOSALS:-10}
MAX_STREAMS=${MAX_STREAMS:-100}
POLL_SUBS=${POLL_SUBS:-1000}
GC_THRESHOLDS=${GC_THRESHOLDS:-50000,20,100}
PROFILE=${PROFILE:-0}
SHARED_BENCH=$(cd "${SHARED_BENCH:-$ROOT/../shared/bench}" && pwd)
OUT=${OUT:-bench/out/fanout-$(date -u +%Y%m%dT%H%M%SZ)}
DB=quorum_fanout
QUORUM_PORT=18040
POLLING_PORT=18041
SEEDS_PORT=18042
RAW_PORT=18043
STARLETTE_PORT=18044
UVICORN_FLAGS=(--host 127.0.0.1 --loop uvloop --http httptools --no-access-log)
UV=(uv run --quiet --group bench)
CLIENT=("${UV[@]}" python bench/fanout/client.py --events "$EVENTS" --gap "$GAP" --procs "$PROCS")
export QUORUM_SECRET_KEY=${QUORUM_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')}
export QUORUM_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$DB"
export QUORUM_MAX_STREAMS_PER_USER=$MAX_STREAMS
export QUORUM_FANOUT_PG="postgresql://postgres@127.0.0.1:5432/$DB"
ulimit -n "$(ulimit -Hn)"

mkdir -p "$OUT/data"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
source "$ROOT/bench/servers.sh" # start_server, stop_servers (on exit), log

# Never measure while the write-path benchmark runs: both want the 2 cores.
wait_quiet() {
	local said=0
	while pgrep -f run_votes.sh >/dev/null || pgrep -x wrk >/dev/null; do
		[[ $said == 1 ]] || log "waiting for the write-path benchmark (run_votes.sh / wrk) to end"
		said=1
		sleep 5
	done
}

# After a measurement: note it if the write-path benchmark started meanwhile.
check_quiet() {
	if pgrep -f run_votes.sh >/dev/null || pgrep -x wrk >/dev/null; then
		echo "$1: run_votes.sh or wrk was running at the end of the measurement" | tee -a "$OUT/overlaps.txt" >&2
	fi
}

quorum_client() { # quorum_client STREAM_BASE VOTE_BASE ARGS...
	local stream=$1 vote=$2
	shift 2
	"${CLIENT[@]}" --stream "$stream/api/v1/events/$EVENT/stream" --tokens "$OUT/data/tokens.txt" \
		--members "$MEMBERS" --vote "$vote" --event "$EVENT" --proposals "$OUT/data/proposals.txt" "$@"
}

run_quorum() { # run_quorum N [LABEL]; LABEL quorum-gc: the garbage-collector experiment
	local n=$1 label=${2:-quorum} url=http://127.0.0.1:$QUORUM_PORT db_args=() server
	if [[ $n == "$POLL_SUBS" ]]; then db_args=(--pg-db "$DB"); fi
	server=(uvicorn)
	if [[ $label == quorum-gc ]]; then
		server=(env "QUORUM_BENCH_GC=$GC_THRESHOLDS" python bench/fanout/gc_uvicorn.py)
	fi
	start_server "$label-$n" "$QUORUM_PORT" "${server[@]}" quorum.app:create_app --factory \
		--port "$QUORUM_PORT" "${UVICORN_FLAGS[@]}"
	quorum_client "$url" "$url" --subs 20 --events 1 --gap 0.5 --drain 0.5 >/dev/null # warm-up
	wait_quiet
	log "$label, $n subscribers"
	quorum_client "$url" "$url" --subs "$n" --server-pid "$SERVER_PID" "${db_args[@]}" \
		--label "$label" --out "$RESULTS"
	check_quiet "$label-$n"
	if [[ $PROFILE == 1 && $label == quorum && $n == "${SUBS##* }" ]]; then
		wait_quiet
		log "quorum, $n subscribers, under py-spy (not in the table)"
		quorum_client "$url" "$url" --subs "$n" --events 8 --gap 2.5 \
			--on-ready "${UV[*]} py-spy record --native -r 200 -d $((8 * ${GAP%.*} + 8)) -f raw \
				-o $OUT/quorum-$n.pyspy.txt --pid $SERVER_PID" >"$OUT/quorum-$n.profiled.json"
		"${UV[@]}" python bench/fanout/pyspy_top.py "$OUT/quorum-$n.pyspy.txt" \
			>"$OUT/quorum-$n.pyspy-top.txt"
	fi
	stop_servers
}

run_polling() {
	local n=$1 quorum=http://127.0.0.1:$QUORUM_PORT peer=http://127.0.0.1:$POLLING_PORT
	start_server polling-quorum "$QUORUM_PORT" uvicorn quorum.app:create_app --factory \
		--port "$QUORUM_PORT" "${UVICORN_FLAGS[@]}" # casts the votes, has no subscriber
	start_server "polling-$n" "$POLLING_PORT" uvicorn --app-dir bench/fanout peer_polling:app \
		--port "$POLLING_PORT" "${UVICORN_FLAGS[@]}"
	local peer_pid=$SERVER_PID
	quorum_client "$peer" "$quorum" --subs 20 --events 1 --gap 1.5 --drain 1 >/dev/null
	wait_quiet
	log "polling peer, $n subscribers"
	quorum_client "$peer" "$quorum" --subs "$n" --server-pid "$peer_pid" --pg-db "$DB" \
		--queries-url "$peer/stats" --label polling --out "$RESULTS"
	check_quiet "polling-$n"
	stop_servers
}

run_reference() { # run_reference LABEL PORT N COMMAND...
	local label=$1 port=$2 n=$3 url
	shift 3
	url=http://127.0.0.1:$port
	start_server "$label-$n" "$port" "$@"
	local fanout=("${UV[@]}" python "$SHARED_BENCH/fanout.py" --stream "$url/stream"
		--publish "$url/publish/{n}" --procs "$PROCS")
	"${fanout[@]}" --subs 20 --events 1 --gap 0.5 >/dev/null # warm-up
	wait_quiet
	log "$label, $n subscribers: ${fanout[*]} --subs $n --events $EVENTS --gap $GAP"
	"${UV[@]}" python bench/fanout/procstat.py watch "$SERVER_PID" "$n" "$OUT/$label-$n.rss.json" &
	local watcher=$!
	# fanout.py publishes --settle seconds after its last request is written: leave the
	# server time to take every subscriber, and the watcher to see it idle, before that.
	"${fanout[@]}" --subs "$n" --events "$EVENTS" --gap "$GAP" --settle $((3 + n / 1000)) \
		>"$OUT/$label-$n.fanout.json"
	check_quiet "$label-$n"
	wait "$watcher" || true
	"${UV[@]}" python bench/fanout/summarize.py merge "$label" "$n" "$OUT/$label-$n.fanout.json" \
		"$OUT/$label-$n.rss.json" >>"$RESULTS"
	tail -1 "$RESULTS" >&2
	stop_servers
}

{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc=$(nproc)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
	echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GB"}')"
	echo "postgres=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version' | cut -d' ' -f1)"
	echo "python=$("${UV[@]}" python -c 'import platform; print(platform.python_version())')"
	echo "nofile=$(ulimit -n)"
	echo "git=$(git rev-parse --short HEAD)$(git diff --quiet -- quorum || echo '+changes')"
	echo "command=SUBS=\"$SUBS\" ONLY=\"$ONLY\" EVENTS=$EVENTS GAP=$GAP PROCS=$PROCS bash bench/run_fanout.sh"
} >"$OUT/meta.env"

log "seeding $DB: $MEMBERS members, $PROPOSALS proposals, one event"
"${UV[@]}" python bench/votes/seed.py "$DB" "$OUT/data" --users "$MEMBERS" \
	--proposals "$PROPOSALS" | tee "$OUT/seed.json" >&2
EVENT=$(cat "$OUT/data/event.txt")

for n in $SUBS; do
	for what in $ONLY; do
		case $what in
		quorum) run_quorum "$n" ;;
		quorum-gc) run_quorum "$n" quorum-gc ;;
		polling) if [[ $n == "$POLL_SUBS" ]]; then run_polling "$n"; fi ;;
		seeds)
			run_reference seeds "$SEEDS_PORT" "$n" uvicorn --app-dir "$SHARED_BENCH" peer_seed002:app \
				--port "$SEEDS_PORT" "${UVICORN_FLAGS[@]}"
			;;
		starlette)
			run_reference sse-starlette "$STARLETTE_PORT" "$n" uvicorn --app-dir "$SHARED_BENCH" \
				peer_ssestarlette:app --port "$STARLETTE_PORT" "${UVICORN_FLAGS[@]}"
			;;
		raw) run_reference raw "$RAW_PORT" "$n" python "$SHARED_BENCH/limit_raw.py" "$RAW_PORT" ;;
		*) echo "unknown: $what" >&2 ;;
		esac
	done
done

log "summary ($OUT/summary.md)"
"${UV[@]}" python bench/fanout/summarize.py table "$OUT" | tee "$OUT/summary.md"
