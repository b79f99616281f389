/* Kernel invalidations of names, sent from a thread of their own.
 *
 * macFUSE caches negative lookups and keeps them across the creates,
 * renames and removes that pass through it, so each name such a request
 * touched must be invalidated (fuse_mount_opts.inval_names). Linux
 * updates its own caches and needs none of this.
 *
 * An invalidation may not be sent from a request handler: the kernel
 * holds the directory's lock while it waits for the handler's reply, and
 * the invalidation needs that lock, so the two would wait on each other.
 * Handlers therefore only queue the name; the queue never blocks and has
 * no bound (it only grows while the kernel is slow to take
 * invalidations), and its thread sends them in order. */
#ifndef STRATA_TRANSPORT_FUSE_NOTIFY_H
#define STRATA_TRANSPORT_FUSE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "transport/fuse_lib.h"

typedef struct fusefs_notifier fusefs_notifier;

/* Starts the sending thread for session se. */
strata_err *fusefs_notifier_start(const fuse_lib *fl, struct fuse_session *se,
                                  fusefs_notifier **out);

/* Queues an invalidation of name in directory parent. Never blocks on the
 * kernel; a name that cannot be queued (no memory) is dropped. */
void fusefs_notifier_queue(fusefs_notifier *n, uint64_t parent, const char *name, size_t len);

/* Invalidations sent so far (for tests and statistics). */
uint64_t fusefs_notifier_sent(fusefs_notifier *n);

/* Stops the thread, dropping what was not sent; queueing goes on to
 * work, but nothing more is sent. Any number of times (NULL: nothing).
 * Call while the session still serves, so that an invalidation in flight
 * can still get the directory lock a request holds. */
void fusefs_notifier_stop(fusefs_notifier *n);

/* Stops if needed and frees n (NULL: nothing). */
void fusefs_notifier_free(fusefs_notifier *n);

#endif
