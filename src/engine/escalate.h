/* Privilege escalation as a pure plan: what stands between a transport
 * and a mount (root for NFS, a one-time approval for the macFUSE kext or
 * its FSKit extension), and how to get past it on this machine.
 *
 * - Linux: FUSE needs nothing (fusermount3 is setuid root). NFS needs
 *   root, and strata says so; it never elevates itself there.
 * - macOS NFS (mount_nfs needs root): root needs nothing; an admin with
 *   --sudo gets sudo; an admin without it is told to pass --sudo; a
 *   non-admin with Admin By Request installed gets a guided flow (request
 *   elevation, a bounded wait for admin group membership, then sudo if
 *   --sudo was given); anyone else must ask an administrator.
 * - macOS approvals (kext, FSKit): steps in System Settings, which need
 *   an admin for the kext (Admin By Request can make the user one).
 * sudo is only ever part of a plan when the user consented (--sudo).
 *
 * escalate_plan_for decides (pure); escalate_run carries a plan out
 * before the privileged step, with every effect (saying a line, asking
 * for the admin group, the clock) injected through escalate_io, so that
 * the Admin By Request wait is tested with a fake clock. */
#ifndef STRATA_ENGINE_ESCALATE_H
#define STRATA_ENGINE_ESCALATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "engine/engine.h"
#include "engine/facts.h"
#include "engine/hints.h"

typedef enum {
    ESCALATE_NOTHING,     /* no privilege needed, or already root */
    ESCALATE_ROOT_NEEDED, /* needs root, and strata will not get it: say so */
    ESCALATE_SUDO,        /* run the privileged step with sudo (consented) */
    ESCALATE_ASK_CONSENT, /* sudo would work, but only with --sudo */
    ESCALATE_ABR_FLOW,    /* guide through Admin By Request, wait for admin */
    ESCALATE_APPROVAL,    /* a one-time approval in System Settings */
    ESCALATE_IMPOSSIBLE,  /* nothing this user can do: ask an administrator */
} escalate_kind;

/* How long the Admin By Request flow waits for the admin group, and how
 * often it looks. */
#define ESCALATE_ABR_WAIT_SECONDS 600
#define ESCALATE_ABR_POLL_SECONDS 2

#define ESCALATE_STEPS_MAX 6

typedef struct escalate_plan {
    escalate_kind kind;
    engine_os os;               /* the facts' platform */
    engine_transport transport; /* the transport the plan is for */
    engine_failure need;        /* what is in the way (NFS: ENGINE_FAIL_NFS_NEEDS_ROOT);
                                   ENGINE_FAIL_NONE when kind is ESCALATE_NOTHING */
    bool uses_sudo;             /* strata itself will run sudo (only with consent) */
    bool needs_admin;           /* the user must be (or become) an admin */
    int wait_seconds;           /* ABR: the bound on waiting for elevation, else 0 */
    int poll_seconds;           /* ABR: how often group membership is checked */
    size_t nsteps;              /* the steps to show the user, in order */
    const char *steps[ESCALATE_STEPS_MAX];
} escalate_plan;

/* The plan for mounting with t on the machine f, given what is in the way
 * (need: ENGINE_FAIL_NFS_NEEDS_ROOT, ENGINE_FAIL_KEXT_NOT_APPROVED,
 * ENGINE_FAIL_FSKIT_DISABLED; ENGINE_FAIL_NONE for "whatever t itself
 * needs", which is root for NFS) and whether the user consented to sudo.
 * Pure. */
void escalate_plan_for(const engine_facts *f, engine_transport t, engine_failure need,
                       bool sudo_consent, escalate_plan *out);

/* "nothing", "root-needed", "sudo", ... for doctor and --json. */
const char *escalate_kind_name(escalate_kind k);

/* At most this often, the Admin By Request wait says it is still waiting. */
#define ESCALATE_PROGRESS_SECONDS 30

/* Everything escalate_run does to the world, so that tests can script it.
 * All functions get ctx. */
typedef struct escalate_io {
    void *ctx;
    /* Says one line to the user (the CLI prints it on stderr); NULL says
     * nothing. */
    void (*say)(void *ctx, const char *line);
    /* Whether the user is in the admin group now (root counts), asked
     * again on every call: Admin By Request changes it while we wait. */
    bool (*is_admin)(void *ctx);
    /* Monotonic seconds, and a sleep of that many seconds. */
    double (*now)(void *ctx);
    void (*sleep)(void *ctx, double seconds);
} escalate_io;

/* Carries out what plan p asks before its privileged step, and says
 * whether that step may go ahead (NULL) or not (an error whose message
 * is why and whose hint is what to do). Per kind:
 *  - NOTHING: NULL at once, says nothing.
 *  - SUDO: says the plan's step (strata runs the step with sudo, which
 *    may ask for the password); NULL, and the caller runs sudo.
 *  - ASK_CONSENT, ROOT_NEEDED, APPROVAL, IMPOSSIBLE: says nothing;
 *    STRATA_E_UNSUPPORTED with the hints table's "why" for p->need as the
 *    message and the plan's steps as the hint (one step as it is, more
 *    numbered on one line: "1) ...; 2) ..."). ASK_CONSENT's step says to
 *    pass --sudo; APPROVAL's are the System Settings steps.
 *  - ABR_FLOW: if the user is not an admin yet, says each step, then asks
 *    io->is_admin every p->poll_seconds (sleeping in between, never past
 *    the deadline) until it is true or p->wait_seconds have passed, and
 *    says "still waiting ... (N s left)" at most every
 *    ESCALATE_PROGRESS_SECONDS. Admin in time: says so; NULL when the
 *    plan uses sudo (consented), else STRATA_E_UNSUPPORTED hinting to run
 *    again with --sudo. Timeout: STRATA_E_UNSUPPORTED with the hints
 *    table's ENGINE_FAIL_NOT_ELEVATED row as message and hint.
 * io may be NULL (or lack say) for a kind that needs no I/O; a plan
 * that needs functions io lacks gives STRATA_E_INTERNAL. */
strata_err *escalate_run(const escalate_plan *p, const escalate_io *io);

/* Fills io with the real world: CLOCK_MONOTONIC, nanosleep (resumed after
 * a signal for the time left), and is_admin from a fresh facts probe
 * (facts_probe_fresh: dsmemberutil on macOS; on Linux, where there is no
 * admin group, whether we are root). say and say_ctx are the caller's:
 * the engine never prints. */
void escalate_io_default(escalate_io *io, void (*say)(void *ctx, const char *line), void *say_ctx);

#endif
