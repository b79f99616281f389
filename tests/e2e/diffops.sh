#!/usr/bin/env bash
# Differential test of the writable mount: a seeded random sequence of
# 10,000 file operations (writes at random offsets, appends, truncations,
# O_TRUNC and O_EXCL opens, reads, chmod, utimensat, mkdir, rmdir, unlink,
# rename of files and directories, lower ones included, renameat2 with
# RENAME_NOREPLACE and RENAME_EXCHANGE, symlinks, hard links, fifos, user.*
# extended attributes, descriptors held open across steps) is applied both
# to a strata mount with an upper directory and to a plain directory that
# starts as a copy of what the mount's layers show: two imported trees
# and, over them, edits captured by strata run (whiteouts, a directory
# made anew, changes of kind). Every operation must return the same on
# both (value, errno, bytes), and the trees must stay equal after every
# step (strata-fsops diff says exactly what is compared), and again when
# the upper directory is mounted anew. Run with a fixed seed, a second
# one with kernel invalidations on (STRATA_FUSE_INVAL=1, what macFUSE
# mounts do), then with one from $RANDOM.
#
# A failure prints its seed and step; replay it with
#   DIFFOPS_SEED=SEED DIFFOPS_COUNT=STEPS tests/run --only diffops BUILD
# (add DIFFOPS_VERBOSE=1 to print every step). Afterwards the store must
# be intact: fsck passes and the layers are unchanged.
#
# Readiness is always a real condition (the mount table) polled against a
# deadline. Every mount made here is removed on exit.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
FSOPS=${FSOPS:-$BUILD/strata-fsops}

# Under ASan, reports of the background servers (whose stderr is
# /dev/null) go to files, checked at the end.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"

if [ ! -e /dev/fuse ]; then
    t_skip "differential random operations" "/dev/fuse is missing"
    t_done
    exit
fi

COUNT=${DIFFOPS_COUNT:-$((10000 / T_SCALE))}
VERBOSE=${DIFFOPS_VERBOSE:+-v}

# ---- the layers: small, nested, some files spilled (> 64 KiB) ------------
# The tree's seed is fixed: a failure replays from the operations' seed.
"$FSOPS" gen-layers "$s/bot" "$s/top" "$s/merged" 7 || exit 1
n=$(find "$s/merged" -mindepth 1 | wc -l)
big=$(find "$s/merged" -type f -size +64k | wc -l)
links=$(find "$s/merged" -type l | wc -l)
deep=$(find "$s/merged" -mindepth 3 -type d | wc -l)
exe=$(find "$s/merged" -type f -perm -100 | wc -l)
[ "$n" -ge 40 ] && [ "$n" -le 80 ] && [ "$big" -ge 2 ] && [ "$links" -ge 2 ] &&
    [ "$deep" -ge 1 ] && [ "$exe" -ge 1 ] &&
    t_ok "the merged tree: $n entries, $big files over 64 KiB, $links links, exec bits, dirs 3 deep" ||
    t_fail "the merged tree is small, nested and varied" \
        "entries $n, big $big, links $links, deep dirs $deep, executables $exe"
t_run "import the bottom layer" "$STRATA" -q import "$s/bot" --name bot
t_run "import the top layer" "$STRATA" -q import "$s/top" --name top

# A third layer over them, captured by 'strata run' from edits to their
# view: whiteouts of a file and of a whole directory, a directory made
# anew, a file turned into a directory and a directory into a file. The
# same edits on the merged copy give what the three layers show.
cat >"$s/edit.sh" <<'EOF'
set -eu
export LC_ALL=C
nth() { sort | sed -n "$1p"; }
rm "$(find . -mindepth 2 -type f | nth 1)"
rm -r "$(find . -mindepth 1 -maxdepth 1 -type d | nth 1)"
o=$(find . -mindepth 1 -maxdepth 1 -type d | nth 1)
rm -r "$o" && mkdir "$o" && echo anew >"$o/a"
t=$(find . -mindepth 2 -type f | nth 3)
rm "$t" && mkdir "$t" && echo was-a-file >"$t/b"
d=$(find . -mindepth 2 -type d | nth 2)
rm -r "$d" && echo was-a-directory >"$d"
chmod 700 "$(find . -mindepth 2 -type f | nth 4)"
echo added >"$(find . -mindepth 1 -type d | nth 3)/h"
EOF
t_run "capture a layer of edits with strata run" \
    "$STRATA" -q run --layer top --layer bot --out edits -- sh "$s/edit.sh"
t_run "... and make the same edits to the merged copy" sh -c "cd '$s/merged' && sh '$s/edit.sh'"
wh=$("$STRATA" ls -R -l edits | grep -c '(whiteout)')
[ "$wh" -ge 2 ] && t_ok "... the layer holds whiteouts ($wh)" ||
    t_fail "... the layer holds whiteouts" "$("$STRATA" ls -R -l edits 2>&1)"
refs_before=$("$STRATA" refs)

# run_seed SEED: a fresh plain copy, a fresh upper directory and a fresh
# mount, then COUNT operations of SEED on both; then the same upper
# mounted again must still show the plain directory's tree.
run_seed() {
    local seed=$1 plain=$s/plain.$1 up=$s/upper.$1 mp=$s/mnt.$1 rc step server
    local name="seed $seed: $COUNT operations agree on the mount and a plain directory"
    cp -a "$s/merged" "$plain" && mkdir -p "$mp" || return 1
    MOUNTS+=("$mp")
    if ! "$STRATA" mount --layer edits --layer top --layer bot --upper "$up" "$mp" \
        2>"$s/mount.err" || ! is_mounted "$mp"; then
        t_fail "seed $seed: mount with --upper" "$(cat "$s/mount.err")"
        return 1
    fi
    server=$(sed -n 's/.*server pid \([0-9]*\).*/\1/p' "$s/mount.err")
    # A deadline, in case the mount hangs: the output then ends early.
    timeout -k 10 600 "$FSOPS" diff "$mp" "$plain" "$COUNT" "$seed" $VERBOSE >"$s/out.$seed" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then
        t_ok "$name, trees equal after each step"
        sed 's/^/# /' "$s/out.$seed"
    else
        step=$(sed -n 's/^MISMATCH seed=[0-9]* step=\([0-9]*\).*/\1/p' "$s/out.$seed")
        t_fail "$name" "exit $rc$([ "$rc" = 124 ] && echo ' (timed out: a hang?)')
$(tail -n 80 "$s/out.$seed")
replay: DIFFOPS_SEED=$seed DIFFOPS_COUNT=$((${step:-$COUNT} + 1)) DIFFOPS_VERBOSE=1 tests/run --only diffops $(basename "$BUILD")"
    fi
    t_run "seed $seed: umount" "$STRATA" umount "$mp"
    [ -d "$up" ] && [ -n "$(ls -A "$up")" ] && t_ok "seed $seed: the changes are in the upper directory" ||
        t_fail "seed $seed: the changes are in the upper directory" "$(ls -la "$up" 2>&1)"
    [ "$rc" = 0 ] || return 1
    # What the kernel had cached is gone now: the upper directory alone
    # must hold the same tree (compared in full: no operations). The old
    # server holds the upper directory until it has exited, which may be
    # a little after umount returns.
    wait_for 20 gone "$server" || t_fail "seed $seed: the server exits after umount"
    if "$STRATA" -q mount --layer edits --layer top --layer bot --upper "$up" "$mp" &&
        is_mounted "$mp"; then
        t_cmd "$FSOPS" diff "$mp" "$plain" 0 "$seed"
        [ "$RC" = 0 ] && t_ok "seed $seed: mounted again on its upper directory, still equal" ||
            t_fail "seed $seed: mounted again on its upper directory, still equal" "$OUT$ERR"
        t_run "seed $seed: umount again" "$STRATA" umount "$mp"
    else
        t_fail "seed $seed: mount again on the same upper directory"
    fi
}

if [ -n "${DIFFOPS_SEED:-}" ]; then
    echo "# replaying seed $DIFFOPS_SEED, $COUNT operations"
    run_seed "$DIFFOPS_SEED"
else
    run_seed 2
    # The path macFUSE mounts take: every name a create, rename or remove
    # touched is invalidated in the kernel, from the notifier's thread.
    export STRATA_FUSE_INVAL=1
    echo "# seed 3 with STRATA_FUSE_INVAL=1 (kernel invalidations)"
    run_seed 3
    unset STRATA_FUSE_INVAL
    seed=$RANDOM
    echo "# random seed: $seed (replay: DIFFOPS_SEED=$seed)"
    run_seed "$seed"
fi

# ---- the store is intact ------------------------------------------------
t_run "fsck passes" "$STRATA" fsck
t_eq "the layers' refs and digests are unchanged" "$refs_before" "$("$STRATA" refs)"
"$STRATA" -q export bot "$s/bot.out" && "$TESTTOOL" tree-list "$s/bot" >"$s/bot.want" &&
    "$TESTTOOL" tree-list "$s/bot.out" >"$s/bot.got"
cmp -s "$s/bot.want" "$s/bot.got" && t_ok "the bottom layer exports as it was imported" ||
    t_fail "the bottom layer exports as it was imported" "$(diff "$s/bot.want" "$s/bot.got" | head)"

# ---- sanitizers ---------------------------------------------------------
reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
