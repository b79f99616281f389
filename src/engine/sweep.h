/* The stale sweep: cleans up after mount owners that died without
 * unmounting (SIGKILL, a crash), from the records of the mount registry
 * (registry.h). `strata sweep` runs it, and so does every `strata mount`
 * and `strata run` before it mounts.
 *
 * Only the registry's own mountpoints are ever unmounted, never arbitrary
 * mounts, and only when all of these hold (sweep_decide, pure):
 *   - the record's owner is dead: its lock can be taken (and the sweep
 *     holds it while it works, so two sweeps never act on one record);
 *   - the mountpoint is still a strata mount of the record's transport
 *     (the mount table says fuse.strata on Linux), dead or not: a dead
 *     server's mount ("Transport endpoint is not connected") is exactly
 *     what is to be swept;
 *   - no live record names the same mountpoint (a new mount made there
 *     after the old one was cleared by hand belongs to someone alive).
 * The unmount is forced: umount2(MNT_DETACH) as root, else fusermount3
 * -u -z on Linux; umount -f, then diskutil unmount force, on macOS.
 *
 * A dead `strata run` also leaves its temporary directory
 * ($TMPDIR/strata-run-XXXXXX: the mountpoint mnt/ and the upper upper/).
 * Its record names it, and the sweep removes it once nothing is mounted
 * in it: the run failed, so its writes are not an output of anything.
 * Only a directory that is the mountpoint's parent, is named
 * strata-run-*, and belongs to this user is removed.
 *
 * On macOS the sweep also unmounts /Volumes/strata-<uid>-<id> volumes of
 * this user that no live record names (FSKit volumes outlive their
 * server); the decision is pure (sweep_volume_stale) and tested on Linux.
 *
 * Records whose owner is dead but whose mountpoint holds nothing of
 * strata's, corrupt records of dead owners, and leftover lock or temp
 * files are removed without unmounting anything. */
#ifndef STRATA_ENGINE_SWEEP_H
#define STRATA_ENGINE_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"
#include "engine/engine.h"
#include "engine/registry.h"

typedef enum {
    SWEEP_KEEP,    /* the owner lives: not touched */
    SWEEP_UNMOUNT, /* dead owner, strata's mount still there: force-unmount, forget */
    SWEEP_FORGET,  /* dead owner, nothing of strata's mounted there: forget */
    SWEEP_FOREIGN, /* dead owner, but someone else's mount is there: forget, leave it */
} sweep_action;

/* What to do with one registry entry, given whether its owner lives, what
 * is mounted at its mountpoint now (fstype: the mount table's type, NULL
 * for nothing), and whether a live record names the same mountpoint.
 * Corrupt and orphan entries of dead owners are SWEEP_FORGET. Pure. */
sweep_action sweep_decide(engine_os os, const registry_entry *e, const char *fstype,
                          bool live_owner_of_mountpoint);

/* Whether a mount of type fstype can be strata's for transport (Linux:
 * fuse is "fuse.strata", nfs is "nfs"; macOS: kext and fskit are
 * "macfuse...", nfs is "nfs"). Pure. */
bool sweep_is_strata_fstype(engine_os os, const char *transport, const char *fstype);

/* Whether the volume /Volumes/<name> is a stale strata FSKit volume of
 * uid: named strata-<uid>-<id>, and not the mountpoint of any of the n
 * live mountpoints. Pure. */
bool sweep_volume_stale(const char *name, uid_t uid, const char *const *live_mountpoints, size_t n);

/* Whether dir may be removed as the temporary directory of a dead run
 * whose mountpoint was mp: dir is mp's parent and is named strata-run-*.
 * (The sweep also checks that it is a directory of this user.) Pure. */
bool sweep_run_dir_ok(const char *dir, const char *mp);

/* The same for a run in a slot of `strata serve` (REGISTRY_KIND_SLOT),
 * whose directory holds only the upper: an absolute path without "." or
 * ".." components, named strata-run-*. Pure. */
bool sweep_slot_dir_ok(const char *dir);

typedef struct sweep_item {
    char id[REGISTRY_ID_LEN + 1]; /* "" for a macOS volume */
    registry_state state;         /* DEAD, CORRUPT or ORPHAN */
    sweep_action action;
    registry_record rec;                 /* DEAD: what the record said */
    bool unmounted;                      /* the mount was force-unmounted */
    bool dir_removed;                    /* a dead run's temporary directory was removed */
    bool record_removed;                 /* the entry is gone from the registry */
    char error[REGISTRY_PATH_MAX + 512]; /* what failed, or "" (the entry then stays) */
} sweep_item;

typedef struct sweep_report {
    sweep_item *items; /* what was swept or tried, in registry order */
    size_t n;
    size_t live;     /* entries left alone: their owners live */
    size_t failures; /* items with an error */
} sweep_report;

/* Sweeps the registry r (see above). Errors about single entries go into
 * their items; the return is an error only when the registry cannot be
 * read at all. */
strata_err *sweep_run(registry *r, sweep_report *out);

void sweep_report_free(sweep_report *rep);

#endif
