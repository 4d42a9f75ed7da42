#!/usr/bin/env bash
# WebSocket fan-out beside SSE: one event to N subscribers of one server process, for
# Quorum's two transports and python-socketio, in one run (issue 14's aims).
#
# For every N in $SUBS, one after the other on the same machine state, each server
# started fresh (one process, uvloop + httptools, the same listen backlog):
#   quorum-sse   `quorum serve` on PostgreSQL (database quorum_ws, seeded by
#                bench/votes/seed.py); client bench/fanout/client.py (the one run_fanout.sh
#                uses: bearer tokens, events are votes);
#   quorum-ws-raw  the same, over the WebSocket route with the same raw client (--ws):
#                the two transports compared with clients of the same weight (on 2 shared
#                cores a heavier client's CPU counts in the latency it measures);
#   quorum-ws    `quorum serve` on the same database; client ../shared/bench/fanout_ws_quorum.py
#                (unmodified: it registers its own users through the API, so the auth rate
#                limit is off and the per-user stream cap is raised, and opens every
#                WebSocket with one stream ticket);
#   socketio     ../shared/bench/peer_socketio.py (uvicorn --ws websockets); client
#                ../shared/bench/fanout_ws_socketio.py.
# $EVENTS events $GAP s apart; latency = receive time - the message's commit/publish time t.
# Every server gets a short warm-up (20 subscribers, one event) before it is measured.
# RSS per connection, idle: VmRSS once all N are connected and the server is idle (under
# 10 % of a core for a second) minus VmRSS before, over the connected clients; after
# events: the server's peak RSS (VmHWM) at the end minus VmRSS before, over the same.
# Argon2's memory cost is lowered to 1 MiB for the run: fanout_ws_quorum.py registers users,
# and each hash would otherwise raise the peak by 64 MiB. Raw outputs go to $OUT (default
# bench/out/ws-<time>/): results.jsonl, summary.md (the table), server logs.
#
#   bash bench/run_ws.sh                          # from the repository root
#   SUBS=200 ONLY="quorum-ws socketio" bash bench/run_ws.sh
#
# Settings (environment): SUBS ("1000 5000"), ONLY ("quorum-sse quorum-ws-raw quorum-ws socketio"),
# EVENTS (5), GAP (2.5 s), PROCS (2 client processes), MEMBERS (100), PROPOSALS (10),
# BACKLOG (4096), SHARED_BENCH (../shared/bench), OUT. Any QUORUM_* variable reaches Quorum
# (e.g. QUORUM_WS_PER_MESSAGE_DEFLATE=true).
# Needs: PostgreSQL at 127.0.0.1:5432 (user postgres, trust), uv; creates and drops the
# database quorum_ws; a hard open-files limit of at least N + a few hundred.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SUBS=${SUBS:-1000 5000}
ONLY=${ONLY:-quorum-sse quorum-ws-raw quorum-ws socketio}
EVENTS=${EVENTS:-5}
GAP=${GAP:-2.5}
PROCS=${PROCS:-2}
MEMBERS=${MEMBERS:-100}
PROPOSALS=${PROPOSALS:-10}
BACKLOG=${BACKLOG:-4096}
SHARED_BENCH=$(cd "${SHARED_BENCH:-$ROOT/../shared/bench}" && pwd)
OUT=${OUT:-bench/out/ws-$(date -u +%Y%m%dT%H%M%SZ)}
DB=quorum_ws
QUORUM_PORT=18060
SOCKETIO_PORT=18061
UV=(uv run --quiet --group bench)
export QUORUM_SECRET_KEY=${QUORUM_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')}
export QUORUM_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$DB"
export QUORUM_AUTH_RATE_LIMIT=${QUORUM_AUTH_RATE_LIMIT:-off}
export QUORUM_MAX_STREAMS_PER_USER=${QUORUM_MAX_STREAMS_PER_USER:-100000} # one ticket, N sockets
export QUORUM_ARGON2_MEMORY_COST_KIB=${QUORUM_ARGON2_MEMORY_COST_KIB:-1024}
export QUORUM_LISTEN_BACKLOG=${QUORUM_LISTEN_BACKLOG:-$BACKLOG}
export QUORUM_ACCESS_LOG=${QUORUM_ACCESS_LOG:-false}
ulimit -n "$(ulimit -Hn)"

mkdir -p "$OUT/data"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
source "$ROOT/bench/servers.sh" # start_server, stop_servers (on exit), log

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# measure LABEL N CLIENT...: the shared client against the server started last, with
# procstat.py watching for the idle RSS; appends one line to results.jsonl.
measure() {
	local label=$1 n=$2 watcher
	shift 2
	"$@" --subs 20 --events 1 --procs 1 >/dev/null # warm-up
	log "$label, $n subscribers: $* --subs $n --events $EVENTS --gap $GAP --procs $PROCS"
	"${UV[@]}" python bench/fanout/procstat.py watch "$SERVER_PID" "$n" "$OUT/$label-$n.rss.json" &
	watcher=$!
	"$@" --subs "$n" --events "$EVENTS" --gap "$GAP" --procs "$PROCS" >"$OUT/$label-$n.client.json"
	wait "$watcher" || true
	"${UV[@]}" python bench/ws/summarize.py line "$label" "$n" "$OUT/$label-$n.client.json" \
		"$OUT/$label-$n.rss.json" "$(hwm_kb "$SERVER_PID")" >>"$RESULTS"
	tail -1 "$RESULTS" >&2
}

# quorum_raw LABEL N ROUTE [CLIENT FLAGS...]: Quorum with bench/fanout/client.py's raw
# connections on the event's ROUTE (stream: SSE; ws with --ws: the WebSocket).
quorum_raw() {
	local label=$1 n=$2 route=$3 url=http://127.0.0.1:$QUORUM_PORT
	shift 3
	local client=("${UV[@]}" python bench/fanout/client.py --stream "$url/api/v1/events/$EVENT/$route"
		--tokens "$OUT/data/tokens.txt" --members "$MEMBERS" --vote "$url" --event "$EVENT"
		--proposals "$OUT/data/proposals.txt" --gap "$GAP" "$@")
	start_server "$label-$n" "$QUORUM_PORT" quorum serve --port "$QUORUM_PORT"
	"${client[@]}" --subs 20 --events 1 --drain 0.5 >/dev/null # warm-up
	log "$label, $n subscribers: ${client[*]} --subs $n --events $EVENTS --procs $PROCS"
	"${client[@]}" --subs "$n" --events "$EVENTS" --procs "$PROCS" --server-pid "$SERVER_PID" \
		>"$OUT/$label-$n.client.json"
	"${UV[@]}" python bench/ws/summarize.py line "$label" "$n" "$OUT/$label-$n.client.json" \
		- "$(hwm_kb "$SERVER_PID")" >>"$RESULTS"
	tail -1 "$RESULTS" >&2
	stop_servers
}

{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc=$(nproc)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
	echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GB"}')"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "postgres=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version' | cut -d' ' -f1)"
	echo "python=$("${UV[@]}" python -c 'import platform; print(platform.python_version())')"
	echo "git=$(git rev-parse --short HEAD)$(git diff --quiet -- quorum || echo '+changes')"
	echo "command=SUBS=\"$SUBS\" ONLY=\"$ONLY\" EVENTS=$EVENTS GAP=$GAP PROCS=$PROCS bash bench/run_ws.sh"
} >"$OUT/meta.env"

log "seeding $DB: $MEMBERS members, $PROPOSALS proposals, one event"
"${UV[@]}" python bench/votes/seed.py "$DB" "$OUT/data" --users "$MEMBERS" \
	--proposals "$PROPOSALS" | tee "$OUT/seed.json" >&2
EVENT=$(cat "$OUT/data/event.txt")

for n in $SUBS; do
	for what in $ONLY; do
		case $what in
		quorum-sse) quorum_raw quorum-sse "$n" stream ;;
		quorum-ws-raw) quorum_raw quorum-ws-raw "$n" ws --ws ;;
		quorum-ws)
			start_server "quorum-ws-$n" "$QUORUM_PORT" quorum serve --port "$QUORUM_PORT"
			measure quorum-ws "$n" "${UV[@]}" python "$SHARED_BENCH/fanout_ws_quorum.py" \
				--base "http://127.0.0.1:$QUORUM_PORT"
			stop_servers
			;;
		socketio)
			start_server "socketio-$n" "$SOCKETIO_PORT" uvicorn --app-dir "$SHARED_BENCH" \
				peer_socketio:app --port "$SOCKETIO_PORT" --host 127.0.0.1 --loop uvloop \
				--http httptools --ws websockets --no-access-log --backlog "$BACKLOG"
			measure python-socketio "$n" "${UV[@]}" python "$SHARED_BENCH/fanout_ws_socketio.py" \
				--base "http://127.0.0.1:$SOCKETIO_PORT"
			stop_servers
			;;
		*) echo "unknown: $what" >&2 ;;
		esac
	done
done

log "summary ($OUT/summary.md)"
"${UV[@]}" python bench/ws/summarize.py table "$OUT" | tee "$OUT/summary.md"
