# dynafile -- the two commands a new user needs: `make run` and `make test`.
# Both install the Debian packages they need when missing (as root, or with
# sudo), build with meson, and go.

HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= ./data
BUILD ?= build
ASAN_BUILD ?= build-asan

# Debian packages the build and the tests need.
PKGS = gcc make meson ninja-build pkg-config libmicrohttpd-dev libjansson-dev \
       libuv1-dev libxxhash-dev nettle-dev zlib1g-dev python3 python3-boto3 \
       awscli curl

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build asan run test test-unit test-asan clean format

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

test-unit: build
	meson test -C $(BUILD) --print-errorlogs --suite storage --suite protocol

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

format:
	clang-format -i storage/*.[ch] protocol/*.[ch] server/*.[ch] tests/*.h tests/*/*.c
