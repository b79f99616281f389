#!/usr/bin/env bash
# gc removes exactly the blobs that no ref reaches: with two layers sharing
# some files, deleting one ref frees only what that layer alone used (its
# manifest, its own small and spilled files), and the other layer still
# exports byte for byte. gc --dry-run changes nothing.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
db=$STRATA_STORE/store.db

blob_list() { sqlite3 "$db" 'select hex(digest) from blobs order by 1'; }
blobs() { sqlite3 "$db" 'select count(*) from blobs'; }
object_list() { (cd "$STRATA_STORE/objects" && find . -type f | sort); }
objects() { find "$STRATA_STORE/objects" -type f | wc -l; }

# Two trees: a shared small and a shared spilled file, plus files of their own.
mkdir -p "$s/a/sub" "$s/b/sub"
for t in a b; do
    printf 'shared\n' >"$s/$t/shared.txt"
    "$TESTTOOL" gen-file "$s/$t/sub/shared.bin" $((1 << 20)) 1
    printf '%s one\n' "$t" >"$s/$t/$t-1.txt"
    printf '%s two\n' "$t" >"$s/$t/sub/$t-2.txt"
    "$TESTTOOL" gen-file "$s/$t/$t.bin" $((512 << 10)) "$([ "$t" = a ] && echo 2 || echo 3)"
done

t_cmd "$STRATA" import -q "$s/a" --name a
t_cmd "$STRATA" import -q "$s/b" --name b
b_digest=$OUT
want_a=$("$TESTTOOL" tree-list "$s/a")
n=$(blobs) o=$(objects)
# a: 5 files + manifest; b: 3 files of its own + manifest.
t_eq "two layers: 10 blobs, 3 of them spilled" "10 3" "$n $o"

t_cmd "$STRATA" gc
t_eq "gc with every layer referenced: removes nothing" "0 $n $o" "$RC $(blobs) $(objects)"

t_run "refs delete b" "$STRATA" refs delete b
before_blobs=$(blob_list) before_objects=$(object_list)
t_cmd "$STRATA" gc --dry-run
if [ "$RC" = 0 ] && [[ "$OUT" == "would remove 4 blobs ("*") and 0 temp files; kept 6 blobs ("*")" ]]; then
    t_ok "gc --dry-run: would remove b's 4 blobs"
else
    t_fail "gc --dry-run: would remove b's 4 blobs" "exit $RC: $OUT $ERR"
fi
t_eq "gc --dry-run: no blob row removed" "$before_blobs" "$(blob_list)"
t_eq "gc --dry-run: no object file removed" "$before_objects" "$(object_list)"
t_run "gc --dry-run: b is still readable by digest" "$STRATA" cat "$b_digest" b-1.txt

t_cmd "$STRATA" gc
if [ "$RC" = 0 ] && [[ "$OUT" == "removed 4 blobs ("*") and 0 temp files; kept 6 blobs ("*")" ]]; then
    t_ok "gc: removes b's 4 blobs"
else
    t_fail "gc: removes b's 4 blobs" "exit $RC: $OUT $ERR"
fi
t_eq "gc: 6 blob rows left, 2 object files" "6 2" "$(blobs) $(objects)"
gone=$(comm -23 <(printf '%s\n' "$before_blobs") <(blob_list) | tr 'A-F' 'a-f')
want_gone=$(for f in b-1.txt sub/b-2.txt b.bin; do sha256sum "$s/b/$f" | cut -c1-64; done
    echo "${b_digest#sha256:}")
t_eq "gc: exactly b's own files and manifest are gone" "$(printf '%s\n' "$want_gone" | sort)" \
    "$(printf '%s\n' "$gone" | sort)"
t_eq "gc: the shared spilled file is kept" "yes" \
    "$(h=$(sha256sum "$s/a/sub/shared.bin" | cut -c1-64)
    [ -f "$STRATA_STORE/objects/${h:0:2}/${h:2}" ] && echo yes)"
t_err "gc: b is gone by digest too" 1 "$STRATA" ls "$b_digest"

t_run "a still exports" "$STRATA" export -q a "$s/a-out"
t_eq "a still exports byte for byte" "$want_a" "$("$TESTTOOL" tree-list "$s/a-out")"
t_cmd "$STRATA" fsck
t_eq "fsck after gc: clean" "0" "$RC"

# What gc removed comes back with a re-import.
t_cmd "$STRATA" import -q "$s/b" --name b
t_eq "re-import of b: same digest" "$b_digest" "$OUT"
t_eq "re-import of b: all 10 blobs and 3 objects again" "10 3" "$(blobs) $(objects)"

# A layer imported without a name is garbage at once.
mkdir -p "$s/c"
printf 'unnamed\n' >"$s/c/c.txt"
t_cmd "$STRATA" import -q "$s/c"
t_cmd "$STRATA" gc
[[ "$OUT" == "removed 2 blobs ("* ]] && t_ok "gc removes an unnamed layer (file + manifest)" ||
    t_fail "gc removes an unnamed layer (file + manifest)" "$OUT $ERR"

t_done
