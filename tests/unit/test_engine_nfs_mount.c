/* The NFS mount command (engine/nfs_mount.c) for each platform: the
 * exact argv, the options that make a dead server fail fast, sudo only
 * when asked, and what cannot be built. */
#include <errno.h>
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

static void test_umount(void **state)
{
    (void)state;
    nfs_mount_cmd c;
    char line[8192];
    assert_ok(nfs_umount_cmd_build(ENGINE_OS_LINUX, "/home/u/strata", false, false, &c));
    joined(&c, line, sizeof(line));
    assert_string_equal(line, "/bin/umount /home/u/strata");
    assert_null(c.argv[c.argc]);
    assert_ok(nfs_umount_cmd_build(ENGINE_OS_LINUX, "/home/u/strata", true, true, &c));
    joined(&c, line, sizeof(line));
    assert_string_equal(line, "/bin/umount -f /home/u/strata");
    assert_ok(nfs_umount_cmd_build(ENGINE_OS_MACOS, "/Users/u/strata", false, false, &c));
    joined(&c, line, sizeof(line));
    assert_string_equal(line, "/sbin/umount /Users/u/strata");
    assert_ok(nfs_umount_cmd_build(ENGINE_OS_MACOS, "/Users/u/strata", true, true, &c));
    joined(&c, line, sizeof(line));
    assert_string_equal(line, "sudo -n -- /sbin/umount -f /Users/u/strata");
    assert_err(nfs_umount_cmd_build(ENGINE_OS_MACOS, "rel", false, false, &c), STRATA_E_INVALID);
    assert_err(nfs_umount_cmd_build(ENGINE_OS_LINUX, NULL, false, false, &c), STRATA_E_INVALID);
}

/* What the mount tools print, recorded from util-linux 2.38 mount and
 * umount, nfs-utils 2.6 mount.nfs, sudo 1.9, and macOS 14/15 mount_nfs
 * and umount, with the errno each stands for. */
static void test_output_errno(void **state)
{
    (void)state;
    static const struct {
        const char *out;
        int err;
    } cases[] = {
        {"mount: /home/u/strata: only root can use \"--types\" option.\n", EPERM},
        {"mount.nfs: not running as root\nmount.nfs: Operation not permitted\n", EPERM},
        {"mount_nfs: can't mount / from 127.0.0.1 onto /Users/u/strata: Operation not "
         "permitted\n",
         EPERM},
        {"mount_nfs: can't mount / from 127.0.0.1 onto /Users/u/strata: Permission denied\n",
         EPERM},
        {"sudo: a password is required\n", EPERM},
        {"mount: /home/u/strata: unknown filesystem type 'nfs'.\n", ENODEV},
        {"mount: /home/u/strata: bad option; for several filesystems (e.g. nfs, cifs) you might "
         "need a /sbin/mount.<type> helper program.\n",
         ENODEV},
        {"mount.nfs: No such device\n", ENODEV},
        {"mount.nfs: Connection refused\n", ECONNREFUSED},
        {"mount_nfs: can't mount / from 127.0.0.1 onto /Users/u/strata: Connection refused\n",
         ECONNREFUSED},
        {"mount.nfs: Connection timed out\n", ETIMEDOUT},
        {"mount_nfs: can't mount / from 127.0.0.1 onto /Users/u/strata: Operation timed out\n",
         ETIMEDOUT},
        {"umount: /home/u/strata: target is busy.\n", EBUSY},
        {"umount(/Users/u/strata): Resource busy -- try 'diskutil unmount'\n", EBUSY},
        {"mount.nfs: mount point /x does not exist\n", ENOENT},
        {"mount_nfs: can't mount / from 127.0.0.1 onto /x: No such file or directory\n", ENOENT},
        {"umount: /home/u/strata: not mounted.\n", EINVAL},
        {"umount: /Users/u/strata: not currently mounted\n", EINVAL},
        {"mount: something nobody has seen\n", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (nfs_mount_output_errno(cases[i].out) != cases[i].err)
            fail_msg("\"%s\": errno %d, want %d", cases[i].out,
                     nfs_mount_output_errno(cases[i].out), cases[i].err);
    }
    assert_int_equal(nfs_mount_output_errno(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux),        cmocka_unit_test(test_macos),
        cmocka_unit_test(test_refused),      cmocka_unit_test(test_umount),
        cmocka_unit_test(test_output_errno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
