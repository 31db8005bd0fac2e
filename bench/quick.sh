#!/usr/bin/env bash
# bench/quick.sh -- the short benchmark subset without make: the same as
# `make bench-quick` once wrk, nginx and bench/.dynalite are installed and
# dynafiled is built (BUILD=build by default). Extra arguments go to
# bench/bench.py (e.g. --engines dynafile,ceiling --duration 5).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/bench.py --quick --build "${BUILD:-build}" "$@"
