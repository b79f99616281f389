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
 * sudo is only ever part of a plan when the user consented (--sudo). */
#ifndef STRATA_ENGINE_ESCALATE_H
#define STRATA_ENGINE_ESCALATE_H

#include <stdbool.h>
#include <stddef.h>

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
    bool uses_sudo;   /* strata itself will run sudo (only with consent) */
    bool needs_admin; /* the user must be (or become) an admin */
    int wait_seconds; /* ABR: the bound on waiting for elevation, else 0 */
    int poll_seconds; /* ABR: how often group membership is checked */
    size_t nsteps;    /* the steps to show the user, in order */
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

#endif
