#!/usr/bin/env bash
# Many small files: a generated tree of 50,000 files (5,000 under ASan) of 0..8 KiB in nested
# directories is imported (throughput printed as a TAP comment), exported,
# and compared entry by entry; a second import stores nothing new.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
n=$((50000 / T_SCALE))

t_run "generate $n files" "$TESTTOOL" gen-tree "$s/src" "$n" 5
bytes=$(find "$s/src" -type f -printf '%s\n' | awk '{ t += $1 } END { print t }')
want=$("$TESTTOOL" tree-list "$s/src")

t0=$(date +%s%N)
t_cmd "$STRATA" import "$s/src" --name small
t1=$(date +%s%N)
digest=$OUT
t_eq "import of $n small files" "0" "$RC"
echo "# import $n files ($bytes bytes): $(awk -v n="$n" -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN { s = ns / 1e9; printf "%.0f files/s, %.1f MB/s (%.2f s)", n / s, b / 1e6 / s, s }')"
echo "# strata says: $ERR"
[[ "$ERR" == *": $n files, "* ]] && t_ok "import counts $n files" || t_fail "import counts $n files" "$ERR"

t_run "export" "$STRATA" export small "$s/out"
t_eq "export gives back the tree exactly (tree-list)" "$want" "$("$TESTTOOL" tree-list "$s/out")"
rm -rf "$s/out"

t_cmd "$STRATA" ls -R small
t_eq "ls -R lists every file and directory" "$(($(printf '%s\n' "$want" | wc -l) - 1))" \
    "$(printf '%s\n' "$OUT" | wc -l)"

t_cmd "$STRATA" import "$s/src"
t_eq "re-import: the same digest" "$digest" "$OUT"
[[ "$ERR" == *"; new: 0 blobs, 0 B" ]] && t_ok "re-import: nothing new" ||
    t_fail "re-import: nothing new" "$ERR"

t_done
