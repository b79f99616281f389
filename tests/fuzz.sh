#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over a scratch copy of its
# seed corpus (fuzz/corpus/<name without fuzz_>/), as one TAP case.
# STRATA_FUZZ_SECONDS sets the time (default 30).
set -u
fuzzer=$(realpath "$1")
name=$(basename "$fuzzer")
seeds="$(dirname "$0")/../fuzz/corpus/${name#fuzz_}"
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/"
secs=${STRATA_FUZZ_SECONDS:-30}
if (cd "$work" && "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 corpus) >"$work/log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
    echo "ok 1 - $name ran ${secs}s without a finding (${runs:-?} inputs)"
else
    echo "not ok 1 - $name found a crash"
    tail -n 40 "$work/log" | sed 's/^/# /'
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null | sed 's/^/# artifact: /'
fi
echo "1..1"
