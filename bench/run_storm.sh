#!/usr/bin/env bash
# Reconnect storm: every client of a server comes back within one second (after a deploy
# or a crash), each resuming a few entries back, while votes are cast and the API is probed.
#
# In one run, one server at a time on the same machine state:
#   quorum    one `quorum serve` process on a fresh PostgreSQL database seeded by
#             bench/votes/seed.py (one OPEN event with $MEMBERS members, $PROPOSALS
#             proposals and $LOG logged votes: its log); $N SSE and $N WebSocket clients,
#             each with a member's bearer token and Last-Event-ID / ?last_event_id= 1..$BACK
#             entries behind the log's head; $VOTES votes cast during the storm; the API
#             probed with GET /api/v1/events/{id} $PROBE_RATE times a second, from
#             $PROBE_BEFORE s before the storm to its end;
#   seeds     the seeds' SSE design (../shared/bench/peer_seed002.py): $PEER_N SSE clients.
#             It has no Last-Event-ID: its clients connect without a position and must get
#             every entry published (POST /publish/n) after they connected; the probe
#             GETs its /count;
#   socketio  python-socketio (../shared/bench/peer_socketio.py): $PEER_N Socket.IO clients
#             over WebSocket; its reconnect has no resume either; it has no GET route, so
#             no probe.
# Client: bench/storm/client.py in $PROCS processes on this machine: on a 2-core machine the
# clients compete with the server for the cores, which the figures include.
# Refused clients (503 streams_full / 429 with Retry-After, close 1013) retry after the
# Retry-After (drawn at random by the server), as docs/realtime.md tells clients to; every
# refusal is counted.
# The servers get the same listen backlog ($BACKLOG, Quorum's default). Raw outputs go to
# $OUT (default bench/out/storm-<time>/): results.jsonl, summary.md (the table), logs.
#
#   bash bench/run_storm.sh                             # from the repository root
#   N=200 PEER_N=400 ONLY="quorum seeds" bash bench/run_storm.sh
#
# Settings (environment): N (5000 per transport), PEER_N (2 x N: as many connections as
# Quorum's two transports together), ONLY ("quorum seeds socketio"), MEMBERS (1000: client i
# uses member i mod MEMBERS; Quorum's per-user stream cap is raised to cover 2 x N),
# PROPOSALS (10), LOG (50 votes in the log before the storm), BACK (5), SPREAD (1 s),
# PROCS (4 client processes), VOTES (5 live entries), VOTE_GAP (0.5 s), PROBE_RATE (10/s),
# PROBE_BEFORE (5 s), DEADLINE (120 s after the storm's start at most), RETRIES (10),
# BACKLOG (4096), PGWAIT (PROBE_BEFORE + 20 s of pg_stat_activity samples from the probe's
# start, bench/votes/pgwait.py), SHARED_BENCH (../shared/bench), OUT. Any QUORUM_* variable reaches the
# Quorum server (e.g. QUORUM_MAX_STREAMS=3000 to see refusals).
# Needs: PostgreSQL at 127.0.0.1:5432 (user postgres, trust), uv; creates and drops the
# database quorum_storm; a hard open-files limit of at least 2 x N + a few hundred.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${N:-5000}
PEER_N=${PEER_N:-$((2 * N))}
ONLY=${ONLY:-quorum seeds socketio}
MEMBERS=${MEMBERS:-1000}
PROPOSALS=${PROPOSALS:-10}
LOG=${LOG:-50}
BACK=${BACK:-5}
SPREAD=${SPREAD:-1}
PROCS=${PROCS:-4}
VOTES=${VOTES:-5}
VOTE_GAP=${VOTE_GAP:-0.5}
PROBE_RATE=${PROBE_RATE:-10}
PROBE_BEFORE=${PROBE_BEFORE:-5}
DEADLINE=${DEADLINE:-120}
RETRIES=${RETRIES:-10}
PGWAIT=${PGWAIT:-$((PROBE_BEFORE + 20))}
BACKLOG=${BACKLOG:-4096}
SHARED_BENCH=$(cd "${SHARED_BENCH:-$ROOT/../shared/bench}" && pwd)
OUT=${OUT:-bench/out/storm-$(date -u +%Y%m%dT%H%M%SZ)}
DB=quorum_storm
QUORUM_PORT=18050
SEEDS_PORT=18051
SOCKETIO_PORT=18052
UVICORN_FLAGS=(--host 127.0.0.1 --loop uvloop --http httptools --no-access-log --backlog "$BACKLOG")
UV=(uv run --quiet --group bench)
CLIENT=("${UV[@]}" python bench/storm/client.py --back "$BACK" --spread "$SPREAD" --procs "$PROCS"
	--votes "$VOTES" --vote-gap "$VOTE_GAP" --probe-rate "$PROBE_RATE" --probe-before "$PROBE_BEFORE"
	--deadline "$DEADLINE" --retries "$RETRIES")
export QUORUM_SECRET_KEY=${QUORUM_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')}
export QUORUM_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$DB"
export QUORUM_AUTH_RATE_LIMIT=${QUORUM_AUTH_RATE_LIMIT:-off}
export QUORUM_MAX_STREAMS_PER_USER=${QUORUM_MAX_STREAMS_PER_USER:-$(((2 * N + MEMBERS - 1) / MEMBERS + 1))}
export QUORUM_LISTEN_BACKLOG=${QUORUM_LISTEN_BACKLOG:-$BACKLOG}
export QUORUM_ACCESS_LOG=${QUORUM_ACCESS_LOG:-false} # 10,000 stream lines would cost the server
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < 2 * N + 500)); then
	echo "open-files limit $(ulimit -n) is below 2 x N + 500: raise the hard limit (ulimit -Hn)" >&2
	exit 1
fi

mkdir -p "$OUT/data"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
source "$ROOT/bench/servers.sh" # start_server, stop_servers (on exit), log

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# storm LABEL CLIENT_ARGS...: one storm against the server started last, with its RSS
# before and after and its CPU seconds over the storm added to each result line.
storm() {
	local label=$1 rss0 cpu0 lines
	shift
	rss0=$(rss_kb "$SERVER_PID")
	cpu0=$("${UV[@]}" python bench/votes/cpu.py "$SERVER_PID")
	log "$label: ${CLIENT[*]} $*"
	"${CLIENT[@]}" --label "$label" "$@" >"$OUT/$label.jsonl"
	"${UV[@]}" python bench/storm/summarize.py server "$OUT/$label.jsonl" "$rss0" \
		"$(rss_kb "$SERVER_PID")" "$cpu0" "$("${UV[@]}" python bench/votes/cpu.py "$SERVER_PID")" \
		>>"$RESULTS"
	lines=$(wc -l <"$OUT/$label.jsonl")
	tail -"$lines" "$RESULTS" >&2
}

{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc=$(nproc)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
	echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GB"}')"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "postgres=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version' | cut -d' ' -f1)"
	echo "python=$("${UV[@]}" python -c 'import platform; print(platform.python_version())')"
	echo "nofile=$(ulimit -n) somaxconn=$(cat /proc/sys/net/core/somaxconn) backlog=$BACKLOG"
	echo "git=$(git rev-parse --short HEAD)$(git diff --quiet -- quorum || echo '+changes')"
	echo "command=N=$N PEER_N=$PEER_N ONLY=\"$ONLY\" BACK=$BACK SPREAD=$SPREAD PROCS=$PROCS VOTES=$VOTES bash bench/run_storm.sh"
} >"$OUT/meta.env"

for what in $ONLY; do
	case $what in
	quorum)
		log "seeding $DB: $MEMBERS members, $PROPOSALS proposals, $LOG logged votes"
		"${UV[@]}" python bench/votes/seed.py "$DB" "$OUT/data" --users "$MEMBERS" \
			--proposals "$PROPOSALS" --votes "$LOG" | tee "$OUT/seed.json" >&2
		EVENT=$(cat "$OUT/data/event.txt")
		start_server quorum "$QUORUM_PORT" quorum serve --port "$QUORUM_PORT"
		# What PostgreSQL's backends do over the storm's first PGWAIT seconds: whether the
		# stream handshakes' reads queue in the database or in the pool.
		"${UV[@]}" python bench/votes/pgwait.py "$DB" "$PGWAIT" >"$OUT/quorum.pgwait.json" &
		sampler=$!
		storm quorum --kind quorum --base "http://127.0.0.1:$QUORUM_PORT" --sse "$N" --ws "$N" \
			--event "$EVENT" --tokens "$OUT/data/tokens.txt" --members "$MEMBERS" \
			--proposals "$OUT/data/proposals.txt" --pg-db "$DB" --probe "/api/v1/events/$EVENT"
		wait "$sampler" || true
		stop_servers
		;;
	seeds)
		start_server seeds "$SEEDS_PORT" uvicorn --app-dir "$SHARED_BENCH" peer_seed002:app \
			--port "$SEEDS_PORT" "${UVICORN_FLAGS[@]}"
		storm seeds --kind seeds --base "http://127.0.0.1:$SEEDS_PORT" --sse "$PEER_N" --probe /count
		stop_servers
		;;
	socketio)
		start_server socketio "$SOCKETIO_PORT" uvicorn --app-dir "$SHARED_BENCH" peer_socketio:app \
			--port "$SOCKETIO_PORT" --ws websockets "${UVICORN_FLAGS[@]}"
		storm python-socketio --kind socketio --base "http://127.0.0.1:$SOCKETIO_PORT" --ws "$PEER_N"
		stop_servers
		;;
	*) echo "unknown: $what" >&2 ;;
	esac
done

log "summary ($OUT/summary.md)"
"${UV[@]}" python bench/storm/summarize.py table "$OUT" | tee "$OUT/summary.md"
