#!/usr/bin/env bash
# `strata run` over real FUSE mounts, checked against plain files:
#
#  - read-through: a command reads files of two dependency layers (one
#    over the other), every byte as imported (sha256 of each file, 1,000
#    random reads of a 3 MiB file), and captures nothing;
#  - write-back: creates, a copy-up overwrite (whole and in place),
#    append, truncate, chmod of a file and a directory, symbolic links,
#    hard links (of a new and of a lower file), renames of a lower file
#    and a merged lower directory tree, deletes of a lower file and a
#    merged lower directory. The same script run on a plain copy of the
#    view gives the expected tree: the mount shows exactly it, the captured
#    layer holds exactly the changes (every entry and whiteout listed), the
#    layer stacked on the view gives it back, and the dependency layers
#    stay as imported (same digests, fsck clean, exports equal the sources);
#  - fuse and none capture the same layer (same digest, exact listing) for
#    creates, changes and deletes of files and a lower directory, a renamed
#    lower directory, chmod, a symbolic link, a new empty directory and
#    deleted-then-recreated lower directories;
#  - without libfuse (STRATA_LIBFUSE=/nonexistent), --backend fuse is a
#    two-line error, and the default backend falls back to none with a
#    one-line note and captures that same layer;
#  - lifecycle: SIGTERM, SIGINT and SIGHUP during a FUSE run are passed on
#    to the command, and strata exits 128 + N having captured nothing and
#    left no mount and no directory in $TMPDIR; so does a command that
#    traps SIGTERM and exits 0, and a command that leaves a process behind
#    in the mount does not keep it mounted.
#
# Readiness is a real condition (a marker file, the mount table) polled
# against a deadline. Whatever happens, no mount and no process started
# here outlives the script. Skipped (a failure under
# STRATA_REQUIRE_MOUNT=1) where /dev/fuse is missing.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
umask 022
export STRATA_STORE=$s/store
export TMPDIR=$s/tmp
mkdir -p "$TMPDIR"
# Under ASan, reports go to files, checked at the end.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"

PIDS=()
sb_cleanup() {
    local p mp
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    awk -v t="$s" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r mp; do
            fusermount3 -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
        done
    t_cleanup
}
trap sb_cleanup EXIT

# Mounts at or under $TMPDIR (field 5 of mountinfo is the mount point), and
# whatever is left in $TMPDIR.
mounts() { awk -v t="$TMPDIR" 'index($5, t) == 1' /proc/self/mountinfo | wc -l; }
fuse_mounts() { awk -v t="$TMPDIR" 'index($5, t) == 1 && / - fuse\.strata /' /proc/self/mountinfo | wc -l; }
leftovers() { find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l; }
ref_digest() { "$STRATA" refs | sed -n "s/^$1 //p"; }

# ls_lines DIR PATH...: the lines `strata ls -R -l` prints for the given
# entries of the plain tree DIR; a PATH ending in /** stands for an entry
# and everything below it. Made from one tree-list of DIR.
ls_lines() {
    local dir=$1
    shift
    "$TESTTOOL" tree-list "$dir" | awk -F'\t' -v want="$*" '
        function perm(m,   s, i, d) {
            s = ""
            for (i = 2; i <= 4; i++) {
                d = substr(m, i, 1) + 0
                s = s (int(d / 4) % 2 ? "r" : "-") (int(d / 2) % 2 ? "w" : "-") (d % 2 ? "x" : "-")
            }
            return s
        }
        BEGIN {
            n = split(want, w, " ")
            for (i = 1; i <= n; i++)
                if (w[i] ~ /\/\*\*$/) tree[substr(w[i], 1, length(w[i]) - 3)] = 1
                else exact[w[i]] = 1
        }
        {
            ok = ($1 in exact)
            for (t in tree) if ($1 == t || index($1, t "/") == 1) ok = 1
            if (!ok) next
            if ($2 == "d") printf "d%s %12s %-71s %s/\n", perm($3), "-", "-", $1
            else if ($2 == "l") printf "l%s %12s %-71s %s -> %s\n", perm($3), $4, "-", $1, $5
            else printf "-%s %12s %-71s %s\n", perm($3), $4, "sha256:" $5, $1
        }'
}
whiteout() { printf '%s %12s %-71s %s (whiteout)\n' c--------- - - "$1"; }
# list_eq NAME WANTFILE GOTFILE: exact equality, with the diff on failure.
list_eq() {
    if cmp -s "$2" "$3"; then
        t_ok "$1 ($(wc -l <"$2") entries)"
    else
        t_fail "$1" "$(diff "$2" "$3" | head -30)"
    fi
}

# ---- the dependency layers ----------------------------------------------
# a is the bottom, b the top; both have tree/ and deldir/ (merged in the
# view, b's files over a's where the names meet), over.txt and lib/.
a=$s/src/a b=$s/src/b
"$TESTTOOL" gen-tree "$a/tree" 300 1
"$TESTTOOL" gen-tree "$a/deldir" 100 2
"$TESTTOOL" gen-file "$a/big.bin" $(((3 << 20) + 7)) 3
"$TESTTOOL" gen-file "$a/trunc.bin" 100000 4
mkdir -p "$a/lib" "$a/keep" "$a/mdir" "$a/empty" "$a/redo/sub"
printf 'bottom over\n' >"$a/over.txt"
printf 'first line\n' >"$a/app.txt"
printf 'to be renamed\n' >"$a/ren.txt"
printf 'to be deleted\n' >"$a/del.txt"
printf 'hl source\n' >"$a/hl-src.txt"
printf '#!/bin/sh\necho mode\n' >"$a/mode.sh"
printf 'liba\n' >"$a/lib/liba.txt"
printf 'kept\n' >"$a/keep/k1"
printf 'in mdir\n' >"$a/mdir/f"
printf 'same\n' >"$a/redo/keep"
printf 'old\n' >"$a/redo/old1"
printf 'old sub\n' >"$a/redo/sub/s"
ln -s tree/t00 "$a/lnk"
"$TESTTOOL" gen-tree "$b/tree" 100 5
"$TESTTOOL" gen-tree "$b/deldir" 30 6
"$TESTTOOL" gen-file "$b/big2.bin" $(((5 << 20) + 3)) 7
mkdir -p "$b/lib"
printf 'top over, longer than the bottom one\n' >"$b/over.txt"
printf 'b only\n' >"$b/b-only.txt"
printf 'libb\n' >"$b/lib/libb.txt"

t_run "import a" "$STRATA" import -q "$a" --name a
t_run "import b" "$STRATA" import -q "$b" --name b
deps_before=$("$STRATA" refs)

# The view as plain files: the sources of a, then b's copied over them.
mkdir "$s/view" && cp -a "$a/." "$s/view/" && cp -a "$b/." "$s/view/"
"$TESTTOOL" tree-list "$s/view" >"$s/view.list"

# ---- mixed changes, which fuse and none must capture alike ----------------
cat >"$s/ops7.sh" <<'SH'
set -e
echo c7 >created.txt
printf 'changed\n' >over.txt
chmod 600 b-only.txt
rm lib/liba.txt
chmod 750 lib
rm -r deldir
mv tree tree2
ln -s ../over.txt lib/over-link
mkdir emptynew
rm -r redo && mkdir redo && echo same >redo/keep && echo fresh >redo/new
rm -r empty && mkdir -m 700 empty
rm -r mdir && mkdir mdir
SH
cp -a "$s/view" "$s/want7"
if (cd "$s/want7" && sh "$s/ops7.sh"); then
    t_ok "mixed changes: the script on a plain copy"
else
    t_fail "mixed changes: the script on a plain copy"
fi
"$TESTTOOL" tree-list "$s/want7" >"$s/want7.list"
{
    ls_lines "$s/want7" created.txt over.txt b-only.txt lib lib/over-link emptynew redo \
        redo/new empty mdir 'tree2/**'
    for p in lib/liba.txt deldir tree redo/old1 redo/sub mdir/f; do whiteout "$p"; done
} | LC_ALL=C sort >"$s/want7.ls"
# What strata counts: the new entries (tree2's whole subtree among them),
# the changed ones (contents or mode), the whiteouts.
ntree7=$(cd "$s/want7" && find tree2 | wc -l)
counts7="$((4 + ntree7)) added, 4 changed, 6 deleted"
check7() { # NAME REF: the layer REF holds exactly the mixed changes
    "$STRATA" ls -R -l "$2" | LC_ALL=C sort >"$s/got7.ls"
    list_eq "$1: the layer holds exactly the changes" "$s/want7.ls" "$s/got7.ls"
    rm -rf "$s/stack7"
    "$STRATA" -q mount --backend none --layer "$2" --layer b --layer a "$s/stack7"
    "$TESTTOOL" tree-list "$s/stack7" >"$s/stack7.list"
    list_eq "$1: stacked on the view it gives the expected tree" "$s/want7.list" "$s/stack7.list"
}

t_cmd "$STRATA" run --backend none -l b -l a --out n7 -- sh "$s/ops7.sh"
t_eq "none: the mixed changes: exit 0" "0" "$RC"
check7 "none" n7
n7=$(ref_digest n7)

# ---- without libfuse ------------------------------------------------------
t_err "no libfuse: --backend fuse is a two-line error" 1 \
    env STRATA_LIBFUSE=/nonexistent "$STRATA" run --backend fuse -l b -l a --out nolib -- sh "$s/ops7.sh"
[[ "$ERR" == "strata: "*"no transport could mount: fuse: libfuse3 is not installed"* &&
    "$ERR" == *"hint: fuse: install FUSE 3: apt install fuse3"* ]] &&
    t_ok "... saying libfuse3 is missing, and how to install it" ||
    t_fail "... saying libfuse3 is missing, and how to install it" "$ERR"
t_eq "... sets no ref" "" "$(ref_digest nolib)"
t_eq "... leaves nothing in TMPDIR" "0" "$(leftovers)"
t_cmd env STRATA_LIBFUSE=/nonexistent "$STRATA" run -l b -l a --out fb7 -- sh "$s/ops7.sh"
t_eq "no libfuse, default backend: the command runs" "0" "$RC"
note=$(printf '%s\n' "$ERR" | sed -n 1p)
[[ "$note" == "strata run: no FUSE mount ("*"); running with backend none"* ]] &&
    t_ok "... a one-line note: falls back to none" || t_fail "... a one-line note: falls back to none" "$ERR"
t_eq "... then just what it captured" "captured $n7 as fb7: $counts7" \
    "$(printf '%s\n' "$ERR" | sed -n '2,$p')"
t_eq "... the same layer as --backend none" "$n7" "$(ref_digest fb7)"
t_eq "... leaves nothing in TMPDIR" "0" "$(leftovers)"

if [ ! -e /dev/fuse ]; then
    t_skip "strata run over FUSE" "/dev/fuse is missing"
    t_done
    exit
fi

# ---- fuse captures what none captures -------------------------------------
t_cmd "$STRATA" run --backend fuse -l b -l a --out f7 -- sh "$s/ops7.sh"
t_eq "fuse: the mixed changes: exit 0, strata says only what it captured" \
    "0:captured $n7 as f7: $counts7" "$RC:$ERR"
t_eq "fuse and none capture the same layer" "$n7" "$(ref_digest f7)"
check7 "fuse" f7
t_eq "fuse: no mount and nothing left in TMPDIR" "0 0" "$(mounts) $(leftovers)"

# ---- dependency read-through --------------------------------------------
# Reads in the mount: random reads first (nothing cached yet), then
# the sha256 of named files of either layer, then every file of the view.
cat >"$s/read1.sh" <<SH
set -e
awk -v d="\$(pwd -P)" '\$5 == d && / - fuse\\.strata /' /proc/self/mountinfo | grep -q . || { echo "not a FUSE mount" >&2; exit 1; }
"$TESTTOOL" cmp-random "$a/big.bin" big.bin 1000 11
"$TESTTOOL" cmp-random "$b/big2.bin" big2.bin 200 12
for f in big.bin big2.bin lib/liba.txt lib/libb.txt over.txt b-only.txt tree/t00/u000/f000000.dat tree/t04/u000/f000299.dat deldir/t01/u000/f000099.dat; do
    echo "\$f \$("$TESTTOOL" sha256 "\$f")"
done
"$TESTTOOL" tree-list . >"$s/read1.list"
SH
{
    for f in big.bin lib/liba.txt tree/t04/u000/f000299.dat deldir/t01/u000/f000099.dat; do
        echo "$f $(sha256sum <"$a/$f" | cut -c1-64)"
    done
    for f in big2.bin lib/libb.txt over.txt b-only.txt tree/t00/u000/f000000.dat; do
        echo "$f $(sha256sum <"$b/$f" | cut -c1-64)"
    done
} | sort >"$s/read1.want"
t_cmd "$STRATA" run --backend fuse -l b -l a --out r1 -- sh "$s/read1.sh"
t_eq "read-through: the command succeeds" "0" "$RC"
[[ "$OUT" == "1000 random reads match"$'\n'"200 random reads match"$'\n'* ]] &&
    t_ok "read-through: 1,200 random reads match the sources" ||
    t_fail "read-through: 1,200 random reads match the sources" "$OUT
$ERR"
printf '%s\n' "$OUT" | sed 1,2d | sort >"$s/read1.got"
list_eq "read-through: files of both layers, sha256 as imported" "$s/read1.want" "$s/read1.got"
list_eq "read-through: the mount shows exactly the view" "$s/view.list" "$s/read1.list"
[[ "$ERR" == "captured sha256:"*" as r1: 0 added, 0 changed, 0 deleted" ]] &&
    t_ok "read-through: reading changes nothing" || t_fail "read-through: reading changes nothing" "$ERR"
t_eq "... the captured layer is empty" "" "$("$STRATA" ls -R r1)"

# ---- upper write-back ---------------------------------------------------
# The same script runs on a plain copy of the view (the expected tree) and
# in the FUSE run; it checks hard links itself, and in the run it lists
# the tree it leaves from inside the mount.
cat >"$s/ops3.sh" <<'SH'
set -e
echo created >new.txt
mkdir newdir && echo nested >newdir/n.txt
echo in-lower-dir >keep/added.txt
printf 'overwritten\n' >over.txt
printf 'XYZ' | dd of=big.bin bs=1 seek=1000000 conv=notrunc 2>/dev/null
echo appended >>app.txt
truncate -s 1000 trunc.bin
chmod 755 mode.sh
chmod 700 mdir
ln -s tree-moved/t00 sl
ln -s nowhere dangling
ln new.txt new-hl.txt
echo via-new-hl >>new-hl.txt
ln hl-src.txt hl.txt
echo via-link >>hl.txt
[ "$(stat -c %i new.txt)" = "$(stat -c %i new-hl.txt)" ] && [ "$(stat -c %h new.txt)" = 2 ] ||
    { echo "new.txt and new-hl.txt: not one file" >&2; exit 1; }
[ "$(stat -c %i hl-src.txt)" = "$(stat -c %i hl.txt)" ] && [ "$(stat -c %h hl-src.txt)" = 2 ] ||
    { echo "hl-src.txt and hl.txt: not one file" >&2; exit 1; }
[ "$(cat hl-src.txt)" = "$(printf 'hl source\nvia-link')" ] &&
    [ "$(cat new.txt)" = "$(printf 'created\nvia-new-hl')" ] ||
    { echo "a write through one link is not seen through the other" >&2; exit 1; }
mv ren.txt renamed.txt
mv tree tree-moved
rm del.txt
rm -r deldir
[ ! -e tree ] && [ ! -e deldir ] && [ ! -e ren.txt ] && [ ! -e del.txt ] ||
    { echo "a removed name is still there" >&2; exit 1; }
[ -z "${LIST:-}" ] || "$TESTTOOL" tree-list . >"$LIST"
SH
cp -a "$s/view" "$s/want3"
if (cd "$s/want3" && TESTTOOL=$TESTTOOL sh "$s/ops3.sh"); then
    t_ok "write-back: the script on a plain copy"
else
    t_fail "write-back: the script on a plain copy"
fi
"$TESTTOOL" tree-list "$s/want3" >"$s/want3.list"
ntree=$(cd "$s/want3" && find tree-moved | wc -l)
{
    ls_lines "$s/want3" new.txt newdir newdir/n.txt keep keep/added.txt over.txt big.bin \
        app.txt trunc.bin mode.sh mdir sl dangling new-hl.txt hl-src.txt hl.txt renamed.txt \
        'tree-moved/**'
    for p in ren.txt tree del.txt deldir; do whiteout "$p"; done
} | LC_ALL=C sort >"$s/want3.ls"

t_cmd env LIST="$s/got3.list" TESTTOOL="$TESTTOOL" \
    "$STRATA" run --backend fuse -l b -l a --out w3 -- sh "$s/ops3.sh"
[ "$RC:$OUT" = "0:" ] && t_ok "write-back: every operation succeeds in the mount, hard links included" ||
    t_fail "write-back: every operation succeeds in the mount, hard links included" "exit $RC: $OUT $ERR"
list_eq "write-back: the mount shows exactly the expected tree" "$s/want3.list" "$s/got3.list"
[[ "$ERR" == "captured sha256:"*" as w3: $((9 + ntree)) added, 7 changed, 4 deleted" ]] &&
    t_ok "write-back: strata counts the changes" ||
    t_fail "write-back: strata counts the changes" "want $((9 + ntree)) added, 7 changed, 4 deleted: $ERR"
"$STRATA" ls -R -l w3 | LC_ALL=C sort >"$s/got3.ls"
list_eq "write-back: the layer holds exactly the changes and whiteouts" "$s/want3.ls" "$s/got3.ls"
"$STRATA" -q mount --backend none --layer w3 --layer b --layer a "$s/stack3"
"$TESTTOOL" tree-list "$s/stack3" >"$s/stack3.list"
list_eq "write-back: the layer stacked on the view gives the expected tree" "$s/want3.list" "$s/stack3.list"
t_cmd "$STRATA" run -q --backend fuse -l w3 -l b -l a -- "$TESTTOOL" tree-list .
printf '%s\n' "$OUT" >"$s/stack3f.list"
list_eq "write-back: ... and so does that stack over FUSE" "$s/want3.list" "$s/stack3f.list"
t_eq "write-back: no mount and nothing left in TMPDIR" "0 0" "$(mounts) $(leftovers)"

# ---- lifecycle ----------------------------------------------------------
# The command writes to the view, says it is ready (its own pid, as the
# exec'd sleep keeps it) and waits; then strata gets signal SIG.
sig_case() {
    local sig=$1 num=$2 pid cmd rc
    rm -f "$s/ready" "$s/ready.tmp"
    cmd="echo data >out.txt; echo \$\$ >'$s/ready.tmp'; mv '$s/ready.tmp' '$s/ready'; exec sleep 120"
    "$STRATA" run --backend fuse -l b -l a --out "sig-$sig" -- sh -c "$cmd" 2>"$s/sig.err" &
    pid=$!
    PIDS+=("$pid")
    if ! wait_for 30 test -s "$s/ready"; then
        t_fail "SIG$sig: the command starts" "$(cat "$s/sig.err")"
        return
    fi
    PIDS+=("$(cat "$s/ready")")
    t_eq "SIG$sig: the command runs in a FUSE mount in TMPDIR" "1" "$(fuse_mounts)"
    kill "-$sig" "$pid"
    wait "$pid"
    rc=$?
    t_eq "SIG$sig: exit $((128 + num))" "$((128 + num))" "$rc"
    t_eq "SIG$sig: strata says so" "strata run: stopped by signal $num; nothing captured" "$(cat "$s/sig.err")"
    wait_for 10 gone "$(cat "$s/ready")" && t_ok "SIG$sig: the command got the signal" ||
        t_fail "SIG$sig: the command got the signal" "$(cat "/proc/$(cat "$s/ready")/status" 2>&1 | head -3)"
    t_eq "SIG$sig: no mount left" "0" "$(mounts)"
    t_eq "SIG$sig: TMPDIR is empty" "" "$(ls -A "$TMPDIR")"
    t_eq "SIG$sig: no ref set" "" "$(ref_digest "sig-$sig")"
    PIDS=()
}
sig_case TERM 15
sig_case INT 2
sig_case HUP 1

# A command that traps SIGTERM and exits 0 was still stopped by it.
rm -f "$s/ready" "$s/trapped"
"$STRATA" run --backend fuse -l b -l a --out trapped -- sh -c "trap 'echo trapped >\"$s/trapped\"; exit 0' TERM
echo data >out.txt; echo ready >'$s/ready'; while :; do sleep 0.05; done" 2>"$s/sig.err" &
pid=$!
PIDS+=("$pid")
if wait_for 30 test -s "$s/ready"; then
    kill -TERM "$pid"
    wait "$pid"
    t_eq "a command that traps SIGTERM and exits 0: strata exits 143" "143" "$?"
    t_eq "... the command's trap ran" "trapped" "$(cat "$s/trapped" 2>&1)"
    t_eq "... strata says nothing was captured" \
        "strata run: stopped by signal 15; nothing captured" "$(cat "$s/sig.err")"
    t_eq "... no ref set" "" "$(ref_digest trapped)"
    t_eq "... no mount, TMPDIR empty" "0:" "$(mounts):$(ls -A "$TMPDIR")"
    PIDS=()
else
    t_fail "a command that traps SIGTERM: starts" "$(cat "$s/sig.err")"
fi

# A process the command leaves behind, its working directory in the mount,
# does not keep the mount: strata exits, and nothing is left in TMPDIR.
rm -f "$s/stray"
t_cmd "$STRATA" run --backend fuse -l b -l a --out stray -- \
    sh -c "sleep 120 </dev/null >/dev/null 2>&1 & echo \$! >'$s/stray'; echo x >x.txt"
[ -s "$s/stray" ] && PIDS+=("$(cat "$s/stray")")
[[ "$RC:$ERR" == "0:captured sha256:"*" as stray: 1 added, 0 changed, 0 deleted" ]] &&
    t_ok "a process left in the mount: the run completes and captures" ||
    t_fail "a process left in the mount: the run completes and captures" "$RC: $ERR"
t_eq "... no mount, TMPDIR empty" "0:" "$(mounts):$(ls -A "$TMPDIR")"
[ -s "$s/stray" ] && kill -KILL "$(cat "$s/stray")" 2>/dev/null
PIDS=()

# ---- the dependency layers are as imported --------------------------------
t_eq "the deps' digests are unchanged" "$(printf '%s\n' "$deps_before")" \
    "$("$STRATA" refs | grep -E '^(a|b) ')"
t_cmd "$STRATA" fsck
t_eq "fsck is clean" "0" "$RC"
for l in a b; do
    rm -rf "$s/exp-$l"
    "$STRATA" -q export "$l" "$s/exp-$l"
    "$TESTTOOL" tree-list "$s/src/$l" >"$s/src-$l.list"
    "$TESTTOOL" tree-list "$s/exp-$l" >"$s/exp-$l.list"
    list_eq "layer $l exported again equals its source" "$s/src-$l.list" "$s/exp-$l.list"
done

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
