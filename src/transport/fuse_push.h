/* Small lower files' bytes pushed into the kernel's page cache before
 * they are read (fuse_lowlevel_notify_store), from a thread of its own.
 *
 * Once the kernel opens files by itself (no-open) and keeps entries and
 * attributes, a small file costs one request: its READ. That round trip
 * is the floor of a FUSE filesystem that waits to be asked
 * (/work/shared/PERF-NOTES.md measured it: find+cat over 50k small
 * files, 4.5 s from memory against overlayfs's 1.5 s, and 2.8 s with the
 * bytes pushed). A READDIRPLUS names the files a reader is about to
 * open, so after its reply the listed small regular files of the lower
 * layers are queued here, and this thread reads each from the store and
 * stores it in the kernel's cache: the READ never comes.
 *
 * Sound because a lower file never changes: the bytes pushed stay true
 * as long as the file is not copied up (an upper file is never pushed).
 * A write that copies a queued file up races with its push: a write
 * through write(2) holds the page until it is answered, so a push landing
 * after it is seen (the file is no longer lower) and the kernel told to
 * drop the page. A write through a shared mapping, dirty in the page
 * cache before the push lands, could still be overwritten by it; so a
 * view with an upper directory pushes only when asked to
 * (STRATA_FUSE_PUSH=1), and read-only views push by default. The cost is
 * memory: a pushed file's pages stay in the page cache like any read
 * file's, so only files up to FUSEFS_PUSH_MAX are pushed, and a full
 * queue drops what comes (a push is a hint).
 *
 * Never from a request handler: a push waits for the page's lock, which
 * a READ in progress may hold while it waits for a handler (a deadlock
 * PERF-NOTES.md saw). Handlers only queue. */
#ifndef STRATA_TRANSPORT_FUSE_PUSH_H
#define STRATA_TRANSPORT_FUSE_PUSH_H

#include <stdint.h>

#include "base/err.h"
#include "transport/fuse_lib.h"
#include "vfs/vfs.h"

/* Files up to this size are pushed; queued pushes at most. */
#define FUSEFS_PUSH_MAX   (64u * 1024)
#define FUSEFS_PUSH_QUEUE 8192u

typedef struct fusefs_pusher fusefs_pusher;

/* Starts the pushing thread for session se over view v.
 * STRATA_E_UNSUPPORTED when the library cannot push. */
strata_err *fusefs_pusher_start(const fuse_lib *fl, struct fuse_session *se, vfs *v,
                                fusefs_pusher **out);

/* Queues the content of lower file ino (size bytes, 1..FUSEFS_PUSH_MAX).
 * Never blocks; dropped when the queue is full. */
void fusefs_pusher_queue(fusefs_pusher *p, uint64_t ino, uint64_t size);

/* Files pushed so far (for tests and statistics). */
uint64_t fusefs_pusher_pushed(fusefs_pusher *p);

/* Stops the thread, dropping what was not pushed (NULL: nothing; any
 * number of times). Call while the session still serves: a push in
 * flight may wait for a READ to be answered. */
void fusefs_pusher_stop(fusefs_pusher *p);

/* Stops if needed and frees p (NULL: nothing). */
void fusefs_pusher_free(fusefs_pusher *p);

#endif
