#!/usr/bin/env bash
# The NFS server (`strata mount --backend nfs --serve-only`) against
# independent clients: libnfs's own tools (nfs-ls, nfs-cp, nfs-cat) for a
# few plain reads and writes, and strata-nfsclient (tests/e2e/nfsclient.c),
# which calls every MOUNT v3 and NFSv3 procedure through libnfs's raw RPC
# layer and checks each answer, error paths and refused callers included.
# Its TAP lines are this script's checks, one for one.
#
# The server serves a small imported tree (the one nfsclient.c describes)
# with an upper directory, prints its URL on stdout, and stops at SIGTERM:
# it must exit 0 and leave nothing listening. Readiness is a real
# condition (the URL line in its stdout) polled against a deadline. The
# tools run first, on the untouched tree, except the copy into the server,
# which runs after the client (whose checks expect the tree as imported).
#
# Without strata-nfsclient (no libnfs-dev at build time) or libnfs's tools
# (libnfs-utils), their checks are skipped.
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
mkdir -p "$TMPDIR"
client=${BUILD:-$(dirname "$STRATA")}/strata-nfsclient

SRV=""
n_cleanup() {
    [ -n "$SRV" ] && kill -KILL "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    t_cleanup
}
trap n_cleanup EXIT

if [ ! -x "$client" ]; then
    t_skip "NFS server against libnfs" "strata-nfsclient was not built (libnfs-dev is missing)"
    t_done
    exit
fi

# ---- the tree, as nfsclient.c expects it ------------------------------------
src=$s/tree
mkdir -p "$src/dir/sub"
printf 'hello, strata\n' >"$src/hello.txt"
printf '#!/bin/sh\necho hi\n' >"$src/run.sh"
chmod 0755 "$src/run.sh"
yes 0123456789abcdef | head -c 200000 >"$src/big.bin"
ln -s hello.txt "$src/link"
printf 'alpha\n' >"$src/dir/a.txt"
printf 'bravo\n' >"$src/dir/b.txt"
printf 'charlie\n' >"$src/dir/c.txt"
printf 'deep\n' >"$src/dir/sub/deep.txt"
"$TESTTOOL" gen-file "$src/dir/sub/data.bin" 300000 7
t_run "import the tree" "$STRATA" import -q "$src" --name nfstree

# ---- the server --------------------------------------------------------------
up=$s/upper
"$STRATA" mount --backend nfs --serve-only -l nfstree --upper "$up" \
    >"$s/server.out" 2>"$s/server.err" &
SRV=$!
url_re='^nfs://127\.0\.0\.1/\?nfsport=[1-9][0-9]*&mountport=[1-9][0-9]*&version=3$'
url_ready() { head -n 1 "$s/server.out" | grep -Eq "$url_re"; }
if wait_for 60 url_ready; then
    t_ok "serve-only: the URL on stdout (server pid $SRV)"
else
    t_fail "serve-only: the URL on stdout" "stdout: $(cat "$s/server.out")
stderr: $(cat "$s/server.err")"
    t_done
    exit
fi
url=$(head -n 1 "$s/server.out")
port=$(printf '%s\n' "$url" | sed -n 's/.*[?&]nfsport=\([0-9]*\).*/\1/p')
t_eq "serve-only: one port for NFS and MOUNT" "$port" \
    "$(printf '%s\n' "$url" | sed -n 's/.*[?&]mountport=\([0-9]*\).*/\1/p')"
# The listening sockets of the port, as "address:port" lines, sorted.
listeners() { ss -Hltn "sport = :$port" 2>/dev/null | awk '{ print $4 }' | sort; }
t_eq "serve-only: listens on 127.0.0.1 and ::1 only" "127.0.0.1:$port
[::1]:$port" "$(listeners)"

# nfs://127.0.0.1PATH?<the server's options>. For a file directly at the
# export root, libnfs's URL parsing mounts "" and its nested-mount
# traversal then fails ("mount_cb: (null)"): such URLs get
# &auto-traverse-mounts=0 (nfs_url_root).
nfs_url() { printf 'nfs://127.0.0.1%s?%s' "$1" "${url#*\?}"; }
nfs_url_root() { printf '%s&auto-traverse-mounts=0' "$(nfs_url "$1")"; }
# nfs-ls's names (the last field of each line), sorted, one line.
ls_names() { nfs-ls "$1" | awk '{ print $NF }' | sort | tr '\n' ' '; }

# After t_cmd of a copy: ok if it exited 0 and files $2 and $3 are equal.
copied() {
    if [ "$RC" = 0 ] && cmp -s "$2" "$3"; then
        t_ok "$1"
    else
        t_fail "$1" "exit $RC: $OUT $ERR; $(cmp "$2" "$3" 2>&1)"
    fi
}

have_tools=1
for t in nfs-ls nfs-cp nfs-cat; do
    command -v "$t" >/dev/null || have_tools=0
done

# ---- libnfs's tools, on the untouched tree ------------------------------------
if [ "$have_tools" = 1 ]; then
    t_eq "nfs-ls of the root: the tree's names" "big.bin dir hello.txt link run.sh " \
        "$(ls_names "$(nfs_url /)" 2>&1)"
    t_eq "nfs-ls of dir: its names" "a.txt b.txt c.txt sub " "$(ls_names "$(nfs_url /dir)" 2>&1)"
    t_cmd nfs-cp "$(nfs_url /dir/sub/data.bin)" "$s/data.out"
    copied "nfs-cp of dir/sub/data.bin out of the server: byte-identical" \
        "$src/dir/sub/data.bin" "$s/data.out"
    t_eq "nfs-cat of hello.txt, at the export root: its bytes" "hello, strata" \
        "$(nfs-cat "$(nfs_url_root /hello.txt)" 2>&1)"
else
    t_skip "libnfs's tools on the tree" "nfs-ls, nfs-cp or nfs-cat is missing (libnfs-utils)"
fi

# ---- strata-nfsclient: every procedure ------------------------------------------
# Its checks become this script's, renumbered: "ok" as they are, "not ok"
# with the "# " lines after it as the diagnostic.
"$client" "$port" "$(id -u)" >"$s/client.tap" 2>"$s/client.err"
crc=$?
pending="" pdiag="" n=0 nfail=0 plan=""
flush() {
    [ -n "$pending" ] && t_fail "$pending" "$pdiag"
    pending="" pdiag=""
}
while IFS= read -r line; do
    case "$line" in
    "# "*)
        [ -n "$pending" ] && pdiag="${pdiag:+$pdiag$'\n'}${line#\# }"
        continue
        ;;
    esac
    flush
    case "$line" in
    "ok "*)
        n=$((n + 1))
        t_ok "nfsclient: ${line#ok * - }"
        ;;
    "not ok "*)
        n=$((n + 1))
        nfail=$((nfail + 1))
        pending="nfsclient: ${line#not ok * - }"
        ;;
    1..*) plan=${line#1..} ;;
    esac
done <"$s/client.tap"
flush
want_rc=0
[ "$nfail" = 0 ] || want_rc=1
if [ "$n" -gt 0 ] && [ "$plan" = "$n" ] && [ "$crc" = "$want_rc" ] &&
    [ ! -s "$s/client.err" ]; then
    t_ok "nfsclient: ran all $n checks to its plan, exit $crc, nothing on stderr"
else
    t_fail "nfsclient: ran all its checks to its plan, exit status as they say" \
        "$n checks, plan '$plan', exit $crc (want $want_rc)
stderr: $(cat "$s/client.err")
last lines: $(tail -n 5 "$s/client.tap")"
fi
t_eq "nfsclient's writes are in the upper directory: w1m.bin of 1 MiB" "1048576" \
    "$(stat -c %s "$up/w1m.bin" 2>&1)"

# ---- libnfs's tools: a copy into the server --------------------------------------
if [ "$have_tools" = 1 ]; then
    "$TESTTOOL" gen-file "$s/in.bin" 700000 11
    t_cmd nfs-cp "$s/in.bin" "$(nfs_url /dir/copied-in.bin)"
    copied "nfs-cp into dir/: in the upper directory, byte-identical" \
        "$s/in.bin" "$up/dir/copied-in.bin"
    t_cmd nfs-cp "$s/in.bin" "$(nfs_url_root /copied-in.bin)"
    copied "nfs-cp into the export root: in the upper directory, byte-identical" \
        "$s/in.bin" "$up/copied-in.bin"
    t_cmd nfs-cp "$(nfs_url /dir/copied-in.bin)" "$s/back.bin"
    copied "nfs-cp of it back out of the server: byte-identical" "$s/in.bin" "$s/back.bin"
fi

# ---- SIGTERM ------------------------------------------------------------------------
kill -TERM "$SRV"
if wait_for 30 gone "$SRV"; then
    wait "$SRV"
    t_eq "SIGTERM: the server exits 0" "0" "$?"
else
    t_fail "SIGTERM: the server exits 0" "still running 30 s after SIGTERM"
    kill -KILL "$SRV" 2>/dev/null
    wait "$SRV" 2>/dev/null
fi
SRV=""
t_eq "SIGTERM: nothing is left listening on the port" "" "$(listeners)"
t_eq "serve-only: stdout held the URL line alone" "$url" "$(cat "$s/server.out")"
# Its stderr is the one line saying what it serves (a sanitizer report
# that misses its log file would show here).
if [ "$(wc -l <"$s/server.err")" = 1 ] &&
    grep -q "^serving 1 layer over NFSv3 .* port $port (writes go to " "$s/server.err"; then
    t_ok "serve-only: stderr held the serving line alone"
else
    t_fail "serve-only: stderr held the serving line alone" "$(head -n 40 "$s/server.err")"
fi

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from the server or the client" "" "$reports"

t_done
