#!/usr/bin/env bash
# The FUSE scenarios, over strata's NFS server (`strata mount --backend nfs
# --serve-only`) and libnfs, a client nobody here wrote:
#   - read-through of two layers: every file of the merged view, byte for
#     byte, and a name of the lower layer the upper one hides is gone;
#   - a file of 1 GiB + (100 MiB + under ASan) read whole by sha256, and
#     1,000 reads at random offsets compared with the source;
#   - 32 connections at once, each reading every file byte for byte.
# The server is stopped with SIGTERM at the end and must exit 0; no
# sanitizer report may come from it.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"
# libnfs 4.0 itself leaks 24 bytes per mounted context (in strata-nfsread,
# under ASan); that is its business, not the server's.
printf 'leak:libnfs.so
' >"$s/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$s/lsan.supp:print_suppressions=0"
nfsread=$BUILD/strata-nfsread
SRV=""
n_cleanup() {
    [ -n "$SRV" ] && kill -KILL "$SRV" 2>/dev/null
    t_cleanup
}
trap n_cleanup EXIT

if [ ! -x "$nfsread" ]; then
    t_skip "NFS scenarios through libnfs" "strata-nfsread was not built (install libnfs-dev)"
    t_done
    exit
fi

ref_digest() { "$STRATA" refs | awk -v r="$1" '$1 == r { print $2 }'; }

# ---- the layers ---------------------------------------------------------
mkdir -p "$s/bottom/dir/sub" "$s/top/dir" "$s/big"
printf 'bottom a\n' >"$s/bottom/a"
printf 'only in bottom\n' >"$s/bottom/dir/sub/deep"
printf 'hidden by top\n' >"$s/bottom/dir/gone"
"$TESTTOOL" gen-file "$s/bottom/dir/mid" 300000 7
printf 'top a\n' >"$s/top/a"
printf 'only in top\n' >"$s/top/dir/new"
mkdir -p "$s/top/dir/gone" # a directory hides the lower file of that name
for i in $(seq 1 20); do "$TESTTOOL" gen-file "$s/bottom/dir/f$i" $((i * 7919)) "$i"; done
size=$(((1 << 30) / T_SCALE + 12345))
"$TESTTOOL" gen-file "$s/big/huge" "$size" 99
want_big=$(sha256sum "$s/big/huge" | cut -c1-64)
t_run "import the bottom layer" "$STRATA" import -q "$s/bottom" --name bottom
t_run "import the top layer" "$STRATA" import -q "$s/top" --name top
t_run "import a $size-byte file" "$STRATA" import -q "$s/big" --name big

# The merged view, as it must read: bottom, then top over it.
mkdir -p "$s/view"
cp -a "$s/bottom/." "$s/view/"
rm -f "$s/view/dir/gone"
cp -a "$s/top/." "$s/view/"
cp "$s/big/huge" "$s/view/huge"

"$STRATA" mount --backend nfs --serve-only -l top -l bottom -l big >"$s/url" 2>"$s/serve.err" &
SRV=$!
has_url() { grep -q '^nfs://127.0.0.1/?nfsport=[0-9]*&mountport=[0-9]*&version=3$' "$s/url"; }
if wait_for 30 has_url; then
    t_ok "the server prints its client URL"
else
    t_fail "the server prints its client URL" "$(cat "$s/url" "$s/serve.err")"
    t_done
    exit
fi
url=$(cat "$s/url")

# ---- read-through of the layers ------------------------------------------
files=$(cd "$s/view" && find . -type f ! -name huge | sed 's|^\./||' | sort)
# shellcheck disable=SC2086
t_run "every file of the two-layer view reads byte for byte" \
    "$nfsread" parallel "$url" 1 "$s/view" $files
t_eq "... the top layer's a wins" "$(sha256sum <"$s/top/a" | cut -c1-64)" \
    "$("$nfsread" sha256 "$url" /a)"
t_cmd nfs-ls "${url/\/\?//dir?}"
names=$(printf '%s\n' "$OUT" | awk '{ print $NF }' | sort | tr '\n' ' ')
t_eq "... the directory merges both layers; the hidden file is a directory" \
    "f1 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19 f2 f20 f3 f4 f5 f6 f7 f8 f9 gone mid new sub " \
    "$names"
[[ "$(printf '%s\n' "$OUT" | awk '$NF == "gone" { print $1 }')" == d* ]] &&
    t_ok "... gone is the top layer's directory" || t_fail "... gone is the top layer's directory" "$OUT"

# ---- a big file --------------------------------------------------------------
t_cmd "$nfsread" sha256 "$url" /huge
t_eq "the $size-byte file reads whole with its sha256" "$want_big" "$OUT"
t_run "1,000 reads at random offsets match the source" \
    "$nfsread" random "$url" /huge "$s/big/huge" 1000 4242

# ---- many connections at once ------------------------------------------------
# shellcheck disable=SC2086
t_run "32 connections at once, each reading every file byte for byte" \
    "$nfsread" parallel "$url" 32 "$s/view" $files

kill -TERM "$SRV"
wait "$SRV"
rc=$?
SRV=""
t_eq "SIGTERM stops the server, exit 0" "0" "$rc"

# ---- writes: the same changes over NFS and over FUSE give the same layer -------
# Over NFS, into an upper directory captured afterwards; over FUSE, a run.
# The changes include renaming a directory tree of the lower layer.
ops='mkdir /newdir
write /newdir/f hello from a client
write /a rewritten
unlink /dir/f3
rename /dir/sub /dir/sub2
symlink a /link
chmod /dir/f5 600'
sh_ops='mkdir newdir && printf "hello from a client" >newdir/f && printf rewritten >a &&
    rm dir/f3 && mv dir/sub dir/sub2 && ln -s a link && chmod 600 dir/f5'
"$STRATA" mount --backend nfs --serve-only -l bottom --upper "$s/upper" >"$s/url2" 2>"$s/serve2.err" &
SRV=$!
has_url2() { grep -q '^nfs://' "$s/url2"; }
wait_for 30 has_url2 || t_fail "a writable server starts" "$(cat "$s/serve2.err")"
t_cmd "$nfsread" ops "$(cat "$s/url2")" <<<"$ops"
t_eq "the changes go through NFS" "0" "$RC"
t_eq "... a file of the renamed lower tree reads under its new name" \
    "$(sha256sum <"$s/bottom/dir/sub/deep" | cut -c1-64)" \
    "$("$nfsread" sha256 "$(cat "$s/url2")" /dir/sub2/deep)"
kill -TERM "$SRV"
wait "$SRV"
SRV=""
t_cmd "$STRATA" -q capture -l bottom "$s/upper"
nfs_layer=$OUT
t_eq "the upper directory is captured" "0" "$RC"
t_cmd "$STRATA" run --backend fuse -l bottom -o over-fuse -- sh -c "$sh_ops"
t_eq "the same changes in a run over FUSE" "0" "$RC"
t_eq "... give the very same layer" "$(ref_digest over-fuse)" "$nfs_layer"

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report from the server" "" "$reports"
t_done
