/* Tries a plan's attempts in order, for a sandbox or for whatever the
 * caller mounts (see mounter.h). */
#include <stdio.h>
#include <string.h>

#include "engine/mounter.h"
#include "engine/nfs_attach.h"

static void mounter_keep(mounter_outcome *o, engine_transport t, engine_failure fail, bool tried,
                         const char *msg, const char *hint)
{
    if (o->nfailed == PLAN_MAX)
        return;
    mounter_failed *m = &o->failed[o->nfailed++];
    m->transport = t;
    m->failure = fail;
    m->tried = tried;
    snprintf(m->msg, sizeof(m->msg), "%s", msg ? msg : "");
    snprintf(m->hint, sizeof(m->hint), "%s", hint ? hint : "");
}

bool mounter_nfs_sudo(const plan_attempt *a)
{
    const escalate_plan *p = &a->escalation;
    return p->kind == ESCALATE_SUDO || (p->kind == ESCALATE_ABR_FLOW && p->uses_sudo);
}

strata_err *mounter_nfs_mount(const plan_attempt *a, uint16_t port, const char *mountpoint,
                              const escalate_io *io)
{
    escalate_io quiet;
    if (!io)
        escalate_io_default(&quiet, NULL, NULL);
    strata_err *e = escalate_run(&a->escalation, io ? io : &quiet);
    nfs_mount_cmd cmd;
    bool sudo = mounter_nfs_sudo(a);
    if (!e)
        e = nfs_mount_cmd_build(engine_os_here(), a->nfs_opts, port, mountpoint, sudo, &cmd);
    if (!e)
        e = nfs_attach_mount(engine_os_here(), &cmd, sudo);
    return e;
}

/* An NFS sandbox's mount commands (sandbox_nfs_mounter). */
typedef struct mounter_nfs {
    const plan_attempt *a;
    const escalate_io *io;
} mounter_nfs;

static strata_err *mounter_nfs_sandbox_mount(void *ctx, uint16_t port, const char *mountpoint)
{
    mounter_nfs *c = ctx;
    return mounter_nfs_mount(c->a, port, mountpoint, c->io);
}

static strata_err *mounter_nfs_sandbox_unmount(void *ctx, const char *mountpoint)
{
    mounter_nfs *c = ctx;
    return nfs_attach_unmount(engine_os_here(), mountpoint, mounter_nfs_sudo(c->a), true);
}

/* One attempt. */
static strata_err *mounter_try(store *s, const strata_digest *layers, size_t n,
                               const plan_attempt *a, const escalate_io *io, sandbox **out)
{
    sandbox_opts so = {0};
    /* The sandbox calls these until it is closed: they live as long as
     * the process (one sandbox at a time per process). */
    static mounter_nfs nfs_ctx;
    static sandbox_nfs_mounter nfs_mounter = {
        .ctx = &nfs_ctx,
        .mount = mounter_nfs_sandbox_mount,
        .unmount = mounter_nfs_sandbox_unmount,
    };
    switch (a->transport) {
    case ENGINE_T_FUSE:
    case ENGINE_T_KEXT:
    case ENGINE_T_FSKIT:
        so.mo = &a->fuse;
        /* FSKit has a mountpoint of its own under /Volumes. */
        if (a->transport == ENGINE_T_FSKIT)
            so.mountpoint = a->mountpoint;
        return sandbox_open(s, layers, n, SANDBOX_FUSE, &so, out);
    case ENGINE_T_NFS:
        nfs_ctx = (mounter_nfs){.a = a, .io = io};
        so.nfs = &nfs_mounter;
        so.nfs_port = a->nfs_port;
        return sandbox_open(s, layers, n, SANDBOX_NFS, &so, out);
    case ENGINE_T_NONE:
    default:
        return sandbox_open(s, layers, n, SANDBOX_NONE, NULL, out);
    }
}

strata_err *mounter_walk(const engine_facts *f, const engine_plan *p, mounter_try_fn try_one,
                         void *ctx, mounter_outcome *o)
{
    memset(o, 0, sizeof(*o));
    engine_failure failed[PLAN_MAX] = {0};
    for (size_t i = 0; i < p->count; i++) {
        const plan_attempt *a = &p->attempts[i];
        if (!a->usable) {
            failed[i] = a->skip;
            mounter_keep(o, a->transport, a->skip, false, a->why, a->hint);
            continue;
        }
        strata_err *e = try_one(a, ctx);
        if (!e) {
            o->used = a->transport;
            o->fell_to_none = a->transport == ENGINE_T_NONE && o->nfailed > 0;
            return NULL;
        }
        /* Writing the view out is not a mount that may fail over to
         * something else: its failure (a full disk) is the run's. */
        if (a->transport == ENGINE_T_NONE)
            return e;
        plan_failure_in in = {
            .transport = a->transport,
            .sys_errno = e->sys_errno,
            .detail = e->msg,
            .mountpoint = a->mountpoint,
        };
        failed[i] = plan_classify(f, &in);
        /* The error's own hint is the more precise one where the table
         * has only its generic row. */
        const char *hint =
            failed[i] == ENGINE_FAIL_UNKNOWN ? e->hint : hints_hint(p->os, a->transport, failed[i]);
        mounter_keep(o, a->transport, failed[i], true, e->msg, hint);
        strata_err_free(e);
    }
    return plan_all_failed(p, failed);
}

/* What mounter_sandbox's attempts need. */
typedef struct mounter_sandbox_ctx {
    store *s;
    const strata_digest *layers;
    size_t n;
    const escalate_io *io;
    sandbox **out;
} mounter_sandbox_ctx;

static strata_err *mounter_sandbox_try(const plan_attempt *a, void *ctx)
{
    mounter_sandbox_ctx *c = ctx;
    return mounter_try(c->s, c->layers, c->n, a, c->io, c->out);
}

strata_err *mounter_sandbox(store *s, const strata_digest *layers, size_t n, const engine_facts *f,
                            const engine_plan *p, const escalate_io *io, sandbox **out,
                            mounter_outcome *o)
{
    *out = NULL;
    mounter_sandbox_ctx c = {.s = s, .layers = layers, .n = n, .io = io, .out = out};
    return mounter_walk(f, p, mounter_sandbox_try, &c, o);
}
