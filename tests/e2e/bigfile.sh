#!/usr/bin/env bash
# A file larger than 1 GiB (100 MiB under ASan; never a multiple of any
# chunk size) goes through import, export and cat unchanged, checked by
# sha256 at each step; memory stays bounded because everything streams. Prints the import
# throughput as a TAP comment. Big files are removed as soon as they have
# served, to keep the disk footprint near 2 GiB.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
size=$(((1 << 30) / T_SCALE + 12345))
mkdir -p "$s/src"

"$TESTTOOL" gen-file "$s/src/big" "$size" 1234
want=$(sha256sum "$s/src/big" | cut -c1-64)
t_eq "strata-testtool sha256 agrees with sha256sum" "$want" "$("$TESTTOOL" sha256 "$s/src/big")"

t0=$(date +%s%N)
t_cmd "$STRATA" import "$s/src" --name big
t1=$(date +%s%N)
t_eq "import of a $size-byte file" "0" "$RC"
rm -f "$s/src/big"
echo "# import $size bytes: $(awk -v b="$size" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f MB/s (%.2f s)", b / 1e6 / (ns / 1e9), ns / 1e9 }')"
echo "# strata says: $ERR"

t_cmd "$STRATA" ls -l big big
t_eq "ls -l shows its size and digest" \
    "$(printf '%s %12s %-71s %s' -rw-r--r-- "$size" "sha256:$want" big)" "$OUT"

t_run "export" "$STRATA" export big "$s/out"
t_eq "the exported file: same size" "$size" "$(stat -c %s "$s/out/big")"
t_eq "the exported file: same sha256" "$want" "$("$TESTTOOL" sha256 "$s/out/big")"
rm -rf "$s/out"

t_eq "cat: same sha256" "$want" "$("$STRATA" cat big big | "$TESTTOOL" sha256 -)"

t_cmd "$STRATA" fsck
t_eq "fsck re-hashes it: clean" "0" "$RC"

t_done
