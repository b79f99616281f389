#!/usr/bin/env bash
# `strata run` over each backend (fuse, then none; fuse is skipped where
# /dev/fuse is missing): a C program whose header comes from one layer and
# whose source from another is built in the sandbox; the captured layer
# holds the binary and the deletion the build made, and stacked on the
# view it gives the tree the build left. Failing commands, a bad --cwd, a
# missing command and SIGTERM leave no layer, no sandbox and no mount.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
export TMPDIR=$s/tmp
# Under ASan, reports go to files, checked at the end.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"
mkdir -p "$TMPDIR" "$s/deps/include" "$s/src/sub"
printf 'int add(int a, int b);\n' >"$s/deps/include/add.h"
printf 'stale\n' >"$s/deps/obsolete.txt"
cat >"$s/src/main.c" <<'C'
#include <stdio.h>
#include "add.h"
int add(int a, int b) { return a + b; }
int main(void) { printf("%d\n", add(2, 3)); return 0; }
C
t_run "import deps" "$STRATA" import -q "$s/deps" --name deps
t_run "import src" "$STRATA" import -q "$s/src" --name src
sandboxes() { find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l; }
# Mounts at or under $TMPDIR (mountinfo's field 5 is the mount point).
mounts() { awk -v t="$TMPDIR" 'index($5, t) == 1' /proc/self/mountinfo | wc -l; }
# Prints the type of the filesystem mounted at the current directory, if
# one is: how a command tells which backend it runs on.
cat >"$s/fstype.sh" <<'SH'
awk -v d="$(pwd -P)" '$5 == d { for (i = 6; i < NF; i++) if ($i == "-") { print $(i + 1); exit } }' /proc/self/mountinfo
SH

STRAY_PID=""
r_cleanup() {
    [ -n "$STRAY_PID" ] && kill -KILL "$STRAY_PID" 2>/dev/null && wait "$STRAY_PID" 2>/dev/null
    awk -v t="$s" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | while read -r mp; do
        fusermount3 -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
    done
    t_cleanup
}
trap r_cleanup EXIT

cases() {
    local b=$1 want_fs=""
    [ "$b" = fuse ] && want_fs=fuse.strata
    t_cmd "$STRATA" run -q --backend "$b" -l src -- sh "$s/fstype.sh"
    t_eq "$b: the command runs on the backend asked for" "0:$want_fs" "$RC:$OUT"

    t_cmd "$STRATA" run --backend "$b" --layer src --layer deps --out "built-$b" -- \
        sh -c 'cc -Iinclude -o prog main.c && rm obsolete.txt && ./prog'
    t_eq "$b: run: the command's output and exit status" "0:5" "$RC:$OUT"
    [[ "$ERR" == "captured sha256:"*" as built-$b: 1 added, 0 changed, 1 deleted" ]] &&
        t_ok "$b: run: says what it captured" || t_fail "$b: run: says what it captured" "$ERR"
    t_eq "$b: run: no sandbox left behind" "0" "$(sandboxes)"
    t_eq "$b: run: no mount left behind" "0" "$(mounts)"
    t_cmd "$STRATA" ls -R -l "built-$b"
    [[ "$OUT" == *"-rwxr-xr-x"*" prog"* ]] && t_ok "$b: the layer holds the binary, executable" ||
        t_fail "$b: the layer holds the binary, executable" "$OUT"
    [[ "$OUT" == *"c---------"*"obsolete.txt (whiteout)"* ]] && t_ok "$b: the layer records the deletion" ||
        t_fail "$b: the layer records the deletion" "$OUT"
    rm -f "$s/prog"
    "$STRATA" cat "built-$b" prog >"$s/prog" && chmod +x "$s/prog"
    t_eq "$b: the captured binary runs" "5" "$("$s/prog")"

    # The captured layer stacked on the view: a second run sees the binary
    # and not the deleted file.
    t_cmd "$STRATA" run --backend "$b" -l "built-$b" -l src -l deps -- \
        sh -c './prog && test ! -e obsolete.txt && cat include/add.h'
    t_eq "$b: stacked: the build's outputs and deletions are seen" "0:5
int add(int a, int b);" "$RC:$OUT"

    # --cwd, and the command's view of its own directory.
    t_cmd "$STRATA" run -q --backend "$b" -l src -l deps --cwd include -- \
        sh -c 'ls; pwd | grep -c "/strata-run-[^/]*/[a-z]*/include$"'
    t_eq "$b: --cwd runs in a subdirectory of the view" "0:add.h
1" "$RC:$OUT"

    # Failures leave nothing.
    t_cmd "$STRATA" run --backend "$b" -l src --out "failed-$b" -- sh -c 'echo partial > out.txt; exit 3'
    t_eq "$b: a failing command: its exit status" "3" "$RC"
    [[ "$ERR" == *"exited with 3; nothing captured"* ]] && t_ok "$b: a failing command: nothing captured" ||
        t_fail "$b: a failing command: nothing captured" "$ERR"
    t_cmd "$STRATA" refs
    [[ "$OUT" != *failed* ]] && t_ok "$b: a failing command sets no ref" ||
        t_fail "$b: a failing command sets no ref" "$OUT"
    t_err "$b: a missing command: exit 1, two lines" 1 "$STRATA" run --backend "$b" -l src -- no-such-command-xyz
    t_err "$b: a --cwd outside the view: exit 1" 1 "$STRATA" run --backend "$b" -l src --cwd ../x -- true
    t_err "$b: a --cwd that does not exist: exit 1" 1 "$STRATA" run --backend "$b" -l src --cwd nope -- true
    t_err "$b: no layers: exit 1" 1 "$STRATA" run --backend "$b" -- true
    t_err "$b: an unknown layer: exit 1" 1 "$STRATA" run --backend "$b" -l nope -- true
    t_cmd "$STRATA" run --backend "$b" -l src
    t_eq "$b: no command: usage error" "2" "$RC"
    t_eq "$b: no sandbox left behind by failures" "0" "$(sandboxes)"
    t_eq "$b: no mount left behind by failures" "0" "$(mounts)"

    # SIGTERM: passed on to the command, the sandbox removed, 128 + 15.
    rm -f "$s/ready"
    "$STRATA" run --backend "$b" -l src -l deps -- sh -c "echo ready > '$s/ready'; exec sleep 60" \
        2>"$s/sigterm.err" &
    STRAY_PID=$!
    local deadline=$((SECONDS + 30))
    until [ -e "$s/ready" ] || [ $SECONDS -ge $deadline ]; do sleep 0.01; done
    kill -TERM "$STRAY_PID"
    wait "$STRAY_PID"
    t_eq "$b: SIGTERM: exit 143" "143" "$?"
    STRAY_PID=""
    t_eq "$b: SIGTERM: nothing captured" "strata run: stopped by signal 15; nothing captured" \
        "$(cat "$s/sigterm.err")"
    t_eq "$b: SIGTERM: no sandbox left behind" "0" "$(sandboxes)"
    t_eq "$b: SIGTERM: no mount left behind" "0" "$(mounts)"
}

for b in fuse none; do
    if [ "$b" = fuse ] && [ ! -e /dev/fuse ]; then
        t_skip "fuse: strata run over FUSE" "/dev/fuse is missing"
        continue
    fi
    cases "$b"
done

t_cmd "$STRATA" refs
t_eq "both backends capture the same layer" \
    "$(printf '%s\n' "$OUT" | sed -n 's/^built-none //p')" \
    "$(printf '%s\n' "$OUT" | sed -n 's/^built-\(fuse\|none\) //p' | sort -u)"

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
