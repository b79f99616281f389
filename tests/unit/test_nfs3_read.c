/* NFSv3 LOOKUP, READLINK, READ, WRITE, COMMIT, READDIR and READDIRPLUS
 * over a real store and vfs (nfs_testenv.h): what a client sees, byte for
 * byte, including stale handles, stale cookies and garbage arguments. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/layer.h"
#include "nfs_testenv.h"
#include "testutil.h"

#define BIG_SIZE  (3u << 20)
#define BIG_SEED  42
#define MANY      500
#define SMALL     "hello world\n"
#define EDIT_SIZE 20000
#define EDIT_SEED 7

static void fill(const char *lower)
{
    tu_write_file(lower, "small.txt", SMALL, strlen(SMALL), 0644);
    uint8_t *big = malloc(BIG_SIZE);
    assert_non_null(big);
    tu_fill_random(big, BIG_SIZE, BIG_SEED);
    tu_write_file(lower, "big.bin", big, BIG_SIZE, 0644);
    free(big);
    uint8_t edit[EDIT_SIZE];
    tu_fill_random(edit, sizeof(edit), EDIT_SEED);
    tu_write_file(lower, "edit.bin", edit, sizeof(edit), 0644);
    tu_write_file(lower, "a/b/c/deep.txt", "deep\n", 5, 0644);
    /* 500 entries, every 50th a directory. */
    for (int i = 0; i < MANY; i++) {
        char name[64], body[32];
        int n = snprintf(body, sizeof(body), "entry %d\n", i);
        if (i % 50 == 0)
            snprintf(name, sizeof(name), "many/d%03d/inner", i);
        else
            snprintf(name, sizeof(name), "many/f%03d", i);
        tu_write_file(lower, name, body, (size_t)n, 0644);
    }
    char *link = tu_path(lower, "link");
    assert_int_equal(symlink("small.txt", link), 0);
    free(link);
}

static int setup(void **state)
{
    *state = nte_new(fill);
    return 0;
}

static int teardown(void **state)
{
    nte_free(*state);
    return 0;
}

/* ---- calls ------------------------------------------------------------- */

static uint32_t lookup(nfs_testenv *t, const nfs3_fh *dir, const char *name, nfs3_lookup_res *res)
{
    nfs3_dirop a = {.dir = *dir};
    snprintf(a.name, sizeof(a.name), "%s", name);
    nfs3_enc_dirop_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_LOOKUP, NTE_OWNER), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(nfs3_dec_lookup_res(&t->res, res));
    return res->status;
}

static void must_lookup(nfs_testenv *t, const char *path, nfs3_fh *out)
{
    assert_int_equal(nte_lookup_path(t, path, out), NFS3_OK);
}

static uint32_t readlink_(nfs_testenv *t, const nfs3_fh *fh, nfs3_readlink_res *res)
{
    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_READLINK, NTE_OWNER), fh);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(nfs3_dec_readlink_res(&t->res, res));
    return res->status;
}

/* res->data points into the reply, valid until the next call. */
static uint32_t read_(nfs_testenv *t, const nfs3_fh *fh, uint64_t off, uint32_t count,
                      nfs3_read_res *res)
{
    nfs3_read_args a = {.fh = *fh, .offset = off, .count = count};
    nfs3_enc_read_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_READ, NTE_OWNER), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(nfs3_dec_read_res(&t->res, res));
    return res->status;
}

static uint32_t write_(nfs_testenv *t, const nfs3_fh *fh, uint64_t off, const void *data,
                       uint32_t len, uint32_t stable, nfs3_write_res *res)
{
    nfs3_write_args a = {
        .fh = *fh, .offset = off, .count = len, .stable = stable, .data = data, .data_len = len};
    nfs3_enc_write_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_WRITE, NTE_OWNER), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(nfs3_dec_write_res(&t->res, res));
    return res->status;
}

static uint32_t commit_(nfs_testenv *t, const nfs3_fh *fh, nfs3_commit_res *res)
{
    nfs3_commit_args a = {.fh = *fh};
    nfs3_enc_commit_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_COMMIT, NTE_OWNER), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(nfs3_dec_commit_res(&t->res, res));
    return res->status;
}

#define ENTS_MAX 2048

/* One READDIR (plus: READDIRPLUS with dircount count / 4, maxcount count). */
static uint32_t readdir_(nfs_testenv *t, bool plus, const nfs3_fh *dir, uint64_t cookie,
                         const uint8_t verf[8], uint32_t count, nfs3_readdir_res *res,
                         nfs3_dirent *ents)
{
    xdr_enc *e =
        nte_begin(t, NFS3_PROGRAM, plus ? NFS3_PROC_READDIRPLUS : NFS3_PROC_READDIR, NTE_OWNER);
    if (plus) {
        nfs3_readdirplus_args a = {
            .dir = *dir, .cookie = cookie, .dircount = count / 4, .maxcount = count};
        memcpy(a.verf, verf, 8);
        nfs3_enc_readdirplus_args(e, &a);
    } else {
        nfs3_readdir_args a = {.dir = *dir, .cookie = cookie, .count = count};
        memcpy(a.verf, verf, 8);
        nfs3_enc_readdir_args(e, &a);
    }
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(nfs3_dec_readdir_res(&t->res, plus, res, ents, ENTS_MAX));
    return res->status;
}

static const uint8_t zero_verf[8];

/* A handle of another server instance: stale whatever it names. */
static void foreign_fh(const nfs_testenv *t, const nfs3_fh *fh, nfs3_fh *out)
{
    nfs_fh_fields f;
    assert_true(nfs_fh_parse(fh->data, fh->len, t->ctx.instance, &f));
    f.instance ^= 0x5a5a;
    *out = *fh;
    nfs_fh_make(&f, out->data);
}

static uint8_t *read_local(const char *dir, const char *name, size_t *len)
{
    char *p = tu_path(dir, name);
    FILE *f = fopen(p, "rb");
    free(p);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Inodes held by something (a lookup, a reference, the pinned roots). */
static uint64_t busy_inodes(nfs_testenv *t)
{
    vfs_stats st;
    vfs_get_stats(t->v, &st);
    return st.inodes - st.idle;
}

/* ---- LOOKUP and READLINK ------------------------------------------------ */

static void test_lookup(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root, fh;
    nte_root(t, &root);
    nfs3_lookup_res res;
    uint64_t busy0 = busy_inodes(t);

    assert_int_equal(lookup(t, &root, "small.txt", &res), NFS3_OK);
    assert_true(res.obj_attr.present);
    assert_int_equal(res.obj_attr.attr.type, NF3REG);
    assert_int_equal(res.obj_attr.attr.size, strlen(SMALL));
    assert_int_equal(res.obj_attr.attr.uid, NTE_OWNER);
    assert_true(res.dir_attr.present);
    assert_int_equal(res.dir_attr.attr.type, NF3DIR);
    assert_int_equal(res.dir_attr.attr.fileid, VFS_ROOT_INO);
    assert_int_equal(res.fh.len, NFS_FH_LEN);
    nfs3_fh small = res.fh;
    uint64_t small_id = res.obj_attr.attr.fileid;

    /* Not found: NOENT, with the directory's attributes. */
    assert_int_equal(lookup(t, &root, "nope", &res), NFS3ERR_NOENT);
    assert_true(res.dir_attr.present);
    assert_int_equal(res.dir_attr.attr.fileid, VFS_ROOT_INO);

    /* In a file: NOTDIR, with the file's attributes. */
    assert_int_equal(lookup(t, &small, "x", &res), NFS3ERR_NOTDIR);
    assert_true(res.dir_attr.present);
    assert_int_equal(res.dir_attr.attr.fileid, small_id);

    /* Nested, then "." and "..". */
    must_lookup(t, "a/b/c/deep.txt", &fh);
    nfs3_fh a, b;
    must_lookup(t, "a", &a);
    must_lookup(t, "a/b", &b);
    assert_int_equal(lookup(t, &b, "..", &res), NFS3_OK);
    assert_memory_equal(res.fh.data, a.data, NFS_FH_LEN);
    assert_int_equal(res.obj_attr.attr.type, NF3DIR);
    assert_int_equal(lookup(t, &b, ".", &res), NFS3_OK);
    assert_memory_equal(res.fh.data, b.data, NFS_FH_LEN);

    /* The exported root's ".." is the root. */
    assert_int_equal(lookup(t, &root, "..", &res), NFS3_OK);
    assert_memory_equal(res.fh.data, root.data, NFS_FH_LEN);
    assert_int_equal(res.obj_attr.attr.fileid, VFS_ROOT_INO);

    /* Lookups are given back at once: nothing stays counted. */
    assert_int_equal(busy_inodes(t), busy0);
}

static void test_readlink(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh link, small;
    must_lookup(t, "link", &link);
    must_lookup(t, "small.txt", &small);
    nfs3_readlink_res *res = malloc(sizeof(*res));
    assert_non_null(res);
    assert_int_equal(readlink_(t, &link, res), NFS3_OK);
    assert_string_equal(res->data, "small.txt");
    assert_true(res->attr.present);
    assert_int_equal(res->attr.attr.type, NF3LNK);
    assert_int_equal(res->attr.attr.size, strlen("small.txt"));

    assert_int_equal(readlink_(t, &small, res), NFS3ERR_INVAL);
    assert_true(res->attr.present);
    assert_int_equal(res->attr.attr.type, NF3REG);
    free(res);
}

/* ---- READ ---------------------------------------------------------------- */

static void test_read_big(void **state)
{
    nfs_testenv *t = *state;
    size_t len;
    uint8_t *src = read_local(t->lower, "big.bin", &len);
    assert_non_null(src);
    assert_int_equal(len, BIG_SIZE);
    nfs3_fh fh;
    must_lookup(t, "big.bin", &fh);
    for (uint64_t off = 0; off < BIG_SIZE; off += 1u << 20) {
        nfs3_read_res res;
        assert_int_equal(read_(t, &fh, off, 1u << 20, &res), NFS3_OK);
        assert_int_equal(res.count, 1u << 20);
        assert_memory_equal(res.data, src + off, 1u << 20);
        assert_int_equal(res.eof, off + (1u << 20) == BIG_SIZE);
        assert_true(res.attr.present);
        assert_int_equal(res.attr.attr.size, BIG_SIZE);
    }
    /* An odd span in the middle. */
    nfs3_read_res res;
    assert_int_equal(read_(t, &fh, 1234567, 77777, &res), NFS3_OK);
    assert_int_equal(res.count, 77777);
    assert_memory_equal(res.data, src + 1234567, 77777);
    assert_false(res.eof);
    free(src);
}

static void test_read_eof(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh fh;
    must_lookup(t, "big.bin", &fh);
    nfs3_read_res res;
    /* Near the end: what is left, and eof. */
    assert_int_equal(read_(t, &fh, BIG_SIZE - 10, 100, &res), NFS3_OK);
    assert_int_equal(res.count, 10);
    assert_true(res.eof);
    /* Exactly up to the end. */
    assert_int_equal(read_(t, &fh, BIG_SIZE - 10, 10, &res), NFS3_OK);
    assert_int_equal(res.count, 10);
    assert_true(res.eof);
    /* Short of it. */
    assert_int_equal(read_(t, &fh, BIG_SIZE - 10, 9, &res), NFS3_OK);
    assert_int_equal(res.count, 9);
    assert_false(res.eof);
    /* At and after the end: nothing, and eof. */
    assert_int_equal(read_(t, &fh, BIG_SIZE, 10, &res), NFS3_OK);
    assert_int_equal(res.count, 0);
    assert_true(res.eof);
    assert_int_equal(read_(t, &fh, BIG_SIZE + 4096, 10, &res), NFS3_OK);
    assert_int_equal(res.count, 0);
    assert_true(res.eof);
    assert_int_equal(read_(t, &fh, UINT64_MAX, 10, &res), NFS3_OK);
    assert_int_equal(res.count, 0);
    assert_true(res.eof);
    /* Zero bytes asked inside the file: not the end. */
    assert_int_equal(read_(t, &fh, 0, 0, &res), NFS3_OK);
    assert_int_equal(res.count, 0);
    assert_false(res.eof);

    /* A small file whole. */
    must_lookup(t, "small.txt", &fh);
    assert_int_equal(read_(t, &fh, 0, 4096, &res), NFS3_OK);
    assert_int_equal(res.count, strlen(SMALL));
    assert_memory_equal(res.data, SMALL, strlen(SMALL));
    assert_true(res.eof);
    /* An odd length (padding on the wire). */
    assert_int_equal(read_(t, &fh, 1, 3, &res), NFS3_OK);
    assert_int_equal(res.count, 3);
    assert_memory_equal(res.data, SMALL + 1, 3);
    assert_false(res.eof);
}

static void test_read_clamped(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh fh;
    must_lookup(t, "big.bin", &fh);
    nfs3_read_res res;
    assert_int_equal(read_(t, &fh, 0, 4u << 20, &res), NFS3_OK);
    assert_int_equal(res.count, NFS_IO_MAX);
    assert_false(res.eof);
    assert_int_equal(read_(t, &fh, 0, UINT32_MAX, &res), NFS3_OK);
    assert_int_equal(res.count, NFS_IO_MAX);
}

static void test_read_not_a_file(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh fh;
    nfs3_read_res res;
    must_lookup(t, "a", &fh);
    assert_int_equal(read_(t, &fh, 0, 100, &res), NFS3ERR_ISDIR);
    assert_true(res.attr.present);
    assert_int_equal(res.attr.attr.type, NF3DIR);
    must_lookup(t, "link", &fh);
    assert_int_equal(read_(t, &fh, 0, 100, &res), NFS3ERR_INVAL);
    assert_true(res.attr.present);
    assert_int_equal(res.attr.attr.type, NF3LNK);
}

/* ---- WRITE and COMMIT ----------------------------------------------------- */

/* The layer as the lower tree gives it again (imports are reproducible:
 * the same digest as the environment's). */
static strata_digest lower_digest(nfs_testenv *t)
{
    strata_digest d;
    layer_import_opts io = {.threads = 1};
    assert_ok(layer_import(t->s, t->lower, &io, &d, NULL));
    return d;
}

static void test_write_unstable_commit(void **state)
{
    nfs_testenv *t = *state;
    uint8_t expect[EDIT_SIZE + 100];
    tu_fill_random(expect, EDIT_SIZE, EDIT_SEED);
    uint8_t patch[5000];
    tu_fill_random(patch, sizeof(patch), 99);
    memcpy(expect + 100, patch, sizeof(patch));
    /* One write that runs past the end. */
    memcpy(expect + EDIT_SIZE - 50, patch, 150);

    nfs3_fh fh;
    must_lookup(t, "edit.bin", &fh);
    nfs3_write_res res;
    assert_int_equal(write_(t, &fh, 100, patch, sizeof(patch), NFS3_UNSTABLE, &res), NFS3_OK);
    assert_int_equal(res.count, sizeof(patch));
    assert_int_equal(res.committed, NFS3_UNSTABLE);
    assert_memory_equal(res.verf, t->ctx.write_verf, 8);
    assert_true(res.wcc.before.present);
    assert_int_equal(res.wcc.before.attr.size, EDIT_SIZE);
    assert_true(res.wcc.after.present);
    assert_int_equal(res.wcc.after.attr.size, EDIT_SIZE);

    assert_int_equal(write_(t, &fh, EDIT_SIZE - 50, patch, 150, NFS3_UNSTABLE, &res), NFS3_OK);
    assert_int_equal(res.count, 150);
    assert_int_equal(res.wcc.before.attr.size, EDIT_SIZE);
    assert_int_equal(res.wcc.after.attr.size, EDIT_SIZE + 100);

    nfs3_commit_res cres;
    assert_int_equal(commit_(t, &fh, &cres), NFS3_OK);
    assert_memory_equal(cres.verf, t->ctx.write_verf, 8);
    assert_true(cres.wcc.before.present);
    assert_true(cres.wcc.after.present);
    assert_int_equal(cres.wcc.after.attr.size, EDIT_SIZE + 100);

    nfs3_read_res rres;
    assert_int_equal(read_(t, &fh, 0, 1u << 20, &rres), NFS3_OK);
    assert_int_equal(rres.count, sizeof(expect));
    assert_true(rres.eof);
    assert_memory_equal(rres.data, expect, sizeof(expect));

    /* Copied up: the upper directory has the new bytes ... */
    size_t len;
    uint8_t *up = read_local(t->upper, "edit.bin", &len);
    assert_non_null(up);
    assert_int_equal(len, sizeof(expect));
    assert_memory_equal(up, expect, len);
    free(up);

    /* ... and the layer in the store still has the old ones. */
    strata_digest d = lower_digest(t);
    vfs *ro;
    assert_ok(vfs_new(t->s, NULL, &ro));
    vfs_view_spec spec = {.layers = &d, .nlayers = 1, .uid = NTE_OWNER, .gid = NTE_OWNER};
    assert_ok(vfs_slot_attach(ro, 0, &spec));
    vfs_attr a;
    assert_ok(vfs_lookup(ro, VFS_ROOT_INO, "edit.bin", 8, &a));
    assert_int_equal(a.size, EDIT_SIZE);
    uint8_t *old = malloc(EDIT_SIZE);
    assert_non_null(old);
    size_t got;
    assert_ok(vfs_read_ino(ro, a.ino, old, EDIT_SIZE, 0, &got));
    assert_int_equal(got, EDIT_SIZE);
    uint8_t orig[EDIT_SIZE];
    tu_fill_random(orig, sizeof(orig), EDIT_SEED);
    assert_memory_equal(old, orig, EDIT_SIZE);
    free(old);
    vfs_forget(ro, a.ino, 1);
    vfs_free(ro);
}

static void test_write_sync(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh fh;
    must_lookup(t, "small.txt", &fh);
    nfs3_write_res res;
    assert_int_equal(write_(t, &fh, 0, "HELLO", 5, NFS3_FILE_SYNC, &res), NFS3_OK);
    assert_int_equal(res.count, 5);
    assert_int_equal(res.committed, NFS3_FILE_SYNC);
    assert_memory_equal(res.verf, t->ctx.write_verf, 8);
    assert_int_equal(write_(t, &fh, 6, "WORLD", 5, NFS3_DATA_SYNC, &res), NFS3_OK);
    assert_int_equal(res.committed, NFS3_DATA_SYNC);
    assert_memory_equal(res.verf, t->ctx.write_verf, 8);
    /* A zero-length write changes nothing and still answers. */
    assert_int_equal(write_(t, &fh, 0, "", 0, NFS3_FILE_SYNC, &res), NFS3_OK);
    assert_int_equal(res.count, 0);
    assert_int_equal(res.committed, NFS3_FILE_SYNC);

    nfs3_read_res rres;
    assert_int_equal(read_(t, &fh, 0, 100, &rres), NFS3_OK);
    assert_int_equal(rres.count, strlen(SMALL));
    assert_memory_equal(rres.data, "HELLO WORLD\n", strlen(SMALL));
}

static void test_write_not_a_file(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh fh;
    nfs3_write_res res;
    must_lookup(t, "a", &fh);
    assert_int_equal(write_(t, &fh, 0, "x", 1, NFS3_FILE_SYNC, &res), NFS3ERR_ISDIR);
    assert_true(res.wcc.before.present);
    assert_true(res.wcc.after.present);
    must_lookup(t, "link", &fh);
    assert_int_equal(write_(t, &fh, 0, "x", 1, NFS3_FILE_SYNC, &res), NFS3ERR_INVAL);
    must_lookup(t, "small.txt", &fh);
    assert_int_equal(write_(t, &fh, UINT64_MAX - 1, "x", 1, NFS3_UNSTABLE, &res), NFS3ERR_FBIG);
    assert_true(res.wcc.after.present);
    nfs3_commit_res cres;
    must_lookup(t, "a", &fh);
    assert_int_equal(commit_(t, &fh, &cres), NFS3ERR_ISDIR);
    assert_true(cres.wcc.after.present);
}

/* ---- READDIR and READDIRPLUS ---------------------------------------------- */

/* The source directory's names, "." and ".." included. */
static size_t local_names(const char *dir, char names[][NFS3_NAME_MAX + 1], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        assert_true(n < max);
        snprintf(names[n++], NFS3_NAME_MAX + 1, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Lists dir page by page with count, checking every page, and collects
 * the names (sorted) into names. */
static size_t list_all(nfs_testenv *t, bool plus, const nfs3_fh *dir, uint32_t count,
                       char names[][NFS3_NAME_MAX + 1], size_t max, size_t *pages)
{
    nfs3_dirent *ents = calloc(ENTS_MAX, sizeof(*ents));
    assert_non_null(ents);
    uint64_t cookie = 0;
    uint8_t verf[8] = {0};
    size_t n = 0;
    *pages = 0;
    for (;;) {
        nfs3_readdir_res res;
        assert_int_equal(readdir_(t, plus, dir, cookie, verf, count, &res, ents), NFS3_OK);
        assert_true(res.dir_attr.present);
        if (*pages > 0)
            assert_memory_equal(res.verf, verf, 8);
        memcpy(verf, res.verf, 8);
        (*pages)++;
        assert_true(res.n > 0 || res.eof);
        for (uint32_t i = 0; i < res.n; i++) {
            assert_true(n < max);
            snprintf(names[n++], NFS3_NAME_MAX + 1, "%s", ents[i].name);
            assert_int_not_equal(ents[i].fileid, 0);
            cookie = ents[i].cookie;
        }
        if (res.eof)
            break;
        assert_true(*pages < 10000);
    }
    free(ents);
    qsort(names, n, sizeof(names[0]), cmp_name);
    return n;
}

static void check_same_names(char a[][NFS3_NAME_MAX + 1], size_t na, char b[][NFS3_NAME_MAX + 1],
                             size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i], b[i]);
        if (i > 0)
            assert_string_not_equal(a[i], a[i - 1]); /* each exactly once */
    }
}

#define NAMES_MAX (MANY + 16)

static void test_readdir_paging(void **state)
{
    nfs_testenv *t = *state;
    char(*want)[NFS3_NAME_MAX + 1] = calloc(NAMES_MAX, sizeof(*want));
    char(*got)[NFS3_NAME_MAX + 1] = calloc(NAMES_MAX, sizeof(*got));
    assert_non_null(want);
    assert_non_null(got);
    char *src = tu_path(t->lower, "many");
    size_t nw = local_names(src, want, NAMES_MAX);
    free(src);
    assert_int_equal(nw, MANY + 2);
    qsort(want, nw, sizeof(want[0]), cmp_name);

    nfs3_fh dir;
    must_lookup(t, "many", &dir);
    size_t pages;
    /* Small pages: a few entries each. */
    size_t ng = list_all(t, false, &dir, 300, got, NAMES_MAX, &pages);
    check_same_names(want, nw, got, ng);
    assert_true(pages > 50);
    /* One big page is capped at NFS_DIR_MAX, whatever the client asks. */
    ng = list_all(t, false, &dir, UINT32_MAX, got, NAMES_MAX, &pages);
    check_same_names(want, nw, got, ng);
    assert_true(pages <= 2);
    free(want);
    free(got);
}

static void test_readdir_errors(void **state)
{
    nfs_testenv *t = *state;
    nfs3_dirent *ents = calloc(ENTS_MAX, sizeof(*ents));
    assert_non_null(ents);
    nfs3_fh fh;
    nfs3_readdir_res res;
    /* Too small for a single entry. */
    must_lookup(t, "many", &fh);
    assert_int_equal(readdir_(t, false, &fh, 0, zero_verf, 40, &res, ents), NFS3ERR_TOOSMALL);
    assert_true(res.dir_attr.present);
    assert_int_equal(readdir_(t, true, &fh, 0, zero_verf, 100, &res, ents), NFS3ERR_TOOSMALL);
    /* A file. */
    must_lookup(t, "small.txt", &fh);
    assert_int_equal(readdir_(t, false, &fh, 0, zero_verf, 4096, &res, ents), NFS3ERR_NOTDIR);
    assert_true(res.dir_attr.present);
    assert_int_equal(res.dir_attr.attr.type, NF3REG);
    assert_int_equal(readdir_(t, true, &fh, 0, zero_verf, 4096, &res, ents), NFS3ERR_NOTDIR);
    free(ents);
}

static void assert_same_fattr(const nfs3_fattr *a, const nfs3_fattr *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->mode, b->mode);
    assert_int_equal(a->nlink, b->nlink);
    assert_int_equal(a->uid, b->uid);
    assert_int_equal(a->gid, b->gid);
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->used, b->used);
    assert_int_equal(a->rdev.major, b->rdev.major);
    assert_int_equal(a->rdev.minor, b->rdev.minor);
    assert_int_equal(a->fsid, b->fsid);
    assert_int_equal(a->fileid, b->fileid);
    assert_int_equal(a->atime.sec, b->atime.sec);
    assert_int_equal(a->atime.nsec, b->atime.nsec);
    assert_int_equal(a->mtime.sec, b->mtime.sec);
    assert_int_equal(a->mtime.nsec, b->mtime.nsec);
    assert_int_equal(a->ctime.sec, b->ctime.sec);
    assert_int_equal(a->ctime.nsec, b->ctime.nsec);
}

static void test_readdirplus(void **state)
{
    nfs_testenv *t = *state;
    char(*want)[NFS3_NAME_MAX + 1] = calloc(NAMES_MAX, sizeof(*want));
    char(*got)[NFS3_NAME_MAX + 1] = calloc(NAMES_MAX, sizeof(*got));
    nfs3_dirent *ents = calloc(ENTS_MAX, sizeof(*ents));
    assert_non_null(want);
    assert_non_null(got);
    assert_non_null(ents);
    char *src = tu_path(t->lower, "many");
    size_t nw = local_names(src, want, NAMES_MAX);
    free(src);
    qsort(want, nw, sizeof(want[0]), cmp_name);

    uint64_t busy0 = busy_inodes(t);
    nfs3_fh dir;
    must_lookup(t, "many", &dir);
    size_t pages;
    size_t ng = list_all(t, true, &dir, 1024, got, NAMES_MAX, &pages);
    check_same_names(want, nw, got, ng);
    assert_true(pages > 20);

    /* Every entry's handle and attributes are LOOKUP's. */
    uint64_t cookie = 0;
    uint8_t verf[8] = {0};
    size_t seen = 0;
    for (bool eof = false; !eof;) {
        nfs3_readdir_res res;
        assert_int_equal(readdir_(t, true, &dir, cookie, verf, 4096, &res, ents), NFS3_OK);
        memcpy(verf, res.verf, 8);
        eof = res.eof;
        for (uint32_t i = 0; i < res.n; i++) {
            const nfs3_dirent *d = &ents[i];
            cookie = d->cookie;
            seen++;
            assert_true(d->attr.present);
            assert_true(d->fh.present);
            assert_int_equal(d->attr.attr.fileid, d->fileid);
            if (!strcmp(d->name, ".")) {
                assert_memory_equal(d->fh.fh.data, dir.data, NFS_FH_LEN);
                continue;
            }
            nfs3_lookup_res lr;
            assert_int_equal(lookup(t, &dir, d->name, &lr), NFS3_OK);
            assert_int_equal(lr.obj_attr.attr.fileid, d->fileid);
            assert_int_equal(lr.fh.len, d->fh.fh.len);
            assert_memory_equal(lr.fh.data, d->fh.fh.data, lr.fh.len);
            /* The listing fills a file's attributes without an inode:
             * they must be exactly LOOKUP's, field by field. */
            assert_same_fattr(&lr.obj_attr.attr, &d->attr.attr);
            if (d->attr.attr.type == NF3REG) {
                /* The entry's handle reads the file. */
                nfs3_read_res rr;
                assert_int_equal(read_(t, &d->fh.fh, 0, 100, &rr), NFS3_OK);
                char body[32];
                int n = snprintf(body, sizeof(body), "entry %d\n", atoi(d->name + 1));
                assert_int_equal(rr.count, n);
                assert_memory_equal(rr.data, body, (size_t)n);
            }
        }
    }
    assert_int_equal(seen, MANY + 2);

    /* The root's "..": the root itself, with neither attributes nor a
     * handle (as knfsd at an export root). */
    nfs3_fh root;
    nte_root(t, &root);
    nfs3_readdir_res res;
    assert_int_equal(readdir_(t, true, &root, 0, zero_verf, 4096, &res, ents), NFS3_OK);
    assert_true(res.n >= 2);
    assert_string_equal(ents[0].name, ".");
    assert_true(ents[0].fh.present);
    assert_memory_equal(ents[0].fh.fh.data, root.data, NFS_FH_LEN);
    assert_string_equal(ents[1].name, "..");
    assert_int_equal(ents[1].fileid, VFS_ROOT_INO);
    assert_false(ents[1].attr.present);
    assert_false(ents[1].fh.present);
    /* The root's files, directories and the symbolic link: LOOKUP's
     * attributes too. */
    bool saw_link = false;
    for (uint32_t i = 2; i < res.n; i++) {
        nfs3_lookup_res lr;
        assert_int_equal(lookup(t, &root, ents[i].name, &lr), NFS3_OK);
        assert_true(ents[i].attr.present);
        assert_same_fattr(&lr.obj_attr.attr, &ents[i].attr.attr);
        saw_link |= ents[i].attr.attr.type == NF3LNK;
    }
    assert_true(saw_link);

    /* Nothing stays counted. */
    assert_int_equal(busy_inodes(t), busy0);
    free(ents);
    free(want);
    free(got);
}

static void test_readdir_verifier(void **state)
{
    nfs_testenv *t = *state;
    nfs3_dirent *ents = calloc(ENTS_MAX, sizeof(*ents));
    assert_non_null(ents);
    nfs3_fh dir;
    must_lookup(t, "many", &dir);
    nfs3_lookup_res lr;
    nfs3_fh root;
    nte_root(t, &root);
    assert_int_equal(lookup(t, &root, "many", &lr), NFS3_OK);
    uint64_t many = lr.obj_attr.attr.fileid;

    for (int plus = 0; plus < 2; plus++) {
        nfs3_readdir_res res;
        assert_int_equal(readdir_(t, plus, &dir, 0, zero_verf, 1024, &res, ents), NFS3_OK);
        assert_false(res.eof);
        uint8_t v0[8];
        memcpy(v0, res.verf, 8);
        assert_memory_not_equal(v0, zero_verf, 8);
        uint64_t cookie = ents[res.n - 1].cookie;

        /* The same directory unchanged: the cookie goes on. */
        assert_int_equal(readdir_(t, plus, &dir, cookie, v0, 1024, &res, ents), NFS3_OK);
        assert_memory_equal(res.verf, v0, 8);

        /* A change through the vfs retires the verifier. */
        char name[16];
        snprintf(name, sizeof(name), "new%d", plus);
        vfs_cred cred = {NTE_OWNER, NTE_OWNER};
        vfs_attr a;
        vfs_file *f;
        assert_ok(
            vfs_create(t->v, many, name, strlen(name), 0644, O_WRONLY | O_EXCL, &cred, &a, &f));
        vfs_release(t->v, f);
        vfs_forget(t->v, a.ino, 1);

        assert_int_equal(readdir_(t, plus, &dir, cookie, v0, 1024, &res, ents), NFS3ERR_BAD_COOKIE);
        assert_true(res.dir_attr.present);
        /* Starting over gives the new verifier, which goes on. */
        assert_int_equal(readdir_(t, plus, &dir, 0, v0, 1024, &res, ents), NFS3_OK);
        uint8_t v1[8];
        memcpy(v1, res.verf, 8);
        assert_memory_not_equal(v0, v1, 8);
        assert_int_equal(readdir_(t, plus, &dir, cookie, v1, 1024, &res, ents), NFS3_OK);
        /* A client that keeps no verifier is taken at its word. */
        assert_int_equal(readdir_(t, plus, &dir, cookie, zero_verf, 1024, &res, ents), NFS3_OK);
    }

    /* The new files are listed, each once. */
    char(*got)[NFS3_NAME_MAX + 1] = calloc(NAMES_MAX, sizeof(*got));
    assert_non_null(got);
    size_t pages;
    size_t ng = list_all(t, false, &dir, 2048, got, NAMES_MAX, &pages);
    assert_int_equal(ng, MANY + 4);
    int found = 0;
    for (size_t i = 0; i < ng; i++)
        found += !strcmp(got[i], "new0") + !strcmp(got[i], "new1");
    assert_int_equal(found, 2);
    free(got);
    free(ents);
}

/* ---- stale handles and garbage -------------------------------------------- */

static void check_all_stale(nfs_testenv *t, const nfs3_fh *dir, const nfs3_fh *file)
{
    nfs3_lookup_res lr;
    assert_int_equal(lookup(t, dir, "small.txt", &lr), NFS3ERR_STALE);
    assert_false(lr.dir_attr.present);
    nfs3_read_res rr;
    assert_int_equal(read_(t, file, 0, 10, &rr), NFS3ERR_STALE);
    assert_false(rr.attr.present);
    nfs3_write_res wr;
    assert_int_equal(write_(t, file, 0, "x", 1, NFS3_FILE_SYNC, &wr), NFS3ERR_STALE);
    assert_false(wr.wcc.before.present);
    assert_false(wr.wcc.after.present);
    nfs3_commit_res cr;
    assert_int_equal(commit_(t, file, &cr), NFS3ERR_STALE);
    nfs3_readlink_res *rl = malloc(sizeof(*rl));
    assert_non_null(rl);
    assert_int_equal(readlink_(t, file, rl), NFS3ERR_STALE);
    assert_false(rl->attr.present);
    free(rl);
    nfs3_dirent *ents = calloc(ENTS_MAX, sizeof(*ents));
    assert_non_null(ents);
    nfs3_readdir_res res;
    for (int plus = 0; plus < 2; plus++) {
        assert_int_equal(readdir_(t, plus, dir, 0, zero_verf, 4096, &res, ents), NFS3ERR_STALE);
        assert_false(res.dir_attr.present);
    }
    free(ents);
}

static void test_stale_instance(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root, small, bad_root, bad_small;
    nte_root(t, &root);
    must_lookup(t, "small.txt", &small);
    foreign_fh(t, &root, &bad_root);
    foreign_fh(t, &small, &bad_small);
    check_all_stale(t, &bad_root, &bad_small);
    /* A handle of no layout at all. */
    nfs3_fh junk = {.len = 7, .data = "garbage"};
    check_all_stale(t, &junk, &junk);
}

static void test_stale_after_reattach(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root, small;
    nte_root(t, &root);
    must_lookup(t, "small.txt", &small);
    nfs3_read_res rr;
    assert_int_equal(read_(t, &small, 0, 10, &rr), NFS3_OK);

    strata_digest d = lower_digest(t);
    assert_ok(vfs_slot_detach(t->v, 0));
    vfs_view_spec spec = {
        .layers = &d, .nlayers = 1, .upper = t->upper, .uid = NTE_OWNER, .gid = NTE_OWNER};
    assert_ok(vfs_slot_attach(t->v, 0, &spec));
    /* Same numbers, another view: the old handles are stale. */
    check_all_stale(t, &root, &small);
    nfs3_fh root2, small2;
    nte_root(t, &root2);
    assert_memory_not_equal(root2.data, root.data, NFS_FH_LEN);
    must_lookup(t, "small.txt", &small2);
    assert_int_equal(read_(t, &small2, 0, 100, &rr), NFS3_OK);
    assert_memory_equal(rr.data, SMALL, strlen(SMALL));
}

static void test_garbage_args(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh fh;
    must_lookup(t, "small.txt", &fh);
    /* READ without offset and count. */
    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_READ, NTE_OWNER), &fh);
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    /* READ with a byte too many. */
    xdr_enc *e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_READ, NTE_OWNER);
    nfs3_read_args ra = {.fh = fh, .count = 10};
    nfs3_enc_read_args(e, &ra);
    xdr_put_u32(e, 0);
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    /* LOOKUP, READLINK, READDIR(PLUS) and COMMIT with nothing. */
    static const uint32_t procs[] = {NFS3_PROC_LOOKUP,      NFS3_PROC_READLINK, NFS3_PROC_READDIR,
                                     NFS3_PROC_READDIRPLUS, NFS3_PROC_COMMIT,   NFS3_PROC_WRITE};
    for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
        nte_begin(t, NFS3_PROGRAM, procs[i], NTE_OWNER);
        assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    }
    /* WRITE whose count is not its data's length. */
    e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_WRITE, NTE_OWNER);
    nfs3_write_args wa = {.fh = fh,
                          .count = 5,
                          .stable = NFS3_FILE_SYNC,
                          .data = (const uint8_t *)"abc",
                          .data_len = 3};
    nfs3_enc_write_args(e, &wa);
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    /* WRITE of more than NFS_IO_MAX. */
    uint8_t *big = calloc(1, NFS_IO_MAX + 4);
    assert_non_null(big);
    wa.data = big;
    wa.count = wa.data_len = NFS_IO_MAX + 4;
    nfs3_enc_write_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_WRITE, NTE_OWNER), &wa);
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    /* Exactly NFS_IO_MAX is fine. */
    wa.count = wa.data_len = NFS_IO_MAX;
    nfs3_write_res wr;
    nfs3_enc_write_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_WRITE, NTE_OWNER), &wa);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(nfs3_dec_write_res(&t->res, &wr));
    assert_int_equal(wr.status, NFS3_OK);
    assert_int_equal(wr.count, NFS_IO_MAX);
    free(big);
    /* Nothing of it reached the file but the last write. */
    nfs3_read_res rr;
    assert_int_equal(read_(t, &fh, 0, 10, &rr), NFS3_OK);
    assert_int_equal(rr.attr.attr.size, NFS_IO_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_unstable_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdirplus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_verifier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_after_reattach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
