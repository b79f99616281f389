/* Unit tests for a vfs that shows one view per slot (vfs_opts.slot_dir),
 * over a real store: the directory of slots in slot 0 (lookups, listings,
 * attributes, read-only), reading through several slots, detaching a slot
 * (ESTALE for its numbers and handles, others untouched, the upper
 * directory's lock released), attaching the slot again, and threads
 * reading slots while another is attached and detached over and over. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/layer.h"
#include "testutil.h"
#include "vfs/vfs.h"

#define OWNER_UID 4242
#define OWNER_GID 4343
#define DIR_UID   1000
#define DIR_GID   1001
#define NSLOTS    8

static const vfs_cred CRED = {OWNER_UID, OWNER_GID};

typedef struct fixture {
    char *dir;
    store *s;
    vfs *v;
    strata_digest a, b, c; /* three different layers */
} fixture;

static strata_digest import_tree(fixture *f, const char *tag, const char *name, const char *text)
{
    char *src = tu_path(f->dir, tag);
    tu_write_file(src, name, text, strlen(text), 0644);
    strata_digest d;
    layer_import_opts o = {.threads = 1};
    assert_ok(layer_import(f->s, src, &o, &d, NULL));
    tu_rmtree(src);
    return d;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = tu_mkdtemp("vfsslots");
    char *sd = tu_path(f->dir, "store");
    store_opts so = {.spill_threshold = 4096};
    strata_err *e = store_open(sd, &so, &f->s);
    free(sd);
    if (e) {
        print_error("store_open: %s\n", e->msg);
        strata_err_free(e);
        return -1;
    }
    f->a = import_tree(f, "ta", "a.txt", "alpha");
    f->b = import_tree(f, "tb", "b.txt", "beta");
    f->c = import_tree(f, "tc", "d/c.txt", "gamma");
    vfs_opts o = {.max_slots = NSLOTS,
                  .max_idle_inodes = 64,
                  .slot_dir = true,
                  .slot_dir_uid = DIR_UID,
                  .slot_dir_gid = DIR_GID};
    assert_ok(vfs_new(f->s, &o, &f->v));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vfs_free(f->v);
    store_close(f->s);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

#define assert_errno(expr, want)                                                                   \
    do {                                                                                           \
        strata_err *e_ = (expr);                                                                   \
        if (!e_) {                                                                                 \
            print_error("%s: expected errno %d, got success\n", #expr, (want));                    \
            fail();                                                                                \
        }                                                                                          \
        if (vfs_errno(e_) != (want)) {                                                             \
            print_error("%s: expected errno %d, got %d: %s\n", #expr, (want), vfs_errno(e_),       \
                        e_->msg);                                                                  \
            strata_err_free(e_);                                                                   \
            fail();                                                                                \
        }                                                                                          \
        assert_non_null(e_->hint);                                                                 \
        strata_err_free(e_);                                                                       \
    } while (0)

static void attach(vfs *v, uint16_t slot, const strata_digest *layer, const char *upper)
{
    vfs_view_spec spec = {
        .layers = layer, .nlayers = 1, .upper = upper, .uid = OWNER_UID, .gid = OWNER_GID};
    assert_ok(vfs_slot_attach(v, slot, &spec));
}

/* The number at path below directory ino, its lookups given back; 0 with
 * *err set when a step fails. */
static uint64_t resolve(vfs *v, uint64_t ino, const char *path, int *err)
{
    *err = 0;
    for (const char *p = path; *p;) {
        const char *sl = strchr(p, '/');
        size_t len = sl ? (size_t)(sl - p) : strlen(p);
        vfs_attr a;
        strata_err *e = vfs_lookup(v, ino, p, len, &a);
        if (e) {
            *err = vfs_errno(e);
            strata_err_free(e);
            return 0;
        }
        vfs_forget(v, a.ino, 1);
        ino = a.ino;
        p += len + (sl != NULL);
    }
    return ino;
}

static uint64_t ino_of(vfs *v, const char *path)
{
    int err;
    uint64_t ino = resolve(v, VFS_ROOT_INO, path, &err);
    if (!ino)
        print_error("%s: errno %d\n", path, err);
    assert_int_not_equal(ino, 0);
    return ino;
}

static void check_str(vfs *v, const char *path, const char *want)
{
    char buf[64];
    size_t got;
    assert_ok(vfs_read_ino(v, ino_of(v, path), buf, sizeof(buf), 0, &got));
    assert_int_equal(got, strlen(want));
    assert_memory_equal(buf, want, got);
}

typedef struct listing {
    char names[32][16];
    uint64_t inos[32], cookies[32];
    vfs_attr attrs[32];
    size_t n, max; /* max: entries to take in one call (0: any) */
    size_t this_call;
} listing;

static bool collect(void *ctx, const vfs_dirent *d)
{
    listing *l = ctx;
    if ((l->max && l->this_call == l->max) || l->n == 32)
        return false;
    snprintf(l->names[l->n], sizeof(l->names[0]), "%.*s", (int)d->name_len, d->name);
    l->inos[l->n] = d->ino;
    l->cookies[l->n] = d->cookie;
    if (d->attr)
        l->attrs[l->n] = *d->attr;
    l->n++;
    l->this_call++;
    return true;
}

/* Lists dir in calls of at most per_call entries, resuming from cookies. */
static void list_all(vfs *v, uint64_t dir, bool plus, size_t per_call, listing *l)
{
    memset(l, 0, sizeof(*l));
    l->max = per_call;
    uint64_t cookie = 0;
    for (int calls = 0; calls < 64; calls++) {
        bool eof = false;
        l->this_call = 0;
        if (plus)
            assert_ok(vfs_readdirplus(v, dir, cookie, false, collect, l, &eof));
        else
            assert_ok(vfs_readdir(v, dir, cookie, collect, l, &eof));
        if (l->n)
            cookie = l->cookies[l->n - 1];
        if (eof)
            return;
    }
    fail_msg("listing never ended");
}

static void check_listing(vfs *v, const char *want)
{
    for (int plus = 0; plus < 2; plus++) {
        for (size_t per = 0; per < 3; per++) {
            listing l;
            list_all(v, VFS_ROOT_INO, plus, per, &l);
            char got[256] = "";
            for (size_t i = 0; i < l.n; i++) {
                strcat(got, l.names[i]);
                strcat(got, i + 1 < l.n ? " " : "");
                if (i >= 2) {
                    uint16_t slot = (uint16_t)atoi(l.names[i]);
                    assert_int_equal(l.inos[i], vfs_root_ino(slot));
                    assert_int_equal(l.cookies[i], slot + 2);
                    if (plus)
                        assert_true(S_ISDIR(l.attrs[i].mode));
                } else {
                    assert_int_equal(l.inos[i], VFS_ROOT_INO);
                }
            }
            assert_string_equal(got, want);
        }
    }
}

/* ---- the directory of slots --------------------------------------------- */

static void test_slot_dir(void **state)
{
    fixture *f = *state;
    vfs *v = f->v;
    vfs_attr a, a2;
    assert_ok(vfs_getattr(v, VFS_ROOT_INO, &a));
    assert_int_equal(a.mode, S_IFDIR | 0555);
    assert_int_equal(a.uid, DIR_UID);
    assert_int_equal(a.gid, DIR_GID);
    assert_int_equal(a.nlink, 2);
    assert_int_equal(a.flags & VFS_ATTR_IMMUTABLE, 0);
    check_listing(v, ". ..");

    attach(v, 1, &f->a, NULL);
    attach(v, 2, &f->b, NULL);
    attach(v, 5, &f->c, NULL);
    assert_int_equal(vfs_slot_generation(v, 1), 1);
    assert_int_equal(vfs_slot_generation(v, 3), 0);
    assert_ok(vfs_getattr(v, VFS_ROOT_INO, &a2));
    assert_int_equal(a2.nlink, 5);
    assert_true(a2.mtime.sec > a.mtime.sec ||
                (a2.mtime.sec == a.mtime.sec && a2.mtime.nsec > a.mtime.nsec));
    check_listing(v, ". .. 1 2 5");

    /* Lookups: canonical slot numbers of occupied slots only. */
    assert_ok(vfs_lookup(v, VFS_ROOT_INO, "2", 1, &a));
    assert_int_equal(a.ino, vfs_root_ino(2));
    assert_true(S_ISDIR(a.mode));
    assert_int_equal(a.uid, OWNER_UID);
    vfs_forget(v, a.ino, 1);
    static const char *const bad[] = {"0", "02", "+2", "-2", "3", "8", "99999", "x", "2x", " 2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_errno(vfs_lookup(v, VFS_ROOT_INO, bad[i], strlen(bad[i]), &a), ENOENT);
    assert_ok(vfs_lookup(v, VFS_ROOT_INO, "..", 2, &a));
    assert_int_equal(a.ino, VFS_ROOT_INO);
    assert_ok(vfs_lookup(v, VFS_ROOT_INO, ".", 1, &a));
    assert_int_equal(a.ino, VFS_ROOT_INO);
    /* A slot root's ".." is the slot directory. */
    assert_ok(vfs_lookup(v, vfs_root_ino(5), "..", 2, &a));
    assert_int_equal(a.ino, VFS_ROOT_INO);
    assert_int_equal(a.mode, S_IFDIR | 0555);
    listing l;
    list_all(v, vfs_root_ino(5), true, 0, &l);
    assert_string_equal(l.names[1], "..");
    assert_int_equal(l.inos[1], VFS_ROOT_INO);
    assert_int_equal(l.attrs[1].mode, S_IFDIR | 0555);

    /* Reading through each slot. */
    check_str(v, "1/a.txt", "alpha");
    check_str(v, "2/b.txt", "beta");
    check_str(v, "5/d/c.txt", "gamma");
    int err;
    assert_int_equal(resolve(v, VFS_ROOT_INO, "1/b.txt", &err), 0);
    assert_int_equal(err, ENOENT);
    assert_int_equal(ino_of(v, "5/d/.."), vfs_root_ino(5));
    assert_int_equal(ino_of(v, "5/d/../.."), VFS_ROOT_INO);

    /* Counted lookups of readdirplus land on the slot roots. */
    listing lp = {0};
    bool eof;
    assert_ok(vfs_readdirplus(v, VFS_ROOT_INO, 0, true, collect, &lp, &eof));
    assert_true(eof);
    assert_int_equal(lp.n, 5);
    for (size_t i = 2; i < lp.n; i++)
        vfs_forget(v, lp.inos[i], 1);

    /* Read-only. */
    vfs_file *fh;
    assert_errno(vfs_create(v, VFS_ROOT_INO, "x", 1, 0644, O_RDWR, &CRED, &a, &fh), EROFS);
    assert_errno(vfs_mkdir(v, VFS_ROOT_INO, "3", 1, 0755, &CRED, &a), EROFS);
    assert_errno(vfs_mknod(v, VFS_ROOT_INO, "3", 1, S_IFIFO | 0644, 0, &CRED, &a), EROFS);
    assert_errno(vfs_symlink(v, VFS_ROOT_INO, "3", 1, "1", &CRED, &a), EROFS);
    assert_errno(vfs_unlink(v, VFS_ROOT_INO, "1", 1), EROFS);
    assert_errno(vfs_rmdir(v, VFS_ROOT_INO, "1", 1), EROFS);
    assert_errno(vfs_rename(v, VFS_ROOT_INO, "1", 1, VFS_ROOT_INO, "3", 1, 0), EROFS);
    assert_errno(vfs_setxattr(v, VFS_ROOT_INO, "user.x", "y", 1, 0), EROFS);
    vfs_setattr_in sa = {.valid = VFS_SET_MODE, .mode = 0777};
    assert_errno(vfs_setattr(v, VFS_ROOT_INO, NULL, &sa, &CRED, &a), EROFS);
    assert_errno(vfs_access(v, VFS_ROOT_INO, W_OK, DIR_UID, DIR_GID), EROFS);
    assert_ok(vfs_access(v, VFS_ROOT_INO, R_OK | X_OK, 1234, 1234));
    assert_errno(vfs_open(v, VFS_ROOT_INO, O_RDONLY, &fh), EISDIR);
    vfs_statfs sf;
    assert_ok(vfs_statfs_get(v, VFS_ROOT_INO, &sf));
    assert_int_equal(sf.namemax, 255);

    /* Slot 0 is the directory's. */
    assert_err(vfs_slot_attach(v, 0, &(vfs_view_spec){.layers = &f->a, .nlayers = 1}),
               STRATA_E_EXISTS);
    assert_err(vfs_slot_detach(v, 0), STRATA_E_INVALID);
    assert_err(vfs_slot_detach(v, 3), STRATA_E_NOTFOUND);
    vfs *bad_v;
    vfs_opts o = {.max_slots = 1, .slot_dir = true};
    assert_err(vfs_new(f->s, &o, &bad_v), STRATA_E_INVALID);
}

/* ---- detach and attach again -------------------------------------------- */

static void test_detach(void **state)
{
    fixture *f = *state;
    vfs *v = f->v;
    char *up = tu_path(f->dir, "upper");
    assert_int_equal(mkdir(up, 0755), 0);
    attach(v, 1, &f->a, NULL);
    attach(v, 2, &f->b, NULL);
    attach(v, 3, &f->c, up);

    /* Things held in slot 2 when it goes: a lookup, a handle, numbers. */
    vfs_attr a;
    assert_ok(vfs_lookup(v, vfs_root_ino(2), "b.txt", 5, &a));
    uint64_t b_ino = a.ino;
    vfs_file *fh;
    assert_ok(vfs_open(v, b_ino, O_RDONLY, &fh));
    char buf[64];
    size_t got;
    assert_ok(vfs_read(v, fh, buf, sizeof(buf), 0, &got));
    assert_int_equal(got, 4);

    /* Slot 3's upper is locked while it is shown. */
    vfs_view_spec spec = {.layers = &f->c, .nlayers = 1, .upper = up};
    assert_err(vfs_slot_attach(v, 4, &spec), STRATA_E_BUSY);
    uint64_t new_ino;
    vfs_file *wf;
    assert_ok(vfs_create(v, vfs_root_ino(3), "n.txt", 5, 0644, O_RDWR, &CRED, &a, &wf));
    new_ino = a.ino;
    size_t wrote;
    assert_ok(vfs_write(v, wf, "new", 3, 0, &wrote));

    assert_ok(vfs_slot_detach(v, 2));
    assert_ok(vfs_slot_detach(v, 3));
    assert_err(vfs_slot_detach(v, 2), STRATA_E_NOTFOUND);
    assert_int_equal(vfs_slot_generation(v, 2), 0);
    check_listing(v, ". .. 1");
    assert_ok(vfs_getattr(v, VFS_ROOT_INO, &a));
    assert_int_equal(a.nlink, 3);

    /* Everything of slots 2 and 3 is stale; slot 1 is untouched. */
    assert_errno(vfs_getattr(v, b_ino, &a), ESTALE);
    assert_errno(vfs_getattr(v, vfs_root_ino(2), &a), ESTALE);
    assert_errno(vfs_read_ino(v, b_ino, buf, sizeof(buf), 0, &got), ESTALE);
    assert_errno(vfs_read(v, fh, buf, sizeof(buf), 0, &got), ESTALE);
    assert_errno(vfs_write(v, wf, "x", 1, 0, &wrote), ESTALE);
    assert_errno(vfs_getattr(v, new_ino, &a), ESTALE);
    assert_errno(vfs_lookup(v, VFS_ROOT_INO, "2", 1, &a), ENOENT);
    assert_errno(vfs_lookup(v, vfs_root_ino(2), "b.txt", 5, &a), ESTALE);
    listing l;
    assert_errno(vfs_readdir(v, vfs_root_ino(3), 0, collect, &l, NULL), ESTALE);
    vfs_forget(v, b_ino, 1); /* a late forget is harmless */
    check_str(v, "1/a.txt", "alpha");

    /* The upper lock went with the detach: another view may take it. */
    spec.uid = OWNER_UID;
    spec.gid = OWNER_GID;
    assert_ok(vfs_slot_attach(v, 4, &spec));
    check_str(v, "4/n.txt", "new");
    check_str(v, "4/d/c.txt", "gamma");

    /* Slot 2 again, with another layer: a new generation, and nothing of
     * the old view reaches the new one. */
    attach(v, 2, &f->c, NULL);
    assert_int_equal(vfs_slot_generation(v, 2), 2);
    check_listing(v, ". .. 1 2 4");
    check_str(v, "2/d/c.txt", "gamma");
    assert_errno(vfs_read(v, fh, buf, sizeof(buf), 0, &got), ESTALE);
    strata_err *e = vfs_read_ino(v, b_ino, buf, sizeof(buf), 0, &got);
    if (e) {
        int err = vfs_errno(e);
        strata_err_free(e);
        assert_true(err == ESTALE || err == EISDIR || err == EINVAL);
    } else {
        assert_false(got == 4 && !memcmp(buf, "beta", 4));
    }
    vfs_release(v, fh);
    vfs_release(v, wf);
    free(up);
}

/* ---- threads ------------------------------------------------------------ */

typedef struct worker {
    vfs *v;
    uint16_t slot;
    const char *path, *want; /* slot 3: NULL, anything but ESTALE/ENOENT fails */
    _Atomic bool *stop;
    unsigned long rounds, hits;
    int bad;
} worker;

static void *reader_main(void *p)
{
    worker *w = p;
    char buf[64];
    while (!atomic_load(w->stop)) {
        w->rounds++;
        uint64_t root = vfs_root_ino(w->slot);
        int err;
        uint64_t ino = resolve(w->v, root, w->path, &err);
        if (!ino) {
            if (w->want || (err != ESTALE && err != ENOENT))
                w->bad++;
            continue;
        }
        size_t got;
        strata_err *e = vfs_read_ino(w->v, ino, buf, sizeof(buf), 0, &got);
        if (e) {
            if (w->want || vfs_errno(e) != ESTALE)
                w->bad++;
            strata_err_free(e);
        } else if (got != strlen(w->want ? w->want : "gamma") ||
                   memcmp(buf, w->want ? w->want : "gamma", got)) {
            w->bad++;
        } else {
            w->hits++;
        }
        listing l;
        memset(&l, 0, sizeof(l));
        e = vfs_readdirplus(w->v, w->want ? root : VFS_ROOT_INO, 0, true, collect, &l, NULL);
        if (e) {
            if (w->want || vfs_errno(e) != ESTALE)
                w->bad++;
            strata_err_free(e);
        }
        for (size_t i = 0; i < l.n; i++)
            if (strcmp(l.names[i], ".") && strcmp(l.names[i], ".."))
                vfs_forget(w->v, l.inos[i], 1);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    fixture *f = *state;
    vfs *v = f->v;
    attach(v, 1, &f->a, NULL);
    attach(v, 2, &f->b, NULL);
    _Atomic bool stop = false;
    worker w[4] = {
        {.v = v, .slot = 1, .path = "a.txt", .want = "alpha", .stop = &stop},
        {.v = v, .slot = 2, .path = "b.txt", .want = "beta", .stop = &stop},
        {.v = v, .slot = 3, .path = "d/c.txt", .want = NULL, .stop = &stop},
        {.v = v, .slot = 3, .path = "d/c.txt", .want = NULL, .stop = &stop},
    };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &w[i]), 0);
    for (int i = 0; i < 300; i++) {
        attach(v, 3, &f->c, NULL);
        if (i % 3 == 0)
            usleep(200);
        assert_ok(vfs_slot_detach(v, 3));
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        if (w[i].bad)
            print_error("worker %d: %d bad of %lu\n", i, w[i].bad, w[i].rounds);
        assert_int_equal(w[i].bad, 0);
        assert_true(w[i].rounds > 0);
    }
    assert_true(w[0].hits > 0 && w[1].hits > 0);
    assert_int_equal(vfs_slot_generation(v, 3), 0);
    check_listing(v, ". .. 1 2");
    vfs_stats st;
    vfs_get_stats(v, &st);
    /* Nothing of the 300 views of slot 3 stays in the table. */
    assert_true(st.inodes < 64);
}

static void check_mcache(vfs *v, uint64_t loads, uint64_t hits, uint64_t held)
{
    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_int_equal(st.manifest_loads, loads);
    assert_int_equal(st.manifest_hits, hits);
    assert_int_equal(st.manifests, held);
}

/* A layer is decoded once per vfs: views of it in other slots, at once or
 * later, share the decoded manifest, and one no view uses is kept within
 * the budget (mcache.c). */
static void test_manifest_cache(void **state)
{
    fixture *f = *state;
    vfs *v = f->v;
    attach(v, 1, &f->a, NULL);
    attach(v, 2, &f->a, NULL);
    check_mcache(v, 1, 1, 1);
    check_str(v, "1/a.txt", "alpha");
    check_str(v, "2/a.txt", "alpha");
    assert_ok(vfs_slot_detach(v, 1));
    assert_ok(vfs_slot_detach(v, 2));
    check_mcache(v, 1, 1, 1); /* kept for the next view */
    attach(v, 3, &f->a, NULL);
    attach(v, 4, &f->b, NULL);
    check_mcache(v, 2, 2, 2);
    check_str(v, "3/a.txt", "alpha");
    check_str(v, "4/b.txt", "beta");
    assert_ok(vfs_slot_detach(v, 3));
    assert_ok(vfs_slot_detach(v, 4));

    /* With no room to keep any, only the manifest let go last stays: a
     * view outliving its slot through an open handle keeps its own until
     * the handle goes, and the next one let go pushes it out. */
    vfs *tight;
    vfs_opts o = {.max_slots = 4, .max_idle_inodes = 64, .manifest_cache_bytes = 1};
    assert_ok(vfs_new(f->s, &o, &tight));
    vfs_view_spec spec = {.layers = &f->c, .nlayers = 1, .uid = OWNER_UID, .gid = OWNER_GID};
    assert_ok(vfs_slot_attach(tight, 1, &spec));
    assert_ok(vfs_slot_attach(tight, 2, &spec));
    check_mcache(tight, 1, 1, 1);
    int err;
    uint64_t ino = resolve(tight, vfs_root_ino(1), "d/c.txt", &err);
    assert_int_not_equal(ino, 0);
    vfs_file *fh;
    assert_ok(vfs_open(tight, ino, O_RDONLY, &fh));
    assert_ok(vfs_slot_detach(tight, 1));
    assert_ok(vfs_slot_detach(tight, 2));
    check_mcache(tight, 1, 1, 1); /* slot 1's view lives on in the handle */
    vfs_release(tight, fh);
    check_mcache(tight, 1, 1, 1);
    vfs_view_spec other = {.layers = &f->a, .nlayers = 1, .uid = OWNER_UID, .gid = OWNER_GID};
    assert_ok(vfs_slot_attach(tight, 3, &other));
    check_mcache(tight, 2, 1, 2);
    assert_ok(vfs_slot_detach(tight, 3));
    check_mcache(tight, 2, 1, 1); /* c's went, a's stays */
    assert_ok(vfs_slot_attach(tight, 1, &spec));
    check_mcache(tight, 3, 1, 2);
    char buf[16];
    size_t got;
    assert_ok(vfs_read_ino(tight, resolve(tight, vfs_root_ino(1), "d/c.txt", &err), buf,
                           sizeof(buf), 0, &got));
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "gamma", 5);
    vfs_free(tight);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slot_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
