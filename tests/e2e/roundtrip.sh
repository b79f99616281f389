#!/usr/bin/env bash
# Import, then export, must give back the same tree byte for byte: files,
# empty files, nested and empty directories, permission bits, every kind of
# symbolic link (stored, never followed), odd names. Also checks ls and cat
# output exactly, deduplication on re-import, the refusal of fifos, and
# export --link sharing a spilled blob's inode read-only.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store

blobs() { sqlite3 "$STRATA_STORE/store.db" 'select count(*) from blobs'; }
objects() { find "$STRATA_STORE/objects" -type f | wc -l; }
object_of() { # the spilled object file of a file's content
    local h
    h=$(sha256sum "$1" | cut -c1-64)
    echo "$STRATA_STORE/objects/${h:0:2}/${h:2}"
}

# ---- the tree -----------------------------------------------------------------
src=$s/src
unicode="héllo wörld ☃.txt"
odd="odd name !@#\$%^&()[]{};',=+~\`\".txt"
mkdir -p "$src/dir/sub/deep" "$src/emptydir" "$src/dir/emptysub" "$src/ro" "$src/private"
printf 'hello, world\n' >"$src/README.txt"
: >"$src/empty.txt"
printf '#!/bin/sh\necho run\n' >"$src/run.sh"
printf 'secret\n' >"$src/secret"
printf 'int x;\n' >"$src/dir/sub/deep/file.c"
printf 'unicode\n' >"$src/$unicode"
printf 'odd\n' >"$src/$odd"
printf 'read only\n' >"$src/ro/file"
: >"$src/private/empty"
"$TESTTOOL" gen-file "$src/big.bin" $((4 << 20)) 42
"$TESTTOOL" gen-file "$src/dir/big-exec" $((1 << 20)) 43
ln -s README.txt "$src/rel-link"
ln -s ../README.txt "$src/dir/up-link"
ln -s sub/deep "$src/dir/deep-link"
ln -s does/not/exist "$src/dangling"
ln -s /etc/hostname "$src/abs-link"
ln -s ../../etc/passwd "$src/escape"
chmod 0755 "$src" "$src/run.sh" "$src/dir/big-exec"
chmod 0600 "$src/secret"
chmod 0444 "$src/ro/file"
chmod 0700 "$src/private"
chmod 0555 "$src/ro"
want_list=$("$TESTTOOL" tree-list "$src")

# ---- import and export ----------------------------------------------------------
t_cmd "$STRATA" import "$src" --name rt
digest=$OUT
if [ "$RC" = 0 ] && [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
    t_ok "import"
else
    t_fail "import" "exit $RC: $OUT $ERR"
fi
[[ "$ERR" == *": 11 files, 7 dirs, 6 symlinks, "* ]] && t_ok "import counts files, dirs, symlinks" ||
    t_fail "import counts files, dirs, symlinks" "$ERR"
t_run "export" "$STRATA" export rt "$s/out"
t_eq "export gives back the tree exactly (tree-list)" "$want_list" "$("$TESTTOOL" tree-list "$s/out")"
t_eq "the link to ../../etc/passwd is exported as a link" "../../etc/passwd" "$(readlink "$s/out/escape")"
t_eq "mtime of a file is 1 s after the epoch" "1" "$(stat -c %Y "$s/out/README.txt")"
t_eq "mtime of a directory is 1 s after the epoch" "1" "$(stat -c %Y "$s/out/dir/sub")"
t_eq "mtime of a symlink is 1 s after the epoch" "1" "$(stat -c %Y "$s/out/escape")"
t_run "export by digest, --copy" "$STRATA" export "$digest" "$s/out-copy" --copy
t_eq "export --copy gives back the tree exactly" "$want_list" "$("$TESTTOOL" tree-list "$s/out-copy")"

# ---- ls ---------------------------------------------------------------------------
t_cmd "$STRATA" ls rt
t_eq "ls of the root" "README.txt
abs-link -> /etc/hostname
big.bin
dangling -> does/not/exist
dir/
empty.txt
emptydir/
escape -> ../../etc/passwd
$unicode
$odd
private/
rel-link -> README.txt
ro/
run.sh
secret" "$OUT"
t_cmd "$STRATA" ls -R rt dir
t_eq "ls -R of a directory: paths relative to it, in tree order" "big-exec
deep-link -> sub/deep
emptysub/
sub/
sub/deep/
sub/deep/file.c
up-link -> ../README.txt" "$OUT"
t_cmd "$STRATA" ls rt emptydir
t_eq "ls of an empty directory: nothing, exit 0" "0:" "$RC:$OUT"
t_cmd "$STRATA" ls rt dir/sub/deep/file.c
t_eq "ls of a file: that entry" "dir/sub/deep/file.c" "$OUT"
t_cmd "$STRATA" ls rt dir/deep-link
t_eq "ls of a link: the link" "dir/deep-link -> sub/deep" "$OUT"
t_cmd "$STRATA" ls rt dir/deep-link/
t_eq "ls of a link with a trailing /: what it points to" "file.c" "$OUT"
t_cmd "$STRATA" ls rt dir/deep-link/file.c
t_eq "ls through a link in the middle of the path" "dir/deep-link/file.c" "$OUT"
big_sha=$(sha256sum "$src/big.bin" | cut -c1-64)
empty_sha=$(sha256sum "$src/empty.txt" | cut -c1-64)
t_cmd "$STRATA" ls -l rt big.bin
t_eq "ls -l of a file: mode, size, digest" \
    "$(printf '%s %12s %-71s %s' -rw-r--r-- 4194304 "sha256:$big_sha" big.bin)" "$OUT"
t_cmd "$STRATA" ls -l rt
t_eq "ls -l of the root: every kind" "$(
    printf '%s %12s %-71s %s\n' \
        -rw-r--r-- 13 "sha256:$(sha256sum "$src/README.txt" | cut -c1-64)" README.txt \
        lrwxrwxrwx 13 - "abs-link -> /etc/hostname" \
        -rw-r--r-- 4194304 "sha256:$big_sha" big.bin \
        lrwxrwxrwx 14 - "dangling -> does/not/exist" \
        drwxr-xr-x - - dir/ \
        -rw-r--r-- 0 "sha256:$empty_sha" empty.txt \
        drwxr-xr-x - - emptydir/ \
        lrwxrwxrwx 16 - "escape -> ../../etc/passwd" \
        -rw-r--r-- 8 "sha256:$(sha256sum "$src/$unicode" | cut -c1-64)" "$unicode" \
        -rw-r--r-- 4 "sha256:$(sha256sum "$src/$odd" | cut -c1-64)" "$odd" \
        drwx------ - - private/ \
        lrwxrwxrwx 10 - "rel-link -> README.txt" \
        dr-xr-xr-x - - ro/ \
        -rwxr-xr-x 19 "sha256:$(sha256sum "$src/run.sh" | cut -c1-64)" run.sh \
        -rw------- 7 "sha256:$(sha256sum "$src/secret" | cut -c1-64)" secret
)" "$OUT"

# ---- cat ------------------------------------------------------------------------
cat_is() { # NAME PATH-IN-LAYER FILE-WITH-THE-EXPECTED-BYTES
    "$STRATA" cat rt "$2" >"$s/cat.out" 2>"$s/cat.err"
    local rc=$?
    if [ "$rc" = 0 ] && cmp -s "$3" "$s/cat.out" && [ ! -s "$s/cat.err" ]; then
        t_ok "$1"
    else
        t_fail "$1" "exit $rc: $(cmp "$3" "$s/cat.out" 2>&1) $(cat "$s/cat.err")"
    fi
}
cat_is "cat of a file" README.txt "$src/README.txt"
cat_is "cat of an empty file" empty.txt "$src/empty.txt"
cat_is "cat of a 4 MiB file (spilled blob)" big.bin "$src/big.bin"
cat_is "cat of a unicode name" "$unicode" "$src/$unicode"
cat_is "cat of an odd name" "$odd" "$src/$odd"
cat_is "cat follows a relative link" rel-link "$src/README.txt"
cat_is "cat follows a link with ../ in it" dir/up-link "$src/README.txt"
cat_is "cat follows a link in the middle of the path" dir/deep-link/file.c "$src/dir/sub/deep/file.c"
t_err "cat of a dangling link: exit 1" 1 "$STRATA" cat rt dangling
t_err "cat of a link to an absolute path: exit 1" 1 "$STRATA" cat rt abs-link
[[ "$ERR" == *"absolute"* ]] && t_ok "cat of an absolute link: says why" ||
    t_fail "cat of an absolute link: says why" "$ERR"
t_err "cat of a link leading out of the layer: exit 1" 1 "$STRATA" cat rt escape
[[ "$ERR" == *"outside the layer"* ]] && t_ok "cat of an escaping link: says why" ||
    t_fail "cat of an escaping link: says why" "$ERR"

# ---- the same tree again: same digest, nothing new --------------------------------
b0=$(blobs) o0=$(objects)
t_cmd "$STRATA" import "$src"
t_eq "re-import: the same digest" "$digest" "$OUT"
[[ "$ERR" == *"; new: 0 blobs, 0 B" ]] && t_ok "re-import: reports nothing new" ||
    t_fail "re-import: reports nothing new" "$ERR"
t_eq "re-import: no new blob rows" "$b0" "$(blobs)"
t_eq "re-import: no new object files" "$o0" "$(objects)"
if [ "$o0" -ge 2 ]; then t_ok "the two large files spilled ($o0 objects)"; else
    t_fail "the two large files spilled" "$o0 objects"
fi
cp -a "$src" "$s/src2"
t_cmd "$STRATA" import "$s/src2"
t_eq "a copy of the tree elsewhere: the same digest" "$digest" "$OUT"

# ---- refused: fifos ---------------------------------------------------------------
mkdir -p "$s/fifo/sub"
printf 'x\n' >"$s/fifo/a"
mkfifo "$s/fifo/sub/pipe"
t_err "import of a tree with a fifo: exit 1" 1 "$STRATA" import "$s/fifo" --name fifo
[[ "$ERR" == *"sub/pipe"* ]] && t_ok "the fifo error names the path" ||
    t_fail "the fifo error names the path" "$ERR"
t_cmd "$STRATA" refs
t_eq "a failed import sets no ref" "rt $digest" "$OUT"

# ---- setuid/setgid/sticky bits are dropped ---------------------------------------
mkdir -p "$s/suid"
printf 'x\n' >"$s/suid/tool"
if chmod 4755 "$s/suid/tool" 2>/dev/null && chmod 1777 "$s/suid"; then
    t_cmd "$STRATA" import -q "$s/suid" --name suid
    t_run "export of a tree with setuid and sticky bits" "$STRATA" export -q suid "$s/suid-out"
    t_eq "setuid and sticky bits are dropped" "755 777" \
        "$(stat -c %a "$s/suid-out/tool") $(stat -c %a "$s/suid-out")"
else
    t_skip "setuid and sticky bits are dropped" "chmod 4755 refused here"
fi

# ---- export --link: spilled, non-executable files share the store's inode ---------
t_run "export --link" "$STRATA" export rt "$s/linked" --link
obj=$(object_of "$src/big.bin")
t_eq "--link: a spilled file is the store's object (same inode)" "$(stat -c %i "$obj")" \
    "$(stat -c %i "$s/linked/big.bin")"
t_eq "--link: the shared file has no write bits" "444" "$(stat -c %a "$s/linked/big.bin")"
exe_obj=$(object_of "$src/dir/big-exec")
if [ "$(stat -c %i "$exe_obj")" != "$(stat -c %i "$s/linked/dir/big-exec")" ] &&
    [ "$(stat -c %a "$s/linked/dir/big-exec")" = 755 ]; then
    t_ok "--link: an executable file is not shared, keeps its mode"
else
    t_fail "--link: an executable file is not shared, keeps its mode" \
        "$(stat -c '%i %a' "$exe_obj" "$s/linked/dir/big-exec")"
fi
want_linked=$(printf '%s\n' "$want_list" | sed 's|^\(big.bin\tf\t\)0644|\10444|')
t_eq "--link: otherwise the exact tree" "$want_linked" "$("$TESTTOOL" tree-list "$s/linked")"
if [ "$(stat -c %i "$obj")" != "$(stat -c %i "$s/out-copy/big.bin")" ]; then
    t_ok "--copy: the file is a copy of its own"
else
    t_fail "--copy: the file is a copy of its own" "same inode as $obj"
fi
t_cmd "$STRATA" fsck
t_eq "the store is clean after all that" "0" "$RC"

t_done
