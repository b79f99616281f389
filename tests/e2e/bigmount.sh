#!/usr/bin/env bash
# A file larger than 1 GiB (100 MiB under ASan; never a multiple of any
# chunk size) read back through real FUSE mounts, byte for byte: inside
# `strata run --backend fuse`, 1,000 reads at random offsets and lengths
# (before anything is cached) match the source, then the whole file's
# sha256 and its tail; the run captures nothing. The same through
# `strata mount`, with another 1,000 random reads. Prints the read
# throughput as TAP comments. The source is removed as soon as it has
# served, the store on exit: the disk footprint stays near 2 GiB.
# Skipped (a failure under STRATA_REQUIRE_MOUNT=1) where /dev/fuse is
# missing.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
export TMPDIR=$s/tmp
mkdir -p "$TMPDIR" "$s/src" "$s/mnt"
# Under ASan, reports (the background mount server's among them) go to
# files, checked at the end.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"

bm_cleanup() {
    local mp
    awk -v t="$s" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r mp; do
            fusermount3 -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
        done
    t_cleanup
}
trap bm_cleanup EXIT

if [ ! -e /dev/fuse ]; then
    t_skip "a large file through FUSE" "/dev/fuse is missing"
    t_done
    exit
fi

mounts() { awk -v t="$s" 'index($5, t) == 1' /proc/self/mountinfo | wc -l; }
mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f MB/s (%.2f s)", b / 1e6 / (ns / 1e9), ns / 1e9 }'; }

size=$(((1 << 30) / T_SCALE + 12345))
src=$s/src/big
"$TESTTOOL" gen-file "$src" "$size" 77
want=$(sha256sum "$src" | cut -c1-64)
want_tail=$(tail -c 70000 "$src" | sha256sum | cut -c1-64)
t_run "import a $size-byte file" "$STRATA" import -q "$s/src" --name big

# ---- inside strata run --backend fuse -------------------------------------
cat >"$s/read.sh" <<SH
set -e
awk -v d="\$(pwd -P)" '\$5 == d && / - fuse\\.strata /' /proc/self/mountinfo | grep -q . ||
    { echo "not a FUSE mount" >&2; exit 1; }
stat -c %s big
"$TESTTOOL" cmp-random "$src" big 1000 5
t0=\$(date +%s%N)
"$TESTTOOL" sha256 big
t1=\$(date +%s%N)
tail -c 70000 big | sha256sum | cut -c1-64
echo \$((t1 - t0))
SH
t_cmd "$STRATA" run --backend fuse -l big --out r -- sh "$s/read.sh"
t_eq "run: the command succeeds" "0" "$RC"
lines=()
mapfile -t lines <<<"$OUT"
t_eq "run: the size through the mount" "$size" "${lines[0]:-}"
t_eq "run: 1000 reads at random offsets and lengths match the source" \
    "1000 random reads match" "${lines[1]:-}"
t_eq "run: the whole file's sha256" "$want" "${lines[2]:-}"
t_eq "run: the last 70,000 bytes" "$want_tail" "${lines[3]:-}"
[ -n "${lines[4]:-}" ] && echo "# run: sha256 through FUSE: $(mbps "$size" "${lines[4]}")"
[[ "$ERR" == "captured sha256:"*" as r: 0 added, 0 changed, 0 deleted" ]] &&
    t_ok "run: reading captures nothing" || t_fail "run: reading captures nothing" "$ERR"
t_eq "run: no mount and nothing left in TMPDIR" "0:" "$(mounts):$(ls -A "$TMPDIR")"

# ---- through strata mount ---------------------------------------------------
mp=$s/mnt
t_cmd "$STRATA" mount --layer big "$mp"
if [ "$RC" = 0 ] && is_mounted "$mp"; then
    t_ok "mount"
    t_eq "mount: the size" "$size" "$(stat -c %s "$mp/big")"
    t_run "mount: 1000 reads at random offsets and lengths match the source" \
        "$TESTTOOL" cmp-random "$src" "$mp/big" 1000 6
    t0=$(date +%s%N)
    got=$("$TESTTOOL" sha256 "$mp/big")
    t1=$(date +%s%N)
    t_eq "mount: the whole file's sha256" "$want" "$got"
    echo "# mount: sha256 through FUSE: $(mbps "$size" $((t1 - t0)))"
    t_run "umount" "$STRATA" umount "$mp"
else
    t_fail "mount" "exit $RC: $ERR"
fi
rm -f "$src"
t_eq "no mount left" "0" "$(mounts)"

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from any strata process" "" "$reports"

t_done
