#!/usr/bin/env bash
# W1 of the performance issue, on its own: a fresh mount, `find -exec cat`
# over a layer of 50,000 small files (0-8 KiB, 16 x 49 directories), and
# the unmount, timed with hyperfine for strata over FUSE beside kernel
# overlayfs, fuse-overlayfs and the native directory, on the same tree.
#
#   bench/w1.sh [BUILD_DIR] [NFILES]     (as root; default build, 50000)
#
# The tree is written once under $BENCH_DIR (default /tmp/strata-bench-w1)
# and reused. Page caches stay warm between runs for every system alike:
# what is measured is the mount and the FUSE round trips, not the disk.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-50000}
strata=$(pwd)/$build/strata
testtool=$(pwd)/$build/strata-testtool
dir=${BENCH_DIR:-/tmp/strata-bench-w1}
for t in hyperfine fuse-overlayfs; do
    command -v "$t" >/dev/null || { echo "bench/w1.sh: needs $t (apt-get install $t)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench/w1.sh: run as root (kernel overlayfs)" >&2; exit 2; }

mkdir -p "$dir"
export STRATA_STORE=$dir/store
if [ ! -e "$dir/tree.$n.done" ]; then
    rm -rf "$dir/lower" "$dir/store"
    "$testtool" gen-tree "$dir/lower" "$n" 1
    "$strata" -q import "$dir/lower" --name w1 >/dev/null
    touch "$dir/tree.$n.done"
fi
mkdir -p "$dir/mnt" "$dir/upper" "$dir/work"
cleanup() { umount "$dir/mnt" 2>/dev/null || fusermount3 -u -z "$dir/mnt" 2>/dev/null || true; }
trap cleanup EXIT
reset_upper="rm -rf $dir/upper $dir/work && mkdir -p $dir/upper $dir/work"
walk="find $dir/mnt -type f -exec cat {} + >/dev/null"

hyperfine --warmup 1 --runs "${RUNS:-10}" --export-markdown "$dir/w1.md" \
    --prepare "$reset_upper" \
    -n native "find $dir/lower -type f -exec cat {} + >/dev/null" \
    -n "kernel overlayfs" \
    "mount -t overlay overlay -o lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work $dir/mnt && $walk && umount $dir/mnt" \
    -n fuse-overlayfs \
    "fuse-overlayfs -o lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work $dir/mnt && $walk && fusermount3 -u $dir/mnt" \
    -n "strata (fuse, read-only)" \
    "$strata -q mount --layer w1 $dir/mnt && $walk && $strata -q umount $dir/mnt" \
    -n "strata (fuse, upper)" \
    "$strata -q mount --layer w1 --upper $dir/upper $dir/mnt && $walk && $strata -q umount $dir/mnt"
cat "$dir/w1.md"
