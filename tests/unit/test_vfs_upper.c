/* Unit tests for the vfs's writable upper directory, over a real store and
 * real temp directories: attach, copy-up (content, mode, numbers), writes
 * and truncation, create/mkdir/mknod/symlink/link, unlink and rmdir with
 * whiteouts and opaque directories, renames (NOREPLACE, EXCHANGE, lower
 * directories with nested content), numbers across forget, xattrs,
 * setattr, listings and cookies, concurrency; and the key property test:
 * random operations applied both to the vfs and to a plain model directory
 * must leave the same tree, and capturing the upper directory must give a
 * layer that, stacked on the view, is the model. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/digest.h"
#include "base/fsutil.h"
#include "layer/layer.h"
#include "layer/upper.h"
#include "testutil.h"
#include "vfs/vfs.h"

#define SPILL     4096
#define OWNER_UID 4242
#define OWNER_GID 4343

static const vfs_cred ROOT = {0, 0};

typedef struct fixture {
    char *dir, *store_dir;
    store *s;
    vfs *v;
    int seq;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = tu_mkdtemp("vfsup");
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

/* A fresh directory inside the fixture's. */
static char *subdir(fixture *f, const char *tag)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s%d", f->dir, tag, f->seq++) > 0);
    assert_int_equal(mkdir(p, 0755), 0);
    return p;
}

static strata_digest import_dir(fixture *f, const char *src)
{
    strata_digest d;
    layer_import_opts o = {.threads = 2};
    assert_ok(layer_import(f->s, src, &o, &d, NULL));
    return d;
}

static uint32_t compat; /* VFS_COMPAT_* for the views show makes */

static vfs *show(fixture *f, const strata_digest *layers, uint32_t n, const char *upper,
                 uint32_t idle)
{
    vfs *v;
    vfs_opts o = {.max_idle_inodes = idle, .upper_compat = compat};
    assert_ok(vfs_new(f->s, &o, &v));
    vfs_view_spec spec = {
        .layers = layers, .nlayers = n, .upper = upper, .uid = OWNER_UID, .gid = OWNER_GID};
    assert_ok(vfs_slot_attach(v, 0, &spec));
    return v;
}

static void symlink_at(const char *dir, const char *name, const char *target)
{
    char *p = tu_path(dir, name);
    assert_int_equal(symlink(target, p), 0);
    free(p);
}

/* Looks a path up from the root, giving every lookup back; returns the
 * errno, the number in *ino. */
static int resolve(vfs *v, const char *path, uint64_t *ino)
{
    uint64_t cur = VFS_ROOT_INO;
    const char *p = path;
    while (*p) {
        const char *sl = strchr(p, '/');
        size_t len = sl ? (size_t)(sl - p) : strlen(p);
        vfs_attr a;
        strata_err *e = vfs_lookup(v, cur, p, len, &a);
        if (e) {
            int r = vfs_errno(e);
            assert_non_null(e->hint);
            if (getenv("STRATA_TEST_VERBOSE"))
                print_error("lookup %.*s: %s\n", (int)len, p, e->msg);
            strata_err_free(e);
            return r;
        }
        vfs_forget(v, a.ino, 1);
        cur = a.ino;
        p += len;
        if (*p == '/')
            p++;
    }
    *ino = cur;
    return 0;
}

static uint64_t ino_of(vfs *v, const char *path)
{
    uint64_t ino = 0;
    int r = resolve(v, path, &ino);
    if (r)
        print_error("resolve %s: errno %d\n", path, r);
    assert_int_equal(r, 0);
    return ino;
}

/* The directory holding path, and the last component. */
static uint64_t parent_of(vfs *v, const char *path, const char **name)
{
    const char *sl = strrchr(path, '/');
    if (!sl) {
        *name = path;
        return VFS_ROOT_INO;
    }
    *name = sl + 1;
    char *dir = strndup(path, (size_t)(sl - path));
    uint64_t ino = ino_of(v, dir);
    free(dir);
    return ino;
}

static vfs_attr attr_of(vfs *v, const char *path)
{
    vfs_attr a;
    assert_ok(vfs_getattr(v, ino_of(v, path), &a));
    return a;
}

static uint8_t *slurp_ino(vfs *v, uint64_t ino, size_t *len)
{
    vfs_attr a;
    assert_ok(vfs_getattr(v, ino, &a));
    uint8_t *buf = malloc(a.size + 1);
    size_t got = 0;
    while (got < a.size) {
        size_t n;
        assert_ok(vfs_read_ino(v, ino, buf + got, a.size - got, got, &n));
        if (n == 0)
            break;
        got += n;
    }
    assert_int_equal(got, a.size);
    *len = got;
    return buf;
}

static void check_content(vfs *v, const char *path, const void *want, size_t len)
{
    size_t got;
    uint8_t *buf = slurp_ino(v, ino_of(v, path), &got);
    assert_int_equal(got, len);
    assert_memory_equal(buf, want, len);
    free(buf);
}

static void check_str(vfs *v, const char *path, const char *want)
{
    check_content(v, path, want, strlen(want));
}

static int gone(vfs *v, const char *path)
{
    uint64_t ino;
    return resolve(v, path, &ino);
}

/* Creates path with content through the vfs. */
static uint64_t vcreate(vfs *v, const char *path, unsigned mode, const void *data, size_t len)
{
    const char *name;
    uint64_t dir = parent_of(v, path, &name);
    vfs_attr a;
    vfs_file *fh;
    assert_ok(
        vfs_create(v, dir, name, strlen(name), mode, O_CREAT | O_EXCL | O_WRONLY, &ROOT, &a, &fh));
    size_t w;
    if (len) {
        assert_ok(vfs_write(v, fh, data, len, 0, &w));
        assert_int_equal(w, len);
    }
    vfs_release(v, fh);
    vfs_forget(v, a.ino, 1);
    return a.ino;
}

static void vwrite_at(vfs *v, const char *path, uint64_t off, const void *data, size_t len)
{
    vfs_file *fh;
    assert_ok(vfs_open(v, ino_of(v, path), O_WRONLY, &fh));
    size_t w;
    assert_ok(vfs_write(v, fh, data, len, off, &w));
    assert_int_equal(w, len);
    vfs_release(v, fh);
}

static strata_err *vunlink(vfs *v, const char *path)
{
    const char *name;
    uint64_t dir = parent_of(v, path, &name);
    return vfs_unlink(v, dir, name, strlen(name));
}

static strata_err *vrmdir(vfs *v, const char *path)
{
    const char *name;
    uint64_t dir = parent_of(v, path, &name);
    return vfs_rmdir(v, dir, name, strlen(name));
}

static strata_err *vmkdir(vfs *v, const char *path, unsigned mode)
{
    const char *name;
    uint64_t dir = parent_of(v, path, &name);
    vfs_attr a;
    strata_err *e = vfs_mkdir(v, dir, name, strlen(name), mode, &ROOT, &a);
    if (!e)
        vfs_forget(v, a.ino, 1);
    return e;
}

static strata_err *vrename(vfs *v, const char *from, const char *to, unsigned flags)
{
    const char *n1, *n2;
    uint64_t d1 = parent_of(v, from, &n1), d2 = parent_of(v, to, &n2);
    return vfs_rename(v, d1, n1, strlen(n1), d2, n2, strlen(n2), flags);
}

static strata_err *vtruncate(vfs *v, const char *path, uint64_t size)
{
    vfs_setattr_in sa = {.valid = VFS_SET_SIZE, .size = size};
    return vfs_setattr(v, ino_of(v, path), NULL, &sa, &ROOT, NULL);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static uint32_t pick(rng *r, uint32_t n)
{
    return (uint32_t)(rnd(r) % n);
}

/* ---- listings ------------------------------------------------------------ */

typedef struct listing {
    size_t n, cap, limit;
    char **names;
    uint64_t *inos, *cookies;
    uint32_t *types;
} listing;

static bool collect(void *ctx, const vfs_dirent *d)
{
    listing *l = ctx;
    if (l->limit && l->n >= l->limit)
        return false;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->names = realloc(l->names, l->cap * sizeof(*l->names));
        l->inos = realloc(l->inos, l->cap * sizeof(*l->inos));
        l->cookies = realloc(l->cookies, l->cap * sizeof(*l->cookies));
        l->types = realloc(l->types, l->cap * sizeof(*l->types));
    }
    l->names[l->n] = strndup(d->name, d->name_len);
    l->inos[l->n] = d->ino;
    l->cookies[l->n] = d->cookie;
    l->types[l->n] = d->type;
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
    memset(l, 0, sizeof(*l));
}

/* The whole listing, per_call entries at a time (0: all at once). */
static void list_dir(vfs *v, uint64_t ino, bool plus, size_t per_call, listing *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t cookie = 0;
    for (int calls = 0; calls < 100000; calls++) {
        listing part = {.limit = per_call};
        bool eof = false;
        if (plus)
            assert_ok(vfs_readdirplus(v, ino, cookie, false, collect, &part, &eof));
        else
            assert_ok(vfs_readdir(v, ino, cookie, collect, &part, &eof));
        for (size_t i = 0; i < part.n; i++) {
            out->limit = 0;
            vfs_dirent d = {.name = part.names[i],
                            .name_len = strlen(part.names[i]),
                            .ino = part.inos[i],
                            .cookie = part.cookies[i],
                            .type = part.types[i]};
            collect(out, &d);
            cookie = part.cookies[i];
        }
        size_t got = part.n;
        listing_free(&part);
        if (eof)
            return;
        assert_true(got > 0);
    }
    fail();
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir (without "." and ".."), sorted, joined by spaces. */
static char *names_of(vfs *v, const char *dir)
{
    listing l;
    list_dir(v, ino_of(v, dir), false, 0, &l);
    assert_true(l.n >= 2);
    assert_string_equal(l.names[0], ".");
    assert_string_equal(l.names[1], "..");
    qsort(l.names + 2, l.n - 2, sizeof(char *), cmp_str);
    strata_buf b;
    buf_init(&b);
    for (size_t i = 2; i < l.n; i++) {
        if (i > 2)
            buf_append(&b, " ", 1);
        buf_append(&b, l.names[i], strlen(l.names[i]));
    }
    buf_put_u8(&b, 0);
    listing_free(&l);
    return (char *)b.data;
}

static void check_names(vfs *v, const char *dir, const char *want)
{
    char *got = names_of(v, dir);
    if (strcmp(got, want))
        print_error("listing of '%s': got '%s', want '%s'\n", dir, got, want);
    assert_string_equal(got, want);
    free(got);
}

/* ---- capture ------------------------------------------------------------- */

static manifest *load(fixture *f, const strata_digest *d)
{
    manifest *m;
    assert_ok(layer_load(f->s, d, &m));
    return m;
}

static manifest *flatten(fixture *f, const strata_digest *layers, size_t n)
{
    manifest **ms = calloc(n, sizeof(*ms));
    for (size_t i = 0; i < n; i++)
        ms[i] = load(f, &layers[i]);
    manifest *flat;
    assert_ok(layer_flatten(ms, n, &flat));
    for (size_t i = 0; i < n; i++)
        manifest_free(ms[i]);
    free(ms);
    return flat;
}

static void print_manifest(const char *what, const manifest *m)
{
    print_error("%s (root %o):\n", what, m->root_mode);
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        print_error("  %d%s %s %o %llu\n", en->kind, (en->flags & MANIFEST_F_OPAQUE) ? "o" : "",
                    en->path, en->mode, (unsigned long long)en->size);
    }
}

/* Captures upper over the view's layers and checks that the result,
 * stacked on the layers, is exactly the tree in model. */
static void check_capture(fixture *f, const strata_digest *layers, size_t n, const char *upper,
                          const char *model)
{
    manifest *base = flatten(f, layers, n);
    strata_buf enc;
    buf_init(&enc);
    layer_diff_stats cst;
    assert_ok(layer_capture(f->s, base, upper, &enc, &cst));
    strata_digest cap;
    assert_ok(store_put_buf(f->s, enc.data, enc.len, &cap, NULL));
    buf_free(&enc);
    strata_digest *stack = calloc(n + 1, sizeof(*stack));
    stack[0] = cap;
    memcpy(stack + 1, layers, n * sizeof(*layers));
    manifest *got = flatten(f, stack, n + 1);
    strata_digest md = import_dir(f, model);
    manifest *want = load(f, &md);
    strata_buf d1, d2;
    buf_init(&d1);
    buf_init(&d2);
    layer_diff_stats s1, s2;
    assert_ok(layer_diff(got, want, &d1, &s1));
    assert_ok(layer_diff(want, got, &d2, &s2));
    if (s1.added + s1.changed + s1.deleted + s2.added + s2.changed + s2.deleted ||
        got->root_mode != want->root_mode) {
        print_manifest("captured view", got);
        print_manifest("model", want);
        print_error("diff: +%llu ~%llu -%llu / +%llu ~%llu -%llu\n", (unsigned long long)s1.added,
                    (unsigned long long)s1.changed, (unsigned long long)s1.deleted,
                    (unsigned long long)s2.added, (unsigned long long)s2.changed,
                    (unsigned long long)s2.deleted);
        fail();
    }
    buf_free(&d1);
    buf_free(&d2);
    manifest_free(base);
    manifest_free(got);
    manifest_free(want);
    free(stack);
}

/* ---- directed tests ------------------------------------------------------ */

/* A lower tree used by most tests:
 *   hello (0644) "hello world"    big (0755, spilled) random
 *   link -> hello                 d/ (0750): f "f", sub/ (0700): g "g"
 *   e/ (0755): x "x"              empty/ */
#define BIG_LEN (3 * SPILL + 123)

static strata_digest make_lower(fixture *f, uint8_t **big)
{
    char *src = subdir(f, "lower");
    tu_write_file(src, "hello", "hello world", 11, 0644);
    *big = malloc(BIG_LEN);
    tu_fill_random(*big, BIG_LEN, 7);
    tu_write_file(src, "big", *big, BIG_LEN, 0755);
    symlink_at(src, "link", "hello");
    tu_write_file(src, "d/f", "f", 1, 0644);
    tu_write_file(src, "d/sub/g", "g", 1, 0644);
    tu_write_file(src, "e/x", "x", 1, 0644);
    char *p = tu_path(src, "empty");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = tu_path(src, "d/sub");
    chmod(p, 0700);
    free(p);
    p = tu_path(src, "d");
    chmod(p, 0750);
    free(p);
    chmod(src, 0711);
    strata_digest d = import_dir(f, src);
    free(src);
    return d;
}

static void test_attach(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 16);
    /* The empty upper takes the view's root mode; UPPER_WORK is made and
     * hidden. */
    struct stat st;
    assert_int_equal(stat(upper, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    char *work = tu_path(upper, UPPER_WORK);
    assert_int_equal(stat(work, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(gone(v, UPPER_WORK), ENOENT);
    check_names(v, "", "big d e empty hello link");
    vfs_attr a;
    assert_ok(vfs_getattr(v, VFS_ROOT_INO, &a));
    assert_int_equal(a.mode, S_IFDIR | 0711);
    assert_int_equal(a.flags & VFS_ATTR_IMMUTABLE, 0);
    /* Lower-only entries stay immutable; writing is allowed now. */
    a = attr_of(v, "hello");
    assert_int_equal(a.flags, VFS_ATTR_IMMUTABLE);
    assert_int_equal(a.uid, OWNER_UID);
    assert_ok(vfs_access(v, a.ino, W_OK, OWNER_UID, OWNER_GID));
    assert_errno(vfs_access(v, a.ino, W_OK, 999, 999), EACCES);
    vfs_statfs sf;
    assert_ok(vfs_statfs_get(v, VFS_ROOT_INO, &sf));
    assert_true(sf.bavail > 0 && sf.blocks > 0);
    /* Reserved names. */
    vfs_attr na;
    assert_errno(vfs_mkdir(v, VFS_ROOT_INO, UPPER_WORK, strlen(UPPER_WORK), 0755, &ROOT, &na),
                 EPERM);
    assert_errno(vfs_mkdir(v, VFS_ROOT_INO, ".wh.x", 5, 0755, &ROOT, &na), EINVAL);
    /* One view per upper directory. */
    vfs *busy;
    assert_ok(vfs_new(f->s, NULL, &busy));
    vfs_view_spec bs = {.layers = &d, .nlayers = 1, .upper = upper};
    assert_err(vfs_slot_attach(busy, 0, &bs), STRATA_E_BUSY);
    vfs_free(busy);
    vfs_free(v);
    f->v = NULL;

    /* A non-empty upper keeps its mode; a stale UPPER_WORK is emptied. */
    tu_write_file(work, "junk", "j", 1, 0644);
    chmod(upper, 0700);
    char *other = tu_path(upper, "kept");
    assert_int_equal(mkdir(other, 0755), 0);
    v = f->v = show(f, &d, 1, upper, 16);
    assert_int_equal(stat(upper, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    char *junk = tu_path(work, "junk");
    assert_int_equal(stat(junk, &st), -1);
    check_names(v, "", "big d e empty hello kept link");
    vfs_free(v);
    f->v = NULL;

    /* Errors: a missing directory, a file; a view without an upper is
     * read-only everywhere. */
    vfs *v2;
    assert_ok(vfs_new(f->s, NULL, &v2));
    vfs_view_spec spec = {.layers = &d, .nlayers = 1, .upper = junk};
    assert_err(vfs_slot_attach(v2, 0, &spec), STRATA_E_NOTFOUND);
    spec.upper = NULL;
    assert_ok(vfs_slot_attach(v2, 0, &spec));
    uint64_t hello = ino_of(v2, "hello");
    assert_errno(vfs_mkdir(v2, VFS_ROOT_INO, "n", 1, 0755, &ROOT, &na), EROFS);
    vfs_file *fh;
    assert_errno(vfs_create(v2, VFS_ROOT_INO, "n", 1, 0644, O_CREAT | O_WRONLY, &ROOT, &na, &fh),
                 EROFS);
    assert_errno(vfs_unlink(v2, VFS_ROOT_INO, "hello", 5), EROFS);
    assert_errno(vfs_rename(v2, VFS_ROOT_INO, "hello", 5, VFS_ROOT_INO, "h2", 2, 0), EROFS);
    assert_errno(vfs_setxattr(v2, hello, "user.a", "1", 1, 0), EROFS);
    assert_errno(vfs_access(v2, hello, W_OK, OWNER_UID, OWNER_GID), EROFS);
    assert_errno(vfs_open(v2, hello, O_RDWR, &fh), EROFS);
    vfs_setattr_in sa = {.valid = VFS_SET_MODE, .mode = 0600};
    assert_errno(vfs_setattr(v2, hello, NULL, &sa, &ROOT, NULL), EROFS);
    size_t w;
    assert_errno(vfs_write_ino(v2, hello, "x", 1, 0, &w), EROFS);
    vfs_free(v2);
    free(junk);
    free(other);
    free(work);
    free(upper);
}

static void test_copy_up_and_write(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t hello = ino_of(v, "hello"), bigi = ino_of(v, "big");
    /* A read-only handle opened before the copy-up sees the writes. */
    vfs_file *ro;
    assert_ok(vfs_open(v, hello, O_RDONLY, &ro));
    vwrite_at(v, "hello", 6, "WORLD!", 6);
    check_str(v, "hello", "hello WORLD!");
    char buf[64];
    size_t got;
    assert_ok(vfs_read(v, ro, buf, sizeof(buf), 0, &got));
    assert_int_equal(got, 12);
    assert_memory_equal(buf, "hello WORLD!", 12);
    vfs_release(v, ro);
    vfs_attr a = attr_of(v, "hello");
    assert_int_equal(a.ino, hello);
    assert_int_equal(a.mode, S_IFREG | 0644);
    assert_int_equal(a.flags, 0);
    assert_int_equal(a.uid, OWNER_UID); /* the server runs as root: copy-up keeps the owner */
    /* The copy is a plain file in the upper directory, parents made. */
    char *up = tu_path(upper, "hello");
    struct stat st;
    assert_int_equal(stat(up, &st), 0);
    assert_int_equal(st.st_size, 12);
    free(up);

    /* The spilled file: byte-exact copy, mode kept, writes at offsets and
     * past the end (a hole), truncation down and up. */
    vwrite_at(v, "big", 100, "XYZ", 3);
    memcpy(big + 100, "XYZ", 3);
    check_content(v, "big", big, BIG_LEN);
    a = attr_of(v, "big");
    assert_int_equal(a.mode, S_IFREG | 0755);
    assert_int_equal(a.ino, bigi);
    vwrite_at(v, "big", BIG_LEN + 10, "end", 3);
    uint8_t *want = calloc(1, BIG_LEN + 13);
    memcpy(want, big, BIG_LEN);
    memcpy(want + BIG_LEN + 10, "end", 3);
    check_content(v, "big", want, BIG_LEN + 13);
    assert_ok(vtruncate(v, "big", 50));
    check_content(v, "big", big, 50);
    assert_ok(vtruncate(v, "big", 60));
    memset(want, 0, 60);
    memcpy(want, big, 50);
    check_content(v, "big", want, 60);
    free(want);

    /* Truncating copy-ups copy only what is kept; O_TRUNC copies nothing. */
    assert_ok(vtruncate(v, "d/f", 0));
    check_str(v, "d/f", "");
    assert_int_equal(attr_of(v, "d").mode, S_IFDIR | 0750); /* the parent, copied up as it was */
    up = tu_path(upper, "d");
    assert_int_equal(stat(up, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    free(up);
    vfs_file *fh;
    assert_ok(vfs_open(v, ino_of(v, "e/x"), O_WRONLY | O_TRUNC, &fh));
    size_t w;
    assert_ok(vfs_write(v, fh, "new", 3, 0, &w));
    assert_errno(vfs_read(v, fh, buf, 1, 0, &got), EBADF);
    assert_ok(vfs_fsync(v, vfs_file_ino(fh), fh, false));
    assert_ok(vfs_flush(v, fh));
    vfs_release(v, fh);
    check_str(v, "e/x", "new");
    /* Write by number (NFS) copies up too; fsync by number. */
    uint64_t g = ino_of(v, "d/sub/g");
    assert_ok(vfs_write_ino(v, g, "GG", 2, 0, &w));
    check_str(v, "d/sub/g", "GG");
    assert_ok(vfs_fsync(v, g, NULL, true));
    assert_ok(vfs_fsync(v, ino_of(v, "d/sub"), NULL, false));
    assert_errno(vfs_write_ino(v, ino_of(v, "d"), "x", 1, 0, &w), EISDIR);
    assert_errno(vfs_open(v, ino_of(v, "link"), O_WRONLY, &fh), ELOOP);
    /* A read-only handle cannot write. */
    assert_ok(vfs_open(v, hello, O_RDONLY, &fh));
    assert_errno(vfs_write(v, fh, "x", 1, 0, &w), EBADF);
    vfs_release(v, fh);

    /* The lower layer is untouched: a second view shows the old bytes. */
    vfs *v2 = show(f, &d, 1, NULL, 16);
    check_str(v2, "hello", "hello world");
    check_content(v2, "d/f", "f", 1);
    vfs_free(v2);
    vfs_stats stats;
    vfs_get_stats(v, &stats);
    assert_true(stats.copy_ups >= 6);
    free(big);
    free(upper);
}

static void test_create_and_friends(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t dd = ino_of(v, "d");
    vfs_attr a;
    vfs_file *fh;
    assert_ok(vfs_create(v, dd, "new", 3, 0640, O_CREAT | O_EXCL | O_RDWR, &ROOT, &a, &fh));
    assert_int_equal(vfs_ino_src(a.ino), VFS_SRC_UPPER);
    assert_int_equal(a.mode, S_IFREG | 0640);
    size_t w, got;
    assert_ok(vfs_write(v, fh, "abc", 3, 0, &w));
    char buf[8];
    assert_ok(vfs_read(v, fh, buf, sizeof(buf), 0, &got));
    assert_int_equal(got, 3);
    vfs_release(v, fh);
    vfs_forget(v, a.ino, 1);
    uint64_t newino = a.ino;
    assert_errno(vfs_create(v, dd, "new", 3, 0640, O_CREAT | O_EXCL | O_RDWR, &ROOT, &a, &fh),
                 EEXIST);
    assert_errno(vfs_create(v, dd, "f", 1, 0640, O_CREAT | O_EXCL | O_RDWR, &ROOT, &a, &fh),
                 EEXIST);
    /* Without O_EXCL an existing file is opened (a lower one copied up
     * when opened for writing). */
    assert_ok(vfs_create(v, dd, "new", 3, 0600, O_CREAT | O_RDONLY, &ROOT, &a, &fh));
    assert_int_equal(a.ino, newino);
    assert_int_equal(a.mode, S_IFREG | 0640);
    vfs_release(v, fh);
    vfs_forget(v, a.ino, 1);
    assert_ok(vfs_create(v, dd, "f", 1, 0600, O_CREAT | O_WRONLY | O_TRUNC, &ROOT, &a, &fh));
    vfs_release(v, fh);
    vfs_forget(v, a.ino, 1);
    check_str(v, "d/f", "");
    assert_errno(vfs_create(v, VFS_ROOT_INO, "d", 1, 0600, O_CREAT, &ROOT, &a, &fh), EISDIR);
    check_str(v, "d/new", "abc");
    /* The caller owns what it makes. */
    vfs_cred user = {1234, 5678};
    assert_ok(vfs_create(v, dd, "mine", 4, 0600, O_CREAT | O_EXCL | O_WRONLY, &user, &a, &fh));
    vfs_release(v, fh);
    vfs_forget(v, a.ino, 1);
    assert_int_equal(a.uid, 1234);
    assert_int_equal(a.gid, 5678);

    /* mkdir, symlink, readlink, mknod. */
    assert_ok(vmkdir(v, "d/nd", 0711));
    a = attr_of(v, "d/nd");
    assert_int_equal(a.mode, S_IFDIR | 0711);
    assert_int_equal(a.nlink, 2);
    assert_errno(vmkdir(v, "d/nd", 0711), EEXIST);
    assert_errno(vmkdir(v, "d/f", 0711), EEXIST);
    assert_errno(vmkdir(v, "hello/x", 0711), ENOTDIR);
    assert_ok(vfs_symlink(v, dd, "sl", 2, "../hello", &ROOT, &a));
    vfs_forget(v, a.ino, 1);
    assert_int_equal(a.mode & S_IFMT, S_IFLNK);
    assert_int_equal(a.size, 8);
    char target[VFS_LINK_MAX + 1];
    size_t tl;
    assert_ok(vfs_readlink(v, ino_of(v, "d/sl"), target, sizeof(target), &tl));
    assert_string_equal(target, "../hello");
    assert_errno(vfs_readlink(v, ino_of(v, "d/sl"), target, 4, &tl), ERANGE);
    assert_ok(vfs_readlink(v, ino_of(v, "link"), target, sizeof(target), &tl));
    assert_string_equal(target, "hello");
    assert_errno(vfs_symlink(v, dd, "sl", 2, "x", &ROOT, &a), EEXIST);
    assert_errno(vfs_symlink(v, dd, "s0", 2, "", &ROOT, &a), ENOENT);
    assert_ok(vfs_mknod(v, dd, "fifo", 4, S_IFIFO | 0644, 0, &ROOT, &a));
    vfs_forget(v, a.ino, 1);
    assert_int_equal(a.mode, S_IFIFO | 0644);
    assert_errno(vfs_mknod(v, dd, "chr", 3, S_IFCHR | 0644, makedev(1, 3), &ROOT, &a), EPERM);
    assert_errno(vfs_mknod(v, dd, "blk", 3, S_IFBLK | 0644, makedev(1, 3), &ROOT, &a), EPERM);
    assert_errno(vfs_mknod(v, dd, "sock", 4, S_IFSOCK | 0644, 0, &ROOT, &a), ENOTSUP);
    assert_errno(vfs_open(v, ino_of(v, "d/fifo"), O_RDONLY, &fh), EINVAL);
    assert_ok(vfs_mknod(v, dd, "reg", 3, S_IFREG | 0604, 0, &ROOT, &a));
    vfs_forget(v, a.ino, 1);
    check_str(v, "d/reg", "");
    listing l;
    list_dir(v, dd, true, 0, &l);
    bool saw_fifo = false;
    for (size_t i = 0; i < l.n; i++)
        if (!strcmp(l.names[i], "fifo")) {
            assert_int_equal(l.types[i], S_IFIFO);
            saw_fifo = true;
        }
    assert_true(saw_fifo);
    listing_free(&l);
    check_names(v, "d", "f fifo mine nd new reg sl sub");
    /* A build may make and remove a fifo: then the upper captures. */
    assert_ok(vunlink(v, "d/fifo"));
    assert_ok(vunlink(v, "d/mine"));
    char *src = subdir(f, "model");
    layer_export_stats es;
    manifest *m = load(f, &d);
    char *model = tu_path(src, "m");
    assert_ok(layer_materialize(f->s, m, model, LAYER_SHARE_COPY, &es));
    manifest_free(m);
    tu_write_file(model, "d/new", "abc", 3, 0640);
    tu_write_file(model, "d/f", "", 0, 0644);
    tu_write_file(model, "d/reg", "", 0, 0604);
    char *p = tu_path(model, "d/nd");
    assert_int_equal(mkdir(p, 0711), 0);
    chmod(p, 0711);
    free(p);
    p = tu_path(model, "d/sl");
    assert_int_equal(symlink("../hello", p), 0);
    free(p);
    check_capture(f, &d, 1, upper, model);
    free(model);
    free(src);
    free(upper);
}

static void test_unlink_and_rmdir(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t hello = ino_of(v, "hello");
    /* A lookup held, as the kernel holds one for a file open by path. */
    vfs_attr held;
    assert_ok(vfs_lookup(v, VFS_ROOT_INO, "hello", 5, &held));
    /* An open handle outlives the name. */
    vfs_file *fh;
    assert_ok(vfs_open(v, hello, O_RDONLY, &fh));
    assert_ok(vunlink(v, "hello"));
    assert_int_equal(gone(v, "hello"), ENOENT);
    check_names(v, "", "big d e empty link");
    char *wh = tu_path(upper, "hello");
    struct stat st;
    assert_int_equal(lstat(wh, &st), 0);
    assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
    char buf[16];
    size_t got;
    assert_ok(vfs_read(v, fh, buf, sizeof(buf), 0, &got));
    assert_int_equal(got, 11);
    vfs_release(v, fh);
    /* While held (the lookup above, as the kernel holds one for an open
     * file), it keeps its attributes with no name, and a write copies it
     * up under no name: nothing shows in the view. */
    vfs_attr a;
    assert_ok(vfs_getattr(v, hello, &a));
    assert_int_equal(a.nlink, 0);
    assert_int_equal(a.size, 11);
    assert_false(a.flags & VFS_ATTR_IMMUTABLE);
    size_t wrote;
    assert_ok(vfs_write_ino(v, hello, "J", 1, 0, &wrote));
    assert_int_equal(wrote, 1);
    assert_ok(vfs_read_ino(v, hello, buf, sizeof(buf), 0, &got));
    assert_int_equal(got, 11);
    assert_memory_equal(buf, "Jello", 5);
    assert_ok(vfs_getattr(v, hello, &a));
    assert_int_equal(a.nlink, 0);
    assert_int_equal(gone(v, "hello"), ENOENT);
    check_names(v, "", "big d e empty link");
    /* Held by nobody, its number is stale. */
    vfs_forget(v, hello, 1);
    assert_errno(vfs_getattr(v, hello, &a), ESTALE);
    assert_errno(vunlink(v, "hello"), ENOENT);
    assert_errno(vunlink(v, "d"), EISDIR);
    /* A new file takes the whiteout's place. */
    vcreate(v, "hello", 0600, "again", 5);
    check_str(v, "hello", "again");
    assert_int_equal(lstat(wh, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* An upper file just goes: no whiteout. */
    vcreate(v, "tmp", 0600, "t", 1);
    assert_ok(vunlink(v, "tmp"));
    char *tp = tu_path(upper, "tmp");
    assert_int_equal(lstat(tp, &st), -1);
    free(tp);

    /* rmdir is decided over the merged view. */
    assert_errno(vrmdir(v, "d"), ENOTEMPTY);
    assert_errno(vrmdir(v, "hello"), ENOTDIR);
    assert_errno(vrmdir(v, "nope"), ENOENT);
    assert_ok(vunlink(v, "d/f"));
    assert_errno(vrmdir(v, "d"), ENOTEMPTY);
    assert_ok(vunlink(v, "d/sub/g"));
    assert_ok(vrmdir(v, "d/sub"));
    check_names(v, "d", "");
    uint64_t dino = ino_of(v, "d");
    assert_ok(vrmdir(v, "d"));
    assert_int_equal(gone(v, "d"), ENOENT);
    assert_errno(vfs_getattr(v, dino, &a), ESTALE);
    assert_ok(vrmdir(v, "empty"));
    check_names(v, "", "big e hello link");
    /* A directory made where a lower one was is opaque: the old contents
     * stay hidden. */
    assert_ok(vmkdir(v, "d", 0755));
    check_names(v, "d", "");
    assert_int_equal(gone(v, "d/f"), ENOENT);
    assert_int_equal(gone(v, "d/sub"), ENOENT);
    char *dp = tu_path(upper, "d");
    char val[8];
    ssize_t n = getxattr(dp, UPPER_XATTR_OPAQUE, val, sizeof(val));
    assert_int_equal(n, 1);
    assert_int_equal(val[0], 'y');
    free(dp);
    assert_ok(vmkdir(v, "d/sub", 0755));
    check_names(v, "d/sub", "");
    /* rmdir of an upper directory holding whiteouts. */
    assert_ok(vunlink(v, "e/x"));
    check_names(v, "e", "");
    assert_ok(vrmdir(v, "e"));
    check_names(v, "", "big d hello link");
    /* The whole thing captures as the view shows it. */
    char *src = subdir(f, "model");
    char *model = tu_path(src, "m");
    manifest *m = load(f, &d);
    layer_export_stats es;
    assert_ok(layer_materialize(f->s, m, model, LAYER_SHARE_COPY, &es));
    manifest_free(m);
    char *p = tu_path(model, "d");
    assert_ok(fs_remove_tree(p));
    assert_int_equal(mkdir(p, 0755), 0);
    chmod(p, 0755);
    free(p);
    p = tu_path(model, "d/sub");
    assert_int_equal(mkdir(p, 0755), 0);
    chmod(p, 0755);
    free(p);
    p = tu_path(model, "e");
    assert_ok(fs_remove_tree(p));
    free(p);
    p = tu_path(model, "empty");
    assert_ok(fs_remove_tree(p));
    free(p);
    tu_write_file(model, "hello", "again", 5, 0600);
    check_capture(f, &d, 1, upper, model);
    free(model);
    free(src);
    free(wh);
    free(upper);
}

static void test_rename_files(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t hello = ino_of(v, "hello"), bigi = ino_of(v, "big"), x = ino_of(v, "e/x");
    /* A lower file to a new name, in another directory: number and bytes
     * kept, the old name whited out. */
    assert_ok(vrename(v, "hello", "d/h2", 0));
    assert_int_equal(gone(v, "hello"), ENOENT);
    assert_int_equal(ino_of(v, "d/h2"), hello);
    check_str(v, "d/h2", "hello world");
    check_names(v, "", "big d e empty link");
    /* Over an existing file, which goes. */
    assert_ok(vrename(v, "big", "e/x", 0));
    assert_int_equal(ino_of(v, "e/x"), bigi);
    check_content(v, "e/x", big, BIG_LEN);
    vfs_attr a;
    assert_errno(vfs_getattr(v, x, &a), ESTALE);
    assert_int_equal(gone(v, "big"), ENOENT);
    /* NOREPLACE refuses an existing name, and accepts a new one. */
    assert_errno(vrename(v, "e/x", "d/h2", VFS_RENAME_NOREPLACE), EEXIST);
    assert_ok(vrename(v, "e/x", "e/y", VFS_RENAME_NOREPLACE));
    /* EXCHANGE swaps two names (a lower one copied up first). */
    assert_ok(vrename(v, "e/y", "d/f", VFS_RENAME_EXCHANGE));
    check_content(v, "d/f", big, BIG_LEN);
    check_str(v, "e/y", "f");
    assert_int_equal(ino_of(v, "d/f"), bigi);
    assert_errno(vrename(v, "e/y", "e/nope", VFS_RENAME_EXCHANGE), ENOENT);
    assert_errno(vrename(v, "nope", "e/z", 0), ENOENT);
    assert_errno(vrename(v, "e/y", "e/z", VFS_RENAME_EXCHANGE | VFS_RENAME_NOREPLACE), EINVAL);
    /* Files and directories do not replace each other; the same entry is
     * a no-op. */
    assert_errno(vrename(v, "e/y", "d", 0), EISDIR);
    assert_errno(vrename(v, "empty", "e/y", 0), ENOTDIR);
    assert_ok(vrename(v, "e/y", "e/y", 0));
    check_str(v, "e/y", "f");
    /* A symlink moves as itself. */
    assert_ok(vrename(v, "link", "e/l2", 0));
    char t[VFS_LINK_MAX + 1];
    size_t tl;
    assert_ok(vfs_readlink(v, ino_of(v, "e/l2"), t, sizeof(t), &tl));
    assert_string_equal(t, "hello");
    /* Back where it was: the whiteout is replaced. */
    assert_ok(vrename(v, "d/h2", "hello", 0));
    check_str(v, "hello", "hello world");
    assert_int_equal(ino_of(v, "hello"), hello);
    check_names(v, "", "d e empty hello");
    check_names(v, "d", "f sub");
    check_names(v, "e", "l2 y");
    free(big);
    free(upper);
}

/* Renaming lower directories: contents move with them, byte-exact, and
 * numbers stay; the upper directory records a redirect that capture
 * understands. */
static void test_rename_lower_dirs(void **state)
{
    fixture *f = *state;
    char *src = subdir(f, "lower");
    uint8_t data[SPILL * 2 + 5];
    tu_fill_random(data, sizeof(data), 3);
    tu_write_file(src, "a/b/c/file", data, sizeof(data), 0640);
    tu_write_file(src, "a/b/small", "s", 1, 0644);
    tu_write_file(src, "a/top", "t", 1, 0644);
    tu_write_file(src, "dst/keep", "k", 1, 0644);
    char *p = tu_path(src, "a/b");
    chmod(p, 0701);
    free(p);
    /* A second layer merges into a and a/b. */
    char *src2 = subdir(f, "lower");
    tu_write_file(src2, "a/b/upper-layer", "u", 1, 0600);
    tu_write_file(src2, "a/second", "2", 1, 0644);
    p = tu_path(src2, "a/b");
    chmod(p, 0701); /* the top layer's mode shows */
    free(p);
    strata_digest layers[2] = {import_dir(f, src2), import_dir(f, src)};
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, layers, 2, upper, 0);
    uint64_t a = ino_of(v, "a"), b = ino_of(v, "a/b"), file = ino_of(v, "a/b/c/file");
    uint64_t ul = ino_of(v, "a/b/upper-layer");

    assert_ok(vrename(v, "a", "z", 0));
    assert_int_equal(gone(v, "a"), ENOENT);
    assert_int_equal(ino_of(v, "z"), a);
    assert_int_equal(ino_of(v, "z/b"), b);
    assert_int_equal(ino_of(v, "z/b/c/file"), file);
    check_content(v, "z/b/c/file", data, sizeof(data));
    check_names(v, "z", "b second top");
    check_names(v, "z/b", "c small upper-layer");
    assert_int_equal(attr_of(v, "z/b").mode, S_IFDIR | 0701);
    char *zp = tu_path(upper, "z");
    char val[256];
    ssize_t n = getxattr(zp, UPPER_XATTR_REDIRECT, val, sizeof(val));
    assert_int_equal(n, 2);
    assert_memory_equal(val, "/a", 2);
    free(zp);

    /* Into another directory, then a nested lower directory out of it. */
    assert_ok(vrename(v, "z", "dst/z2", 0));
    check_names(v, "", "dst");
    check_names(v, "dst", "keep z2");
    check_content(v, "dst/z2/b/c/file", data, sizeof(data));
    assert_int_equal(ino_of(v, "dst/z2/b/upper-layer"), ul);
    assert_ok(vrename(v, "dst/z2/b", "bb", 0));
    check_names(v, "dst/z2", "second top");
    check_names(v, "bb", "c small upper-layer");
    check_content(v, "bb/c/file", data, sizeof(data));
    /* Changes inside a moved directory. */
    assert_ok(vunlink(v, "bb/small"));
    vcreate(v, "bb/c/new", 0600, "n", 1);
    vwrite_at(v, "bb/c/file", 0, "HEAD", 4);
    memcpy(data, "HEAD", 4);
    assert_ok(vmkdir(v, "a", 0755)); /* the old name is free, and hides nothing */
    check_names(v, "a", "");
    /* A moved directory over an empty lower directory: nothing of that one
     * shows, and none of its own goes. */
    assert_ok(vrename(v, "dst/z2", "z3", 0)); /* a redirected directory, moved again */
    assert_errno(vrename(v, "bb", "dst", 0), ENOTEMPTY);
    assert_ok(vunlink(v, "dst/keep"));
    assert_ok(vrename(v, "bb", "dst", 0));
    check_names(v, "dst", "c upper-layer");
    check_names(v, "", "a dst z3");
    check_names(v, "z3", "second top");

    /* Everything again from numbers alone (the inodes are long gone). */
    vfs_attr at;
    assert_ok(vfs_getattr(v, file, &at));
    assert_int_equal(at.size, sizeof(data));
    assert_ok(vfs_getattr(v, a, &at));
    assert_true(S_ISDIR(at.mode));
    assert_ok(vfs_getattr(v, b, &at));
    uint8_t got[sizeof(data)];
    size_t gl;
    assert_ok(vfs_read_ino(v, file, got, sizeof(got), 0, &gl));
    assert_int_equal(gl, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    vfs_free(v);

    /* A second mount of the same upper shows the same tree. */
    v = f->v = show(f, layers, 2, upper, 16);
    check_names(v, "", "a dst z3");
    check_str(v, "z3/top", "t");
    check_names(v, "dst", "c upper-layer");
    check_names(v, "dst/c", "file new");
    check_names(v, "a", "");
    check_content(v, "dst/c/file", data, sizeof(data));

    /* Capture: stacked on the layers, exactly the tree. */
    char *msrc = subdir(f, "model");
    tu_write_file(msrc, "dst/c/file", data, sizeof(data), 0640);
    tu_write_file(msrc, "dst/c/new", "n", 1, 0600);
    tu_write_file(msrc, "dst/upper-layer", "u", 1, 0600);
    tu_write_file(msrc, "z3/second", "2", 1, 0644);
    tu_write_file(msrc, "z3/top", "t", 1, 0644);
    p = tu_path(msrc, "dst");
    chmod(p, 0701);
    free(p);
    p = tu_path(msrc, "a");
    assert_int_equal(mkdir(p, 0755), 0);
    chmod(p, 0755);
    free(p);
    chmod(msrc, 0755);
    check_capture(f, layers, 2, upper, msrc);
    free(msrc);
    free(src);
    free(src2);
    free(upper);
}

static void test_numbers_and_forget(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    assert_ok(vmkdir(v, "d/nd", 0755));
    uint64_t nf = vcreate(v, "d/nd/file", 0644, "x", 1);
    uint64_t nd = ino_of(v, "d/nd"), dd = ino_of(v, "d"), g = ino_of(v, "d/sub/g");
    assert_int_equal(vfs_ino_src(nd), VFS_SRC_UPPER);
    assert_int_equal(vfs_ino_src(nf), VFS_SRC_UPPER);
    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_true(st.inodes <= 2); /* no idle budget: only the root is kept */
    /* Moving the (lower) parent keeps every number, and each is found from
     * the number alone. */
    assert_ok(vrename(v, "d", "moved", 0));
    vfs_attr a;
    assert_ok(vfs_getattr(v, nf, &a));
    assert_int_equal(a.size, 1);
    assert_ok(vfs_getattr(v, nd, &a));
    assert_ok(vfs_getattr(v, dd, &a));
    assert_ok(vfs_getattr(v, g, &a));
    assert_int_equal(ino_of(v, "moved/nd/file"), nf);
    assert_int_equal(ino_of(v, "moved/sub/g"), g);
    uint8_t buf[4];
    size_t got;
    assert_ok(vfs_read_ino(v, nf, buf, 4, 0, &got));
    assert_int_equal(got, 1);
    /* ".." follows moves. */
    vfs_attr up;
    assert_ok(vfs_lookup(v, nd, "..", 2, &up));
    vfs_forget(v, up.ino, 1);
    assert_int_equal(up.ino, dd);
    /* Gone is stale. */
    assert_ok(vunlink(v, "moved/nd/file"));
    assert_errno(vfs_getattr(v, nf, &a), ESTALE);
    assert_ok(vrmdir(v, "moved/nd"));
    assert_errno(vfs_getattr(v, nd, &a), ESTALE);
    assert_errno(vfs_getattr(v, vfs_ino_make(0, VFS_SRC_UPPER, 999999), &a), ESTALE);
    /* Generations: a directory that never changed has 0; changes count. */
    uint64_t g0, g1;
    assert_ok(vfs_dir_generation(v, ino_of(v, "e"), &g0));
    assert_int_equal(g0, 0);
    assert_ok(vfs_dir_generation(v, dd, &g0));
    vcreate(v, "moved/n", 0644, "", 0);
    assert_ok(vfs_dir_generation(v, dd, &g1));
    assert_true(g1 > g0);
    assert_errno(vfs_dir_generation(v, g, &g1), ENOTDIR);
    free(upper);
}

static void test_hardlinks(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t hello = ino_of(v, "hello");
    vfs_attr a;
    assert_ok(vfs_link(v, hello, ino_of(v, "e"), "h2", 2, &a));
    vfs_forget(v, a.ino, 1);
    assert_int_equal(a.ino, hello);
    assert_int_equal(a.nlink, 2);
    assert_int_equal(ino_of(v, "e/h2"), hello);
    assert_int_equal(attr_of(v, "hello").nlink, 2);
    vwrite_at(v, "e/h2", 0, "HELLO", 5);
    check_str(v, "hello", "HELLO world");
    assert_ok(vfs_link(v, hello, VFS_ROOT_INO, "h3", 2, &a));
    vfs_forget(v, a.ino, 1);
    assert_int_equal(a.nlink, 3);
    listing l;
    list_dir(v, VFS_ROOT_INO, false, 0, &l);
    for (size_t i = 0; i < l.n; i++)
        if (!strcmp(l.names[i], "h3") || !strcmp(l.names[i], "hello"))
            assert_int_equal(l.inos[i], hello);
    listing_free(&l);
    assert_errno(vfs_link(v, ino_of(v, "d"), VFS_ROOT_INO, "dl", 2, &a), EPERM);
    assert_errno(vfs_link(v, hello, VFS_ROOT_INO, "e", 1, &a), EEXIST);
    /* Removing names: the others stay, with the same number, found from
     * it alone even when the first name goes. */
    assert_ok(vunlink(v, "hello"));
    assert_int_equal(attr_of(v, "e/h2").nlink, 2);
    assert_ok(vfs_getattr(v, hello, &a));
    assert_int_equal(a.nlink, 2);
    assert_ok(vrename(v, "e/h2", "e/h4", 0));
    assert_ok(vfs_getattr(v, hello, &a));
    assert_ok(vunlink(v, "h3"));
    assert_ok(vfs_getattr(v, hello, &a));
    assert_int_equal(a.nlink, 1);
    check_str(v, "e/h4", "HELLO world");
    /* A symlink can be linked too. */
    assert_ok(vfs_link(v, ino_of(v, "link"), VFS_ROOT_INO, "link2", 5, &a));
    vfs_forget(v, a.ino, 1);
    assert_int_equal(a.mode & S_IFMT, S_IFLNK);
    /* A second mount meets one name of a file with two: removing it keeps
     * the file's number for the other. */
    assert_ok(vfs_link(v, hello, VFS_ROOT_INO, "h5", 2, &a));
    vfs_forget(v, a.ino, 1);
    vfs_free(v);
    v = f->v = show(f, &d, 1, upper, 0);
    uint64_t h5 = ino_of(v, "h5");
    assert_ok(vunlink(v, "h5"));
    assert_ok(vfs_getattr(v, h5, &a)); /* not known by its other name yet */
    assert_int_equal(a.nlink, 1);
    assert_int_equal(ino_of(v, "e/h4"), h5);
    check_str(v, "e/h4", "HELLO world");
    free(upper);
}

static void test_xattrs(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t hello = ino_of(v, "hello");
    char buf[64];
    size_t len;
    /* None on a lower-only entry. */
    assert_errno(vfs_getxattr(v, hello, "user.a", buf, sizeof(buf), &len), ENODATA);
    assert_ok(vfs_listxattr(v, hello, buf, sizeof(buf), &len));
    assert_int_equal(len, 0);
    assert_errno(vfs_removexattr(v, hello, "user.a"), ENODATA);
    /* Setting one copies up. */
    assert_ok(vfs_setxattr(v, hello, "user.a", "one", 3, 0));
    assert_int_equal(attr_of(v, "hello").flags, 0);
    assert_ok(vfs_getxattr(v, hello, "user.a", buf, sizeof(buf), &len));
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "one", 3);
    assert_ok(vfs_getxattr(v, hello, "user.a", NULL, 0, &len));
    assert_int_equal(len, 3);
    assert_errno(vfs_getxattr(v, hello, "user.a", buf, 2, &len), ERANGE);
    assert_errno(vfs_setxattr(v, hello, "user.a", "two", 3, XATTR_CREATE), EEXIST);
    assert_errno(vfs_setxattr(v, hello, "user.b", "two", 3, XATTR_REPLACE), ENODATA);
    assert_ok(vfs_setxattr(v, hello, "user.b", "two", 3, XATTR_CREATE));
    assert_ok(vfs_listxattr(v, hello, NULL, 0, &len));
    assert_int_equal(len, 14);
    assert_errno(vfs_listxattr(v, hello, buf, 5, &len), ERANGE);
    assert_ok(vfs_listxattr(v, hello, buf, sizeof(buf), &len));
    assert_int_equal(len, 14);
    assert_true(!memcmp(buf, "user.a\0user.b\0", 14) || !memcmp(buf, "user.b\0user.a\0", 14));
    assert_ok(vfs_removexattr(v, hello, "user.a"));
    assert_errno(vfs_getxattr(v, hello, "user.a", buf, sizeof(buf), &len), ENODATA);
    /* The overlay's own are never shown nor settable. */
    assert_errno(vfs_setxattr(v, hello, "trusted.overlay.opaque", "y", 1, 0), EPERM);
    assert_errno(vfs_setxattr(v, hello, "user.overlay.redirect", "/x", 2, 0), EPERM);
    assert_ok(vrename(v, "d", "d2", 0)); /* a redirect */
    assert_ok(vunlink(v, "e/x"));
    assert_ok(vrmdir(v, "e"));
    assert_ok(vmkdir(v, "e", 0755)); /* opaque */
    uint64_t d2 = ino_of(v, "d2"), e = ino_of(v, "e");
    assert_errno(vfs_getxattr(v, d2, UPPER_XATTR_REDIRECT, buf, sizeof(buf), &len), ENODATA);
    assert_errno(vfs_getxattr(v, e, UPPER_XATTR_OPAQUE, buf, sizeof(buf), &len), ENODATA);
    assert_errno(vfs_removexattr(v, e, UPPER_XATTR_OPAQUE), ENODATA);
    assert_ok(vfs_listxattr(v, d2, buf, sizeof(buf), &len));
    assert_int_equal(len, 0);
    assert_ok(vfs_listxattr(v, e, buf, sizeof(buf), &len));
    assert_int_equal(len, 0);
    /* On directories and symlinks too (trusted.*, as root). */
    assert_ok(vfs_setxattr(v, e, "user.dir", "1", 1, 0));
    assert_ok(vfs_listxattr(v, e, buf, sizeof(buf), &len));
    assert_int_equal(len, 9);
    uint64_t link = ino_of(v, "link");
    assert_ok(vfs_setxattr(v, link, "trusted.t", "L", 1, 0));
    assert_ok(vfs_getxattr(v, link, "trusted.t", buf, sizeof(buf), &len));
    assert_int_equal(len, 1);
    char *hp = tu_path(upper, "hello");
    assert_true(getxattr(hp, "trusted.t", buf, sizeof(buf)) < 0); /* not followed */
    free(hp);
    free(upper);
}

/* A copy-up changes nothing a user sees in the directory it lands in:
 * the directory keeps its times, whether they are the lower ones or ones
 * set explicitly, however deep the copy-up reaches (found by the NFS
 * differential test: a chmod of a lower file moved its directory's
 * mtime to now). A real change in it still moves them. */
static void test_copy_up_keeps_dir_times(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    /* d's times set explicitly (d copied up for it), then d/f chmod'ed. */
    vfs_setattr_in sa = {.valid = VFS_SET_ATIME | VFS_SET_MTIME,
                         .atime = {.sec = 458821880, .nsec = 11},
                         .mtime = {.sec = 458821880, .nsec = 707683000}};
    assert_ok(vfs_setattr(v, ino_of(v, "d"), NULL, &sa, &ROOT, NULL));
    sa = (vfs_setattr_in){.valid = VFS_SET_MODE, .mode = 0600};
    assert_ok(vfs_setattr(v, ino_of(v, "d/f"), NULL, &sa, &ROOT, NULL));
    vfs_attr a = attr_of(v, "d");
    assert_int_equal(a.mtime.sec, 458821880);
    assert_int_equal(a.mtime.nsec, 707683000);
    assert_int_equal(a.atime.sec, 458821880);
    /* A copy-up two levels down: d/sub lands in d, d/sub/g in d/sub;
     * both keep their times (d/sub the lower ones). */
    assert_ok(vfs_setattr(v, ino_of(v, "d/sub/g"), NULL, &sa, &ROOT, NULL));
    assert_int_equal(attr_of(v, "d").mtime.sec, 458821880);
    assert_int_equal(attr_of(v, "d/sub").mtime.sec, MANIFEST_MTIME);
    /* The root, where e lands when e/x is copied up, too. */
    vfs_attr root0 = attr_of(v, "");
    assert_ok(vfs_setattr(v, ino_of(v, "e/x"), NULL, &sa, &ROOT, NULL));
    vfs_attr root1 = attr_of(v, "");
    assert_int_equal(root1.mtime.sec, root0.mtime.sec);
    assert_int_equal(root1.mtime.nsec, root0.mtime.nsec);
    /* And after the view is shown anew from the same upper. */
    vfs_free(v);
    v = f->v = show(f, &d, 1, upper, 0);
    assert_int_equal(attr_of(v, "d").mtime.sec, 458821880);
    assert_int_equal(attr_of(v, "d").mtime.nsec, 707683000);
    /* A new entry is a change: d's mtime moves. */
    vcreate(v, "d/new", 0644, "n", 1);
    assert_true(attr_of(v, "d").mtime.sec > 458821880);
    free(upper);
}

static void test_setattr(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t hello = ino_of(v, "hello");
    vfs_cred owner = {OWNER_UID, OWNER_GID}, other = {777, 777};
    vfs_setattr_in sa = {.valid = VFS_SET_MODE, .mode = 0600};
    /* Owner rules. */
    assert_errno(vfs_setattr(v, hello, NULL, &sa, &other, NULL), EPERM);
    vfs_attr a;
    assert_ok(vfs_setattr(v, hello, NULL, &sa, &owner, &a));
    assert_int_equal(a.mode, S_IFREG | 0600);
    assert_int_equal(a.ino, hello);
    assert_int_equal(a.flags, 0);
    sa = (vfs_setattr_in){.valid = VFS_SET_UID, .uid = 1};
    assert_errno(vfs_setattr(v, hello, NULL, &sa, &owner, NULL), EPERM);
    sa = (vfs_setattr_in){.valid = VFS_SET_GID, .gid = 1};
    assert_errno(vfs_setattr(v, hello, NULL, &sa, &owner, NULL), EPERM);
    sa = (vfs_setattr_in){.valid = VFS_SET_UID | VFS_SET_GID, .uid = 1234, .gid = 5678};
    assert_ok(vfs_setattr(v, hello, NULL, &sa, &ROOT, &a));
    assert_int_equal(a.uid, 1234);
    assert_int_equal(a.gid, 5678);
    sa = (vfs_setattr_in){.valid = VFS_SET_SIZE, .size = 1};
    assert_errno(vfs_setattr(v, hello, NULL, &sa, &other, NULL), EACCES);
    /* Times: explicit, and now. */
    sa = (vfs_setattr_in){.valid = VFS_SET_ATIME | VFS_SET_MTIME,
                          .atime = {.sec = 1000, .nsec = 5},
                          .mtime = {.sec = 2000, .nsec = 7}};
    assert_errno(vfs_setattr(v, hello, NULL, &sa, &other, NULL), EPERM);
    assert_ok(vfs_setattr(v, hello, NULL, &sa, &ROOT, &a));
    assert_int_equal(a.atime.sec, 1000);
    assert_int_equal(a.mtime.sec, 2000);
    assert_int_equal(a.mtime.nsec, 7);
    sa = (vfs_setattr_in){.valid = VFS_SET_MTIME_NOW};
    assert_ok(vfs_setattr(v, hello, NULL, &sa, &ROOT, &a));
    assert_true(a.mtime.sec > 2000);
    /* On a lower directory and symlink; the copy-up keeps the lower times
     * (MANIFEST_MTIME) until changed. */
    sa = (vfs_setattr_in){.valid = VFS_SET_MODE, .mode = 0700};
    assert_ok(vfs_setattr(v, ino_of(v, "e"), NULL, &sa, &ROOT, &a));
    assert_int_equal(a.mode, S_IFDIR | 0700);
    assert_int_equal(a.mtime.sec, MANIFEST_MTIME);
    assert_errno(vfs_setattr(v, ino_of(v, "link"), NULL, &sa, &ROOT, &a), EOPNOTSUPP);
    sa = (vfs_setattr_in){.valid = VFS_SET_MTIME, .mtime = {.sec = 3000}};
    assert_ok(vfs_setattr(v, ino_of(v, "link"), NULL, &sa, &ROOT, &a));
    assert_int_equal(a.mtime.sec, 3000);
    assert_int_equal(attr_of(v, "hello").mode, S_IFREG | 0600);
    /* Size through a handle; a directory cannot be truncated. */
    vfs_file *fh;
    assert_ok(vfs_open(v, ino_of(v, "e/x"), O_RDWR, &fh));
    sa = (vfs_setattr_in){.valid = VFS_SET_SIZE, .size = 5};
    assert_ok(vfs_setattr(v, vfs_file_ino(fh), fh, &sa, &other, &a));
    assert_int_equal(a.size, 5);
    vfs_release(v, fh);
    assert_errno(vfs_setattr(v, ino_of(v, "e"), NULL, &sa, &ROOT, &a), EISDIR);
    /* The root's mode is the upper root's, which capture reads. */
    sa = (vfs_setattr_in){.valid = VFS_SET_MODE, .mode = 0750};
    assert_ok(vfs_setattr(v, VFS_ROOT_INO, NULL, &sa, &ROOT, &a));
    struct stat st;
    assert_int_equal(stat(upper, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    /* Nothing asked: just the attributes, no copy-up. */
    sa = (vfs_setattr_in){.valid = 0};
    assert_ok(vfs_setattr(v, ino_of(v, "big"), NULL, &sa, &other, &a));
    assert_int_equal(a.flags, VFS_ATTR_IMMUTABLE);
    free(upper);
}

/* Listings of mixed directories: lower names hidden or shadowed by the
 * upper directory are left out, cookies resume anywhere. */
static void test_listings(void **state)
{
    fixture *f = *state;
    char *src = subdir(f, "lower");
    for (int i = 0; i < 60; i++) {
        char name[32];
        snprintf(name, sizeof(name), "dir/l%02d", i);
        tu_write_file(src, name, name, strlen(name), 0644);
    }
    strata_digest d = import_dir(f, src);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    uint64_t dir = ino_of(v, "dir");
    for (int i = 0; i < 60; i += 3) {
        char name[32];
        snprintf(name, sizeof(name), "dir/l%02d", i);
        assert_ok(vunlink(v, name)); /* whited out */
        snprintf(name, sizeof(name), "dir/l%02d", i + 1);
        vwrite_at(v, name, 0, "X", 1); /* shadowed by its copy */
        snprintf(name, sizeof(name), "dir/u%02d", i);
        vcreate(v, name, 0644, "u", 1); /* upper only */
    }
    listing all;
    list_dir(v, dir, false, 0, &all);
    assert_int_equal(all.n, 2 + 40 + 20);
    /* Every name once, each with the number a lookup gives. */
    for (size_t i = 2; i < all.n; i++) {
        for (size_t j = 2; j < i; j++)
            assert_string_not_equal(all.names[i], all.names[j]);
        char path[64];
        snprintf(path, sizeof(path), "dir/%s", all.names[i]);
        assert_int_equal(all.inos[i], ino_of(v, path));
        int k = atoi(all.names[i] + 1);
        if (all.names[i][0] == 'l')
            assert_true(k % 3 != 0);
        if (all.cookies[i] & VFS_COOKIE_UPPER)
            assert_true(all.names[i][0] == 'u' || k % 3 == 1);
    }
    /* Any chunking gives the same listing; with attributes too. */
    size_t chunks[] = {1, 2, 7, 61};
    for (size_t c = 0; c < 4; c++) {
        listing part;
        list_dir(v, dir, c % 2, chunks[c], &part);
        assert_int_equal(part.n, all.n);
        for (size_t i = 0; i < part.n; i++) {
            assert_string_equal(part.names[i], all.names[i]);
            assert_int_equal(part.inos[i], all.inos[i]);
            assert_int_equal(part.cookies[i], all.cookies[i]);
        }
        listing_free(&part);
    }
    /* Resuming from each cookie gives the rest. */
    for (size_t i = 0; i < all.n; i++) {
        listing rest = {0};
        bool eof = false;
        assert_ok(vfs_readdir(v, dir, all.cookies[i], collect, &rest, &eof));
        assert_true(eof);
        assert_int_equal(rest.n, all.n - i - 1);
        for (size_t j = 0; j < rest.n; j++)
            assert_string_equal(rest.names[j], all.names[i + 1 + j]);
        listing_free(&rest);
    }
    /* readdirplus counts lookups like lookup does. */
    listing pl = {0};
    bool eof;
    assert_ok(vfs_readdirplus(v, dir, 0, true, collect, &pl, &eof));
    for (size_t i = 2; i < pl.n; i++)
        vfs_forget(v, pl.inos[i], 1);
    listing_free(&pl);
    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_true(st.inodes <= 2);
    listing_free(&all);
    free(src);
    free(upper);
}

/* Without mknod and xattrs: ".wh." whiteouts and ".wh..wh..opq" markers,
 * hidden from the view, understood by capture; lower directories cannot
 * move (EXDEV) but upper ones can. */
static void test_limited_upper(void **state)
{
    fixture *f = *state;
    uint8_t *big;
    strata_digest d = make_lower(f, &big);
    free(big);
    char *upper = subdir(f, "upper");
    compat = VFS_COMPAT_WH_FILES | VFS_COMPAT_NO_XATTR;
    vfs *v = f->v = show(f, &d, 1, upper, 0);
    compat = 0;
    assert_ok(vunlink(v, "hello"));
    char *wh = tu_path(upper, ".wh.hello");
    struct stat st;
    assert_int_equal(lstat(wh, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    check_names(v, "", "big d e empty link");
    vcreate(v, "hello", 0644, "new", 3);
    assert_int_equal(lstat(wh, &st), -1); /* replaced */
    check_str(v, "hello", "new");
    assert_ok(vunlink(v, "e/x"));
    assert_ok(vrmdir(v, "e"));
    assert_ok(vmkdir(v, "e", 0755));
    char *marker = tu_path(upper, "e/" UPPER_OPAQUE_MARKER);
    assert_int_equal(lstat(marker, &st), 0);
    check_names(v, "e", "");
    assert_errno(vrename(v, "d", "d2", 0), EXDEV);
    check_names(v, "d", "f sub");
    assert_ok(vmkdir(v, "n", 0755));
    vcreate(v, "n/x", 0644, "x", 1);
    assert_ok(vrename(v, "n", "e/n2", 0)); /* no lower content: no redirect needed */
    check_str(v, "e/n2/x", "x");
    assert_ok(vrename(v, "link", "e/l", 0));
    char *lwh = tu_path(upper, ".wh.link");
    assert_int_equal(lstat(lwh, &st), 0);
    check_names(v, "", "big d e empty hello");
    /* Capture reads it all back. */
    char *msrc = subdir(f, "model");
    char *model = tu_path(msrc, "m");
    manifest *m = load(f, &d);
    layer_export_stats es;
    assert_ok(layer_materialize(f->s, m, model, LAYER_SHARE_COPY, &es));
    manifest_free(m);
    char *p = tu_path(model, "e");
    assert_ok(fs_remove_tree(p));
    free(p);
    p = tu_path(model, "link");
    unlink(p);
    free(p);
    tu_write_file(model, "hello", "new", 3, 0644);
    tu_write_file(model, "e/n2/x", "x", 1, 0644);
    p = tu_path(model, "e/l");
    assert_int_equal(symlink("hello", p), 0);
    free(p);
    p = tu_path(model, "e");
    chmod(p, 0755);
    free(p);
    check_capture(f, &d, 1, upper, model);
    free(model);
    free(msrc);
    free(lwh);
    free(marker);
    free(wh);
    free(upper);
}

/* ---- concurrency ----------------------------------------------------------- */

typedef struct worker {
    vfs *v;
    int id;
    uint64_t file;
    const uint8_t *want;
    size_t len;
    bool ok;
} worker;

static void *writer_main(void *p)
{
    worker *w = p;
    w->ok = true;
    char name[32];
    snprintf(name, sizeof(name), "w%d", w->id);
    vfs_attr a;
    vfs_file *fh;
    strata_err *e = vfs_create(w->v, VFS_ROOT_INO, name, strlen(name), 0644,
                               O_CREAT | O_EXCL | O_RDWR, &ROOT, &a, &fh);
    if (e) {
        strata_err_free(e);
        w->ok = false;
        return NULL;
    }
    uint8_t buf[4096], back[4096];
    for (int i = 0; i < 200 && w->ok; i++) {
        tu_fill_random(buf, sizeof(buf), (uint64_t)(w->id * 1000 + i));
        size_t n, got;
        e = vfs_write(w->v, fh, buf, sizeof(buf), (uint64_t)i * sizeof(buf), &n);
        if (!e)
            e = vfs_read(w->v, fh, back, sizeof(back), (uint64_t)i * sizeof(buf), &got);
        if (e || memcmp(buf, back, sizeof(buf)))
            w->ok = false;
        strata_err_free(e);
        /* And a copy-up of a shared lower file by everyone at once. */
        if (i == 100) {
            uint64_t shared;
            if (resolve(w->v, "shared", &shared) ||
                (e = vfs_write_ino(w->v, shared, "S", 1, (uint64_t)w->id, &n)))
                w->ok = false;
            strata_err_free(e);
        }
    }
    vfs_release(w->v, fh);
    vfs_forget(w->v, a.ino, 1);
    return NULL;
}

static void *reader_main(void *p)
{
    worker *w = p;
    w->ok = true;
    uint8_t *buf = malloc(w->len);
    for (int round = 0; round < 20 && w->ok; round++) {
        vfs_file *fh;
        strata_err *e = vfs_open(w->v, w->file, O_RDONLY, &fh);
        if (e) {
            strata_err_free(e);
            w->ok = false;
            break;
        }
        size_t at = 0;
        while (at < w->len) {
            size_t step = 1000 + (size_t)((w->id * 7919 + round * 131) % 3000), got;
            e = vfs_read(w->v, fh, buf + at, step, at, &got);
            if (e || got == 0) {
                strata_err_free(e);
                w->ok = false;
                break;
            }
            at += got;
        }
        if (w->ok && memcmp(buf, w->want, w->len))
            w->ok = false;
        vfs_release(w->v, fh);
    }
    free(buf);
    return NULL;
}

/* Namespace races: directories (lower ones, with lower content) move back
 * and forth while other threads create and remove files in them, list
 * them, and find entries inside them from their numbers alone (with a
 * tiny idle budget, so numbers are derived again and again). Nothing
 * deadlocks, no number that names an entry is ever stale, and every read
 * is byte-exact. */
#define RDIRS 6

typedef struct racer {
    vfs *v;
    int id;
    uint64_t (*nums)[5];
    _Atomic bool *stop;
    bool ok;
    char err[256];
} racer;

static void racer_fail(racer *r, const char *what, strata_err *e)
{
    if (r->ok)
        snprintf(r->err, sizeof(r->err), "%s: %s", what, e ? e->msg : "mismatch");
    r->ok = false;
    strata_err_free(e);
}

static void *mover_main(void *p)
{
    racer *r = p;
    rng g = {.s = (uint64_t)r->id * 77 + 5};
    for (int i = 0; i < 300; i++) {
        char a[16], b[16];
        int k = (int)pick(&g, RDIRS);
        snprintf(a, sizeof(a), "d%d", k);
        snprintf(b, sizeof(b), "m/d%d", k);
        strata_err *e = vrename(r->v, a, b, 0);
        if (e && vfs_errno(e) == ENOENT) {
            strata_err_free(e);
            e = vrename(r->v, b, a, 0);
        }
        if (e && vfs_errno(e) != ENOENT) /* the other mover won */
            racer_fail(r, "rename", e);
        else
            strata_err_free(e);
    }
    atomic_store(r->stop, true);
    return NULL;
}

static void *creator_main(void *p)
{
    racer *r = p;
    rng g = {.s = (uint64_t)r->id * 31 + 1};
    for (int i = 0; !atomic_load(r->stop) && r->ok; i++) {
        uint64_t dir = r->nums[pick(&g, RDIRS)][4];
        char name[32];
        snprintf(name, sizeof(name), "c%d.%d", r->id, i);
        vfs_attr a;
        vfs_file *fh;
        strata_err *e = vfs_create(r->v, dir, name, strlen(name), 0644, O_CREAT | O_EXCL | O_WRONLY,
                                   &ROOT, &a, &fh);
        if (e) {
            racer_fail(r, "create", e);
            break;
        }
        size_t w;
        e = vfs_write(r->v, fh, name, strlen(name), 0, &w);
        vfs_release(r->v, fh);
        vfs_forget(r->v, a.ino, 1);
        if (!e)
            e = vfs_unlink(r->v, dir, name, strlen(name));
        if (e)
            racer_fail(r, "write/unlink", e);
    }
    return NULL;
}

static void *deriver_main(void *p)
{
    racer *r = p;
    rng g = {.s = (uint64_t)r->id * 13 + 3};
    while (!atomic_load(r->stop) && r->ok) {
        int k = (int)pick(&g, RDIRS), j = (int)pick(&g, 5);
        uint64_t ino = r->nums[k][j];
        vfs_attr a;
        strata_err *e = vfs_getattr(r->v, ino, &a);
        if (e) {
            racer_fail(r, "getattr", e);
            break;
        }
        if (j == 4 ? !S_ISDIR(a.mode) : !S_ISREG(a.mode))
            racer_fail(r, "type", NULL);
        if (j < 4) {
            char want[32], got[32];
            snprintf(want, sizeof(want), "d%d/f%d", k, j);
            size_t n;
            e = vfs_read_ino(r->v, ino, got, sizeof(got), 0, &n);
            if (e || n != strlen(want) || memcmp(got, want, n))
                racer_fail(r, "read", e);
        } else if (pick(&g, 4) == 0) {
            listing l = {0};
            bool eof;
            e = vfs_readdirplus(r->v, ino, 0, false, collect, &l, &eof);
            if (e)
                racer_fail(r, "readdirplus", e);
            listing_free(&l);
        }
    }
    return NULL;
}

static void test_namespace_races(void **state)
{
    fixture *f = *state;
    char *src = subdir(f, "lower");
    for (int k = 0; k < RDIRS; k++)
        for (int j = 0; j < 4; j++) {
            char name[32];
            snprintf(name, sizeof(name), "d%d/f%d", k, j);
            tu_write_file(src, name, name, strlen(name), 0644);
        }
    char *m = tu_path(src, "m");
    assert_int_equal(mkdir(m, 0755), 0);
    free(m);
    strata_digest d = import_dir(f, src);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 8);
    uint64_t nums[RDIRS][5];
    for (int k = 0; k < RDIRS; k++) {
        char name[32];
        for (int j = 0; j < 4; j++) {
            snprintf(name, sizeof(name), "d%d/f%d", k, j);
            nums[k][j] = ino_of(v, name);
        }
        snprintf(name, sizeof(name), "d%d", k);
        nums[k][4] = ino_of(v, name);
    }
    _Atomic bool stop = false;
    pthread_t th[8];
    racer rc[8];
    for (int i = 0; i < 8; i++) {
        rc[i] = (racer){.v = v, .id = i, .nums = nums, .stop = &stop, .ok = true};
        pthread_create(&th[i], NULL,
                       i < 2   ? mover_main
                       : i < 4 ? creator_main
                               : deriver_main,
                       &rc[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        if (!rc[i].ok)
            print_error("racer %d: %s\n", i, rc[i].err);
        assert_true(rc[i].ok);
    }
    /* Every directory is in one of its two places, whole. */
    for (int k = 0; k < RDIRS; k++) {
        char a[16], b[16];
        snprintf(a, sizeof(a), "d%d", k);
        snprintf(b, sizeof(b), "m/d%d", k);
        uint64_t ino;
        bool at_a = resolve(v, a, &ino) == 0, at_b = resolve(v, b, &ino) == 0;
        assert_true(at_a != at_b);
        assert_int_equal(ino, nums[k][4]);
        check_names(v, at_a ? a : b, "f0 f1 f2 f3");
    }
    free(src);
    free(upper);
}

static void test_concurrency(void **state)
{
    fixture *f = *state;
    char *src = subdir(f, "lower");
    size_t len = 300000;
    uint8_t *data = malloc(len);
    tu_fill_random(data, len, 11);
    tu_write_file(src, "lowerfile", data, len, 0644);
    tu_write_file(src, "shared", "................", 16, 0644);
    strata_digest d = import_dir(f, src);
    char *upper = subdir(f, "upper");
    vfs *v = f->v = show(f, &d, 1, upper, 64);
    uint64_t lf = ino_of(v, "lowerfile");
    pthread_t th[16];
    worker w[16];
    for (int i = 0; i < 16; i++) {
        w[i] = (worker){.v = v, .id = i, .file = lf, .want = data, .len = len};
        pthread_create(&th[i], NULL, i < 8 ? writer_main : reader_main, &w[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].ok);
    }
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w%d", i);
        vfs_attr a = attr_of(v, name);
        assert_int_equal(a.size, 200 * 4096);
    }
    check_str(v, "shared", "SSSSSSSS........");
    vfs_stats st;
    vfs_get_stats(v, &st);
    assert_int_equal(st.copy_ups, 1); /* one copy, however many asked */
    free(data);
    free(src);
    free(upper);
}

/* ---- the model test ---------------------------------------------------------
 *
 * A seeded random sequence of operations is applied to the vfs and, with
 * plain POSIX calls, to a model directory that starts as a materialized
 * copy of the same layers. Every operation must fail or succeed alike
 * (same errno), and after every one the two trees must be the same: names,
 * types, modes, sizes, bytes, link targets, link counts and which names
 * share an inode. An entry keeps its vfs number for the whole run (checked
 * through the model's inode numbers, which renames keep too). At the end
 * the upper directory is captured, and stacked on the layers it must be
 * exactly the model; a fresh mount of the same upper directory must show
 * the model too; and every number must still be found from itself alone. */

static const char *const NAMES[] = {"a", "b", "c", "d", "e", "f"};
#define NNAMES 6

static void gen_tree(rng *r, const char *dir, int depth)
{
    for (int i = 0; i < NNAMES; i++) {
        if (pick(r, 3) == 0)
            continue;
        char *p = tu_path(dir, NAMES[i]);
        uint32_t k = pick(r, 10);
        if (k < 4 && depth < 3) {
            assert_int_equal(mkdir(p, 0755), 0);
            gen_tree(r, p, depth + 1);
            static const unsigned dm[] = {0755, 0700, 0750};
            chmod(p, dm[pick(r, 3)]);
        } else if (k < 9) {
            size_t len = pick(r, 5) == 0 ? SPILL + pick(r, 3000) : pick(r, 200);
            uint8_t *data = malloc(len + 1);
            tu_fill_random(data, len, rnd(r));
            static const unsigned fm[] = {0644, 0755, 0600};
            tu_write_file(dir, NAMES[i], data, len, fm[pick(r, 3)]);
            free(data);
        } else {
            char t[16];
            snprintf(t, sizeof(t), "t%u", pick(r, 100));
            assert_int_equal(symlink(t, p), 0);
        }
        free(p);
    }
}

typedef struct ment {
    char *path; /* relative; "" is the root */
    mode_t type;
    uint64_t ino; /* in the model */
} ment;

typedef struct imap {
    size_t n, cap;
    uint64_t *model, *vino;
} imap;

typedef struct mctx {
    fixture *f;
    vfs *v;
    char *model;
    rng r;
    ment *ents;
    size_t n, cap;
    imap map;
    uint64_t seed;
    int step;
    bool every; /* compare after every step */
} mctx;

static void ents_free(mctx *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->ents[i].path);
    m->n = 0;
}

static void ents_collect(mctx *m, const char *rel)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->ents = realloc(m->ents, m->cap * sizeof(*m->ents));
    }
    char *full = *rel ? tu_path(m->model, rel) : strdup(m->model);
    struct stat st;
    assert_int_equal(lstat(full, &st), 0);
    m->ents[m->n++] = (ment){.path = strdup(rel), .type = st.st_mode & S_IFMT, .ino = st.st_ino};
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(full);
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *c = *rel ? tu_path(rel, de->d_name) : strdup(de->d_name);
            ents_collect(m, c);
            free(c);
        }
        closedir(d);
    }
    free(full);
}

static const ment *pick_ent(mctx *m, mode_t type, bool root)
{
    for (int tries = 0; tries < 50; tries++) {
        const ment *e = &m->ents[pick(&m->r, (uint32_t)m->n)];
        if (!root && !*e->path)
            continue;
        if (type && e->type != type)
            continue;
        return e;
    }
    return NULL;
}

/* A name in an existing directory, which may or may not exist. */
static char *new_path(mctx *m)
{
    const ment *d = pick_ent(m, S_IFDIR, true);
    const char *name = NAMES[pick(&m->r, NNAMES)];
    return d && *d->path ? tu_path(d->path, name) : strdup(name);
}

static char *mpath(mctx *m, const char *rel)
{
    return *rel ? tu_path(m->model, rel) : strdup(m->model);
}

static int verr(strata_err *e)
{
    int r = vfs_errno(e);
    if (e)
        assert_non_null(e->hint);
    strata_err_free(e);
    return r;
}

static int sys(int r)
{
    return r < 0 ? errno : 0;
}

/* ---- comparison ---- */

static void map_put(imap *m, uint64_t model, uint64_t vino)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->model = realloc(m->model, m->cap * sizeof(uint64_t));
        m->vino = realloc(m->vino, m->cap * sizeof(uint64_t));
    }
    m->model[m->n] = model;
    m->vino[m->n++] = vino;
}

static bool map_get(const imap *m, uint64_t model, uint64_t *vino)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->model[i] == model) {
            *vino = m->vino[i];
            return true;
        }
    return false;
}

static void map_free(imap *m)
{
    free(m->model);
    free(m->vino);
    memset(m, 0, sizeof(*m));
}

#define MFAIL(m, ...)                                                                              \
    do {                                                                                           \
        print_error("seed %llu step %d: ", (unsigned long long)(m)->seed, (m)->step);              \
        print_error(__VA_ARGS__);                                                                  \
        fail();                                                                                    \
    } while (0)

static uint8_t *read_model(const char *p, size_t *len)
{
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t got;
    assert_ok(fs_pread_full(fd, buf, (size_t)st.st_size, 0, &got, p));
    close(fd);
    *len = got;
    return buf;
}

static void compare_dir(mctx *m, const char *rel, uint64_t dino, imap *now)
{
    vfs *v = m->v;
    char *full = mpath(m, rel);
    /* Names. */
    DIR *d = opendir(full);
    assert_non_null(d);
    char **mn = NULL;
    size_t mc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        mn = realloc(mn, (mc + 1) * sizeof(*mn));
        mn[mc++] = strdup(de->d_name);
    }
    closedir(d);
    if (mc > 1)
        qsort(mn, mc, sizeof(*mn), cmp_str);
    listing l;
    list_dir(v, dino, pick(&m->r, 2), pick(&m->r, 3) ? 0 : 1 + pick(&m->r, 4), &l);
    if (l.n < 2 || strcmp(l.names[0], ".") || strcmp(l.names[1], ".."))
        MFAIL(m, "listing of '%s' lacks . and ..\n", rel);
    if (l.n - 2 != mc)
        MFAIL(m, "'%s': the vfs lists %zu names, the model has %zu\n", rel, l.n - 2, mc);
    for (size_t i = 2; i < l.n; i++) {
        bool found = false;
        for (size_t j = 0; j < mc; j++)
            if (!strcmp(mn[j], l.names[i]))
                found = true;
        if (!found)
            MFAIL(m, "'%s': the vfs lists '%s', which the model lacks\n", rel, l.names[i]);
    }
    for (size_t j = 0; j < mc; j++) {
        char *crel = *rel ? tu_path(rel, mn[j]) : strdup(mn[j]);
        char *cfull = tu_path(full, mn[j]);
        struct stat st;
        assert_int_equal(lstat(cfull, &st), 0);
        vfs_attr a;
        strata_err *e = vfs_lookup(v, dino, mn[j], strlen(mn[j]), &a);
        if (e)
            MFAIL(m, "lookup '%s': %s\n", crel, e->msg);
        vfs_forget(v, a.ino, 1);
        for (size_t i = 2; i < l.n; i++)
            if (!strcmp(l.names[i], mn[j]) &&
                (l.inos[i] != a.ino || l.types[i] != (st.st_mode & S_IFMT)))
                MFAIL(m, "'%s': listed as %#llx/%o, looked up as %#llx\n", crel,
                      (unsigned long long)l.inos[i], l.types[i], (unsigned long long)a.ino);
        if ((a.mode & S_IFMT) != (st.st_mode & S_IFMT))
            MFAIL(m, "'%s': type %o in the vfs, %o in the model\n", crel, a.mode & S_IFMT,
                  st.st_mode & S_IFMT);
        if (!S_ISLNK(st.st_mode) && (a.mode & 07777) != (st.st_mode & 07777))
            MFAIL(m, "'%s': mode %o in the vfs, %o in the model\n", crel, a.mode & 07777,
                  st.st_mode & 07777);
        /* The same entry as before has the same number. */
        uint64_t was;
        if (map_get(&m->map, st.st_ino, &was) && was != a.ino)
            MFAIL(m, "'%s': number %#llx, was %#llx\n", crel, (unsigned long long)a.ino,
                  (unsigned long long)was);
        uint64_t other;
        if (map_get(now, st.st_ino, &other)) {
            if (other != a.ino)
                MFAIL(m, "'%s': hard links with different numbers\n", crel);
        } else {
            for (size_t i = 0; i < now->n; i++)
                if (now->vino[i] == a.ino)
                    MFAIL(m, "'%s': number %#llx shared with another entry\n", crel,
                          (unsigned long long)a.ino);
            map_put(now, st.st_ino, a.ino);
        }
        if (S_ISREG(st.st_mode)) {
            if (a.size != (uint64_t)st.st_size || a.nlink != st.st_nlink)
                MFAIL(m, "'%s': size/nlink %llu/%u in the vfs, %llu/%u in the model\n", crel,
                      (unsigned long long)a.size, a.nlink, (unsigned long long)st.st_size,
                      (unsigned)st.st_nlink);
            size_t ml, vl;
            uint8_t *mb = read_model(cfull, &ml);
            uint8_t *vb = slurp_ino(v, a.ino, &vl);
            if (ml != vl || memcmp(mb, vb, ml))
                MFAIL(m, "'%s': contents differ\n", crel);
            free(mb);
            free(vb);
        } else if (S_ISLNK(st.st_mode)) {
            char mt[VFS_LINK_MAX + 1], vt[VFS_LINK_MAX + 1];
            ssize_t n = readlink(cfull, mt, sizeof(mt) - 1);
            assert_true(n > 0);
            mt[n] = '\0';
            size_t vl;
            assert_ok(vfs_readlink(v, a.ino, vt, sizeof(vt), &vl));
            if (strcmp(mt, vt))
                MFAIL(m, "'%s': link to '%s' in the vfs, '%s' in the model\n", crel, vt, mt);
        } else if (S_ISDIR(st.st_mode)) {
            compare_dir(m, crel, a.ino, now);
        }
        free(crel);
        free(cfull);
    }
    for (size_t j = 0; j < mc; j++)
        free(mn[j]);
    free(mn);
    listing_free(&l);
    free(full);
}

static void compare(mctx *m)
{
    struct stat st;
    assert_int_equal(stat(m->model, &st), 0);
    vfs_attr a;
    assert_ok(vfs_getattr(m->v, VFS_ROOT_INO, &a));
    if ((a.mode & 07777) != (st.st_mode & 07777))
        MFAIL(m, "root mode %o in the vfs, %o in the model\n", a.mode & 07777, st.st_mode & 07777);
    imap now = {0};
    compare_dir(m, "", VFS_ROOT_INO, &now);
    map_free(&m->map);
    m->map = now;
}

/* ---- one operation ---- */

static struct {
    char kind[16];
    int err;
    unsigned n;
} tallies[128];

static void tally(const char *kind, int err)
{
    for (int i = 0; i < 128; i++) {
        if (!tallies[i].n) {
            snprintf(tallies[i].kind, sizeof(tallies[i].kind), "%s", kind);
            tallies[i].err = err;
        }
        if (!strcmp(tallies[i].kind, kind) && tallies[i].err == err) {
            tallies[i].n++;
            return;
        }
    }
}

static const unsigned MODES[] = {0755, 0700, 0644, 0600, 0555, 0750, 0640};

static void one_op(mctx *m)
{
    vfs *v = m->v;
    rng *r = &m->r;
    ents_free(m);
    ents_collect(m, "");
    /* Forget model inodes that are gone, before a new entry reuses one. */
    size_t keep = 0;
    for (size_t i = 0; i < m->map.n; i++) {
        bool live = false;
        for (size_t j = 0; j < m->n && !live; j++)
            live = m->ents[j].ino == m->map.model[i];
        if (live) {
            m->map.model[keep] = m->map.model[i];
            m->map.vino[keep++] = m->map.vino[i];
        }
    }
    m->map.n = keep;
    uint32_t op = pick(r, 100);
    int em = 0, ev = 0;
    char what[600];
    if (op < 14) { /* create and write */
        char *p = new_path(m);
        unsigned mode = MODES[pick(r, 7)] & 0777;
        size_t len = pick(r, 8) == 0 ? SPILL + pick(r, 2000) : pick(r, 100);
        uint8_t *data = malloc(len + 1);
        tu_fill_random(data, len, rnd(r));
        snprintf(what, sizeof(what), "create %s %o %zu", p, mode, len);
        char *full = mpath(m, p);
        int fd = open(full, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
        em = fd < 0 ? errno : 0;
        if (fd >= 0) {
            fchmod(fd, mode);
            assert_ok(fs_write_all(fd, data, len, full));
            close(fd);
        }
        const char *name;
        uint64_t dir = parent_of(v, p, &name);
        vfs_attr a;
        vfs_file *fh;
        ev = verr(vfs_create(v, dir, name, strlen(name), mode, O_CREAT | O_EXCL | O_WRONLY, &ROOT,
                             &a, &fh));
        if (!ev) {
            size_t w;
            if (len)
                assert_ok(vfs_write(v, fh, data, len, 0, &w));
            vfs_release(v, fh);
            vfs_forget(v, a.ino, 1);
        }
        free(full);
        free(data);
        free(p);
    } else if (op < 26) { /* write at an offset */
        const ment *e = pick_ent(m, 0, false);
        if (!e || e->type == S_IFLNK)
            return;
        char *full = mpath(m, e->path);
        struct stat st;
        lstat(full, &st);
        uint64_t off = pick(r, (uint32_t)st.st_size + 50);
        size_t len = 1 + pick(r, pick(r, 6) ? 100 : 6000);
        uint8_t *data = malloc(len);
        tu_fill_random(data, len, rnd(r));
        snprintf(what, sizeof(what), "write %s at %llu len %zu", e->path, (unsigned long long)off,
                 len);
        int fd = open(full, O_WRONLY | O_CLOEXEC);
        em = fd < 0 ? errno : 0;
        if (fd >= 0) {
            assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
            close(fd);
        }
        vfs_file *fh;
        ev = verr(vfs_open(v, ino_of(v, e->path), O_WRONLY, &fh));
        if (!ev) {
            size_t w;
            assert_ok(vfs_write(v, fh, data, len, off, &w));
            vfs_release(v, fh);
        }
        free(data);
        free(full);
    } else if (op < 33) { /* truncate */
        const ment *e = pick_ent(m, 0, false);
        if (!e || e->type == S_IFLNK)
            return;
        char *full = mpath(m, e->path);
        uint64_t size = pick(r, 3) ? pick(r, 100) : pick(r, 3 * SPILL);
        snprintf(what, sizeof(what), "truncate %s %llu", e->path, (unsigned long long)size);
        em = sys(truncate(full, (off_t)size));
        ev = verr(vtruncate(v, e->path, size));
        free(full);
    } else if (op < 40) { /* chmod */
        const ment *e = pick_ent(m, 0, true);
        if (!e || e->type == S_IFLNK)
            return;
        unsigned mode = MODES[pick(r, 7)];
        char *full = mpath(m, e->path);
        snprintf(what, sizeof(what), "chmod %s %o", e->path, mode);
        em = sys(chmod(full, mode));
        vfs_setattr_in sa = {.valid = VFS_SET_MODE, .mode = mode};
        ev = verr(
            vfs_setattr(v, *e->path ? ino_of(v, e->path) : VFS_ROOT_INO, NULL, &sa, &ROOT, NULL));
        free(full);
    } else if (op < 50) { /* mkdir */
        char *p = new_path(m);
        unsigned mode = MODES[pick(r, 7)];
        snprintf(what, sizeof(what), "mkdir %s %o", p, mode);
        char *full = mpath(m, p);
        em = sys(mkdir(full, mode));
        if (!em)
            chmod(full, mode);
        ev = verr(vmkdir(v, p, mode));
        free(full);
        free(p);
    } else if (op < 60) { /* unlink */
        const ment *e = pick(r, 5) ? pick_ent(m, 0, false) : NULL;
        char *p = e ? strdup(e->path) : new_path(m);
        snprintf(what, sizeof(what), "unlink %s", p);
        char *full = mpath(m, p);
        em = sys(unlink(full));
        ev = verr(vunlink(v, p));
        free(full);
        free(p);
    } else if (op < 68) { /* rmdir */
        const ment *e = pick_ent(m, pick(r, 4) ? S_IFDIR : 0, false);
        if (!e)
            return;
        snprintf(what, sizeof(what), "rmdir %s", e->path);
        char *full = mpath(m, e->path);
        em = sys(rmdir(full));
        ev = verr(vrmdir(v, e->path));
        free(full);
    } else if (op < 88) { /* rename */
        const ment *s = pick_ent(m, pick(r, 2) ? S_IFDIR : 0, false);
        if (!s)
            return;
        const ment *t = pick(r, 2) ? pick_ent(m, 0, false) : NULL;
        char *src = strdup(s->path);
        char *dst = t ? strdup(t->path) : new_path(m);
        /* Without xattrs no directory that may hold lower content moves
         * (an exchange moves the target too, which may be a directory). */
        struct stat dst_st;
        char *dfull = mpath(m, dst);
        bool dst_dir = lstat(dfull, &dst_st) == 0 && S_ISDIR(dst_st.st_mode);
        free(dfull);
        if ((compat & VFS_COMPAT_NO_XATTR) && (s->type == S_IFDIR || dst_dir)) {
            free(src);
            free(dst);
            return;
        }
        uint32_t k = pick(r, 10);
        unsigned flags = k < 6 ? 0 : k < 8 ? VFS_RENAME_NOREPLACE : VFS_RENAME_EXCHANGE;
        snprintf(what, sizeof(what), "rename %s %s %u", src, dst, flags);
        char *f1 = mpath(m, src), *f2 = mpath(m, dst);
        em = sys(renameat2(AT_FDCWD, f1, AT_FDCWD, f2, flags));
        ev = verr(vrename(v, src, dst, flags));
        free(f1);
        free(f2);
        free(src);
        free(dst);
    } else if (op < 94) { /* symlink */
        char *p = new_path(m);
        char t[16];
        snprintf(t, sizeof(t), "s%u", pick(r, 100));
        snprintf(what, sizeof(what), "symlink %s -> %s", p, t);
        char *full = mpath(m, p);
        em = sys(symlink(t, full));
        const char *name;
        uint64_t dir = parent_of(v, p, &name);
        vfs_attr a;
        ev = verr(vfs_symlink(v, dir, name, strlen(name), t, &ROOT, &a));
        if (!ev)
            vfs_forget(v, a.ino, 1);
        free(full);
        free(p);
    } else { /* link */
        const ment *s = pick_ent(m, pick(r, 5) ? S_IFREG : 0, false);
        if (!s)
            return;
        char *p = new_path(m);
        snprintf(what, sizeof(what), "link %s %s", s->path, p);
        char *f1 = mpath(m, s->path), *f2 = mpath(m, p);
        em = sys(link(f1, f2));
        const char *name;
        uint64_t dir = parent_of(v, p, &name);
        vfs_attr a;
        ev = verr(vfs_link(v, ino_of(v, s->path), dir, name, strlen(name), &a));
        if (!ev)
            vfs_forget(v, a.ino, 1);
        free(f1);
        free(f2);
        free(p);
    }
    if (em != ev)
        MFAIL(m, "%s: errno %d (%s) in the model, %d (%s) in the vfs\n", what, em, strerror(em), ev,
              strerror(ev));
    /* Tallies, to see what a run exercised (STRATA_TEST_VERBOSE). */
    char kind[16];
    sscanf(what, "%15s", kind);
    tally(kind, em);
    /* Comparing after every step pins a failure to its step (a replay
     * with STRATA_VFS_SEED does); a normal run compares every few. */
    if (m->every || m->step % 3 == 2)
        compare(m);
}

static void model_round(fixture *f, uint64_t seed, int ops, uint32_t idle)
{
    mctx m = {.f = f,
              .seed = seed,
              .r = {.s = seed * 0x9e3779b97f4a7c15ull + 1},
              .every = getenv("STRATA_VFS_SEED") != NULL};
    /* Three layers: a, a diff turning a into another tree (whiteouts and
     * all), and b on top. */
    char *la = subdir(f, "la"), *la2 = subdir(f, "la2"), *lb = subdir(f, "lb");
    gen_tree(&m.r, la, 0);
    gen_tree(&m.r, la2, 0);
    gen_tree(&m.r, lb, 0);
    strata_digest da = import_dir(f, la), da2 = import_dir(f, la2), db = import_dir(f, lb);
    manifest *ma = load(f, &da), *ma2 = load(f, &da2);
    strata_buf enc;
    buf_init(&enc);
    assert_ok(layer_diff(ma, ma2, &enc, NULL));
    strata_digest dd;
    assert_ok(store_put_buf(f->s, enc.data, enc.len, &dd, NULL));
    buf_free(&enc);
    manifest_free(ma);
    manifest_free(ma2);
    strata_digest layers[3] = {db, dd, da};
    manifest *flat = flatten(f, layers, 3);
    char *mroot = subdir(f, "model");
    m.model = tu_path(mroot, "m");
    layer_export_stats es;
    assert_ok(layer_materialize(f->s, flat, m.model, LAYER_SHARE_COPY, &es));
    manifest_free(flat);
    char *upper = subdir(f, "upper");
    m.v = show(f, layers, 3, upper, idle);
    compare(&m);
    for (m.step = 0; m.step < ops; m.step++)
        one_op(&m);
    compare(&m);
    /* Every number, from itself alone. */
    for (size_t i = 0; i < m.map.n; i++) {
        vfs_attr a;
        strata_err *e = vfs_getattr(m.v, m.map.vino[i], &a);
        if (e)
            MFAIL(&m, "getattr %#llx: %s\n", (unsigned long long)m.map.vino[i], e->msg);
    }
    vfs_free(m.v);
    /* A fresh mount of the same upper directory. */
    m.v = show(f, layers, 3, upper, 64);
    map_free(&m.map);
    compare(&m);
    vfs_free(m.v);
    m.v = NULL;
    check_capture(f, layers, 3, upper, m.model);
    ents_free(&m);
    free(m.ents);
    map_free(&m.map);
    assert_ok(fs_remove_tree(upper));
    assert_ok(fs_remove_tree(mroot));
    free(upper);
    free(m.model);
    free(mroot);
    free(la);
    free(la2);
    free(lb);
}

static void test_model(void **state)
{
    fixture *f = *state;
    const char *env = getenv("STRATA_VFS_SEED");
    const char *renv = getenv("STRATA_VFS_ROUNDS");
    uint64_t seed0 = env ? strtoull(env, NULL, 10) : 1;
    int rounds = renv ? atoi(renv) : (env ? 1 : 16);
    /* Each round writes the upper directory one of four ways. */
    static const uint32_t modes[] = {0, VFS_COMPAT_WH_FILES, VFS_COMPAT_USER_XATTR,
                                     VFS_COMPAT_NO_XATTR | VFS_COMPAT_WH_FILES};
    for (int i = 0; i < rounds; i++) {
        uint64_t seed = seed0 + (uint64_t)i;
        compat = modes[seed % 4];
        model_round(f, seed, 300, seed % 2 ? 64 : 0);
    }
    compat = 0;
    for (int i = 0; getenv("STRATA_TEST_VERBOSE") && i < 128 && tallies[i].n; i++)
        print_message("%-9s %-12s %u\n", tallies[i].kind,
                      tallies[i].err ? strerror(tallies[i].err) : "ok", tallies[i].n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_up_and_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_and_friends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink_and_rmdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_lower_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_and_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_up_keeps_dir_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setattr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limited_upper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespace_races, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
