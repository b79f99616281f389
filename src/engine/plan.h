/* The transport plan: which transports to try, in which order, at which
 * mountpoints, with which options, and why the others cannot work here.
 * A pure function of platform facts and config, so every platform's
 * decisions are unit-tested on Linux.
 *
 * Order: Linux fuse, nfs, none; macOS kext, fskit, nfs, none. The config
 * then narrows it: a pinned backend leaves only itself; enabled: false
 * leaves only none; enabled: true drops none (a mount is required); auto
 * keeps none last, with a warning when it is reached. A transport the
 * facts rule out stays in the plan, marked unusable with the reason and
 * hint, so that doctor and the final error can say why.
 *
 * Mountpoints: fskit mounts at /Volumes/strata-<uid>-<id> (or at the given
 * mountpoint when that is directly under /Volumes); every other transport
 * at the given one. NFS: Linux needs root and a kernel NFS client; macOS
 * needs root, which the escalation plan may provide (escalate.h). */
#ifndef STRATA_ENGINE_PLAN_H
#define STRATA_ENGINE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "engine/escalate.h"
#include "engine/facts.h"
#include "engine/hints.h"
#include "transport/fuse_opts.h"

#define PLAN_MAX          4
#define PLAN_MP_MAX       4096
#define PLAN_NFS_OPTS_MAX 256

/* What the caller knows about the mount it wants. */
typedef struct plan_req {
    const char *mountpoint; /* for all but fskit: <run dir>/root, or the user's */
    unsigned long long id;  /* tells one user's FSKit volumes apart */
    bool read_only;         /* a view without an upper directory */
    const char *volname;    /* NULL = "strata" */
    bool sudo_consent;      /* --sudo: strata may run sudo for the mount */
} plan_req;

typedef struct plan_attempt {
    engine_transport transport;
    bool usable;                      /* to be tried; else ruled out by the facts */
    engine_failure skip;              /* why not usable (ENGINE_FAIL_NONE if usable) */
    const char *why, *hint;           /* skip's row of the hints table, or NULL */
    char mountpoint[PLAN_MP_MAX];     /* where this transport mounts */
    fuse_mount_opts fuse;             /* fuse, kext, fskit: -o options, cache policy */
    char nfs_opts[PLAN_NFS_OPTS_MAX]; /* nfs: the fixed mount options; the mounter
                                         appends port=P,mountport=P */
    int nfs_port;                     /* nfs: the server's port (0 = any free one) */
    escalate_plan escalation;         /* what must happen first (nfs: root) */
} plan_attempt;

typedef struct engine_plan {
    engine_os os;
    bool pinned;         /* config pinned one backend */
    bool mount_required; /* failing every attempt is an error (no none) */
    bool warn_on_none;   /* auto: falling to none deserves a warning */
    size_t count;
    plan_attempt attempts[PLAN_MAX];
} engine_plan;

/* Builds the plan. STRATA_E_INVALID when the config pins a backend that
 * does not exist on f->os, or the request is malformed (no mountpoint, a
 * bad volume name). */
strata_err *plan_build(const engine_facts *f, const engine_config *c, const plan_req *r,
                       engine_plan *out);

/* The index of the first usable attempt at or after from; p->count when
 * there is none. The mounter walks the plan with it. */
size_t plan_next(const engine_plan *p, size_t from);

/* A failed mount attempt, as the mounter saw it. */
typedef struct plan_failure_in {
    engine_transport transport;
    int sys_errno;          /* errno of the mount (or its helper's status), or 0 */
    const char *detail;     /* the helper's message (fusermount3, mount_macfuse,
                               mount_nfs, libfuse), or NULL */
    const char *mountpoint; /* where it tried */
    bool timed_out;         /* it mounted, but the liveness check timed out */
} plan_failure_in;

/* What kind of failure that was, given the facts: the key into the hints
 * table. For instance a kext mount failing with EROFS or EACCES while the
 * kext is not loaded means the extension is not approved (the field case:
 * "Read-only file system (os error 30)", "Permission denied (os error
 * 13)"). Pure. */
engine_failure plan_classify(const engine_facts *f, const plan_failure_in *in);

/* The error for a plan in which nothing mounted: every attempt, in order,
 * with why it failed (failed[i] for the usable ones, the skip reason for
 * the others) in the message, and every hint in the hint.
 * STRATA_E_UNSUPPORTED. */
strata_err *plan_all_failed(const engine_plan *p, const engine_failure failed[]);

#endif
