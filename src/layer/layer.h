/* Layers: immutable trees in the store, each a manifest blob named by a ref.
 *
 * import turns a directory into a layer, materialize turns a layer back
 * into a directory, and gc/fsck keep the store and its refs consistent. */
#ifndef STRATA_LAYER_LAYER_H
#define STRATA_LAYER_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/digest.h"
#include "base/err.h"
#include "layer/manifest.h"
#include "store/store.h"

/* A ref name or "sha256:<hex>" -> the manifest digest. */
strata_err *layer_resolve(store *s, const char *ref, strata_digest *out);
/* Loads and decodes the manifest blob d. */
strata_err *layer_load(store *s, const strata_digest *d, manifest **out);
/* The root mode of layer d, from its header alone (a view's root mode is
 * its top layer's). */
strata_err *layer_root_mode(store *s, const strata_digest *d, uint32_t *out);

/* A snapshot of every ref, in name order (for gc, fsck and listings that
 * must not hold the database while they work). */
typedef struct layer_refs {
    char **names;
    strata_digest *digests;
    size_t n;
} layer_refs;
strata_err *layer_refs_list(store *s, layer_refs *out);
void layer_refs_free(layer_refs *r);

/* ---- import ----------------------------------------------------------- */

typedef struct layer_import_stats {
    uint64_t files, dirs, symlinks;
    uint64_t files_read;           /* files read and hashed: not vouched for by known */
    uint64_t bytes;                /* file bytes read */
    uint64_t new_blobs, new_bytes; /* what the store did not have yet */
} layer_import_stats;

/* Called from the importing thread, often; it should throttle itself. */
typedef void (*layer_progress_fn)(void *ctx, const layer_import_stats *s, bool done);

/* A stat cache, as git's index is one. Re-importing a tree that was
 * written out from a layer costs a read and a hash of every byte, though
 * the caller often knows, from what it wrote and the stat it recorded
 * then, that most files cannot have changed. Given a regular file's path
 * (relative to the imported directory) and its lstat, this returns true
 * and sets *out when the file is known to hold that blob; the import then
 * takes the digest and st->st_size without opening the file. Only the
 * caller can judge a stat (which fields, which clock, which races), so
 * the import trusts its word, but still checks that the store has the
 * blob with that size, and reads the file when it does not. Called from
 * the walking thread only. */
typedef bool (*layer_known_fn)(void *ctx, const char *path, const struct stat *st,
                               strata_digest *out);

typedef struct layer_import_opts {
    int threads; /* hashing/storing workers; 0 = one per core */
    layer_progress_fn progress;
    void *progress_ctx;
    layer_known_fn known; /* may be NULL: read every file */
    void *known_ctx;
} layer_import_opts;

/* Imports the tree at dir. Symbolic links are stored as links and never
 * followed; the walk cannot leave dir even if the tree changes under it.
 * Sockets, fifos and devices are refused with an error naming the path.
 * Permission bits beyond 0777 (setuid, setgid, sticky) are dropped. */
strata_err *layer_import(store *s, const char *dir, const layer_import_opts *opts,
                         strata_digest *out, layer_import_stats *stats);

/* ---- materialize (export) --------------------------------------------- */

typedef enum {
    LAYER_SHARE_COPY,    /* always copy bytes */
    LAYER_SHARE_REFLINK, /* reflink spilled blobs where possible, else copy */
    LAYER_SHARE_LINK,    /* hardlink spilled blobs of non-executable files:
                            read-only sharing (write bits dropped) */
} layer_share;

typedef struct layer_export_stats {
    uint64_t files, dirs, symlinks, bytes;
    uint64_t reflinked, hardlinked, copied;
} layer_export_stats;

/* Recreates the tree of m under dir, which must be empty or absent.
 * Content, symlinks, permission bits and empty files/dirs come out exactly;
 * mtimes are MANIFEST_MTIME. Entries are created with O_NOFOLLOW/openat
 * relative to their parent, so nothing is written outside dir. */
strata_err *layer_materialize(store *s, const manifest *m, const char *dir, layer_share share,
                              layer_export_stats *stats);

/* ---- views and diffs --------------------------------------------------- */

/* Merges a stack of layers (layers[0] on top) into the plain tree (version
 * 1) that a view of them shows, with overlayfs's rules: the top layer wins
 * at a path; a file, symlink or whiteout hides what lies below it; a
 * directory merges with the directories below it, down to an opaque one. */
strata_err *layer_flatten(manifest *const *layers, size_t n, manifest **out);

/* Loads the layers (top first) and flattens them: what a view of them
 * shows. A single plain layer is its own view and is not copied. */
strata_err *layer_load_view(store *s, const strata_digest *layers, size_t n, manifest **out);

typedef struct layer_diff_stats {
    uint64_t added, changed, deleted;
} layer_diff_stats;

/* Appends to out the layer that turns plain tree base into plain tree now
 * when stacked on it: added and changed entries, whiteouts for deletions,
 * and the directories they need. layer_flatten(diff, base) == now. */
strata_err *layer_diff(const manifest *base, const manifest *now, strata_buf *out,
                       layer_diff_stats *st);

/* Appends to out the layer that a view's upper directory (in the
 * conventions of layer/upper.h) makes of base, the flattened view it was
 * written over: new and changed entries, whiteouts, opaque directories.
 * File contents are stored as they are read. Entries copied up but
 * unchanged are left out. */
strata_err *layer_capture(store *s, const manifest *base, const char *upper, strata_buf *out,
                          layer_diff_stats *st);

/* The same changes said the canonical way: the diff from base to base
 * with the upper on top. layer_capture alone says them its own way (an
 * opaque directory where a diff lists the deleted names), and an output's
 * digest must not depend on the transport that showed the view (a mount's
 * upper, a copy written out, a slot). */
strata_err *layer_capture_canonical(store *s, const manifest *base, const char *upper,
                                    strata_buf *out, layer_diff_stats *st);

/* layer_capture_canonical over the view of layers (top first), which it
 * loads only when the upper holds something: a command that wrote
 * nothing costs nothing in the size of its view. */
strata_err *layer_capture_view(store *s, const strata_digest *layers, size_t n, const char *upper,
                               strata_buf *out, layer_diff_stats *st);

/* ---- maintenance ------------------------------------------------------ */

/* Marks every blob reachable from every ref, then sweeps the rest. */
strata_err *layer_gc(store *s, bool dry_run, store_gc_stats *stats);

typedef struct layer_fsck_stats {
    store_fsck_stats blobs;
    uint64_t refs, refs_bad; /* refs whose manifest or files are missing/bad */
} layer_fsck_stats;
/* fn gets one line per problem: the digest or ref, and what is wrong. */
typedef void (*layer_fsck_fn)(void *ctx, const char *what, const char *problem);
strata_err *layer_fsck(store *s, layer_fsck_fn fn, void *ctx, layer_fsck_stats *stats);

#endif
