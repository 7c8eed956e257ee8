#!/bin/sh
# A long libFuzzer run over power-bridge's guest input (line reader + decoder), the bytes a
# hostile guest controls. Prints executions per second, totals, coverage and crashes.
# Needs a clang build with -DVMDESK_FUZZ=ON (the target bench-fuzz-guest-input runs it).
#   bench/fuzz_guest_input.sh FUZZER [SECONDS] [CORPUS_DIR]
set -eu

fuzzer=${1:?usage: $0 FUZZER [SECONDS] [CORPUS_DIR]}
seconds=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
seeds=${3:-$here/../power-bridge/tests/fuzz-corpus}

work=$(mktemp -d /tmp/vmd-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
# The seed corpus is copied: what the run finds never lands in the source tree.
cp -r "$seeds" "$work/corpus"
seed_count=$(ls "$work/corpus" | wc -l)

status=0
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/" \
  "$work/corpus" >"$work/log" 2>&1 || status=$?

stat() { sed -n "s/^stat::$1: *//p" "$work/log" | tail -n 1; }
crashes=$(ls "$work" | grep -c -E '^(crash|leak|timeout|oom)-' || true)
cov=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*ft: \([0-9]*\).*/cov \1, features \2/p')

echo "fuzz-guest-input: ${seconds} s"
echo "  executions:    $(stat number_of_executed_units)"
echo "  execs/s:       $(stat average_exec_per_sec)"
echo "  corpus:        ${seed_count} seeds, $(ls "$work/corpus" | wc -l) after the run ($(stat new_units_added) new units)"
echo "  coverage:      ${cov:-?}"
echo "  peak RSS:      $(stat peak_rss_mb) MB"
echo "  crashes:       ${crashes} (exit status ${status})"
if [ "$crashes" -gt 0 ] || [ "$status" -ne 0 ]; then
  tail -n 40 "$work/log"
  exit 1
fi
