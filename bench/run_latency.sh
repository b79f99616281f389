#!/usr/bin/env bash
# The latency of one `strata run` with a trivial command (`true`): a run
# that mounts a view of its own, against a run in a slot of `strata serve`
# (no mount: two requests on the control socket), for a view of NFILES
# small files, interleaved, medians of RUNS runs each.
#
#   bench/run_latency.sh [BUILD_DIR] [NFILES]   (default build, 1000; RUNS=50)
#
# Each run also captures its (empty) output layer, as a build action would.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-1000}
runs=${RUNS:-50}
strata=$(pwd)/$build/strata
testtool=$(pwd)/$build/strata-testtool
dir=${BENCH_DIR:-/tmp/strata-bench-latency}
mkdir -p "$dir/run" "$dir/mnt" "$dir/tmp"
export STRATA_STORE=$dir/store XDG_RUNTIME_DIR=$dir/run TMPDIR=$dir/tmp
if [ ! -e "$dir/tree.$n.done" ]; then
    rm -rf "$dir/lower" "$dir/store"
    "$testtool" gen-tree "$dir/lower" "$n" 1
    "$strata" -q import "$dir/lower" --name base >/dev/null
    touch "$dir/tree.$n.done"
fi
cleanup() { "$strata" -q umount "$dir/mnt" 2>/dev/null || true; }
trap cleanup EXIT
"$strata" -q serve "$dir/mnt"

now() { date +%s%N; }
: >"$dir/own.ns"
: >"$dir/slot.ns"
for _ in $(seq "$runs"); do
    t0=$(now)
    "$strata" -q run -l base -- true
    t1=$(now)
    "$strata" -q run --server "$dir/mnt" -l base -- true
    t2=$(now)
    echo $((t1 - t0)) >>"$dir/own.ns"
    echo $((t2 - t1)) >>"$dir/slot.ns"
done
median() { sort -n "$1" | awk '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m / 1e6}'; }
own=$(median "$dir/own.ns")
slot=$(median "$dir/slot.ns")
printf '| run of `true`, view of %d files | median of %d |\n|---|---|\n' "$n" "$runs"
printf '| own FUSE mount per run | %s ms |\n| slot of strata serve | %s ms |\n' "$own" "$slot"
awk -v a="$own" -v b="$slot" 'BEGIN { printf "| ratio (own / slot) | %.2fx |\n", a / b }'
