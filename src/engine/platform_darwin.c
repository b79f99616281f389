/* Fills the platform facts on macOS: the I/O half of the Darwin probe.
 * It runs sw_vers, kmutil (or kextstat), pluginkit and dsmemberutil/dscl
 * with a time limit, and reads macFUSE's Info.plist; all interpretation
 * is in darwin_parse.c, which Linux tests check on recorded samples.
 * Compiled only on Apple (meson.build). */
#ifdef __APPLE__

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/darwin_parse.h"
#include "engine/facts.h"
#include "transport/fuse_lib.h"

/* No tool may hold up a probe for longer than this. */
#define TOOL_TIMEOUT_MS 5000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv (an absolute path, no shell) with a fixed environment and
 * collects up to n-1 bytes of its standard output, NUL-terminated.
 * Returns the length, or -1 when it could not run, timed out, or exited
 * non-zero (dscl exits non-zero for a missing key, and says so on stderr,
 * which is discarded). */
static ssize_t run_tool(char *const argv[], char *buf, size_t n)
{
    static char *const envp[] = {"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C", "LC_ALL=C", NULL};
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return -1;
    }
    size_t got = 0;
    bool timed_out = false;
    long long deadline = now_ms() + TOOL_TIMEOUT_MS;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        char tmp[4096];
        ssize_t r = read(pipefd[0], tmp, sizeof(tmp));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t keep = (size_t)r;
        if (got + keep > n - 1)
            keep = n - 1 - got; /* drop the excess, keep draining */
        memcpy(buf + got, tmp, keep);
        got += keep;
    }
    close(pipefd[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    buf[got] = '\0';
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return (ssize_t)got;
}

static ssize_t read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* macFUSE's version from its bundle; a binary plist goes through plutil. */
static void probe_macfuse(engine_facts *f, char *buf, size_t n)
{
    f->macfuse = exists(DARWIN_MACFUSE_FS);
    if (!f->macfuse)
        return;
    ssize_t len = read_small(DARWIN_MACFUSE_PLIST, buf, n);
    if (len > 0 && !darwin_parse_macfuse_version(buf, (size_t)len, &f->macfuse_version)) {
        char *argv[] = {"/usr/bin/plutil",    "-convert", "xml1", "-o", "-",
                        DARWIN_MACFUSE_PLIST, NULL};
        len = run_tool(argv, buf, n);
        if (len > 0)
            darwin_parse_macfuse_version(buf, (size_t)len, &f->macfuse_version);
    }
}

static void probe_kext(engine_facts *f, char *buf, size_t n)
{
    char *kmutil[] = {"/usr/bin/kmutil", "showloaded", NULL};
    char *kextstat[] = {"/usr/sbin/kextstat", NULL};
    ssize_t len = run_tool(kmutil, buf, n);
    if (len < 0)
        len = run_tool(kextstat, buf, n);
    if (len > 0 && darwin_parse_kext_loaded(buf, (size_t)len, DARWIN_KEXT_ID, NULL))
        f->kext = FACTS_KEXT_LOADED;
    else
        f->kext = FACTS_KEXT_UNKNOWN; /* it loads on the first mount, if approved */
}

static void probe_fskit(engine_facts *f, char *buf, size_t n)
{
    f->fskit_module = FACTS_FSKIT_UNKNOWN;
    if (!f->macfuse)
        return;
    char *argv[] = {"/usr/bin/pluginkit", "-m", "-p", "com.apple.fskit.fsmodule", NULL};
    ssize_t len = run_tool(argv, buf, n);
    if (len >= 0)
        f->fskit_module = darwin_parse_pluginkit(buf, (size_t)len, DARWIN_FSKIT_ID_PREFIX);
}

/* In the admin group now, which Admin By Request changes while we run:
 * asked of the directory service every time, not of our own credentials. */
static void probe_admin(engine_facts *f, char *buf, size_t n)
{
    f->admin = f->root;
    if (f->root || !f->user[0])
        return;
    char *check[] = {
        "/usr/bin/dsmemberutil", "checkmembership", "-U", f->user, "-G", "admin", NULL};
    ssize_t len = run_tool(check, buf, n);
    int m = len > 0 ? darwin_parse_checkmembership(buf, (size_t)len) : -1;
    if (m >= 0) {
        f->admin = m == 1;
        return;
    }
    char *dscl[] = {"/usr/bin/dscl", ".", "-read", "/Groups/admin", "GroupMembership", NULL};
    len = run_tool(dscl, buf, n);
    f->admin = len > 0 && darwin_parse_dscl_members(buf, (size_t)len, f->user);
}

static void probe_abr(engine_facts *f)
{
    const char *present[8];
    size_t n = 0;
    for (size_t i = 0; darwin_abr_paths[i] && n < 8; i++)
        if (exists(darwin_abr_paths[i]))
            present[n++] = darwin_abr_paths[i];
    f->abr = darwin_abr_installed(present, n);
}

void facts_probe_platform(engine_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->os = ENGINE_OS_MACOS;
    f->uid = getuid();
    f->root = geteuid() == 0;
    struct passwd *pw = getpwuid(f->uid);
    if (pw && pw->pw_name)
        snprintf(f->user, sizeof(f->user), "%s", pw->pw_name);

    size_t bufsize = 256 * 1024; /* kmutil's table is long */
    char *buf = malloc(bufsize);
    f->dev_fuse = FACTS_DEV_ABSENT; /* Linux's device; macFUSE has its own */
    probe_abr(f);
    if (!buf)
        return; /* out of memory: the rest stays unknown */
    char *sw_vers[] = {"/usr/bin/sw_vers", "-productVersion", NULL};
    ssize_t len = run_tool(sw_vers, buf, bufsize);
    if (len > 0)
        darwin_parse_product_version(buf, (size_t)len, &f->os_version, f->os_version_str,
                                     sizeof(f->os_version_str));
    probe_macfuse(f, buf, bufsize);
    probe_kext(f, buf, bufsize);
    probe_fskit(f, buf, bufsize);
    probe_admin(f, buf, bufsize);
    free(buf);
}

#endif /* __APPLE__ */
