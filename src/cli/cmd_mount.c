/* `strata mount [--layer REF]... [--upper DIR] [--backend fuse|none]
 * [--foreground] [--threads N] MOUNTPOINT`: shows a view of layers at a
 * directory; and `strata serve [--slots N] [--foreground] [--threads N]
 * MOUNTPOINT`, the same FUSE server holding a directory of slots that
 * clients ask for over a control socket (engine/serve.h).
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

#include "base/compat.h"
#include "cli/cmd_mount.h"
#include "engine/serve_proto.h"
#include "transport/fuse_lib.h"
#include "transport/none.h"

enum {
    CLI_OPT_LAYER = CLI_OPT_BASE,
    CLI_OPT_UPPER,
    CLI_OPT_BACKEND,
    CLI_OPT_FOREGROUND,
    CLI_OPT_THREADS,
    CLI_OPT_SERVE_ONLY,
    CLI_OPT_NFS_SECURE,
    CLI_OPT_SUDO,
};

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
strata_err *cli_mount_view(cli_mount *m, store **s, vfs **v)
{
    strata_digest d[CLI_MOUNT_MAX_LAYERS];
    strata_err *e = cli_open_store(m->ctx, CLI_STORE_READ, s);
    if (!e && m->serve) {
        /* No view yet: the root lists the slots clients attach. */
        vfs_opts vo = {
            .max_slots = m->slots,
            .slot_dir = true,
            .slot_dir_uid = (uint32_t)getuid(),
            .slot_dir_gid = (uint32_t)getgid(),
        };
        return vfs_new(*s, &vo, v);
    }
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
 * as one byte, its errno in decimal, its message and its hint, each
 * NUL-terminated (the plan classifies a failure by its errno). */
bool cli_mount_send(int fd, const char *buf, size_t len)
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

int cli_mount_send_err(int fd, strata_err *e)
{
    char buf[CLI_MOUNT_MSG_MAX];
    int n = snprintf(buf, sizeof(buf), "E%c%d%c%s%c%s", (char)('A' + e->code), e->sys_errno, '\0',
                     e->msg, '\0', e->hint);
    if (n > 0)
        cli_mount_send(fd, buf, (size_t)n + 1 < sizeof(buf) ? (size_t)n + 1 : sizeof(buf));
    strata_err_free(e);
    return CLI_EXIT_FAIL;
}

strata_err *cli_mount_parse_err(const char *buf, size_t len)
{
    const char *num = buf + 2;
    const char *msg = num + strlen(num) + 1;
    if (msg > buf + len)
        msg = buf + len;
    size_t ml = strlen(msg);
    const char *hint = (size_t)(msg - buf) + ml + 1 < len ? msg + ml + 1 : NULL;
    int code = buf[1] - 'A';
    if (code <= STRATA_E_OK || code > STRATA_E_INTERNAL)
        code = STRATA_E_INTERNAL;
    strata_err *e = strata_err_new((strata_code)code, hint, "%s", msg);
    if (e)
        e->sys_errno = atoi(num);
    return e;
}

/* The parent's side: waits for the server's word, and says what came; a
 * failure goes to m->fail. */
static int cli_mount_await(cli_mount *m, pid_t pid, int fd)
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
        if (!m->ctx->quiet && m->serve)
            fprintf(stderr,
                    "serving %u slots at %s (%s, server pid %ld); use it with 'strata run "
                    "--server %s', stop it with 'strata umount %s'\n",
                    m->slots - 1, m->mountpoint, m->transport, (long)pid, m->mountpoint,
                    m->mountpoint);
        else if (!m->ctx->quiet)
            fprintf(stderr,
                    "mounted %u layer%s at %s (%s, %s%s, server pid %ld); unmount with "
                    "'strata umount %s'\n",
                    m->nrefs, cli_plural(m->nrefs), m->mountpoint, m->transport,
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
        m->fail = cli_mount_parse_err(buf, len);
    } else if (WIFSIGNALED(status)) {
        m->fail =
            strata_err_new(STRATA_E_INTERNAL, "run the same mount with --foreground to see it fail",
                           "the mount server was killed by signal %d before the mount was "
                           "ready",
                           WTERMSIG(status));
    } else {
        m->fail =
            strata_err_new(STRATA_E_INTERNAL, "run the same mount with --foreground to see it fail",
                           "the mount server exited (status %d) before the mount was ready",
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    return CLI_EXIT_FAIL;
}

/* Tells the waiting parent (or, in the foreground, the user) that the
 * mount answers. False when the parent has gone: nobody would know of
 * the mount, so it must not stay. */
static bool cli_mount_ready(cli_mount *m)
{
    if (m->ready_fd < 0) {
        if (!m->ctx->quiet && m->serve)
            fprintf(stderr,
                    "serving %u slots at %s (%s, control socket %s); serving until 'strata "
                    "umount %s' or Ctrl-C\n",
                    m->slots - 1, m->mountpoint, m->transport, m->sock, m->mountpoint);
        else if (!m->ctx->quiet)
            fprintf(stderr,
                    "mounted %u layer%s at %s (%s, %s%s); serving until 'strata umount %s' "
                    "or Ctrl-C\n",
                    m->nrefs, cli_plural(m->nrefs), m->mountpoint, m->transport,
                    m->upper ? "writes go to " : "read-only", m->upper ? m->upper : "",
                    m->mountpoint);
        return true;
    }
    bool ok = cli_mount_send(m->ready_fd, "K", 1);
    close(m->ready_fd);
    m->ready_fd = -1;
    cli_mount_detach();
    return ok;
}

void cli_mount_detach(void)
{
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
}

/* ---- serving ----------------------------------------------------------- */

/* A failure before the mount is ready: up the pipe from the server, else
 * kept for the plan's walk. */
static int cli_mount_fail(cli_mount *m, strata_err *e)
{
    if (m->ready_fd >= 0)
        return cli_mount_send_err(m->ready_fd, e);
    strata_err_free(m->fail);
    m->fail = e;
    return CLI_EXIT_FAIL;
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
    serve *srv = NULL;
    if (!e) {
        e = cli_register_mount(m->serve ? REGISTRY_KIND_SERVE : REGISTRY_KIND_MOUNT, m->transport,
                               m->mountpoint, NULL, &reg);
        /* The socket goes up once the mount answers and the registry's
         * directory, where it lives, exists. */
        if (!e && m->serve) {
            serve_opts so = {.v = v, .f = f, .mountpoint = m->mountpoint, .socket = m->sock};
            e = serve_start(&so, &srv);
        }
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
        /* Clients still attached lose their slots; their commands see
         * the mount gone. */
        serve_stop(srv);
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
void cli_mount_close_pipes(int keep)
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
    if (compat_pipe_cloexec(fds) < 0)
        return cli_mount_fail(m, strata_err_sys(errno, NULL, "create a pipe"));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return cli_mount_fail(m, strata_err_sys(err, NULL, "start the mount server"));
    }
    if (pid > 0) {
        close(fds[1]);
        return cli_mount_await(m, pid, fds[0]);
    }
    close(fds[0]);
    m->in_server = true;
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

static strata_err *cli_mount_none(cli_mount *m)
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
    m->none_seconds = cli_now() - t0;
    return e;
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

static int cli_mount_start(cli_mount *mp, const char *upper, const char *backend, bool foreground);

static int cli_mount_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"layer", required_argument, NULL, CLI_OPT_LAYER},
        {"upper", required_argument, NULL, CLI_OPT_UPPER},
        {"backend", required_argument, NULL, CLI_OPT_BACKEND},
        {"foreground", no_argument, NULL, CLI_OPT_FOREGROUND},
        {"threads", required_argument, NULL, CLI_OPT_THREADS},
        {"serve-only", no_argument, NULL, CLI_OPT_SERVE_ONLY},
        {"nfs-secure", no_argument, NULL, CLI_OPT_NFS_SECURE},
        {"sudo", no_argument, NULL, CLI_OPT_SUDO},
        {0},
    };
    static cli_mount m; /* large (layer names); one per process */
    m = (cli_mount){.ctx = ctx, .ready_fd = -1, .fo = {.no_open = true}};
    const char *upper = NULL, *backend = NULL;
    bool foreground = false, threads = false, serve_only = false, secure = false;
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
        case CLI_OPT_SERVE_ONLY:
            serve_only = true;
            break;
        case CLI_OPT_NFS_SECURE:
            secure = true;
            break;
        case CLI_OPT_SUDO:
            m.sudo = true;
            break;
        }
    }
    if (serve_only) {
        if (!backend || strcmp(backend, "nfs") != 0)
            return cli_usage_error(ctx, "--serve-only goes with --backend nfs");
        if (m.nrefs == 0)
            return cli_usage_error(ctx, "give the layers to show with --layer REF");
        if (!cli_operands(ctx, argc, argv, 0, 0))
            return CLI_EXIT_USAGE;
        return cli_mount_nfs_serve_only(&m, upper, secure);
    }
    if (secure)
        return cli_usage_error(ctx, "--nfs-secure goes with --backend nfs --serve-only");
    if (!cli_operands(ctx, argc, argv, 1, 1))
        return CLI_EXIT_USAGE;
    bool known = !backend;
    for (int t = 0; t < ENGINE_T_COUNT && !known; t++)
        known = strcmp(backend, engine_transport_name((engine_transport)t)) == 0;
    if (!known)
        return cli_usage_error(ctx, "unknown backend '%s' (fuse, kext, fskit, nfs or none)",
                               backend);
    bool none = backend && strcmp(backend, "none") == 0;
    if (none && (foreground || threads))
        return cli_usage_error(ctx, "%s applies to a mount, not --backend none",
                               foreground ? "--foreground" : "--threads");
    if (m.nrefs == 0)
        return cli_usage_error(ctx, "give the layers to show with --layer REF");
    if (none && upper)
        return cli_usage_error(ctx, "--upper applies to a mount, not --backend none");
    if (none && m.sudo)
        return cli_usage_error(ctx, "--sudo applies to a mount, not --backend none");
    m.mountpoint = argv[optind];
    return cli_mount_start(&m, upper, backend, foreground);
}

/* One attempt of the plan: a FUSE server (this process in the
 * foreground, else a forked one) or the view written out. A failure
 * before the mount answers goes back to the walk, which tries the next
 * transport; from then on the attempt is the command's outcome. */
typedef struct cli_mount_walk {
    cli_mount *m;
    bool foreground;
} cli_mount_walk;

static strata_err *cli_mount_attempt(const plan_attempt *a, void *ctx)
{
    cli_mount_walk *w = ctx;
    cli_mount *m = w->m;
    switch (a->transport) {
    case ENGINE_T_FUSE:
    case ENGINE_T_KEXT:
    case ENGINE_T_FSKIT: {
        const fuse_lib *fl;
        strata_err *e = fuse_lib_load(&fl);
        if (e)
            return e;
        m->transport = engine_transport_name(a->transport);
        m->mo = a->fuse;
        if (a->transport == ENGINE_T_FSKIT)
            m->mountpoint = a->mountpoint;
        m->fail = NULL;
        m->code = w->foreground ? cli_mount_serve(m) : cli_mount_background(m);
        /* The forked server's outcome is its exit code, whatever it was:
         * only the command walks on. */
        if (m->in_server || m->code == CLI_EXIT_OK || !m->fail)
            return NULL;
        e = m->fail;
        m->fail = NULL;
        return e;
    }
    case ENGINE_T_NFS:
        return cli_mount_nfs(m, a, w->foreground);
    case ENGINE_T_NONE:
    default:
        m->code = CLI_EXIT_OK;
        return cli_mount_none(m);
    }
}

/* Whether the plan holds a transport that mounts. */
static bool cli_mount_plan_mounts(const engine_plan *p)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->attempts[i].transport != ENGINE_T_NONE)
            return true;
    return false;
}

/* A view with an upper directory, or a serve, needs a mount: a copy
 * cannot send writes anywhere else, nor show slots. */
static strata_err *cli_mount_require(engine_plan *p, const char *why, const char *file)
{
    if (p->count && p->attempts[p->count - 1].transport == ENGINE_T_NONE)
        p->count--;
    p->mount_required = true;
    p->warn_on_none = false;
    if (p->count == 0)
        return strata_err_new(STRATA_E_INVALID,
                              "unpin mount.backend (or set it to a transport that mounts)",
                              "%s needs a mount, and the config%s%s allows only backend none", why,
                              file[0] ? " " : "", file);
    return NULL;
}

/* What mount and serve share once their options are read: the plan for
 * this machine and config, the checks that can fail before a server
 * starts (here, where the error reaches the user directly), then the
 * plan's attempts in order. */
static int cli_mount_start(cli_mount *mp, const char *upper, const char *backend, bool foreground)
{
    static cli_plan cp;
    cli_mount m = *mp;
    cli_ctx *ctx = m.ctx;
    plan_req req = {
        .mountpoint = m.mountpoint,
        .id = (unsigned long long)getpid(),
        .read_only = !upper && !m.serve,
        .sudo_consent = m.sudo,
    };
    char *abs = NULL, *upper_abs = NULL, *store_dir = NULL, *store_abs = NULL;
    strata_err *e = cli_plan_build(backend, &req, &cp);
    bool mounts = !e && cli_mount_plan_mounts(&cp.p);
    if (mounts) {
        /* Mounts of dead strata processes go first: one of them may
         * even sit on this mountpoint. */
        cli_sweep_quietly(ctx);
        e = fusefs_check_mountpoint(m.mountpoint, &abs);
        /* Planned again for the absolute path, which the options name. */
        if (!e) {
            req.mountpoint = abs;
            e = cli_plan_build(backend, &req, &cp);
        }
    }
    if (!e && (upper || m.serve))
        e = cli_mount_require(&cp.p, m.serve ? "serve" : "--upper", cp.file);
    if (!e && upper)
        e = cli_mount_upper(upper, abs, &upper_abs);
    if (!e && m.serve)
        e = serve_socket_path(NULL, abs, m.sock, sizeof(m.sock));
    /* The background server leaves its working directory: a relative
     * store path must not depend on it. */
    if (!e)
        e = cli_store_path(ctx, &store_dir);
    if (!e && (store_abs = realpath(store_dir, NULL)))
        ctx->store_dir = store_abs;
    if (!e) {
        if (abs)
            m.mountpoint = abs;
        m.upper = upper_abs;
        const char *no_open = getenv("STRATA_FUSE_NO_OPEN");
        if (no_open && strcmp(no_open, "0") == 0)
            m.fo.no_open = false;
        const char *inval = getenv("STRATA_FUSE_INVAL");
        m.fo.inval_names = inval && strcmp(inval, "1") == 0;
        /* A read-only view pushes small files by default (fuse_push.h
         * says why not one with an upper directory). */
        const char *push = getenv("STRATA_FUSE_PUSH");
        m.fo.push_small = push && *push ? strcmp(push, "1") == 0 : !m.upper && !m.serve;
        cli_mount_walk w = {.m = &m, .foreground = foreground};
        mounter_outcome mo;
        e = mounter_walk(&cp.f, &cp.p, cli_mount_attempt, &w, &mo);
        if (!e && !m.in_server)
            cli_plan_say_fallback(ctx, m.serve ? "serve" : "mount", &cp, &mo,
                                  "wrote the view out instead");
        if (!e && mo.used == ENGINE_T_NONE && !ctx->quiet)
            fprintf(stderr,
                    "wrote %u layer%s out at %s in %.2f s (backend none: a copy, not a mount)\n",
                    m.nrefs, cli_plural(m.nrefs), m.mountpoint, m.none_seconds);
    }
    free(abs);
    free(upper_abs);
    free(store_dir);
    free(store_abs);
    return e ? cli_report(e) : m.code;
}

const cli_command cli_cmd_mount = {
    .name = "mount",
    .usage = "mount [--layer REF]... [--upper DIR] [--backend B] [--sudo] [--foreground] "
             "[--threads N] MOUNTPOINT\n"
             "       strata mount --backend nfs --serve-only [--nfs-secure] [--layer REF]... "
             "[--upper DIR]",
    .summary = "show layers as one directory (a FUSE or NFS mount)",
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
            "The nfs backend does the same with strata's NFSv3 server on loopback, which\n"
            "the kernel's NFS client mounts (mount_nfs on macOS, mount -t nfs on Linux):\n"
            "that needs root, or on macOS --sudo. Its options make a dead server fail\n"
            "I/O within seconds rather than hang (docs/NFS.md).\n"
            "\n"
            "Options:\n"
            "  -l, --layer REF  a layer to show: a ref or sha256:<hex>; repeat, top first\n"
            "  --upper DIR      make the view writable; changes go to DIR (created if\n"
            "                   absent, outside MOUNTPOINT, one mount at a time)\n"
            "  --backend B      pin a transport: fuse (a FUSE mount), kext or fskit\n"
            "                   (macFUSE), nfs, or none (write the view out at\n"
            "                   MOUNTPOINT, empty or absent, as plain files). Default:\n"
            "                   the plan ('strata doctor'): the first transport that\n"
            "                   mounts here, else (mount.enabled: auto) none, with one\n"
            "                   line saying why; mount.enabled and mount.backend in\n"
            "                   strata.yaml or STRATA_MOUNT_ENABLED / STRATA_MOUNT_BACKEND\n"
            "                   change it. --upper needs a mount, never none.\n"
            "  --sudo           let strata run the NFS mount and unmount with sudo (macOS,\n"
            "                   not root): sudo may ask for your password\n"
            "  --foreground     serve from this process until unmounted or interrupted\n"
            "  --threads N      FUSE server threads, 1-64 (default 2)\n"
            "  --backend nfs --serve-only\n"
            "                   mount nothing: serve the view over NFSv3 on 127.0.0.1 and\n"
            "                   ::1 from this process (no MOUNTPOINT), print the client\n"
            "                   URL (nfs://127.0.0.1/?nfsport=P&mountport=P&version=3) on\n"
            "                   stdout, and serve until SIGINT, SIGTERM or SIGHUP. The\n"
            "                   port is mount.nfs.port (STRATA_MOUNT_NFS_PORT; 0: any).\n"
            "                   Only this user's uid (and root's) is served.\n"
            "  --nfs-secure     with --serve-only: accept only privileged source ports\n"
            "                   (< 1024), as macOS's client sends with resvport\n"
            "\n"
            "Environment:\n"
            "  STRATA_FUSE_NO_OPEN=0\n"
            "                   ask the server at every open of a file (slower: by\n"
            "                   default the kernel opens files by itself)\n"
            "  STRATA_FUSE_INVAL=1\n"
            "                   invalidate each name a create, rename or remove touched,\n"
            "                   as macFUSE mounts do (a test of that path on Linux)\n"
            "  STRATA_FUSE_PUSH=0|1\n"
            "                   push the bytes of small layer files a listing names into\n"
            "                   the kernel's cache before they are read (default: 1 for\n"
            "                   a read-only view, 0 with --upper)\n",
    .run = cli_mount_run,
};

/* ---- strata serve ------------------------------------------------------ */

enum { CLI_OPT_SLOTS = CLI_OPT_THREADS + 1 };

static int cli_serve_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"slots", required_argument, NULL, CLI_OPT_SLOTS},
        {"foreground", no_argument, NULL, CLI_OPT_FOREGROUND},
        {"threads", required_argument, NULL, CLI_OPT_THREADS},
        {0},
    };
    static cli_mount m;
    m = (cli_mount){
        .ctx = ctx,
        .ready_fd = -1,
        .fo = {.no_open = true},
        .serve = true,
        .slots = SERVE_DEFAULT_SLOTS,
    };
    bool foreground = false;
    uint64_t n;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", longopts, &code)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return code;
        case CLI_OPT_SLOTS:
            if (!cli_parse_uint(optarg, 1, SERVE_SLOT_MAX, &n))
                return cli_usage_error(ctx, "--slots takes a number from 1 to %u, not '%s'",
                                       SERVE_SLOT_MAX, optarg);
            m.slots = (uint32_t)n + 1; /* slot 0 is the directory of slots */
            break;
        case CLI_OPT_FOREGROUND:
            foreground = true;
            break;
        case CLI_OPT_THREADS:
            if (!cli_parse_uint(optarg, 1, FUSEFS_MAX_THREADS, &n))
                return cli_usage_error(ctx, "--threads takes a number from 1 to %d, not '%s'",
                                       FUSEFS_MAX_THREADS, optarg);
            m.fo.max_threads = (unsigned)n;
            break;
        }
    }
    if (!cli_operands(ctx, argc, argv, 1, 1))
        return CLI_EXIT_USAGE;
    m.mountpoint = argv[optind];
    return cli_mount_start(&m, NULL, NULL, foreground);
}

const cli_command cli_cmd_serve = {
    .name = "serve",
    .usage = "serve [--slots N] [--foreground] [--threads N] MOUNTPOINT",
    .summary = "hold one FUSE mount whose slots runs attach their views to",
    .help = "Mounts a directory of slots at MOUNTPOINT and serves it until 'strata umount\n"
            "MOUNTPOINT'. 'strata run --server MOUNTPOINT' (or STRATA_SERVER=MOUNTPOINT)\n"
            "then asks this server for a slot showing its layers, with writes going to an\n"
            "upper directory of its own; runs in MOUNTPOINT/<slot>; captures the upper as\n"
            "its output; and gives the slot back. No mount per run: a run costs a request\n"
            "on the control socket, and many runs share the server at once.\n"
            "\n"
            "The control socket lives in $XDG_RUNTIME_DIR/strata (else /tmp/strata-<uid>),\n"
            "mode 0600, and answers the server's owner (and root) only. A client's slots\n"
            "are given back when its connection closes, whatever ended it. The protocol\n"
            "is in docs/ENGINE.md.\n"
            "\n"
            "Options:\n"
            "  --slots N       how many views may be shown at once, 1-65535 (default 1023)\n"
            "  --foreground    serve from this process until unmounted or interrupted\n"
            "  --threads N     FUSE server threads, 1-64 (default 2)\n",
    .run = cli_serve_run,
};
