/* Running commands with a deadline (engine/spawn.c) and the NFS mount's
 * checks around its commands (engine/nfs_attach.c), with real processes:
 * exit codes, output kept and cut, a command killed at its deadline with
 * the helpers it started, and a mount command whose word is not trusted
 * (exit 0 with nothing mounted is a failure; the words of a failure give
 * the errno the plan classifies). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/nfs_attach.h"
#include "engine/spawn.h"
#include "testutil.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether pid has ended: gone, or a zombie nobody has reaped yet. */
static bool dead(pid_t pid)
{
    if (kill(pid, 0) < 0)
        return errno == ESRCH;
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static void test_exit_and_output(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3", NULL};
    spawn_result r;
    assert_ok(spawn_run(argv, 10, &r));
    assert_int_equal(r.status, 3);
    assert_false(r.timed_out);
    assert_string_equal(r.out, "to-out\nto-err\n");
    char line[64];
    spawn_first_line(r.out, line, sizeof(line));
    assert_string_equal(line, "to-out");
    const char *ok[] = {"true", NULL}; /* looked up in PATH */
    assert_ok(spawn_run(ok, 10, &r));
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
}

/* More output than is kept: cut, and the command still finishes (it
 * never blocks on a full pipe). */
static void test_output_cut(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x; exit 0", NULL};
    spawn_result r;
    assert_ok(spawn_run(argv, 30, &r));
    assert_int_equal(r.status, 0);
    assert_int_equal(strlen(r.out), SPAWN_OUT_MAX - 1);
    assert_int_equal(strspn(r.out, "x"), SPAWN_OUT_MAX - 1);
}

/* At the deadline the command and the helper it started are killed: the
 * helper's pid, written first, no longer exists. */
static void test_deadline(void **state)
{
    (void)state;
    char dir[] = "/tmp/strata-spawn-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[1200], pidfile[300];
    snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
    snprintf(script, sizeof(script), "sleep 60 & echo $! > %s.tmp; mv %s.tmp %s; wait", pidfile,
             pidfile, pidfile);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    spawn_result r;
    double t0 = now();
    assert_ok(spawn_run(argv, 0.5, &r));
    double took = now() - t0;
    assert_true(r.timed_out);
    assert_int_equal(r.status, -1);
    assert_true(took < 30); /* not the sleep's 60 s: a bound, not a timing */
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    long pid = 0;
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    /* Killed with its group (a zombie until whoever inherited it reaps
     * it); a signal takes effect when the process next runs: wait for
     * that, within a limit. */
    double until = now() + 10;
    while (!dead((pid_t)pid) && now() < until) {
        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(dead((pid_t)pid));
    unlink(pidfile);
    rmdir(dir);
}

static void test_not_found(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/strata-no-such-tool", NULL};
    spawn_result r;
    strata_err *e = spawn_run(argv, 5, &r);
    /* posix_spawn may report it, or the child may exit 127: either way
     * nothing ran. */
    if (e)
        strata_err_free(e);
    else
        assert_int_equal(r.status, 127);
    int status;
    const char *t[] = {"true", NULL};
    assert_ok(spawn_interactive(t, &status));
    assert_int_equal(status, 0);
    const char *f[] = {"false", NULL};
    assert_ok(spawn_interactive(f, &status));
    assert_int_equal(status, 1);
}

/* A mount "command" given as argv, as nfs_mount_cmd_build would. */
static void fake_cmd(nfs_mount_cmd *c, const char *script, const char *mp)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->mountpoint, sizeof(c->mountpoint), "%s", mp);
    snprintf(c->opts, sizeof(c->opts), "%s", script);
    c->argv[0] = "/bin/sh";
    c->argv[1] = "-c";
    c->argv[2] = c->opts;
    c->argv[3] = NULL;
    c->argc = 3;
}

static void test_attach_checks(void **state)
{
    (void)state;
    char dir[] = "/tmp/strata-attach-XXXXXX";
    assert_non_null(mkdtemp(dir));
    nfs_mount_cmd c;
    /* Exit 0, nothing mounted: not a mount. */
    fake_cmd(&c, "exit 0", dir);
    strata_err *e = nfs_attach_mount(ENGINE_OS_LINUX, &c, false);
    assert_non_null(e);
    assert_non_null(strstr(e->msg, "shows no NFS mount"));
    strata_err_free(e);
    /* A failure: its words, its exit code, the errno they stand for, and
     * the command to run by hand in the hint. */
    fake_cmd(&c, "echo 'mount: /m: only root can use \"--types\" option.' >&2; exit 1", dir);
    e = nfs_attach_mount(ENGINE_OS_LINUX, &c, false);
    assert_non_null(e);
    assert_int_equal(e->sys_errno, EPERM);
    assert_non_null(strstr(e->msg, "only root can use"));
    assert_non_null(strstr(e->msg, "exit 1"));
    assert_non_null(strstr(e->hint, "/bin/sh -c"));
    strata_err_free(e);
    fake_cmd(&c, "echo 'mount.nfs: Connection refused'; exit 32", dir);
    e = nfs_attach_mount(ENGINE_OS_LINUX, &c, false);
    assert_non_null(e);
    assert_int_equal(e->sys_errno, ECONNREFUSED);
    strata_err_free(e);
    /* Unmounting what is not mounted leaves nothing mounted: done. */
    assert_false(nfs_attach_is_mounted(dir));
    if (geteuid() == 0)
        assert_ok(nfs_attach_unmount(ENGINE_OS_LINUX, dir, false, true));
    char line[256];
    fake_cmd(&c, "x", dir);
    nfs_attach_cmd_line(&c, line, sizeof(line));
    assert_string_equal(line, "/bin/sh -c x");
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_and_output), cmocka_unit_test(test_output_cut),
        cmocka_unit_test(test_deadline),        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_attach_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
