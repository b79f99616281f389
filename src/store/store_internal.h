/* Private to src/store: the store handle, the read-connection pool and the
 * helpers that several store_*.c files share. Nothing outside src/store
 * includes this. */
#ifndef STRATA_STORE_STORE_INTERNAL_H
#define STRATA_STORE_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_SCHEMA_VERSION 1
/* A batch buffers new rows in memory and flushes them in one short write
 * transaction once it holds this many rows or inline bytes: memory stays
 * bounded, each flush holds SQLite's write lock for milliseconds (never
 * while a file is being read), and thousands of small files share one
 * commit. */
#define STORE_BATCH_PUTS  2000
#define STORE_BATCH_BYTES (16ull << 20)
/* Slots of the open-addressing set of pending digests: a power of two at
 * least twice STORE_BATCH_PUTS, so probes stay short. */
#define STORE_PEND_SLOTS 4096
/* Inline blobs are buffered whole while they are put, and SQLite refuses
 * values over 1 GB; a larger requested threshold is clamped to this. */
#define STORE_INLINE_MAX      (64ull << 20)
#define STORE_BUSY_MS         30000
#define STORE_CHUNK           (1u << 20)
#define STORE_DEFAULT_READERS 64
/* Longest store directory accepted, so that object and temp paths fit in
 * fixed PATH_MAX buffers. */
#define STORE_DIR_MAX (PATH_MAX - 128)

/* One pooled read-only connection with its own prepared statements. It is
 * used by one thread at a time (whoever borrowed it), so it is opened
 * without SQLite's own mutexes. */
typedef struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *lookup;    /* id, size, spilled WHERE digest = ?1 */
    sqlite3_stmt *ref_get;   /* digest WHERE name = ?1 */
    sqlite3_stmt *ref_list;  /* name, digest ORDER BY name */
    sqlite3_stmt *blob_page; /* id, digest, size, spilled WHERE id > ?1 LIMIT ?2 */
    struct store_conn *next; /* in the free list */
} store_conn;

/* A row a batch has accepted but not yet flushed to the database. */
typedef struct store_pending {
    strata_digest d;
    uint64_t size;
    void *data; /* inline: a malloc'd copy of the bytes (NULL when empty) */
    bool spilled;
} store_pending;

struct store {
    char *dir, *db_path, *obj_dir, *tmp_dir, *lock_path;
    uint64_t threshold;
    bool read_only;
    int lock_fd; /* holds LOCK_SH (LOCK_EX during gc); -1 when read-only */

    /* The single writer connection and everything below it are guarded by
     * wmu. */
    pthread_mutex_t wmu;
    sqlite3 *wdb;
    sqlite3_stmt *w_lookup; /* same columns as store_conn.lookup */
    sqlite3_stmt *w_insert;
    sqlite3_stmt *w_ref_set;
    sqlite3_stmt *w_ref_del;
    bool batch;       /* between store_batch_begin and _end */
    char *batch_fail; /* why the batch lost puts; sticky until _end */
    /* The batch's rows not yet flushed (STORE_BATCH_PUTS at most), their
     * inline bytes, and a set of their digests (index + 1 into pend, 0 =
     * empty slot) that makes dedup exact before they reach the database. */
    store_pending *pend;
    unsigned npend;
    bool rtxn; /* a read transaction for the batch's lookups is open */
    uint64_t pend_bytes;
    uint32_t *pend_set;
    /* objects/<xx> directories that got a spilled file whose rename is not
     * yet durable: fsynced before the next commit, once per directory
     * rather than once per spill. */
    uint8_t dirty_dirs[32];
    bool any_dirty;
    store_gc *gc; /* a collection in progress: puts are refused */

    /* Read-connection pool. */
    pthread_mutex_t pmu;
    pthread_cond_t pcv;
    store_conn *free_conns;
    int nconns, max_conns;
};

/* An error from SQLite on db (which may be NULL), naming what was being
 * done; the code and hint follow the SQLite result (full disk, busy,
 * corrupt...). Must run on the thread that saw rc, before db is used
 * again. */
strata_err *store_sqlerr(const store *s, sqlite3 *db, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Borrows a read connection, waiting while all max_readers are busy; each
 * statement it hands out must be reset before store_conn_put. */
strata_err *store_conn_get(store *s, store_conn **out);
void store_conn_put(store *s, store_conn *c);
void store_pool_destroy(store *s);

/* Runs a lookup statement (columns id, size, spilled; ?1 = digest) and
 * resets it. */
strata_err *store_lookup(const store *s, sqlite3 *db, sqlite3_stmt *st, const strata_digest *d,
                         bool *found, int64_t *id, uint64_t *size, bool *spilled);

/* <dir>/objects/<2 hex>/<62 hex> of d into out (PATH_MAX bytes). */
void store_object_path(const store *s, const strata_digest *d, char *out);

/* Errors for misuse of a handle opened read-only. */
strata_err *store_need_writable(const store *s, const char *what);

/* Takes the writer mutex for a write, refusing a read-only handle and a
 * handle whose gc is in progress. */
strata_err *store_wlock(store *s, const char *what);
/* Runs SQL on the writer connection; the caller holds wmu. */
strata_err *store_wexec(store *s, const char *sql);
/* Writes the open batch's pending rows in one short transaction (a no-op
 * when there are none). A failure loses them and poisons the batch, so
 * store_batch_end reports it. The caller holds wmu. */
strata_err *store_batch_flush(store *s);

/* Walks objects/ and counts (and, with remove, unlinks) the files that no
 * spilled row claims: leftovers of writers killed between rename and
 * commit, or of blobs a gc dropped. lookup has the store_lookup columns and
 * belongs to the caller's connection. Names that are not object names are
 * left alone. */
strata_err *store_stray_objects(const store *s, sqlite3 *db, sqlite3_stmt *lookup, bool remove,
                                uint64_t *count);
/* Counts (and, with remove, unlinks) the files in tmp/. */
strata_err *store_stray_temps(const store *s, bool remove, uint64_t *count);

#endif
