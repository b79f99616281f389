#!/usr/bin/env bash
# The NFS server on the wire: `strata mount --backend nfs --serve-only`
# spoken to byte by byte (strata-testtool rpc-talk), every way a call can
# be wrong given its exact reply: the NULL pings of both programs; a wrong
# program, version or procedure; an RPC version other than 2; AUTH_NONE
# and another user's uid beyond NULL; undecodable arguments; a handle of
# nothing. Record marking: an empty record and a REPLY get no answer and
# the connection stays; a call in two fragments is answered before the
# server closes at the client's end; a truncated record is closed at the
# client's end; a record mark over the limit closes that connection at
# once, one of exactly the limit does not. A connection opened at the
# start answers NULL between every group of checks: no bad connection
# disturbs another. 1,000 connections opened and dropped (some in the
# middle of a record) leak no descriptor, and a fresh connection is
# served after them. SIGTERM stops the server with exit 0 and, under the
# sanitizers, no report.
#
# Readiness is always a real condition (the URL printed, a reply line
# written, a descriptor count) polled against a deadline. The server and
# the long-lived connection are killed on exit, even on failure.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
export TMPDIR=$s/tmp
export STRATA_MOUNT_NFS_PORT=0
# Under ASan, reports go to files, checked at the end.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"
mkdir -p "$TMPDIR" "$s/lower/dir"

PIDS=()
w_cleanup() {
    local p
    exec 7>&-
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    t_cleanup
}
trap w_cleanup EXIT

printf 'a\n' >"$s/lower/a"
printf 'c\n' >"$s/lower/dir/c"
t_run "import a tiny tree" "$STRATA" import -q "$s/lower" --name low

"$STRATA" mount --backend nfs --serve-only -l low >"$s/url" 2>"$s/serve.err" &
srv=$!
PIDS+=("$srv")
url_line() { grep -q . "$s/url"; }
wait_for 30 url_line
url=$(cat "$s/url")
port=$(printf '%s\n' "$url" | sed -n 's|^nfs://127\.0\.0\.1/?nfsport=\([0-9]*\)&mountport=\1&version=3$|\1|p')
if [ -n "$port" ]; then
    t_ok "serve-only: prints nfs://127.0.0.1/?nfsport=P&mountport=P&version=3 (port $port)"
else
    t_fail "serve-only: prints nfs://127.0.0.1/?nfsport=P&mountport=P&version=3" \
        "url: $url
stderr: $(cat "$s/serve.err")"
    t_done
    exit
fi

# ---- helpers -------------------------------------------------------------
NFS=100003
MNT=100005
me=$(id -u) # the server's owner
other=12345
[ "$me" = "$other" ] && other=12346
# Runs the rpc-talk commands given, one per argument, on a fresh connection.
wire() { printf '%s\n' "$@" | "$TESTTOOL" rpc-talk "$port"; }
fds() { find "/proc/$srv/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
fds_at_most() { [ "$(fds)" -le "$1" ]; }
# GETATTR's arguments: a handle (nfs_fh3) of the given hex bytes.
fh_args() { printf '%08x%s' $((${#1} / 2)) "$1"; }
zeros() { printf "%0$(($1 * 2))d" 0; }

# The connection opened first: a long-lived rpc-talk fed through a fifo.
# still_serving asks it for one more NULL and waits for its reply line.
mkfifo "$s/keep.in"
"$TESTTOOL" rpc-talk "$port" <"$s/keep.in" >"$s/keep.out" 2>"$s/keep.err" &
keeper=$!
PIDS+=("$keeper")
exec 7>"$s/keep.in"
keep_n=0
keep_lines() { [ "$(wc -l <"$s/keep.out")" -ge "$keep_n" ]; }
still_serving() {
    keep_n=$((keep_n + 1))
    (printf 'call %d %d 3 0 sys %d\n' $((1000 + keep_n)) "$NFS" "$me" >&7) 2>/dev/null
    wait_for 20 keep_lines
    t_eq "$1: the connection opened first still answers NULL" \
        "reply $((1000 + keep_n)) accepted SUCCESS" "$(sed -n "${keep_n}p" "$s/keep.out")"
}
still_serving "at the start"
base=$(fds)

# ---- 1. pings ------------------------------------------------------------------
t_eq "NFS NULL with AUTH_NONE: accepted SUCCESS" "reply 1 accepted SUCCESS" \
    "$(wire "call 1 $NFS 3 0 none -")"
t_eq "MOUNT NULL with AUTH_NONE: accepted SUCCESS" "reply 2 accepted SUCCESS" \
    "$(wire "call 2 $MNT 3 0 none -")"
t_eq "NFS NULL as another user: accepted SUCCESS (pings are for anyone)" \
    "reply 3 accepted SUCCESS" "$(wire "call 3 $NFS 3 0 sys $other")"
if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
    t_eq "NFS NULL over ::1: accepted SUCCESS" "reply 4 accepted SUCCESS" \
        "$(printf 'call 4 %d 3 0 none -\n' "$NFS" | "$TESTTOOL" rpc-talk "$port" ::1)"
else
    t_skip "NFS NULL over ::1" "no IPv6 loopback here"
fi

# ---- 2. programs, versions, procedures: one connection, which stays ------------
mapfile -t R < <(wire "call 10 100099 3 0 sys $me" "call 11 $NFS 2 0 sys $me" \
    "call 12 $NFS 4 0 sys $me" "call 13 $MNT 1 0 sys $me" "call 14 $NFS 3 22 sys $me" \
    "call 15 $MNT 3 6 sys $me" "call 16 $NFS 3 0 sys $me")
t_eq "program 100099: PROG_UNAVAIL" "reply 10 accepted PROG_UNAVAIL" "${R[0]:-}"
t_eq "NFS version 2: PROG_MISMATCH 3..3" "reply 11 accepted PROG_MISMATCH 3 3" "${R[1]:-}"
t_eq "NFS version 4: PROG_MISMATCH 3..3" "reply 12 accepted PROG_MISMATCH 3 3" "${R[2]:-}"
t_eq "MOUNT version 1: PROG_MISMATCH 3..3" "reply 13 accepted PROG_MISMATCH 3 3" "${R[3]:-}"
t_eq "NFS procedure 22: PROC_UNAVAIL" "reply 14 accepted PROC_UNAVAIL" "${R[4]:-}"
t_eq "MOUNT procedure 6: PROC_UNAVAIL" "reply 15 accepted PROC_UNAVAIL" "${R[5]:-}"
t_eq "... and the same connection still answers NULL" "reply 16 accepted SUCCESS" "${R[6]:-}"
still_serving "after wrong programs"

# ---- 3. RPC versions -----------------------------------------------------------
mapfile -t R < <(wire "rpcvers 20 3" "rpcvers 21 1" "rpcvers 22 2")
t_eq "RPC version 3: denied RPC_MISMATCH 2..2" "reply 20 denied RPC_MISMATCH 2 2" "${R[0]:-}"
t_eq "RPC version 1: denied RPC_MISMATCH 2..2" "reply 21 denied RPC_MISMATCH 2 2" "${R[1]:-}"
t_eq "... and RPC version 2 on the same connection: SUCCESS" "reply 22 accepted SUCCESS" "${R[2]:-}"
still_serving "after wrong RPC versions"

# ---- 4. who may call ----------------------------------------------------------------
fake=$(fh_args "$(zeros 24)")
mapfile -t R < <(wire "call 30 $NFS 3 1 none - $fake" "call 31 $NFS 3 1 sys $other $fake" \
    "call 32 $MNT 3 1 none - 000000012f000000" "call 33 $NFS 3 1 sys $me $fake")
t_eq "GETATTR with AUTH_NONE: denied AUTH_ERROR TOOWEAK" "reply 30 denied AUTH_ERROR TOOWEAK" "${R[0]:-}"
t_eq "GETATTR as uid $other: denied AUTH_ERROR BADCRED" "reply 31 denied AUTH_ERROR BADCRED" "${R[1]:-}"
t_eq "MOUNT MNT with AUTH_NONE: denied AUTH_ERROR TOOWEAK" "reply 32 denied AUTH_ERROR TOOWEAK" "${R[2]:-}"
t_eq "GETATTR of a made-up 24-byte handle as the owner: NFS3ERR_STALE (70)" \
    "reply 33 accepted SUCCESS status 70" "${R[3]:-}"
still_serving "after refused callers"

# ---- 5. arguments that do not decode --------------------------------------------
mapfile -t R < <(wire "call 40 $NFS 3 1 sys $me ffffffff" \
    "call 41 $NFS 3 1 sys $me 00000018 00000000" \
    "call 42 $NFS 3 1 sys $me $(fh_args "$(zeros 65)")000000" \
    "call 43 $NFS 3 1 sys $me ${fake}00000000" \
    "call 44 $NFS 3 1 sys $me" \
    "call 45 $NFS 3 0 sys $me 00000000" \
    "call 46 $NFS 3 0 sys $me")
t_eq "GETATTR with a handle length of 0xffffffff: GARBAGE_ARGS" "reply 40 accepted GARBAGE_ARGS" "${R[0]:-}"
t_eq "GETATTR with a handle cut short: GARBAGE_ARGS" "reply 41 accepted GARBAGE_ARGS" "${R[1]:-}"
t_eq "GETATTR with a handle of 65 bytes: GARBAGE_ARGS" "reply 42 accepted GARBAGE_ARGS" "${R[2]:-}"
t_eq "GETATTR with bytes after the handle: GARBAGE_ARGS" "reply 43 accepted GARBAGE_ARGS" "${R[3]:-}"
t_eq "GETATTR with no arguments: GARBAGE_ARGS" "reply 44 accepted GARBAGE_ARGS" "${R[4]:-}"
t_eq "NULL with an argument: GARBAGE_ARGS" "reply 45 accepted GARBAGE_ARGS" "${R[5]:-}"
t_eq "... and the same connection still answers NULL" "reply 46 accepted SUCCESS" "${R[6]:-}"
still_serving "after garbage arguments"

# ---- 6. handles: the root's from MNT, and others ----------------------------------
mapfile -t R < <(wire "call 50 $MNT 3 1 sys $me 000000012f000000" dump)
t_eq "MOUNT MNT of /: SUCCESS, MNT3_OK" "reply 50 accepted SUCCESS status 0" "${R[0]:-}"
res=${R[1]#results }
fh=""
if [[ "$res" =~ ^00000000([0-9a-f]{8}) ]]; then
    fh=${res:16:$((16#${BASH_REMATCH[1]} * 2))}
fi
t_eq "MOUNT MNT: the root's handle has 24 bytes" "48" "${#fh}"
if [ -n "$fh" ]; then
    # The first byte of the handle changed: another server instance's.
    other_fh=$(printf '%02x' $((16#${fh:0:2} ^ 1)))${fh:2}
    mapfile -t R < <(wire "call 51 $NFS 3 1 sys $me $(fh_args "$fh")" \
        "call 52 $NFS 3 1 sys $me $(fh_args "$other_fh")" "call 53 $NFS 3 1 none - $(fh_args "$fh")")
    t_eq "GETATTR of the root's handle: NFS3_OK" "reply 51 accepted SUCCESS status 0" "${R[0]:-}"
    t_eq "GETATTR of the root's handle with a byte changed: NFS3ERR_STALE" \
        "reply 52 accepted SUCCESS status 70" "${R[1]:-}"
    t_eq "GETATTR of the root's handle with AUTH_NONE: AUTH_ERROR TOOWEAK" \
        "reply 53 denied AUTH_ERROR TOOWEAK" "${R[2]:-}"
fi
still_serving "after real handles"

# ---- 7. record marking ------------------------------------------------------------
# A NULL call of xid 99 with AUTH_NONE, record mark and all (44 bytes), and
# its reply's length: a mark and 6 words.
null_body="00000063 00000000 00000002 000186a3 00000003 00000000 00000000 00000000 00000000 00000000"
t_eq "an empty record: no answer, the connection stays" "reply 60 accepted SUCCESS" \
    "$(wire "raw 80000000" "call 60 $NFS 3 0 none -")"
t_eq "a REPLY message: no answer, the connection stays" "reply 61 accepted SUCCESS" \
    "$(wire "raw 8000000c 00000007 00000001 00000000" "call 61 $NFS 3 0 none -")"
t_eq "a call in two fragments, then the client's end: answered, then closed" \
    "closed after 28 bytes" \
    "$(wire "raw 00000010 ${null_body:0:35}" "raw 80000018 ${null_body:36}" shut expect-close)"
t_eq "a call with the client's end in the same write: answered, then closed" \
    "closed after 28 bytes" "$(wire "raw 80000028 $null_body" shut expect-close)"
still_serving "after fragments"
t_eq "a record announcing 100 bytes, 10 sent, then the client's end: closed" \
    "closed" "$(wire "raw 80000064 00112233445566778899" shut expect-close)"
still_serving "after a truncated record"
t_eq "a record mark of 0x7fffffff: the connection is closed at once" \
    "closed" "$(wire "raw 7fffffff" expect-close)"
still_serving "after a mark of 0x7fffffff"
t_eq "a record mark of 0xffffffff (last fragment, 2^31 - 1): closed at once" \
    "closed" "$(wire "raw ffffffff" expect-close)"
still_serving "after a mark of 0xffffffff"
# The limit is 1 MiB + 64 KiB (0x110000): a mark of exactly that waits for
# its bytes; one byte more is refused.
t_eq "a record mark of 1 MiB + 64 KiB + 1: closed at once" \
    "closed" "$(wire "raw 80110001" expect-close)"
t_eq "a record mark of exactly 1 MiB + 64 KiB: still open 2 s later" \
    "open" "$(wire "raw 80110000 0000" "expect-close 2")"
still_serving "after marks over the limit"

# ---- 8. a thousand connections ----------------------------------------------------
# Every connection above is gone once the server has seen its end: the
# descriptors are back to the server's, its listeners' and the first
# connection's.
if wait_for 20 fds_at_most $((base + 2)); then
    t_ok "the connections of the checks above are closed: $(fds) descriptors, $base at the start"
else
    t_fail "the connections of the checks above are closed" "$(fds) descriptors, $base at the start"
fi
before=$(fds)
t_eq "1000 connections opened and dropped, some in the middle of a record" "1000 connections" \
    "$("$TESTTOOL" rpc-churn "$port" 1000 2>&1)"
if wait_for 30 fds_at_most $((before + 2)); then
    t_ok "... and the server's descriptors return: $(fds), $before before"
else
    t_fail "... and the server's descriptors return" "$(fds) now, $before before"
fi
t_eq "... and a fresh connection is answered" "reply 70 accepted SUCCESS" \
    "$(wire "call 70 $NFS 3 0 sys $me")"
still_serving "after 1000 connections"

# ---- 9. SIGTERM ---------------------------------------------------------------------
kill -TERM "$srv"
wait "$srv"
t_eq "SIGTERM: the server exits 0" "0" "$?"
t_eq "... and its stderr holds only its banner" "serving 1 layer over NFSv3 on 127.0.0.1 and ::1" \
    "$(sed "s/, port $port .*//" "$s/serve.err")"
printf 'expect-close\n' >&7
keep_n=$((keep_n + 1))
wait_for 20 keep_lines
t_eq "... and the connection opened first is closed" "closed" "$(sed -n "${keep_n}p" "$s/keep.out")"
exec 7>&-
wait "$keeper"
t_eq "... and its rpc-talk ends cleanly" "0:" "$?:$(cat "$s/keep.err")"

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from the server or the tools" "" "$reports"

t_done
