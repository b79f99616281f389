/* Unit tests for vfs/: lookups, attributes, listings and reads over a real
 * store, for one layer and for stacks that override, merge and hide each
 * other; cookie and inode-number stability; a large directory; many
 * threads reading one file; the errnos transports will answer; and random
 * stacks checked against layer_flatten, an independent implementation of
 * the same merge rules. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/digest.h"
#include "layer/layer.h"
#include "testutil.h"
#include "vfs/vfs.h"

#define SPILL     4096
#define OWNER_UID 4242
#define OWNER_GID 4343
#define BIG_LEN   ((1u << 20) + 4321)
#define TOOL_LEN  3000

typedef struct fixture {
    char *dir;
    char *store_dir;
    store *s;
    vfs *v;
    uint8_t *big, *tool; /* contents of the single-layer tree's files */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = tu_mkdtemp("vfs");
    f->store_dir = tu_path(f->dir, "store");
    store_opts o = {.spill_threshold = SPILL};
    strata_err *e = store_open(f->store_dir, &o, &f->s);
    if (e) {
        print_error("store_open: %s\n", e->msg);
        strata_err_free(e);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vfs_free(f->v);
    store_close(f->s);
    free(f->store_dir);
    free(f->big);
    free(f->tool);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

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

static strata_digest import_dir(fixture *f, const char *src)
{
    strata_digest d;
    layer_import_opts o = {.threads = 2};
    assert_ok(layer_import(f->s, src, &o, &d, NULL));
    return d;
}

static strata_digest put_str(fixture *f, const char *s)
{
    strata_digest d;
    assert_ok(store_put_buf(f->s, s, strlen(s), &d, NULL));
    return d;
}

static strata_digest store_builder(fixture *f, manifest_builder *b)
{
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    assert_false(enc.oom);
    strata_digest d;
    assert_ok(store_put_buf(f->s, enc.data, enc.len, &d, NULL));
    buf_free(&enc);
    manifest_builder_free(b);
    return d;
}

static vfs *show(fixture *f, const strata_digest *layers, uint32_t n, const vfs_opts *o)
{
    vfs *v;
    assert_ok(vfs_new(f->s, o, &v));
    vfs_view_spec spec = {.layers = layers, .nlayers = n, .uid = OWNER_UID, .gid = OWNER_GID};
    assert_ok(vfs_slot_attach(v, 0, &spec));
    return v;
}

/* Looks a slash-separated path up from the root, the way a kernel would,
 * giving every lookup back once it is used. Returns the errno. */
static int walk(vfs *v, const char *path, vfs_attr *out)
{
    uint64_t cur = VFS_ROOT_INO;
    vfs_attr a;
    assert_ok(vfs_getattr(v, cur, &a));
    const char *p = path;
    while (*p) {
        const char *sl = strchr(p, '/');
        size_t len = sl ? (size_t)(sl - p) : strlen(p);
        vfs_attr na;
        strata_err *e = vfs_lookup(v, cur, p, len, &na);
        if (cur != VFS_ROOT_INO)
            vfs_forget(v, cur, 1);
        if (e) {
            int r = vfs_errno(e);
            assert_non_null(e->hint);
            strata_err_free(e);
            return r;
        }
        cur = na.ino;
        a = na;
        p = sl ? sl + 1 : p + len;
    }
    if (cur != VFS_ROOT_INO)
        vfs_forget(v, cur, 1);
    *out = a;
    return 0;
}

static uint64_t ino_of(vfs *v, const char *path)
{
    vfs_attr a;
    assert_int_equal(walk(v, path, &a), 0);
    return a.ino;
}

/* The whole content of a file, read in odd-sized pieces with no open. */
static uint8_t *slurp(vfs *v, uint64_t ino, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (cap - n < 40000) {
            cap *= 2;
            b = realloc(b, cap);
        }
        size_t got;
        assert_ok(vfs_read_ino(v, ino, b + n, 40000, n, &got));
        if (got == 0)
            break;
        n += got;
    }
    *len = n;
    return b;
}

static void check_content(vfs *v, const char *path, const void *want, size_t len)
{
    size_t n;
    uint8_t *got = slurp(v, ino_of(v, path), &n);
    assert_int_equal(n, len);
    assert_memory_equal(got, want, len);
    free(got);
}

static void check_str(vfs *v, const char *path, const char *want)
{
    check_content(v, path, want, strlen(want));
}

typedef struct listing {
    char **names;
    uint64_t *inos, *cookies;
    uint32_t *types;
    vfs_attr *attrs;
    size_t n, cap;
    size_t per_call; /* take at most this many per call (0: all) */
    size_t this_call;
} listing;

static bool collect(void *ctx, const vfs_dirent *d)
{
    listing *l = ctx;
    if (l->per_call && l->this_call == l->per_call)
        return false;
    l->this_call++;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->names = realloc(l->names, l->cap * sizeof(*l->names));
        l->inos = realloc(l->inos, l->cap * sizeof(*l->inos));
        l->cookies = realloc(l->cookies, l->cap * sizeof(*l->cookies));
        l->types = realloc(l->types, l->cap * sizeof(*l->types));
        l->attrs = realloc(l->attrs, l->cap * sizeof(*l->attrs));
    }
    l->names[l->n] = strndup(d->name, d->name_len);
    l->inos[l->n] = d->ino;
    l->cookies[l->n] = d->cookie;
    l->types[l->n] = d->type;
    if (d->attr)
        l->attrs[l->n] = *d->attr;
    l->n++;
    return true;
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->inos);
    free(l->cookies);
    free(l->types);
    free(l->attrs);
    memset(l, 0, sizeof(*l));
}

/* Lists a directory whole, per_call entries per call, resuming from the
 * last cookie taken, as FUSE does. */
static void list_dir(vfs *v, uint64_t ino, bool plus, bool count, size_t per_call, listing *l)
{
    memset(l, 0, sizeof(*l));
    l->per_call = per_call;
    uint64_t cookie = 0;
    for (int calls = 0;; calls++) {
        bool eof = false;
        l->this_call = 0;
        if (plus)
            assert_ok(vfs_readdirplus(v, ino, cookie, count, collect, l, &eof));
        else
            assert_ok(vfs_readdir(v, ino, cookie, collect, l, &eof));
        if (l->n)
            cookie = l->cookies[l->n - 1];
        if (eof)
            break;
        assert_true(l->this_call > 0);
        assert_true(calls < 1000000);
    }
}

static void check_names(const listing *l, const char *const *want, size_t n)
{
    assert_int_equal(l->n, n + 2);
    assert_string_equal(l->names[0], ".");
    assert_string_equal(l->names[1], "..");
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->names[i + 2], want[i]);
}

/* ---- one layer ---------------------------------------------------------- */

static strata_digest make_single(fixture *f)
{
    char *src = tu_path(f->dir, "single");
    mkdir(src, 0755);
    f->big = malloc(BIG_LEN);
    f->tool = malloc(TOOL_LEN);
    tu_fill_random(f->big, BIG_LEN, 1);
    tu_fill_random(f->tool, TOOL_LEN, 2);
    tu_write_file(src, "hello.txt", "hello, strata\n", 14, 0644);
    tu_write_file(src, "bin/tool", f->tool, TOOL_LEN, 0755);
    tu_write_file(src, "big.bin", f->big, BIG_LEN, 0640);
    tu_write_file(src, "empty", "", 0, 0600);
    tu_write_file(src, "dir/sub/deep.txt", "deep\n", 5, 0644);
    char *p = tu_path(src, "dir/link");
    assert_int_equal(symlink("../hello.txt", p), 0);
    free(p);
    p = tu_path(src, "emptydir");
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
    assert_int_equal(chmod(src, 0751), 0);
    strata_digest d = import_dir(f, src);
    tu_rmtree(src);
    return d;
}

static void test_single_layer(void **state)
{
    fixture *f = *state;
    strata_digest d = make_single(f);
    vfs *v = f->v = show(f, &d, 1, NULL);

    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_int_equal(st.merged_dirs, 0); /* showing a view merges nothing */
    assert_int_equal(vfs_root_ino(0), 1);

    vfs_attr a;
    assert_ok(vfs_getattr(v, VFS_ROOT_INO, &a));
    assert_int_equal(a.ino, 1);
    assert_int_equal(a.mode, S_IFDIR | 0751);
    assert_int_equal(a.nlink, 2 + 3); /* bin, dir, emptydir */
    assert_int_equal(a.uid, OWNER_UID);
    assert_int_equal(a.gid, OWNER_GID);
    assert_int_equal(a.mtime.sec, MANIFEST_MTIME);
    assert_int_equal(a.flags & VFS_ATTR_IMMUTABLE, VFS_ATTR_IMMUTABLE);

    assert_int_equal(walk(v, "hello.txt", &a), 0);
    assert_int_equal(a.mode, S_IFREG | 0644);
    assert_int_equal(a.size, 14);
    assert_int_equal(a.nlink, 1);
    assert_int_equal(a.blocks, 8);
    assert_int_equal(a.uid, OWNER_UID);
    assert_int_equal(a.atime.sec, MANIFEST_MTIME);
    assert_int_equal(a.ctime.sec, MANIFEST_MTIME);
    assert_int_equal(vfs_ino_slot(a.ino), 0);
    assert_int_equal(vfs_ino_src(a.ino), 1);

    assert_int_equal(walk(v, "big.bin", &a), 0);
    assert_int_equal(a.mode, S_IFREG | 0640);
    assert_int_equal(a.size, BIG_LEN);
    assert_int_equal(walk(v, "bin/tool", &a), 0);
    assert_int_equal(a.mode, S_IFREG | 0755);
    assert_int_equal(walk(v, "empty", &a), 0);
    assert_int_equal(a.size, 0);
    assert_int_equal(a.blocks, 0);
    assert_int_equal(walk(v, "dir", &a), 0);
    assert_int_equal(a.nlink, 3);
    assert_int_equal(a.size, VFS_DIR_SIZE);
    assert_int_equal(walk(v, "dir/sub", &a), 0);
    assert_int_equal(a.nlink, 2);
    assert_int_equal(walk(v, "emptydir", &a), 0);
    assert_int_equal(a.mode, S_IFDIR | 0700);
    assert_int_equal(a.nlink, 2);
    assert_int_equal(walk(v, "dir/link", &a), 0);
    assert_int_equal(a.mode, S_IFLNK | 0777);
    assert_int_equal(a.size, 12);

    char target[VFS_LINK_MAX + 1];
    size_t tlen;
    assert_ok(vfs_readlink(v, a.ino, target, sizeof(target), &tlen));
    assert_int_equal(tlen, 12);
    assert_string_equal(target, "../hello.txt");

    /* "." and "..". */
    uint64_t dir = ino_of(v, "dir"), sub = ino_of(v, "dir/sub");
    assert_ok(vfs_lookup(v, sub, ".", 1, &a));
    assert_int_equal(a.ino, sub);
    vfs_forget(v, sub, 1);
    assert_ok(vfs_lookup(v, sub, "..", 2, &a));
    assert_int_equal(a.ino, dir);
    vfs_forget(v, dir, 1);
    assert_ok(vfs_lookup(v, VFS_ROOT_INO, "..", 2, &a));
    assert_int_equal(a.ino, VFS_ROOT_INO);

    /* Listings. */
    listing l;
    list_dir(v, VFS_ROOT_INO, false, false, 0, &l);
    const char *root_names[] = {"big.bin", "bin", "dir", "empty", "emptydir", "hello.txt"};
    check_names(&l, root_names, 6);
    assert_int_equal(l.inos[0], VFS_ROOT_INO);
    assert_int_equal(l.inos[1], VFS_ROOT_INO);
    assert_int_equal(l.types[2], S_IFREG);
    assert_int_equal(l.types[3], S_IFDIR);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.cookies[i], i + 1);
    assert_int_equal(l.inos[4], dir);
    listing_free(&l);
    list_dir(v, dir, true, false, 0, &l);
    const char *dir_names[] = {"link", "sub"};
    check_names(&l, dir_names, 2);
    assert_int_equal(l.inos[0], dir);
    assert_int_equal(l.inos[1], VFS_ROOT_INO);
    assert_int_equal(l.types[2], S_IFLNK);
    assert_int_equal(l.attrs[2].mode, S_IFLNK | 0777);
    assert_int_equal(l.attrs[3].ino, sub);
    assert_int_equal(l.attrs[3].nlink, 2);
    assert_int_equal(l.attrs[1].ino, VFS_ROOT_INO);
    listing_free(&l);

    /* Content, whole and at random offsets, with and without an open. */
    check_str(v, "hello.txt", "hello, strata\n");
    check_str(v, "dir/sub/deep.txt", "deep\n");
    check_content(v, "bin/tool", f->tool, TOOL_LEN);
    check_content(v, "big.bin", f->big, BIG_LEN);
    check_content(v, "empty", "", 0);
    uint64_t big = ino_of(v, "big.bin"), tool = ino_of(v, "bin/tool");
    vfs_file *fh;
    assert_ok(vfs_open(v, big, O_RDONLY, &fh));
    assert_int_equal(vfs_file_ino(fh), big);
    uint8_t *buf = malloc(200000);
    uint64_t rng = 7;
    for (int i = 0; i < 600; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        bool on_big = i % 2;
        size_t flen = on_big ? BIG_LEN : TOOL_LEN;
        uint64_t off = (rng >> 20) % (flen + 100);
        size_t len = (size_t)((rng >> 44) % 150000);
        size_t got, want = off >= flen ? 0 : (flen - off < len ? flen - off : len);
        if (on_big && i % 4 == 1)
            assert_ok(vfs_read(v, fh, buf, len, off, &got));
        else
            assert_ok(vfs_read_ino(v, on_big ? big : tool, buf, len, off, &got));
        assert_int_equal(got, want);
        if (want)
            assert_memory_equal(buf, (on_big ? f->big : f->tool) + off, want);
    }
    free(buf);
    vfs_release(v, fh);

    vfs_statfs sf;
    assert_ok(vfs_statfs_get(v, VFS_ROOT_INO, &sf));
    assert_int_equal(sf.files, 1 + 10);
    assert_int_equal(sf.namemax, 255);
    assert_true(sf.blocks >= BIG_LEN / 4096);
    assert_int_equal(sf.bfree, 0);

    /* Permissions against the view's owner. */
    uint64_t hello = ino_of(v, "hello.txt"), empty = ino_of(v, "empty");
    assert_ok(vfs_access(v, hello, R_OK, OWNER_UID, 1));
    assert_ok(vfs_access(v, hello, F_OK, 99, 99));
    assert_ok(vfs_access(v, hello, R_OK, 99, 99));
    assert_ok(vfs_access(v, empty, R_OK, OWNER_UID, 1));
    assert_errno(vfs_access(v, empty, R_OK, 99, 99), EACCES);
    assert_errno(vfs_access(v, empty, R_OK, 99, OWNER_GID), EACCES);
    assert_ok(vfs_access(v, empty, R_OK, 0, 0));
    assert_errno(vfs_access(v, hello, X_OK, 0, 0), EACCES);
    assert_ok(vfs_access(v, tool, X_OK, 99, 99));
    assert_ok(vfs_access(v, dir, X_OK, 0, 0));
    assert_errno(vfs_access(v, hello, W_OK, OWNER_UID, OWNER_GID), EROFS);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    strata_digest d = make_single(f);
    vfs *v = f->v = show(f, &d, 1, NULL);
    vfs_attr a;
    assert_int_equal(walk(v, "nope", &a), ENOENT);
    assert_int_equal(walk(v, "dir/nope", &a), ENOENT);
    assert_int_equal(walk(v, "hello.txt/x", &a), ENOTDIR);
    assert_int_equal(walk(v, "dir/link/x", &a), ENOTDIR);
    char longname[300];
    memset(longname, 'n', sizeof(longname));
    assert_errno(vfs_lookup(v, VFS_ROOT_INO, longname, 256, &a), ENAMETOOLONG);
    assert_errno(vfs_lookup(v, VFS_ROOT_INO, "a/b", 3, &a), EINVAL);
    assert_errno(vfs_lookup(v, VFS_ROOT_INO, "", 0, &a), EINVAL);

    uint64_t hello = ino_of(v, "hello.txt"), dir = ino_of(v, "dir"), link = ino_of(v, "dir/link");
    listing l = {0};
    assert_errno(vfs_readdir(v, hello, 0, collect, &l, NULL), ENOTDIR);
    assert_errno(vfs_readdirplus(v, link, 0, true, collect, &l, NULL), ENOTDIR);
    assert_int_equal(l.n, 0);
    char buf[64];
    size_t got;
    assert_errno(vfs_read_ino(v, dir, buf, sizeof(buf), 0, &got), EISDIR);
    assert_errno(vfs_read_ino(v, link, buf, sizeof(buf), 0, &got), EINVAL);
    vfs_file *fh;
    assert_errno(vfs_open(v, dir, O_RDONLY, &fh), EISDIR);
    assert_errno(vfs_open(v, link, O_RDONLY, &fh), ELOOP);
    assert_errno(vfs_open(v, hello, O_RDWR, &fh), EROFS);
    assert_errno(vfs_open(v, hello, O_WRONLY, &fh), EROFS);
    assert_errno(vfs_open(v, hello, O_RDONLY | O_TRUNC, &fh), EROFS);
    size_t tlen;
    assert_errno(vfs_readlink(v, hello, buf, sizeof(buf), &tlen), EINVAL);
    assert_errno(vfs_readlink(v, link, buf, 4, &tlen), ERANGE);

    /* Numbers that name nothing. */
    assert_errno(vfs_getattr(v, 0, &a), ESTALE);
    assert_errno(vfs_getattr(v, vfs_ino_make(0, 200, 0), &a), ESTALE);
    assert_errno(vfs_getattr(v, vfs_ino_make(0, 1, 100000), &a), ESTALE);
    assert_errno(vfs_getattr(v, vfs_ino_make(0, VFS_SRC_UPPER, 1), &a), ESTALE);
    assert_errno(vfs_getattr(v, vfs_ino_make(0, VFS_SRC_SPECIAL, 2), &a), ESTALE);
    assert_errno(vfs_getattr(v, vfs_root_ino(1), &a), ESTALE);
    assert_errno(vfs_read_ino(v, vfs_root_ino(7), buf, 1, 0, &got), ESTALE);

    /* Slots. */
    vfs_view_spec spec = {.layers = &d, .nlayers = 1};
    assert_err(vfs_slot_attach(v, 0, &spec), STRATA_E_EXISTS);
    assert_err(vfs_slot_attach(v, 1, &spec), STRATA_E_INVALID);
    vfs *v2;
    vfs_opts o = {.max_slots = 4};
    assert_ok(vfs_new(f->s, &o, &v2));
    spec.upper = "/nonexistent/strata-upper";
    assert_err(vfs_slot_attach(v2, 2, &spec), STRATA_E_NOTFOUND);
    spec.upper = NULL;
    strata_digest missing;
    digest_buf("no such manifest", 16, &missing);
    spec.layers = &missing;
    assert_err(vfs_slot_attach(v2, 2, &spec), STRATA_E_NOTFOUND);
    spec.layers = &d;
    assert_ok(vfs_slot_attach(v2, 3, &spec));
    assert_errno(vfs_getattr(v2, VFS_ROOT_INO, &a), ESTALE); /* slot 0 is empty */
    spec.nlayers = 0;                                        /* a view of nothing: an empty root */
    assert_ok(vfs_slot_attach(v2, 1, &spec));
    listing l0;
    list_dir(v2, vfs_root_ino(1), true, true, 0, &l0);
    check_names(&l0, NULL, 0);
    listing_free(&l0);
    assert_ok(vfs_getattr(v2, vfs_root_ino(1), &a));
    assert_int_equal(a.mode, S_IFDIR | 0755);
    assert_int_equal(a.nlink, 2);
    assert_errno(vfs_lookup(v2, vfs_root_ino(1), "x", 1, &a), ENOENT);
    assert_ok(vfs_getattr(v2, vfs_root_ino(3), &a));
    assert_int_equal(a.ino, vfs_root_ino(3));
    assert_ok(vfs_lookup(v2, vfs_root_ino(3), "hello.txt", 9, &a));
    assert_int_equal(vfs_ino_slot(a.ino), 3);
    assert_int_equal(vfs_ino_index(a.ino), vfs_ino_index(hello));
    vfs_free(v2);

    /* The errno mapping for codes without one of their own. */
    assert_int_equal(vfs_errno(NULL), 0);
    strata_err *e = strata_err_new(STRATA_E_CORRUPT, NULL, "x");
    assert_int_equal(vfs_errno(e), EIO);
    strata_err_free(e);
    e = strata_err_new(STRATA_E_NOTFOUND, NULL, "x");
    assert_int_equal(vfs_errno(e), ENOENT);
    strata_err_free(e);
    e = strata_err_sys(EACCES, NULL, "x");
    assert_int_equal(vfs_errno(e), EACCES);
    strata_err_free(e);
}

/* A file's blob gone from the store is EIO at open/read, never ENOENT: the
 * entry exists, its content is what failed. */
static void test_missing_blob(void **state)
{
    fixture *f = *state;
    manifest_builder *b = manifest_builder_new(0755);
    strata_digest ghost;
    digest_buf("never stored", 12, &ghost);
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "ghost", 0644, 12, &ghost, NULL));
    strata_digest d = store_builder(f, b);
    vfs *v = f->v = show(f, &d, 1, NULL);
    uint64_t ino = ino_of(v, "ghost");
    char buf[16];
    size_t got;
    assert_errno(vfs_read_ino(v, ino, buf, sizeof(buf), 0, &got), EIO);
    vfs_file *fh;
    assert_errno(vfs_open(v, ino, O_RDONLY, &fh), EIO);
}

/* ---- stacks ------------------------------------------------------------- */

/* Three layers, top first:
 *   top:    a.txt, shared/z, deep/1/new, top_only/t
 *   middle: a.txt, shared/y, shared/m, f_over_d (file), d_over_f/q, only1
 *   bottom: a.txt, shared/x, shared/y, f_over_d/inner.txt, d_over_f (file),
 *           deep/1/2/z, gone/g */
static void make_stack(fixture *f, strata_digest out[3])
{
    const char *names[3] = {"top", "middle", "bottom"};
    char *src[3];
    for (int i = 0; i < 3; i++) {
        src[i] = tu_path(f->dir, names[i]);
        mkdir(src[i], 0755);
    }
    tu_write_file(src[0], "a.txt", "top-a", 5, 0644);
    tu_write_file(src[0], "shared/z", "z0", 2, 0644);
    tu_write_file(src[0], "deep/1/new", "n0", 2, 0644);
    tu_write_file(src[0], "top_only/t", "t0", 2, 0600);
    tu_write_file(src[1], "a.txt", "middle-a", 8, 0600);
    tu_write_file(src[1], "shared/y", "y1", 2, 0644);
    tu_write_file(src[1], "shared/m", "m1", 2, 0644);
    tu_write_file(src[1], "f_over_d", "file hides dir", 14, 0755);
    tu_write_file(src[1], "d_over_f/q", "q1", 2, 0644);
    tu_write_file(src[1], "only1", "o1", 2, 0644);
    tu_write_file(src[2], "a.txt", "bottom-a", 8, 0644);
    tu_write_file(src[2], "shared/x", "x2", 2, 0644);
    tu_write_file(src[2], "shared/y", "y2", 2, 0644);
    tu_write_file(src[2], "f_over_d/inner.txt", "inner", 5, 0644);
    tu_write_file(src[2], "d_over_f", "d_over_f-bottom", 15, 0644);
    tu_write_file(src[2], "deep/1/2/z", "z2", 2, 0644);
    tu_write_file(src[2], "gone/g", "g2", 2, 0644);
    char *p = tu_path(src[0], "shared");
    assert_int_equal(chmod(p, 0700), 0); /* the top layer's mode wins */
    free(p);
    for (int i = 0; i < 3; i++) {
        out[i] = import_dir(f, src[i]);
        tu_rmtree(src[i]);
    }
}

/* The number of path in one layer, as a transport might still hold it. */
static uint64_t layer_ino(fixture *f, const strata_digest *layer, uint16_t src, const char *path)
{
    manifest *m;
    assert_ok(layer_load(f->s, layer, &m));
    int64_t i = manifest_find(m, path, strlen(path));
    assert_true(i >= 0);
    manifest_free(m);
    return vfs_ino_make(0, src, (uint32_t)i);
}

static void test_stacked(void **state)
{
    fixture *f = *state;
    strata_digest d[3];
    make_stack(f, d);
    vfs *v = f->v = show(f, d, 3, NULL);
    vfs_attr a;

    /* File over file: the top one. */
    check_str(v, "a.txt", "top-a");
    assert_int_equal(walk(v, "a.txt", &a), 0);
    assert_int_equal(a.mode, S_IFREG | 0644);
    assert_int_equal(vfs_ino_src(a.ino), 1);
    check_str(v, "only1", "o1");
    assert_int_equal(vfs_ino_src(ino_of(v, "only1")), 2);

    /* Merged directory: the union, the highest layer winning. */
    listing l;
    list_dir(v, ino_of(v, "shared"), true, false, 0, &l);
    const char *shared[] = {"m", "x", "y", "z"};
    check_names(&l, shared, 4);
    listing_free(&l);
    check_str(v, "shared/y", "y1");
    check_str(v, "shared/x", "x2");
    check_str(v, "shared/z", "z0");
    check_str(v, "shared/m", "m1");
    assert_int_equal(walk(v, "shared", &a), 0);
    assert_int_equal(a.mode, S_IFDIR | 0700);
    assert_int_equal(a.nlink, 2);
    assert_int_equal(vfs_ino_src(a.ino), 1);
    assert_int_equal(vfs_ino_src(ino_of(v, "shared/x")), 3);

    /* A file hides the directory below it, with everything in it. */
    assert_int_equal(walk(v, "f_over_d", &a), 0);
    assert_int_equal(a.mode, S_IFREG | 0755);
    check_str(v, "f_over_d", "file hides dir");
    assert_int_equal(walk(v, "f_over_d/inner.txt", &a), ENOTDIR);

    /* A directory hides the file below it. */
    assert_int_equal(walk(v, "d_over_f", &a), 0);
    assert_int_equal(a.mode & S_IFMT, S_IFDIR);
    list_dir(v, a.ino, false, false, 0, &l);
    const char *dof[] = {"q"};
    check_names(&l, dof, 1);
    listing_free(&l);

    /* Deep merges. */
    list_dir(v, ino_of(v, "deep/1"), false, false, 0, &l);
    const char *deep[] = {"2", "new"};
    check_names(&l, deep, 2);
    listing_free(&l);
    check_str(v, "deep/1/2/z", "z2");
    check_str(v, "deep/1/new", "n0");
    assert_int_equal(walk(v, "deep/1", &a), 0);
    assert_int_equal(a.nlink, 3);

    list_dir(v, VFS_ROOT_INO, true, false, 0, &l);
    const char *root[] = {"a.txt", "d_over_f", "deep",   "f_over_d",
                          "gone",  "only1",    "shared", "top_only"};
    check_names(&l, root, 8);
    assert_int_equal(l.attrs[0].nlink, 2 + 5);
    listing_free(&l);

    /* Numbers of hidden entries name nothing; visible ones resolve. */
    vfs_attr b;
    assert_errno(vfs_getattr(v, layer_ino(f, &d[2], 3, "a.txt"), &b), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &d[1], 2, "a.txt"), &b), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &d[2], 3, "f_over_d"), &b), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &d[2], 3, "f_over_d/inner.txt"), &b), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &d[2], 3, "d_over_f"), &b), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &d[2], 3, "shared"), &b), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &d[2], 3, "shared/y"), &b), ESTALE);
    assert_ok(vfs_getattr(v, layer_ino(f, &d[2], 3, "shared/x"), &b));
    assert_ok(vfs_getattr(v, layer_ino(f, &d[2], 3, "deep/1/2/z"), &b));
    assert_ok(vfs_getattr(v, layer_ino(f, &d[0], 1, "deep/1"), &b));
    assert_int_equal(b.nlink, 3);
}

static void test_whiteouts(void **state)
{
    fixture *f = *state;
    strata_digest c = put_str(f, "content");
    manifest_builder *b = manifest_builder_new(0755);
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "keep", 0644, 7, &c, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "del", 0644, 7, &c, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, "deldir", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "deldir/x", 0644, 7, &c, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, "opq", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "opq/a", 0644, 7, &c, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, "opq/sub", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, "merged", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "merged/old", 0644, 7, &c, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "merged/wo", 0644, 7, &c, NULL));
    strata_digest layers[2];
    layers[1] = store_builder(f, b);
    b = manifest_builder_new(0755);
    assert_ok(manifest_builder_add_flags(b, MANIFEST_WHITEOUT, 0, "del", 0, 0, NULL, NULL));
    assert_ok(manifest_builder_add_flags(b, MANIFEST_WHITEOUT, 0, "deldir", 0, 0, NULL, NULL));
    assert_ok(manifest_builder_add_flags(b, MANIFEST_WHITEOUT, 0, "ghost", 0, 0, NULL, NULL));
    assert_ok(
        manifest_builder_add_flags(b, MANIFEST_DIR, MANIFEST_F_OPAQUE, "opq", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "opq/c", 0644, 7, &c, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, "merged", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "merged/new", 0644, 7, &c, NULL));
    assert_ok(manifest_builder_add_flags(b, MANIFEST_WHITEOUT, 0, "merged/wo", 0, 0, NULL, NULL));
    layers[0] = store_builder(f, b);
    vfs *v = f->v = show(f, layers, 2, NULL);

    vfs_attr a;
    listing l;
    list_dir(v, VFS_ROOT_INO, false, false, 0, &l);
    const char *root[] = {"keep", "merged", "opq"};
    check_names(&l, root, 3);
    listing_free(&l);
    assert_int_equal(walk(v, "del", &a), ENOENT);
    assert_int_equal(walk(v, "deldir", &a), ENOENT);
    assert_int_equal(walk(v, "deldir/x", &a), ENOENT);
    assert_int_equal(walk(v, "ghost", &a), ENOENT);
    list_dir(v, ino_of(v, "opq"), false, false, 0, &l);
    const char *opq[] = {"c"};
    check_names(&l, opq, 1);
    listing_free(&l);
    assert_int_equal(walk(v, "opq", &a), 0);
    assert_int_equal(a.nlink, 2);
    assert_int_equal(walk(v, "opq/a", &a), ENOENT);
    list_dir(v, ino_of(v, "merged"), false, false, 0, &l);
    const char *merged[] = {"new", "old"};
    check_names(&l, merged, 2);
    listing_free(&l);
    assert_ok(vfs_getattr(v, VFS_ROOT_INO, &a));
    assert_int_equal(a.nlink, 2 + 2);
    assert_errno(vfs_getattr(v, layer_ino(f, &layers[1], 2, "del"), &a), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &layers[1], 2, "opq/sub"), &a), ESTALE);
    assert_errno(vfs_getattr(v, layer_ino(f, &layers[0], 1, "merged/wo"), &a), ESTALE);
    assert_ok(vfs_getattr(v, layer_ino(f, &layers[1], 2, "merged/old"), &a));
}

/* ---- stability ---------------------------------------------------------- */

/* Resuming from every cookie gives exactly the rest of the listing, however
 * the listing is cut into calls. */
static void test_cookies(void **state)
{
    fixture *f = *state;
    strata_digest c = put_str(f, "c");
    strata_digest layers[2];
    for (int k = 0; k < 2; k++) {
        manifest_builder *b = manifest_builder_new(0755);
        assert_ok(manifest_builder_add(b, MANIFEST_DIR, "d", 0755, 0, NULL, NULL));
        for (int i = 0; i < 150; i++) {
            char p[32];
            snprintf(p, sizeof(p), "d/n%03d", i + k * 100);
            if (i % 7)
                assert_ok(manifest_builder_add(b, MANIFEST_FILE, p, 0644, 1, &c, NULL));
            else
                assert_ok(manifest_builder_add(b, MANIFEST_DIR, p, 0755, 0, NULL, NULL));
        }
        layers[k] = store_builder(f, b);
    }
    vfs *v = f->v = show(f, layers, 2, NULL);
    uint64_t d = ino_of(v, "d");
    listing all;
    list_dir(v, d, false, false, 0, &all);
    assert_int_equal(all.n, 2 + 250);
    for (size_t i = 3; i < all.n; i++)
        assert_true(strcmp(all.names[i - 1], all.names[i]) < 0);
    for (uint64_t ck = 0; ck <= all.n + 1; ck++) {
        listing rest = {0};
        bool eof = false;
        assert_ok(vfs_readdir(v, d, ck, collect, &rest, &eof));
        assert_true(eof);
        size_t want = ck < all.n ? all.n - ck : 0;
        assert_int_equal(rest.n, want);
        for (size_t i = 0; i < rest.n; i++) {
            assert_string_equal(rest.names[i], all.names[ck + i]);
            assert_int_equal(rest.inos[i], all.inos[ck + i]);
            assert_int_equal(rest.cookies[i], all.cookies[ck + i]);
        }
        listing_free(&rest);
    }
    size_t chunks[] = {1, 2, 7, 64, 251, 252, 1000};
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        listing part;
        list_dir(v, d, k % 2, false, chunks[k], &part);
        assert_int_equal(part.n, all.n);
        for (size_t i = 0; i < part.n; i++) {
            assert_string_equal(part.names[i], all.names[i]);
            assert_int_equal(part.inos[i], all.inos[i]);
        }
        listing_free(&part);
    }
    listing_free(&all);
}

/* Numbers stay the same across forget, derivation from the number alone,
 * and a second vfs over the same layers. */
static void test_ino_stability(void **state)
{
    fixture *f = *state;
    strata_digest d[3];
    make_stack(f, d);
    vfs_opts o = {.max_idle_inodes = 0};
    vfs *v = f->v = show(f, d, 3, &o);
    const char *paths[] = {"a.txt",  "shared",     "shared/x",  "deep/1/2/z",
                           "deep/1", "d_over_f/q", "top_only/t"};
    uint64_t inos[7];
    for (int i = 0; i < 7; i++)
        inos[i] = ino_of(v, paths[i]);

    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_int_equal(st.inodes, 1); /* every lookup given back: only the root */
    uint64_t derived = st.derived;
    vfs_attr a;
    for (int i = 0; i < 7; i++) {
        assert_ok(vfs_getattr(v, inos[i], &a));
        assert_int_equal(a.ino, inos[i]);
        assert_int_equal(ino_of(v, paths[i]), inos[i]);
    }
    vfs_get_stats(v, &st);
    assert_int_equal(st.derived, derived + 7);
    assert_int_equal(st.inodes, 1);

    /* A forgotten directory lists, with the right "..", from its number. */
    listing l;
    list_dir(v, inos[4], true, false, 0, &l);
    assert_int_equal(l.inos[1], ino_of(v, "deep"));
    listing_free(&l);
    char buf[8];
    size_t got;
    assert_ok(vfs_read_ino(v, inos[3], buf, sizeof(buf), 0, &got));
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "z2", 2);

    /* Lookup counts: an inode stays while it has lookups. */
    assert_ok(vfs_lookup(v, VFS_ROOT_INO, "a.txt", 5, &a));
    assert_ok(vfs_lookup(v, VFS_ROOT_INO, "a.txt", 5, &a));
    vfs_get_stats(v, &st);
    assert_int_equal(st.inodes, 2);
    vfs_forget(v, a.ino, 1);
    vfs_get_stats(v, &st);
    assert_int_equal(st.inodes, 2);
    vfs_forget(v, a.ino, 1);
    vfs_get_stats(v, &st);
    assert_int_equal(st.inodes, 1);
    /* An open handle keeps it too. */
    vfs_file *fh;
    assert_ok(vfs_open(v, inos[0], O_RDONLY, &fh));
    vfs_get_stats(v, &st);
    assert_int_equal(st.inodes, 2);
    vfs_release(v, fh);
    vfs_get_stats(v, &st);
    assert_int_equal(st.inodes, 1);

    vfs *v2 = show(f, d, 3, NULL);
    for (int i = 0; i < 7; i++)
        assert_int_equal(ino_of(v2, paths[i]), inos[i]);
    vfs_free(v2);
}

/* With a budget, forgotten inodes stay cached up to it and no further. */
static void test_idle_budget(void **state)
{
    fixture *f = *state;
    strata_digest c = put_str(f, "c");
    manifest_builder *b = manifest_builder_new(0755);
    for (int i = 0; i < 5000; i++) {
        char p[32];
        snprintf(p, sizeof(p), "f%04d", i);
        assert_ok(manifest_builder_add(b, MANIFEST_FILE, p, 0644, 1, &c, NULL));
    }
    strata_digest d = store_builder(f, b);
    vfs_opts o = {.max_idle_inodes = 640};
    vfs *v = f->v = show(f, &d, 1, &o);
    listing l;
    list_dir(v, VFS_ROOT_INO, true, true, 100, &l);
    assert_int_equal(l.n, 5002);
    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_int_equal(st.inodes, 5001);
    assert_int_equal(st.idle, 0);
    for (size_t i = 2; i < l.n; i++) {
        char buf[2];
        size_t got;
        assert_ok(vfs_read_ino(v, l.inos[i], buf, 2, 0, &got));
        assert_int_equal(got, 1);
        vfs_forget(v, l.inos[i], 1);
    }
    vfs_get_stats(v, &st);
    assert_true(st.idle <= 640);
    assert_true(st.idle >= 320);
    assert_int_equal(st.inodes, st.idle + 1);
    assert_true(st.readers <= st.idle);
    listing_free(&l);
}

/* ---- scale and concurrency ---------------------------------------------- */

static void test_large_dir(void **state)
{
    fixture *f = *state;
    enum { N = 20000 };
    strata_digest odd = put_str(f, "odd"), even = put_str(f, "even");
    strata_digest layers[2];
    for (int k = 0; k < 2; k++) {
        manifest_builder *b = manifest_builder_new(0755);
        assert_ok(manifest_builder_add(b, MANIFEST_DIR, "big", 0755, 0, NULL, NULL));
        for (int i = 0; i < N; i++) {
            if (k == 0 && i % 2)
                continue;
            char p[32];
            snprintf(p, sizeof(p), "big/f%05d", i);
            assert_ok(manifest_builder_add(b, MANIFEST_FILE, p, 0644, k == 0 ? 4 : 3,
                                           k == 0 ? &even : &odd, NULL));
        }
        layers[k] = store_builder(f, b);
    }
    vfs *v = f->v = show(f, layers, 2, NULL);
    uint64_t big = ino_of(v, "big");
    listing l;
    list_dir(v, big, false, false, 97, &l);
    assert_int_equal(l.n, N + 2);
    for (size_t i = 2; i < l.n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "f%05zu", i - 2);
        assert_string_equal(l.names[i], want);
        assert_int_equal(vfs_ino_src(l.inos[i]), (i - 2) % 2 ? 2 : 1);
    }
    listing_free(&l);

    list_dir(v, big, true, true, 500, &l);
    assert_int_equal(l.n, N + 2);
    for (size_t i = 2; i < l.n; i++)
        assert_int_equal(l.attrs[i].size, (i - 2) % 2 ? 3 : 4);
    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_true(st.inodes >= N);
    for (size_t i = 2; i < l.n; i++)
        vfs_forget(v, l.inos[i], 1);
    listing_free(&l);
    vfs_get_stats(v, &st);
    assert_true(st.inodes - st.idle <= 2);

    char name[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "big/f%05d", (i * 104729) % N);
        vfs_attr a;
        assert_int_equal(walk(v, name, &a), 0);
        assert_int_equal(a.size, ((i * 104729) % N) % 2 ? 3 : 4);
    }
    assert_int_equal(walk(v, "big/f20000", &(vfs_attr){0}), ENOENT);
}

typedef struct reader_arg {
    fixture *f;
    vfs *v;
    vfs_file *shared;
    pthread_barrier_t *bar;
    int id;
    int bad; /* mismatches and errors seen */
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *ra = p;
    vfs *v = ra->v;
    pthread_barrier_wait(ra->bar);
    /* Everyone resolves the same fresh paths at once: racing merges and
     * inode inserts must agree. */
    uint64_t cur = VFS_ROOT_INO;
    const char *comps[] = {"dir", "sub", "deep.txt"};
    for (int i = 0; i < 3; i++) {
        vfs_attr a;
        strata_err *e = vfs_lookup(v, cur, comps[i], strlen(comps[i]), &a);
        if (e) {
            strata_err_free(e);
            ra->bad++;
            return NULL;
        }
        cur = a.ino;
    }
    uint64_t big = 0;
    vfs_attr a;
    strata_err *e = vfs_lookup(v, VFS_ROOT_INO, "big.bin", 7, &a);
    if (e) {
        strata_err_free(e);
        ra->bad++;
        return NULL;
    }
    big = a.ino;
    vfs_file *own = NULL;
    if (ra->id % 3 == 1 && (e = vfs_open(v, big, O_RDONLY, &own))) {
        strata_err_free(e);
        ra->bad++;
    }
    uint8_t *buf = malloc(70000);
    uint64_t rng = 1000 + (uint64_t)ra->id;
    for (int i = 0; i < 300; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t off = (rng >> 20) % BIG_LEN;
        size_t len = (size_t)((rng >> 44) % 70000), got = 0;
        size_t want = BIG_LEN - off < len ? BIG_LEN - off : len;
        if (own)
            e = vfs_read(v, own, buf, len, off, &got);
        else if (ra->id % 3 == 2)
            e = vfs_read(v, ra->shared, buf, len, off, &got);
        else
            e = vfs_read_ino(v, big, buf, len, off, &got);
        if (e) {
            strata_err_free(e);
            ra->bad++;
        } else if (got != want || memcmp(buf, ra->f->big + off, want) != 0) {
            ra->bad++;
        }
    }
    char small[8];
    size_t got;
    if ((e = vfs_read_ino(v, cur, small, sizeof(small), 0, &got))) {
        strata_err_free(e);
        ra->bad++;
    } else if (got != 5 || memcmp(small, "deep\n", 5) != 0) {
        ra->bad++;
    }
    free(buf);
    vfs_release(v, own);
    vfs_forget(v, big, 1);
    return NULL;
}

static void test_concurrent_reads(void **state)
{
    fixture *f = *state;
    enum { T = 32 };
    strata_digest d = make_single(f);
    vfs_opts o = {.max_idle_inodes = 1000, .max_cached_readers = 1};
    vfs *v = f->v = show(f, &d, 1, &o);
    vfs_file *shared;
    assert_ok(vfs_open(v, vfs_ino_make(0, 1, 0), O_RDONLY, &shared)); /* big.bin is entry 0 */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, T);
    pthread_t th[T];
    reader_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (reader_arg){.f = f, .v = v, .shared = shared, .bar = &bar, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    pthread_barrier_destroy(&bar);
    vfs_release(v, shared);
    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_true(st.reader_files <= 1);
    /* Every thread looked the same three names up: one merge each. */
    assert_true(st.merged_dirs >= 2);
}

/* ---- random stacks against layer_flatten -------------------------------- */

typedef struct gen {
    fixture *f;
    manifest_builder *b;
    uint64_t rng;
    strata_digest blobs[4];
    const char *contents[4];
} gen;

static uint32_t gen_next(gen *g, uint32_t n)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return (uint32_t)((g->rng >> 11) % n);
}

static void gen_dir(gen *g, const char *prefix, int depth)
{
    static const char *const names[] = {"a", "b", "bb", "c", "d"};
    for (int i = 0; i < 5; i++) {
        if (gen_next(g, 2))
            continue;
        char path[64];
        snprintf(path, sizeof(path), "%s%s", prefix, names[i]);
        uint32_t k = gen_next(g, 10);
        if (depth >= 3 && (k >= 3 && k != 6 && k != 7))
            k = 0;
        if (k <= 2) {
            uint32_t c = gen_next(g, 4);
            uint16_t mode = (uint16_t[]){0644, 0755, 0600}[gen_next(g, 3)];
            assert_ok(manifest_builder_add(g->b, MANIFEST_FILE, path, mode, strlen(g->contents[c]),
                                           &g->blobs[c], NULL));
        } else if (k == 6) {
            assert_ok(manifest_builder_add(g->b, MANIFEST_SYMLINK, path, 0777, 0, NULL,
                                           (const char *[]){"x", "../y", "/abs"}[gen_next(g, 3)]));
        } else if (k == 7) {
            assert_ok(
                manifest_builder_add_flags(g->b, MANIFEST_WHITEOUT, 0, path, 0, 0, NULL, NULL));
        } else {
            unsigned flags = k == 8 ? MANIFEST_F_OPAQUE : 0;
            uint16_t mode = gen_next(g, 2) ? 0755 : 0700;
            assert_ok(
                manifest_builder_add_flags(g->b, MANIFEST_DIR, flags, path, mode, 0, NULL, NULL));
            char sub[sizeof(path) + 1];
            snprintf(sub, sizeof(sub), "%s/", path);
            gen_dir(g, sub, depth + 1);
        }
    }
}

static void assert_attr_equal(const vfs_attr *x, const vfs_attr *y)
{
    assert_int_equal(x->ino, y->ino);
    assert_int_equal(x->mode, y->mode);
    assert_int_equal(x->nlink, y->nlink);
    assert_int_equal(x->uid, y->uid);
    assert_int_equal(x->gid, y->gid);
    assert_int_equal(x->size, y->size);
    assert_int_equal(x->blocks, y->blocks);
    assert_int_equal(x->blksize, y->blksize);
    assert_int_equal(x->flags, y->flags);
    assert_int_equal(x->mtime.sec, y->mtime.sec);
    assert_int_equal(x->mtime.nsec, y->mtime.nsec);
}

typedef struct seen {
    uint64_t *inos;
    size_t n, cap;
} seen;

/* Walks the vfs tree in pre-order (which is tree order) and checks each
 * entry against the flattened manifest, entry by entry. */
static void diff_walk(vfs *v, uint64_t dir, const char *prefix, const manifest *flat, uint32_t *pos,
                      seen *s)
{
    listing l;
    list_dir(v, dir, true, false, 0, &l);
    for (size_t i = 2; i < l.n; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s%s", prefix, l.names[i]);
        if (*pos >= flat->count)
            fail_msg("vfs shows %s, flatten has no more entries", path);
        const manifest_entry *en = &flat->entries[(*pos)++];
        if (strcmp(en->path, path) != 0)
            fail_msg("vfs shows %s where flatten has %s", path, en->path);
        const vfs_attr *a = &l.attrs[i];
        assert_int_equal(a->ino, l.inos[i]);
        uint32_t type = en->kind == MANIFEST_DIR       ? S_IFDIR
                        : en->kind == MANIFEST_SYMLINK ? S_IFLNK
                                                       : S_IFREG;
        assert_int_equal(a->mode, type | en->mode);
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 64;
            s->inos = realloc(s->inos, s->cap * sizeof(*s->inos));
        }
        s->inos[s->n++] = a->ino;
        /* The number alone gives the same attributes. */
        vfs_attr again;
        assert_ok(vfs_getattr(v, a->ino, &again));
        assert_attr_equal(&again, a);
        if (en->kind == MANIFEST_FILE) {
            assert_int_equal(a->size, en->size);
            size_t n;
            uint8_t *data = slurp(v, a->ino, &n);
            strata_digest dg;
            digest_buf(data, n, &dg);
            free(data);
            assert_true(digest_eq(&dg, &en->digest));
        } else if (en->kind == MANIFEST_SYMLINK) {
            char t[VFS_LINK_MAX + 1];
            size_t tl;
            assert_ok(vfs_readlink(v, a->ino, t, sizeof(t), &tl));
            assert_string_equal(t, en->target);
        } else {
            uint32_t nsub = 0;
            for (uint32_t c = manifest_child_first(flat, (uint32_t)(en - flat->entries));
                 c != MANIFEST_ROOT; c = manifest_child_next(flat, c))
                nsub += flat->entries[c].kind == MANIFEST_DIR;
            assert_int_equal(a->nlink, 2 + nsub);
            char sub[sizeof(path) + 1];
            snprintf(sub, sizeof(sub), "%s/", path);
            diff_walk(v, a->ino, sub, flat, pos, s);
        }
    }
    listing_free(&l);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_random_stacks(void **state)
{
    fixture *f = *state;
    gen g = {.f = f, .contents = {"", "one", "two two", "three three three"}};
    for (int i = 0; i < 4; i++)
        g.blobs[i] = put_str(f, g.contents[i]);
    for (uint64_t seed = 1; seed <= 150; seed++) {
        g.rng = seed * 0x9e3779b97f4a7c15ull;
        uint32_t n = 1 + gen_next(&g, 4);
        strata_digest d[4];
        manifest *m[4];
        for (uint32_t k = 0; k < n; k++) {
            g.b = manifest_builder_new(k == 0 ? 0750 : 0755);
            gen_dir(&g, "", 0);
            d[k] = store_builder(f, g.b);
            assert_ok(layer_load(f->s, &d[k], &m[k]));
        }
        manifest *flat;
        assert_ok(layer_flatten(m, n, &flat));
        vfs_opts o = {.max_idle_inodes = seed % 2 ? 0 : 100};
        vfs *v = show(f, d, n, &o);
        vfs_attr root;
        assert_ok(vfs_getattr(v, VFS_ROOT_INO, &root));
        assert_int_equal(root.mode, S_IFDIR | 0750);
        uint32_t pos = 0;
        seen s = {0};
        diff_walk(v, VFS_ROOT_INO, "", flat, &pos, &s);
        if (pos != flat->count)
            fail_msg("seed %llu: vfs shows %u entries, flatten %u", (unsigned long long)seed, pos,
                     flat->count);
        /* Every number of every layer resolves exactly when the vfs shows
         * it, and is stale otherwise. */
        if (s.n)
            qsort(s.inos, s.n, sizeof(*s.inos), cmp_u64);
        for (uint32_t k = 0; k < n; k++)
            for (uint32_t i = 0; i < m[k]->count; i++) {
                uint64_t ino = vfs_ino_make(0, (uint16_t)(k + 1), i);
                bool shown = s.n && bsearch(&ino, s.inos, s.n, sizeof(ino), cmp_u64);
                vfs_attr a;
                strata_err *e = vfs_getattr(v, ino, &a);
                if (shown != (e == NULL))
                    fail_msg("seed %llu: layer %u entry %s: shown %d, getattr %s",
                             (unsigned long long)seed, k, m[k]->entries[i].path, shown,
                             e ? e->msg : "ok");
                if (e)
                    assert_int_equal(vfs_errno(e), ESTALE);
                strata_err_free(e);
            }
        free(s.inos);
        vfs_free(v);
        manifest_free(flat);
        for (uint32_t k = 0; k < n; k++)
            manifest_free(m[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ino_stability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_stacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
