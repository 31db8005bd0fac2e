#!/bin/sh
# cg_requests.sh -- user-space instructions per request of a dynafiled binary,
# counted by valgrind's callgrind (repeatable whatever else the machine does,
# unlike timings): (Ir of 4,000 requests - Ir of 1,000) / 3,000, all threads,
# after the same set-up (bench/cg_load.py). docs/PERFORMANCE.md ("Session 4")
# quotes it. Note: valgrind counts libmicrohttpd's `rep stosb` memset of its
# connection pool per byte (~49,000 a request) although it takes ~1 us.
#
#   bench/cg_requests.sh build-rel/server/dynafiled put|get|query
#   make bench-cg     (all three; installs valgrind when missing)
set -eu
command -v valgrind >/dev/null 2>&1 || { echo "cg_requests.sh: valgrind missing (make bench-deps installs it)" >&2; exit 2; }
bin=$1
op=$2
here=$(cd "$(dirname "$0")" && pwd)
run() {
  n=$1
  port=$((18900 + $(od -An -N1 -tu1 /dev/urandom) % 90))
  d=$(mktemp -d "${TMPDIR:-/tmp}/cgreq.XXXXXX")
  valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" "$bin" --port "$port" --data-dir "$d/data" \
    --log-level warn >/dev/null 2>"$d/vg.err" &
  pid=$!
  i=0
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    i=$((i + 1))
    [ $i -lt 200 ] || { echo "cg_requests.sh: dynafiled did not start" >&2; exit 1; }
    sleep 0.1
  done
  /usr/bin/python3 "$here/cg_load.py" "$port" setup
  /usr/bin/python3 "$here/cg_load.py" "$port" "$n" "$op"
  kill -INT "$pid"
  wait "$pid" || true
  cat "$d"/cg.out* | awk '/^summary/ { s += $2 } END { print s }'
  rm -rf "$d"
}
a=$(run 1000)
b=$(run 4000)
echo "$op: $(((b - a) / 3000)) instructions per request ($bin)"
