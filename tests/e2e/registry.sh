#!/usr/bin/env bash
# The mount registry, `strata ps` and `strata sweep` over real FUSE: ps
# lists a background mount (and --json parses); a SIGKILLed `strata mount`
# server leaves a dead mount ("Transport endpoint is not connected") that
# `strata sweep` unmounts, leaving no mount and no record; the next
# `strata mount` sweeps by itself, even on the same mountpoint; a
# SIGKILLed `strata run` is swept by the next run, mount and temporary
# directory both; a sweep never touches a live mount or a mount that is
# not strata's, whatever a record says.
#
# The registry lives in a scratch XDG_RUNTIME_DIR. Readiness is always a
# real condition (a file, the mount table, a process gone) polled against
# a deadline. Every mount made here is removed on exit.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
export XDG_RUNTIME_DIR=$s/xdg
mkdir -m 0700 "$XDG_RUNTIME_DIR"
reg=$XDG_RUNTIME_DIR/strata/mounts

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"

PIDS=()
r_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    t_cleanup
}
trap r_cleanup EXIT

records() { find "$reg" -name '*.rec' 2>/dev/null | wc -l; }
# For wait_for, which runs its command again each time: a "$(records)"
# in its arguments would be counted only once.
records_are() { [ "$(records)" = "$1" ]; }
has_lock() { [ -n "$(find "$reg" -name '*.lock' 2>/dev/null)" ]; }
files() { find "$reg" -type f 2>/dev/null | wc -l; }
server_pid() { printf '%s\n' "$ERR" | sed -n 's/.*server pid \([0-9]*\).*/\1/p'; }

# ---- without FUSE ---------------------------------------------------------
t_cmd "$STRATA" ps
t_eq "ps with no mounts: nothing on stdout, exit 0" "0:" "$RC:$OUT"
[[ "$ERR" == "no live strata mounts" ]] && t_ok "... and says so" || t_fail "... and says so" "$ERR"
t_cmd "$STRATA" ps --json
if [ "$RC" = 0 ] && python3 -c 'import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d["mounts"] == [] and d["stale"] == 0 and d["registry"] == sys.argv[2] else 1)' \
    "$OUT" "$reg"; then
    t_ok "ps --json with no mounts parses: empty, in \$XDG_RUNTIME_DIR/strata/mounts"
else
    t_fail "ps --json with no mounts parses: empty, in \$XDG_RUNTIME_DIR/strata/mounts" "$RC: $OUT"
fi
t_cmd "$STRATA" sweep
t_eq "sweep with nothing to do: exit 0, nothing on stdout" "0:" "$RC:$OUT"
t_eq "the registry directory is private (0700)" "700" "$(stat -c %a "$XDG_RUNTIME_DIR/strata")"
chmod 0777 "$XDG_RUNTIME_DIR/strata"
t_err "a registry writable by others is refused" 1 "$STRATA" ps
[[ "$ERR" == *"writable by others"* && "$ERR" == *"hint: remove"* ]] &&
    t_ok "... saying why and what to do" || t_fail "... saying why and what to do" "$ERR"
chmod 0700 "$XDG_RUNTIME_DIR/strata"

if [ ! -e /dev/fuse ]; then
    t_skip "registry with FUSE mounts" "/dev/fuse is missing"
    t_done
    exit
fi

mkdir -p "$s/one" "$s/mp1" "$s/mp2" "$s/mp3"
echo hello >"$s/one/x"
"$STRATA" -q import "$s/one" --name one >/dev/null

# ---- ps shows a background mount ---------------------------------------------
MOUNTS+=("$s/mp1")
t_cmd "$STRATA" mount --layer one "$s/mp1"
pid1=$(server_pid)
if [ "$RC" = 0 ] && [ -n "$pid1" ] && is_mounted "$s/mp1"; then
    t_ok "a background mount (server pid $pid1)"
else
    t_fail "a background mount" "exit $RC: $ERR"
fi
t_eq "... has one record" "1" "$(records)"
t_cmd "$STRATA" ps
line=$(printf '%s\n' "$OUT" | awk -v p="$pid1" '$1 == p')
if [ "$RC" = 0 ] && [[ "$OUT" == "PID "*"MOUNTPOINT"* ]] &&
    [[ "$line" == "$pid1 "*" mount "*" fuse "*" $s/mp1" ]]; then
    t_ok "ps lists it: pid, kind, transport, age, mountpoint"
else
    t_fail "ps lists it: pid, kind, transport, age, mountpoint" "exit $RC: $OUT"
fi
t_cmd "$STRATA" ps --json
if [ "$RC" = 0 ] && python3 -c 'import json, sys
d = json.loads(sys.argv[1])
m = [x for x in d["mounts"] if x["pid"] == int(sys.argv[2])]
ok = (len(m) == 1 and m[0]["mountpoint"] == sys.argv[3] and m[0]["transport"] == "fuse"
      and m[0]["kind"] == "mount" and m[0]["age_seconds"] >= 0 and len(m[0]["id"]) == 16
      and d["stale"] == 0)
sys.exit(0 if ok else 1)' "$OUT" "$pid1" "$s/mp1"; then
    t_ok "ps --json parses and lists it"
else
    t_fail "ps --json parses and lists it" "exit $RC: $OUT"
fi

# ---- a SIGKILLed server, then strata sweep ----------------------------------
kill -KILL "$pid1"
if wait_for 10 gone "$pid1"; then
    t_cmd ls "$s/mp1"
    [[ "$ERR" == *"not connected"* ]] && t_ok "a SIGKILLed server leaves a dead mount" ||
        t_fail "a SIGKILLed server leaves a dead mount" "$ERR"
else
    t_fail "the server dies of SIGKILL" "pid $pid1 still there"
fi
t_cmd "$STRATA" ps
if [ "$RC" = 0 ] && [ -z "$OUT" ] && [[ "$ERR" == *"1 stale entry of dead owners: 'strata sweep'"* ]]; then
    t_ok "ps no longer lists it, and counts it as stale"
else
    t_fail "ps no longer lists it, and counts it as stale" "exit $RC: $OUT / $ERR"
fi
t_cmd "$STRATA" sweep
if [ "$RC" = 0 ] && [[ "$OUT" == "unmounted $s/mp1 (fuse mount, owner pid $pid1 died)" ]]; then
    t_ok "strata sweep unmounts the dead mount"
else
    t_fail "strata sweep unmounts the dead mount" "exit $RC: $OUT / $ERR"
fi
not_mounted "$s/mp1" && t_ok "... no mount is left" || t_fail "... no mount is left"
t_eq "... no record or lock is left" "0" "$(files)"
t_cmd "$STRATA" sweep
t_eq "a second sweep has nothing to do" "0:" "$RC:$OUT"

# ---- a sweep never touches a live mount, nor a mount that is not strata's ----
MOUNTS+=("$s/mp2")
t_cmd "$STRATA" mount --layer one "$s/mp2"
pid2=$(server_pid)
[ "$RC" = 0 ] && is_mounted "$s/mp2" && t_ok "a second, live mount" ||
    t_fail "a second, live mount" "exit $RC: $ERR"
# Records of dead owners, written by hand (no lock: dead), naming a live
# strata mount of someone else and a mount that is not strata's.
forge() {
    printf 'strata-registry 1\nid=%s\npid=999999\nkind=mount\ntransport=fuse\nmountpoint=%s\nstarted=1\n' \
        "$1" "$2" >"$reg/$1.rec"
}
forge 00000000000000f1 "$s/mp2"
forge 00000000000000f2 /proc
printf 'garbage' >"$reg/00000000000000f3.rec"
t_cmd "$STRATA" sweep
if [ "$RC" = 0 ] && [[ "$OUT" == *"forgot (someone else's mount is there) $s/mp2"* ]] &&
    [[ "$OUT" == *"forgot (someone else's mount is there) /proc"* ]] &&
    [[ "$OUT" == *"removed the corrupt record 00000000000000f3"* ]] &&
    [[ "$ERR" == *"1 live mount left alone"* ]]; then
    t_ok "sweep forgets forged records of a live mount and of /proc, and a corrupt one"
else
    t_fail "sweep forgets forged records of a live mount and of /proc, and a corrupt one" \
        "exit $RC: $OUT / $ERR"
fi
is_mounted "$s/mp2" && [ "$(cat "$s/mp2/x")" = hello ] && t_ok "... the live mount still answers" ||
    t_fail "... the live mount still answers"
[ -r /proc/self/mountinfo ] && t_ok "... /proc is still mounted" || t_fail "... /proc is still mounted"
t_eq "... only the live mount's record is left" "1" "$(records)"

# ---- the next strata mount sweeps by itself -----------------------------------
MOUNTS+=("$s/mp3")
t_cmd "$STRATA" mount --layer one "$s/mp3"
pid3=$(server_pid)
kill -KILL "$pid3"
wait_for 10 gone "$pid3"
t_cmd ls "$s/mp3"
[[ "$ERR" == *"not connected"* ]] && t_ok "a second SIGKILLed server: dead mount" ||
    t_fail "a second SIGKILLed server: dead mount" "$ERR"
t_cmd "$STRATA" mount --layer one "$s/mp3"
pid4=$(server_pid)
if [ "$RC" = 0 ] &&
    [[ "$ERR" == "strata: swept 1 stale mount record of dead owners (1 unmounted)"$'\n'"mounted "* ]]; then
    t_ok "the next mount sweeps first, in one line"
else
    t_fail "the next mount sweeps first, in one line" "exit $RC: $ERR"
fi
[ "$(cat "$s/mp3/x" 2>/dev/null)" = hello ] && t_ok "... and mounts on the same mountpoint" ||
    t_fail "... and mounts on the same mountpoint"
t_cmd "$STRATA" ps --json
python3 -c 'import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if sorted(x["pid"] for x in d["mounts"]) == sorted([int(sys.argv[2]), int(sys.argv[3])]) and d["stale"] == 0 else 1)' \
    "$OUT" "$pid2" "$pid4" && t_ok "ps --json: exactly the two live mounts" ||
    t_fail "ps --json: exactly the two live mounts" "$OUT"
# A dead owner's record whose mount is gone already: forgotten silently.
forge 00000000000000f4 "$s/nowhere"
t_cmd "$STRATA" mount --layer one "$s/mp1"
pid5=$(server_pid)
MOUNTS+=("$s/mp1")
[[ "$RC" = 0 && "$ERR" != *"swept"* ]] && t_ok "a mount with nothing to unmount says nothing of the sweep" ||
    t_fail "a mount with nothing to unmount says nothing of the sweep" "exit $RC: $ERR"
[ ! -e "$reg/00000000000000f4.rec" ] && t_ok "... but forgets the stale record" ||
    t_fail "... but forgets the stale record"

# ---- a SIGKILLed strata run ------------------------------------------------
mkfifo "$s/fifo"
"$STRATA" run --layer one -- sh -c 'echo $$ >"$1"; read x <"$2"' sh "$s/marker" "$s/fifo" \
    >"$s/run.out" 2>"$s/run.err" &
runpid=$!
PIDS+=("$runpid")
if wait_for 30 test -s "$s/marker"; then
    t_ok "a run's command is waiting"
else
    t_fail "a run's command is waiting" "$(cat "$s/run.err")"
fi
cmdpid=$(cat "$s/marker")
PIDS+=("$cmdpid")
t_cmd "$STRATA" ps --json
rundir=$(python3 -c 'import json, sys
d = json.loads(sys.argv[1])
r = [x for x in d["mounts"] if x["kind"] == "run" and x["pid"] == int(sys.argv[2])]
print(r[0]["dir"] if len(r) == 1 and r[0]["mountpoint"] == r[0]["dir"] + "/mnt" else "")' "$OUT" "$runpid")
[ -n "$rundir" ] && [ -d "$rundir/upper" ] && is_mounted "$rundir/mnt" &&
    t_ok "ps lists the run's mount and its directory" ||
    t_fail "ps lists the run's mount and its directory" "$OUT"
kill -KILL "$runpid"
wait "$runpid" 2>/dev/null
t_eq "the run died of SIGKILL" "137" "$?"
echo >"$s/fifo" # the command ends
wait_for 10 gone "$cmdpid"
t_cmd ls "$rundir/mnt"
[[ "$ERR" == *"not connected"* ]] && t_ok "... leaving a dead mount" ||
    t_fail "... leaving a dead mount" "$ERR"
t_cmd "$STRATA" run --layer one -- cat x
if [ "$RC" = 0 ] && [ "$OUT" = hello ] &&
    [[ "$ERR" == "strata: swept 1 stale mount record of dead owners (1 unmounted)"* ]]; then
    t_ok "the next run sweeps it first, and runs"
else
    t_fail "the next run sweeps it first, and runs" "exit $RC: $OUT / $ERR"
fi
not_mounted "$rundir/mnt" && t_ok "... no mount is left" || t_fail "... no mount is left"
[ ! -e "$rundir" ] && t_ok "... nor the dead run's directory" ||
    t_fail "... nor the dead run's directory" "$(ls -la "$rundir")"
t_eq "... only the three live mounts' records are left" "3" "$(records)"

# ---- owners unregister when they end --------------------------------------------
for mp in "$s/mp1" "$s/mp2" "$s/mp3"; do "$STRATA" -q umount "$mp"; done
for p in "$pid2" "$pid4" "$pid5"; do wait_for 10 gone "$p"; done
t_eq "after umount, the servers leave no record or lock" "0" "$(files)"
"$STRATA" mount --foreground --layer one "$s/mp1" 2>"$s/fg.err" &
fg=$!
PIDS+=("$fg")
wait_for 10 is_mounted "$s/mp1" && wait_for 10 records_are 1 &&
    t_ok "a --foreground mount registers" || t_fail "a --foreground mount registers" "$(cat "$s/fg.err")"
kill -TERM "$fg"
wait "$fg"
t_eq "... and on SIGTERM exits 0" "0" "$?"
not_mounted "$s/mp1" && t_eq "... unmounted, no record left" "0" "$(files)" ||
    t_fail "... unmounted, no record left"

# ---- a sweep between an owner's create and lock of its lock file ------------
# Registering creates <id>.lock and then flocks it; a sweep that comes in
# between sees an unlocked lock with no record, a dead owner's leftover,
# and removes it. The owner must then not keep a lock on a removed file
# (every later listing would take its live mount for a dead one): it
# registers again under a new id. strace widens the gap to a second
# (LeakSanitizer cannot work in a traced process: off for this one).
if command -v strace >/dev/null; then
    rm -f "$s/go"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -o /dev/null -e trace=flock -e inject=flock:delay_enter=1000000 \
        "$STRATA" run -l one -- sh -c "until [ -e '$s/go' ]; do sleep 0.02; done; echo x >f" \
        >"$s/race.out" 2>"$s/race.err" &
    racer=$!
    PIDS+=("$racer")
    wait_for 20 has_lock
    "$STRATA" sweep >"$s/race.sweep" 2>&1
    [[ "$(cat "$s/race.sweep")" == *"removed leftover files of"* ]] &&
        t_ok "a sweep in the gap removes the new, unlocked lock" ||
        t_fail "a sweep in the gap removes the new, unlocked lock" "$(cat "$s/race.sweep")"
    wait_for 30 records_are 1 && t_ok "... the owner registers again" ||
        t_fail "... the owner registers again" "$(ls -la "$reg")"
    "$STRATA" sweep >"$s/race.sweep2" 2>&1
    [[ "$(cat "$s/race.sweep2")" == "swept 0 stale entries; 1 live mount left alone"* ]] &&
        t_ok "... and a later sweep leaves its live mount alone" ||
        t_fail "... and a later sweep leaves its live mount alone" "$(cat "$s/race.sweep2")"
    touch "$s/go"
    wait "$racer"
    rc=$?
    [ "$rc" = 0 ] && [[ "$(cat "$s/race.err")" == *"captured sha256:"*": 1 added"* ]] &&
        t_ok "... which runs to the end and captures its file" ||
        t_fail "... which runs to the end and captures its file" "exit $rc: $(cat "$s/race.err")"
    t_eq "... and leaves no record" "0" "$(files)"
else
    t_skip "a sweep between create and lock of a lock file" "strace is not installed"
fi

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
