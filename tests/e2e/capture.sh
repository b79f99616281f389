#!/usr/bin/env bash
# `strata capture`: the upper directory of a `strata mount --upper` view
# becomes the same layer a `strata run` makes of the same changes; a
# mounted upper is refused (its changes may still land), and bad input
# gets its two-line error.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
export STRATA_STORE=$s/store
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$s/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$s/ubsan"
c_cleanup() {
    if ! not_mounted "$s/mp"; then
        fusermount3 -u -z "$s/mp" 2>/dev/null || umount -l "$s/mp" 2>/dev/null
    fi
    t_cleanup
}
trap c_cleanup EXIT
ref_digest() { "$STRATA" refs | awk -v r="$1" '$1 == r { print $2 }'; }

mkdir -p "$s/lower/dir/sub" "$s/mp"
printf 'a\n' >"$s/lower/a"
printf 'deep\n' >"$s/lower/dir/sub/deep"
printf 'x\n' >"$s/lower/dir/x"
t_run "import the lower layer" "$STRATA" import -q "$s/lower" --name low

t_err "no layers: usage error" 2 "$STRATA" capture "$s/upper"
t_err "an upper that does not exist: two-line error" 1 "$STRATA" capture -l low "$s/nope"

if [ ! -e /dev/fuse ]; then
    t_skip "capture of a mounted view's upper" "/dev/fuse is missing"
    t_done
    exit
fi
changes='printf new >n && printf changed >a && rm dir/x && mv dir/sub dir/sub2'
t_run "mount with an upper" "$STRATA" -q mount -l low --upper "$s/upper" "$s/mp"
t_run "change the view" sh -c "cd '$s/mp' && $changes"
t_err "capture while mounted: two-line error" 1 "$STRATA" capture -l low "$s/upper"
[[ "$ERR" == *"in use by a mount"* ]] && t_ok "... which says the upper is in use" ||
    t_fail "... which says the upper is in use" "$ERR"
t_run "umount" "$STRATA" -q umount "$s/mp"
t_cmd "$STRATA" -q capture -l low --name cap "$s/upper"
t_eq "capture after the umount" "0" "$RC"
t_eq "... prints the digest it names" "$(ref_digest cap)" "$OUT"
t_cmd "$STRATA" -q run -l low -o ran -- sh -c "$changes"
t_eq "the same changes in a run give the very same layer" "$(ref_digest ran)" "$(ref_digest cap)"
t_eq "the upper is left as it was" "changed" "$(cat "$s/upper/a")"

reports=$(cat "$s"/asan.* "$s"/ubsan.* 2>/dev/null | head -40)
t_eq "no sanitizer report" "" "$reports"
t_done
