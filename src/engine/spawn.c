/* Runs system commands with a deadline (see spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/compat.h"
#include "engine/spawn.h"

extern char **environ;

static double spawn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int spawn_exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reaps pid, waiting until the deadline; past it the whole process group
 * is killed (a mount command forks helpers: mount.nfs, mount_nfs's own),
 * and then reaped for good. */
static int spawn_reap(pid_t pid, double until, bool *timed_out)
{
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return -1;
        if (spawn_now() >= until)
            break;
        /* The child has closed its output but not exited: look again
         * shortly; this is a poll of the real condition. */
        struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    *timed_out = true;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

strata_err *spawn_run(const char *const argv[], double timeout, spawn_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = -1;
    int fds[2];
    if (compat_pipe_cloexec(fds) < 0)
        return strata_err_sys(errno, NULL, "create a pipe to run %s", argv[0]);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawnattr_init(&at);
    /* A group of its own, so that the deadline kills its helpers too. */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return strata_err_sys(rc, NULL, "run %s", argv[0]);
    }
    double until = spawn_now() + timeout;
    size_t len = 0;
    for (;;) {
        int ms = (int)((until - spawn_now()) * 1000);
        if (ms <= 0)
            break;
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int n = poll(&p, 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        char buf[512];
        ssize_t got = read(fds[0], buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        /* Past the buffer the output is read and dropped, so that a
         * talkative command never blocks on a full pipe. */
        size_t keep = (size_t)got;
        if (keep > sizeof(r->out) - 1 - len)
            keep = sizeof(r->out) - 1 - len;
        memcpy(r->out + len, buf, keep);
        len += keep;
    }
    close(fds[0]);
    r->out[len] = '\0';
    int status = spawn_reap(pid, until, &r->timed_out);
    r->status = r->timed_out ? -1 : spawn_exit_code(status);
    return NULL;
}

strata_err *spawn_interactive(const char *const argv[], int *status)
{
    *status = -1;
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ);
    if (rc)
        return strata_err_sys(rc, NULL, "run %s", argv[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return strata_err_sys(errno, NULL, "wait for %s", argv[0]);
    }
    *status = spawn_exit_code(st);
    return NULL;
}

void spawn_first_line(const char *out, char *line, size_t n)
{
    while (*out == '\n' || *out == ' ')
        out++;
    size_t len = strcspn(out, "\n");
    if (len > n - 1)
        len = n - 1;
    memcpy(line, out, len);
    line[len] = '\0';
}
