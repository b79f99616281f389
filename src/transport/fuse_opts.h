/* FUSE mount options as a pure function of (platform, backend).
 *
 * Which options a FUSE mount needs differs between Linux, the macFUSE
 * kernel extension and macFUSE's FSKit backend, and only Linux can be
 * tried on this project's machines. So the choice is data in, data out,
 * with no probing, and the macOS cases are unit-tested on Linux. */
#ifndef STRATA_TRANSPORT_FUSE_OPTS_H
#define STRATA_TRANSPORT_FUSE_OPTS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

typedef enum {
    FUSE_OS_LINUX,
    FUSE_OS_MACOS,
} fuse_os;

typedef enum {
    FUSE_BACKEND_DEVFUSE, /* Linux: the kernel's /dev/fuse */
    FUSE_BACKEND_KEXT,    /* macOS: the macFUSE kernel extension */
    FUSE_BACKEND_FSKIT,   /* macOS 15.4+: macFUSE with -o backend=fskit */
} fuse_backend;

typedef struct fuse_mount_req {
    fuse_os os;
    fuse_backend backend;
    uid_t uid;      /* who mounts */
    bool admin;     /* macOS: root, or in macFUSE's admin group */
    bool read_only; /* a view with no upper directory */
    const char *mountpoint;
    const char *volname; /* the name Finder and df show; NULL = "strata" */
} fuse_mount_req;

#define FUSE_OPTS_MAX 512

typedef struct fuse_mount_opts {
    char opts[FUSE_OPTS_MAX]; /* the argument of -o */
    /* Lower entries never change, so the kernel may keep them for as long
     * as it likes; upper entries get short lives. In seconds. */
    double lower_timeout, upper_timeout;
    bool notify; /* kernel invalidation (inval_entry) is available */
    /* The kernel keeps negative entries across the changes it passes on
     * (macFUSE): every name a create, rename or remove touched must be
     * invalidated. */
    bool inval_names;
    /* Whether a lookup that finds nothing may be cached (in a directory
     * that cannot change): not where no invalidation can undo it. */
    bool cache_negative;
} fuse_mount_opts;

/* Builds the options for r. STRATA_E_INVALID (with the fix as hint) when
 * the request cannot work: a backend of the other OS, or an FSKit
 * mountpoint outside /Volumes. */
strata_err *fuse_mountopts_build(const fuse_mount_req *r, fuse_mount_opts *out);

#endif
