/* Why a transport cannot mount, and the one line that says what to do.
 *
 * Every way a transport can be unusable or fail is an engine_failure. ONE
 * table maps (platform, transport, failure) to a short "why" and an
 * actionable hint, so the plan, the mounter and `strata doctor` all say
 * the same thing, and a test walks every row. A row's platform may be
 * "any"; a lookup prefers the row for its own platform. */
#ifndef STRATA_ENGINE_HINTS_H
#define STRATA_ENGINE_HINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"

typedef enum {
    ENGINE_FAIL_NONE = 0,
    /* the FUSE library */
    ENGINE_FAIL_LIB_MISSING,     /* libfuse3 (or macFUSE's) does not load */
    ENGINE_FAIL_MACFUSE_MISSING, /* macFUSE is not installed */
    /* Linux FUSE */
    ENGINE_FAIL_DEV_MISSING,           /* no /dev/fuse */
    ENGINE_FAIL_DEV_DENIED,            /* /dev/fuse cannot be opened */
    ENGINE_FAIL_FUSERMOUNT_MISSING,    /* no fusermount3, and not root */
    ENGINE_FAIL_FUSERMOUNT_NOT_SETUID, /* fusermount3 is not setuid root */
    ENGINE_FAIL_ALLOW_OTHER,           /* allow_other without user_allow_other */
    /* macOS kext */
    ENGINE_FAIL_KEXT_NOT_APPROVED, /* the system extension is blocked */
    /* macOS FSKit */
    ENGINE_FAIL_FSKIT_OS_TOO_OLD,      /* macOS before 15.4 */
    ENGINE_FAIL_FSKIT_MACFUSE_TOO_OLD, /* macFUSE before 5.0 */
    ENGINE_FAIL_FSKIT_DISABLED,        /* the file system extension is off */
    ENGINE_FAIL_FSKIT_MOUNTPOINT,      /* not directly under /Volumes */
    ENGINE_FAIL_FSKIT_ROOT,            /* FSKit never mounts for root / via sudo */
    /* NFS */
    ENGINE_FAIL_NFS_NO_CLIENT,   /* the kernel has no NFS client */
    ENGINE_FAIL_NFS_NEEDS_ROOT,  /* mounting NFS needs root, which we lack */
    ENGINE_FAIL_NFS_PORT_IN_USE, /* the configured port is taken */
    ENGINE_FAIL_NOT_ELEVATED,    /* Admin By Request did not grant admin in time */
    ENGINE_FAIL_SUDO_DECLINED,   /* sudo failed or was refused */
    /* any transport */
    ENGINE_FAIL_MOUNTPOINT,     /* missing, not a directory, or busy */
    ENGINE_FAIL_NOT_RESPONDING, /* mounted, but the liveness check timed out */
    ENGINE_FAIL_UNKNOWN,        /* anything else: the error itself says more */
} engine_failure;

#define ENGINE_FAIL_COUNT (ENGINE_FAIL_UNKNOWN + 1)

/* A row's platform: one OS, or both. */
typedef enum {
    HINTS_OS_ANY,
    HINTS_OS_LINUX,
    HINTS_OS_MACOS,
} hints_os;

/* A transport column that also matches every transport. */
#define HINTS_T_ANY ((int)ENGINE_T_COUNT)

typedef struct hints_row {
    hints_os os;
    int transport; /* an engine_transport, or HINTS_T_ANY */
    engine_failure failure;
    const char *why;  /* what is wrong, one short clause */
    const char *hint; /* what to do about it, one line */
} hints_row;

/* The whole table (for tests and doctor). */
const hints_row *hints_table(size_t *count);

/* The row for (os, t, f): the most specific match (own OS and transport,
 * then any OS, then any transport). Never NULL: an unlisted pair gives the
 * generic row of ENGINE_FAIL_UNKNOWN. */
const hints_row *hints_lookup(engine_os os, engine_transport t, engine_failure f);

/* Shorthands for hints_lookup(...)->hint and ->why. */
const char *hints_hint(engine_os os, engine_transport t, engine_failure f);
const char *hints_why(engine_os os, engine_transport t, engine_failure f);

/* A stable short name, "kext-not-approved", for --json and tests. */
const char *hints_failure_name(engine_failure f);

#endif
