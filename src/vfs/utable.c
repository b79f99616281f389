/* The upper table: for every upper entry of a view, which number it has and
 * where it is, for the whole life of the mount.
 *
 * A record holds a number, the upper entry's real inode (st_ino in the
 * upper filesystem) and its names as (directory number, name) pairs: one,
 * or more for hard links. Two indexes find a record: by number, to find an
 * entry again from its number alone after the kernel forgot it (NFS never
 * says forget), and by real inode, to know the number of an entry met in
 * the upper directory (a copied-up or renamed lower entry keeps its lower
 * number, a hard link shares its target's).
 *
 * Names are relative to the directory, so renaming a directory changes one
 * record and nothing below it. A path is found by following the first name
 * up to the root. Memory is one record per upper entry that exists: a
 * record goes with the entry's last name.
 *
 * One rwlock guards the table. Every holder does a few hash operations and
 * nothing else (no system call), so it is never held for long. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "vfs/vfs_internal.h"

#define INITIAL_BUCKETS 256
#define MAX_DEPTH       (PATH_TREE_MAX + 1) /* guards a corrupt parent chain */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

strata_err *vfs_ut_init(vfs_utable *t)
{
    memset(t, 0, sizeof(*t));
    t->by_ino = calloc(INITIAL_BUCKETS, sizeof(*t->by_ino));
    t->by_real = calloc(INITIAL_BUCKETS, sizeof(*t->by_real));
    if (!t->by_ino || !t->by_real) {
        free(t->by_ino);
        free(t->by_real);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating the upper table");
    }
    t->nbuckets = INITIAL_BUCKETS;
    pthread_rwlock_init(&t->lock, NULL);
    return NULL;
}

static void rec_free(vfs_urec *r)
{
    for (uint32_t i = 0; i < r->nloc; i++)
        free(r->loc[i].name);
    free(r->loc);
    free(r);
}

void vfs_ut_destroy(vfs_utable *t)
{
    if (!t->by_ino)
        return;
    for (size_t b = 0; b < t->nbuckets; b++) {
        vfs_urec *r = t->by_ino[b];
        while (r) {
            vfs_urec *next = r->next_ino;
            rec_free(r);
            r = next;
        }
    }
    free(t->by_ino);
    free(t->by_real);
    pthread_rwlock_destroy(&t->lock);
    t->by_ino = t->by_real = NULL;
}

/* ---- the indexes, lock held -------------------------------------------- */

static vfs_urec *find_ino(const vfs_utable *t, uint64_t ino)
{
    for (vfs_urec *r = t->by_ino[mix(ino) & (t->nbuckets - 1)]; r; r = r->next_ino)
        if (r->ino == ino)
            return r;
    return NULL;
}

static vfs_urec *find_real(const vfs_utable *t, uint64_t real)
{
    for (vfs_urec *r = t->by_real[mix(real) & (t->nbuckets - 1)]; r; r = r->next_real)
        if (r->real == real)
            return r;
    return NULL;
}

/* Doubles both indexes; on failure the table just stays slower. */
static void grow(vfs_utable *t)
{
    size_t n = t->nbuckets * 2;
    vfs_urec **bi = calloc(n, sizeof(*bi)), **br = calloc(n, sizeof(*br));
    if (!bi || !br) {
        free(bi);
        free(br);
        return;
    }
    for (size_t b = 0; b < t->nbuckets; b++) {
        vfs_urec *r = t->by_ino[b];
        while (r) {
            vfs_urec *next = r->next_ino;
            size_t ki = mix(r->ino) & (n - 1), kr = mix(r->real) & (n - 1);
            r->next_ino = bi[ki];
            bi[ki] = r;
            r->next_real = br[kr];
            br[kr] = r;
            r = next;
        }
    }
    free(t->by_ino);
    free(t->by_real);
    t->by_ino = bi;
    t->by_real = br;
    t->nbuckets = n;
}

static void unlink_rec(vfs_utable *t, vfs_urec *r)
{
    vfs_urec **pp = &t->by_ino[mix(r->ino) & (t->nbuckets - 1)];
    while (*pp && *pp != r)
        pp = &(*pp)->next_ino;
    if (*pp)
        *pp = r->next_ino;
    pp = &t->by_real[mix(r->real) & (t->nbuckets - 1)];
    while (*pp && *pp != r)
        pp = &(*pp)->next_real;
    if (*pp)
        *pp = r->next_real;
    t->count--;
}

static int find_loc(const vfs_urec *r, uint64_t parent, const char *name, size_t len)
{
    for (uint32_t i = 0; i < r->nloc; i++)
        if (r->loc[i].parent == parent && strlen(r->loc[i].name) == len &&
            memcmp(r->loc[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static bool push_loc(vfs_urec *r, uint64_t parent, const char *name, size_t len)
{
    if (r->nloc == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 1;
        vfs_uloc *l = realloc(r->loc, cap * sizeof(*l));
        if (!l)
            return false;
        r->loc = l;
        r->cap = cap;
    }
    char *n = strndup(name, len);
    if (!n)
        return false;
    r->loc[r->nloc++] = (vfs_uloc){.parent = parent, .name = n};
    return true;
}

static void drop_loc(vfs_urec *r, uint32_t i)
{
    free(r->loc[i].name);
    /* Keep the order: loc[0] is the name paths are built from. */
    memmove(&r->loc[i], &r->loc[i + 1], (r->nloc - i - 1) * sizeof(r->loc[0]));
    r->nloc--;
}

static strata_err *oom(void)
{
    return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory in the upper table");
}

/* ---- operations -------------------------------------------------------- */

uint64_t vfs_ut_by_real(vfs_utable *t, uint64_t real)
{
    pthread_rwlock_rdlock(&t->lock);
    vfs_urec *r = find_real(t, real);
    uint64_t ino = r ? r->ino : 0;
    pthread_rwlock_unlock(&t->lock);
    return ino;
}

bool vfs_ut_has(vfs_utable *t, uint64_t ino)
{
    pthread_rwlock_rdlock(&t->lock);
    bool yes = find_ino(t, ino) != NULL;
    pthread_rwlock_unlock(&t->lock);
    return yes;
}

strata_err *vfs_ut_add(vfs_utable *t, uint64_t ino, uint64_t real, uint64_t parent,
                       const char *name, size_t len, uint64_t *got)
{
    pthread_rwlock_wrlock(&t->lock);
    vfs_urec *r = find_real(t, real);
    if (r) {
        /* Two lookups numbered the same new upper entry at once: the
         * first one wins. */
        if (got)
            *got = r->ino;
        pthread_rwlock_unlock(&t->lock);
        return NULL;
    }
    /* A number whose old entry is gone from under the table (its real
     * inode changed) gets the new one. */
    vfs_urec *old = find_ino(t, ino);
    if (old) {
        unlink_rec(t, old);
        rec_free(old);
    }
    r = calloc(1, sizeof(*r));
    if (!r || !push_loc(r, parent, name, len)) {
        free(r);
        pthread_rwlock_unlock(&t->lock);
        return oom();
    }
    r->ino = ino;
    r->real = real;
    if (t->count >= t->nbuckets * 2)
        grow(t);
    size_t ki = mix(ino) & (t->nbuckets - 1), kr = mix(real) & (t->nbuckets - 1);
    r->next_ino = t->by_ino[ki];
    t->by_ino[ki] = r;
    r->next_real = t->by_real[kr];
    t->by_real[kr] = r;
    t->count++;
    if (got)
        *got = ino;
    pthread_rwlock_unlock(&t->lock);
    return NULL;
}

strata_err *vfs_ut_add_loc(vfs_utable *t, uint64_t ino, uint64_t parent, const char *name,
                           size_t len)
{
    strata_err *e = NULL;
    pthread_rwlock_wrlock(&t->lock);
    vfs_urec *r = find_ino(t, ino);
    if (r && find_loc(r, parent, name, len) < 0 && !push_loc(r, parent, name, len))
        e = oom();
    pthread_rwlock_unlock(&t->lock);
    return e;
}

uint32_t vfs_ut_del_loc(vfs_utable *t, uint64_t ino, uint64_t parent, const char *name, size_t len,
                        bool keep)
{
    pthread_rwlock_wrlock(&t->lock);
    vfs_urec *r = find_ino(t, ino);
    uint32_t left = 0;
    if (r) {
        int i = find_loc(r, parent, name, len);
        if (i >= 0)
            drop_loc(r, (uint32_t)i);
        left = r->nloc;
        if (left == 0 && !keep) {
            unlink_rec(t, r);
            rec_free(r);
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return left;
}

strata_err *vfs_ut_move(vfs_utable *t, uint64_t ino, uint64_t oldparent, const char *oldname,
                        size_t oldlen, uint64_t newparent, const char *newname, size_t newlen)
{
    strata_err *e = NULL;
    pthread_rwlock_wrlock(&t->lock);
    vfs_urec *r = find_ino(t, ino);
    if (r) {
        char *n = strndup(newname, newlen);
        int i = find_loc(r, oldparent, oldname, oldlen);
        if (!n) {
            e = oom();
        } else if (i >= 0) {
            free(r->loc[i].name);
            r->loc[i] = (vfs_uloc){.parent = newparent, .name = n};
        } else if (push_loc(r, newparent, newname, newlen)) {
            free(n);
        } else {
            free(n);
            e = oom();
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return e;
}

bool vfs_ut_loc(vfs_utable *t, uint64_t ino, uint32_t i, uint64_t *parent, char *name, size_t cap)
{
    pthread_rwlock_rdlock(&t->lock);
    vfs_urec *r = find_ino(t, ino);
    bool ok = r && i < r->nloc && strlen(r->loc[i].name) < cap;
    if (ok) {
        *parent = r->loc[i].parent;
        strcpy(name, r->loc[i].name);
    }
    pthread_rwlock_unlock(&t->lock);
    return ok;
}

strata_err *vfs_ut_path(vfs_utable *t, uint64_t ino, char **out)
{
    *out = NULL;
    /* Names from the entry up to the root, then written in reverse. */
    const char *names[64], **nv = names;
    size_t n = 0, cap = 64, total = 0;
    strata_err *e = NULL;
    pthread_rwlock_rdlock(&t->lock);
    for (uint64_t cur = ino;;) {
        vfs_urec *r = find_ino(t, cur);
        if (!r || r->nloc == 0 || n >= MAX_DEPTH) {
            e = vfs_err(ESTALE, "look the path up again from the root of the mount",
                        "inode %#llx has no place in the upper directory", (unsigned long long)ino);
            break;
        }
        if (r->loc[0].parent == cur)
            break; /* the root */
        if (n == cap) {
            const char **nn = malloc(cap * 2 * sizeof(*nn));
            if (!nn) {
                e = oom();
                break;
            }
            memcpy(nn, nv, n * sizeof(*nn));
            if (nv != names)
                free(nv);
            nv = nn;
            cap *= 2;
        }
        nv[n++] = r->loc[0].name;
        total += strlen(r->loc[0].name) + 1;
        cur = r->loc[0].parent;
    }
    char *p = NULL;
    if (!e && !(p = malloc(total ? total : 2)))
        e = oom();
    if (!e && n == 0)
        strcpy(p, ".");
    else if (!e) {
        size_t at = 0;
        for (size_t i = n; i-- > 0;) {
            size_t l = strlen(nv[i]);
            memcpy(p + at, nv[i], l);
            at += l;
            p[at++] = i ? '/' : '\0';
        }
    }
    pthread_rwlock_unlock(&t->lock);
    if (nv != names)
        free(nv);
    *out = p;
    return e;
}

bool vfs_ut_real(vfs_utable *t, uint64_t ino, uint64_t *real)
{
    pthread_rwlock_rdlock(&t->lock);
    vfs_urec *r = find_ino(t, ino);
    if (r)
        *real = r->real;
    pthread_rwlock_unlock(&t->lock);
    return r != NULL;
}

uint64_t vfs_ut_gen(vfs_utable *t, uint64_t ino)
{
    pthread_rwlock_rdlock(&t->lock);
    vfs_urec *r = find_ino(t, ino);
    uint64_t g = r ? r->gen : 0;
    pthread_rwlock_unlock(&t->lock);
    return g;
}

void vfs_ut_bump(vfs_utable *t, uint64_t ino)
{
    pthread_rwlock_wrlock(&t->lock);
    vfs_urec *r = find_ino(t, ino);
    if (r)
        r->gen++;
    pthread_rwlock_unlock(&t->lock);
}

uint64_t vfs_ut_count(vfs_utable *t)
{
    pthread_rwlock_rdlock(&t->lock);
    uint64_t n = t->count;
    pthread_rwlock_unlock(&t->lock);
    return n;
}
