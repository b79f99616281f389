#!/usr/bin/env bash
# The differential random-operation test of diffops.sh, over strata's NFS
# server (`strata mount --backend nfs --serve-only --upper DIR`) and libnfs
# instead of FUSE: a seeded sequence of 3,000 file operations (÷ T_SCALE;
# strata-nfsops says which, and what NFSv3 and libnfs leave out) is applied
# both through NFS and to a plain directory that starts as a copy of what
# the server's layers show: two imported trees and, over them, edits
# captured by strata run (whiteouts, a directory made anew, changes of
# kind). Every operation must return the same on both (value, errno,
# bytes), and the trees must stay equal (names, kinds, modes, sizes, link
# counts, contents, link targets, explicitly set mtimes). Then the server
# is stopped (SIGTERM: it must exit 0) and the same upper directory served
# again: the tree must still be the plain one. Then the upper directory is
# captured as a layer (its fifos unlinked first, through NFS and in the
# plain copy alike: a layer holds none), and that layer over the three
# must show what the plain copy holds: both written out as plain files
# and imported give the same layer digest. Run with a fixed seed, then
# with one from $RANDOM (printed).
#
# A failure prints its seed and step; replay it with
#   NFSDIFFOPS_SEED=SEED NFSDIFFOPS_COUNT=STEPS NFSDIFFOPS_VERBOSE=1 \
#       tests/run --only nfsdiffops BUILD
# Afterwards the store must be intact: fsck passes and the layers are
# unchanged. Skips only where strata-nfsops was not built (no libnfs).
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
NFSOPS=${NFSOPS:-$BUILD/strata-nfsops}
FSOPS=${FSOPS:-$BUILD/strata-fsops}

# Under ASan, reports of the servers (whose stderr is a file) go to files,
# checked at the end. libnfs 4.0 itself leaks 24 bytes per mounted context
# (in strata-nfsops, under ASan); that is its business, not the server's.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"
printf 'leak:libnfs.so\n' >"$s/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$s/lsan.supp:print_suppressions=0"

SRV=""
n_cleanup() {
    [ -n "$SRV" ] && kill -KILL "$SRV" 2>/dev/null
    t_cleanup
}
trap n_cleanup EXIT

if [ ! -x "$NFSOPS" ]; then
    t_skip "differential random operations over NFS" "strata-nfsops was not built (install libnfs-dev)"
    t_done
    exit
fi

COUNT=${NFSDIFFOPS_COUNT:-$((3000 / T_SCALE))}
VERBOSE=${NFSDIFFOPS_VERBOSE:+-v}
ref_digest() { "$STRATA" refs | awk -v r="$1" '$1 == r { print $2 }'; }

# ---- the layers: diffops.sh's, to the edits captured by a run -----------
# The tree's seed is fixed: a failure replays from the operations' seed.
"$FSOPS" gen-layers "$s/bot" "$s/top" "$s/merged" 7 || exit 1
t_run "import the bottom layer" "$STRATA" -q import "$s/bot" --name bot
t_run "import the top layer" "$STRATA" -q import "$s/top" --name top
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
LAYERS=(-l edits -l top -l bot)
layers_before="$(ref_digest bot) $(ref_digest top) $(ref_digest edits)"

# serve UPPER NAME: starts the NFS server of the three layers over UPPER in
# the background (SRV), its URL in $s/url.NAME; false if none comes.
serve() {
    "$STRATA" mount --backend nfs --serve-only "${LAYERS[@]}" --upper "$1" \
        >"$s/url.$2" 2>"$s/serve.$2.err" &
    SRV=$!
    URLF=$s/url.$2
    wait_for 30 has_url
}
has_url() { grep -qs '^nfs://127.0.0.1/?nfsport=[0-9]*&mountport=[0-9]*&version=3$' "$URLF"; }

# stop NAME: SIGTERM, and the server must exit 0.
stop() {
    kill -TERM "$SRV"
    wait "$SRV"
    local rc=$?
    SRV=""
    t_eq "$1: SIGTERM stops the server, exit 0" "0" "$rc"
}

# run_seed SEED: a fresh plain copy and upper directory, COUNT operations
# of SEED on both; then the same upper served again, captured, and
# compared with the plain copy.
run_seed() {
    local seed=$1 plain=$s/plain.$1 up=$s/upper.$1 rc step url
    local name="seed $seed: $COUNT operations agree over NFS and on a plain directory"
    cp -a "$s/merged" "$plain" || return 1
    if ! serve "$up" "$seed"; then
        t_fail "seed $seed: the server prints its client URL" "$(cat "$s/url.$seed" "$s/serve.$seed.err")"
        return 1
    fi
    url=$(cat "$s/url.$seed")
    # A deadline, in case the server hangs: the output then ends early.
    timeout -k 10 600 "$NFSOPS" diff "$url" "$plain" "$COUNT" "$seed" $VERBOSE \
        --mtimes "$s/mtimes.$seed" >"$s/out.$seed" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then
        t_ok "$name, trees equal throughout"
        sed 's/^/# /' "$s/out.$seed"
    else
        step=$(sed -n 's/^MISMATCH seed=[0-9]* step=\([0-9]*\).*/\1/p' "$s/out.$seed")
        t_fail "$name" "exit $rc$([ "$rc" = 124 ] && echo ' (timed out: a hang?)')
$(tail -n 60 "$s/out.$seed")
replay: NFSDIFFOPS_SEED=$seed NFSDIFFOPS_COUNT=$((${step:-$COUNT} + 1)) NFSDIFFOPS_VERBOSE=1 tests/run --only nfsdiffops $(basename "$BUILD")"
    fi
    stop "seed $seed"
    [ "$rc" = 0 ] || return 1

    # The upper directory alone must hold the same tree for a new server
    # (the old handles are stale now: a new instance), mtimes included.
    if ! serve "$up" "$seed.again"; then
        t_fail "seed $seed: serve the same upper directory again" "$(cat "$s/serve.$seed.again.err")"
        return 1
    fi
    url=$(cat "$s/url.$seed.again")
    t_cmd "$NFSOPS" diff "$url" "$plain" 0 "$seed" --mtimes "$s/mtimes.$seed"
    [ "$RC" = 0 ] && t_ok "seed $seed: served again from its upper directory, still equal" ||
        t_fail "seed $seed: served again from its upper directory, still equal" "$OUT$ERR"
    t_cmd "$NFSOPS" unfifo "$url" "$plain"
    [ "$RC" = 0 ] && t_ok "seed $seed: its fifos unlinked alike ($OUT)" ||
        t_fail "seed $seed: its fifos unlinked alike" "$OUT$ERR"
    stop "seed $seed, served again"

    # The captured layer over the three shows the plain copy: both written
    # out and imported give one digest (import keeps names, kinds, 0777
    # modes, contents and link targets).
    t_cmd "$STRATA" -q capture "${LAYERS[@]}" --name "cap.$seed" "$up"
    t_eq "seed $seed: the upper directory is captured" "0" "$RC"
    t_run "seed $seed: the captured layer over the three, written out" \
        "$STRATA" -q mount --backend none -l "cap.$seed" "${LAYERS[@]}" "$s/out.$seed.tree"
    local want got
    want=$("$STRATA" -q import "$plain" --name "plain.$seed")
    got=$("$STRATA" -q import "$s/out.$seed.tree" --name "view.$seed")
    if [ -n "$want" ] && [ "$want" = "$got" ]; then
        t_ok "seed $seed: the capture over the layers is the plain copy ($want)"
    else
        t_fail "seed $seed: the capture over the layers is the plain copy" \
            "plain $want, captured view $got
$(diff <("$STRATA" ls -R -l "plain.$seed" 2>&1) <("$STRATA" ls -R -l "view.$seed" 2>&1) | head -30)"
    fi
}

if [ -n "${NFSDIFFOPS_SEED:-}" ]; then
    echo "# replaying seed $NFSDIFFOPS_SEED, $COUNT operations"
    run_seed "$NFSDIFFOPS_SEED"
else
    run_seed 2
    seed=$RANDOM
    echo "# random seed: $seed (replay: NFSDIFFOPS_SEED=$seed)"
    run_seed "$seed"
fi

# ---- the store is intact ------------------------------------------------
t_run "fsck passes" "$STRATA" fsck
t_eq "the layers' digests are unchanged" "$layers_before" \
    "$(ref_digest bot) $(ref_digest top) $(ref_digest edits)"
"$STRATA" -q export bot "$s/bot.out" && "$TESTTOOL" tree-list "$s/bot" >"$s/bot.want" &&
    "$TESTTOOL" tree-list "$s/bot.out" >"$s/bot.got"
cmp -s "$s/bot.want" "$s/bot.got" && t_ok "the bottom layer exports as it was imported" ||
    t_fail "the bottom layer exports as it was imported" "$(diff "$s/bot.want" "$s/bot.got" | head)"

# ---- sanitizers ---------------------------------------------------------
reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
