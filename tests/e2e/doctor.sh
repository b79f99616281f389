#!/usr/bin/env bash
# strata doctor on this machine: it prints the facts, the config, the plan
# and each transport. Here (with /dev/fuse and libfuse3) it reports fuse
# usable and exits 0, in text and in --json; with the FUSE library hidden
# (STRATA_LIBFUSE=/nonexistent) it reports fuse unusable with the libfuse
# hint, and exits 1 unless another mount transport works here (none, which
# mounts nothing, does not count). The config shows where its values came
# from, and a bad one is the usual two-line error.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
[ -d "$s" ] || exit 1
cd "$s" || exit 1 # no strata.yaml of the checkout's
export XDG_CONFIG_HOME=$s/config
unset STRATA_CONFIG STRATA_MOUNT_ENABLED STRATA_MOUNT_BACKEND STRATA_MOUNT_NFS_PORT

# py EXPR: EXPR over d (the JSON on $OUT) is true; a parse error is false.
py() {
    python3 -c 'import json, sys
d = json.loads(sys.argv[1])
t = {x["transport"]: x for x in d["transports"]}
sys.exit(0 if eval(sys.argv[2]) else 1)' "$OUT" "$1"
}

t_cmd "$STRATA" doctor extra
t_eq "doctor takes no operand: usage error" "2" "$RC"
t_err "a bad config value: two-line error" 1 env STRATA_MOUNT_ENABLED=maybe "$STRATA" doctor
[[ "$ERR" == *"STRATA_MOUNT_ENABLED"*"maybe"* ]] && t_ok "... naming the variable and value" ||
    t_fail "... naming the variable and value" "$ERR"

# ---- the FUSE library hidden: fuse is unusable, with the hint ---------------
t_cmd env STRATA_LIBFUSE=/nonexistent "$STRATA" doctor --json
if py 'd["facts"]["libfuse"] is False and t["fuse"]["usable"] is False and t["fuse"]["failure"] == "lib-missing" and "fuse3" in t["fuse"]["hint"] and t["none"]["usable"] is True'; then
    t_ok "no libfuse: --json says fuse is unusable, lib-missing, with the install hint"
else
    t_fail "no libfuse: --json says fuse is unusable, lib-missing, with the install hint" "$OUT"
fi
# Whether some other mount transport (nfs here, as root with a kernel
# client) works decides the exit status.
if py 'any(x["usable"] for n, x in t.items() if n != "none")'; then want=0; else want=1; fi
t_eq "... exits $want (another mount transport works: $([ $want = 0 ] && echo yes || echo no))" \
    "$want" "$RC"
py 'd["mount_ok"] == ('"$([ $want = 0 ] && echo True || echo False)"')' &&
    t_ok "... and mount_ok agrees" || t_fail "... and mount_ok agrees" "$OUT"
t_cmd env STRATA_LIBFUSE=/nonexistent "$STRATA" doctor
if [[ "$OUT" == *$'\n'"  fuse   not usable: libfuse3 is not installed"$'\n'"           hint: install FUSE 3: apt install fuse3"* ]]; then
    t_ok "no libfuse: the text says why and what to do"
else
    t_fail "no libfuse: the text says why and what to do" "$OUT"
fi
t_eq "... exits $want in text too" "$want" "$RC"

# ---- the config shows where its values came from ---------------------------
t_cmd env STRATA_MOUNT_BACKEND=none "$STRATA" doctor --json
py 'd["config"]["backend"] == "none" and [a["transport"] for a in d["plan"]["attempts"]] == ["none"] and len(d["transports"]) >= 2' &&
    t_ok "a pin narrows the plan, and every transport is still judged" ||
    t_fail "a pin narrows the plan, and every transport is still judged" "$OUT"
mkdir -p "$XDG_CONFIG_HOME/strata"
printf 'mount:\n  enabled: false\n' >"$XDG_CONFIG_HOME/strata/config.yaml"
t_cmd "$STRATA" doctor
[[ "$OUT" == *"  file              $XDG_CONFIG_HOME/strata/config.yaml"* &&
    "$OUT" == *"  mount.enabled     false (file)"* ]] &&
    t_ok "the config file and a value from it are shown" ||
    t_fail "the config file and a value from it are shown" "$OUT"
rm -r "$XDG_CONFIG_HOME/strata"

# ---- here -------------------------------------------------------------------
if [ ! -e /dev/fuse ]; then
    t_skip "doctor reports fuse usable" "/dev/fuse is missing"
    t_done
    exit
fi
t_cmd "$STRATA" doctor
t_eq "doctor here: exit 0" "0" "$RC"
if [[ "$OUT" == "facts:"*$'\n'"config:"*$'\n'"plan "*$'\n'"  1. fuse   usable"*$'\n'"transports:"$'\n'"  fuse   usable"*"verdict: strata can mount here (fuse first)" ]]; then
    t_ok "... facts, config, plan, transports: fuse usable, first"
else
    t_fail "... facts, config, plan, transports: fuse usable, first" "$OUT"
fi
[[ "$OUT" == *"  /dev/fuse         ok"* && "$OUT" == *"  libfuse           loads"* ]] &&
    t_ok "... the facts behind it" || t_fail "... the facts behind it" "$OUT"
t_cmd "$STRATA" doctor --json
if [ "$RC" = 0 ] && py 't["fuse"]["usable"] is True and t["fuse"]["failure"] is None and d["mount_ok"] is True and d["facts"]["dev_fuse"] == "ok" and d["plan"]["attempts"][0]["transport"] == "fuse"'; then
    t_ok "doctor --json here: parses, fuse usable, exit 0"
else
    t_fail "doctor --json here: parses, fuse usable, exit 0" "exit $RC: $OUT"
fi

t_done
