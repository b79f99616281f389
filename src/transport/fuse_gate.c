/* The slot gate of a FUSE session over a vfs of several slots (`strata
 * serve`): before a slot's view is taken away, its requests must stop, so
 * that no write can still land in the upper directory its client is about
 * to capture.
 *
 * Each slot counts the requests in progress on it. Closing a slot flags it
 * and waits for the count to reach zero; a request that arrives at a closed
 * slot is answered ESTALE without reaching the vfs. The slot of a request
 * is that of the inode it names (the parent, for calls on names), so the
 * gate needs no state of its own per request.
 *
 * The gated handlers wrap those of fuse.c (fusefs_ops), and a session uses
 * them only when its vfs has more than one slot: a mount of one view pays
 * nothing. FORGET and RELEASE pass ungated: they only give back what the
 * kernel held, and must reach the vfs even for a closed slot. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "transport/fuse_internal.h"

/* One cache line per slot: requests of different slots never share one. */
typedef struct fusefs_gate_slot {
    _Atomic uint32_t inflight;
    _Atomic bool closed;
    char pad[64 - sizeof(_Atomic uint32_t) - sizeof(_Atomic bool)];
} fusefs_gate_slot;

struct fusefs_gate {
    uint32_t nslots;
    fusefs_gate_slot *slots;
};

strata_err *fusefs_gate_new(uint32_t nslots, fusefs_gate **out)
{
    fusefs_gate *g = calloc(1, sizeof(*g));
    if (g)
        g->slots = aligned_alloc(64, (size_t)nslots * sizeof(*g->slots));
    if (!g || !g->slots) {
        free(g);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory for %u slots", nslots);
    }
    g->nslots = nslots;
    for (uint32_t i = 0; i < nslots; i++) {
        atomic_init(&g->slots[i].inflight, 0);
        atomic_init(&g->slots[i].closed, false);
    }
    *out = g;
    return NULL;
}

void fusefs_gate_free(fusefs_gate *g)
{
    if (g) {
        free(g->slots);
        free(g);
    }
}

void fusefs_gate_close(fusefs_gate *g, uint16_t slot)
{
    if (slot >= g->nslots)
        return;
    fusefs_gate_slot *gs = &g->slots[slot];
    atomic_store(&gs->closed, true);
    /* A request counted before the flag was set finishes; one counted
     * after sees the flag and leaves at once. Requests are short (one
     * vfs call), so a few yields usually do. */
    for (unsigned spins = 0; atomic_load(&gs->inflight) != 0; spins++) {
        if (spins < 64)
            sched_yield();
        else
            nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    }
}

void fusefs_gate_open(fusefs_gate *g, uint16_t slot)
{
    if (slot < g->nslots)
        atomic_store(&g->slots[slot].closed, false);
}

/* Counts the request in on ino's slot, or answers it ESTALE (NULL) when
 * the slot is closed. A slot beyond the gate is left to the vfs, which
 * answers for numbers it never gave. */
static fusefs_gate_slot *gate_enter(fuse_req_t req, fuse_ino_t ino)
{
    static fusefs_gate_slot beyond; /* never closed, never waited on */
    fusefs_gate *g = ((fusefs_srv *)fusefs_fl->req_userdata(req))->gate;
    uint16_t slot = vfs_ino_slot(ino);
    fusefs_gate_slot *gs = slot < g->nslots ? &g->slots[slot] : &beyond;
    atomic_fetch_add(&gs->inflight, 1);
    if (atomic_load(&gs->closed)) {
        atomic_fetch_sub(&gs->inflight, 1);
        fusefs_fl->reply_err(req, ESTALE);
        return NULL;
    }
    return gs;
}

static void gate_leave(fusefs_gate_slot *gs)
{
    atomic_fetch_sub(&gs->inflight, 1);
}

/* One wrapper per gated request: name, the inode that picks the slot,
 * the parameters after req, and the arguments to pass on. */
#define GATED(op, ino, params, args)                                                               \
    static void gated_##op params                                                                  \
    {                                                                                              \
        fusefs_gate_slot *gs = gate_enter(req, ino);                                               \
        if (gs) {                                                                                  \
            fusefs_ops.op args;                                                                    \
            gate_leave(gs);                                                                        \
        }                                                                                          \
    }

typedef struct fuse_file_info ffi;

GATED(lookup, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
GATED(getattr, ino, (fuse_req_t req, fuse_ino_t ino, ffi *fi), (req, ino, fi))
GATED(setattr, ino, (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, ffi *fi),
      (req, ino, attr, to_set, fi))
GATED(readlink, ino, (fuse_req_t req, fuse_ino_t ino), (req, ino))
GATED(mknod, parent, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev),
      (req, parent, name, mode, rdev))
GATED(mkdir, parent, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
      (req, parent, name, mode))
GATED(unlink, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
GATED(rmdir, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
GATED(symlink, parent, (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name),
      (req, link, parent, name))
GATED(rename, parent,
      (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
       const char *newname, unsigned int flags),
      (req, parent, name, newparent, newname, flags))
GATED(link, ino, (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname),
      (req, ino, newparent, newname))
GATED(open, ino, (fuse_req_t req, fuse_ino_t ino, ffi *fi), (req, ino, fi))
GATED(read, ino, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, ffi *fi),
      (req, ino, size, off, fi))
GATED(write, ino,
      (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, ffi *fi),
      (req, ino, buf, size, off, fi))
GATED(opendir, ino, (fuse_req_t req, fuse_ino_t ino, ffi *fi), (req, ino, fi))
GATED(readdir, ino, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, ffi *fi),
      (req, ino, size, off, fi))
GATED(readdirplus, ino, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, ffi *fi),
      (req, ino, size, off, fi))
GATED(statfs, ino, (fuse_req_t req, fuse_ino_t ino), (req, ino))
GATED(setxattr, ino,
      (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags),
      (req, ino, name, value, size, flags))
GATED(getxattr, ino, (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
      (req, ino, name, size))
GATED(listxattr, ino, (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size))
GATED(removexattr, ino, (fuse_req_t req, fuse_ino_t ino, const char *name), (req, ino, name))
GATED(access, ino, (fuse_req_t req, fuse_ino_t ino, int mask), (req, ino, mask))
GATED(create, parent, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, ffi *fi),
      (req, parent, name, mode, fi))
GATED(fsync, ino, (fuse_req_t req, fuse_ino_t ino, int datasync, ffi *fi), (req, ino, datasync, fi))
GATED(fsyncdir, ino, (fuse_req_t req, fuse_ino_t ino, int datasync, ffi *fi),
      (req, ino, datasync, fi))

static struct fuse_lowlevel_ops gated_ops;
static pthread_once_t gated_once = PTHREAD_ONCE_INIT;

static void gated_ops_init(void)
{
    gated_ops = fusefs_ops; /* init, forget, release, ... as they are */
#define SET(op) gated_ops.op = gated_##op
    SET(lookup);
    SET(getattr);
    SET(setattr);
    SET(readlink);
    SET(mknod);
    SET(mkdir);
    SET(unlink);
    SET(rmdir);
    SET(symlink);
    SET(rename);
    SET(link);
    SET(open);
    SET(read);
    SET(write);
    SET(opendir);
    SET(readdir);
    SET(readdirplus);
    SET(statfs);
    SET(setxattr);
    SET(getxattr);
    SET(listxattr);
    SET(removexattr);
    SET(access);
    SET(create);
    SET(fsync);
    SET(fsyncdir);
#undef SET
}

const struct fuse_lowlevel_ops *fusefs_gated_ops(void)
{
    pthread_once(&gated_once, gated_ops_init);
    return &gated_ops;
}
