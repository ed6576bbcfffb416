#!/usr/bin/env bash
# One quick wrk run of durable checkins against a fresh gotel on 127.0.0.1:
# reserves 1,000 jobs, then 64 keep-alive connections check in for 10 s.
# Usage: benchmarks/wrk-checkin.sh [path/to/gotel] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/gotel}
SECS=${2:-10}
PORT=18090
DATA=$(mktemp -d)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }
"$BIN" --data-dir "$DATA" --listen 127.0.0.1:$PORT > "$DATA.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 1 50); do curl -fs localhost:$PORT/ >/dev/null && break; sleep 0.1; done
for i in $(seq 1 1000); do
  curl -fs -XPOST localhost:$PORT/reservation \
    -d "{\"app\":\"app$i\",\"component\":\"c\",\"frequency\":1,\"time_units\":\"hours\"}" >/dev/null
done
wrk -t2 -c64 -d"${SECS}s" -s benchmarks/wrk/checkin.lua --latency http://127.0.0.1:$PORT/checkin
