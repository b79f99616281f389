/* Private to the FUSE transport: what the request handlers (fuse.c) and
 * the session's life cycle (fuse_session.c) share. */
#ifndef STRATA_TRANSPORT_FUSE_INTERNAL_H
#define STRATA_TRANSPORT_FUSE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "transport/fuse.h"
#include "transport/fuse_lib.h"
#include "transport/fuse_notify.h"
#include "transport/fuse_push.h"
#include "vfs/vfs.h"

/* Starts a thread of the transport that takes no process-directed signal:
 * SIGINT and SIGTERM are the caller's business. Faults stay deliverable,
 * so a crash is still reported (and ASan still sees it). Returns an errno
 * (fuse_session.c). */
int fusefs_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Per-slot request counts of a session over several slots (fuse_gate.c). */
typedef struct fusefs_gate fusefs_gate;

/* The session's userdata: everything a request handler needs. Read-only
 * while the session runs (but for what INIT sets), so handlers share it
 * without locks. */
typedef struct fusefs_srv {
    vfs *v;
    double lower_timeout; /* seconds: entries and attributes of lower (immutable) entries */
    double upper_timeout; /* ... of everything else */
    bool want_no_open;    /* fusefs_opts.no_open */
    bool cache_negative;  /* fuse_mount_opts.cache_negative */
    _Atomic bool no_open; /* the kernel opens files by itself: reads come by inode */
    _Atomic bool inited;  /* the kernel's INIT has been answered */
    /* Set when each name a request creates, renames or removes must be
     * invalidated (fuse_mount_opts.inval_names); NULL otherwise. */
    fusefs_notifier *notifier;
    /* Set when small lower files are pushed into the kernel's cache after
     * a READDIRPLUS (fusefs_opts.push_small, one view only); NULL
     * otherwise. */
    fusefs_pusher *pusher;
    /* A vfs of several slots: requests are counted per slot, so that one
     * slot can be stopped (fusefs_slot_close); NULL for one view. */
    fusefs_gate *gate;
} fusefs_srv;

/* The request handlers, for fuse_session_new. */
extern const struct fuse_lowlevel_ops fusefs_ops;

/* The same handlers, each gated by its slot (fuse_gate.c): for a vfs of
 * several slots. */
const struct fuse_lowlevel_ops *fusefs_gated_ops(void);

strata_err *fusefs_gate_new(uint32_t nslots, fusefs_gate **out);
void fusefs_gate_free(fusefs_gate *g);
/* Stops slot: later requests get ESTALE; returns once those in progress
 * have answered. */
void fusefs_gate_close(fusefs_gate *g, uint16_t slot);
void fusefs_gate_open(fusefs_gate *g, uint16_t slot);

/* The loaded library the handlers call through. Set before the first
 * session starts; fuse_lib_load returns the same table every time. */
extern const fuse_lib *fusefs_fl;

#endif
