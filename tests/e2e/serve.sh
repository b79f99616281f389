#!/usr/bin/env bash
# `strata serve` and `strata run --server` over real FUSE: the server
# mounts an empty directory of slots, registers itself and listens on a
# private control socket; a run through it captures the same layer as a
# run with a mount of its own; eight runs share it at once, each seeing
# and capturing only its own changes; garbage on the control socket gets
# ERR replies (an oversized line also ends its connection) while a run in
# progress carries on; a SIGKILLed client's slot is given back and its
# record swept; a SIGKILLed server is swept by the next run, which mounts
# a view of its own; `strata umount` stops a server completely; and
# STRATA_SERVER stands for --server, which excludes --backend.
#
# The registry and the control socket live in the script's own
# XDG_RUNTIME_DIR (lib.sh). Readiness is always a real condition (a file,
# the slot directory, a process gone) polled against a deadline. Every
# mount and process made here is removed on exit, even on failure.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
export TMPDIR=$s/tmp
unset STRATA_SERVER
umask 022
# Under ASan, reports go to files, checked at the end.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"
reg=$XDG_RUNTIME_DIR/strata/mounts
mkdir -p "$TMPDIR" "$s/mp" "$s/lower/dir"
mp=$(cd "$s/mp" && pwd -P)

# Killed on exit: background runs and servers (PIDS), and the commands of
# runs, which outlive a killed strata run; each writes its pid to a file
# "$s/<name>.cmdpid" first thing.
PIDS=()
r_cleanup() {
    local p m
    for p in "${PIDS[@]}" $(cat "$s"/*.cmdpid 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    awk -v t="$T_ROOT" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do
            fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        done
    t_cleanup
}
trap r_cleanup EXIT

if [ ! -e /dev/fuse ]; then
    t_skip "strata serve" "/dev/fuse is missing"
    t_done
    exit
fi

printf 'a\n' >"$s/lower/a"
printf 'b\n' >"$s/lower/b"
printf 'c\n' >"$s/lower/dir/c"
t_run "import the lower layer" "$STRATA" import -q "$s/lower" --name low

# ---- helpers -------------------------------------------------------------
# The interpreter itself, not a version manager's shim that takes a third
# of a second to start: ps_lines runs often.
py=$(python3 -c 'import sys; print(sys.executable)')
ref_digest() { "$STRATA" refs | awk -v r="$1" '$1 == r { print $2 }'; }
# The live registry as lines "kind pid mountpoint dir", then "stale N".
ps_lines() {
    "$STRATA" ps --json 2>/dev/null | "$py" -c 'import json, sys
d = json.load(sys.stdin)
for m in d["mounts"]:
    print(m["kind"], m["pid"], m["mountpoint"], m.get("dir", "-"))
print("stale", d["stale"])'
}
slots() { ls -A "$mp" 2>&1; }
no_slots() { [ -z "$(ls -A "$mp" 2>&1)" ]; }
one_slot() { [ "$(ls -A "$mp" 2>/dev/null | wc -l)" = 1 ]; }
run_dirs() { find "$TMPDIR" -mindepth 1 -maxdepth 1 -name 'strata-run-*' | wc -l; }
talk() { "$TESTTOOL" unix-talk "$sock"; }
# The reply lines' shapes: ERR <code> <message> <hint>, each field one
# non-empty word of printable ASCII (the text fields %-encoded).
shape() {
    sed -E 's/^ERR ([a-z-]+) [!-~]+ [!-~]+$/ERR \1 MSG HINT/'
}
# Writes the files of a tree that tree-list compares: modes as a run makes
# them under umask 022.
want_tree() {
    local d=$1
    shift
    mkdir -p "$d"
    chmod 0755 "$d"
    while [ $# -ge 2 ]; do
        mkdir -p "$(dirname "$d/$1")"
        printf '%s' "$2" >"$d/$1"
        shift 2
    done
}
# Exports layer $1 and compares its tree, byte for byte, with dir $2.
same_tree() {
    local x
    x=$(mktemp -d "$s/export-XXXXXX") && rmdir "$x" &&
        "$STRATA" -q export "$1" "$x" &&
        [ "$("$TESTTOOL" tree-list "$x")" = "$("$TESTTOOL" tree-list "$2")" ]
}

# ---- 1. serve starts ------------------------------------------------------
t_cmd "$STRATA" serve "$mp"
srv=$(printf '%s\n' "$ERR" | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
[ -n "$srv" ] && PIDS+=("$srv")
if [ "$RC" = 0 ] && [ -z "$OUT" ] && [ -n "$srv" ] && is_mounted "$mp"; then
    t_ok "serve: exit 0, a fuse.strata mount at the mountpoint (server pid $srv)"
else
    t_fail "serve: exit 0, a fuse.strata mount at the mountpoint" "exit $RC: $OUT / $ERR"
fi
if [ "$(ps_lines)" = "serve $srv $mp -
stale 0" ]; then
    t_ok "serve: ps --json lists one record of kind serve, its pid, its mountpoint"
else
    t_fail "serve: ps --json lists one record of kind serve, its pid, its mountpoint" "$(ps_lines)"
fi
t_cmd "$STRATA" ps
line=$(printf '%s\n' "$OUT" | awk -v p="$srv" '$1 == p')
[[ "$RC" = 0 && "$line" == "$srv "*" serve "*" fuse "*" $mp" ]] &&
    t_ok "serve: ps lists it: pid, kind serve, fuse, mountpoint" ||
    t_fail "serve: ps lists it: pid, kind serve, fuse, mountpoint" "exit $RC: $OUT"
want_sock=$XDG_RUNTIME_DIR/strata/serve-$(printf '%s' "$mp" | sha256sum | cut -c1-16).sock
socks=$(find "$XDG_RUNTIME_DIR/strata" -maxdepth 1 -name 'serve-*.sock')
sock=$want_sock
if [ "$socks" = "$want_sock" ] && [ -S "$sock" ]; then
    t_ok "serve: the control socket is serve-<16 hex of the mountpoint>.sock"
else
    t_fail "serve: the control socket is serve-<16 hex of the mountpoint>.sock" \
        "want $want_sock; found: $socks"
fi
t_eq "serve: the socket's mode is 0600" "600" "$(stat -c %a "$sock" 2>&1)"
t_eq "serve: the directory of slots is empty" "" "$(slots)"
# serve returns once the server answers: no waiting.
t_eq "serve: answers HELLO at once" "OK strata-serve 1 1023" "$(printf 'HELLO 1\n' | talk)"
t_err "serve: a second serve at the same mountpoint is refused" 1 "$STRATA" serve "$mp"
[ "$(printf 'HELLO 1\n' | talk)" = "OK strata-serve 1 1023" ] &&
    [ "$(ps_lines)" = "serve $srv $mp -
stale 0" ] && t_ok "... and the first server still answers, alone" ||
    t_fail "... and the first server still answers, alone" "$(ps_lines)"

# ---- 2. a run through the server captures what a run of its own does -------
change='pwd >"$1"; printf "new\n" >n; printf "mod\n" >>a; rm b; mv dir dir2'
t_cmd "$STRATA" run --server "$mp" -l low -o srv2 -- sh -c "$change" sh "$s/pwd2"
srv2=$(ref_digest srv2)
[[ "$RC" = 0 && "$ERR" == "captured $srv2 as srv2: 3 added, 1 changed, 2 deleted" ]] &&
    t_ok "run --server: exit 0, captures 3 added, 1 changed, 2 deleted" ||
    t_fail "run --server: exit 0, captures 3 added, 1 changed, 2 deleted" "exit $RC: $OUT / $ERR"
pwd2=$(cat "$s/pwd2")
[[ "$pwd2" =~ ^"$mp"/[1-9][0-9]*$ ]] && t_ok "run --server: the command runs in MOUNTPOINT/<slot> ($pwd2)" ||
    t_fail "run --server: the command runs in MOUNTPOINT/<slot>" "pwd: $pwd2"
t_eq "run --server: the slot is gone once the run has ended" "" "$(slots)"
t_eq "run --server: no record of a slot is left" "serve $srv $mp -
stale 0" "$(ps_lines)"
t_cmd "$STRATA" run --backend fuse -l low -o own2 -- sh -c "$change" sh "$s/pwd2own"
[ "$RC" = 0 ] && [[ "$(cat "$s/pwd2own")" != "$mp"* ]] &&
    t_ok "run --backend fuse: the same command with a mount of its own" ||
    t_fail "run --backend fuse: the same command with a mount of its own" "exit $RC: $ERR"
[ -n "$srv2" ] && t_eq "run --server captures the same digest as a run of its own" \
    "$(ref_digest own2)" "$srv2" || t_fail "run --server captures a digest" "$("$STRATA" refs)"
want_tree "$s/want2" a $'a\nmod\n' n $'new\n' dir2/c $'c\n'
same_tree srv2 "$s/want2" && t_ok "run --server: the layer's files, byte for byte" ||
    t_fail "run --server: the layer's files, byte for byte" "$("$STRATA" ls -R -l srv2 2>&1)"
t_eq "run --server: the layer's whiteouts: b and dir" "b
dir" "$("$STRATA" ls -R -l srv2 | sed -n 's/.* \([^ ]*\) (whiteout)$/\1/p' | sort)"
t_cmd "$STRATA" run -q --server "$mp" -l srv2 -l low -- sh -c 'find . | sort; cat a dir2/c'
t_eq "run --server: the layer stacked on the lower one, through a slot" "0:.
./a
./dir2
./dir2/c
./n
a
mod
c" "$RC:$OUT"

# ---- 3. eight runs at once ----------------------------------------------------
g=$s/gate3
mkdir "$g"
# Each run notes its directory, says it is ready, and waits for the go
# (for at most 60 s) so that all eight hold a slot at the same time.
gated='echo $$ >"$1.$2.cmdpid"; pwd >"$1/pwd.$2"; : >"$1/ready.$2"; n=0
until [ -e "$1/go" ]; do n=$((n + 1)); [ $n -lt 6000 ] || exit 9; sleep 0.01; done
printf "run-%s\n" "$2" >mine; cp a copy-a'
R3=()
for i in 1 2 3 4 5 6 7 8; do
    "$STRATA" run --server "$mp" -l low -o "out$i" -- sh -c "$gated" sh "$g" "$i" \
        >"$s/run3.$i.out" 2>"$s/run3.$i.err" &
    R3+=($!)
    PIDS+=($!)
done
ready() { [ "$(find "$g" -name 'ready.*' | wc -l)" = 8 ]; }
if wait_for 60 ready; then
    t_ok "8 runs: all hold a slot at once"
else
    t_fail "8 runs: all hold a slot at once" "$(ls "$g"; cat "$s"/run3.*.err)"
fi
want=$(for i in 1 2 3 4 5 6 7 8; do cat "$g/pwd.$i" 2>/dev/null; done | sort)
t_eq "8 runs: 8 distinct slots, each run in its own" "8" "$(printf '%s\n' "$want" | sort -u | grep -c "^$mp/[1-9][0-9]*$")"
t_eq "8 runs: ls MOUNTPOINT shows the 8 slots" "$want" "$(ls -A "$mp" | sed "s|^|$mp/|" | sort)"
t_eq "8 runs: ps lists 8 slot records at those slots" "$want" \
    "$(ps_lines | awk '$1 == "slot" { print $3 }' | sort)"
: >"$g/go"
fails=""
for i in 1 2 3 4 5 6 7 8; do
    wait "${R3[$((i - 1))]}"
    rc=$?
    [ "$rc" = 0 ] || fails="$fails run $i: exit $rc: $(cat "$s/run3.$i.err")"$'\n'
done
t_eq "8 runs: each exits 0" "" "$fails"
bad=""
for i in 1 2 3 4 5 6 7 8; do
    want_tree "$s/want3.$i" copy-a $'a\n' mine "run-$i"$'\n'
    same_tree "out$i" "$s/want3.$i" || bad="$bad out$i: $("$STRATA" ls -R -l "out$i" 2>&1)"$'\n'
done
t_eq "8 runs: each layer holds exactly its own mine and copy-a, byte for byte" "" "$bad"
t_eq "8 runs: no slot is left in the mountpoint" "" "$(slots)"
t_eq "8 runs: no slot record is left" "serve $srv $mp -
stale 0" "$(ps_lines)"
t_eq "8 runs: no strata-run directory is left" "0" "$(run_dirs)"

# ---- 4. garbage on the control socket, while a run goes on -------------------
mkfifo "$s/fifo4"
"$STRATA" run --server "$mp" -l low -o during -- \
    sh -c 'echo $$ >"$3"; pwd >"$1"; read x <"$2"; printf "during\n" >d; cat a b >ab' \
    sh "$s/pwd4" "$s/fifo4" "$s/run4.cmdpid" \
    >"$s/run4.out" 2>"$s/run4.err" &
r4=$!
PIDS+=("$r4")
if wait_for 30 test -s "$s/pwd4"; then
    t_ok "garbage: a run holds a slot before the garbage comes"
else
    t_fail "garbage: a run holds a slot before the garbage comes" "$(cat "$s/run4.err")"
fi
slot4=$(basename "$(cat "$s/pwd4")")
hello="OK strata-serve 1 1023"
t_eq "garbage: a first line that is not HELLO: ERR invalid, the connection stays open" \
    "ERR invalid MSG HINT
$hello" "$(printf 'DETACH %s\nHELLO 1\n' "$slot4" | talk | shape)"
t_eq "garbage: an unknown verb after HELLO: ERR invalid, the connection stays open" \
    "$hello
ERR invalid MSG HINT
$hello" "$(printf 'HELLO 1\nbogus verb\nHELLO 1\n' | talk | shape)"
t_eq "garbage: a wrong protocol version: ERR unsupported" \
    "ERR unsupported MSG HINT
$hello" "$(printf 'HELLO 2\nHELLO 1\n' | talk | shape)"
t_eq "garbage: CR LF and a stray byte: ERR invalid twice, still open" \
    "$hello
ERR invalid MSG HINT
ERR invalid MSG HINT
$hello" "$(printf 'HELLO 1\nHELLO 1\r\nHELLO\t1\nHELLO 1\n' | talk | shape)"
# 40000 bytes without a newline: the server gives up on the connection.
t_cmd sh -c '{ printf "HELLO 1\n"; head -c 40000 /dev/zero | tr "\0" x; printf "\nHELLO 1\n"; } |
    "$1" unix-talk "$2"' sh "$TESTTOOL" "$sock"
t_eq "garbage: a line of 40000 bytes: ERR invalid, then the connection closes" \
    "0:$hello
ERR invalid MSG HINT" "$RC:$(printf '%s\n' "$OUT" | shape)"
# The limit is 32768 bytes with the newline: a line of exactly that is
# only malformed; one byte more is oversized.
t_cmd sh -c '{ printf "HELLO 1\n"; head -c 32767 /dev/zero | tr "\0" x; printf "\nHELLO 1\n"; } |
    "$1" unix-talk "$2"' sh "$TESTTOOL" "$sock"
t_eq "garbage: a line of 32768 bytes with its newline is malformed, not oversized" \
    "0:$hello
ERR invalid MSG HINT
$hello" "$RC:$(printf '%s\n' "$OUT" | shape)"
t_cmd sh -c '{ printf "HELLO 1\n"; head -c 32768 /dev/zero | tr "\0" x; printf "\nHELLO 1\n"; } |
    "$1" unix-talk "$2"' sh "$TESTTOOL" "$sock"
t_eq "garbage: a line of 32769 bytes with its newline is oversized: the connection closes" \
    "0:$hello
ERR invalid MSG HINT" "$RC:$(printf '%s\n' "$OUT" | shape)"
absent=sha256:$(printf 'not in the store' | sha256sum | cut -c1-64)
t_eq "garbage: ATTACH of a layer not in the store: ERR not-found" \
    "$hello
ERR not-found MSG HINT
$hello" "$(printf 'HELLO 1\nATTACH - %s\nHELLO 1\n' "$absent" | talk | shape)"
t_eq "garbage: ATTACH of a malformed digest: ERR invalid" \
    "$hello
ERR invalid MSG HINT" "$(printf 'HELLO 1\nATTACH - sha256:xyz\n' | talk | shape)"
t_eq "garbage: ATTACH with an upper inside the mount: ERR invalid" \
    "$hello
ERR invalid MSG HINT" "$(printf 'HELLO 1\nATTACH %s %s\n' "$mp/x" "$(ref_digest low)" | talk | shape)"
free=$((slot4 % 1000 + 1))
t_eq "garbage: DETACH of a slot that shows nothing: ERR not-found" \
    "$hello
ERR not-found MSG HINT" "$(printf 'HELLO 1\nDETACH %s\n' "$free" | talk | shape)"
t_eq "garbage: DETACH of the run's slot, from another connection: ERR invalid" \
    "$hello
ERR invalid MSG HINT" "$(printf 'HELLO 1\nDETACH %s\n' "$slot4" | talk | shape)"
t_eq "garbage: DETACH 0 and DETACH 65536, out of 1..65535: ERR invalid" \
    "$hello
ERR invalid MSG HINT
ERR invalid MSG HINT" "$(printf 'HELLO 1\nDETACH 0\nDETACH 65536\n' | talk | shape)"
t_eq "garbage: the run's slot is still the only one shown" "$slot4" "$(slots)"
[ -n "$(ref_digest low)" ] &&
    t_cmd sh -c 'printf "HELLO 1\nATTACH - %s\n" "$1" | "$2" unix-talk "$3"' sh "$(ref_digest low)" \
        "$TESTTOOL" "$sock"
[[ "$RC" = 0 && "$OUT" =~ ^"$hello"$'\n'"OK "[1-9][0-9]*" "[1-9][0-9]*$ ]] &&
    t_ok "raw ATTACH: OK <slot> <gen>" || t_fail "raw ATTACH: OK <slot> <gen>" "exit $RC: $OUT / $ERR"
wait_for 10 one_slot && t_ok "raw ATTACH: its connection closed, the server detaches the slot" ||
    t_fail "raw ATTACH: its connection closed, the server detaches the slot" "$(slots)"
printf 'go\n' >"$s/fifo4"
wait "$r4"
rc=$?
t_eq "garbage: the run in progress exits 0" "0:" "$rc:$(cat "$s/run4.out")"
want_tree "$s/want4" d $'during\n' ab $'a\nb\n'
same_tree during "$s/want4" && t_ok "garbage: the run in progress captured exactly its changes" ||
    t_fail "garbage: the run in progress captured exactly its changes" "$(cat "$s/run4.err")"
t_eq "garbage: the server still answers a fresh HELLO" "$hello" "$(printf 'HELLO 1\n' | talk)"
t_eq "garbage: no slot is left" "" "$(slots)"
t_eq "garbage: the server is still the same process" "serve $srv $mp -
stale 0" "$(ps_lines)"

# ---- 4b. a writer the command left behind ---------------------------------------
# The command starts a writer that appends numbered lines for as long as
# it can, and exits. Giving the slot back stops the slot's requests before
# its view goes: the writer then fails (ESTALE) and stops, and the layer
# captured after the answer holds whole lines only, numbered without a gap
# from 0: no write landed halfway, and none after the capture began.
"$STRATA" run --server "$mp" -l low -o leftover -- sh -c '
    (echo $$ >"$1"; exec sh -c "echo \$\$ >\"$1\"; i=0; while echo \"line \$i\" >>log; do i=\$((i + 1)); done")&
    until [ -s log ] && [ "$(wc -l <log)" -ge 100 ]; do :; done' sh "$s/writer.cmdpid" \
    >"$s/run4b.out" 2>"$s/run4b.err"
rc=$?
writer=$(cat "$s/writer.cmdpid" 2>/dev/null)
[ "$rc" = 0 ] && t_ok "left-behind writer: the run ends and captures" ||
    t_fail "left-behind writer: the run ends and captures" "exit $rc: $(cat "$s/run4b.err")"
wait_for 10 gone "$writer" && t_ok "... the writer fails once the slot is given back, and stops" ||
    t_fail "... the writer fails once the slot is given back, and stops" "pid $writer still runs"
x4b=$(mktemp -d "$s/export-XXXXXX") && rmdir "$x4b" && "$STRATA" -q export leftover "$x4b"
n4b=$(wc -l <"$x4b/log")
if [ "$n4b" -ge 100 ] && awk '$0 != "line " NR - 1 { bad = 1 } END { exit bad }' "$x4b/log" &&
    [ "$(tail -c 1 "$x4b/log" | od -An -c | tr -d ' ')" = '\n' ]; then
    t_ok "... its captured log is whole lines 0..$((n4b - 1)), none torn"
else
    t_fail "... its captured log is whole lines 0..$((n4b - 1)), none torn" "$(tail -3 "$x4b/log" | od -c | tail -3)"
fi
no_slots && t_ok "... and no slot is left" || t_fail "... and no slot is left" "$(slots)"

# ---- 5. a SIGKILLed client ----------------------------------------------------
"$STRATA" run --server "$mp" -l low -- sh -c 'echo $$ >"$1"; exec sleep 30' sh "$s/sleep5.cmdpid" \
    >"$s/run5.out" 2>"$s/run5.err" &
r5=$!
PIDS+=("$r5")
if wait_for 30 test -s "$s/sleep5.cmdpid" && wait_for 10 one_slot; then
    t_ok "killed client: its command runs in a slot"
else
    t_fail "killed client: its command runs in a slot" "$(cat "$s/run5.err")"
fi
sleep5=$(cat "$s/sleep5.cmdpid")
slot5=$(slots)
rec5=$(ps_lines | awk -v p="$r5" '$1 == "slot" && $2 == p')
dir5=$(printf '%s\n' "$rec5" | awk '{ print $4 }')
[[ "$rec5" == "slot $r5 $mp/$slot5 $TMPDIR/strata-run-"* ]] && [ -d "$dir5" ] &&
    t_ok "killed client: ps lists its slot record and its directory" ||
    t_fail "killed client: ps lists its slot record and its directory" "$(ps_lines)"
# Silently: bash reports a job killed by a signal, whenever it reaps it.
{
    kill -KILL "$r5"
    wait "$r5"
    rc=$?
} 2>/dev/null
t_eq "killed client: strata run died of SIGKILL" "137" "$rc"
wait_for 10 no_slots && t_ok "killed client: the server detaches its slot" ||
    t_fail "killed client: the server detaches its slot" "$(slots)"
t_cmd "$STRATA" ps
[[ "$ERR" == *"1 stale entry of dead owners"* ]] && t_ok "killed client: ps counts its record as stale" ||
    t_fail "killed client: ps counts its record as stale" "$OUT / $ERR"
t_cmd "$STRATA" sweep
[[ "$RC" = 0 && "$OUT" == *"$mp/$slot5 (fuse slot, owner pid $r5 died); removed $dir5" ]] &&
    t_ok "killed client: sweep forgets the slot record, removes its directory" ||
    t_fail "killed client: sweep forgets the slot record, removes its directory" "exit $RC: $OUT / $ERR"
[ ! -e "$dir5" ] && [ "$(run_dirs)" = 0 ] && t_ok "... no strata-run directory is left" ||
    t_fail "... no strata-run directory is left" "$(ls -la "$TMPDIR")"
t_eq "... only the server's record is left" "serve $srv $mp -
stale 0" "$(ps_lines)"
kill -KILL "$sleep5" 2>/dev/null
wait_for 10 gone "$sleep5" && t_ok "killed client: its orphaned command is killed" ||
    t_fail "killed client: its orphaned command is killed" "pid $sleep5"
t_eq "killed client: the server still answers" "$hello" "$(printf 'HELLO 1\n' | talk)"

# ---- 6. a SIGKILLed server ---------------------------------------------------
kpid=$(ps_lines | awk '$1 == "serve" { print $2 }')
t_eq "killed server: ps --json gives the server's pid" "$srv" "$kpid"
kill -KILL "$kpid"
wait_for 10 gone "$kpid" && t_ok "killed server: it dies" || t_fail "killed server: it dies" "pid $kpid"
t_cmd "$STRATA" run --server "$mp" -l low -- cat a
[ "$RC:$OUT" = "0:a" ] && t_ok "killed server: run --server still runs, exit 0, right output" ||
    t_fail "killed server: run --server still runs, exit 0, right output" "exit $RC: $OUT / $ERR"
[[ "$ERR" == *"swept 1 stale mount record of dead owners (1 unmounted)"* ]] &&
    t_ok "killed server: the run sweeps the dead mount, and says so" ||
    t_fail "killed server: the run sweeps the dead mount, and says so" "$ERR"
[[ "$ERR" == *$'\n'"strata run: no strata serve answers for $mp "*"; mounting a view of its own"$'\n'* ]] &&
    t_eq "killed server: ... and says in one line that no server answers" 1 \
        "$(printf '%s\n' "$ERR" | grep -c 'no strata serve answers')" ||
    t_fail "killed server: ... and says in one line that no server answers" "$ERR"
not_mounted "$mp" && t_ok "killed server: no mount is left at the mountpoint" ||
    t_fail "killed server: no mount is left at the mountpoint" "$(grep " $mp " /proc/self/mountinfo)"
t_cmd "$STRATA" ps
t_eq "killed server: ps says there are no live mounts" "0::no live strata mounts" "$RC:$OUT:$ERR"
t_eq "killed server: ps --json is empty" "stale 0" "$(ps_lines)"
[ ! -e "$sock" ] && t_ok "killed server: the socket is gone" || t_fail "killed server: the socket is gone"
t_eq "killed server: no strata-run directory is left" "0" "$(run_dirs)"

# ---- 7, 8. a new server at the same mountpoint; STRATA_SERVER; umount ------------
t_cmd "$STRATA" serve "$mp"
srv=$(printf '%s\n' "$ERR" | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
[ -n "$srv" ] && PIDS+=("$srv")
[ "$RC" = 0 ] && is_mounted "$mp" && [ -S "$sock" ] &&
    t_ok "a new server at the same mountpoint" || t_fail "a new server at the same mountpoint" "exit $RC: $ERR"
t_cmd env STRATA_SERVER="$mp" "$STRATA" run -l low -o env8 -- sh -c 'pwd; printf "e\n" >e'
[[ "$RC" = 0 && "$OUT" =~ ^"$mp"/[1-9][0-9]*$ && "$ERR" == "captured "*" as env8: 1 added, 0 changed, 0 deleted" ]] &&
    t_ok "STRATA_SERVER: the run takes a slot of the server" ||
    t_fail "STRATA_SERVER: the run takes a slot of the server" "exit $RC: $OUT / $ERR"
want_tree "$s/want8" e $'e\n'
same_tree env8 "$s/want8" && t_ok "STRATA_SERVER: the captured layer, byte for byte" ||
    t_fail "STRATA_SERVER: the captured layer, byte for byte" "$("$STRATA" ls -R -l env8 2>&1)"
t_cmd env STRATA_SERVER="$mp" "$STRATA" run -q --backend none -l low -- pwd
[[ "$RC" = 0 && "$OUT" == "$TMPDIR/strata-run-"* ]] &&
    t_ok "STRATA_SERVER stands back for --backend on the command line" ||
    t_fail "STRATA_SERVER stands back for --backend on the command line" "exit $RC: $OUT / $ERR"
t_err "--server with --backend: a usage error" 2 "$STRATA" run --server "$mp" --backend fuse -l low -- true
[[ "$ERR" == *"--server and --backend"* ]] && t_ok "... saying which options clash" ||
    t_fail "... saying which options clash" "$ERR"
t_eq "after STRATA_SERVER runs: no slot left" "" "$(slots)"

t_cmd "$STRATA" umount "$mp"
t_eq "umount of a live server: exit 0" "0" "$RC"
not_mounted "$mp" && t_ok "umount: the mount is gone" || t_fail "umount: the mount is gone"
[ ! -e "$sock" ] && t_ok "umount: the socket is gone once it returns" || t_fail "umount: the socket is gone"
gone "$srv" && t_ok "umount: the server has exited once it returns" || t_fail "umount: the server has exited"
t_eq "umount: no record is left" "stale 0" "$(ps_lines)"
t_eq "umount: no file is left in the registry" "" "$(find "$reg" -type f 2>&1)"

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
