/* Reading blobs without ever loading one whole: inline blobs through
 * SQLite's incremental blob I/O on a borrowed connection, spilled blobs
 * with pread on a file opened once per reader. Readers see committed blobs
 * only: a batch's puts become readable when the batch flushes them (when
 * its buffer fills, at store_batch_end, or at a ref set). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_internal.h"

struct store_reader {
    store *s;
    strata_digest d;
    int64_t rowid;
    uint64_t size;
    int fd;     /* spilled: the object file; inline: -1 */
    char *path; /* spilled: the object file's path */
};

strata_err *store_lookup(const store *s, sqlite3 *db, sqlite3_stmt *st, const strata_digest *d,
                         bool *found, int64_t *id, uint64_t *size, bool *spilled)
{
    sqlite3_bind_blob(st, 1, d->b, DIGEST_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    strata_err *e = NULL;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *size = (uint64_t)sqlite3_column_int64(st, 1);
        *spilled = sqlite3_column_int(st, 2) != 0;
    } else if (rc != SQLITE_DONE) {
        char name[DIGEST_STR_LEN + 1];
        digest_format(d, name);
        e = store_sqlerr(s, db, rc, "look up blob %s", name);
    }
    sqlite3_reset(st);
    return e;
}

/* A lookup on a pooled connection. */
static strata_err *pool_lookup(store *s, const strata_digest *d, bool *found, int64_t *id,
                               uint64_t *size, bool *spilled)
{
    store_conn *c;
    strata_err *e = store_conn_get(s, &c);
    if (e)
        return e;
    e = store_lookup(s, c->db, c->lookup, d, found, id, size, spilled);
    store_conn_put(s, c);
    return e;
}

strata_err *store_has(store *s, const strata_digest *d, bool *present, uint64_t *size)
{
    int64_t id;
    uint64_t sz = 0;
    bool spilled;
    strata_err *e = pool_lookup(s, d, present, &id, &sz, &spilled);
    if (!e && size)
        *size = *present ? sz : 0;
    return e;
}

static strata_err *not_found(const strata_digest *d)
{
    char name[DIGEST_STR_LEN + 1];
    digest_format(d, name);
    return strata_err_new(STRATA_E_NOTFOUND,
                          "the store does not have this blob; run 'strata fsck', then "
                          "re-import the tree it belongs to",
                          "blob %s is not in the store", name);
}

strata_err *store_reader_open(store *s, const strata_digest *d, store_reader **out)
{
    *out = NULL;
    bool found, spilled;
    int64_t id;
    uint64_t size;
    strata_err *e = pool_lookup(s, d, &found, &id, &size, &spilled);
    if (e)
        return e;
    if (!found)
        return not_found(d);
    store_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory opening a blob");
    r->s = s;
    r->d = *d;
    r->rowid = id;
    r->size = size;
    r->fd = -1;
    if (!spilled) {
        *out = r;
        return NULL;
    }
    char path[PATH_MAX];
    store_object_path(s, d, path);
    r->path = strdup(path);
    if (!r->path) {
        free(r);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory opening a blob");
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) < 0) {
        int err = errno;
        char name[DIGEST_STR_LEN + 1];
        digest_format(d, name);
        if (err == ENOENT)
            e = strata_err_new(STRATA_E_CORRUPT,
                               "run 'strata fsck' to list damaged blobs, then re-import the "
                               "trees they belong to",
                               "blob %s: its file %s is missing", name, path);
        else
            e = strata_err_sys(err, NULL, "open blob %s (%s)", name, path);
    } else if ((uint64_t)st.st_size != size) {
        char name[DIGEST_STR_LEN + 1];
        digest_format(d, name);
        e = strata_err_new(STRATA_E_CORRUPT, NULL, "blob %s: its file %s has %llu bytes, not %llu",
                           name, path, (unsigned long long)st.st_size, (unsigned long long)size);
    }
    if (e) {
        store_reader_close(r);
        return e;
    }
    *out = r;
    return NULL;
}

uint64_t store_reader_size(const store_reader *r)
{
    return r->size;
}

const char *store_reader_path(const store_reader *r)
{
    return r->path;
}

void store_reader_close(store_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
}

static strata_err *reader_err(const store_reader *r, strata_code code, const char *problem)
{
    char name[DIGEST_STR_LEN + 1];
    digest_format(&r->d, name);
    return strata_err_new(code, NULL, "read blob %s: %s", name, problem);
}

/* The blob handle lives only inside this call, on the connection it was
 * opened on: a pooled handle would pin a read snapshot (stalling WAL
 * checkpoints) and tie the reader to one connection. */
static strata_err *read_inline(store_reader *r, void *buf, size_t n, uint64_t off)
{
    store *s = r->s;
    store_conn *c;
    strata_err *e = store_conn_get(s, &c);
    if (e)
        return e;
    sqlite3_blob *b = NULL;
    int rc = sqlite3_blob_open(c->db, "main", "blobs", "data", r->rowid, 0, &b);
    if (rc != SQLITE_OK) {
        char name[DIGEST_STR_LEN + 1];
        digest_format(&r->d, name);
        e = store_sqlerr(s, c->db, rc, "read blob %s", name);
    } else if ((uint64_t)sqlite3_blob_bytes(b) < off + n) {
        e = reader_err(r, STRATA_E_CORRUPT, "its stored bytes are shorter than its size");
    } else {
        while (n > 0 && !e) {
            int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
            rc = sqlite3_blob_read(b, buf, chunk, (int)off);
            if (rc != SQLITE_OK) {
                char name[DIGEST_STR_LEN + 1];
                digest_format(&r->d, name);
                e = store_sqlerr(s, c->db, rc, "read blob %s", name);
            }
            buf = (char *)buf + chunk;
            off += (uint64_t)chunk;
            n -= (size_t)chunk;
        }
    }
    sqlite3_blob_close(b);
    store_conn_put(s, c);
    return e;
}

/* store_reader_read, and its page-cache-only form (cached). */
static strata_err *reader_read(store_reader *r, void *buf, size_t len, uint64_t off, size_t *got,
                               bool cached)
{
    *got = 0;
    if (off >= r->size || len == 0)
        return NULL;
    size_t n = r->size - off < len ? (size_t)(r->size - off) : len;
    strata_err *e;
    if (r->fd < 0) {
        e = read_inline(r, buf, n, off);
        if (!e)
            *got = n;
        return e;
    }
    size_t g = 0;
    e = cached ? fs_pread_cached(r->fd, buf, n, off, &g, r->path)
               : fs_pread_full(r->fd, buf, n, off, &g, r->path);
    if (e)
        return e;
    if (g < n)
        return reader_err(r, STRATA_E_CORRUPT, "its file is shorter than its size");
    *got = g;
    return NULL;
}

strata_err *store_reader_read(store_reader *r, void *buf, size_t len, uint64_t off, size_t *got)
{
    return reader_read(r, buf, len, off, got, false);
}

strata_err *store_reader_read_cached(store_reader *r, void *buf, size_t len, uint64_t off,
                                     size_t *got)
{
    return reader_read(r, buf, len, off, got, true);
}

strata_err *store_get_buf(store *s, const strata_digest *d, size_t max, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    store_reader *r;
    strata_err *e = store_reader_open(s, d, &r);
    if (e)
        return e;
    if (r->size > max) {
        char name[DIGEST_STR_LEN + 1];
        digest_format(d, name);
        e = strata_err_new(STRATA_E_INVALID, NULL,
                           "blob %s has %llu bytes, more than the %zu allowed", name,
                           (unsigned long long)r->size, max);
        store_reader_close(r);
        return e;
    }
    size_t n = (size_t)r->size;
    void *p = malloc(n ? n : 1);
    if (!p) {
        store_reader_close(r);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory reading a blob of %zu bytes", n);
    }
    size_t got = 0;
    e = store_reader_read(r, p, n, 0, &got);
    store_reader_close(r);
    if (e) {
        free(p);
        return e;
    }
    *data = p;
    *len = got;
    return NULL;
}
