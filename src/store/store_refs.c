/* Refs: names for manifest blobs. Reads go through the pool; writes go
 * through the writer. A ref set during a batch first flushes the batch's
 * pending rows, so it can name a blob the batch has only just accepted. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static const char ref_hint[] = "a ref is 1-255 characters of letters, digits and ._+@/:-, not "
                               "starting with '-' or 'sha256:', without '..' or a leading or "
                               "trailing '/'";

bool store_ref_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || name[0] == '-' || name[0] == '/' || name[n - 1] == '/')
        return false;
    if (digest_looks_like(name) || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._+@/:-", c)))
            return false;
    }
    return true;
}

static strata_err *check_name(const char *name)
{
    if (store_ref_name_valid(name))
        return NULL;
    return strata_err_new(STRATA_E_INVALID, ref_hint, "'%.300s' is not a valid ref name", name);
}

strata_err *store_ref_set(store *s, const char *name, const strata_digest *d)
{
    strata_err *e = check_name(name);
    if (!e)
        e = store_wlock(s, "set a ref");
    if (e)
        return e;
    char dname[DIGEST_STR_LEN + 1];
    digest_format(d, dname);
    /* The target may be among the batch's pending rows: write them first.
     * Then check and set in one transaction, so the target cannot vanish
     * between the two. */
    if (s->batch)
        e = store_batch_flush(s);
    if (!e)
        e = store_wexec(s, "BEGIN IMMEDIATE");
    bool own_txn = !e;
    bool found = false, spilled;
    int64_t id;
    uint64_t size;
    if (!e)
        e = store_lookup(s, s->wdb, s->w_lookup, d, &found, &id, &size, &spilled);
    if (!e && !found)
        e = strata_err_new(STRATA_E_NOTFOUND,
                           "store the layer's manifest before naming it (this is a bug in "
                           "strata if it happened during an import)",
                           "blob %s is not in the store", dname);
    if (!e) {
        sqlite3_stmt *st = s->w_ref_set;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, d->b, DIGEST_LEN, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            e = store_sqlerr(s, s->wdb, rc, "set ref '%s'", name);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (own_txn) {
        if (!e)
            e = store_wexec(s, "COMMIT");
        if (e)
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&s->wmu);
    return strata_err_wrap(e, "name %s '%s'", dname, name);
}

strata_err *store_ref_get(store *s, const char *name, strata_digest *out)
{
    strata_err *e = check_name(name);
    if (e)
        return e;
    store_conn *c;
    if ((e = store_conn_get(s, &c)))
        return e;
    sqlite3_stmt *st = c->ref_get;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == DIGEST_LEN)
            memcpy(out->b, sqlite3_column_blob(st, 0), DIGEST_LEN);
        else
            e = strata_err_new(STRATA_E_CORRUPT, NULL, "ref '%s' holds a malformed digest", name);
    } else if (rc == SQLITE_DONE) {
        e = strata_err_new(STRATA_E_NOTFOUND, NULL, "no ref named '%s'", name);
    } else {
        e = store_sqlerr(s, c->db, rc, "read ref '%s'", name);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    store_conn_put(s, c);
    return e;
}

strata_err *store_ref_delete(store *s, const char *name)
{
    strata_err *e = check_name(name);
    if (!e)
        e = store_wlock(s, "delete a ref");
    if (e)
        return e;
    sqlite3_stmt *st = s->w_ref_del;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        e = store_sqlerr(s, s->wdb, rc, "delete ref '%s'", name);
    else if (sqlite3_changes(s->wdb) == 0)
        e = strata_err_new(STRATA_E_NOTFOUND, NULL, "no ref named '%s'", name);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&s->wmu);
    return e;
}

typedef struct ref_item {
    char *name;
    strata_digest d;
} ref_item;

/* The refs are copied out before fn runs, so fn may call back into the
 * store (even with a pool of one connection). Refs are few. */
strata_err *store_ref_list(store *s, store_ref_fn fn, void *ctx)
{
    store_conn *c;
    strata_err *e = store_conn_get(s, &c);
    if (e)
        return e;
    ref_item *items = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = c->ref_list;
    int rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ref_item *ni = realloc(items, ncap * sizeof(*ni));
            if (!ni) {
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory listing refs");
                break;
            }
            items = ni;
            cap = ncap;
        }
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name || sqlite3_column_bytes(st, 1) != DIGEST_LEN) {
            e = strata_err_new(STRATA_E_CORRUPT, NULL, "a ref in %s is malformed", s->db_path);
            break;
        }
        items[n].name = strdup(name);
        if (!items[n].name) {
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory listing refs");
            break;
        }
        memcpy(items[n].d.b, sqlite3_column_blob(st, 1), DIGEST_LEN);
        n++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_sqlerr(s, c->db, rc, "list refs");
    sqlite3_reset(st);
    store_conn_put(s, c);
    bool go = !e;
    for (size_t i = 0; i < n; i++) {
        if (go)
            go = fn(ctx, items[i].name, &items[i].d);
        free(items[i].name);
    }
    free(items);
    return e;
}
