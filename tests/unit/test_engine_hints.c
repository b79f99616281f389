/* Unit tests for the hint table (engine/hints.h): every row is listed here
 * with the actionable thing its hint must name, so a row added without a
 * test fails; every row is one non-empty line; no two rows share a key;
 * every lookup finds the most specific row; and every failure the plan
 * can produce has a hint of its own, not the generic one. */
#include <string.h>

#include "engine/hints.h"
#include "testutil.h"

#define L HINTS_OS_LINUX
#define M HINTS_OS_MACOS
#define A HINTS_OS_ANY

/* Each row of the table, and what its hint must say. */
static const struct {
    hints_os os;
    int t;
    engine_failure f;
    const char *must;
} expected[] = {
    {L, ENGINE_T_FUSE, ENGINE_FAIL_LIB_MISSING, "apt install fuse3"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_DEV_MISSING, "--device /dev/fuse"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_DEV_DENIED, "/dev/fuse"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_FUSERMOUNT_MISSING, "apt install fuse3"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_FUSERMOUNT_NOT_SETUID, "chmod u+s"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_ALLOW_OTHER, "user_allow_other"},
    {M, ENGINE_T_KEXT, ENGINE_FAIL_MACFUSE_MISSING, "macfuse.github.io"},
    {M, ENGINE_T_KEXT, ENGINE_FAIL_LIB_MISSING, "macFUSE 4.10"},
    {M, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED,
     "System Settings › Privacy & Security › Allow"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_MACFUSE_MISSING, "macFUSE 5"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_LIB_MISSING, "macFUSE 5"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_OS_TOO_OLD, "Software Update"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_MACFUSE_TOO_OLD, "5.0 or later"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_DISABLED,
     "General › Login Items & Extensions › File System Extensions"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_MOUNTPOINT, "/Volumes"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_ROOT, "without sudo"},
    {L, ENGINE_T_NFS, ENGINE_FAIL_NFS_NO_CLIENT, "modprobe nfs"},
    {L, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT, "as root"},
    {M, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT, "--sudo"},
    {A, ENGINE_T_NFS, ENGINE_FAIL_NFS_PORT_IN_USE, "mount.nfs.port"},
    {M, HINTS_T_ANY, ENGINE_FAIL_NOT_ELEVATED, "Request Administrator Access"},
    {M, HINTS_T_ANY, ENGINE_FAIL_SUDO_DECLINED, "password"},
    {A, HINTS_T_ANY, ENGINE_FAIL_MOUNTPOINT, "mkdir -p"},
    {A, HINTS_T_ANY, ENGINE_FAIL_NOT_RESPONDING, "strata sweep"},
    {A, HINTS_T_ANY, ENGINE_FAIL_UNKNOWN, "strata doctor"},
};

#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

static void test_every_row_is_tested(void **state)
{
    (void)state;
    size_t n;
    const hints_row *t = hints_table(&n);
    assert_int_equal(n, NEXPECTED);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < NEXPECTED && !(expected[k].os == t[i].os && expected[k].t == t[i].transport &&
                                  expected[k].f == t[i].failure))
            k++;
        if (k == NEXPECTED)
            fail_msg("row %zu (%s) has no test", i, hints_failure_name(t[i].failure));
        if (!strstr(t[i].hint, expected[k].must))
            fail_msg("hint for %s lacks '%s': %s", hints_failure_name(t[i].failure),
                     expected[k].must, t[i].hint);
    }
}

static void test_rows_are_lines(void **state)
{
    (void)state;
    size_t n;
    const hints_row *t = hints_table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].why);
        assert_non_null(t[i].hint);
        assert_true(strlen(t[i].why) > 5);
        assert_true(strlen(t[i].hint) > 10);
        /* One line each, fit for "hint: ..." on a terminal, no trailing
         * full stop (messages are clauses). */
        assert_null(strchr(t[i].why, '\n'));
        assert_null(strchr(t[i].hint, '\n'));
        assert_true(strlen(t[i].why) <= 80);
        assert_true(strlen(t[i].hint) <= 120);
        assert_true(t[i].hint[strlen(t[i].hint) - 1] != '.');
        assert_true(t[i].why[strlen(t[i].why) - 1] != '.');
        assert_int_not_equal(t[i].failure, ENGINE_FAIL_NONE);
        /* No two rows share a key. */
        for (size_t j = 0; j < i; j++)
            assert_false(t[j].os == t[i].os && t[j].transport == t[i].transport &&
                         t[j].failure == t[i].failure);
    }
}

static bool os_in(hints_os ro, engine_os os)
{
    return ro == HINTS_OS_ANY || (ro == HINTS_OS_LINUX) == (os == ENGINE_OS_LINUX);
}

/* Each row is what a lookup of its own key finds, on each platform and
 * transport it covers, unless a more specific row exists. */
static void test_lookup_each_pair(void **state)
{
    (void)state;
    size_t n;
    const hints_row *t = hints_table(&n);
    const engine_os oses[] = {ENGINE_OS_LINUX, ENGINE_OS_MACOS};
    for (size_t i = 0; i < n; i++) {
        for (size_t o = 0; o < 2; o++) {
            if (!os_in(t[i].os, oses[o]))
                continue;
            for (int tr = 0; tr < ENGINE_T_COUNT; tr++) {
                if (t[i].transport != HINTS_T_ANY && t[i].transport != tr)
                    continue;
                const hints_row *got = hints_lookup(oses[o], (engine_transport)tr, t[i].failure);
                assert_int_equal(got->failure, t[i].failure);
                /* Never less specific than this row. */
                if (got != &t[i]) {
                    bool more = (t[i].transport == HINTS_T_ANY && got->transport != HINTS_T_ANY) ||
                                (t[i].os == HINTS_OS_ANY && got->os != HINTS_OS_ANY);
                    assert_true(more);
                }
                assert_string_equal(hints_hint(oses[o], (engine_transport)tr, t[i].failure),
                                    got->hint);
                assert_string_equal(hints_why(oses[o], (engine_transport)tr, t[i].failure),
                                    got->why);
            }
        }
    }
    /* The NFS root hint differs per platform. */
    assert_non_null(strstr(hints_hint(ENGINE_OS_LINUX, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT),
                           "sudo strata"));
    assert_non_null(strstr(hints_hint(ENGINE_OS_MACOS, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT),
                           "Admin By Request"));
    /* An unlisted pair falls back to the generic row, never NULL. */
    const hints_row *r =
        hints_lookup(ENGINE_OS_LINUX, ENGINE_T_NONE, ENGINE_FAIL_KEXT_NOT_APPROVED);
    assert_int_equal(r->failure, ENGINE_FAIL_UNKNOWN);
    r = hints_lookup(ENGINE_OS_LINUX, ENGINE_T_FUSE, ENGINE_FAIL_NONE);
    assert_int_equal(r->failure, ENGINE_FAIL_UNKNOWN);
    /* Generic failures on any transport. */
    r = hints_lookup(ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_MOUNTPOINT);
    assert_int_equal(r->failure, ENGINE_FAIL_MOUNTPOINT);
}

/* Every (platform, transport, failure) the plan and the classifier can
 * produce has a row of its own. */
static void test_plan_failures_have_hints(void **state)
{
    (void)state;
    const struct {
        engine_os os;
        engine_transport t;
        engine_failure f;
    } produced[] = {
        {ENGINE_OS_LINUX, ENGINE_T_FUSE, ENGINE_FAIL_DEV_MISSING},
        {ENGINE_OS_LINUX, ENGINE_T_FUSE, ENGINE_FAIL_DEV_DENIED},
        {ENGINE_OS_LINUX, ENGINE_T_FUSE, ENGINE_FAIL_LIB_MISSING},
        {ENGINE_OS_LINUX, ENGINE_T_FUSE, ENGINE_FAIL_FUSERMOUNT_MISSING},
        {ENGINE_OS_LINUX, ENGINE_T_FUSE, ENGINE_FAIL_FUSERMOUNT_NOT_SETUID},
        {ENGINE_OS_LINUX, ENGINE_T_FUSE, ENGINE_FAIL_ALLOW_OTHER},
        {ENGINE_OS_MACOS, ENGINE_T_KEXT, ENGINE_FAIL_MACFUSE_MISSING},
        {ENGINE_OS_MACOS, ENGINE_T_KEXT, ENGINE_FAIL_LIB_MISSING},
        {ENGINE_OS_MACOS, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED},
        {ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_MACFUSE_MISSING},
        {ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_LIB_MISSING},
        {ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_OS_TOO_OLD},
        {ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_MACFUSE_TOO_OLD},
        {ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_DISABLED},
        {ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_MOUNTPOINT},
        {ENGINE_OS_MACOS, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_ROOT},
        {ENGINE_OS_LINUX, ENGINE_T_NFS, ENGINE_FAIL_NFS_NO_CLIENT},
        {ENGINE_OS_LINUX, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT},
        {ENGINE_OS_MACOS, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT},
        {ENGINE_OS_LINUX, ENGINE_T_NFS, ENGINE_FAIL_NFS_PORT_IN_USE},
        {ENGINE_OS_MACOS, ENGINE_T_NFS, ENGINE_FAIL_NFS_PORT_IN_USE},
        {ENGINE_OS_MACOS, ENGINE_T_NFS, ENGINE_FAIL_NOT_ELEVATED},
        {ENGINE_OS_MACOS, ENGINE_T_NFS, ENGINE_FAIL_SUDO_DECLINED},
    };
    for (size_t i = 0; i < sizeof(produced) / sizeof(produced[0]); i++) {
        const hints_row *r = hints_lookup(produced[i].os, produced[i].t, produced[i].f);
        if (r->failure != produced[i].f)
            fail_msg("%s on %s/%s has no row", hints_failure_name(produced[i].f),
                     engine_os_name(produced[i].os), engine_transport_name(produced[i].t));
    }
    /* Every failure kind but NONE has a row. */
    size_t n;
    const hints_row *t = hints_table(&n);
    for (int f = ENGINE_FAIL_NONE + 1; f < ENGINE_FAIL_COUNT; f++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found = found || t[i].failure == (engine_failure)f;
        if (!found)
            fail_msg("no row for %s", hints_failure_name((engine_failure)f));
    }
}

static void test_failure_names(void **state)
{
    (void)state;
    for (int a = 0; a < ENGINE_FAIL_COUNT; a++) {
        const char *na = hints_failure_name((engine_failure)a);
        assert_string_not_equal(na, "?");
        for (int b = 0; b < a; b++)
            assert_string_not_equal(na, hints_failure_name((engine_failure)b));
    }
    assert_string_equal(hints_failure_name(ENGINE_FAIL_KEXT_NOT_APPROVED), "kext-not-approved");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_is_tested), cmocka_unit_test(test_rows_are_lines),
        cmocka_unit_test(test_lookup_each_pair),    cmocka_unit_test(test_plan_failures_have_hints),
        cmocka_unit_test(test_failure_names),
    };
    return cmocka_run_group_tests_name("engine_hints", tests, NULL, NULL);
}
