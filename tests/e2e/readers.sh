#!/usr/bin/env bash
# Concurrent readers of shared dependencies: 32 threads of one process and
# 32 separate processes, released together (a pipe closed, not a sleep),
# all read the same files of a FUSE mount at once: an 8 MiB spilled blob,
# a file just over 64 KiB and small ones (empty, one byte, a few KiB),
# whole (read(2) in chunks of several sizes, or mmap) and at random
# ranges, comparing every byte with the imported source. Mounted read-only
# (twice: the kernel opening files by itself, and with an OPEN per file),
# and writable (--upper) with one of the files copied up first. Each
# mount is fresh, so the readers race on cold caches.
#
# Readiness is always a real condition (the mount table) polled against a
# deadline. Every mount made here is removed on exit.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
FSOPS=${FSOPS:-$BUILD/strata-fsops}

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"

if [ ! -e /dev/fuse ]; then
    t_skip "concurrent readers" "/dev/fuse is missing"
    t_done
    exit
fi

# ---- the layer ------------------------------------------------------------
src=$s/src
mkdir -p "$src/lib/deep" "$src/include"
"$TESTTOOL" gen-file "$src/lib/libbig.so" $(((8 << 20) + 12345)) 1
"$TESTTOOL" gen-file "$src/lib/deep/spilled.a" $(((64 << 10) + 1)) 2
"$TESTTOOL" gen-file "$src/include/small.h" 3000 3
"$TESTTOOL" gen-file "$src/include/page.h" 4096 4
"$TESTTOOL" gen-file "$src/one" 1 5
: >"$src/empty"
FILES=(lib/libbig.so lib/deep/spilled.a include/small.h include/page.h one empty)
t_run "import the layer" "$STRATA" -q import "$src" --name deps

THREADS=32 PROCS=32
# Each reader reads every file whole and at 16 random ranges, this many
# times over: about 1.2 GiB in all at 2 rounds.
ROUNDS=$((T_SCALE > 1 ? 1 : 2))

# readers HOW MP: every reader group on the mount at MP, one TAP case each.
readers() {
    local how=$1 mp=$2 out rc
    out=$(timeout -k 10 600 "$FSOPS" readers "$src" "$mp" $THREADS $PROCS $ROUNDS 42 "${FILES[@]}" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed -n 's/^peak: /# peak: /p'
    printf '%s\n' "$out" | grep -q "^threads: ok $THREADS readers" &&
        t_ok "$how: $THREADS threads in one process, all byte-exact" ||
        t_fail "$how: $THREADS threads in one process, all byte-exact" "exit $rc
$out"
    printf '%s\n' "$out" | grep -q "^procs: ok $PROCS readers" &&
        t_ok "$how: $PROCS separate processes, all byte-exact" ||
        t_fail "$how: $PROCS separate processes, all byte-exact" "exit $rc
$out"
}

# mount_fresh MP [ARG...]: a new mount of the layer at MP.
mount_fresh() {
    local mp=$1
    shift
    mkdir -p "$mp"
    MOUNTS+=("$mp")
    "$STRATA" -q mount --layer deps "$@" "$mp" && is_mounted "$mp"
}

mp=$s/mnt
if mount_fresh "$mp"; then
    readers "read-only" "$mp"
    t_run "read-only: umount" "$STRATA" umount "$mp"
else
    t_fail "read-only: mount"
fi

if STRATA_FUSE_NO_OPEN=0 mount_fresh "$mp"; then
    readers "read-only, an OPEN per file" "$mp"
    t_run "read-only, an OPEN per file: umount" "$STRATA" umount "$mp"
else
    t_fail "read-only, an OPEN per file: mount"
fi

if mount_fresh "$mp" --upper "$s/up"; then
    # A metadata change copies the file up: its readers then read the
    # upper copy, the others the store.
    chmod 644 "$mp/include/small.h"
    [ -f "$s/up/include/small.h" ] && t_ok "--upper: a file copied up before the readers start" ||
        t_fail "--upper: a file copied up before the readers start" "$(ls -lR "$s/up")"
    readers "--upper" "$mp"
    t_run "--upper: umount" "$STRATA" umount "$mp"
else
    t_fail "--upper: mount"
fi

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
