/* The `none` transport: no mount at all.
 *
 * A view is written out as a plain directory (its large files reflinked
 * from the store where the filesystem can, else copied, so nothing written
 * there can reach the store), a command works in it, and what changed is
 * captured afterwards by comparing the directory with the view. It works
 * everywhere, at the cost of setup time that grows with the view. Capture
 * stats every file but reads only those whose stat changed since they were
 * written out (see none.c). */
#ifndef STRATA_TRANSPORT_NONE_H
#define STRATA_TRANSPORT_NONE_H

#include "layer/layer.h"

typedef struct none_sandbox none_sandbox;

/* Writes the view of layers (top first) out at dir, which must be empty or
 * absent. */
strata_err *none_prepare(store *s, manifest *const *layers, size_t n, const char *dir,
                         none_sandbox **out);
const char *none_dir(const none_sandbox *sb);

/* Takes the racy cut-off again, now: capture reads every file whose ctime
 * is not before it, whatever its stat says, since a change in the same
 * tick of the filesystem's clock could leave that stat as it was (see
 * none.c). none_prepare takes it once, at its end; a caller that waits
 * after that, and before starting the command, may take it again to trust
 * more files. Never once the command has started: a change made before
 * the cut-off could then go unseen. *racy (may be NULL) gets how many of
 * the view's files capture will read in any case. */
strata_err *none_cutoff(none_sandbox *sb, size_t *racy);

/* Imports the directory as it is now and stores the changes against the
 * view as a layer (version 2 when something was deleted); *out gets its
 * digest. The sandbox stays usable. opts->known is replaced by the
 * sandbox's own stat cache. */
strata_err *none_capture(none_sandbox *sb, const layer_import_opts *opts, strata_digest *out,
                         layer_diff_stats *st);

/* Frees the sandbox; with remove, deletes its directory too. */
strata_err *none_destroy(none_sandbox *sb, bool remove);

#endif
