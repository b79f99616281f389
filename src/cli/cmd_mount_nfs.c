/* `strata mount` over NFS: the plan's nfs attempt (mount.backend nfs, or
 * the fallback after the macFUSE transports), and `--backend nfs
 * --serve-only`, which serves and mounts nothing.
 *
 * The server is strata's own NFSv3 server on loopback (transport/nfs);
 * the mount is the kernel's client, run as a command (engine/nfs_attach.h:
 * mount_nfs on macOS, mount -t nfs on Linux), through sudo when the user
 * consented to it (--sudo). Without --foreground the server is forked,
 * as for FUSE, but the mount command runs in the command the user typed,
 * not in the server: sudo asks for a password on that terminal, and its
 * cached credential belongs to that terminal's session, which the server
 * leaves. So the handshake has one more step than FUSE's:
 *
 *   server -> command   "P<port>"  serving, registered as the mount's owner
 *   command -> server   "M"        mounted and answering: serve on
 *   (either side closing instead: that side's failure; the server stops)
 *
 * The server serves until a signal (then it unmounts, forcibly: its view
 * is going away) or until the mount is gone from the mount table
 * (`strata umount`, or umount(8)): unlike FUSE, an NFS server is not told
 * of its unmount, so it looks, twice a second. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/compat.h"
#include "cli/cmd_mount.h"
#include "engine/escalate.h"
#include "engine/nfs_attach.h"
#include "transport/nfs/nfs.h"

/* How often the server looks for its mount in the mount table. */
#define CLI_NFS_WATCH_MS 500

/* What the server of an NFS mount holds. */
typedef struct cli_nfs {
    store *s;
    vfs *v;
    nfs_serve *ns;
    registry_handle *reg;
} cli_nfs;

static void cli_nfs_stop(cli_nfs *n)
{
    nfs_serve_stop(n->ns);
    vfs_free(n->v);
    if (n->s)
        store_close(n->s);
    strata_err_free(registry_unregister(n->reg));
    memset(n, 0, sizeof(*n));
}

/* Serves m's view and registers this process as the owner of the mount
 * to be: a sweep then finds the mount if this server dies. The kernel
 * clients send from privileged ports (Linux by default, macOS with
 * resvport), so nothing else is served. */
static strata_err *cli_nfs_start(cli_mount *m, const plan_attempt *a, cli_nfs *n)
{
    strata_err *e = cli_mount_view(m, &n->s, &n->v);
    if (!e) {
        nfs_serve_opts o = {
            .v = n->v,
            .slot = 0,
            .owner_uid = (uint32_t)getuid(),
            .port = (uint16_t)a->nfs_port,
            .secure = true,
        };
        e = nfs_serve_start(&o, &n->ns);
    }
    if (!e)
        e = cli_register_mount(REGISTRY_KIND_MOUNT, "nfs", m->mountpoint, NULL, &n->reg);
    if (e)
        cli_nfs_stop(n);
    return e;
}

/* The privileged step, in the command the user typed (its lines on this
 * terminal). */
static strata_err *cli_nfs_mount(cli_mount *m, const plan_attempt *a, uint16_t port)
{
    escalate_io io;
    escalate_io_default(&io, cli_say, m->ctx);
    return mounter_nfs_mount(a, port, m->mountpoint, &io);
}

/* ---- serving until the end ------------------------------------------- */

/* SIGINT, SIGTERM and SIGHUP are blocked while the server's threads
 * start (they inherit the mask), then taken by this thread alone through
 * a self-pipe, which poll() waits on together with the watch's timer. */
static int cli_nfs_sigpipe[2] = {-1, -1};

static void cli_nfs_on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    ssize_t w = write(cli_nfs_sigpipe[1], "s", 1);
    (void)w;
    errno = saved;
}

static void cli_nfs_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Serves until a signal comes or the mount leaves the mount table; after
 * a signal, unmounts (forcibly: the view is going away, and those using
 * it would only get errors). An unmount that fails is reported, and the
 * mount is left to the sweep. */
static int cli_nfs_serve_until_done(cli_mount *m, const plan_attempt *a, const sigset_t *set)
{
    int code = CLI_EXIT_OK;
    if (cli_nfs_sigpipe[0] < 0 && compat_pipe_cloexec(cli_nfs_sigpipe) < 0)
        return cli_report(strata_err_sys(errno, NULL, "create the signal pipe"));
    /* A burst of signals must never block the handler. */
    fcntl(cli_nfs_sigpipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa = {.sa_handler = cli_nfs_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pthread_sigmask(SIG_UNBLOCK, set, NULL);
    bool signalled = false;
    for (;;) {
        struct pollfd p = {.fd = cli_nfs_sigpipe[0], .events = POLLIN};
        int n = poll(&p, 1, CLI_NFS_WATCH_MS);
        if (n > 0) {
            signalled = true;
            break;
        }
        if (!nfs_attach_is_mounted(m->mountpoint))
            break;
    }
    pthread_sigmask(SIG_BLOCK, set, NULL);
    if (signalled && nfs_attach_is_mounted(m->mountpoint)) {
        strata_err *e =
            nfs_attach_unmount(engine_os_here(), m->mountpoint, mounter_nfs_sudo(a), true);
        if (e)
            code = cli_report(e);
    }
    return code;
}

/* ---- in the foreground ----------------------------------------------- */

static strata_err *cli_nfs_foreground(cli_mount *m, const plan_attempt *a)
{
    sigset_t set, old;
    pthread_sigmask(SIG_SETMASK, NULL, &old);
    cli_nfs_signals(&set);
    cli_nfs n = {0};
    strata_err *e = cli_nfs_start(m, a, &n);
    if (!e)
        e = cli_nfs_mount(m, a, nfs_serve_port(n.ns));
    if (e) {
        cli_nfs_stop(&n);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return e;
    }
    if (!m->ctx->quiet)
        fprintf(stderr,
                "mounted %u layer%s at %s (nfs, %s%s, port %u); serving until 'strata umount "
                "%s' or Ctrl-C\n",
                m->nrefs, cli_plural(m->nrefs), m->mountpoint,
                m->upper ? "writes go to " : "read-only", m->upper ? m->upper : "",
                (unsigned)nfs_serve_port(n.ns), m->mountpoint);
    m->code = cli_nfs_serve_until_done(m, a, &set);
    cli_nfs_stop(&n);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return NULL;
}

/* ---- in the background ----------------------------------------------- */

/* The forked server's side of the handshake; its exit code. */
static int cli_nfs_server(cli_mount *m, const plan_attempt *a, int fd)
{
    sigset_t set;
    cli_nfs_signals(&set);
    cli_nfs n = {0};
    strata_err *e = cli_nfs_start(m, a, &n);
    if (e)
        return cli_mount_send_err(fd, e);
    char msg[16];
    int len = snprintf(msg, sizeof(msg), "P%u", (unsigned)nfs_serve_port(n.ns));
    char c = 0;
    ssize_t r = -1;
    if (cli_mount_send(fd, msg, (size_t)len + 1))
        while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
            ;
    close(fd);
    int code = CLI_EXIT_FAIL;
    if (r == 1 && c == 'M') {
        cli_mount_detach();
        code = cli_nfs_serve_until_done(m, a, &set);
    }
    cli_nfs_stop(&n);
    return code;
}

/* Reads the server's first word: "P<port>" (NUL-terminated) or an error
 * (the server then exits). len 0: it said nothing. */
static size_t cli_nfs_read_word(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (buf[0] == 'P' && memchr(buf, '\0', len))
            break;
    }
    buf[len] = '\0';
    return len;
}

static strata_err *cli_nfs_background(cli_mount *m, const plan_attempt *a)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return strata_err_sys(errno, NULL, "create a socket pair");
    fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    fcntl(sv[1], F_SETFD, FD_CLOEXEC);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        return strata_err_sys(err, NULL, "start the NFS server");
    }
    if (pid == 0) {
        close(sv[0]);
        m->in_server = true;
        /* Out of the terminal's process group, as FUSE's server. */
        setsid();
        cli_mount_close_pipes(sv[1]);
        m->code = cli_nfs_server(m, a, sv[1]);
        return NULL;
    }
    close(sv[1]);
    char buf[CLI_MOUNT_MSG_MAX + 1];
    size_t len = cli_nfs_read_word(sv[0], buf, sizeof(buf));
    strata_err *e = NULL;
    if (len > 1 && buf[0] == 'P') {
        e = cli_nfs_mount(m, a, (uint16_t)atoi(buf + 1));
        if (!e && !cli_mount_send(sv[0], "M", 1))
            e = strata_err_new(STRATA_E_INTERNAL, "run the same mount with --foreground",
                               "the NFS server exited while %s was being mounted", m->mountpoint);
        if (e && nfs_attach_is_mounted(m->mountpoint))
            strata_err_free(
                nfs_attach_unmount(engine_os_here(), m->mountpoint, mounter_nfs_sudo(a), true));
    } else if (len >= 2 && buf[0] == 'E') {
        e = cli_mount_parse_err(buf, len);
    } else {
        e = strata_err_new(STRATA_E_INTERNAL, "run the same mount with --foreground to see it fail",
                           "the NFS server exited before it served");
    }
    close(sv[0]);
    if (e) {
        /* It sees the socket closed, stops and exits. */
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        return e;
    }
    if (!m->ctx->quiet)
        fprintf(stderr,
                "mounted %u layer%s at %s (nfs, %s%s, server pid %ld, port %s); unmount with "
                "'strata umount %s'\n",
                m->nrefs, cli_plural(m->nrefs), m->mountpoint,
                m->upper ? "writes go to " : "read-only", m->upper ? m->upper : "", (long)pid,
                buf + 1, m->mountpoint);
    m->code = CLI_EXIT_OK;
    return NULL;
}

strata_err *cli_mount_nfs(cli_mount *m, const plan_attempt *a, bool foreground)
{
    m->transport = "nfs";
    return foreground ? cli_nfs_foreground(m, a) : cli_nfs_background(m, a);
}

/* ---- --backend nfs --serve-only ----------------------------------------- */

/* Serves the view over NFSv3 on loopback from this process, mounting
 * nothing: for any NFS client (libnfs's tools, a kernel elsewhere in the
 * same network namespace) on a host with no kernel NFS client. The URL
 * goes to stdout, so that a script can read it; the server stops at
 * SIGINT, SIGTERM or SIGHUP. */
int cli_mount_nfs_serve_only(cli_mount *m, const char *upper, bool secure)
{
    static cli_plan cp;
    plan_req req = {.mountpoint = "/", .id = (unsigned long long)getpid()};
    char *upper_abs = NULL;
    strata_err *e = cli_plan_build("nfs", &req, &cp);
    if (!e && upper) {
        if (mkdir(upper, 0755) < 0 && errno != EEXIST)
            e = strata_err_sys(errno, "give an existing directory, or one whose parent exists",
                               "create the upper directory %s", upper);
        else if (!(upper_abs = realpath(upper, NULL)))
            e = strata_err_sys(errno, NULL, "resolve the upper directory %s", upper);
    }
    if (e)
        return cli_report(e);
    m->upper = upper_abs;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    store *s = NULL;
    vfs *v = NULL;
    nfs_serve *ns = NULL;
    e = cli_mount_view(m, &s, &v);
    if (!e) {
        nfs_serve_opts o = {
            .v = v,
            .slot = 0,
            .owner_uid = (uint32_t)getuid(),
            .port = (uint16_t)cp.cfg.nfs_port,
            .secure = secure,
        };
        e = nfs_serve_start(&o, &ns);
    }
    int code = CLI_EXIT_OK;
    if (e) {
        code = cli_report(e);
    } else {
        char url[128];
        nfs_serve_url(ns, url, sizeof(url));
        printf("%s\n", url);
        fflush(stdout);
        if (!m->ctx->quiet)
            fprintf(stderr,
                    "serving %u layer%s over NFSv3 on 127.0.0.1 and ::1, port %u (%s%s%s); "
                    "mounting nothing; stop with Ctrl-C\n",
                    m->nrefs, cli_plural(m->nrefs), (unsigned)nfs_serve_port(ns),
                    m->upper ? "writes go to " : "read-only", m->upper ? m->upper : "",
                    secure ? ", privileged ports only" : "");
        int sig;
        while (sigwait(&set, &sig) != 0)
            ;
        nfs_serve_stop(ns);
    }
    vfs_free(v);
    if (s)
        store_close(s);
    free(upper_abs);
    return code;
}
