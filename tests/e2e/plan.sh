#!/usr/bin/env bash
# The transport plan behind `strata run`, end to end: mount.enabled from
# strata.yaml or STRATA_MOUNT_ENABLED, a pinned backend, and the fallback
# chain with the FUSE library hidden (STRATA_LIBFUSE=/nonexistent): auto
# ends on none with a one-line note, true fails listing every attempt with
# its hint, false never mounts. A bad config file is a two-line error
# naming file, line and column. The config's store is where every command
# looks, under STRATA_STORE and --store.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
export TMPDIR=$s/tmp
mkdir -p "$TMPDIR" "$s/l" "$s/w"
printf 'hello\n' >"$s/l/f"
t_run "import" "$STRATA" -q import "$s/l" --name l
cd "$s/w" || exit 1
leftovers() { find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l; }
# The command says whether its working directory is a mount (1) or not (0).
mounted_cmd='grep -c " $(pwd -P) fuse.strata " /proc/mounts'

# ---- mount.enabled: false never mounts -------------------------------------
printf 'mount:\n  enabled: false\n' >strata.yaml
t_cmd "$STRATA" run -q -l l -- sh -c "$mounted_cmd; cat f"
t_eq "enabled: false in strata.yaml: runs without a mount" "0
hello" "$OUT"
t_eq "... and says nothing about it" "" "$ERR"

# ---- the environment overrides the file, flags override both -----------------
if [ -e /dev/fuse ]; then
    t_cmd env STRATA_MOUNT_ENABLED=auto "$STRATA" run -q -l l -- sh -c "$mounted_cmd"
    t_eq "STRATA_MOUNT_ENABLED=auto over the file: a FUSE mount" "1" "$OUT"
    t_cmd env STRATA_MOUNT_ENABLED=true "$STRATA" run -q --backend none -l l -- sh -c "$mounted_cmd"
    t_eq "--backend none over both: no mount" "0" "$OUT"
else
    t_skip "STRATA_MOUNT_ENABLED=auto over the file: a FUSE mount" "/dev/fuse is missing"
    t_skip "--backend none over both: no mount" "/dev/fuse is missing"
fi
rm strata.yaml

# ---- the fallback chain without libfuse ------------------------------------
t_cmd env STRATA_LIBFUSE=/nonexistent STRATA_MOUNT_ENABLED=auto "$STRATA" run -l l --out a1 -- \
    sh -c "$mounted_cmd; echo x >new"
t_eq "enabled: auto, no libfuse: the command runs, unmounted" "0:0" "$RC:$OUT"
note=$(printf '%s\n' "$ERR" | sed -n 1p)
[[ "$note" == "strata run: no FUSE mount (libfuse3 is not installed); running with backend none. To mount: "*"apt install fuse3"* ]] &&
    t_ok "... one line says why, and what to do" || t_fail "... one line says why, and what to do" "$ERR"
[[ "$(printf '%s\n' "$ERR" | sed -n 2p)" == "captured sha256:"*" as a1: 1 added, 0 changed, 0 deleted" ]] &&
    t_ok "... and captures the change" || t_fail "... and captures the change" "$ERR"

t_err "enabled: true, no libfuse: two-line error" 1 \
    env STRATA_LIBFUSE=/nonexistent STRATA_MOUNT_ENABLED=true "$STRATA" run -l l --out a2 -- true
msg=$(printf '%s\n' "$ERR" | sed -n 1p)
hint=$(printf '%s\n' "$ERR" | sed -n 2p)
[[ "$msg" == *"no transport could mount"*"fuse: libfuse3 is not installed"*"nfs: "* ]] &&
    t_ok "... lists every attempt (fuse, nfs) with why" || t_fail "... lists every attempt (fuse, nfs) with why" "$ERR"
[[ "$hint" == "hint: fuse: "*"apt install fuse3"*"; nfs: "* ]] &&
    t_ok "... and every hint" || t_fail "... and every hint" "$ERR"
[[ "$msg" != *"none"* ]] && t_ok "... and never tries none" || t_fail "... and never tries none" "$ERR"
t_eq "... sets no ref" "" "$("$STRATA" refs | grep '^a2 ' || true)"
t_eq "... leaves nothing in TMPDIR" "0" "$(leftovers)"

# ---- pins -------------------------------------------------------------------
printf 'mount:\n  backend: none\n' >strata.yaml
t_cmd "$STRATA" run -q -l l -- sh -c "$mounted_cmd"
t_eq "backend: none in strata.yaml: no mount" "0" "$OUT"
printf 'mount:\n  backend: kext\n' >strata.yaml
t_err "backend: kext on Linux: two-line error" 1 "$STRATA" run -l l -- true
[[ "$ERR" == *"strata.yaml"* ]] && t_ok "... naming the file" || t_fail "... naming the file" "$ERR"

# ---- a bad config file ------------------------------------------------------
printf 'mount:\n  enabled: sometimes\n' >strata.yaml
t_err "a bad value: two-line error" 1 "$STRATA" run -l l -- true
[[ "$ERR" == *"strata.yaml:2:"* && "$ERR" == *"sometimes"* && "$ERR" == *"auto"* ]] &&
    t_ok "... naming file:line, the value and the accepted ones" ||
    t_fail "... naming file:line, the value and the accepted ones" "$ERR"
printf 'mount:\n  enabeld: true\n' >strata.yaml
t_err "an unknown key: two-line error" 1 "$STRATA" run -l l -- true
[[ "$ERR" == *"strata.yaml:2:"* && "$ERR" == *"enabeld"* ]] && t_ok "... naming file:line and the key" ||
    t_fail "... naming file:line and the key" "$ERR"
rm strata.yaml
t_eq "no run left anything in TMPDIR" "0" "$(leftovers)"

# ---- the store from the config ----------------------------------------------
mkdir -p "$s/c/sub"
printf 'store: ./st\n' >"$s/c/strata.yaml"
cd "$s/c" || exit 1
t_cmd env -u STRATA_STORE "$STRATA" -q import "$s/l" --name fromcfg
[ "$RC" = 0 ] && [ -e "$s/c/st/store.db" ] &&
    t_ok "store: in strata.yaml, relative to the file: import goes there" ||
    t_fail "store: in strata.yaml, relative to the file: import goes there" "$ERR"
t_eq "... STRATA_STORE overrides it" "" "$("$STRATA" refs | grep '^fromcfg ' || true)"
t_eq "... --store overrides both" "fromcfg" \
    "$(env STRATA_STORE=/nonexistent "$STRATA" --store "$s/c/st" refs | cut -d' ' -f1)"
cd "$s/w" || exit 1
t_done
