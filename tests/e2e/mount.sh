#!/usr/bin/env bash
# strata mount / strata umount over real FUSE: two layers mounted in the
# background must show exactly the merged tree (top over bottom), byte for
# byte, with symbolic links, exec bits, a 50k-entry directory and a large
# file read whole, at random offsets and by 8 readers at once; writes are
# refused; umount (busy or not), SIGTERM to a --foreground mount and the
# error paths (no libfuse, no mountpoint, no layer, --upper) behave.
#
# Readiness is always a real condition (the mount table, a process gone)
# polled against a deadline. Every mount made here is removed on exit.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store

# Under ASan, reports of the background servers (whose stderr is
# /dev/null) go to files, checked at the end.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"

FG_PID=""
m_cleanup() {
    [ -n "$FG_PID" ] && kill -TERM "$FG_PID" 2>/dev/null
    t_cleanup
}
trap m_cleanup EXIT


# ---- error paths that need no FUSE ------------------------------------
mkdir -p "$s/one" "$s/mp"
echo x >"$s/one/x"
"$STRATA" -q import "$s/one" --name one >/dev/null

t_err "mount on a missing mountpoint: two-line error" 1 "$STRATA" mount --layer one "$s/nope"
[[ "$ERR" == *"does not exist"* && "$ERR" == *"mkdir -p"* ]] &&
    t_ok "... which says what to do" || t_fail "... which says what to do" "$ERR"

t_err "no libfuse, enabled: true: two-line error" 1 env STRATA_LIBFUSE=/nonexistent \
    STRATA_MOUNT_ENABLED=true "$STRATA" mount --layer one "$s/mp"
[[ "$ERR" == "strata: no transport could mount: fuse: libfuse3 is not installed"* &&
    "$ERR" == *"hint: fuse: install FUSE 3: apt install fuse3"* ]] &&
    t_ok "... which names FUSE's failure and its hint" ||
    t_fail "... which names FUSE's failure and its hint" "$ERR"
not_mounted "$s/mp" && t_ok "... and nothing is mounted" || t_fail "... and nothing is mounted"
[ -z "$(ls -A "$s/mp")" ] && t_ok "... nor written" || t_fail "... nor written" "$(ls -A "$s/mp")"
# enabled: auto (the Linux default) falls to none: the view is written out.
mkdir -p "$s/mp-auto"
t_cmd env STRATA_LIBFUSE=/nonexistent "$STRATA" mount --layer one "$s/mp-auto"
[ "$RC" = 0 ] && cmp -s "$s/one/x" "$s/mp-auto/x" && not_mounted "$s/mp-auto" &&
    t_ok "no libfuse, enabled: auto: the view is written out, not mounted" ||
    t_fail "no libfuse, enabled: auto: the view is written out, not mounted" "$RC $ERR"
[[ "$ERR" == "strata mount: no FUSE mount (libfuse3 is not installed); wrote the view out instead. To mount: install FUSE 3"* ]] &&
    t_ok "... and one line says why and what to do" ||
    t_fail "... and one line says why and what to do" "$ERR"
t_err "no libfuse, --upper: a copy cannot take the writes" 1 env STRATA_LIBFUSE=/nonexistent \
    "$STRATA" mount --layer one --upper "$s/up-nofuse" "$s/mp"
[[ "$ERR" == "strata: no transport could mount: fuse: libfuse3 is not installed"* ]] &&
    t_ok "... it lists what could not mount" || t_fail "... it lists what could not mount" "$ERR"

t_err "--upper inside the mountpoint: two-line error" 1 "$STRATA" mount --layer one --upper "$s/mp/up" "$s/mp"
[[ "$ERR" == *"inside the mountpoint"* ]] && t_ok "... says so" || t_fail "... says so" "$ERR"
t_err "--upper with --backend none: usage error" 2 "$STRATA" mount --backend none --layer one --upper "$s/up" "$s/copy0"
rmdir "$s/mp/up" 2>/dev/null
t_err "no --layer: usage error" 2 "$STRATA" mount "$s/mp"
t_err "unknown backend: usage error" 2 "$STRATA" mount --backend smb --layer one "$s/mp"
t_err "--backend nfs here: two-line error" 1 "$STRATA" mount --backend nfs --layer one "$s/mp"
[[ "$ERR" == *"nfs: the kernel has no NFS client"* ]] && t_ok "... which says why" ||
    t_fail "... which says why" "$ERR"
t_err "--backend kext on Linux: two-line error" 1 "$STRATA" mount --backend kext --layer one "$s/mp"
[[ "$ERR" == *"kext cannot work on Linux"* ]] && t_ok "... which says why" ||
    t_fail "... which says why" "$ERR"
t_err "umount of a directory that is no mount" 1 "$STRATA" umount "$s/mp"
[[ "$ERR" == *"is not a mount point"* ]] && t_ok "... says so" || t_fail "... says so" "$ERR"
t_err "umount of a mount that is not strata's" 1 "$STRATA" umount /proc
[[ "$ERR" == *"not a strata mount"* ]] && t_ok "... says so" || t_fail "... says so" "$ERR"

if [ ! -e /dev/fuse ]; then
    t_skip "FUSE mounts" "/dev/fuse is missing"
    t_done
    exit
fi

# ---- the layers ---------------------------------------------------------
bot=$s/src/bot top=$s/src/top
"$TESTTOOL" gen-tree "$bot/tree" 3000 1
# 50,000 entries (5,000 under ASan, where the tree is listed ten times slower).
nflat=$((50000 / T_SCALE))
"$TESTTOOL" gen-flat "$bot/flat" "$nflat" 2
"$TESTTOOL" gen-file "$bot/big" $(((80 << 20) + 12345)) 3
mkdir -p "$bot/shared" "$bot/bin" "$bot/links" "$bot/empty"
echo bottom >"$bot/shared/over.txt"
echo kept >"$bot/shared/keep.txt"
printf '#!/bin/sh\necho bottom tool\n' >"$bot/bin/tool"
chmod 755 "$bot/bin/tool"
chmod 600 "$bot/shared/keep.txt"
ln -s ../shared/keep.txt "$bot/links/rel"
ln -s /etc/hostname "$bot/links/abs"
ln -s nowhere "$bot/links/dangling"
# The top layer overrides part of the bottom's tree (same names in the
# same directories), one file, and adds its own.
"$TESTTOOL" gen-tree "$top/tree" 500 4
"$TESTTOOL" gen-file "$top/big2" $(((65 << 20) + 1)) 5
mkdir -p "$top/shared" "$top/bin"
echo top >"$top/shared/over.txt"
echo new >"$top/shared/new.txt"
printf '#!/bin/sh\necho hello from top\n' >"$top/bin/run.sh"
chmod 755 "$top/bin/run.sh"
ln -s run.sh "$top/bin/run"

t_run "import the bottom layer" "$STRATA" -q import "$bot" --name bot
t_run "import the top layer" "$STRATA" -q import "$top" --name top

# The expected view: the bottom exported, the top copied over it.
"$STRATA" -q export bot "$s/want" && "$STRATA" -q export top "$s/want-top" &&
    cp -a "$s/want-top/." "$s/want/"
rm -rf "$s/want-top"

# The content, byte for byte: 8 concurrent readers of a file nothing has
# read yet, a big file whole and at random offsets, then the whole tree.
check_content() {
    local mp=$1 how=$2 want want2 bad i k a b
    want2=$("$TESTTOOL" sha256 "$top/big2")
    for i in 1 2 3 4 5 6 7 8; do
        "$TESTTOOL" sha256 "$mp/big2" >"$s/par.$i" 2>&1 &
    done
    wait
    bad=""
    for i in 1 2 3 4 5 6 7 8; do
        [ "$(cat "$s/par.$i")" = "$want2" ] || bad="$bad reader $i: $(cat "$s/par.$i")"
    done
    t_eq "$how: 8 concurrent readers of a 65 MiB file: all byte-exact" "" "$bad"

    want=$("$TESTTOOL" sha256 "$bot/big")
    t_eq "$how: an 80 MiB file: sha256" "$want" "$("$TESTTOOL" sha256 "$mp/big")"
    t_run "$how: 1000 reads at random offsets and lengths match the source" \
        "$TESTTOOL" cmp-random "$bot/big" "$mp/big" 1000 6
    bad=""
    for k in 0 1 17 4095 123457 20000 20479; do
        a=$(dd if="$bot/big" bs=4096 skip="$k" count=3 2>/dev/null | sha256sum)
        b=$(dd if="$mp/big" bs=4096 skip="$k" count=3 2>/dev/null | sha256sum)
        [ "$a" = "$b" ] || bad="$bad skip=$k"
    done
    t_eq "$how: dd skip= reads match the source" "" "$bad"
    t_eq "$how: a read past the end is empty" "0" \
        "$(dd if="$mp/big" bs=4096 skip=30000 count=1 2>/dev/null | wc -c)"

    "$TESTTOOL" tree-list "$mp" >"$s/got.list"
    if cmp -s "$s/want.list" "$s/got.list"; then
        t_ok "$how: the mount shows exactly the merged tree ($(wc -l <"$s/want.list") entries)"
    else
        t_fail "$how: the mount shows exactly the merged tree" \
            "$(diff "$s/want.list" "$s/got.list" | head -20)"
    fi
}

# ---- mount in the background --------------------------------------------
mp=$s/mnt
mkdir -p "$mp"
MOUNTS+=("$mp")
t_cmd "$STRATA" mount --layer top --layer bot "$mp"
t_eq "mount (background) exits 0" "0" "$RC"
if ! is_mounted "$mp"; then
    t_fail "the mount is there as soon as mount returns" "$ERR"
    t_done
    exit 1
fi
t_ok "the mount is there as soon as mount returns"
server=$(printf '%s\n' "$ERR" | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
[ -n "$server" ] && ! gone "$server" && t_ok "its server runs ($server)" ||
    t_fail "its server runs" "$ERR"

t_eq "top overrides bottom" "top" "$(cat "$mp/shared/over.txt")"
t_eq "bottom shows through" "kept" "$(cat "$mp/shared/keep.txt")"
t_eq "top adds" "new" "$(cat "$mp/shared/new.txt")"
t_eq "readlink (relative)" "../shared/keep.txt" "$(readlink "$mp/links/rel")"
t_eq "readlink (absolute)" "/etc/hostname" "$(readlink "$mp/links/abs")"
t_eq "readlink (dangling)" "nowhere" "$(readlink "$mp/links/dangling")"
t_eq "a link is followed inside the mount" "kept" "$(cat "$mp/links/rel")"
[ -x "$mp/bin/tool" ] && [ -x "$mp/bin/run.sh" ] && [ ! -x "$mp/shared/over.txt" ] &&
    t_ok "exec bits" || t_fail "exec bits" "$(ls -l "$mp/bin" "$mp/shared")"
t_eq "a program in the mount runs" "hello from top" "$("$mp/bin/run")"
t_eq "modes come through" "600" "$(stat -c %a "$mp/shared/keep.txt")"
t_eq "entries belong to the user who mounted" "$(id -u):$(id -g)" "$(stat -c %u:%g "$mp/shared")"
t_eq "an empty directory" "" "$(ls -A "$mp/empty")"
t_cmd stat "$mp/shared/missing"
[ "$RC" != 0 ] && [[ "$ERR" == *"No such file"* ]] && t_ok "a missing name: ENOENT" ||
    t_fail "a missing name: ENOENT" "$ERR"

# ---- a 50k-entry directory ----------------------------------------------
t_eq "ls of the $nflat-entry directory: count" "$nflat" "$(ls "$mp/flat" | wc -l)"
t_eq "... names, sorted" "$(cd "$s/want/flat" && LC_ALL=C ls | sha256sum)" \
    "$(cd "$mp/flat" && LC_ALL=C ls | sha256sum)"
t_eq "... find sees every size" "$(cd "$s/want/flat" && find . -type f -printf '%p %s\n' | sort | sha256sum)" \
    "$(cd "$mp/flat" && find . -type f -printf '%p %s\n' | sort | sha256sum)"

"$TESTTOOL" tree-list "$s/want" >"$s/want.list"
check_content "$mp" "no-open"

# ---- writes are refused -------------------------------------------------
t_cmd touch "$mp/newfile"
[ "$RC" != 0 ] && [[ "$ERR" == *"Read-only file system"* ]] &&
    t_ok "touch: Read-only file system" || t_fail "touch: Read-only file system" "$ERR"
for op in "mkdir $mp/newdir" "rm $mp/shared/over.txt" "mv $mp/shared/over.txt $mp/x" \
    "chmod 777 $mp/shared/keep.txt" "ln -s x $mp/newlink"; do
    t_cmd $op
    [ "$RC" != 0 ] && [[ "$ERR" == *"Read-only file system"* ]] &&
        t_ok "$(echo "$op" | cut -d' ' -f1): Read-only file system" ||
        t_fail "$(echo "$op" | cut -d' ' -f1): Read-only file system" "$ERR"
done
t_cmd sh -c "echo x >>'$mp/shared/over.txt'"
[ "$RC" != 0 ] && t_ok "append: refused" || t_fail "append: refused" "$ERR"
t_eq "... and nothing changed" "top" "$(cat "$mp/shared/over.txt")"

# ---- umount -------------------------------------------------------------
t_err "mount again on a strata mount: two-line error" 1 "$STRATA" mount --layer one "$mp"
exec 9<"$mp/shared/keep.txt"
t_err "umount of a busy mount: two-line error" 1 "$STRATA" umount "$mp"
[[ "$ERR" == *"busy"* && "$ERR" == *"umount -l"* ]] && t_ok "... says busy, hints umount -l" ||
    t_fail "... says busy, hints umount -l" "$ERR"
is_mounted "$mp" && t_ok "... and leaves it mounted" || t_fail "... and leaves it mounted"
exec 9<&-
t_run "umount" "$STRATA" umount "$mp"
not_mounted "$mp" && t_ok "... the mount is gone" || t_fail "... the mount is gone"
t_eq "... the mountpoint is empty" "" "$(ls -A "$mp")"
wait_for 10 gone "$server" && t_ok "... its server exits" || t_fail "... its server exits"

# ---- an upper directory, mounted again at once ------------------------------
# umount returns once the server has let go of the upper directory, even
# after a server that keeps many files open.
if "$STRATA" -q mount --layer top --layer bot --upper "$s/up2" "$mp"; then
    for i in $(seq 1 300); do echo "$i" >"$mp/n$i"; done
    cat "$mp"/n* >/dev/null
    t_run "umount after 300 writes" "$STRATA" -q umount "$mp"
    t_run "... the same --upper mounts again at once" \
        "$STRATA" -q mount --layer top --layer bot --upper "$s/up2" "$mp"
    t_eq "... and shows the writes" "300 300" "$(ls "$mp" | grep -c '^n') $(cat "$mp/n300")"
    t_run "... umount" "$STRATA" -q umount "$mp"
else
    t_fail "mount with --upper"
fi

# ---- the same with an OPEN request per file ------------------------------
if STRATA_FUSE_NO_OPEN=0 "$STRATA" -q mount --layer top --layer bot "$mp" && is_mounted "$mp"; then
    t_ok "mount with STRATA_FUSE_NO_OPEN=0"
    check_content "$mp" "with open"
    t_eq "with open: top overrides bottom" "top" "$(cat "$mp/shared/over.txt")"
    t_run "with open: umount" "$STRATA" umount "$mp"
else
    t_fail "mount with STRATA_FUSE_NO_OPEN=0"
fi

# ---- errors of the background server reach the user ----------------------
t_err "mount of a missing layer: two-line error" 1 "$STRATA" mount --layer nope "$mp"
[[ "$ERR" == *"nope"* ]] && t_ok "... naming it" || t_fail "... naming it" "$ERR"
not_mounted "$mp" && t_ok "... nothing mounted" || t_fail "... nothing mounted"

# ---- --foreground and SIGTERM --------------------------------------------
"$STRATA" mount --foreground --layer top --layer bot "$mp" 2>"$s/fg.err" &
FG_PID=$!
if wait_for 20 is_mounted "$mp"; then
    t_ok "--foreground mounts"
    t_eq "... and serves" "top" "$(cat "$mp/shared/over.txt")"
    kill -TERM "$FG_PID"
    wait_for 20 gone "$FG_PID" && t_ok "SIGTERM ends the server" || t_fail "SIGTERM ends the server"
    wait "$FG_PID"
    t_eq "... with exit 0" "0" "$?"
    FG_PID=""
    not_mounted "$mp" && t_ok "... and unmounts" || t_fail "... and unmounts"
    t_eq "... the mountpoint is empty" "" "$(ls -A "$mp")"
else
    t_fail "--foreground mounts" "$(cat "$s/fg.err")"
fi

# A mount whose server died is unmounted like any other.
t_cmd "$STRATA" mount --layer one "$mp"
server=$(printf '%s\n' "$ERR" | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
if [ "$RC" = 0 ] && [ -n "$server" ] && kill -KILL "$server" && wait_for 10 gone "$server"; then
    t_cmd ls "$mp"
    [[ "$ERR" == *"not connected"* ]] && t_ok "a killed server leaves a dead mount" ||
        t_fail "a killed server leaves a dead mount" "$ERR"
    t_run "umount of a dead mount" "$STRATA" umount "$mp"
    not_mounted "$mp" && t_ok "... it is gone" || t_fail "... it is gone"
else
    t_fail "find and kill the server" "pid '$server'"
fi

# ---- --backend none -------------------------------------------------------
t_run "mount --backend none writes the view out" \
    "$STRATA" -q mount --backend none --layer top --layer bot "$s/copy"
"$TESTTOOL" tree-list "$s/copy" >"$s/copy.list"
cmp -s "$s/want.list" "$s/copy.list" && t_ok "... exactly the merged tree" ||
    t_fail "... exactly the merged tree" "$(diff "$s/want.list" "$s/copy.list" | head)"
not_mounted "$s/copy" && t_ok "... and mounts nothing" || t_fail "... and mounts nothing"

# ---- sanitizers ---------------------------------------------------------
reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
