# dynafile -- the two commands a new user needs: `make run` and `make test`.
# Both install the Debian packages they need when missing (as root, or with
# sudo), build with meson, and go.

HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= ./data
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 60

# Debian packages the build and the tests need.
PKGS = gcc make meson ninja-build pkg-config libmicrohttpd-dev libjansson-dev \
       libuv1-dev libxxhash-dev libdeflate-dev python3 python3-boto3 \
       awscli curl clang libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build asan run test test-unit test-asan clean format fuzz-build fuzz-smoke fuzz

all: build

# Install only the missing packages (dpkg -s is quick; apt only when needed).
deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release -Db_ndebug=true

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

run: build
	mkdir -p $(DATA)
	exec ./$(BUILD)/server/dynafiled --host $(HOST) --port $(PORT) --data-dir $(DATA)

# Every suite, optimised, then again under AddressSanitizer + UBSan.
test: build asan
	meson test -C $(BUILD) --print-errorlogs --num-processes 2
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	DYNAFILE_SANITIZED=1 \
	meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 --timeout-multiplier 3
	$(MAKE) --no-print-directory fuzz-smoke

# Fuzzing (tests/fuzz/README.md): libFuzzer needs clang, so the targets get a
# build dir of their own; the fuzz flags are set per target there.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true -Db_sanitize=none

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) tests/fuzz/fuzz_expr tests/fuzz/fuzz_request tests/fuzz/fuzz_json

# Each fuzzer for FUZZ_SMOKE_SECONDS from the committed corpus; new corpus
# entries go to a temp dir; fails on any crash, leak or hang.
fuzz-smoke: fuzz-build
	sh tests/fuzz/run.sh smoke $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS)

# Long run (FUZZ_SECONDS each, in parallel); corpus kept in $(FUZZ_BUILD)/corpus-*.
fuzz: fuzz-build
	sh tests/fuzz/run.sh long $(FUZZ_BUILD) $(FUZZ_SECONDS)

test-unit: build
	meson test -C $(BUILD) --print-errorlogs --suite storage --suite protocol

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

format:
	clang-format -i storage/*.[ch] protocol/*.[ch] server/*.[ch] tests/*.h tests/*/*.c

# Benchmark (issue 6; docs/PERFORMANCE.md): dynafiled against dynalite (in
# memory and --path) and an nginx ceiling, all on 127.0.0.1, one Markdown
# table and the targets with PASS / MISS. Installs what it needs when
# missing: wrk and nginx from Debian (a freshly installed nginx service is
# stopped and disabled: the bench runs its own), dynalite from npm into
# bench/.dynalite (git-ignored), valgrind for bench-cg. bench-quick: a short
# subset (1-2 minutes).
BENCH_PKGS = wrk nginx valgrind
DYNALITE_CLI = bench/.dynalite/node_modules/dynalite/cli.js

.PHONY: bench bench-quick bench-deps bench-streams bench-rest bench-indexes bench-cg

bench-deps:
	@missing=""; for p in $(BENCH_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	  case "$$missing" in *nginx*) $(SUDO) systemctl disable --now nginx >/dev/null 2>&1 || true;; esac; \
	fi
	@[ -f $(DYNALITE_CLI) ] || npm install --prefix bench/.dynalite --no-audit --no-fund dynalite@4

bench: build bench-deps
	/usr/bin/python3 bench/bench.py --build $(BUILD)

bench-quick: build bench-deps
	/usr/bin/python3 bench/bench.py --quick --build $(BUILD)

# Change streams: SSE delivery latency with 1 and 100 subscribers, PutItem
# with 100 subscribers against none (bench/stream_bench.py).
bench-streams: build bench-deps
	/usr/bin/python3 bench/stream_bench.py --build $(BUILD)

# The /v1/ face: NDJSON import/export rates, GET item against GetItem.
bench-rest: build bench-deps
	/usr/bin/python3 bench/rest_bench.py --build $(BUILD)

# Secondary indexes: Query through a GSI (10 items a page) and PutItem on
# tables with 0, 2 and 5 indexes at 16 connections, GSI backfill items/s
# (bench/index_bench.py).
bench-indexes: build bench-deps
	/usr/bin/python3 bench/index_bench.py --build $(BUILD)

# Instructions per PutItem, GetItem and Query under valgrind's callgrind
# (bench/cg_requests.sh): repeatable on a busy machine, unlike timings.
bench-cg: build bench-deps
	for op in put get query; do sh bench/cg_requests.sh $(BUILD)/server/dynafiled $$op || exit 1; done
