/* The escalation plan and its executor (see escalate.h): a pure decision
 * table over the facts, so that the Admin By Request and sudo paths are
 * tested without a Mac, and escalate_run, which says the plan's steps and
 * does the bounded wait for the admin group through injected I/O. Steps
 * are static strings. The System Settings paths are macOS 15's; Admin By
 * Request's menu entry is from its macOS client documentation. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/escalate.h"

static void add(escalate_plan *p, const char *step)
{
    if (p->nsteps < ESCALATE_STEPS_MAX)
        p->steps[p->nsteps++] = step;
}

#define ABR_REQUEST                                                                                \
    "request admin rights: Admin By Request (menu bar) › Request Administrator Access, with a "  \
    "reason"
#define ABR_WAIT "wait for the approval: strata checks the admin group every 2 s, for up to 10 min"

/* mount_nfs on macOS: root, sudo with consent, Admin By Request, or an
 * administrator. */
static void macos_nfs(const engine_facts *f, bool consent, escalate_plan *p)
{
    p->needs_admin = true;
    if (f->admin) {
        if (consent) {
            p->kind = ESCALATE_SUDO;
            p->uses_sudo = true;
            add(p, "strata runs mount_nfs with sudo, which asks for your password");
        } else {
            p->kind = ESCALATE_ASK_CONSENT;
            add(p, "mount_nfs needs root: pass --sudo to let strata run it with sudo");
        }
        return;
    }
    if (f->abr) {
        p->kind = ESCALATE_ABR_FLOW;
        p->wait_seconds = ESCALATE_ABR_WAIT_SECONDS;
        p->poll_seconds = ESCALATE_ABR_POLL_SECONDS;
        p->uses_sudo = consent;
        add(p, ABR_REQUEST);
        add(p, ABR_WAIT);
        add(p, consent ? "then strata runs mount_nfs with sudo, which asks for your password"
                       : "then run the same command again with --sudo");
        return;
    }
    p->kind = ESCALATE_IMPOSSIBLE;
    add(p, "mount_nfs needs root, and this account is not an admin: ask an administrator, or "
           "make the kext or FSKit work instead");
}

/* Approving the kext needs an admin's password in System Settings, and a
 * restart; on Apple silicon, first the Reduced Security policy. */
static void macos_kext(const engine_facts *f, escalate_plan *p)
{
    p->kind = ESCALATE_APPROVAL;
    p->needs_admin = true;
    if (!f->admin) {
        if (f->abr) {
            add(p, ABR_REQUEST);
            add(p, ABR_WAIT);
        } else {
            p->kind = ESCALATE_IMPOSSIBLE;
            add(p, "approving the macFUSE kernel extension needs an admin: ask an administrator "
                   "to do the steps below");
        }
    }
    add(p, "System Settings › Privacy & Security: click Allow next to the macFUSE system "
           "extension message, and enter an admin password");
    add(p, "on Apple silicon, if asked: in Startup Security Utility (recovery mode) choose "
           "Reduced Security and allow kernel extensions from identified developers");
    add(p, "restart the Mac, then retry");
}

void escalate_plan_for(const engine_facts *f, engine_transport t, engine_failure need,
                       bool sudo_consent, escalate_plan *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = ESCALATE_NOTHING;
    out->os = f->os;
    out->transport = t;
    out->need = ENGINE_FAIL_NONE;
    bool macos = f->os == ENGINE_OS_MACOS;
    switch (t) {
    case ENGINE_T_NFS:
        if (f->root || (need != ENGINE_FAIL_NONE && need != ENGINE_FAIL_NFS_NEEDS_ROOT))
            return;
        out->need = ENGINE_FAIL_NFS_NEEDS_ROOT;
        if (!macos) {
            out->kind = ESCALATE_ROOT_NEEDED;
            out->needs_admin = true;
            add(out, "mounting NFS needs root: run strata as root (sudo strata ...), or use FUSE");
            return;
        }
        macos_nfs(f, sudo_consent, out);
        return;
    case ENGINE_T_KEXT:
        if (macos && need == ENGINE_FAIL_KEXT_NOT_APPROVED) {
            out->need = need;
            macos_kext(f, out);
        }
        return;
    case ENGINE_T_FSKIT:
        /* A per-user switch: no admin, and never sudo (FSKit refuses root). */
        if (macos && need == ENGINE_FAIL_FSKIT_DISABLED) {
            out->kind = ESCALATE_APPROVAL;
            out->need = need;
            add(out, "System Settings › General › Login Items & Extensions › File System "
                     "Extensions: turn on macFUSE");
            add(out, "then retry (no restart needed)");
        }
        return;
    case ENGINE_T_FUSE:
        /* fusermount3 is setuid root: nothing to escalate. */
    case ENGINE_T_NONE:
        return;
    }
}

const char *escalate_kind_name(escalate_kind k)
{
    switch (k) {
    case ESCALATE_NOTHING:
        return "nothing";
    case ESCALATE_ROOT_NEEDED:
        return "root-needed";
    case ESCALATE_SUDO:
        return "sudo";
    case ESCALATE_ASK_CONSENT:
        return "ask-consent";
    case ESCALATE_ABR_FLOW:
        return "admin-by-request";
    case ESCALATE_APPROVAL:
        return "approval";
    case ESCALATE_IMPOSSIBLE:
        return "impossible";
    }
    return "?";
}

static void say(const escalate_io *io, const char *line)
{
    if (io && io->say)
        io->say(io->ctx, line);
}

/* The plan's steps as one hint line: a single step as it is, several
 * numbered, so that the error carries the whole way past the blocker. */
static void steps_line(const escalate_plan *p, char *buf, size_t n)
{
    buf[0] = '\0';
    if (p->nsteps == 1) {
        snprintf(buf, n, "%s", p->steps[0]);
        return;
    }
    size_t used = 0;
    for (size_t i = 0; i < p->nsteps && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%zu) %s", i ? "; " : "", i + 1, p->steps[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* A plan strata cannot carry out itself: the blocker's "why" from the
 * hints table, and the plan's steps as what to do. */
static strata_err *refuse(const escalate_plan *p)
{
    char hint[2048];
    steps_line(p, hint, sizeof(hint));
    return strata_err_new(STRATA_E_UNSUPPORTED, hint[0] ? hint : NULL, "%s",
                          hints_why(p->os, p->transport, p->need));
}

/* Waits, bounded, for Admin By Request to put the user in the admin
 * group: sleeps poll_seconds between questions (never past the
 * deadline), and counts the questions too, so that even a clock that
 * stands still cannot keep it here. Says a progress line at most every
 * ESCALATE_PROGRESS_SECONDS, since a silent ten-minute wait looks hung.
 * *waited gets the seconds spent. */
static bool abr_wait(const escalate_plan *p, const escalate_io *io, double *waited)
{
    int poll = p->poll_seconds > 0 ? p->poll_seconds : 1;
    int wait = p->wait_seconds > 0 ? p->wait_seconds : 0;
    long rounds = (wait + poll - 1) / poll + 1;
    double start = io->now(io->ctx), deadline = start + wait, said = start;
    bool admin = false;
    for (long i = 0; i < rounds && !admin; i++) {
        double t = io->now(io->ctx);
        if (t >= deadline)
            break;
        double left = deadline - t;
        io->sleep(io->ctx, left < poll ? left : poll);
        admin = io->is_admin(io->ctx);
        t = io->now(io->ctx);
        if (!admin && t < deadline && t - said >= ESCALATE_PROGRESS_SECONDS) {
            char line[128];
            snprintf(line, sizeof(line), "still waiting for administrator rights (%d s left)",
                     (int)(deadline - t + 0.999));
            say(io, line);
            said = t;
        }
    }
    *waited = io->now(io->ctx) - start;
    return admin;
}

/* The Admin By Request flow: nothing to guide when the user is an admin
 * already (elevated since the plan was made); else the steps, the wait,
 * and sudo only with consent. */
static strata_err *abr_flow(const escalate_plan *p, const escalate_io *io)
{
    if (!io || !io->is_admin || !io->now || !io->sleep)
        return strata_err_new(STRATA_E_INTERNAL, NULL,
                              "escalate_run: the Admin By Request flow needs is_admin, now and "
                              "sleep");
    double waited = 0;
    bool admin = io->is_admin(io->ctx);
    if (!admin) {
        for (size_t i = 0; i < p->nsteps; i++)
            say(io, p->steps[i]);
        admin = abr_wait(p, io, &waited);
        if (!admin) {
            const hints_row *row = hints_lookup(p->os, p->transport, ENGINE_FAIL_NOT_ELEVATED);
            return strata_err_new(STRATA_E_UNSUPPORTED, row->hint, "%s (waited %d s)", row->why,
                                  (int)(waited + 0.5));
        }
        say(io, "administrator rights granted");
    }
    if (p->uses_sudo)
        return NULL;
    return strata_err_new(
        STRATA_E_UNSUPPORTED, "run the same command again with --sudo, while the admin rights last",
        "%s, and strata runs sudo only with --sudo", hints_why(p->os, p->transport, p->need));
}

strata_err *escalate_run(const escalate_plan *p, const escalate_io *io)
{
    switch (p->kind) {
    case ESCALATE_NOTHING:
        return NULL;
    case ESCALATE_SUDO:
        for (size_t i = 0; i < p->nsteps; i++)
            say(io, p->steps[i]);
        return NULL;
    case ESCALATE_ABR_FLOW:
        return abr_flow(p, io);
    case ESCALATE_ASK_CONSENT:
    case ESCALATE_ROOT_NEEDED:
    case ESCALATE_APPROVAL:
    case ESCALATE_IMPOSSIBLE:
        return refuse(p);
    }
    return strata_err_new(STRATA_E_INTERNAL, NULL, "escalate_run: unknown plan kind %d",
                          (int)p->kind);
}

static double real_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A signal (SIGWINCH, SIGCHLD) must not cut a poll interval short, or the
 * wait would turn into a faster poll: nanosleep resumes for what is left. */
static void real_sleep(void *ctx, double seconds)
{
    (void)ctx;
    if (!(seconds > 0))
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* A fresh probe, not the cached facts: the point is to see the admin
 * group change while we wait. */
static bool real_is_admin(void *ctx)
{
    (void)ctx;
    engine_facts f;
    facts_probe_fresh(&f);
    return f.admin || f.root;
}

void escalate_io_default(escalate_io *io, void (*say_fn)(void *ctx, const char *line),
                         void *say_ctx)
{
    memset(io, 0, sizeof(*io));
    io->ctx = say_ctx;
    io->say = say_fn;
    io->is_admin = real_is_admin;
    io->now = real_now;
    io->sleep = real_sleep;
}
