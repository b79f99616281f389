/* The `none` transport: no mount at all.
 *
 * A view is written out as a plain directory (its large files reflinked
 * from the store where the filesystem can, else copied, so nothing written
 * there can reach the store), a command works in it, and what changed is
 * captured afterwards by comparing the directory with the view. It works
 * everywhere, at the cost of setup time that grows with the view. */
#ifndef STRATA_TRANSPORT_NONE_H
#define STRATA_TRANSPORT_NONE_H

#include "layer/layer.h"

typedef struct none_sandbox none_sandbox;

/* Writes the view of layers (top first) out at dir, which must be empty or
 * absent. */
strata_err *none_prepare(store *s, manifest *const *layers, size_t n, const char *dir,
                         none_sandbox **out);
const char *none_dir(const none_sandbox *sb);

/* Imports the directory as it is now and stores the changes against the
 * view as a layer (version 2 when something was deleted); *out gets its
 * digest. The sandbox stays usable. */
strata_err *none_capture(none_sandbox *sb, const layer_import_opts *opts, strata_digest *out,
                         layer_diff_stats *st);

/* Frees the sandbox; with remove, deletes its directory too. */
strata_err *none_destroy(none_sandbox *sb, bool remove);

#endif
