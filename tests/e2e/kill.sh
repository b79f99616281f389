#!/usr/bin/env bash
# A killed import leaves the store consistent: SIGKILL in the middle of a
# large import (two 300 MiB files and 10,000 small ones), then fsck is
# clean, a re-import succeeds and round-trips, and gc removes the temp
# files the killed import left. Last, gc refuses to run under a live import.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
src=$s/src

# Polls CMD until it succeeds, for at most SECS seconds. The short pause
# between polls only spaces them out: what is awaited is the condition.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.01
    done
}
# True once a large blob is being written: a temp file past 8 MiB.
writing_big_blob() {
    [ -n "$(find "$STRATA_STORE/tmp" -type f -size +8M 2>/dev/null | head -n 1)" ]
}
temp_files() { find "$STRATA_STORE/tmp" -type f 2>/dev/null | wc -l; }

"$TESTTOOL" gen-tree "$src/small" $((10000 / T_SCALE)) 9
"$TESTTOOL" gen-file "$src/big1" $(((300 << 20) / T_SCALE)) 1
"$TESTTOOL" gen-file "$src/big2" $(((300 << 20) / T_SCALE)) 2
want=$("$TESTTOOL" tree-list "$src")

"$STRATA" import -q "$src" --name k &
pid=$!
if wait_for 120 writing_big_blob; then
    t_ok "the import is writing a large blob"
else
    t_fail "the import is writing a large blob" "no temp file over 8 MiB in $STRATA_STORE/tmp"
fi

kill -KILL "$pid"
wait "$pid" 2>/dev/null
t_eq "the import died of SIGKILL" "137" "$?"
left=$(temp_files)
echo "# the killed import left $left temp file(s)"

t_cmd "$STRATA" fsck
if [ "$RC" = 0 ] && [[ "$OUT" == "store is clean: "* ]]; then
    t_ok "fsck after the kill: clean"
else
    t_fail "fsck after the kill: clean" "exit $RC: $OUT $ERR"
fi
if [ "$left" -gt 0 ]; then
    [[ "$OUT" == *"note: $left temp file"* ]] && t_ok "fsck notes the leftover temp files" ||
        t_fail "fsck notes the leftover temp files" "$OUT"
fi
t_cmd "$STRATA" refs
t_eq "the killed import set no ref" "0:" "$RC:$OUT"

t_cmd "$STRATA" import -q "$src" --name k
t_eq "re-import after the kill" "0" "$RC"
t_run "export" "$STRATA" export -q k "$s/out"
t_eq "the re-import round-trips (tree-list)" "$want" "$("$TESTTOOL" tree-list "$s/out")"
rm -rf "$s/out"

t_cmd "$STRATA" gc
if [ "$RC" = 0 ] && [[ "$OUT" == "removed "*" and $left temp file"* ]]; then
    t_ok "gc removes the $left leftover temp file(s)"
else
    t_fail "gc removes the $left leftover temp file(s)" "exit $RC: $OUT $ERR"
fi
t_eq "tmp/ is empty after gc" "0" "$(temp_files)"
t_cmd "$STRATA" fsck
if [ "$RC" = 0 ] && [[ "$OUT" == "store is clean: "*" 1 ref verified" ]]; then
    t_ok "fsck after gc: clean, nothing to note"
else
    t_fail "fsck after gc: clean, nothing to note" "exit $RC: $OUT $ERR"
fi
t_eq "after gc, a large file still reads back" "$("$TESTTOOL" sha256 "$src/big2")" \
    "$("$STRATA" cat k big2 | "$TESTTOOL" sha256 -)"
one=$(cd "$src" && find small -type f | sort | tail -n 1)
t_eq "after gc, a small file still reads back" "$("$TESTTOOL" sha256 "$src/$one")" \
    "$("$STRATA" cat k "$one" | "$TESTTOOL" sha256 -)"

# While an import writes, gc must refuse at once (not wait, not sweep).
# The importer is frozen with SIGSTOP while it holds the store, so the
# check does not race the import's end: a gc that waited for the import
# would run into the time limit instead of answering.
rm -rf "$src"
mkdir -p "$src"
"$TESTTOOL" gen-tree "$src/small" $((3000 / T_SCALE)) 10
"$TESTTOOL" gen-file "$src/big3" $(((300 << 20) / T_SCALE)) 3
"$STRATA" import -q "$src" --name k3 >/dev/null &
pid=$!
wait_for 120 writing_big_blob
kill -STOP "$pid"
t_err "gc during an import: exit 1" 1 timeout 30 "$STRATA" gc
[[ "$ERR" == *$'\n'"hint: "*"another strata process"* ]] && t_ok "gc during an import: says why" ||
    t_fail "gc during an import: says why" "$ERR"
kill -CONT "$pid"
wait "$pid"
t_eq "the import next to gc succeeds" "0" "$?"
t_cmd "$STRATA" fsck
t_eq "fsck at the end: clean" "0" "$RC"

t_done
