/* Opening and closing the embedded store: directories, the shared lock that
 * keeps gc away from writers, the SQLite writer connection and the schema,
 * and the SQLite-to-strata_err mapping every other store file uses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_internal.h"

/* The blobs table keeps data last: SQLite stores a row's columns in order,
 * so reading id/size/spilled never touches a large value's overflow pages.
 * It is a rowid table because incremental blob I/O addresses rows by rowid. */
static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE blobs(id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE,"
    " size INTEGER NOT NULL, spilled INTEGER NOT NULL, data BLOB);"
    "CREATE TABLE refs(name TEXT PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID;";

strata_err *store_sqlerr(const store *s, sqlite3 *db, int rc, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    const char *where = s ? s->db_path : "store";
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int sys = db ? sqlite3_system_errno(db) : 0;
    strata_err *e;
    switch (rc & 0xff) {
    case SQLITE_FULL:
        e = strata_err_new(STRATA_E_NOSPACE, NULL, "%s: %s: %s", where, what ? what : "", msg);
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        e = strata_err_new(STRATA_E_BUSY,
                           "another strata process kept the store busy for too long; "
                           "wait for it to finish and retry",
                           "%s: %s: %s", where, what ? what : "", msg);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        e = strata_err_new(STRATA_E_CORRUPT,
                           "the store's database is damaged; move the store directory "
                           "aside and re-import your trees",
                           "%s: %s: %s", where, what ? what : "", msg);
        break;
    case SQLITE_NOMEM:
        e = strata_err_new(STRATA_E_NOMEM, NULL, "%s: %s: %s", where, what ? what : "", msg);
        break;
    case SQLITE_READONLY:
        e = strata_err_new(STRATA_E_IO,
                           "the store is not writable: check the permissions of its "
                           "directory and files",
                           "%s: %s: %s", where, what ? what : "", msg);
        break;
    case SQLITE_TOOBIG:
        e = strata_err_new(STRATA_E_INVALID, "this is a bug in strata; please report it",
                           "%s: %s: %s", where, what ? what : "", msg);
        break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (sys) {
            e = strata_err_sys(sys, NULL, "%s: %s (sqlite: %s)", where, what ? what : "", msg);
            break;
        }
        /* fall through */
    default:
        e = strata_err_new(STRATA_E_IO, NULL, "%s: %s: %s", where, what ? what : "", msg);
        break;
    }
    free(what);
    return e;
}

strata_err *store_need_writable(const store *s, const char *what)
{
    if (!s->read_only)
        return NULL;
    return strata_err_new(STRATA_E_INVALID,
                          "this is a bug in strata: the command opened the store read-only",
                          "cannot %s: the store %s was opened read-only", what, s->dir);
}

strata_err *store_wlock(store *s, const char *what)
{
    strata_err *e = store_need_writable(s, what);
    if (e)
        return e;
    pthread_mutex_lock(&s->wmu);
    if (s->gc) {
        pthread_mutex_unlock(&s->wmu);
        return strata_err_new(STRATA_E_BUSY, "wait for the garbage collection to finish",
                              "cannot %s in %s while it is being garbage-collected", what, s->dir);
    }
    return NULL;
}

strata_err *store_wexec(store *s, const char *sql)
{
    int rc = sqlite3_exec(s->wdb, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return store_sqlerr(s, s->wdb, rc, "%s", sql);
    return NULL;
}

void store_object_path(const store *s, const strata_digest *d, char *out)
{
    char hex[DIGEST_HEX_LEN + 1];
    digest_to_hex(d, hex);
    snprintf(out, PATH_MAX, "%s/%.2s/%s", s->obj_dir, hex, hex + 2);
}

const char *store_dir(const store *s)
{
    return s->dir;
}

uint64_t store_spill_threshold(const store *s)
{
    return s->threshold;
}

/* One integer from a one-row query on the writer; *null when it is NULL. */
static strata_err *query_int(store *s, const char *sql, int64_t *v, bool *null)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    strata_err *e = NULL;
    if (rc == SQLITE_ROW) {
        *null = sqlite3_column_type(st, 0) == SQLITE_NULL;
        *v = sqlite3_column_int64(st, 0);
    } else {
        e = store_sqlerr(s, s->wdb, rc, "read the schema");
    }
    sqlite3_finalize(st);
    return e;
}

/* Refuses a database that is somebody else's, or ours from a newer
 * strata; *empty says it has no tables yet. Used before anything is changed
 * (even the journal mode), and again inside the creating transaction. */
static strata_err *schema_check(store *s, bool *empty)
{
    int64_t ntables = 0, has_meta = 0, version = 0;
    bool null = false;
    strata_err *e = query_int(s, "SELECT count(*) FROM sqlite_master", &ntables, &null);
    if (!e)
        e = query_int(s,
                      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                      &has_meta, &null);
    if (!e && has_meta)
        e = query_int(s, "SELECT max(value) FROM meta WHERE key = 'schema'", &version, &null);
    if (e)
        return e;
    *empty = ntables == 0;
    if (ntables > 0 && (!has_meta || null))
        return strata_err_new(STRATA_E_CORRUPT,
                              "point strata at a directory of its own (the 'store' setting "
                              "or STRATA_STORE)",
                              "%s is an SQLite database but not a strata store", s->db_path);
    if (version > STORE_SCHEMA_VERSION)
        return strata_err_new(STRATA_E_UNSUPPORTED,
                              "upgrade strata to the version that wrote this store, or use "
                              "another store directory",
                              "store %s has schema version %lld, newer than this strata "
                              "understands (%d)",
                              s->dir, (long long)version, STORE_SCHEMA_VERSION);
    return NULL;
}

/* Creates the schema in a new database, in an IMMEDIATE transaction so
 * that two processes creating the same store at once cannot both do it.
 * Only called when the first check found no tables: BEGIN IMMEDIATE waits
 * for any other writer's transaction, and opening an existing store (for
 * gc, say) must not wait for another process's write. */
static strata_err *schema_init(store *s)
{
    strata_err *e = store_wexec(s, "BEGIN IMMEDIATE");
    if (e)
        return e;
    bool empty = false;
    e = schema_check(s, &empty);
    if (!e && empty) {
        e = store_wexec(s, schema_sql);
        if (!e) {
            char sql[96];
            snprintf(sql, sizeof(sql), "INSERT INTO meta VALUES ('schema', %d)",
                     STORE_SCHEMA_VERSION);
            e = store_wexec(s, sql);
        }
    }
    if (!e)
        e = store_wexec(s, "COMMIT");
    if (e)
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return e;
}

static strata_err *prepare(store *s, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v3(s->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK)
        return store_sqlerr(s, s->wdb, rc, "prepare %s", sql);
    return NULL;
}

static strata_err *writer_open(store *s)
{
    struct stat st;
    bool fresh = stat(s->db_path, &st) < 0 || st.st_size == 0;
    int rc =
        sqlite3_open_v2(s->db_path, &s->wdb,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return store_sqlerr(s, s->wdb, rc, "open");
    sqlite3_extended_result_codes(s->wdb, 1);
    sqlite3_busy_timeout(s->wdb, STORE_BUSY_MS);
    strata_err *e = NULL;
    /* Incremental auto-vacuum lets gc hand freed pages back to the file
     * system; it can only be chosen before the first table exists. */
    if (fresh)
        e = store_wexec(s, "PRAGMA auto_vacuum = INCREMENTAL");
    bool empty = false;
    if (!e)
        e = schema_check(s, &empty);
    if (!e) {
        sqlite3_stmt *jm = NULL;
        rc = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode = WAL", -1, &jm, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(jm);
        if (rc != SQLITE_ROW)
            e = store_sqlerr(s, s->wdb, rc, "switch to WAL mode");
        else if (strcmp((const char *)sqlite3_column_text(jm, 0), "wal") != 0)
            e = strata_err_new(STRATA_E_UNSUPPORTED,
                               "keep the store on a local file system (WAL mode needs shared "
                               "memory, which network file systems lack)",
                               "%s: cannot use WAL mode (got journal mode '%s')", s->db_path,
                               (const char *)sqlite3_column_text(jm, 0));
        sqlite3_finalize(jm);
    }
    /* NORMAL is consistent in WAL mode: a crash may lose the last commits
     * but never tears one, and spilled files are fsynced before their row
     * is inserted. */
    if (!e)
        e = store_wexec(s, "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;"
                           "PRAGMA journal_size_limit = 67108864");
    if (!e && empty)
        e = schema_init(s);
    if (!e)
        e = prepare(s, "SELECT id, size, spilled FROM blobs WHERE digest = ?1", &s->w_lookup);
    if (!e)
        e = prepare(s,
                    "INSERT OR IGNORE INTO blobs(digest, size, spilled, data)"
                    " VALUES (?1, ?2, ?3, ?4)",
                    &s->w_insert);
    if (!e)
        e = prepare(s, "INSERT OR REPLACE INTO refs(name, digest) VALUES (?1, ?2)", &s->w_ref_set);
    if (!e)
        e = prepare(s, "DELETE FROM refs WHERE name = ?1", &s->w_ref_del);
    return e;
}

/* Writers hold the lock shared, so any number of imports run at once while
 * gc, which takes it exclusively, waits for none of them and races none. */
static strata_err *lock_shared(store *s)
{
    s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0)
        return strata_err_sys(errno, NULL, "open lock file %s", s->lock_path);
    while (flock(s->lock_fd, LOCK_SH | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            return strata_err_new(STRATA_E_BUSY,
                                  "'strata gc' is running on this store; retry when it ends",
                                  "store %s is locked for garbage collection", s->dir);
        return strata_err_sys(errno, NULL, "lock %s", s->lock_path);
    }
    return NULL;
}

/* The schema check of a read-only open, on a pooled connection (a
 * read-only handle has no writer connection). */
static strata_err *check_readonly(store *s)
{
    store_conn *c;
    strata_err *e = store_conn_get(s, &c);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > STORE_SCHEMA_VERSION)
        e = strata_err_new(STRATA_E_UNSUPPORTED,
                           "upgrade strata to the version that wrote this store, or use "
                           "another store directory",
                           "store %s has schema version %lld, newer than this strata "
                           "understands (%d)",
                           s->dir, (long long)sqlite3_column_int64(st, 0), STORE_SCHEMA_VERSION);
    else if (rc != SQLITE_ROW)
        e = store_sqlerr(s, c->db, rc, "read the schema version");
    sqlite3_finalize(st);
    store_conn_put(s, c);
    return e;
}

strata_err *store_open(const char *dir, const store_opts *opts, store **out)
{
    *out = NULL;
    store_opts o = {0};
    if (opts)
        o = *opts;
    if (!sqlite3_threadsafe())
        return strata_err_new(STRATA_E_UNSUPPORTED,
                              "rebuild strata against an SQLite built with threads",
                              "this SQLite library was built without thread support");
    if (strlen(dir) > STORE_DIR_MAX)
        return strata_err_new(STRATA_E_INVALID, "choose a shorter store path",
                              "store path '%.60s...' is too long", dir);
    store *s = calloc(1, sizeof(*s));
    if (!s)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory opening store %s", dir);
    s->lock_fd = -1;
    s->read_only = o.read_only;
    s->threshold = o.spill_threshold ? o.spill_threshold : STORE_SPILL_DEFAULT;
    if (s->threshold > STORE_INLINE_MAX)
        s->threshold = STORE_INLINE_MAX;
    s->max_conns = o.max_readers > 0 ? o.max_readers : STORE_DEFAULT_READERS;
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->pmu, NULL);
    pthread_cond_init(&s->pcv, NULL);
    strata_err *e = NULL;
    if (!(s->dir = strdup(dir)) || asprintf(&s->db_path, "%s/store.db", dir) < 0 ||
        asprintf(&s->obj_dir, "%s/objects", dir) < 0 || asprintf(&s->tmp_dir, "%s/tmp", dir) < 0 ||
        asprintf(&s->lock_path, "%s/lock", dir) < 0) {
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory opening store %s", dir);
        goto fail;
    }
    if (s->read_only) {
        struct stat st;
        if (stat(s->db_path, &st) < 0) {
            if (errno == ENOENT)
                e = strata_err_new(STRATA_E_NOTFOUND, "import a tree first ('strata import DIR')",
                                   "there is no store at %s", dir);
            else
                e = strata_err_sys(errno, NULL, "open store %s", s->db_path);
            goto fail;
        }
        e = check_readonly(s);
        if (e)
            goto fail;
        *out = s;
        return NULL;
    }
    /* The store root is private: its objects keep no trace of the
     * permissions of the files they came from. */
    e = fs_mkdir_p(dir, 0700);
    if (!e)
        e = fs_mkdir_p(s->obj_dir, 0755);
    if (!e)
        e = fs_mkdir_p(s->tmp_dir, 0755);
    if (!e)
        e = lock_shared(s);
    if (!e)
        e = writer_open(s);
    if (e)
        goto fail;
    *out = s;
    return NULL;
fail:
    store_close(s);
    return e;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->gc)
        store_gc_abort(s->gc);
    if (s->batch) {
        /* Puts in an unfinished batch were reported stored: keep them. */
        strata_err_free(store_batch_end(s));
    }
    sqlite3_finalize(s->w_lookup);
    sqlite3_finalize(s->w_insert);
    sqlite3_finalize(s->w_ref_set);
    sqlite3_finalize(s->w_ref_del);
    if (s->wdb)
        sqlite3_close(s->wdb);
    store_pool_destroy(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->pmu);
    pthread_cond_destroy(&s->pcv);
    free(s->batch_fail);
    free(s->dir);
    free(s->db_path);
    free(s->obj_dir);
    free(s->tmp_dir);
    free(s->lock_path);
    free(s);
}
