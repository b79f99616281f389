#!/usr/bin/env bash
# `strata run` with the none backend: a C program whose header comes from
# one layer and whose source from another is built in the sandbox; the
# captured layer holds the binary and the deletion the build made, and
# stacked on the view it gives the tree the build left. Failing commands,
# a bad --cwd, a missing command and SIGTERM leave no layer and no sandbox.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
export TMPDIR=$s/tmp
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

t_cmd "$STRATA" run --layer src --layer deps --out built -- \
    sh -c 'cc -Iinclude -o prog main.c && rm obsolete.txt && ./prog'
t_eq "run: the command's output and exit status" "0:5" "$RC:$OUT"
[[ "$ERR" == "captured sha256:"*" as built: 1 added, 0 changed, 1 deleted" ]] &&
    t_ok "run: says what it captured" || t_fail "run: says what it captured" "$ERR"
t_eq "run: no sandbox left behind" "0" "$(sandboxes)"
t_cmd "$STRATA" ls -R -l built
[[ "$OUT" == *"-rwxr-xr-x"*" prog"* ]] && t_ok "the layer holds the binary, executable" ||
    t_fail "the layer holds the binary, executable" "$OUT"
[[ "$OUT" == *"c---------"*"obsolete.txt (whiteout)"* ]] && t_ok "the layer records the deletion" ||
    t_fail "the layer records the deletion" "$OUT"
"$STRATA" cat built prog >"$s/prog" && chmod +x "$s/prog"
t_eq "the captured binary runs" "5" "$("$s/prog")"

# The captured layer stacked on the view: a second run sees the binary and
# not the deleted file.
t_cmd "$STRATA" run -l built -l src -l deps -- sh -c './prog && test ! -e obsolete.txt && cat include/add.h'
t_eq "stacked: the build's outputs and deletions are seen" "0:5
int add(int a, int b);" "$RC:$OUT"

# --cwd, and the command's view of its own directory.
t_cmd "$STRATA" run -q -l src -l deps --cwd include -- sh -c 'ls; pwd | grep -c "/strata-run-[^/]*/[a-z]*/include$"'
t_eq "--cwd runs in a subdirectory of the view" "0:add.h
1" "$RC:$OUT"

# Failures leave nothing.
t_cmd "$STRATA" run -l src --out failed -- sh -c 'echo partial > out.txt; exit 3'
t_eq "a failing command: its exit status" "3" "$RC"
[[ "$ERR" == *"exited with 3; nothing captured"* ]] && t_ok "a failing command: nothing captured" ||
    t_fail "a failing command: nothing captured" "$ERR"
t_cmd "$STRATA" refs
[[ "$OUT" != *failed* ]] && t_ok "a failing command sets no ref" || t_fail "a failing command sets no ref" "$OUT"
t_err "a missing command: exit 1, two lines" 1 "$STRATA" run -l src -- no-such-command-xyz
t_err "a --cwd outside the view: exit 1" 1 "$STRATA" run -l src --cwd ../x -- true
t_err "a --cwd that does not exist: exit 1" 1 "$STRATA" run -l src --cwd nope -- true
t_err "no layers: exit 1" 1 "$STRATA" run -- true
t_err "an unknown layer: exit 1" 1 "$STRATA" run -l nope -- true
t_cmd "$STRATA" run -l src
t_eq "no command: usage error" "2" "$RC"
t_eq "no sandbox left behind by failures" "0" "$(sandboxes)"

# SIGTERM: passed on to the command, the sandbox removed, 128 + 15.
"$STRATA" run -l src -l deps -- sh -c "echo ready > '$s/ready'; exec sleep 60" &
pid=$!
deadline=$((SECONDS + 30))
until [ -e "$s/ready" ] || [ $SECONDS -ge $deadline ]; do sleep 0.01; done
kill -TERM "$pid"
wait "$pid"
t_eq "SIGTERM: exit 143" "143" "$?"
t_eq "SIGTERM: no sandbox left behind" "0" "$(sandboxes)"

t_done
