/* The NFS mount command (engine/nfs_mount.c) for each platform: the
 * exact argv, the options that make a dead server fail fast, sudo only
 * when asked, and what cannot be built. */
#include <string.h>

#include "engine/nfs_mount.h"
#include "testutil.h"

/* argv joined with spaces. */
static void joined(const nfs_mount_cmd *c, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < c->argc; i++) {
        strncat(out, c->argv[i], n - strlen(out) - 1);
        if (i + 1 < c->argc)
            strncat(out, " ", n - strlen(out) - 1);
    }
}

static void test_linux(void **state)
{
    (void)state;
    char base[NFS_MOUNT_OPTS_MAX], line[8192];
    nfs_mount_base_opts(ENGINE_OS_LINUX, false, base, sizeof(base));
    nfs_mount_cmd c;
    assert_ok(nfs_mount_cmd_build(ENGINE_OS_LINUX, base, 40123, "/home/u/strata", false, &c));
    joined(&c, line, sizeof(line));
    assert_string_equal(line, "/bin/mount -t nfs -o vers=3,proto=tcp,nolock,soft,timeo=10,"
                              "retrans=2,rsize=1048576,wsize=1048576,port=40123,"
                              "mountport=40123,mountproto=tcp 127.0.0.1:/ /home/u/strata");
    assert_null(c.argv[c.argc]);
    /* sudo is a macOS matter: Linux mounts as root or not at all. */
    nfs_mount_base_opts(ENGINE_OS_LINUX, true, base, sizeof(base));
    assert_ok(nfs_mount_cmd_build(ENGINE_OS_LINUX, base, 1, "/m", true, &c));
    assert_string_equal(c.argv[0], "/bin/mount");
    assert_non_null(strstr(c.opts, ",ro,"));
}

static void test_macos(void **state)
{
    (void)state;
    char base[NFS_MOUNT_OPTS_MAX], line[8192];
    nfs_mount_base_opts(ENGINE_OS_MACOS, true, base, sizeof(base));
    nfs_mount_cmd c;
    assert_ok(nfs_mount_cmd_build(ENGINE_OS_MACOS, base, 51000, "/Users/u/strata", false, &c));
    joined(&c, line, sizeof(line));
    assert_string_equal(line, "/sbin/mount_nfs -o vers=3,tcp,locallocks,resvport,soft,timeo=10,"
                              "retrans=2,deadtimeout=10,rsize=1048576,wsize=1048576,rdonly,"
                              "port=51000,mountport=51000 127.0.0.1:/ /Users/u/strata");
    /* With consent, through sudo, which never prompts behind the user. */
    assert_ok(nfs_mount_cmd_build(ENGINE_OS_MACOS, base, 51000, "/Users/u/strata", true, &c));
    assert_int_equal(c.argc, 8);
    assert_string_equal(c.argv[0], "sudo");
    assert_string_equal(c.argv[1], "-n");
    assert_string_equal(c.argv[2], "--");
    assert_string_equal(c.argv[3], "/sbin/mount_nfs");
}

static void test_refused(void **state)
{
    (void)state;
    nfs_mount_cmd c;
    assert_err(nfs_mount_cmd_build(ENGINE_OS_LINUX, "vers=3", 0, "/m", false, &c),
               STRATA_E_INVALID);
    assert_err(nfs_mount_cmd_build(ENGINE_OS_LINUX, "vers=3", 5, "relative", false, &c),
               STRATA_E_INVALID);
    assert_err(nfs_mount_cmd_build(ENGINE_OS_LINUX, "vers=3", 5, "", false, &c), STRATA_E_INVALID);
    char big[NFS_MOUNT_OPTS_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_err(nfs_mount_cmd_build(ENGINE_OS_LINUX, big, 5, "/m", false, &c), STRATA_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux),
        cmocka_unit_test(test_macos),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
