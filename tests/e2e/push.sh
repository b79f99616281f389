#!/usr/bin/env bash
# Small lower files pushed into the kernel's page cache after a listing
# (transport/fuse_push.h): on a read-only mount (where it is the default),
# listing a directory puts the bytes of its small files (up to 64 KiB) in
# the page cache with no READ at all: fincore(1), which maps the file and
# asks mincore(2) and so reads nothing, sees them resident (waited for,
# with a deadline), and a file over 64 KiB stays cold. Every file then
# reads byte-exact, also by 32 threads and 32 processes at once while
# pushes are still on their way on a fresh mount. On a writable mount with
# STRATA_FUSE_PUSH=1, files listed and then overwritten, appended to,
# truncated or chmod'ed read back as written, at once and after a remount;
# and with STRATA_FUSE_PUSH=0 nothing is pushed.
#
# Readiness is always a real condition polled against a deadline. Every
# mount made here is removed on exit.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
FSOPS=${FSOPS:-$BUILD/strata-fsops}

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"

if [ ! -e /dev/fuse ]; then
    t_skip "pushing small files" "/dev/fuse is missing"
    t_done
    exit
fi
if ! command -v fincore >/dev/null; then
    t_skip "pushing small files" "fincore (util-linux) is missing"
    t_done
    exit
fi

# ---- the layer: small files at the page and push limits, and big ones ----
src=$s/src
mkdir -p "$src/a" "$src/b/c"
i=0
for size in 1 100 4095 4096 4097 8191 30000 65535 65536; do
    i=$((i + 1))
    "$TESTTOOL" gen-file "$src/a/s$size" "$size" "$i"
done
"$TESTTOOL" gen-file "$src/a/over" 65537 20
"$TESTTOOL" gen-file "$src/a/big" $((3 << 20)) 21
: >"$src/a/empty"
for n in $(seq 1 200); do
    "$TESTTOOL" gen-file "$src/b/c/f$n" $((n * 61)) $((100 + n))
done
t_run "import the layer" "$STRATA" -q import "$src" --name pushed

# sums DIR: "path sha256" of every file under DIR, sorted.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
want=$(sums "$src")

# resident MP FILE: the pages fincore sees of FILE (reads nothing).
resident() { fincore -n -r -o PAGES "$1/$2" 2>/dev/null | tr -d ' '; }
pages_of() { echo $((($1 + 4095) / 4096)); }
all_resident() {
    local mp=$1 f size
    for f in a/s1 a/s4097 a/s65536 b/c/f1 b/c/f200; do
        size=$(stat -c %s "$src/$f")
        [ "$(resident "$mp" "$f")" = "$(pages_of "$size")" ] || return 1
    done
}

mount_fresh() {
    local mp=$1
    shift
    mkdir -p "$mp"
    MOUNTS+=("$mp")
    "$STRATA" -q mount --layer pushed "$@" "$mp" && is_mounted "$mp"
}

# ---- read-only: pushed by default --------------------------------------------
mp=$s/mnt
if mount_fresh "$mp"; then
    ls -l "$mp/a" "$mp/b/c" >/dev/null
    wait_for 20 all_resident "$mp" &&
        t_ok "read-only: after a listing, small files are in the page cache with no read" ||
        t_fail "read-only: after a listing, small files are in the page cache with no read" \
            "$(fincore "$mp"/a/* "$mp/b/c/f1" 2>&1)"
    t_eq "read-only: a file over 64 KiB is not pushed" "0" "$(resident "$mp" a/over)"
    t_eq "read-only: nor a 3 MiB one" "0" "$(resident "$mp" a/big)"
    t_eq "read-only: every file byte-exact" "$want" "$(sums "$mp")"
    t_run "read-only: umount" "$STRATA" umount "$mp"
else
    t_fail "read-only: mount"
fi

# Readers race the pushes on a fresh mount: their first listing queues
# them, and the same files are read at once by many.
FILES=(a/s1 a/s4095 a/s4096 a/s4097 a/s65535 a/s65536 a/over b/c/f7 b/c/f150 a/empty)
if mount_fresh "$mp"; then
    ls -l "$mp/a" "$mp/b/c" >/dev/null
    out=$(timeout -k 10 600 "$FSOPS" readers "$src" "$mp" 32 32 1 7 "${FILES[@]}" 2>&1)
    printf '%s\n' "$out" | grep -q "^threads: ok 32 readers" && printf '%s\n' "$out" | grep -q "^procs: ok 32 readers" &&
        t_ok "read-only: 32 threads and 32 processes racing the pushes, byte-exact" ||
        t_fail "read-only: 32 threads and 32 processes racing the pushes, byte-exact" "$out"
    t_run "read-only, racing readers: umount" "$STRATA" umount "$mp"
else
    t_fail "read-only, racing readers: mount"
fi

# ---- STRATA_FUSE_PUSH=0: nothing pushed ----------------------------------------
if STRATA_FUSE_PUSH=0 mount_fresh "$mp"; then
    ls -l "$mp/a" "$mp/b/c" >/dev/null
    # The same listing pushed within moments above; here nothing comes, so
    # the check is that the file is still cold once the listing is done.
    t_eq "STRATA_FUSE_PUSH=0: a listed small file is not in the page cache" "0" \
        "$(resident "$mp" b/c/f200)"
    t_eq "STRATA_FUSE_PUSH=0: every file byte-exact" "$want" "$(sums "$mp")"
    t_run "STRATA_FUSE_PUSH=0: umount" "$STRATA" umount "$mp"
else
    t_fail "STRATA_FUSE_PUSH=0: mount"
fi

# ---- writable, pushing on request: writes after a listing win ------------------
up=$s/up
expect=$s/expect
cp -a "$src" "$expect"
edit() {
    local root=$1
    printf 'overwritten\n' >"$root/a/s4096"
    printf 'appended\n' >>"$root/a/s100"
    truncate -s 10 "$root/b/c/f3"
    truncate -s 70000 "$root/b/c/f4"
    chmod 600 "$root/b/c/f5"
    head -c 5000 "$root/a/s8191" >"$root/b/c/f6"
}
if STRATA_FUSE_PUSH=1 mount_fresh "$mp" --upper "$up"; then
    ls -l "$mp/a" "$mp/b/c" >/dev/null
    edit "$mp"
    edit "$expect"
    t_eq "--upper, pushing: files changed right after the listing read as written" \
        "$(sums "$expect")" "$(sums "$mp")"
    wait_for 20 all_resident "$mp" &&
        t_ok "--upper, pushing: the unchanged small files were pushed" ||
        t_fail "--upper, pushing: the unchanged small files were pushed" "$(fincore "$mp"/a/* 2>&1)"
    t_eq "--upper, pushing: still as written once the pushes are done" "$(sums "$expect")" \
        "$(sums "$mp")"
    t_run "--upper, pushing: umount" "$STRATA" umount "$mp"
    if STRATA_FUSE_PUSH=1 mount_fresh "$mp" --upper "$up"; then
        ls -l "$mp/a" "$mp/b/c" >/dev/null
        t_eq "--upper, pushing: and after a remount" "$(sums "$expect")" "$(sums "$mp")"
        t_run "--upper, pushing, remounted: umount" "$STRATA" umount "$mp"
    else
        t_fail "--upper, pushing: remount"
    fi
else
    t_fail "--upper, pushing: mount"
fi

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
