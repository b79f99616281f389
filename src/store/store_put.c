/* Putting blobs: hashing (always outside the writer mutex), keeping small
 * blobs inline, spilling large ones to files, and batching many puts.
 *
 * A batch never holds SQLite's write lock while it waits for anything: its
 * new rows (inline bytes copied) wait in a bounded in-memory buffer, with a
 * set of their digests that keeps dedup exact, and are written by one short
 * BEGIN IMMEDIATE ... COMMIT when the buffer fills or the batch ends. So an
 * import streaming a huge file never stalls another process's writes.
 *
 * Crash safety rests on one order: a spilled blob's bytes are written to a
 * temp file, fsynced, made read-only and renamed into objects/, and that
 * directory is fsynced, all before the commit that inserts its row. A blob
 * is addressable only through its row, so a killed writer leaves at most a
 * temp file or an object file without a row, both of which gc removes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_internal.h"

/* A temp file in tmp/ that becomes a spilled object. */
typedef struct spill {
    int fd;
    char path[PATH_MAX];
} spill;

static strata_err *spill_create(store *s, spill *sp)
{
    snprintf(sp->path, sizeof(sp->path), "%s/put.XXXXXX", s->tmp_dir);
    sp->fd = mkostemp(sp->path, O_CLOEXEC);
    if (sp->fd < 0)
        return strata_err_sys(errno, NULL, "create temp file in %s", s->tmp_dir);
    return NULL;
}

static void spill_discard(spill *sp)
{
    if (sp->fd >= 0) {
        close(sp->fd);
        unlink(sp->path);
        sp->fd = -1;
    }
}

/* fsyncs the objects/<xx> directories marked dirty, so that the renames
 * in them are durable before a commit makes their rows visible. Caller
 * holds wmu. */
static strata_err *sync_dirty_dirs(store *s)
{
    if (!s->any_dirty)
        return NULL;
    char dir[PATH_MAX];
    for (int i = 0; i < 256; i++) {
        if (!(s->dirty_dirs[i / 8] & (1u << (i % 8))))
            continue;
        snprintf(dir, sizeof(dir), "%s/%02x", s->obj_dir, i);
        strata_err *e = fs_fsync_dir(dir);
        if (e)
            return e;
        s->dirty_dirs[i / 8] &= (uint8_t) ~(1u << (i % 8));
    }
    s->any_dirty = false;
    return NULL;
}

/* Makes the temp file the object file of d. Runs outside the writer mutex:
 * fsync is the slow part of a spill, and other threads' puts need not wait
 * for it. The file's bytes are durable on return; the rename is made
 * durable here outside a batch, and in a batch by sync_dirty_dirs before
 * the commit that makes the row visible (one directory fsync per commit
 * instead of one per spill). */
static strata_err *spill_publish(store *s, spill *sp, const strata_digest *d)
{
    strata_err *e = NULL;
    if (fchmod(sp->fd, 0444) < 0)
        e = strata_err_sys(errno, NULL, "chmod %s", sp->path);
    else if (fsync(sp->fd) < 0)
        e = strata_err_sys(errno, NULL, "fsync %s", sp->path);
    if (e) {
        spill_discard(sp);
        return e;
    }
    close(sp->fd);
    sp->fd = -1;
    char obj[PATH_MAX];
    store_object_path(s, d, obj);
    char *slash = strrchr(obj, '/');
    int rc = rename(sp->path, obj);
    if (rc < 0 && errno == ENOENT) {
        /* The fan-out directory does not exist yet: make it durable too. */
        *slash = '\0';
        if (mkdir(obj, 0755) < 0 && errno != EEXIST)
            e = strata_err_sys(errno, NULL, "create directory %s", obj);
        else
            e = fs_fsync_dir(s->obj_dir);
        *slash = '/';
        if (!e)
            rc = rename(sp->path, obj);
    }
    if (!e && rc < 0)
        e = strata_err_sys(errno, NULL, "rename %s to %s", sp->path, obj);
    if (e) {
        unlink(sp->path);
        return e;
    }
    pthread_mutex_lock(&s->wmu);
    bool defer = s->batch;
    if (defer) {
        s->dirty_dirs[d->b[0] / 8] |= (uint8_t)(1u << (d->b[0] % 8));
        s->any_dirty = true;
    }
    pthread_mutex_unlock(&s->wmu);
    if (defer)
        return NULL;
    *slash = '\0';
    e = fs_fsync_dir(obj);
    *slash = '/';
    return e;
}

/* Takes the writer mutex, refusing puts that cannot happen now. */
static strata_err *writer_enter(store *s)
{
    strata_err *e = store_wlock(s, "store a blob");
    if (e)
        return e;
    if (s->batch_fail) {
        e = strata_err_new(STRATA_E_IO, NULL, "an earlier put of this batch failed: %s",
                           s->batch_fail);
        pthread_mutex_unlock(&s->wmu);
    }
    return e;
}

static void writer_leave(store *s)
{
    pthread_mutex_unlock(&s->wmu);
}

static char batch_oom[] = "out of memory";

/* Records that rows the batch had accepted were lost, so that the batch
 * fails as a whole at store_batch_end instead of reporting success for
 * puts that are not stored. Caller holds wmu. */
static void batch_poison(store *s, const strata_err *e)
{
    if (!s->batch_fail)
        s->batch_fail = strdup(e->msg);
    if (!s->batch_fail)
        s->batch_fail = batch_oom;
}

/* ---- the batch's pending rows ------------------------------------------ */

_Static_assert((STORE_PEND_SLOTS & (STORE_PEND_SLOTS - 1)) == 0 &&
                   STORE_PEND_SLOTS >= 2 * STORE_BATCH_PUTS,
               "the pending set is a power of two, at most half full");

/* A digest is uniformly distributed, so its first bytes are a good hash. */
static uint32_t pend_slot(const strata_digest *d)
{
    uint32_t h;
    memcpy(&h, d->b, sizeof(h));
    return h & (STORE_PEND_SLOTS - 1);
}

/* Is d among the rows the batch has accepted but not flushed? Caller
 * holds wmu. */
static bool pend_has(const store *s, const strata_digest *d)
{
    if (!s->pend_set)
        return false;
    for (uint32_t i = pend_slot(d);; i = (i + 1) & (STORE_PEND_SLOTS - 1)) {
        uint32_t v = s->pend_set[i];
        if (v == 0)
            return false;
        if (digest_eq(&s->pend[v - 1].d, d))
            return true;
    }
}

/* Forgets the pending rows, after a flush wrote them or lost them. */
static void pend_clear(store *s)
{
    for (unsigned i = 0; i < s->npend; i++)
        free(s->pend[i].data);
    s->npend = 0;
    s->pend_bytes = 0;
    if (s->pend_set)
        memset(s->pend_set, 0, STORE_PEND_SLOTS * sizeof(*s->pend_set));
}

/* Inserts one row on the writer connection, in whatever transaction is
 * open. INSERT OR IGNORE keeps a race with another process that stored the
 * same bytes harmless: both rows describe the same blob. *fresh says
 * whether this row was the one inserted. Caller holds wmu. */
static strata_err *w_insert_row(store *s, const strata_digest *d, uint64_t size, const void *data,
                                bool spilled, bool *fresh)
{
    sqlite3_stmt *st = s->w_insert;
    sqlite3_bind_blob(st, 1, d->b, DIGEST_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
    sqlite3_bind_int(st, 3, spilled);
    if (spilled)
        sqlite3_bind_null(st, 4);
    else if (size == 0)
        sqlite3_bind_zeroblob(st, 4, 0); /* a NULL pointer would bind NULL */
    else
        sqlite3_bind_blob64(st, 4, data, size, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    strata_err *e = NULL;
    if (rc != SQLITE_DONE) {
        char name[DIGEST_STR_LEN + 1];
        digest_format(d, name);
        e = store_sqlerr(s, s->wdb, rc, "insert blob %s", name);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!e && fresh)
        *fresh = sqlite3_changes(s->wdb) > 0;
    return e;
}

/* Ends the read transaction that the batch's lookups share (see
 * w_present), so that a flush can take the write lock on a fresh snapshot
 * and checkpoints are not held back. Caller holds wmu. */
static void w_end_read(store *s)
{
    if (s->rtxn && !sqlite3_get_autocommit(s->wdb))
        sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    s->rtxn = false;
}

strata_err *store_batch_flush(store *s)
{
    w_end_read(s);
    if (s->npend == 0)
        return NULL;
    /* The directory fsyncs come first, before the write lock is taken:
     * they are the slow part, and another process's flush need not wait
     * for them. They must precede the commit, which makes the spilled
     * rows visible. */
    strata_err *e = sync_dirty_dirs(s);
    if (!e)
        e = store_wexec(s, "BEGIN IMMEDIATE");
    for (unsigned i = 0; !e && i < s->npend; i++) {
        const store_pending *p = &s->pend[i];
        e = w_insert_row(s, &p->d, p->size, p->data, p->spilled, NULL);
    }
    if (!e)
        e = store_wexec(s, "COMMIT");
    if (e) {
        if (!sqlite3_get_autocommit(s->wdb))
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        batch_poison(s, e);
    }
    pend_clear(s);
    return e;
}

/* Accepts a new row into the batch (taking ownership of data) and flushes
 * once the buffer is full. The caller holds wmu and has checked that d is
 * neither pending nor stored. */
static strata_err *pend_add(store *s, const strata_digest *d, uint64_t size, void *data,
                            bool spilled)
{
    uint32_t idx = s->npend++;
    s->pend[idx] = (store_pending){.d = *d, .size = size, .data = data, .spilled = spilled};
    uint32_t i = pend_slot(d);
    while (s->pend_set[i])
        i = (i + 1) & (STORE_PEND_SLOTS - 1);
    s->pend_set[i] = idx + 1;
    if (!spilled)
        s->pend_bytes += size;
    if (s->npend >= STORE_BATCH_PUTS || s->pend_bytes >= STORE_BATCH_BYTES)
        return store_batch_flush(s);
    return NULL;
}

/* Is d stored, or accepted by the open batch? Caller holds wmu. */
static strata_err *w_present(store *s, const strata_digest *d, bool *present)
{
    *present = pend_has(s, d);
    if (*present)
        return NULL;
    /* One read transaction for the lookups between two flushes: outside a
     * transaction every lookup would take and drop WAL locks (two fcntl
     * calls each), which measured as a third of a small-file import. A
     * stale snapshot only makes a blob that another process stored since
     * look new; the flush's INSERT OR IGNORE keeps that harmless. */
    if (s->batch && !s->rtxn) {
        strata_err *e = store_wexec(s, "BEGIN");
        if (e)
            return e;
        s->rtxn = true;
    }
    int64_t id;
    uint64_t size;
    bool spilled;
    return store_lookup(s, s->wdb, s->w_lookup, d, present, &id, &size, &spilled);
}

/* Stores d's row: into the batch's buffer when a batch is open (copying
 * inline bytes, since the caller's buffer does not live that long), else
 * at once in its own transaction. Caller holds wmu. */
static strata_err *w_put(store *s, const strata_digest *d, uint64_t size, const void *data,
                         bool spilled, bool *was_new)
{
    strata_err *e;
    bool fresh = false;
    if (s->batch) {
        bool present = false;
        e = w_present(s, d, &present);
        if (!e && !present) {
            void *copy = NULL;
            if (!spilled && size > 0) {
                copy = malloc(size);
                if (!copy)
                    return strata_err_new(STRATA_E_NOMEM, NULL,
                                          "out of memory buffering a blob of %llu bytes",
                                          (unsigned long long)size);
                memcpy(copy, data, size);
            }
            fresh = true;
            e = pend_add(s, d, size, copy, spilled);
        }
    } else {
        /* A spill published during a batch that has ended since: its
         * rename must be durable before this autocommit. */
        e = spilled ? sync_dirty_dirs(s) : NULL;
        if (!e)
            e = w_insert_row(s, d, size, data, spilled, &fresh);
    }
    if (!e && was_new)
        *was_new = fresh;
    return e;
}

static strata_err *put_inline(store *s, const strata_digest *d, const void *data, size_t len,
                              bool *was_new)
{
    strata_err *e = writer_enter(s);
    if (e)
        return e;
    e = w_put(s, d, len, data, false, was_new);
    writer_leave(s);
    return e;
}

/* Is d stored already, or pending in the batch? Asked before a spill is
 * written or made durable, since a temp file and an fsync for bytes we
 * already have are wasted. */
static strata_err *spill_needed(store *s, const strata_digest *d, bool *needed)
{
    strata_err *e = writer_enter(s);
    if (e)
        return e;
    bool present = false;
    e = w_present(s, d, &present);
    writer_leave(s);
    *needed = !present;
    return e;
}

static strata_err *spill_commit(store *s, spill *sp, const strata_digest *d, uint64_t size,
                                bool *was_new)
{
    bool needed = false;
    strata_err *e = spill_needed(s, d, &needed);
    if (e || !needed) {
        spill_discard(sp);
        if (!e && was_new)
            *was_new = false;
        return e;
    }
    /* Another thread may publish the same bytes meanwhile: the second
     * rename replaces an identical file, and w_put counts the blob once. */
    e = spill_publish(s, sp, d);
    if (e)
        return e;
    e = writer_enter(s);
    if (e)
        return e;
    e = w_put(s, d, size, NULL, true, was_new);
    writer_leave(s);
    return e;
}

strata_err *store_put_buf(store *s, const void *data, size_t len, strata_digest *out, bool *was_new)
{
    strata_digest d;
    digest_buf(data, len, &d);
    strata_err *e;
    if (len <= s->threshold) {
        e = put_inline(s, &d, data, len, was_new);
    } else {
        /* The digest is known before anything is written, so a blob we
         * have already costs no temp file at all. */
        bool needed = false;
        e = spill_needed(s, &d, &needed);
        if (!e && !needed) {
            if (was_new)
                *was_new = false;
        } else if (!e) {
            spill sp;
            e = spill_create(s, &sp);
            if (!e) {
                e = fs_write_all(sp.fd, data, len, sp.path);
                if (e)
                    spill_discard(&sp);
            }
            if (!e)
                e = spill_commit(s, &sp, &d, len, was_new);
        }
    }
    if (e) {
        char name[DIGEST_STR_LEN + 1];
        digest_format(&d, name);
        return strata_err_wrap(e, "store %zu bytes as %s", len, name);
    }
    *out = d;
    return NULL;
}

static strata_err *read_some(int fd, void *buf, size_t len, const char *what, size_t *got)
{
    for (;;) {
        ssize_t r = read(fd, buf, len);
        if (r >= 0) {
            *got = (size_t)r;
            return NULL;
        }
        if (errno != EINTR)
            return strata_err_sys(errno, NULL, "read %s", what);
    }
}

/* Streams fd: bytes stay in memory while the total is at most the
 * threshold, and go to a temp file once it is passed, so memory stays
 * within max(threshold + 1, STORE_CHUNK) whatever the size. */
strata_err *store_put_fd(store *s, int fd, const char *what, strata_digest *out, uint64_t *size,
                         bool *was_new)
{
    strata_err *e = store_need_writable(s, "store a blob");
    if (e)
        return e;
    digest_ctx *dc = digest_begin();
    if (!dc)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory hashing %s", what);
    size_t lim = (size_t)s->threshold + 1;
    /* A regular file tells its size, which sizes the buffer exactly and
     * sends a large file straight to a temp file. It is only a hint: the
     * file may change while it is read. */
    struct stat st;
    bool big = false;
    size_t cap = lim < 65536 ? lim : 65536;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size >= lim)
            big = true;
        else
            cap = (size_t)st.st_size + 1;
    }
    if (big)
        cap = STORE_CHUNK;
    uint8_t *buf = malloc(cap);
    spill sp = {.fd = -1};
    size_t len = 0;
    uint64_t total = 0;
    if (!buf) {
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory reading %s", what);
        goto fail;
    }
    if (big && (e = spill_create(s, &sp)))
        goto fail;
    /* In memory, until end of file or the threshold is passed. */
    while (sp.fd < 0) {
        if (len == cap) {
            size_t ncap = cap * 2 < lim ? cap * 2 : lim;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory reading %s", what);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = 0;
        if ((e = read_some(fd, buf + len, cap - len, what, &got)))
            goto fail;
        if (got == 0)
            break;
        digest_update(dc, buf + len, got);
        len += got;
        if (len >= lim) {
            if ((e = spill_create(s, &sp)) || (e = fs_write_all(sp.fd, buf, len, sp.path)))
                goto fail;
            total = len;
            if (cap < STORE_CHUNK) {
                uint8_t *nb = realloc(buf, STORE_CHUNK);
                if (!nb) {
                    e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory reading %s", what);
                    goto fail;
                }
                buf = nb;
            }
            cap = STORE_CHUNK;
        }
    }
    /* Spilling: stream the rest through the temp file. */
    if (sp.fd >= 0) {
        for (;;) {
            size_t got = 0;
            if ((e = read_some(fd, buf, cap, what, &got)))
                goto fail;
            if (got == 0)
                break;
            digest_update(dc, buf, got);
            if ((e = fs_write_all(sp.fd, buf, got, sp.path)))
                goto fail;
            total += got;
        }
    } else {
        total = len;
    }
    strata_digest d;
    digest_end(dc, &d);
    dc = NULL;
    /* A file that shrank below the threshold while it was read stays
     * spilled: lookups go by digest, so where its bytes live is free. */
    if (sp.fd >= 0)
        e = spill_commit(s, &sp, &d, total, was_new);
    else
        e = put_inline(s, &d, buf, len, was_new);
    free(buf);
    if (e) {
        char name[DIGEST_STR_LEN + 1];
        digest_format(&d, name);
        return strata_err_wrap(e, "store %s as %s", what, name);
    }
    *out = d;
    if (size)
        *size = total;
    return NULL;
fail:
    digest_abort(dc);
    spill_discard(&sp);
    free(buf);
    return strata_err_wrap(e, "store %s", what);
}

strata_err *store_batch_begin(store *s)
{
    strata_err *e = store_need_writable(s, "begin a batch");
    if (e)
        return e;
    pthread_mutex_lock(&s->wmu);
    if (s->batch)
        e = strata_err_new(STRATA_E_INTERNAL, NULL, "store batches do not nest (store %s)", s->dir);
    else if (s->gc)
        e = strata_err_new(STRATA_E_BUSY, "wait for the garbage collection to finish",
                           "cannot store into %s while it is being garbage-collected", s->dir);
    if (!e) {
        s->pend = calloc(STORE_BATCH_PUTS, sizeof(*s->pend));
        s->pend_set = calloc(STORE_PEND_SLOTS, sizeof(*s->pend_set));
        if (!s->pend || !s->pend_set) {
            free(s->pend);
            free(s->pend_set);
            s->pend = NULL;
            s->pend_set = NULL;
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory starting a batch");
        }
    }
    if (!e) {
        s->batch = true;
        s->npend = 0;
        s->pend_bytes = 0;
    }
    pthread_mutex_unlock(&s->wmu);
    return e;
}

strata_err *store_batch_end(store *s)
{
    strata_err *e = store_need_writable(s, "end a batch");
    if (e)
        return e;
    pthread_mutex_lock(&s->wmu);
    if (!s->batch) {
        pthread_mutex_unlock(&s->wmu);
        return strata_err_new(STRATA_E_INTERNAL, NULL, "store_batch_end without a batch (store %s)",
                              s->dir);
    }
    if (!s->batch_fail) {
        e = store_batch_flush(s);
        if (e)
            e = strata_err_wrap(e, "store %s: a batch of puts was lost", s->dir);
    } else {
        e = strata_err_new(STRATA_E_IO, NULL, "store %s: a batch of puts was lost: %s", s->dir,
                           s->batch_fail);
    }
    pend_clear(s);
    free(s->pend);
    free(s->pend_set);
    s->pend = NULL;
    s->pend_set = NULL;
    if (s->batch_fail != batch_oom)
        free(s->batch_fail);
    s->batch_fail = NULL;
    s->batch = false;
    pthread_mutex_unlock(&s->wmu);
    return e;
}
