/* The mounter: walks a plan's attempts in order until one gives a
 * sandbox (engine/plan.h, transport/sandbox.h).
 *
 * An attempt the facts ruled out is not tried; its reason and hint are
 * kept. A transport counts as mounted only once its mount answers a stat
 * within a time limit (fusefs_mount's liveness check); a failed attempt
 * leaves nothing mounted (the sandbox removes what it made) and is kept
 * with its failure kind, classified from the facts, for the hints table.
 * When nothing mounts and the plan requires a mount, the error lists
 * every attempt with its hint (plan_all_failed). */
#ifndef STRATA_ENGINE_MOUNTER_H
#define STRATA_ENGINE_MOUNTER_H

#include "engine/escalate.h"
#include "engine/plan.h"
#include "transport/sandbox.h"

#define MOUNTER_MSG_MAX 512

/* One attempt that did not give the sandbox. */
typedef struct mounter_failed {
    engine_transport transport;
    engine_failure failure;
    bool tried;                 /* false: ruled out by the facts, never tried */
    char msg[MOUNTER_MSG_MAX];  /* what failed (the skip reason, or the error) */
    char hint[MOUNTER_MSG_MAX]; /* what to do about it */
} mounter_failed;

typedef struct mounter_outcome {
    engine_transport used; /* the transport of the sandbox */
    bool fell_to_none;     /* a mount was possible in principle, but none worked */
    size_t nfailed;
    mounter_failed failed[PLAN_MAX]; /* in plan order */
} mounter_outcome;

/* One attempt: mounts as a says (its transport, mountpoint and options),
 * or fails leaving nothing mounted. A failure's sys_errno and message
 * are what the failure is classified by. */
typedef strata_err *(*mounter_try_fn)(const plan_attempt *a, void *ctx);

/* Walks p: each usable attempt is tried with try_one until one works;
 * each that does not is kept in *o with its hint. A failure of none (the
 * view written out) ends the walk with that error: it is no mount that
 * could fail over. For `strata mount`, whose server outlives the call. */
strata_err *mounter_walk(const engine_facts *f, const engine_plan *p, mounter_try_fn try_one,
                         void *ctx, mounter_outcome *o);

/* Opens a sandbox of the view of layers (top first) over the first
 * attempt of p that works. The store must be open for writing. An NFS
 * attempt carries out its escalation (sudo, Admin By Request) through io
 * before it mounts; NULL: the real world, saying nothing. One sandbox at
 * a time per process. */
strata_err *mounter_sandbox(store *s, const strata_digest *layers, size_t n, const engine_facts *f,
                            const engine_plan *p, const escalate_io *io, sandbox **out,
                            mounter_outcome *o);

/* The NFS attempt a's privileged step, for a server on port: what its
 * escalation asks first (through io; NULL: the real world, saying
 * nothing), then the platform's mount command at mountpoint
 * (nfs_attach_mount). Shared by the sandbox and by `strata mount`, which
 * runs it in the command the user typed. */
strata_err *mounter_nfs_mount(const plan_attempt *a, uint16_t port, const char *mountpoint,
                              const escalate_io *io);
/* Whether a's escalation has strata run the NFS commands through sudo
 * (the unmount too). */
bool mounter_nfs_sudo(const plan_attempt *a);

#endif
