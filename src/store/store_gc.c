/* Garbage collection. The layer above marks what its refs reach; the store
 * then deletes every other row and file. The exclusive lock on <dir>/lock
 * (writers hold it shared) means no writer in any process can insert a
 * blob the marking did not see. Rows are deleted and committed before their
 * files are unlinked, so a crash mid-sweep leaves files without rows (which
 * the next gc removes), never rows without files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/store_internal.h"

struct store_gc {
    store *s;
    sqlite3_stmt *mark;
};

static bool is_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

static strata_err *stray_dir(const store *s, int dfd, const char *sub, sqlite3 *db,
                             sqlite3_stmt *lookup, bool remove, uint64_t *count)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int err = errno;
        close(dfd);
        return strata_err_sys(err, NULL, "open directory %s/%s", s->obj_dir, sub);
    }
    strata_err *e = NULL;
    struct dirent *de;
    char hex[DIGEST_HEX_LEN];
    memcpy(hex, sub, 2);
    while (!e && (de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != DIGEST_HEX_LEN - 2 || !is_hex(de->d_name, DIGEST_HEX_LEN - 2))
            continue;
        memcpy(hex + 2, de->d_name, DIGEST_HEX_LEN - 2);
        strata_digest dg;
        if (!digest_from_hex(hex, DIGEST_HEX_LEN, &dg))
            continue;
        bool found = false, spilled = false;
        int64_t id;
        uint64_t size;
        e = store_lookup(s, db, lookup, &dg, &found, &id, &size, &spilled);
        if (e || (found && spilled))
            continue;
        (*count)++;
        if (remove && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
            e = strata_err_sys(errno, NULL, "remove %s/%s/%s", s->obj_dir, sub, de->d_name);
    }
    closedir(d);
    return e;
}

strata_err *store_stray_objects(const store *s, sqlite3 *db, sqlite3_stmt *lookup, bool remove,
                                uint64_t *count)
{
    *count = 0;
    DIR *d = opendir(s->obj_dir);
    if (!d) {
        if (errno == ENOENT)
            return NULL;
        return strata_err_sys(errno, NULL, "open directory %s", s->obj_dir);
    }
    strata_err *e = NULL;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 2 || !is_hex(de->d_name, 2))
            continue;
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT && errno != ENOTDIR)
                e = strata_err_sys(errno, NULL, "open directory %s/%s", s->obj_dir, de->d_name);
            continue;
        }
        e = stray_dir(s, fd, de->d_name, db, lookup, remove, count);
    }
    closedir(d);
    return e;
}

strata_err *store_stray_temps(const store *s, bool remove, uint64_t *count)
{
    *count = 0;
    DIR *d = opendir(s->tmp_dir);
    if (!d) {
        if (errno == ENOENT)
            return NULL;
        return strata_err_sys(errno, NULL, "open directory %s", s->tmp_dir);
    }
    strata_err *e = NULL;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        (*count)++;
        if (remove && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
            e = strata_err_sys(errno, NULL, "remove %s/%s", s->tmp_dir, de->d_name);
    }
    closedir(d);
    return e;
}

/* flock cannot convert a lock atomically: a failed LOCK_EX|LOCK_NB has
 * already dropped our shared lock, so it is taken back (it can only block
 * on another gc that slipped in between). */
static void lock_restore_shared(store *s)
{
    while (flock(s->lock_fd, LOCK_SH) < 0 && errno == EINTR)
        ;
}

strata_err *store_gc_begin(store *s, store_gc **out)
{
    *out = NULL;
    strata_err *e = store_wlock(s, "collect garbage");
    if (e)
        return e;
    if (s->batch) {
        pthread_mutex_unlock(&s->wmu);
        return strata_err_new(STRATA_E_BUSY, "finish the import first",
                              "cannot collect garbage in %s during an import", s->dir);
    }
    int rc;
    while ((rc = flock(s->lock_fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        int err = errno;
        lock_restore_shared(s);
        pthread_mutex_unlock(&s->wmu);
        if (err == EWOULDBLOCK)
            return strata_err_new(STRATA_E_BUSY,
                                  "another strata process is writing to the store (an import?); "
                                  "retry 'strata gc' when it has finished",
                                  "store %s is in use by another writer", s->dir);
        return strata_err_sys(err, NULL, "lock %s", s->lock_path);
    }
    store_gc *g = calloc(1, sizeof(*g));
    if (!g)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory starting gc");
    if (!e)
        e = store_wexec(s, "CREATE TEMP TABLE IF NOT EXISTS gc_mark(digest BLOB PRIMARY KEY)"
                           " WITHOUT ROWID; DELETE FROM temp.gc_mark; BEGIN");
    if (!e) {
        g->s = s;
        rc = sqlite3_prepare_v2(s->wdb, "INSERT OR IGNORE INTO temp.gc_mark VALUES (?1)", -1,
                                &g->mark, NULL);
        if (rc != SQLITE_OK) {
            e = store_sqlerr(s, s->wdb, rc, "start gc");
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    if (e) {
        free(g);
        lock_restore_shared(s);
        pthread_mutex_unlock(&s->wmu);
        return e;
    }
    s->gc = g;
    pthread_mutex_unlock(&s->wmu);
    *out = g;
    return NULL;
}

strata_err *store_gc_mark(store_gc *g, const strata_digest *d)
{
    store *s = g->s;
    pthread_mutex_lock(&s->wmu);
    sqlite3_bind_blob(g->mark, 1, d->b, DIGEST_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(g->mark);
    strata_err *e = NULL;
    if (rc != SQLITE_DONE)
        e = store_sqlerr(s, s->wdb, rc, "gc: mark a blob");
    sqlite3_reset(g->mark);
    pthread_mutex_unlock(&s->wmu);
    return e;
}

/* Ends the collection: rolls back whatever is still open and gives the
 * exclusive lock back. Caller holds wmu. */
static void gc_end(store_gc *g)
{
    store *s = g->s;
    sqlite3_finalize(g->mark);
    if (!sqlite3_get_autocommit(s->wdb))
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(s->wdb, "DROP TABLE IF EXISTS temp.gc_mark", NULL, NULL, NULL);
    lock_restore_shared(s);
    s->gc = NULL;
    free(g);
}

void store_gc_abort(store_gc *g)
{
    if (!g)
        return;
    store *s = g->s;
    pthread_mutex_lock(&s->wmu);
    gc_end(g);
    pthread_mutex_unlock(&s->wmu);
}

static strata_err *gc_stats(store *s, store_gc_stats *st)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->wdb,
                                "SELECT m.digest IS NOT NULL, count(*), total(b.size)"
                                " FROM blobs b LEFT JOIN temp.gc_mark m ON m.digest = b.digest"
                                " GROUP BY 1",
                                -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = SQLITE_ROW;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        uint64_t n = (uint64_t)sqlite3_column_int64(q, 1);
        uint64_t bytes = (uint64_t)sqlite3_column_double(q, 2);
        if (sqlite3_column_int(q, 0)) {
            st->blobs_kept = n;
            st->bytes_kept = bytes;
        } else {
            st->blobs_removed = n;
            st->bytes_removed = bytes;
        }
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return store_sqlerr(s, s->wdb, rc, "gc: count blobs");
    return NULL;
}

/* The digests of the unmarked spilled blobs, whose files go once their
 * rows are gone. */
static strata_err *gc_doomed_files(store *s, strata_digest **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->wdb,
                                "SELECT digest FROM blobs b WHERE spilled AND NOT EXISTS"
                                " (SELECT 1 FROM temp.gc_mark m WHERE m.digest = b.digest)",
                                -1, &q, NULL);
    strata_err *e = NULL;
    if (rc == SQLITE_OK)
        rc = SQLITE_ROW;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(q, 0) != DIGEST_LEN)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            strata_digest *nd = realloc(*out, cap * sizeof(*nd));
            if (!nd) {
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory during gc");
                break;
            }
            *out = nd;
        }
        memcpy((*out)[(*n)++].b, sqlite3_column_blob(q, 0), DIGEST_LEN);
    }
    if (!e && rc != SQLITE_DONE)
        e = store_sqlerr(s, s->wdb, rc, "gc: list spilled blobs");
    sqlite3_finalize(q);
    return e;
}

strata_err *store_gc_sweep(store_gc *g, bool dry_run, store_gc_stats *stats)
{
    store *s = g->s;
    store_gc_stats st = {0};
    strata_digest *doomed = NULL;
    size_t ndoomed = 0;
    uint64_t strays = 0, temps = 0;
    pthread_mutex_lock(&s->wmu);
    /* A ref never dangles because of gc, even if the caller's marking
     * missed its target. */
    strata_err *e = store_wexec(s, "INSERT OR IGNORE INTO temp.gc_mark SELECT digest FROM refs");
    if (!e)
        e = gc_stats(s, &st);
    if (e || dry_run)
        goto out;
    if ((e = gc_doomed_files(s, &doomed, &ndoomed)))
        goto out;
    e = store_wexec(s, "DELETE FROM blobs WHERE NOT EXISTS"
                       " (SELECT 1 FROM temp.gc_mark m WHERE m.digest = blobs.digest)");
    if (!e)
        e = store_wexec(s, "COMMIT");
    if (e)
        goto out;
    for (size_t i = 0; i < ndoomed && !e; i++) {
        char path[PATH_MAX];
        store_object_path(s, &doomed[i], path);
        if (unlink(path) < 0 && errno != ENOENT)
            e = strata_err_sys(errno, NULL, "gc: remove %s", path);
    }
out:
    /* Stray files are counted in a dry run too, but only removed for real;
     * the doomed blobs' files are already gone, so they are not counted. */
    if (!e)
        e = store_stray_objects(s, s->wdb, s->w_lookup, !dry_run, &strays);
    if (!e)
        e = store_stray_temps(s, !dry_run, &temps);
    free(doomed);
    gc_end(g);
    if (!e && !dry_run) {
        /* Hand the freed pages back to the file system; failing here
         * loses nothing, so it is not an error. */
        sqlite3_exec(s->wdb, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
        sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    pthread_mutex_unlock(&s->wmu);
    if (e)
        return strata_err_wrap(e, "gc of %s", s->dir);
    st.temp_files_removed = strays + temps;
    if (stats)
        *stats = st;
    return NULL;
}
