#!/usr/bin/env bash
# `make demo` keeps working: the demo script runs to the end against a
# scratch output directory, and the program it builds in a sandbox prints
# its greeting.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
t_cmd env STRATA_DEMO_OUT="$s/out" "$(dirname "$0")/../../demo/run" "$STRATA"
t_eq "the demo runs to the end" "0" "$RC"
[[ "$OUT" == *$'\n'"hello, strata"$'\n'* ]] && t_ok "the program built in the sandbox runs" ||
    t_fail "the program built in the sandbox runs" "$OUT
$ERR"
[[ "$OUT" == *"store is clean: "* ]] && t_ok "the demo's store is clean" ||
    t_fail "the demo's store is clean" "$OUT"
t_done
