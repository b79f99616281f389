/* The FUSE transport: a vfs served to the kernel through libfuse3's
 * low-level API (loaded at run time, see fuse_lib.h).
 *
 * A mount is served by a background thread running libfuse's
 * multi-threaded loop, so that the caller can check that the mount answers
 * before it reports success, and can then wait for the mount to end:
 *
 *   fusefs_mount    mounts, starts serving, and returns once a stat of the
 *                   mountpoint reaches this server (within a time limit)
 *   fusefs_wait     blocks until the session ends: unmounted from outside
 *                   (strata umount, fusermount3 -u) or fusefs_stop
 *   fusefs_stop     ends the session from any thread
 *   fusefs_destroy  ends it if needed, unmounts (lazily when busy), frees
 *
 * Threads: the server's threads block every signal except
 * FUSEFS_WAKE_SIGNAL, which fusefs_stop sends to the loop thread to wake
 * it (libfuse's loop offers no other way). Process-directed signals such
 * as SIGINT and SIGTERM therefore reach the caller's threads, which decide
 * what they mean (usually: call fusefs_stop). The process must not use
 * FUSEFS_WAKE_SIGNAL for anything else. */
#ifndef STRATA_TRANSPORT_FUSE_H
#define STRATA_TRANSPORT_FUSE_H

#include <signal.h>
#include <stdbool.h>

#include "base/err.h"
#include "transport/fuse_opts.h"
#include "vfs/vfs.h"

#define FUSEFS_WAKE_SIGNAL SIGUSR2

/* The loop's worker threads. Measured on this project's 2-core machines
 * (50k small files, fresh mount each time): 8 threads cost 10-30% more
 * than 1 or 2, with more context switches; 1 and 2 are within noise of
 * each other, serial or parallel clients. 2 keeps requests moving while
 * one worker waits on a slow read. */
#define FUSEFS_DEFAULT_THREADS 2
#define FUSEFS_MAX_THREADS     64
/* How long a new mount may take to answer its first stat. */
#define FUSEFS_READY_TIMEOUT 10.0

typedef struct fusefs fusefs;

typedef struct fusefs_opts {
    unsigned max_threads; /* worker threads of the loop; 0 = FUSEFS_DEFAULT_THREADS */
    bool clone_fd;        /* a /dev/fuse descriptor per worker (measured: no gain) */
    /* Let the kernel open files by itself (FUSE_CAP_NO_OPEN_SUPPORT): no
     * OPEN or RELEASE round trip, reads by inode, and the page cache kept
     * across opens as with keep_cache. Measured: 20-30% less time and
     * half the context switches for find+cat over 50k files. Without
     * it, or where the kernel cannot, files are opened with keep_cache
     * for lower entries. */
    bool no_open;
    double ready_timeout; /* seconds; 0 = FUSEFS_READY_TIMEOUT */
    /* Invalidate every name a create, rename or remove touched, as the
     * options of a macFUSE mount ask (fuse_mount_opts.inval_names), also
     * where they do not: so that the invalidation path runs in Linux
     * tests. */
    bool inval_names;
    /* Push the bytes of the small lower files a READDIRPLUS lists into the
     * kernel's page cache (fuse_push.h): their READ never comes. Only with
     * no_open, and for a vfs of one view. */
    bool push_small;
} fusefs_opts;

/* Checks that path can be a mountpoint (an existing directory, not a
 * dead FUSE mount) and returns its absolute, resolved form in *abs
 * (malloc'd), which stays valid after a chdir. */
strata_err *fusefs_check_mountpoint(const char *path, char **abs);

/* Mounts v at mountpoint with the options mo (fuse_mountopts_build) and
 * serves it until the session ends. fo may be NULL (defaults). Returns
 * once the mount answers; v must outlive the fusefs. Loads libfuse first:
 * a machine without FUSE gets STRATA_E_UNSUPPORTED with a hint. */
strata_err *fusefs_mount(vfs *v, const char *mountpoint, const fuse_mount_opts *mo,
                         const fusefs_opts *fo, fusefs **out);

/* Blocks until the session ends; an error when it ended other than by an
 * unmount or fusefs_stop. */
strata_err *fusefs_wait(fusefs *f);

/* Ends the session (serving stops; the mount stays until fusefs_destroy)
 * and returns once it has ended. Any thread, any number of times; not
 * from a signal handler. */
void fusefs_stop(fusefs *f);

/* Stops if needed, unmounts if the mount is still there (lazily, when a
 * process still uses it: it then sees the mount gone), and frees f. */
void fusefs_destroy(fusefs *f);

/* Over a vfs of several slots (vfs_opts.max_slots > 1, as `strata serve`
 * has), each request is counted on the slot of the inode it names, and
 * entries carry the slot's generation (vfs_slot_generation), so that the
 * kernel never takes a slot's next view for its last.
 *
 * fusefs_slot_close stops slot's traffic before its view is detached:
 * later requests on the slot get ESTALE, and it returns once those in
 * progress have answered; then no write can land in the slot's upper
 * directory any more. It also drops the kernel's entry for the slot's
 * name in the directory of slots (vfs_opts.slot_dir). fusefs_slot_open
 * lets requests through again once a view is attached, and drops any
 * negative entry for the name. From any thread but a request handler's;
 * a mount of one view ignores both. */
void fusefs_slot_close(fusefs *f, uint16_t slot);
void fusefs_slot_open(fusefs *f, uint16_t slot);

/* The filesystem type a strata FUSE mount shows in the mount table
 * (fuse.<subtype>, and fuse_opts.c sets subtype=strata). */
#define FUSEFS_FSTYPE "fuse.strata"

/* The type of the filesystem mounted at the absolute path abs, or NULL
 * in *fstype when nothing is mounted exactly there (from the mount table,
 * so a dead mount answers too; fuse_umount.c). The engine's sweep checks
 * with it that a registered mountpoint is still strata's before it
 * unmounts anything. */
strata_err *fusefs_mount_type(const char *abs, char **fstype);

/* `strata umount`: unmounts the strata FUSE mount at path (fusermount3 -u,
 * or umount2 as root). Never lazily: a busy mount is an error, as is a
 * path that is not a strata mount. */
strata_err *fusefs_unmount_path(const char *path);

#endif
