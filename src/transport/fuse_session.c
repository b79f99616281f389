/* The life of a FUSE mount: checking the mountpoint, mounting (with
 * libfuse's and fusermount3's complaints folded into the error instead of
 * printed), serving from a background thread, the liveness check that
 * makes fusefs_mount return only once the mount answers, stopping, and
 * unmounting. See fuse.h for the contract. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/vfs.h>
#endif

#include "transport/fuse.h"
#include "transport/fuse_internal.h"

#define FUSEFS_MSG_MAX 512
/* How often fusefs_stop repeats its wakeup: a signal can slip in just
 * before the loop thread starts to wait, and is then lost. */
#define FUSEFS_WAKE_MS 20

struct fusefs {
    fusefs_srv srv; /* the session's userdata */
    const fuse_lib *fl;
    struct fuse_session *se;
    struct fuse_loop_config *cfg;
    char *mountpoint;
    bool mounted;
    bool loop_started;
    pthread_t loop;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* ended became true */
    bool ended;        /* the loop has returned */
    bool stopping;     /* fusefs_stop was called */
    int loop_rc;       /* what the loop returned */
};

/* ---- libfuse's messages ------------------------------------------------ */

static pthread_mutex_t fusefs_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char fusefs_log_last[FUSEFS_MSG_MAX];

/* libfuse reports failures through its log; only cli/ may print, so the
 * last error is kept to be folded into the strata_err that follows. */
static void fusefs_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
    if (level > FUSE_LOG_ERR)
        return;
    char msg[FUSEFS_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    const char *m = strncmp(msg, "fuse: ", 6) == 0 ? msg + 6 : msg;
    pthread_mutex_lock(&fusefs_log_mu);
    snprintf(fusefs_log_last, sizeof(fusefs_log_last), "%s", m);
    pthread_mutex_unlock(&fusefs_log_mu);
}

static void fusefs_log_take(char *out, size_t n)
{
    pthread_mutex_lock(&fusefs_log_mu);
    snprintf(out, n, "%s", fusefs_log_last);
    fusefs_log_last[0] = '\0';
    pthread_mutex_unlock(&fusefs_log_mu);
}

/* fusermount3, which libfuse runs for a non-root mount, writes its
 * complaints to our stderr: catch them in a temporary file for the
 * error instead. Returns the file, or NULL (nothing caught). */
static FILE *fusefs_stderr_catch(int *saved)
{
    *saved = -1;
    if (geteuid() == 0)
        return NULL; /* libfuse mounts by itself: no helper to catch */
    FILE *t = tmpfile();
    if (!t)
        return NULL;
    fflush(stderr);
    *saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (*saved < 0 || dup2(fileno(t), STDERR_FILENO) < 0) {
        if (*saved >= 0)
            close(*saved);
        *saved = -1;
        fclose(t);
        return NULL;
    }
    return t;
}

static void fusefs_stderr_release(FILE *t, int saved, char *out, size_t n)
{
    if (!t)
        return;
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t got = pread(fileno(t), out, n - 1, 0);
    fclose(t);
    if (got <= 0)
        return;
    out[got] = '\0';
    /* One line is enough, without the program's name. */
    out[strcspn(out, "\n")] = '\0';
    const char *p = strncmp(out, "fusermount3: ", 13) == 0 ? out + 13 : out;
    memmove(out, p, strlen(p) + 1);
}

/* ---- signals and threads ----------------------------------------------- */

static void fusefs_wake_handler(int sig)
{
    (void)sig; /* its only job is to interrupt the loop thread's wait */
}

static pthread_once_t fusefs_once = PTHREAD_ONCE_INIT;

static void fusefs_once_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fusefs_wake_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the wait must return EINTR */
    sigaction(FUSEFS_WAKE_SIGNAL, &sa, NULL);
    if (fusefs_fl->set_log_func)
        fusefs_fl->set_log_func(fusefs_log);
}

int fusefs_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t set, old;
    sigfillset(&set);
    static const int keep[] = {
        FUSEFS_WAKE_SIGNAL, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        sigdelset(&set, keep[i]);
    pthread_sigmask(SIG_SETMASK, &set, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void fusefs_deadline(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    long long ns = (long long)(seconds * 1e9) + ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

static void fusefs_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* ---- the mountpoint ---------------------------------------------------- */

strata_err *fusefs_check_mountpoint(const char *path, char **abs)
{
    *abs = NULL;
    struct stat st;
    if (stat(path, &st) < 0) {
        int err = errno;
        strata_err *e;
        if (err == ENOENT)
            e = strata_err_new(STRATA_E_NOTFOUND, NULL, "mountpoint %s does not exist", path);
        else if (err == ENOTCONN)
            e = strata_err_new(STRATA_E_BUSY, NULL, "%s is a FUSE mount whose server has gone away",
                               path);
        else
            return strata_err_sys(err, NULL, "mountpoint %s", path);
        char *hint = NULL;
        if (asprintf(&hint,
                     err == ENOENT ? "create it first (mkdir -p %s), or mount somewhere else"
                                   : "unmount it first: strata umount %s",
                     path) >= 0)
            strata_err_rehint(e, hint);
        free(hint);
        return e;
    }
    if (!S_ISDIR(st.st_mode))
        return strata_err_new(STRATA_E_INVALID, "mount on a directory",
                              "mountpoint %s is not a directory", path);
    char *r = realpath(path, NULL);
    if (!r)
        return strata_err_sys(errno, NULL, "resolve mountpoint %s", path);
    char *fstype = NULL;
    strata_err *e = fusefs_mount_type(r, &fstype);
    if (!e && fstype && strcmp(fstype, FUSEFS_FSTYPE) == 0) {
        e = strata_err_new(STRATA_E_EXISTS, NULL, "%s is already a strata mount", r);
        char *hint = NULL;
        if (asprintf(&hint, "unmount it first ('strata umount %s'), or mount somewhere else", r) >=
            0)
            strata_err_rehint(e, hint);
        free(hint);
    }
    free(fstype);
    if (e) {
        free(r);
        return e;
    }
    *abs = r;
    return NULL;
}

/* ---- mounting ---------------------------------------------------------- */

static strata_err *fusefs_start_session(fusefs *f, const char *opts)
{
    const fuse_lib *fl = f->fl;
    char arg0[] = "strata", arg1[] = "-o";
    char *arg2 = strdup(opts);
    if (!arg2)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    char *argv[] = {arg0, arg1, arg2, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    char msg[FUSEFS_MSG_MAX];
    fusefs_log_take(msg, sizeof(msg));
    const struct fuse_lowlevel_ops *ops = f->srv.gate ? fusefs_gated_ops() : &fusefs_ops;
    f->se = fl->session_new(&args, ops, sizeof(*ops), &f->srv);
    fl->opt_free_args(&args);
    free(arg2);
    if (!f->se) {
        fusefs_log_take(msg, sizeof(msg));
        return strata_err_new(STRATA_E_INTERNAL, NULL, "cannot start a FUSE session (-o %s): %s",
                              opts, msg[0] ? msg : "libfuse refused it");
    }
    int saved;
    FILE *caught = fusefs_stderr_catch(&saved);
    int rc = fl->session_mount(f->se, f->mountpoint);
    char helper[FUSEFS_MSG_MAX] = "";
    fusefs_stderr_release(caught, saved, helper, sizeof(helper));
    if (rc != 0) {
        fusefs_log_take(msg, sizeof(msg));
        return strata_err_new(STRATA_E_IO,
                              "check that you may mount there (a user who is not root must "
                              "own the mountpoint); 'dmesg' may say more",
                              "cannot mount FUSE at %s: %s", f->mountpoint,
                              helper[0] ? helper
                              : msg[0]  ? msg
                                        : "the mount failed");
    }
    f->mounted = true;
    return NULL;
}

static void *fusefs_loop_main(void *arg)
{
    fusefs *f = arg;
    int rc = f->fl->session_loop_mt(f->se, f->cfg);
    pthread_mutex_lock(&f->mu);
    f->ended = true;
    f->loop_rc = rc;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static strata_err *fusefs_start_loop(fusefs *f, const fusefs_opts *o)
{
    f->cfg = f->fl->loop_cfg_create();
    if (!f->cfg)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    f->fl->loop_cfg_set_max_threads(f->cfg, o->max_threads);
    f->fl->loop_cfg_set_clone_fd(f->cfg, o->clone_fd);
    int rc = fusefs_thread_start(&f->loop, fusefs_loop_main, f);
    if (rc)
        return strata_err_sys(rc, NULL, "start the FUSE server thread");
    f->loop_started = true;
    return NULL;
}

/* The liveness probe: a stat of the mountpoint, made from a thread of its
 * own so that the caller can give up on time. It is freed by whichever of
 * the two lets go last, since a probe that hangs outlives the fusefs. */
typedef struct fusefs_probe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    int err;   /* errno of a failed stat, or 0 */
    bool fuse; /* the path is the root of a FUSE filesystem */
    char path[];
} fusefs_probe;

static void fusefs_probe_put(fusefs_probe *p)
{
    pthread_mutex_lock(&p->mu);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (last) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
    }
}

static void *fusefs_probe_main(void *arg)
{
    fusefs_probe *p = arg;
    struct stat st;
    int err = stat(p->path, &st) < 0 ? errno : 0;
    bool fuse = !err && st.st_ino == VFS_ROOT_INO;
#ifdef __linux__
    struct statfs sf;
    if (!err && statfs(p->path, &sf) < 0)
        err = errno;
    fuse = fuse && !err && sf.f_type == FUSE_SUPER_MAGIC;
#endif
    pthread_mutex_lock(&p->mu);
    p->done = true;
    p->err = err;
    p->fuse = fuse;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fusefs_probe_put(p);
    return NULL;
}

static strata_err *fusefs_await_ready(fusefs *f, double timeout)
{
    size_t len = strlen(f->mountpoint);
    fusefs_probe *p = calloc(1, sizeof(*p) + len + 1);
    if (!p)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    memcpy(p->path, f->mountpoint, len + 1);
    pthread_mutex_init(&p->mu, NULL);
    fusefs_cond_init(&p->cv);
    p->refs = 2;
    pthread_t t;
    int rc = fusefs_thread_start(&t, fusefs_probe_main, p);
    if (rc) {
        p->refs = 1;
        fusefs_probe_put(p);
        return strata_err_sys(rc, NULL, "start the FUSE liveness check");
    }
    pthread_detach(t);
    struct timespec until;
    fusefs_deadline(&until, timeout);
    pthread_mutex_lock(&p->mu);
    while (!p->done && pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT)
        ;
    bool done = p->done, fuse = p->fuse;
    int err = p->err;
    pthread_mutex_unlock(&p->mu);
    fusefs_probe_put(p);

    if (!done)
        return strata_err_new(STRATA_E_IO,
                              "check 'dmesg' for FUSE errors; a stuck mount there can be "
                              "removed with 'fusermount3 -u -z'",
                              "the FUSE mount at %s did not answer within %.0f s", f->mountpoint,
                              timeout);
    if (err)
        return strata_err_sys(err, "check 'dmesg' for FUSE errors",
                              "the new FUSE mount at %s does not answer", f->mountpoint);
    if (!fuse || !atomic_load(&f->srv.inited))
        return strata_err_new(STRATA_E_IO, "check 'findmnt %s' for what is mounted there",
                              "%s does not show the new FUSE mount", f->mountpoint);
    return NULL;
}

strata_err *fusefs_mount(vfs *v, const char *mountpoint, const fuse_mount_opts *mo,
                         const fusefs_opts *fo, fusefs **out)
{
    *out = NULL;
    fusefs_opts o = {0};
    if (fo)
        o = *fo;
    if (o.max_threads == 0)
        o.max_threads = FUSEFS_DEFAULT_THREADS;
    if (o.max_threads > FUSEFS_MAX_THREADS)
        o.max_threads = FUSEFS_MAX_THREADS;
    if (o.ready_timeout <= 0)
        o.ready_timeout = FUSEFS_READY_TIMEOUT;

    const fuse_lib *fl;
    strata_err *e = fuse_lib_load(&fl);
    if (e)
        return e;
    fusefs_fl = fl;
    pthread_once(&fusefs_once, fusefs_once_init);

    fusefs *f = calloc(1, sizeof(*f));
    if (!f || !(f->mountpoint = strdup(mountpoint))) {
        free(f);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    }
    f->fl = fl;
    f->srv.v = v;
    f->srv.lower_timeout = mo->lower_timeout;
    f->srv.upper_timeout = mo->upper_timeout;
    f->srv.want_no_open = o.no_open;
    atomic_init(&f->srv.no_open, false);
    atomic_init(&f->srv.inited, false);
    pthread_mutex_init(&f->mu, NULL);
    fusefs_cond_init(&f->cv);

    f->srv.cache_negative = mo->cache_negative;
    if (vfs_max_slots(v) > 1)
        e = fusefs_gate_new(vfs_max_slots(v), &f->srv.gate);
    if (!e)
        e = fusefs_start_session(f, mo->opts);
    if (!e && mo->notify && (mo->inval_names || o.inval_names))
        e = fusefs_notifier_start(fl, f->se, &f->srv.notifier);
    /* A library or platform that cannot push just does not. */
    if (!e && o.push_small && o.no_open && mo->notify && !f->srv.gate && fl->notify_store)
        e = fusefs_pusher_start(fl, f->se, v, &f->srv.pusher);
    if (!e)
        e = fusefs_start_loop(f, &o);
    if (!e)
        e = fusefs_await_ready(f, o.ready_timeout);
    if (e) {
        fusefs_destroy(f);
        return e;
    }
    *out = f;
    return NULL;
}

/* ---- serving and stopping ---------------------------------------------- */

strata_err *fusefs_wait(fusefs *f)
{
    pthread_mutex_lock(&f->mu);
    while (f->loop_started && !f->ended)
        pthread_cond_wait(&f->cv, &f->mu);
    int rc = f->loop_rc;
    bool stopping = f->stopping;
    pthread_mutex_unlock(&f->mu);
    if (rc == 0 || stopping)
        return NULL;
    return strata_err_sys(rc < 0 ? -rc : EIO, "check 'dmesg' for FUSE errors",
                          "the FUSE server for %s failed", f->mountpoint);
}

void fusefs_stop(fusefs *f)
{
    /* First, while requests are still answered (fuse_notify.h,
     * fuse_push.h). */
    fusefs_notifier_stop(f->srv.notifier);
    fusefs_pusher_stop(f->srv.pusher);
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    if (f->loop_started && !f->ended) {
        f->fl->session_exit(f->se);
        /* libfuse's loop thread waits on a semaphore that only a worker
         * or a signal can end; the workers sit in read(2) on /dev/fuse. */
        while (!f->ended) {
            pthread_kill(f->loop, FUSEFS_WAKE_SIGNAL);
            struct timespec until;
            fusefs_deadline(&until, FUSEFS_WAKE_MS / 1000.0);
            pthread_cond_timedwait(&f->cv, &f->mu, &until);
        }
    }
    pthread_mutex_unlock(&f->mu);
}

void fusefs_destroy(fusefs *f)
{
    if (!f)
        return;
    fusefs_stop(f);
    if (f->loop_started)
        pthread_join(f->loop, NULL);
    if (f->se) {
        /* libfuse's unmount is lazy: a process still inside the mount
         * does not keep it (or this process) alive, it finds it gone.
         * After an unmount from outside it does nothing. */
        if (f->mounted)
            f->fl->session_unmount(f->se);
        f->fl->session_destroy(f->se);
    }
    fusefs_notifier_free(f->srv.notifier);
    fusefs_pusher_free(f->srv.pusher);
    fusefs_gate_free(f->srv.gate);
    if (f->cfg)
        f->fl->loop_cfg_destroy(f->cfg);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f->mountpoint);
    free(f);
}

/* ---- slots ------------------------------------------------------------- */

/* The kernel's entry for slot in the directory of slots goes, with
 * everything cached below it, so that the next lookup of the name asks
 * (and meets the slot's next view, or nothing). Sent from the caller's
 * thread, never a handler's (fuse_notify.h says why). A name the kernel
 * does not hold is not an error. */
static void fusefs_slot_forget_name(fusefs *f, uint16_t slot)
{
    char name[8];
    int n = snprintf(name, sizeof(name), "%u", (unsigned)slot);
    (void)f->fl->notify_inval_entry(f->se, FUSE_ROOT_ID, name, (size_t)n);
}

void fusefs_slot_close(fusefs *f, uint16_t slot)
{
    if (!f->srv.gate)
        return;
    fusefs_gate_close(f->srv.gate, slot);
    fusefs_slot_forget_name(f, slot);
}

void fusefs_slot_open(fusefs *f, uint16_t slot)
{
    if (!f->srv.gate)
        return;
    fusefs_gate_open(f->srv.gate, slot);
    /* A lookup that missed before the attach may have left a negative
     * entry. */
    fusefs_slot_forget_name(f, slot);
}
