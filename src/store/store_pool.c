/* The read-connection pool. SQLite handles (statements, blob handles) belong
 * to one connection and must not be used by two threads at once, so every
 * read borrows a whole connection for the length of one call and gives it
 * back. Connections are opened lazily, up to max_readers, and keep their
 * prepared statements for their lifetime. */
#include <stdlib.h>

#include "store/store_internal.h"

static void conn_free(store_conn *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->lookup);
    sqlite3_finalize(c->ref_get);
    sqlite3_finalize(c->ref_list);
    sqlite3_finalize(c->blob_page);
    sqlite3_close(c->db);
    free(c);
}

static strata_err *conn_prepare(store *s, store_conn *c, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc == SQLITE_OK)
        return NULL;
    if ((rc & 0xff) == SQLITE_ERROR)
        /* A table is missing: the file is a database, but not ours. */
        return strata_err_new(STRATA_E_CORRUPT,
                              "point strata at a directory of its own (the 'store' setting "
                              "or STRATA_STORE)",
                              "%s is not a strata store: %s", s->db_path, sqlite3_errmsg(c->db));
    return store_sqlerr(s, c->db, rc, "prepare %s", sql);
}

/* Read-only even in a writable store: a pooled connection never takes the
 * write lock by accident, and it works on a store the user cannot write. */
static strata_err *conn_open(store *s, store_conn **out)
{
    store_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory opening %s", s->db_path);
    int rc = sqlite3_open_v2(s->db_path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    strata_err *e = NULL;
    if (rc != SQLITE_OK) {
        e = store_sqlerr(s, c->db, rc, "open for reading");
        conn_free(c);
        return e;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, STORE_BUSY_MS);
    e = conn_prepare(s, c, "SELECT id, size, spilled FROM blobs WHERE digest = ?1", &c->lookup);
    if (!e)
        e = conn_prepare(s, c, "SELECT digest FROM refs WHERE name = ?1", &c->ref_get);
    if (!e)
        e = conn_prepare(s, c, "SELECT name, digest FROM refs ORDER BY name", &c->ref_list);
    if (!e)
        e = conn_prepare(s, c,
                         "SELECT id, digest, size, spilled FROM blobs WHERE id > ?1"
                         " ORDER BY id LIMIT ?2",
                         &c->blob_page);
    if (e) {
        conn_free(c);
        return e;
    }
    *out = c;
    return NULL;
}

strata_err *store_conn_get(store *s, store_conn **out)
{
    pthread_mutex_lock(&s->pmu);
    while (!s->free_conns && s->nconns >= s->max_conns)
        pthread_cond_wait(&s->pcv, &s->pmu);
    store_conn *c = s->free_conns;
    if (c) {
        s->free_conns = c->next;
        pthread_mutex_unlock(&s->pmu);
        *out = c;
        return NULL;
    }
    /* Open outside the mutex: it reads the schema, which takes a while,
     * and other threads may meanwhile return or borrow connections. */
    s->nconns++;
    pthread_mutex_unlock(&s->pmu);
    strata_err *e = conn_open(s, &c);
    if (e) {
        pthread_mutex_lock(&s->pmu);
        s->nconns--;
        pthread_cond_signal(&s->pcv);
        pthread_mutex_unlock(&s->pmu);
        return e;
    }
    *out = c;
    return NULL;
}

void store_conn_put(store *s, store_conn *c)
{
    pthread_mutex_lock(&s->pmu);
    /* Last in, first out: the most recently used connection has the
     * warmest page cache. */
    c->next = s->free_conns;
    s->free_conns = c;
    pthread_cond_signal(&s->pcv);
    pthread_mutex_unlock(&s->pmu);
}

void store_pool_destroy(store *s)
{
    pthread_mutex_lock(&s->pmu);
    store_conn *c = s->free_conns;
    s->free_conns = NULL;
    pthread_mutex_unlock(&s->pmu);
    while (c) {
        store_conn *next = c->next;
        conn_free(c);
        s->nconns--;
        c = next;
    }
}
