/* `strata mount [--layer REF]... [--upper DIR] [--backend fuse|none]
 * [--foreground] [--threads N] MOUNTPOINT`: shows a view of layers at a
 * directory.
 *
 * With FUSE (the default) the view is served by this process. Without
 * --foreground it forks a server first, and the command returns only once
 * the mount answers: the server sends "ready" or its error up a pipe, so
 * the user gets the usual two-line error and exit 1 from the command they
 * typed, and exit 0 means the mount is there. In the foreground it serves
 * until the mount is unmounted from outside or a SIGINT, SIGTERM or SIGHUP
 * comes, and then unmounts.
 *
 * --backend none writes the view out at MOUNTPOINT instead: a copy that
 * needs no mount, made once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "transport/fuse.h"
#include "transport/fuse_lib.h"
#include "transport/none.h"
#include "vfs/vfs.h"

enum {
    CLI_OPT_LAYER = CLI_OPT_BASE,
    CLI_OPT_UPPER,
    CLI_OPT_BACKEND,
    CLI_OPT_FOREGROUND,
    CLI_OPT_THREADS,
};

#define CLI_MOUNT_MAX_LAYERS 256
#define CLI_MOUNT_MSG_MAX    4096

typedef struct cli_mount {
    cli_ctx *ctx;
    const char *refs[CLI_MOUNT_MAX_LAYERS]; /* top first */
    uint32_t nrefs;
    const char *mountpoint; /* absolute for fuse */
    const char *upper;      /* absolute; NULL for a read-only view */
    fuse_mount_opts mo;
    fusefs_opts fo;
    int ready_fd; /* the background server's pipe to its parent; -1 in the foreground */
} cli_mount;

/* ---- the view ---------------------------------------------------------- */

/* Resolves every ref first, so a typo fails before anything is loaded. */
static strata_err *cli_mount_resolve(store *s, const cli_mount *m, strata_digest *d)
{
    for (uint32_t i = 0; i < m->nrefs; i++) {
        strata_err *e = layer_resolve(s, m->refs[i], &d[i]);
        if (e)
            return e;
    }
    return NULL;
}

/* The store is opened read-only: a mount only reads, and reads go on
 * while other processes import into the same store. */
static strata_err *cli_mount_view(cli_mount *m, store **s, vfs **v)
{
    strata_digest d[CLI_MOUNT_MAX_LAYERS];
    strata_err *e = cli_open_store(m->ctx, CLI_STORE_READ, s);
    if (!e)
        e = cli_mount_resolve(*s, m, d);
    if (!e)
        e = vfs_new(*s, NULL, v);
    if (!e) {
        vfs_view_spec spec = {
            .layers = d,
            .nlayers = m->nrefs,
            .upper = m->upper,
            .uid = (uint32_t)getuid(),
            .gid = (uint32_t)getgid(),
        };
        e = vfs_slot_attach(*v, 0, &spec);
    }
    return e;
}

/* ---- signals ----------------------------------------------------------- */

/* SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken here
 * by sigwait, so that stopping the server happens in a normal thread
 * (fusefs_stop is not for signal handlers) and whenever it comes: before
 * the mount exists, the request is remembered. */
typedef struct cli_mount_sigs {
    pthread_mutex_t mu;
    fusefs *f; /* set while serving */
    bool stop; /* a signal came */
    sigset_t set;
    pthread_t thread;
} cli_mount_sigs;

static void *cli_mount_sig_main(void *arg)
{
    cli_mount_sigs *sg = arg;
    for (;;) {
        int sig;
        if (sigwait(&sg->set, &sig) != 0)
            continue;
        /* Not cancelled halfway through a stop, which holds locks. */
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        pthread_mutex_lock(&sg->mu);
        sg->stop = true;
        if (sg->f)
            fusefs_stop(sg->f);
        pthread_mutex_unlock(&sg->mu);
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    }
    return NULL;
}

/* ---- the background server's pipe ------------------------------------ */

/* Messages up the pipe: "K" (the mount answers), or "E", the error's code
 * as one byte, its message and its hint, each NUL-terminated. */
static bool cli_mount_send(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static int cli_mount_send_err(int fd, strata_err *e)
{
    char buf[CLI_MOUNT_MSG_MAX];
    int n = snprintf(buf, sizeof(buf), "E%c%s%c%s", (char)('A' + e->code), e->msg, '\0', e->hint);
    if (n > 0)
        cli_mount_send(fd, buf, (size_t)n + 1 < sizeof(buf) ? (size_t)n + 1 : sizeof(buf));
    strata_err_free(e);
    return CLI_EXIT_FAIL;
}

/* The parent's side: waits for the server's word, and says what came. */
static int cli_mount_await(const cli_mount *m, pid_t pid, int fd)
{
    char buf[CLI_MOUNT_MSG_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(buf) - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    if (len >= 1 && buf[0] == 'K') {
        if (!m->ctx->quiet)
            fprintf(stderr,
                    "mounted %u layer%s at %s (fuse, %s%s, server pid %ld); unmount with "
                    "'strata umount %s'\n",
                    m->nrefs, cli_plural(m->nrefs), m->mountpoint,
                    m->upper ? "writes go to " : "read-only", m->upper ? m->upper : "", (long)pid,
                    m->mountpoint);
        return CLI_EXIT_OK;
    }
    int status = 0;
    /* Without a word the server is of no use, even if it runs: it is our
     * child, so it is stopped (and unmounts) rather than waited for. */
    if (!(len >= 2 && buf[0] == 'E') && waitpid(pid, &status, WNOHANG) == 0)
        kill(pid, SIGTERM);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (len >= 2 && buf[0] == 'E') {
        const char *msg = buf + 2;
        size_t ml = strlen(msg);
        const char *hint = 2 + ml + 1 < len ? msg + ml + 1 : NULL;
        int code = buf[1] - 'A';
        if (code <= STRATA_E_OK || code > STRATA_E_INTERNAL)
            code = STRATA_E_INTERNAL;
        return cli_report(strata_err_new((strata_code)code, hint, "%s", msg));
    }
    if (WIFSIGNALED(status))
        return cli_report(strata_err_new(STRATA_E_INTERNAL,
                                         "run the same mount with --foreground to see it fail",
                                         "the mount server was killed by signal %d before the "
                                         "mount was ready",
                                         WTERMSIG(status)));
    return cli_report(strata_err_new(STRATA_E_INTERNAL,
                                     "run the same mount with --foreground to see it fail",
                                     "the mount server exited (status %d) before the mount was "
                                     "ready",
                                     WIFEXITED(status) ? WEXITSTATUS(status) : -1));
}

/* Tells the waiting parent (or, in the foreground, the user) that the
 * mount answers. False when the parent has gone: nobody would know of
 * the mount, so it must not stay. */
static bool cli_mount_ready(cli_mount *m)
{
    if (m->ready_fd < 0) {
        if (!m->ctx->quiet)
            fprintf(stderr,
                    "mounted %u layer%s at %s (fuse, %s%s); serving until 'strata umount %s' "
                    "or Ctrl-C\n",
                    m->nrefs, cli_plural(m->nrefs), m->mountpoint,
                    m->upper ? "writes go to " : "read-only", m->upper ? m->upper : "",
                    m->mountpoint);
        return true;
    }
    bool ok = cli_mount_send(m->ready_fd, "K", 1);
    close(m->ready_fd);
    m->ready_fd = -1;
    /* A server outlives the terminal: it must not keep it, nor a working
     * directory that someone may want to unmount or remove. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    if (chdir("/") < 0) {
        /* Not fatal: the server works from anywhere. */
    }
    return ok;
}

/* ---- serving ----------------------------------------------------------- */

static int cli_mount_fail(cli_mount *m, strata_err *e)
{
    return m->ready_fd >= 0 ? cli_mount_send_err(m->ready_fd, e) : cli_report(e);
}

/* Mounts, serves until the end, unmounts. Runs in the foreground command
 * or in the forked server. */
static int cli_mount_serve(cli_mount *m)
{
    cli_mount_sigs sg = {.mu = PTHREAD_MUTEX_INITIALIZER};
    sigemptyset(&sg.set);
    sigaddset(&sg.set, SIGINT);
    sigaddset(&sg.set, SIGTERM);
    sigaddset(&sg.set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sg.set, NULL);
    int rc = pthread_create(&sg.thread, NULL, cli_mount_sig_main, &sg);
    if (rc)
        return cli_mount_fail(m, strata_err_sys(rc, NULL, "start the signal thread"));

    store *s = NULL;
    vfs *v = NULL;
    fusefs *f = NULL;
    strata_err *e = cli_mount_view(m, &s, &v);
    if (!e)
        e = fusefs_mount(v, m->mountpoint, &m->mo, &m->fo, &f);
    /* Registered once the mount answers, for as long as this server
     * lives: if it dies without unmounting, a sweep finds the record and
     * clears the dead mount. */
    registry_handle *reg = NULL;
    if (!e) {
        e = cli_register_mount(REGISTRY_KIND_MOUNT, "fuse", m->mountpoint, NULL, &reg);
        if (e) {
            fusefs_destroy(f);
            f = NULL;
        }
    }
    int code = CLI_EXIT_OK;
    if (e) {
        code = cli_mount_fail(m, e);
    } else {
        pthread_mutex_lock(&sg.mu);
        sg.f = f;
        bool stop = sg.stop;
        pthread_mutex_unlock(&sg.mu);
        if (stop) {
            fusefs_stop(f);
        } else if (!cli_mount_ready(m)) {
            fusefs_stop(f);
            code = CLI_EXIT_FAIL;
        }
        e = fusefs_wait(f);
        pthread_mutex_lock(&sg.mu);
        sg.f = NULL;
        pthread_mutex_unlock(&sg.mu);
        if (e)
            code = cli_report(e);
    }
    pthread_cancel(sg.thread);
    pthread_join(sg.thread, NULL);
    fusefs_destroy(f);
    /* After the unmount, and after the vfs has let go of the upper
     * directory: the record stays as long as the mount does, and `strata
     * umount` returns when it goes, so the upper is then free. */
    vfs_free(v);
    if (s)
        store_close(s);
    e = registry_unregister(reg);
    if (e)
        code = cli_report(e);
    return code;
}

/* A server that outlives its caller must not keep the caller's pipes
 * open: whoever waits for one to close (a shell's $(...), a test harness)
 * would wait for the mount to end. Regular files are left alone, since a
 * runtime may hold one (a sanitizer's log), as libfuse's own
 * fuse_daemonize leaves every descriptor beyond stdio. */
static void cli_mount_close_pipes(int keep)
{
#ifdef __linux__
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        struct stat st;
        if (fd > STDERR_FILENO && fd != keep && fd != dirfd(d) && fstat(fd, &st) == 0 &&
            (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
            close(fd);
    }
    closedir(d);
#else
    (void)keep;
#endif
}

/* Forks the server, which mounts and serves in a session of its own, and
 * waits for its word. */
static int cli_mount_background(cli_mount *m)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return cli_report(strata_err_sys(errno, NULL, "create a pipe"));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return cli_report(strata_err_sys(err, NULL, "start the mount server"));
    }
    if (pid > 0) {
        close(fds[1]);
        return cli_mount_await(m, pid, fds[0]);
    }
    close(fds[0]);
    /* Out of the terminal's process group: a Ctrl-C meant for the
     * command that started it must not end a mount that lives on. */
    setsid();
    cli_mount_close_pipes(fds[1]);
    m->ready_fd = fds[1];
    int code = cli_mount_serve(m);
    if (m->ready_fd >= 0)
        close(m->ready_fd);
    return code;
}

/* ---- --backend none ---------------------------------------------------- */

static int cli_mount_none(cli_mount *m)
{
    store *s = NULL;
    manifest *ms[CLI_MOUNT_MAX_LAYERS] = {0};
    strata_digest d[CLI_MOUNT_MAX_LAYERS];
    none_sandbox *sb = NULL;
    double t0 = cli_now();
    strata_err *e = cli_open_store(m->ctx, CLI_STORE_READ, &s);
    if (!e)
        e = cli_mount_resolve(s, m, d);
    for (uint32_t i = 0; !e && i < m->nrefs; i++)
        e = layer_load(s, &d[i], &ms[i]);
    if (!e)
        e = none_prepare(s, ms, m->nrefs, m->mountpoint, &sb);
    if (!e)
        e = none_destroy(sb, false);
    for (uint32_t i = 0; i < m->nrefs; i++)
        manifest_free(ms[i]);
    if (s)
        store_close(s);
    if (e)
        return cli_report(e);
    if (!m->ctx->quiet)
        fprintf(stderr,
                "wrote %u layer%s out at %s in %.2f s (backend none: a copy, not a mount)\n",
                m->nrefs, cli_plural(m->nrefs), m->mountpoint, cli_now() - t0);
    return CLI_EXIT_OK;
}

/* ---- the command ------------------------------------------------------- */

/* The upper directory, made if absent, as an absolute path (the server
 * leaves its working directory). It may not lie inside the mount: every
 * write would then come back to the server that makes it. */
static strata_err *cli_mount_upper(const char *upper, const char *mp_abs, char **out)
{
    if (mkdir(upper, 0755) < 0 && errno != EEXIST)
        return strata_err_sys(errno, "give an existing directory, or one whose parent exists",
                              "create the upper directory %s", upper);
    char *abs = realpath(upper, NULL);
    if (!abs)
        return strata_err_sys(errno, NULL, "resolve the upper directory %s", upper);
    struct stat st;
    if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(abs);
        return strata_err_new(STRATA_E_INVALID, "give a directory for --upper",
                              "the upper %s is not a directory", upper);
    }
    size_t n = strlen(mp_abs);
    if (strncmp(abs, mp_abs, n) == 0 && (abs[n] == '\0' || abs[n] == '/' || n == 1)) {
        free(abs);
        return strata_err_new(STRATA_E_INVALID, "put the upper directory outside the mountpoint",
                              "the upper %s lies inside the mountpoint %s", upper, mp_abs);
    }
    *out = abs;
    return NULL;
}

static int cli_mount_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"layer", required_argument, NULL, CLI_OPT_LAYER},
        {"upper", required_argument, NULL, CLI_OPT_UPPER},
        {"backend", required_argument, NULL, CLI_OPT_BACKEND},
        {"foreground", no_argument, NULL, CLI_OPT_FOREGROUND},
        {"threads", required_argument, NULL, CLI_OPT_THREADS},
        {0},
    };
    static cli_mount m; /* large (layer names); one per process */
    m = (cli_mount){.ctx = ctx, .ready_fd = -1, .fo = {.no_open = true}};
    const char *upper = NULL, *backend = "fuse";
    bool foreground = false, threads = false;
    uint64_t n;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "l:", longopts, &code)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return code;
        case 'l':
        case CLI_OPT_LAYER:
            if (m.nrefs == CLI_MOUNT_MAX_LAYERS)
                return cli_usage_error(ctx, "at most %d layers", CLI_MOUNT_MAX_LAYERS);
            m.refs[m.nrefs++] = optarg;
            break;
        case CLI_OPT_UPPER:
            upper = optarg;
            break;
        case CLI_OPT_BACKEND:
            backend = optarg;
            break;
        case CLI_OPT_FOREGROUND:
            foreground = true;
            break;
        case CLI_OPT_THREADS:
            if (!cli_parse_uint(optarg, 1, FUSEFS_MAX_THREADS, &n))
                return cli_usage_error(ctx, "--threads takes a number from 1 to %d, not '%s'",
                                       FUSEFS_MAX_THREADS, optarg);
            m.fo.max_threads = (unsigned)n;
            threads = true;
            break;
        }
    }
    if (!cli_operands(ctx, argc, argv, 1, 1))
        return CLI_EXIT_USAGE;
    bool fuse = strcmp(backend, "fuse") == 0;
    if (!fuse && strcmp(backend, "none") != 0)
        return cli_usage_error(ctx, "unknown backend '%s' (fuse or none)", backend);
    if (!fuse && (foreground || threads))
        return cli_usage_error(ctx, "%s applies to --backend fuse only",
                               foreground ? "--foreground" : "--threads");
    if (m.nrefs == 0)
        return cli_usage_error(ctx, "give the layers to show with --layer REF");
    if (!fuse && upper)
        return cli_usage_error(ctx, "--upper applies to --backend fuse only");
    m.mountpoint = argv[optind];
    if (!fuse)
        return cli_mount_none(&m);
    /* Mounts of dead strata processes go first: one of them may even sit
     * on this mountpoint. */
    cli_sweep_quietly(ctx);

    /* Everything that can fail before the server starts is checked here,
     * where the error reaches the user directly. */
    char *abs = NULL, *upper_abs = NULL, *store_dir = NULL, *store_abs = NULL;
    const fuse_lib *fl;
    strata_err *e = fusefs_check_mountpoint(m.mountpoint, &abs);
    if (!e && upper)
        e = cli_mount_upper(upper, abs, &upper_abs);
    if (!e)
        e = fuse_lib_load(&fl);
    if (!e) {
        fuse_mount_req req = {
            .os = FUSE_OS_LINUX,
            .backend = FUSE_BACKEND_DEVFUSE,
            .uid = getuid(),
            .read_only = !upper,
            .mountpoint = abs,
        };
        e = fuse_mountopts_build(&req, &m.mo);
    }
    /* The background server leaves its working directory: a relative
     * store path must not depend on it. */
    if (!e)
        e = cli_store_path(ctx, &store_dir);
    if (!e && (store_abs = realpath(store_dir, NULL)))
        ctx->store_dir = store_abs;
    if (e) {
        free(abs);
        free(upper_abs);
        free(store_dir);
        return cli_report(e);
    }
    m.mountpoint = abs;
    m.upper = upper_abs;
    const char *no_open = getenv("STRATA_FUSE_NO_OPEN");
    if (no_open && strcmp(no_open, "0") == 0)
        m.fo.no_open = false;
    const char *inval = getenv("STRATA_FUSE_INVAL");
    m.fo.inval_names = inval && strcmp(inval, "1") == 0;
    code = foreground ? cli_mount_serve(&m) : cli_mount_background(&m);
    free(abs);
    free(upper_abs);
    free(store_dir);
    free(store_abs);
    return code;
}

const cli_command cli_cmd_mount = {
    .name = "mount",
    .usage = "mount [--layer REF]... [--upper DIR] [--backend fuse|none] [--foreground] "
             "MOUNTPOINT",
    .summary = "show layers as one directory (a FUSE mount)",
    .help = "Shows the layers given with --layer merged at MOUNTPOINT: the first --layer is\n"
            "the top, and an entry in a higher layer hides the same path in those below.\n"
            "Every entry of the layers belongs to the user who mounted them, and files are\n"
            "read from the store as they are read, never copied whole. Without --upper the\n"
            "view is read-only. With --upper DIR it is writable: changes land in DIR in\n"
            "overlayfs's conventions (copies of changed files, whiteouts for deleted\n"
            "ones), and the layers never change. DIR may hold the changes of an earlier\n"
            "mount of the same layers, which then show again.\n"
            "\n"
            "With the fuse backend (the default), MOUNTPOINT is an existing directory.\n"
            "strata starts a server in the background and returns once the mount answers;\n"
            "'strata umount MOUNTPOINT' ends it. With --foreground it serves until the\n"
            "mount is unmounted, or until SIGINT, SIGTERM or SIGHUP, and then unmounts.\n"
            "\n"
            "Options:\n"
            "  -l, --layer REF  a layer to show: a ref or sha256:<hex>; repeat, top first\n"
            "  --upper DIR      make the view writable; changes go to DIR (created if\n"
            "                   absent, outside MOUNTPOINT, one mount at a time)\n"
            "  --backend B      fuse: a FUSE mount (the default); none: write the view out\n"
            "                   at MOUNTPOINT (empty or absent) as plain files instead\n"
            "  --foreground     serve from this process until unmounted or interrupted\n"
            "  --threads N      FUSE server threads, 1-64 (default 2)\n"
            "\n"
            "Environment:\n"
            "  STRATA_FUSE_NO_OPEN=0\n"
            "                   ask the server at every open of a file (slower: by\n"
            "                   default the kernel opens files by itself)\n"
            "  STRATA_FUSE_INVAL=1\n"
            "                   invalidate each name a create, rename or remove touched,\n"
            "                   as macFUSE mounts do (a test of that path on Linux)\n",
    .run = cli_mount_run,
};
