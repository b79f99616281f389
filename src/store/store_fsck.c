/* Checking the store: every blob is re-hashed, streaming, and compared with
 * its digest and recorded size. Rows are taken in rowid order, a page at a
 * time, by up to two worker threads (hashing is CPU-bound, and the
 * machines this runs on have few cores). Also listing every blob. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

#define FSCK_PAGE 64
#define FSCK_BUF  (256u << 10)

typedef struct blob_row {
    int64_t id;
    strata_digest d;
    uint64_t size;
    bool spilled;
} blob_row;

/* Reads the next page of rows after *after into rows, on a borrowed
 * connection that is returned before the rows are used. */
static strata_err *next_page(store *s, int64_t *after, blob_row *rows, size_t *n)
{
    *n = 0;
    store_conn *c;
    strata_err *e = store_conn_get(s, &c);
    if (e)
        return e;
    sqlite3_stmt *st = c->blob_page;
    sqlite3_bind_int64(st, 1, *after);
    sqlite3_bind_int(st, 2, FSCK_PAGE);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        blob_row *r = &rows[*n];
        r->id = sqlite3_column_int64(st, 0);
        *after = r->id;
        if (sqlite3_column_bytes(st, 1) != DIGEST_LEN) {
            e = strata_err_new(STRATA_E_CORRUPT, NULL, "%s: blob row %lld has a malformed digest",
                               s->db_path, (long long)r->id);
            break;
        }
        memcpy(r->d.b, sqlite3_column_blob(st, 1), DIGEST_LEN);
        r->size = (uint64_t)sqlite3_column_int64(st, 2);
        r->spilled = sqlite3_column_int(st, 3) != 0;
        (*n)++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_sqlerr(s, c->db, rc, "list blobs");
    sqlite3_reset(st);
    store_conn_put(s, c);
    return e;
}

strata_err *store_blob_list(store *s, store_blob_fn fn, void *ctx)
{
    blob_row rows[FSCK_PAGE];
    int64_t after = 0;
    for (;;) {
        size_t n;
        strata_err *e = next_page(s, &after, rows, &n);
        if (e)
            return e;
        if (n == 0)
            return NULL;
        for (size_t i = 0; i < n; i++)
            if (!fn(ctx, &rows[i].d, rows[i].size))
                return NULL;
    }
}

typedef struct fsck_job {
    store *s;
    store_fsck_fn fn;
    void *ctx;
    pthread_mutex_t mu; /* guards everything below, and calls to fn */
    int64_t after;
    bool done;
    strata_err *err;
    store_fsck_stats stats;
} fsck_job;

typedef struct verdict {
    bool bad;
    store_fsck_problem problem;
    char detail[PATH_MAX + 128];
} verdict;

static void found(verdict *v, store_fsck_problem p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void found(verdict *v, store_fsck_problem p, const char *fmt, ...)
{
    v->bad = true;
    v->problem = p;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
}

static void hashed(verdict *v, const blob_row *r, const strata_digest *got)
{
    if (digest_eq(got, &r->d))
        return;
    char name[DIGEST_STR_LEN + 1];
    digest_format(got, name);
    found(v, STORE_FSCK_MISMATCH, "its bytes hash to %s", name);
}

static void check_inline(store *s, const blob_row *r, uint8_t *buf, verdict *v)
{
    store_conn *c;
    strata_err *e = store_conn_get(s, &c);
    if (e) {
        found(v, STORE_FSCK_UNREADABLE, "%s", e->msg);
        strata_err_free(e);
        return;
    }
    sqlite3_blob *b = NULL;
    int rc = sqlite3_blob_open(c->db, "main", "blobs", "data", r->id, 0, &b);
    if (rc != SQLITE_OK) {
        found(v, STORE_FSCK_UNREADABLE, "cannot open its row: %s", sqlite3_errmsg(c->db));
        goto out;
    }
    uint64_t have = (uint64_t)sqlite3_blob_bytes(b);
    if (have != r->size) {
        found(v, STORE_FSCK_SIZE, "recorded as %" PRIu64 " bytes, holds %" PRIu64, r->size, have);
        goto out;
    }
    digest_ctx *dc = digest_begin();
    if (!dc) {
        found(v, STORE_FSCK_UNREADABLE, "out of memory");
        goto out;
    }
    for (uint64_t off = 0; off < have;) {
        int n = have - off < FSCK_BUF ? (int)(have - off) : (int)FSCK_BUF;
        rc = sqlite3_blob_read(b, buf, n, (int)off);
        if (rc != SQLITE_OK) {
            found(v, STORE_FSCK_UNREADABLE, "read at %" PRIu64 ": %s", off, sqlite3_errmsg(c->db));
            digest_abort(dc);
            goto out;
        }
        digest_update(dc, buf, (size_t)n);
        off += (uint64_t)n;
    }
    strata_digest got;
    digest_end(dc, &got);
    hashed(v, r, &got);
out:
    sqlite3_blob_close(b);
    store_conn_put(s, c);
}

static void check_spilled(store *s, const blob_row *r, uint8_t *buf, verdict *v)
{
    char path[PATH_MAX];
    store_object_path(s, &r->d, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            found(v, STORE_FSCK_MISSING, "its file %s is missing", path);
        else
            found(v, STORE_FSCK_UNREADABLE, "open %s: %s", path, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        found(v, STORE_FSCK_UNREADABLE, "stat %s: %s", path, strerror(errno));
    } else if ((uint64_t)st.st_size != r->size) {
        found(v, STORE_FSCK_SIZE, "recorded as %" PRIu64 " bytes, its file %s has %lld", r->size,
              path, (long long)st.st_size);
    } else {
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        digest_ctx *dc = digest_begin();
        uint64_t total = 0;
        while (dc) {
            ssize_t n = read(fd, buf, FSCK_BUF);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                found(v, STORE_FSCK_UNREADABLE, "read %s: %s", path, strerror(errno));
                break;
            }
            if (n == 0)
                break;
            digest_update(dc, buf, (size_t)n);
            total += (uint64_t)n;
        }
        if (!dc) {
            found(v, STORE_FSCK_UNREADABLE, "out of memory");
        } else if (v->bad) {
            digest_abort(dc);
        } else if (total != r->size) {
            digest_abort(dc);
            found(v, STORE_FSCK_SIZE, "recorded as %" PRIu64 " bytes, read %" PRIu64 " from %s",
                  r->size, total, path);
        } else {
            strata_digest got;
            digest_end(dc, &got);
            hashed(v, r, &got);
        }
    }
    close(fd);
}

static void *fsck_worker(void *arg)
{
    fsck_job *j = arg;
    store *s = j->s;
    uint8_t *buf = malloc(FSCK_BUF);
    blob_row rows[FSCK_PAGE];
    pthread_mutex_lock(&j->mu);
    if (!buf && !j->err)
        j->err = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory checking %s", s->dir);
    while (!j->done && !j->err) {
        /* Pages are fetched under the job mutex, so the two workers take
         * disjoint pages in rowid order. */
        size_t n = 0;
        j->err = next_page(s, &j->after, rows, &n);
        if (n == 0)
            j->done = true;
        if (j->done || j->err)
            break;
        pthread_mutex_unlock(&j->mu);
        for (size_t i = 0; i < n; i++) {
            verdict v = {.bad = false};
            if (rows[i].spilled)
                check_spilled(s, &rows[i], buf, &v);
            else
                check_inline(s, &rows[i], buf, &v);
            pthread_mutex_lock(&j->mu);
            j->stats.blobs++;
            j->stats.bytes += rows[i].size;
            if (v.bad) {
                j->stats.bad++;
                if (j->fn)
                    j->fn(j->ctx, &rows[i].d, v.problem, v.detail);
            }
            pthread_mutex_unlock(&j->mu);
        }
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    free(buf);
    return NULL;
}

strata_err *store_fsck(store *s, store_fsck_fn fn, void *ctx, store_fsck_stats *stats)
{
    fsck_job j = {.s = s, .fn = fn, .ctx = ctx};
    pthread_mutex_init(&j.mu, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t helper;
    bool two = cpus > 1 && s->max_conns > 1 && pthread_create(&helper, NULL, fsck_worker, &j) == 0;
    fsck_worker(&j);
    if (two)
        pthread_join(helper, NULL);
    pthread_mutex_destroy(&j.mu);
    if (j.err)
        return strata_err_wrap(j.err, "fsck of %s", s->dir);
    /* Leftovers of killed writers: temp files, and object files no row
     * claims. Harmless; gc removes them. */
    uint64_t strays = 0, temps = 0;
    store_conn *c;
    strata_err *e = store_conn_get(s, &c);
    if (e)
        return e;
    e = store_stray_objects(s, c->db, c->lookup, false, &strays);
    store_conn_put(s, c);
    if (!e)
        e = store_stray_temps(s, false, &temps);
    if (e)
        return strata_err_wrap(e, "fsck of %s", s->dir);
    j.stats.temp_files = strays + temps;
    if (stats)
        *stats = j.stats;
    return NULL;
}
