#!/usr/bin/env bash
# bench/quick.sh -- first figures for dynafiled alone (the full comparison
# with dynalite and an nginx ceiling is `make bench`, a later issue):
# cold start to the first answered ListTables (median of 10), RSS idle,
# preload of N 200-byte items with PutItem, RSS and bytes on disk after it,
# then wrk GetItem and PutItem at C connections for D seconds each.
# Usage: bench/quick.sh [N=100000] [C=16] [D=10]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; C=${2:-16}; D=${3:-10}
BIN=${DYNAFILED:-build/server/dynafiled}
PORT=${BENCH_PORT:-8790}
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install wrk)"; exit 1; }
DIR=$(mktemp -d /tmp/dynafile-bench.XXXXXX)
trap 'kill $PID 2>/dev/null || true; wait 2>/dev/null; rm -rf "$DIR"' EXIT
AUTH='Authorization: AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0'
ddb() { curl -sf -X POST "http://127.0.0.1:$PORT/" -H 'Content-Type: application/x-amz-json-1.0' \
          -H "X-Amz-Target: DynamoDB_20120810.$1" -H 'X-Amz-Date: 20260101T000000Z' -H "$AUTH" -d "$2"; }

# Cold start: exec to first answered ListTables, 10 times, median.
starts=()
for i in $(seq 10); do
  rm -rf "$DIR/cold"; mkdir -p "$DIR/cold"
  t0=$(date +%s%N)
  "$BIN" --port $PORT --data-dir "$DIR/cold" --log-level error & PID=$!
  until ddb ListTables '{}' >/dev/null 2>&1; do sleep 0.0005; done
  t1=$(date +%s%N)
  starts+=($(( (t1 - t0) / 1000 )))
  kill -TERM $PID; wait $PID
done
cold=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 5p)

"$BIN" --port $PORT --data-dir "$DIR/data" --log-level error & PID=$!
until ddb ListTables '{}' >/dev/null 2>&1; do sleep 0.001; done
sleep 0.5
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
ddb CreateTable '{"TableName":"bench","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
  "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}' >/dev/null
pre=$(/usr/bin/python3 bench/preload.py $PORT bench "$N" 16)
sleep 1
rss_full=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
disk=$(du -sk "$DIR/data" | cut -f1)

run() {  # script -> "req/s p50 p99 errors"
  out=$(BENCH_KEYS=$N wrk -t2 -c$C -d${D}s -s bench/wrk/$1.lua "http://127.0.0.1:$PORT/" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  line=$(echo "$out" | grep '^BENCH')
  echo "$rps $line"
}
get=$(run getitem); put=$(run putitem)
echo
echo "| figure | value |"
echo "|---|---|"
echo "| cold start to first ListTables (median of 10) | $((cold / 1000)).$(( (cold % 1000) / 100 )) ms |"
echo "| RSS idle | $((rss_idle / 1024)) MiB ($rss_idle KiB) |"
echo "| $pre | |"
echo "| RSS after $N items | $((rss_full / 1024)) MiB |"
echo "| data directory after $N items | $((disk / 1024)) MiB |"
echo "| GetItem, $C connections, ${D}s | $get |"
echo "| PutItem (fsync), $C connections, ${D}s | $put |"
