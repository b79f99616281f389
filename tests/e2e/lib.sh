# Shared helpers for the end-to-end scripts: TAP output, scratch space, and
# assertions. Each script sources this file, runs its cases, and calls
# t_done. The runner (tests/run) sets STRATA, TESTTOOL and BUILD.
#
#   t_ok NAME            a passed case
#   t_fail NAME WHY      a failed case (WHY is printed as a TAP comment)
#   t_skip NAME WHY      a case that cannot run here; a failure under
#                        STRATA_REQUIRE_MOUNT=1 (mount tests must not pass
#                        in CI by skipping)
#   t_run NAME CMD...    ok if CMD exits 0, else fail with its output
#   t_eq NAME WANT GOT   ok if the strings are equal
#   t_scratch            prints a fresh directory under $T_ROOT, which is
#                        removed when the script exits
#   t_cmd CMD...         runs CMD, setting OUT (stdout), ERR (stderr), RC
#   wait_for SECS CMD... polls CMD until it succeeds; false at the deadline
#   is_mounted DIR       a strata FUSE mount is at DIR (not_mounted: none)
#   gone PID             the process has exited (a zombie counts as gone)
#   t_err NAME RC CMD... ok if CMD exits RC with nothing on stdout and the
#                        two-line error on stderr ("strata: ..." then
#                        "hint: ..."); ERR holds it for further checks

set -u
# Sanitizer builds run every script too, ten times slower: the scripts that
# exist to move volume (a 1 GiB file, 50,000 files) scale down there, since
# the normal build already covers the volume. T_SCALE is 1 or 10.
case "${BUILD:-}" in
*asan*) T_SCALE=10 ;;
*) T_SCALE=1 ;;
esac
: "${STRATA:?STRATA must point at the strata binary}"
: "${TESTTOOL:?TESTTOOL must point at strata-testtool}"
T_N=0
T_FAILED=0
T_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/strata-e2e-XXXXXX")
# A mount registry of the script's own: the sweep before every mount and
# run never meets another script's (or a killed test's) mounts.
export XDG_RUNTIME_DIR="$T_ROOT/run"
mkdir -m 0700 "$XDG_RUNTIME_DIR"

t_ok() {
    T_N=$((T_N + 1))
    echo "ok $T_N - $1"
}

t_fail() {
    T_N=$((T_N + 1))
    T_FAILED=$((T_FAILED + 1))
    echo "not ok $T_N - $1"
    printf '%s\n' "${2:-}" | sed 's/^/# /'
}

t_skip() {
    if [ "${STRATA_REQUIRE_MOUNT:-0}" = 1 ]; then
        t_fail "$1" "skipped under STRATA_REQUIRE_MOUNT=1: $2"
    else
        T_N=$((T_N + 1))
        echo "ok $T_N - $1 # SKIP $2"
    fi
}

t_run() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        t_ok "$name"
    else
        t_fail "$name" "command failed ($?): $*
$out"
    fi
}

t_eq() {
    if [ "$2" = "$3" ]; then
        t_ok "$1"
    else
        t_fail "$1" "want: $2
got:  $3"
    fi
}

t_scratch() {
    mktemp -d "$T_ROOT/s-XXXXXX"
}

t_cmd() {
    local errf
    errf=$(mktemp "$T_ROOT/stderr-XXXXXX")
    OUT=$("$@" 2>"$errf")
    RC=$?
    ERR=$(cat "$errf")
    rm -f "$errf"
}

t_err() {
    local name=$1 want=$2
    shift 2
    t_cmd "$@"
    local lines
    lines=$(printf '%s\n' "$ERR" | wc -l)
    if [ "$RC" = "$want" ] && [ -z "$OUT" ] && [ "$lines" = 2 ] &&
        [[ "$ERR" == "strata: "?*$'\n'"hint: "?* ]]; then
        t_ok "$name"
    else
        t_fail "$name" "want exit $want and a two-line error; got exit $RC: $*
stdout: $OUT
stderr: $ERR"
    fi
}

# Mountpoints a script made (it appends to MOUNTS): whatever is still
# mounted there at exit is unmounted lazily before the scratch goes.
MOUNTS=()
t_cleanup() {
    local mp
    for mp in "${MOUNTS[@]}"; do
        if ! not_mounted "$mp"; then
            fusermount3 -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
        fi
    done
    chmod -R u+rwx "$T_ROOT" 2>/dev/null
    rm -rf "$T_ROOT"
}
trap t_cleanup EXIT

t_done() {
    echo "1..$T_N"
    [ "$T_FAILED" -eq 0 ]
}

# Readiness is a real condition polled against a deadline, never a fixed
# sleep: the pause between polls only bounds how busy the wait is.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.02
    done
}

is_mounted() { awk -v mp="$1" '$5 == mp && / - fuse\.strata /' /proc/self/mountinfo | grep -q .; }
not_mounted() { ! awk -v mp="$1" '$5 == mp' /proc/self/mountinfo | grep -q .; }
gone() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
