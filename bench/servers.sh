# Sourced by the fan-out, WebSocket, storm and vote benchmarks (bench/run_*.sh): starting the
# servers under test and stopping them, whatever way the script ends. Needs UV (the
# `uv run ...` prefix) and OUT (where each server's log goes) set by the script.

PIDS=() # (uv pid, server pid) pairs of the servers running now

log() { printf '\n== %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

stop_servers() { # SIGINT (uvicorn shuts down cleanly), then SIGTERM, then SIGKILL
	local i signal
	for ((i = 0; i < ${#PIDS[@]}; i += 2)); do
		for signal in INT TERM KILL; do
			kill "-$signal" "${PIDS[i + 1]}" 2>/dev/null || break
			for _ in $(seq 50); do
				kill -0 "${PIDS[i + 1]}" 2>/dev/null || break 2
				sleep 0.2
			done
		done
		wait "${PIDS[i]}" 2>/dev/null || true
	done
	PIDS=()
}
trap stop_servers EXIT

# start_server NAME PORT COMMAND...: runs `uv run COMMAND` and waits for the port; sets
# SERVER_PID to the Python process itself (uv's child).
start_server() {
	local name=$1 port=$2 uv_pid
	shift 2
	"${UV[@]}" "$@" >"$OUT/$name.server.log" 2>&1 &
	uv_pid=$!
	for _ in $(seq 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			SERVER_PID=$(pgrep -P "$uv_pid" | head -1)
			[[ -n $SERVER_PID ]] || SERVER_PID=$uv_pid
			PIDS+=("$uv_pid" "$SERVER_PID")
			return
		fi
		kill -0 "$uv_pid" 2>/dev/null || {
			cat "$OUT/$name.server.log" >&2
			exit 1
		}
		sleep 0.1
	done
	echo "$name did not start" >&2
	exit 1
}
