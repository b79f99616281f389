#!/usr/bin/env bash
# The command line itself: version, help for every command, exit codes
# (0 ok, 1 strata failed, 2 usage), the two-line error format, where the
# store is found, and errors that must leave everything as it was.
. "$(dirname "$0")/lib.sh"
s=$(t_scratch)
export STRATA_STORE=$s/store
commands=(import ls cat export refs gc fsck)

# ---- version and help -------------------------------------------------
t_cmd "$STRATA" --version
if [ "$RC" = 0 ] && [[ "$OUT" =~ ^strata\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    t_ok "--version prints 'strata X.Y.Z'"
else
    t_fail "--version prints 'strata X.Y.Z'" "exit $RC: $OUT"
fi

t_cmd "$STRATA" --help
top_help=$OUT
if [ "$RC" = 0 ] && [[ "$OUT" == "usage: strata "* ]] && [ -z "$ERR" ]; then
    t_ok "--help prints the overview on stdout"
else
    t_fail "--help prints the overview on stdout" "exit $RC: $OUT $ERR"
fi
missing=""
for c in "${commands[@]}"; do
    [[ "$top_help" == *$'\n'"  $c "* ]] || missing="$missing $c"
done
t_eq "the overview names every command" "" "$missing"
t_cmd "$STRATA" help
t_eq "'strata help' is the overview" "$top_help" "$OUT"

for c in "${commands[@]}"; do
    t_cmd "$STRATA" "$c" --help
    help=$OUT
    if [ "$RC" = 0 ] && [[ "$OUT" == "usage: strata $c"* ]] && [[ "$OUT" == *"--store DIR"* ]]; then
        t_ok "$c --help"
    else
        t_fail "$c --help" "exit $RC: $OUT $ERR"
    fi
    t_cmd "$STRATA" help "$c"
    t_eq "strata help $c = strata $c --help" "$help" "$OUT"
    t_cmd "$STRATA" "$c" -h
    t_eq "$c -h = $c --help" "$help" "$OUT"
done
t_err "help of an unknown command: exit 2" 2 "$STRATA" help frobnicate

# ---- usage errors: exit 2, two lines, pointing at --help -----------------
t_err "unknown command: exit 2" 2 "$STRATA" frobnicate
t_eq "unknown command: the message" "strata: unknown command 'frobnicate'
hint: see 'strata --help'" "$ERR"
t_err "no command: exit 2" 2 "$STRATA"
t_err "unknown global option: exit 2" 2 "$STRATA" --frobnicate ls x
t_err "unknown command option: exit 2" 2 "$STRATA" ls --frobnicate x
t_eq "unknown option: names it and the command's help" "strata: unknown option '--frobnicate'
hint: see 'strata ls --help'" "$ERR"
t_err "unknown short option: exit 2" 2 "$STRATA" cat -Z x y
t_err "option missing its value: exit 2" 2 "$STRATA" import "$s" --name
t_err "flag given a value: exit 2" 2 "$STRATA" gc --dry-run=yes
t_err "import without DIR: exit 2" 2 "$STRATA" import
t_err "import with two DIRs: exit 2" 2 "$STRATA" import "$s" "$s"
t_err "ls without REF: exit 2" 2 "$STRATA" ls
t_err "ls with too many args: exit 2" 2 "$STRATA" ls a b c
t_err "cat without PATH: exit 2" 2 "$STRATA" cat x
t_err "cat with too many args: exit 2" 2 "$STRATA" cat x y z
t_err "export without DIR: exit 2" 2 "$STRATA" export x
t_err "export --link --copy: exit 2" 2 "$STRATA" export x "$s/e" --link --copy
t_err "gc with an argument: exit 2" 2 "$STRATA" gc now
t_err "fsck with an argument: exit 2" 2 "$STRATA" fsck all
t_err "refs with an unknown subcommand: exit 2" 2 "$STRATA" refs frob
t_err "refs delete without NAME: exit 2" 2 "$STRATA" refs delete
t_err "import --threads 0: exit 2" 2 "$STRATA" import "$s" --threads 0
t_err "import --threads abc: exit 2" 2 "$STRATA" import "$s" --threads abc
t_err "import --name with a bad ref name: exit 2" 2 "$STRATA" import "$s" --name 'a..b'
t_eq "usage errors create no store" "no" "$([ -e "$STRATA_STORE" ] && echo yes || echo no)"

# ---- no store yet -------------------------------------------------------
t_err "ls before any import: exit 1" 1 "$STRATA" ls x
[[ "$ERR" == *"no strata store at $STRATA_STORE"* ]] && t_ok "ls before any import: says so" ||
    t_fail "ls before any import: says so" "$ERR"
t_err "refs before any import: exit 1" 1 "$STRATA" refs
t_err "gc before any import: exit 1" 1 "$STRATA" gc
t_eq "read commands create no store" "no" "$([ -e "$STRATA_STORE" ] && echo yes || echo no)"

# ---- a small layer to work with -----------------------------------------
src=$s/src
mkdir -p "$src/dir/sub" "$src/-dash"
printf 'hello\n' >"$src/hello.txt"
printf 'deep\n' >"$src/dir/sub/deep.txt"
printf 'dash\n' >"$src/-dash/f"

t_cmd "$STRATA" import "$src" --name t/one
digest=$OUT
if [ "$RC" = 0 ] && [[ "$OUT" =~ ^sha256:[0-9a-f]{64}$ ]] && [[ "$ERR" == "imported $src: 3 files, 3 dirs, 0 symlinks, "* ]]; then
    t_ok "import prints the digest on stdout, a summary on stderr"
else
    t_fail "import prints the digest on stdout, a summary on stderr" "exit $RC: $OUT / $ERR"
fi
t_cmd "$STRATA" -q import "$src"
t_eq "-q: same digest" "$digest" "$OUT"
t_eq "-q: nothing on stderr" "" "$ERR"
t_cmd "$STRATA" import --quiet "$src"
t_eq "--quiet after the command works too" "$digest/" "$OUT/$ERR"
t_cmd "$STRATA" import "$src" -q --threads 1
t_eq "--threads 1: same digest" "$digest" "$OUT"
t_cmd bash -c 'cd "$1" && "$2" import -q -- -dash' _ "$src" "$STRATA"
if [ "$RC" = 0 ] && [[ "$OUT" =~ ^sha256: ]]; then
    t_ok "'--' ends options: a DIR named -dash"
else
    t_fail "'--' ends options: a DIR named -dash" "exit $RC: $OUT $ERR"
fi
t_err "import of a missing directory: exit 1" 1 "$STRATA" import "$s/nonexistent"
t_err "import of a file: exit 1" 1 "$STRATA" import "$src/hello.txt"

t_cmd "$STRATA" refs
t_eq "refs lists 'name digest'" "t/one $digest" "$OUT"

# ---- failures: exit 1, two lines ------------------------------------------
t_err "ls of a missing ref: exit 1" 1 "$STRATA" ls nosuch
t_eq "ls of a missing ref: the message" "strata: no layer named 'nosuch'" "${ERR%%$'\n'*}"
t_err "ls of an invalid ref name: exit 1" 1 "$STRATA" ls 'bad..ref'
t_err "ls of a missing digest: exit 1" 1 "$STRATA" ls "sha256:$(printf '0%.0s' {1..64})"
t_err "ls of a malformed digest: exit 1" 1 "$STRATA" ls sha256:1234
t_err "ls of a missing path: exit 1" 1 "$STRATA" ls t/one nosuch
t_err "ls with '..': exit 1" 1 "$STRATA" ls t/one dir/../hello.txt
[[ "$ERR" == *"'..'"* ]] && t_ok "ls with '..': says why" || t_fail "ls with '..': says why" "$ERR"
t_err "ls through a file: exit 1" 1 "$STRATA" ls t/one hello.txt/x
t_err "cat of a directory: exit 1" 1 "$STRATA" cat t/one dir
if [[ "$ERR" == *"is a directory"*$'\n'"hint: "*"strata ls"* ]]; then
    t_ok "cat of a directory: says so, hints at ls"
else
    t_fail "cat of a directory: says so, hints at ls" "$ERR"
fi
t_err "cat of the root: exit 1" 1 "$STRATA" cat t/one /
t_err "cat of a missing file: exit 1" 1 "$STRATA" cat t/one nosuch
t_err "cat with '..': exit 1" 1 "$STRATA" cat t/one ../hello.txt
t_err "refs delete of a missing ref: exit 1" 1 "$STRATA" refs delete nosuch

# ---- paths are normalized -------------------------------------------------
t_cmd "$STRATA" cat t/one /dir//sub/./deep.txt
t_eq "cat normalizes '/dir//sub/./deep.txt'" "deep" "$OUT"
t_cmd "$STRATA" ls t/one ./dir/
t_eq "ls normalizes './dir/'" "sub/" "$OUT"

# ---- export refuses a non-empty target and leaves it alone -----------------
busy=$s/busy
mkdir -p "$busy/keep"
printf 'mine\n' >"$busy/keep/file"
before=$("$TESTTOOL" tree-list "$busy")
t_err "export into a non-empty dir: exit 1" 1 "$STRATA" export t/one "$busy"
t_eq "export into a non-empty dir: nothing changed there" "$before" "$("$TESTTOOL" tree-list "$busy")"
printf 'x' >"$s/afile"
t_err "export onto a file: exit 1" 1 "$STRATA" export t/one "$s/afile"
t_eq "export onto a file: the file is untouched" "x" "$(cat "$s/afile")"
t_err "export of a missing ref: exit 1" 1 "$STRATA" export nosuch "$s/never"
t_eq "export of a missing ref creates nothing" "no" "$([ -e "$s/never" ] && echo yes || echo no)"
t_cmd "$STRATA" export t/one "$s/empty-target" -q
t_eq "export into an absent dir: ok, quiet" "0:" "$RC:$ERR"

# ---- where the store is: --store > STRATA_STORE > XDG_DATA_HOME > HOME -----
t_cmd env -u STRATA_STORE XDG_DATA_HOME="$s/xdg" "$STRATA" import -q "$src"
t_eq "XDG_DATA_HOME/strata when STRATA_STORE is unset" "0 yes" \
    "$RC $([ -f "$s/xdg/strata/store.db" ] && echo yes)"
t_cmd env -u STRATA_STORE -u XDG_DATA_HOME HOME="$s/home" "$STRATA" import -q "$src"
t_eq "~/.local/share/strata when XDG_DATA_HOME is unset too" "0 yes" \
    "$RC $([ -f "$s/home/.local/share/strata/store.db" ] && echo yes)"
t_cmd env STRATA_STORE= XDG_DATA_HOME="$s/xdg2" "$STRATA" import -q "$src"
t_eq "an empty STRATA_STORE counts as unset" "0 yes" \
    "$RC $([ -f "$s/xdg2/strata/store.db" ] && echo yes)"
t_cmd "$STRATA" --store "$s/flag" import -q "$src"
t_eq "--store beats STRATA_STORE" "0 yes" "$RC $([ -f "$s/flag/store.db" ] && echo yes)"
t_cmd "$STRATA" ls --store "$s/flag" "$digest" dir
t_eq "--store after the command works too" "sub/" "$OUT"
t_cmd "$STRATA" refs --store "$s/flag"
t_eq "a store of its own: no refs" "0:" "$RC:$OUT"

# ---- refs delete ------------------------------------------------------------
t_cmd "$STRATA" refs delete t/one
t_eq "refs delete: exit 0" "0" "$RC"
t_cmd "$STRATA" refs
t_eq "refs delete: the ref is gone" "" "$OUT"
t_cmd "$STRATA" ls "$digest"
t_eq "the layer is still there by digest until gc" "-dash/
dir/
hello.txt" "$OUT"

# ---- a reader that goes away ------------------------------------------------
"$TESTTOOL" gen-file "$src/big" $((4 << 20)) 1
t_cmd "$STRATA" import -q "$src" --name t/big
t_cmd bash -c 'set -o pipefail; "$1" cat t/big big | head -c 10 >/dev/null' _ "$STRATA"
t_eq "cat into a closed pipe: exit 1, no message" "1:" "$RC:$ERR"
t_cmd bash -c '"$1" cat t/big big >/dev/full' _ "$STRATA"
if [ "$RC" = 1 ] && [[ "$ERR" == "strata: "*$'\n'"hint: "* ]]; then
    t_ok "cat onto a full disk: exit 1, two-line error"
else
    t_fail "cat onto a full disk: exit 1, two-line error" "exit $RC: $ERR"
fi

# ---- names with control characters --------------------------------------
# A newline or escape in a name must not break the two-line error format.
odd=$(t_scratch)
mkfifo "$odd/bad"$'\n'"name"$'\e'"[31m"
t_err "a fifo named with a newline: still a two-line error" 1 "$STRATA" import "$odd"
[[ "$ERR" == *'bad\x0aname\x1b[31m is a fifo'* ]] && t_ok "control bytes are shown as \\xNN" ||
    t_fail "control bytes are shown as \\xNN" "$ERR"
t_err "a ref name with a newline: still a two-line error" 1 "$STRATA" ls "a"$'\n'"b"

t_done
