/* The content-addressed store (CAS): blobs named by their sha256, and refs
 * that name manifest blobs.
 *
 * The embedded backend is one SQLite database in WAL mode at <dir>/store.db.
 * Blobs up to a threshold live inline in it; larger ones "spill" to their
 * own read-only files under <dir>/objects/<2 hex>/<62 hex>, written to a
 * temp file in <dir>/tmp, fsynced and renamed into place before their row
 * is committed. So a blob is visible (addressable) only once it is whole, and
 * a killed writer leaves at most an unreferenced temp file.
 *
 * Threads: one store handle is shared by every thread. Writes serialize on
 * one writer connection. Reads borrow a connection from a pool for the
 * length of one call, so no SQLite handle ever outlives or leaves the
 * connection it came from, and a store_reader can move between threads. */
#ifndef STRATA_STORE_STORE_H
#define STRATA_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/err.h"

/* Blobs above this many bytes spill to files. See docs/STORE.md for the
 * measurement behind the number. */
#define STORE_SPILL_DEFAULT (64 * 1024)

typedef struct store store;
typedef struct store_reader store_reader;

typedef struct store_opts {
    uint64_t spill_threshold; /* 0 = STORE_SPILL_DEFAULT; tests set small values */
    int max_readers;          /* pooled read connections; 0 = default (64) */
    bool read_only;           /* open for reading only (ls, cat, export) */
} store_opts;

/* Opens (creating if needed, unless read_only) the store in dir. opts may be
 * NULL. A store whose schema is newer than this build is refused. */
strata_err *store_open(const char *dir, const store_opts *opts, store **out);
void store_close(store *s);
const char *store_dir(const store *s);
uint64_t store_spill_threshold(const store *s);

/* ---- writing ---------------------------------------------------------- */

/* Stores bytes; *out gets their digest. *was_new (may be NULL) says whether
 * the blob was not already present. Identical content is stored once. */
strata_err *store_put_buf(store *s, const void *data, size_t len, strata_digest *out,
                          bool *was_new);

/* Stores everything read from fd until end of file, streaming: memory use is
 * bounded whatever the size. *size gets the byte count. what names the
 * source in errors. */
strata_err *store_put_fd(store *s, int fd, const char *what, strata_digest *out, uint64_t *size,
                         bool *was_new);

/* Groups puts from any thread into larger transactions, which makes
 * importing many small blobs fast. Between begin and end, new blobs wait in
 * a bounded memory buffer and are written in one short transaction when it
 * fills (every few thousand puts or MiB) or at store_batch_end; no SQLite
 * lock is held in between, so other processes' writes and gc's lock check
 * never wait on a batch. Dedup stays exact within this handle: a blob
 * pending in the buffer counts as present (was_new false, stored once).
 * But store_has, store_reader_open and store_get_buf see a batch's puts
 * only once they are flushed: at store_batch_end, at an automatic flush,
 * or at store_ref_set (which flushes first so it can name them). A flush
 * that fails loses the buffered puts; store_batch_end then reports the
 * batch as failed. Batches do not nest; store_close ends an open one. */
strata_err *store_batch_begin(store *s);
strata_err *store_batch_end(store *s);

/* ---- reading ---------------------------------------------------------- */

/* True (and *size) when the blob is present. */
strata_err *store_has(store *s, const strata_digest *d, bool *present, uint64_t *size);

/* Opens a streaming reader; STRATA_E_NOTFOUND when the blob is absent. */
strata_err *store_reader_open(store *s, const strata_digest *d, store_reader **out);
uint64_t store_reader_size(const store_reader *r);
/* Reads up to len bytes at off into buf; *got < len only at end of blob.
 * Safe to call from several threads at once on one reader. */
strata_err *store_reader_read(store_reader *r, void *buf, size_t len, uint64_t off, size_t *got);
/* The same from the page cache only: a spilled blob whose bytes would
 * come from the disk is EAGAIN (sys_errno; fs_pread_cached). */
strata_err *store_reader_read_cached(store_reader *r, void *buf, size_t len, uint64_t off,
                                     size_t *got);
/* The spilled file's path, or NULL for an inline blob. Its bytes must never
 * be modified: it is shared read-only (for hardlinks and reflinks). */
const char *store_reader_path(const store_reader *r);
void store_reader_close(store_reader *r);

/* Reads a whole blob of at most max bytes into a malloc'd buffer (for
 * manifests). A larger blob is STRATA_E_INVALID. */
strata_err *store_get_buf(store *s, const strata_digest *d, size_t max, void **data, size_t *len);

/* ---- refs ------------------------------------------------------------- */

/* Ref names: 1..255 bytes of [A-Za-z0-9._+@/:-], not starting with "sha256:"
 * or '-', no "..", no leading or trailing '/'. */
bool store_ref_name_valid(const char *name);
/* Points name at d (which must be present), replacing any old target. */
strata_err *store_ref_set(store *s, const char *name, const strata_digest *d);
/* STRATA_E_NOTFOUND when there is no such ref. */
strata_err *store_ref_get(store *s, const char *name, strata_digest *out);
strata_err *store_ref_delete(store *s, const char *name);
/* Calls fn for every ref in name order; fn returning false stops early. */
typedef bool (*store_ref_fn)(void *ctx, const char *name, const strata_digest *d);
strata_err *store_ref_list(store *s, store_ref_fn fn, void *ctx);

/* ---- maintenance ------------------------------------------------------ */

/* Garbage collection is split so that the store need not know manifests:
 * the layer above marks what refs reach, then the store sweeps the rest.
 * store_gc_begin takes the store's exclusive lock (writers hold it shared),
 * so no import can race with the sweep; it fails with STRATA_E_BUSY when a
 * writer is active. */
typedef struct store_gc store_gc;
typedef struct store_gc_stats {
    uint64_t blobs_kept, bytes_kept;
    uint64_t blobs_removed, bytes_removed;
    uint64_t temp_files_removed; /* leftovers of killed writers */
} store_gc_stats;
strata_err *store_gc_begin(store *s, store_gc **out);
strata_err *store_gc_mark(store_gc *g, const strata_digest *d);
/* Removes every unmarked blob (rows and spilled files), stray object and
 * temp files; dry_run only counts. Frees g. */
strata_err *store_gc_sweep(store_gc *g, bool dry_run, store_gc_stats *stats);
void store_gc_abort(store_gc *g);

/* Re-hashes every blob and reports each one whose bytes do not match its
 * digest or size, or whose spilled file is missing. */
typedef enum {
    STORE_FSCK_MISMATCH, /* bytes hash to another digest */
    STORE_FSCK_SIZE,     /* size differs from the recorded one */
    STORE_FSCK_MISSING,  /* spilled file is gone */
    STORE_FSCK_UNREADABLE,
} store_fsck_problem;
typedef void (*store_fsck_fn)(void *ctx, const strata_digest *d, store_fsck_problem p,
                              const char *detail);
typedef struct store_fsck_stats {
    uint64_t blobs, bytes, bad;
    uint64_t temp_files; /* leftovers of killed writers: harmless, gc removes them */
} store_fsck_stats;
strata_err *store_fsck(store *s, store_fsck_fn fn, void *ctx, store_fsck_stats *stats);

/* Calls fn for each blob digest (for the layer's fsck of refs). */
typedef bool (*store_blob_fn)(void *ctx, const strata_digest *d, uint64_t size);
strata_err *store_blob_list(store *s, store_blob_fn fn, void *ctx);

#endif
