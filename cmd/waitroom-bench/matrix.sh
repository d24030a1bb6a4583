#!/usr/bin/env bash
# Reruns the figures in BENCHMARKS.md. Every run starts a fresh server (so
# memory deltas belong to that run alone) on a loopback port, and, for the
# Redis backend, a fresh redis-server of its own on a free port.
#
#   cmd/waitroom-bench/matrix.sh OUTDIR memory [RUN...]
#   cmd/waitroom-bench/matrix.sh OUTDIR disk   [RUN...]
#   cmd/waitroom-bench/matrix.sh OUTDIR redis  [RUN...]
#   cmd/waitroom-bench/matrix.sh OUTDIR floor  [RUN...]
#
# RUN names: fanout-1k fanout-10k fanout-50k fanout-100k join join-rate
# join-1k join-100k join-1m admit (default: all), idle-100k and
# idle-100k-off (100,000 streams idle for 2 minutes, with QUEUE_STREAM_HEARTBEAT
# at its default and off: the heartbeats' cost), and for disk start-1m
# (1,000,000 joined, the server killed with SIGKILL, then the time until a
# new one on the same data answers). cadence-10k and cadence-100k hold that
# many streams to the streaming cadence for 30 s of 20 joins and 1 admission
# a second (README, "Streaming cadence"): READY latency, the front 1,000's
# latency and staleness by distance band, failing on any stream later than
# its cadence allows; REALTIME=N sets QUEUE_STREAM_REALTIME_POSITIONS.
# Each writes OUTDIR/<backend>-<run>.txt and .json. JOIN_RATE sets join-rate's open-loop rate (default 50000/s);
# GOGC and GOMEMLIMIT in the environment reach the server (and the tool).
# SERVER_CPUS and TOOL_CPUS (taskset -c lists, e.g. 0 and 1) pin the server
# and the tool (with the Redis backend's redis-server) to separate cores. The disk backend keeps each run's data in
# OUTDIR/disk-<run>.data, emptied first. The floor backend runs the same
# scenarios against `waitroom-bench floor` (the bare stack on the server's
# HTTP/2 settings) instead of waitroom: BENCHMARKS.md's "The stack's floor";
# for the cadence runs it sends on the server's cadence (floor -cadence).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:?usage: matrix.sh OUTDIR memory|redis [RUN...]}
BACKEND=${2:?usage: matrix.sh OUTDIR memory|redis [RUN...]}
shift 2
RUNS=("$@")
[ ${#RUNS[@]} -gt 0 ] || RUNS=(fanout-1k fanout-10k fanout-50k fanout-100k join join-rate join-1k join-100k join-1m admit)
mkdir -p "$OUT"
go build -o "$OUT/waitroom" ./cmd/waitroom
go build -o "$OUT/waitroom-bench" ./cmd/waitroom-bench

PORT=${PORT:-50056}
DPORT=${DEBUG_PORT:-6060}
TOKEN=bench-admin-token-0123456789
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SERVER_PIN=(); TOOL_PIN=()
[ -n "${SERVER_CPUS:-}" ] && SERVER_PIN=(taskset -c "$SERVER_CPUS")
[ -n "${TOOL_CPUS:-}" ] && TOOL_PIN=(taskset -c "$TOOL_CPUS")
# redis-server shares the tool's CPUs, so the server's core is its own.
REDIS=""
if [ "$BACKEND" = redis ]; then
  RPORT=$(free_port)
  "${TOOL_PIN[@]}" redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no --daemonize no >"$OUT/redis.log" 2>&1 &
  RPID=$!
  trap 'kill $RPID 2>/dev/null || true' EXIT
  until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do sleep 0.1; done
  REDIS=127.0.0.1:$RPORT
fi

case $BACKEND in
  memory) STORE=(WAITROOM_STORE=memory) ;;
  disk)   STORE=(WAITROOM_STORE=disk) ;;
  redis)  STORE=(REDIS_ADDR=$REDIS) ;;
  floor)  STORE=() ;;
  *) echo "unknown backend $BACKEND (want memory, disk, redis or floor)" >&2; exit 2 ;;
esac

# start_server NAME: starts a server on the run's data and waits until it
# answers; sets spid.
start_server() {
  local name=$1
  if [ "$BACKEND" = floor ]; then
    # The cadence runs' floor sends the cadence's messages at its times.
    local fargs=()
    case $name in cadence-*) fargs=(-cadence ${REALTIME:+-realtime-positions "$REALTIME"}) ;; esac
    "${SERVER_PIN[@]}" "$OUT/waitroom-bench" floor -addr 127.0.0.1:$PORT -debug-addr 127.0.0.1:$DPORT "${fargs[@]}" >>"$OUT/$BACKEND-$name.server.log" 2>&1 &
    spid=$!
    until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do
      kill -0 "$spid" 2>/dev/null || { echo "floor exited:" >&2; cat "$OUT/$BACKEND-$name.server.log" >&2; exit 1; }
      sleep 0.01
    done
    return
  fi
  env LISTEN_ADDR=127.0.0.1:$PORT DEBUG_ADDR=127.0.0.1:$DPORT METRICS_ADDR=${METRICS_ADDR:-off} LOG_LEVEL=warn WAITROOM_ADMIN_TOKEN=$TOKEN \
    QUEUE_PROCESS_INTERVAL=100ms QUEUE_STREAM_HEARTBEAT=${HEARTBEAT:-20s} ${REALTIME:+QUEUE_STREAM_REALTIME_POSITIONS=$REALTIME} WAITROOM_JOIN_RATE_PER_IP=off WAITROOM_STREAMS_PER_IP=off "${STORE[@]}" \
    WAITROOM_DATA_DIR="$OUT/$BACKEND-$name.data" "${SERVER_PIN[@]}" \
    "$OUT/waitroom" >>"$OUT/$BACKEND-$name.server.log" 2>&1 &
  spid=$!
  # Healthy, and ours: a server left on the port by something else would
  # answer the health check too.
  until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do
    kill -0 "$spid" 2>/dev/null || { echo "waitroom exited:" >&2; cat "$OUT/$BACKEND-$name.server.log" >&2; exit 1; }
    sleep 0.01
  done
  kill -0 "$spid" 2>/dev/null || { echo "waitroom exited:" >&2; cat "$OUT/$BACKEND-$name.server.log" >&2; exit 1; }
}

run() {
  local name=$1; shift
  [ -n "$REDIS" ] && redis-cli -p "$RPORT" flushall >/dev/null
  rm -rf "$OUT/$BACKEND-$name.data" "$OUT/$BACKEND-$name.server.log"
  start_server "$name"
  echo "== $BACKEND $name: waitroom-bench $* (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee "$OUT/$BACKEND-$name.load"
  WAITROOM_ADMIN_TOKEN=$TOKEN "${TOOL_PIN[@]}" "$OUT/waitroom-bench" -addr 127.0.0.1:$PORT -debug-addr 127.0.0.1:$DPORT ${REDIS:+-redis $REDIS} \
    -json "$OUT/$BACKEND-$name.json" "$@" >"$OUT/$BACKEND-$name.txt" 2>"$OUT/$BACKEND-$name.progress" || true
  cat "$OUT/$BACKEND-$name.txt"
  kill "${KILL_SIGNAL:--TERM}" "$spid"; wait "$spid" || true
}

# restart NAME: times a new server on the data a run left.
restart() {
  local name=$1 t0 t1
  t0=$(date +%s.%N)
  start_server "$name"
  t1=$(date +%s.%N)
  echo "start-up: $(python3 -c "print(f'{$t1-$t0:.2f}')") s; data $(du -sb "$OUT/$BACKEND-$name.data" | cut -f1) bytes" | tee -a "$OUT/$BACKEND-$name.txt"
  kill "$spid"; wait "$spid" || true
}

for r in "${RUNS[@]}"; do
  case $r in
    fanout-1k)   run "$r" -scenario fanout -streams 1000   -changes 30 -change-rate 1 ;;
    fanout-10k)  run "$r" -scenario fanout -streams 10000  -changes 30 -change-rate 1 ;;
    fanout-50k)  run "$r" -scenario fanout -streams 50000  -changes 30 -change-rate 1 ;;
    fanout-100k) run "$r" -scenario fanout -streams 100000 -changes 30 -change-rate 1 -settle 60s ;;
    cadence-10k)  run "$r" -scenario fanout -streams 10000  -changes 630 -change-rate 21 -mix join=20,leave=0,admit=1 -settle 30s ;;
    cadence-100k) run "$r" -scenario fanout -streams 100000 -changes 630 -change-rate 21 -mix join=20,leave=0,admit=1 -settle 60s ;;
    idle-100k)   run "$r" -scenario fanout -streams 100000 -changes 1 -idle 2m -settle 60s ;;
    idle-100k-off) HEARTBEAT=0 run "$r" -scenario fanout -streams 100000 -changes 1 -idle 2m -settle 60s ;;
    join)        run "$r" -scenario join -n 200000 -c 256 ;;
    join-rate)   run "$r" -scenario join -n 300000 -c 1024 -rate "${JOIN_RATE:-50000}" ;;
    join-1k)     run "$r" -scenario join -n 200000 -c 256 -prefill 1000 ;;
    join-100k)   run "$r" -scenario join -n 200000 -c 256 -prefill 100000 ;;
    join-1m)     run "$r" -scenario join -n 200000 -c 256 -prefill 1000000 ;;
    admit)       run "$r" -scenario admit -queue 50000 -admit 20000 ;;
    start-1m)    KILL_SIGNAL=-KILL run "$r" -scenario join -n 1000 -c 256 -prefill 1000000 -verify=false; restart "$r" ;;
    *) echo "unknown run $r" >&2; exit 2 ;;
  esac
done
