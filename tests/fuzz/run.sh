#!/bin/sh
# run.sh -- runs the libFuzzer targets of tests/fuzz (README.md), all at once
# (one process per target), and reports execs and coverage per target.
#
#   tests/fuzz/run.sh smoke BUILD_DIR SECONDS   `make fuzz-smoke`: new corpus
#       entries and crash files go to a temporary directory (removed when
#       nothing crashed), never into the repo;
#   tests/fuzz/run.sh long BUILD_DIR SECONDS    `make fuzz`: the corpus grows
#       in BUILD_DIR/corpus-<target> and is kept between runs; crash files
#       go to BUILD_DIR/artifacts-<target>/.
#
# Both start from the committed seeds (tests/fuzz/corpus/<target>) with the
# target's dictionary. Exit status 1 if any target crashed, leaked, timed
# out or broke an invariant; the log tail and the crashing input's path are
# printed. FUZZ_TARGETS (default "expr request json") picks targets.
set -u

mode=${1:?usage: run.sh smoke|long BUILD_DIR SECONDS}
build=${2:?build dir}
seconds=${3:?seconds}
targets=${FUZZ_TARGETS:-expr request json}
src=$(cd "$(dirname "$0")" && pwd)

case $mode in
  smoke) work=$(mktemp -d "${TMPDIR:-/tmp}/dynafile-fuzz.XXXXXX") ;;
  long) work=$build ;;
  *) echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
esac

pids=""
for t in $targets; do
  bin=$build/tests/fuzz/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin missing (make fuzz-build)" >&2
    exit 2
  fi
  if [ "$mode" = smoke ]; then
    corpus=$work/corpus-$t
    art=$work/artifacts-$t
  else
    corpus=$build/corpus-$t
    art=$build/artifacts-$t
  fi
  mkdir -p "$corpus" "$art"
  # -max_len: expressions go up to 4 KB (+ the size-limit cases), requests
  # a little more (and JSON bodies room to nest past the 2048 depth limit);
  # -timeout: one input taking 10 s is a hang;
  # -rss_limit_mb: the parsers' memory is bounded by their input.
  "$bin" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -dict="$src/$t.dict" -artifact_prefix="$art/" \
    "$corpus" "$src/corpus/$t" >"$work/fuzz-$t.log" 2>&1 &
  pids="$pids $!"
done

rc=0
i=0
for pid in $pids; do
  i=$((i + 1))
  t=$(echo $targets | cut -d' ' -f$i)
  log=$work/fuzz-$t.log
  if wait "$pid"; then status=ok; else status=FAILED; rc=1; fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed 's/^#[0-9]*[[:space:]]*[A-Z]*[[:space:]]*//')
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  echo "fuzz_$t: $status, ${secs:-?}s, execs ${execs:-?} (${eps:-?}/s), new units ${added:-?}; $last"
  if [ "$status" = FAILED ]; then
    echo "---- fuzz_$t log tail ($log) ----"
    grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)' "$log" | tail -60
    ls "$work"/artifacts-"$t"/ 2>/dev/null | sed "s|^|crash input: $work/artifacts-$t/|"
  fi
done

if [ "$mode" = smoke ]; then
  if [ $rc -eq 0 ]; then rm -rf "$work"; else echo "fuzz-smoke: logs and crash inputs kept in $work"; fi
fi
exit $rc
