#!/usr/bin/env bash
# fsck finds damage: one flipped byte in a spilled object file, one changed
# byte of an inline blob in SQLite, a missing object file. Each time it
# exits 1 and names the damaged blob's digest; once repaired, it is clean.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
db=$STRATA_STORE/store.db

mkdir -p "$s/src"
"$TESTTOOL" gen-file "$s/src/spilled.bin" $((1 << 20)) 7
printf 'a small file that lives inline in the database\n' >"$s/src/inline.txt"
printf 'another one\n' >"$s/src/other.txt"
big_hex=$(sha256sum "$s/src/spilled.bin" | cut -c1-64)
small_hex=$(sha256sum "$s/src/inline.txt" | cut -c1-64)
obj=$STRATA_STORE/objects/${big_hex:0:2}/${big_hex:2}

t_cmd "$STRATA" import -q "$s/src" --name f
t_eq "import" "0" "$RC"
t_cmd "$STRATA" fsck
if [ "$RC" = 0 ] && [[ "$OUT" == "store is clean: "*" blobs, "*", 1 ref verified" ]]; then
    t_ok "a fresh store is clean"
else
    t_fail "a fresh store is clean" "exit $RC: $OUT $ERR"
fi
t_eq "the 1 MiB file spilled to its object file" "yes" "$([ -f "$obj" ] && echo yes)"

# ---- a flipped byte in a spilled object ---------------------------------------
chmod u+w "$obj"
"$TESTTOOL" flip-byte "$obj" 4242
t_cmd "$STRATA" fsck
t_eq "a flipped byte in an object file: exit 1" "1" "$RC"
[[ "$OUT" == *"sha256:$big_hex"* ]] && t_ok "fsck names the damaged spilled blob" ||
    t_fail "fsck names the damaged spilled blob" "$OUT"
t_eq "fsck reports exactly one problem" "1" "$(printf '%s\n' "$OUT" | grep -c .)"
if [[ "$ERR" == "strata: "*$'\n'"hint: "* ]] && [ "$(printf '%s\n' "$ERR" | wc -l)" = 2 ]; then
    t_ok "fsck ends with the two-line error"
else
    t_fail "fsck ends with the two-line error" "$ERR"
fi
"$TESTTOOL" flip-byte "$obj" 4242
t_cmd "$STRATA" fsck
t_eq "flipped back: clean again" "0" "$RC"

# ---- a changed inline blob ----------------------------------------------------
t_eq "the small file is an inline blob" "1" \
    "$(sqlite3 "$db" "select count(*) from blobs where digest = X'$small_hex' and data is not null")"
orig=$(od -An -tx1 -v "$s/src/inline.txt" | tr -d ' \n')
t_eq "one inline blob changed" "1" "$(sqlite3 "$db" \
    "update blobs set data = zeroblob(length(data)) where digest = X'$small_hex'; select changes();")"
t_cmd "$STRATA" fsck
t_eq "a changed inline blob: exit 1" "1" "$RC"
[[ "$OUT" == *"sha256:$small_hex"* ]] && t_ok "fsck names the damaged inline blob" ||
    t_fail "fsck names the damaged inline blob" "$OUT"
[[ "$OUT" != *"sha256:$big_hex"* ]] && t_ok "fsck does not blame the repaired blob" ||
    t_fail "fsck does not blame the repaired blob" "$OUT"
sqlite3 "$db" "update blobs set data = X'$orig' where digest = X'$small_hex'"
t_cmd "$STRATA" fsck
t_eq "restored: clean again" "0" "$RC"

# ---- a missing object file ------------------------------------------------------
rm -f "$obj"
t_cmd "$STRATA" fsck
t_eq "a missing object file: exit 1" "1" "$RC"
[[ "$OUT" == *"sha256:$big_hex"* ]] && t_ok "fsck names the missing blob" ||
    t_fail "fsck names the missing blob" "$OUT"

t_done
