/* Tests for the NFSv3 and MOUNT v3 codecs: every procedure's arguments
 * and results go client -> server and server -> client and come back
 * equal; malformed arguments (truncated anywhere, over a bound, a union
 * arm that does not exist, trailing bytes) are refused without reading
 * past the buffer; READDIR and READDIRPLUS replies never exceed what the
 * client asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/nfs/nfs3_xdr.h"

#define LIMIT (1u << 20)

/* The size of the last encoding RT made. */
static size_t g_len;

/* An exact-size copy, so a read one byte past the end is a sanitizer
 * error rather than a read of the encoder's spare capacity. */
static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* Encodes in with encfn, decodes into out with decfn, which must succeed
 * and consume everything. */
#define RT(encfn, decfn, in, out)                                                                  \
    do {                                                                                           \
        xdr_enc e_;                                                                                \
        xdr_enc_init(&e_, LIMIT);                                                                  \
        encfn(&e_, in);                                                                            \
        assert_false(e_.err);                                                                      \
        g_len = e_.len;                                                                            \
        uint8_t *c_ = dup_bytes(e_.buf, e_.len);                                                   \
        xdr_dec d_;                                                                                \
        xdr_dec_init(&d_, c_, e_.len);                                                             \
        assert_true(decfn(&d_, out));                                                              \
        free(c_);                                                                                  \
        xdr_enc_free(&e_);                                                                         \
    } while (0)

/* Round trip of a struct without pointers: equal byte for byte (both
 * sides start zeroed, so padding and off-branch fields are zero too). */
#define RT_EQ(encfn, decfn, in)                                                                    \
    do {                                                                                           \
        __typeof__(in) *out_ = malloc(sizeof(in));                                                 \
        assert_non_null(out_);                                                                     \
        memset(out_, 0xa5, sizeof(in));                                                            \
        RT(encfn, decfn, &(in), out_);                                                             \
        assert_memory_equal(&(in), out_, sizeof(in));                                              \
        free(out_);                                                                                \
    } while (0)

/* Every strict prefix of buf must be refused (decoded from an exact-size
 * copy); buf itself must be accepted. */
#define ASSERT_PREFIXES_REFUSED(buf, len, type, decfn)                                             \
    do {                                                                                           \
        type *o_ = malloc(sizeof(type));                                                           \
        assert_non_null(o_);                                                                       \
        for (size_t n_ = 0; n_ <= (len); n_++) {                                                   \
            uint8_t *c_ = dup_bytes(buf, n_);                                                      \
            xdr_dec d_;                                                                            \
            xdr_dec_init(&d_, c_, n_);                                                             \
            bool ok_ = decfn(&d_, o_);                                                             \
            if (n_ < (len))                                                                        \
                assert_false(ok_);                                                                 \
            else                                                                                   \
                assert_true(ok_);                                                                  \
            free(c_);                                                                              \
        }                                                                                          \
        free(o_);                                                                                  \
    } while (0)

/* ---- sample values -------------------------------------------------------- */

static void fill_fh(nfs3_fh *fh, uint32_t len, uint8_t seed)
{
    fh->len = len;
    for (uint32_t i = 0; i < len; i++)
        fh->data[i] = (uint8_t)(seed + i * 7);
}

static void fill_time(nfs3_time *t, uint32_t seed)
{
    t->sec = 1700000000u + seed;
    t->nsec = 999999999u - seed;
}

static void fill_fattr(nfs3_fattr *a, uint32_t seed)
{
    a->type = NF3REG + seed % 7;
    a->mode = 0100644 + seed;
    a->nlink = 2 + seed;
    a->uid = 1000 + seed;
    a->gid = 100 + seed;
    a->size = 0x123456789abcull + seed;
    a->used = 4096ull * (seed + 1);
    a->rdev.major = 8 + seed;
    a->rdev.minor = 0xffffffffu - seed;
    a->fsid = 0xfeedface00000000ull | seed;
    a->fileid = 0x100000000ull + seed;
    fill_time(&a->atime, seed + 1);
    fill_time(&a->mtime, seed + 2);
    fill_time(&a->ctime, seed + 3);
}

static void fill_post_attr(nfs3_post_attr *p, uint32_t seed)
{
    p->present = true;
    fill_fattr(&p->attr, seed);
}

static void fill_wcc(nfs3_wcc *w, uint32_t seed)
{
    w->before.present = true;
    w->before.attr.size = 0xabcdef0123ull + seed;
    fill_time(&w->before.attr.mtime, seed + 10);
    fill_time(&w->before.attr.ctime, seed + 11);
    fill_post_attr(&w->after, seed + 12);
}

static void fill_sattr_all(nfs3_sattr *s)
{
    s->set_mode = true;
    s->mode = 04755;
    s->set_uid = true;
    s->uid = 65534;
    s->set_gid = true;
    s->gid = 65533;
    s->set_size = true;
    s->size = 0x1122334455667788ull;
    s->set_atime = NFS3_SET_TO_CLIENT_TIME;
    fill_time(&s->atime, 5);
    s->set_mtime = NFS3_SET_TO_CLIENT_TIME;
    fill_time(&s->mtime, 6);
}

static void fill_dirop(nfs3_dirop *d, const char *name, uint8_t seed)
{
    fill_fh(&d->dir, 32, seed);
    strcpy(d->name, name);
}

/* Zeroed storage for a struct too big to want on the stack twice. */
#define NEW(type) ((type *)calloc(1, sizeof(type)))

/* ---- NFS: the 22 procedures --------------------------------------------------- */

static void test_proc_null(void **state)
{
    (void)state;
    xdr_dec d;
    xdr_dec_init(&d, "", 0);
    assert_true(nfs3_dec_void(&d));
    uint8_t junk[4] = {0};
    xdr_dec_init(&d, junk, sizeof(junk));
    assert_false(nfs3_dec_void(&d));
    assert_string_equal(nfs3_proc_name(NFS3_PROC_NULL), "NULL");
    assert_string_equal(nfs3_proc_name(NFS3_PROC_COMMIT), "COMMIT");
    assert_string_equal(nfs3_proc_name(NFS3_PROC_COUNT), "?");
}

static void test_proc_getattr(void **state)
{
    (void)state;
    nfs3_fh fh = {0};
    fill_fh(&fh, 64, 1);
    RT_EQ(nfs3_enc_fh_args, nfs3_dec_fh_args, fh);
    memset(&fh, 0, sizeof(fh)); /* a 0-byte handle passes the codec; fh.c judges it */
    RT_EQ(nfs3_enc_fh_args, nfs3_dec_fh_args, fh);

    nfs3_getattr_res r = {0};
    r.status = NFS3_OK;
    fill_fattr(&r.attr, 3);
    RT_EQ(nfs3_enc_getattr_res, nfs3_dec_getattr_res, r);
    assert_int_equal(g_len, 4 + 84);

    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_STALE;
    RT_EQ(nfs3_enc_getattr_res, nfs3_dec_getattr_res, r);
    assert_int_equal(g_len, 4);
}

static void test_proc_setattr(void **state)
{
    (void)state;
    nfs3_setattr_args a;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.fh, 20, 2);
    fill_sattr_all(&a.attr);
    a.guard = true;
    fill_time(&a.guard_ctime, 77);
    RT_EQ(nfs3_enc_setattr_args, nfs3_dec_setattr_args, a);

    /* Nothing set, no guard; then server times. */
    memset(&a, 0, sizeof(a));
    fill_fh(&a.fh, 8, 3);
    RT_EQ(nfs3_enc_setattr_args, nfs3_dec_setattr_args, a);
    assert_int_equal(g_len, 4 + 8 + 6 * 4 + 4);
    a.attr.set_atime = NFS3_SET_TO_SERVER_TIME;
    a.attr.set_mtime = NFS3_SET_TO_SERVER_TIME;
    a.attr.set_size = true;
    RT_EQ(nfs3_enc_setattr_args, nfs3_dec_setattr_args, a);

    nfs3_wcc_res r;
    memset(&r, 0, sizeof(r));
    fill_wcc(&r.wcc, 4);
    RT_EQ(nfs3_enc_wcc_res, nfs3_dec_wcc_res, r);
    r.status = NFS3ERR_NOT_SYNC;
    r.wcc.after.present = false;
    memset(&r.wcc.after.attr, 0, sizeof(r.wcc.after.attr));
    RT_EQ(nfs3_enc_wcc_res, nfs3_dec_wcc_res, r);
}

static void test_proc_lookup(void **state)
{
    (void)state;
    nfs3_dirop a;
    memset(&a, 0, sizeof(a));
    fill_dirop(&a, "hello.txt", 5);
    RT_EQ(nfs3_enc_dirop_args, nfs3_dec_dirop_args, a);
    memset(&a, 0, sizeof(a));
    fill_dirop(&a, "", 5); /* empty passes the codec; the server judges it */
    RT_EQ(nfs3_enc_dirop_args, nfs3_dec_dirop_args, a);

    nfs3_lookup_res r;
    memset(&r, 0, sizeof(r));
    fill_fh(&r.fh, 28, 6);
    fill_post_attr(&r.obj_attr, 7);
    fill_post_attr(&r.dir_attr, 8);
    RT_EQ(nfs3_enc_lookup_res, nfs3_dec_lookup_res, r);

    /* The fail branch carries dir_attributes only. */
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_NOENT;
    fill_post_attr(&r.dir_attr, 9);
    RT_EQ(nfs3_enc_lookup_res, nfs3_dec_lookup_res, r);
    assert_int_equal(g_len, 4 + 4 + 84);
    r.dir_attr.present = false;
    memset(&r.dir_attr.attr, 0, sizeof(r.dir_attr.attr));
    RT_EQ(nfs3_enc_lookup_res, nfs3_dec_lookup_res, r);
    assert_int_equal(g_len, 8);
}

static void test_proc_access(void **state)
{
    (void)state;
    nfs3_access_args a;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.fh, 16, 10);
    a.access = NFS3_ACCESS_READ | NFS3_ACCESS_LOOKUP | NFS3_ACCESS_MODIFY | NFS3_ACCESS_EXTEND |
               NFS3_ACCESS_DELETE | NFS3_ACCESS_EXECUTE | 0x80000000u;
    RT_EQ(nfs3_enc_access_args, nfs3_dec_access_args, a);

    nfs3_access_res r;
    memset(&r, 0, sizeof(r));
    fill_post_attr(&r.attr, 11);
    r.access = NFS3_ACCESS_READ | NFS3_ACCESS_EXECUTE;
    RT_EQ(nfs3_enc_access_res, nfs3_dec_access_res, r);
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_ACCES;
    fill_post_attr(&r.attr, 12);
    RT_EQ(nfs3_enc_access_res, nfs3_dec_access_res, r);
    assert_int_equal(g_len, 4 + 88);
}

static void test_proc_readlink(void **state)
{
    (void)state;
    nfs3_fh fh = {0};
    fill_fh(&fh, 12, 13);
    RT_EQ(nfs3_enc_fh_args, nfs3_dec_fh_args, fh);

    nfs3_readlink_res *r = NEW(nfs3_readlink_res);
    fill_post_attr(&r->attr, 14);
    strcpy(r->data, "../target/of the link");
    RT_EQ(nfs3_enc_readlink_res, nfs3_dec_readlink_res, *r);
    memset(r, 0, sizeof(*r));
    r->status = NFS3ERR_INVAL;
    RT_EQ(nfs3_enc_readlink_res, nfs3_dec_readlink_res, *r);
    assert_int_equal(g_len, 8);
    free(r);
}

static void test_proc_read(void **state)
{
    (void)state;
    nfs3_read_args a;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.fh, 40, 15);
    a.offset = 0xfffffffffffff000ull;
    a.count = 0xffffffffu; /* as given: the server clamps */
    RT_EQ(nfs3_enc_read_args, nfs3_dec_read_args, a);

    /* OK, data copied. */
    const uint8_t data[] = "0123456789";
    nfs3_read_res r, out;
    memset(&r, 0, sizeof(r));
    fill_post_attr(&r.attr, 16);
    r.count = 10;
    r.eof = true;
    r.data = data;
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_enc_read_res(&e, &r);
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_read_res(&d, &out));
    assert_int_equal(out.status, NFS3_OK);
    assert_memory_equal(&out.attr, &r.attr, sizeof(r.attr));
    assert_int_equal(out.count, 10);
    assert_true(out.eof);
    assert_memory_equal(out.data, data, 10);
    xdr_enc_free(&e);

    /* Fail: file_attributes only. */
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_IO;
    fill_post_attr(&r.attr, 17);
    xdr_enc_init(&e, LIMIT);
    nfs3_enc_read_res(&e, &r);
    assert_int_equal(e.len, 4 + 88);
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_read_res(&d, &out));
    assert_int_equal(out.status, NFS3ERR_IO);
    assert_memory_equal(&out.attr, &r.attr, sizeof(r.attr));
    assert_null(out.data);
    xdr_enc_free(&e);
}

/* The in-place READ reply: whatever garbage is left in the reserved room
 * past count, the padding goes out as zeros (the decoder insists). */
static void test_read_reply_in_place(void **state)
{
    (void)state;
    for (uint32_t count = 0; count <= 13; count++) {
        nfs3_post_attr attr = {0};
        fill_post_attr(&attr, 18);
        xdr_enc e;
        xdr_enc_init(&e, LIMIT);
        xdr_put_u32(&e, 0xdeadbeef); /* an RPC header before the result */
        nfs3_read_reply rr;
        uint8_t *p = nfs3_read_reply_begin(&rr, &e, &attr, 13);
        assert_non_null(p);
        memset(p, 0xaa, 16);
        for (uint32_t i = 0; i < count; i++)
            p[i] = (uint8_t)('a' + i);
        nfs3_read_reply_end(&rr, count, count == 13);
        assert_false(e.err);
        assert_int_equal(e.len, 4 + 4 + 88 + 12 + count + xdr_pad(count));

        uint8_t *c = dup_bytes(e.buf + 4, e.len - 4);
        xdr_dec d;
        xdr_dec_init(&d, c, e.len - 4);
        nfs3_read_res out;
        assert_true(nfs3_dec_read_res(&d, &out));
        assert_int_equal(out.count, count);
        assert_int_equal(out.eof, count == 13);
        for (uint32_t i = 0; i < count; i++)
            assert_int_equal(out.data[i], 'a' + i);
        free(c);
        xdr_enc_free(&e);
    }

    /* More than reserved is taken as the reservation. */
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_read_reply rr;
    uint8_t *p = nfs3_read_reply_begin(&rr, &e, NULL, 4);
    memcpy(p, "abcd", 4);
    nfs3_read_reply_end(&rr, 100, false);
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    nfs3_read_res out;
    assert_true(nfs3_dec_read_res(&d, &out));
    assert_int_equal(out.count, 4);
    assert_false(out.attr.present);
    xdr_enc_free(&e);

    /* No room: NULL and the encoder's error. */
    xdr_enc_init(&e, 64);
    assert_null(nfs3_read_reply_begin(&rr, &e, NULL, 64));
    assert_true(e.err);
    nfs3_read_reply_end(&rr, 10, true);
    xdr_enc_free(&e);
}

static void test_proc_write(void **state)
{
    (void)state;
    uint8_t data[37];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13);
    nfs3_write_args a, out;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.fh, 64, 19);
    a.offset = 1ull << 40;
    a.count = sizeof(data);
    a.stable = NFS3_FILE_SYNC;
    a.data = data;
    a.data_len = sizeof(data);
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_enc_write_args(&e, &a);
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_write_args(&d, &out, 37));
    assert_memory_equal(&out.fh, &a.fh, sizeof(a.fh));
    assert_true(out.offset == a.offset);
    assert_int_equal(out.count, 37);
    assert_int_equal(out.stable, NFS3_FILE_SYNC);
    assert_int_equal(out.data_len, 37);
    assert_memory_equal(out.data, data, 37);
    assert_true(out.data >= e.buf && out.data < e.buf + e.len); /* into the buffer */
    /* One byte over the server's max is garbage. */
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_write_args(&d, &out, 36));
    assert_null(out.data);
    xdr_enc_free(&e);

    /* count and the data's length disagree: garbage. */
    a.count = 36;
    xdr_enc_init(&e, LIMIT);
    nfs3_enc_write_args(&e, &a);
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_write_args(&d, &out, 4096));
    xdr_enc_free(&e);

    /* Empty write. */
    a.count = 0;
    a.data_len = 0;
    a.stable = NFS3_UNSTABLE;
    xdr_enc_init(&e, LIMIT);
    nfs3_enc_write_args(&e, &a);
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_write_args(&d, &out, 4096));
    assert_int_equal(out.data_len, 0);
    xdr_enc_free(&e);

    nfs3_write_res r;
    memset(&r, 0, sizeof(r));
    fill_wcc(&r.wcc, 20);
    r.count = 37;
    r.committed = NFS3_DATA_SYNC;
    memcpy(r.verf, "verifier", 8);
    RT_EQ(nfs3_enc_write_res, nfs3_dec_write_res, r);
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_NOSPC;
    fill_wcc(&r.wcc, 21);
    RT_EQ(nfs3_enc_write_res, nfs3_dec_write_res, r);
}

static void create_res_both(uint32_t seed)
{
    nfs3_create_res r;
    memset(&r, 0, sizeof(r));
    r.fh.present = true;
    fill_fh(&r.fh.fh, 33, (uint8_t)seed);
    fill_post_attr(&r.obj_attr, seed + 1);
    fill_wcc(&r.dir_wcc, seed + 2);
    RT_EQ(nfs3_enc_create_res, nfs3_dec_create_res, r);
    memset(&r, 0, sizeof(r)); /* OK without handle or attributes */
    fill_wcc(&r.dir_wcc, seed + 3);
    RT_EQ(nfs3_enc_create_res, nfs3_dec_create_res, r);
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_EXIST;
    fill_wcc(&r.dir_wcc, seed + 4);
    RT_EQ(nfs3_enc_create_res, nfs3_dec_create_res, r);
}

static void test_proc_create(void **state)
{
    (void)state;
    nfs3_create_args a;
    for (uint32_t how = NFS3_UNCHECKED; how <= NFS3_EXCLUSIVE; how++) {
        memset(&a, 0, sizeof(a));
        fill_dirop(&a.where, "new-file", 22);
        a.how = how;
        if (how == NFS3_EXCLUSIVE)
            memcpy(a.verf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
        else
            fill_sattr_all(&a.attr);
        RT_EQ(nfs3_enc_create_args, nfs3_dec_create_args, a);
    }
    create_res_both(23);
}

static void test_proc_mkdir(void **state)
{
    (void)state;
    nfs3_mkdir_args a;
    memset(&a, 0, sizeof(a));
    fill_dirop(&a.where, "subdir", 24);
    a.attr.set_mode = true;
    a.attr.mode = 0700;
    RT_EQ(nfs3_enc_mkdir_args, nfs3_dec_mkdir_args, a);
    create_res_both(25);
}

static void test_proc_symlink(void **state)
{
    (void)state;
    nfs3_symlink_args *a = NEW(nfs3_symlink_args);
    fill_dirop(&a->where, "link", 26);
    fill_sattr_all(&a->attr);
    strcpy(a->data, "/absolute/target with spaces");
    RT_EQ(nfs3_enc_symlink_args, nfs3_dec_symlink_args, *a);
    /* The longest target taken. */
    memset(a->data, 'x', NFS3_PATH_MAX);
    a->data[NFS3_PATH_MAX] = '\0';
    RT_EQ(nfs3_enc_symlink_args, nfs3_dec_symlink_args, *a);
    free(a);
    create_res_both(27);
}

static void test_proc_mknod(void **state)
{
    (void)state;
    for (uint32_t type = NF3REG; type <= NF3FIFO; type++) {
        nfs3_mknod_args a;
        memset(&a, 0, sizeof(a));
        fill_dirop(&a.where, "node", 28);
        a.type = type;
        if (type == NF3CHR || type == NF3BLK || type == NF3SOCK || type == NF3FIFO)
            fill_sattr_all(&a.attr);
        if (type == NF3CHR || type == NF3BLK) {
            a.spec.major = 259;
            a.spec.minor = 0x12345;
        }
        RT_EQ(nfs3_enc_mknod_args, nfs3_dec_mknod_args, a);
    }
    create_res_both(29);
}

static void test_proc_remove(void **state)
{
    (void)state;
    nfs3_dirop a;
    memset(&a, 0, sizeof(a));
    fill_dirop(&a, "victim", 30);
    RT_EQ(nfs3_enc_dirop_args, nfs3_dec_dirop_args, a);
    nfs3_wcc_res r;
    memset(&r, 0, sizeof(r));
    fill_wcc(&r.wcc, 31);
    RT_EQ(nfs3_enc_wcc_res, nfs3_dec_wcc_res, r);
    r.status = NFS3ERR_ROFS;
    RT_EQ(nfs3_enc_wcc_res, nfs3_dec_wcc_res, r);
}

static void test_proc_rmdir(void **state)
{
    (void)state;
    nfs3_dirop a;
    memset(&a, 0, sizeof(a));
    fill_dirop(&a, "emptydir", 32);
    RT_EQ(nfs3_enc_dirop_args, nfs3_dec_dirop_args, a);
    nfs3_wcc_res r;
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_NOTEMPTY; /* neither side of the wcc known */
    RT_EQ(nfs3_enc_wcc_res, nfs3_dec_wcc_res, r);
    assert_int_equal(g_len, 12);
}

static void test_proc_rename(void **state)
{
    (void)state;
    nfs3_rename_args a;
    memset(&a, 0, sizeof(a));
    fill_dirop(&a.from, "old name", 33);
    fill_dirop(&a.to, "new name", 34);
    RT_EQ(nfs3_enc_rename_args, nfs3_dec_rename_args, a);
    nfs3_rename_res r;
    memset(&r, 0, sizeof(r));
    fill_wcc(&r.from_wcc, 35);
    fill_wcc(&r.to_wcc, 36);
    RT_EQ(nfs3_enc_rename_res, nfs3_dec_rename_res, r);
    r.status = NFS3ERR_XDEV;
    RT_EQ(nfs3_enc_rename_res, nfs3_dec_rename_res, r);
}

static void test_proc_link(void **state)
{
    (void)state;
    nfs3_link_args a;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.fh, 24, 37);
    fill_dirop(&a.link, "hardlink", 38);
    RT_EQ(nfs3_enc_link_args, nfs3_dec_link_args, a);
    nfs3_link_res r;
    memset(&r, 0, sizeof(r));
    fill_post_attr(&r.attr, 39);
    fill_wcc(&r.dir_wcc, 40);
    RT_EQ(nfs3_enc_link_res, nfs3_dec_link_res, r);
    r.status = NFS3ERR_MLINK;
    RT_EQ(nfs3_enc_link_res, nfs3_dec_link_res, r);
}

static void test_proc_readdir(void **state)
{
    (void)state;
    nfs3_readdir_args a;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.dir, 32, 41);
    a.cookie = 0x8000000000000001ull;
    memcpy(a.verf, "cookieve", 8);
    a.count = 8192;
    RT_EQ(nfs3_enc_readdir_args, nfs3_dec_readdir_args, a);

    /* OK: three entries through the server's list builder. */
    nfs3_post_attr dattr = {0};
    fill_post_attr(&dattr, 42);
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_dirlist l;
    nfs3_readdir_begin(&l, &e, &dattr, (const uint8_t *)"verf-123", 8192);
    assert_true(nfs3_dirlist_add(&l, 1, ".", 1, NULL, NULL));
    assert_true(nfs3_dirlist_add(&l, 2, "..", 2, NULL, NULL));
    assert_true(nfs3_dirlist_add(&l, 0xffffffffffull, "file", 0x8000000000000003ull, NULL, NULL));
    assert_int_equal(nfs3_dirlist_end(&l, true), NFS3_OK);
    assert_false(e.err);
    nfs3_dirent ents[4];
    nfs3_readdir_res r;
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_readdir_res(&d, false, &r, ents, 4));
    assert_int_equal(r.status, NFS3_OK);
    assert_memory_equal(&r.dir_attr, &dattr, sizeof(dattr));
    assert_memory_equal(r.verf, "verf-123", 8);
    assert_int_equal(r.n, 3);
    assert_true(r.eof);
    assert_string_equal(ents[2].name, "file");
    assert_true(ents[2].fileid == 0xffffffffffull);
    assert_true(ents[2].cookie == 0x8000000000000003ull);
    assert_false(ents[2].attr.present);
    /* A client with room for fewer entries refuses the reply. */
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_readdir_res(&d, false, &r, ents, 2));
    xdr_enc_free(&e);

    /* Fail. */
    xdr_enc_init(&e, LIMIT);
    nfs3_enc_readdir_fail(&e, NFS3ERR_BAD_COOKIE, &dattr);
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_readdir_res(&d, false, &r, ents, 4));
    assert_int_equal(r.status, NFS3ERR_BAD_COOKIE);
    assert_memory_equal(&r.dir_attr, &dattr, sizeof(dattr));
    assert_int_equal(r.n, 0);
    xdr_enc_free(&e);
}

static void test_proc_readdirplus(void **state)
{
    (void)state;
    nfs3_readdirplus_args a;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.dir, 64, 43);
    a.cookie = 77;
    memcpy(a.verf, "\xff\x00\xff\x00\xff\x00\xff\x00", 8);
    a.dircount = 4096;
    a.maxcount = 32768;
    RT_EQ(nfs3_enc_readdirplus_args, nfs3_dec_readdirplus_args, a);

    nfs3_post_attr dattr = {0}, fattr = {0};
    fill_post_attr(&dattr, 44);
    fill_post_attr(&fattr, 45);
    nfs3_post_fh fh = {0};
    fh.present = true;
    fill_fh(&fh.fh, 30, 46);
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_dirlist l;
    nfs3_readdirplus_begin(&l, &e, NULL, (const uint8_t *)"plusverf", 4096, 32768);
    assert_true(nfs3_dirlist_add(&l, 10, "with-both", 100, &fattr, &fh));
    assert_true(nfs3_dirlist_add(&l, 11, "with-none", 101, NULL, NULL));
    assert_int_equal(nfs3_dirlist_end(&l, false), NFS3_OK);
    nfs3_dirent ents[2];
    nfs3_readdir_res r;
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_readdir_res(&d, true, &r, ents, 2));
    assert_false(r.dir_attr.present);
    assert_int_equal(r.n, 2);
    assert_false(r.eof);
    assert_string_equal(ents[0].name, "with-both");
    assert_memory_equal(&ents[0].attr, &fattr, sizeof(fattr));
    assert_memory_equal(&ents[0].fh, &fh, sizeof(fh));
    assert_true(ents[1].fileid == 11 && ents[1].cookie == 101);
    assert_false(ents[1].attr.present);
    assert_false(ents[1].fh.present);
    /* Read as READDIR (no attributes) the bytes do not parse. */
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_readdir_res(&d, false, &r, ents, 2));
    xdr_enc_free(&e);

    xdr_enc_init(&e, LIMIT);
    nfs3_enc_readdir_fail(&e, NFS3ERR_NOTDIR, &dattr);
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_readdir_res(&d, true, &r, ents, 2));
    assert_int_equal(r.status, NFS3ERR_NOTDIR);
    assert_memory_equal(&r.dir_attr, &dattr, sizeof(dattr));
    xdr_enc_free(&e);
}

static void test_proc_fsstat(void **state)
{
    (void)state;
    nfs3_fh fh = {0};
    fill_fh(&fh, 8, 47);
    RT_EQ(nfs3_enc_fh_args, nfs3_dec_fh_args, fh);
    nfs3_fsstat_res r;
    memset(&r, 0, sizeof(r));
    fill_post_attr(&r.attr, 48);
    r.tbytes = 1ull << 50;
    r.fbytes = 1ull << 49;
    r.abytes = 1ull << 48;
    r.tfiles = 1000000;
    r.ffiles = 999999;
    r.afiles = 999998;
    r.invarsec = 0;
    RT_EQ(nfs3_enc_fsstat_res, nfs3_dec_fsstat_res, r);
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_SERVERFAULT;
    RT_EQ(nfs3_enc_fsstat_res, nfs3_dec_fsstat_res, r);
    assert_int_equal(g_len, 8);
}

static void test_proc_fsinfo(void **state)
{
    (void)state;
    nfs3_fh fh = {0};
    fill_fh(&fh, 8, 49);
    RT_EQ(nfs3_enc_fh_args, nfs3_dec_fh_args, fh);
    nfs3_fsinfo_res r;
    memset(&r, 0, sizeof(r));
    fill_post_attr(&r.attr, 50);
    r.rtmax = 1048576;
    r.rtpref = 131072;
    r.rtmult = 4096;
    r.wtmax = 1048576;
    r.wtpref = 131072;
    r.wtmult = 4096;
    r.dtpref = 65536;
    r.maxfilesize = UINT64_MAX;
    r.time_delta.nsec = 1;
    r.properties = NFS3_FSF_LINK | NFS3_FSF_SYMLINK | NFS3_FSF_HOMOGENEOUS | NFS3_FSF_CANSETTIME;
    RT_EQ(nfs3_enc_fsinfo_res, nfs3_dec_fsinfo_res, r);
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_BADHANDLE;
    fill_post_attr(&r.attr, 51);
    RT_EQ(nfs3_enc_fsinfo_res, nfs3_dec_fsinfo_res, r);
}

static void test_proc_pathconf(void **state)
{
    (void)state;
    nfs3_fh fh = {0};
    fill_fh(&fh, 8, 52);
    RT_EQ(nfs3_enc_fh_args, nfs3_dec_fh_args, fh);
    nfs3_pathconf_res r;
    memset(&r, 0, sizeof(r));
    fill_post_attr(&r.attr, 53);
    r.linkmax = 65000;
    r.name_max = NFS3_NAME_MAX;
    r.no_trunc = true;
    r.chown_restricted = true;
    r.case_insensitive = false;
    r.case_preserving = true;
    RT_EQ(nfs3_enc_pathconf_res, nfs3_dec_pathconf_res, r);
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_STALE;
    RT_EQ(nfs3_enc_pathconf_res, nfs3_dec_pathconf_res, r);
}

static void test_proc_commit(void **state)
{
    (void)state;
    nfs3_commit_args a;
    memset(&a, 0, sizeof(a));
    fill_fh(&a.fh, 44, 54);
    a.offset = 12345;
    a.count = 0; /* to the end of the file */
    RT_EQ(nfs3_enc_commit_args, nfs3_dec_commit_args, a);
    nfs3_commit_res r;
    memset(&r, 0, sizeof(r));
    fill_wcc(&r.wcc, 55);
    memcpy(r.verf, "bootverf", 8);
    RT_EQ(nfs3_enc_commit_res, nfs3_dec_commit_res, r);
    memset(&r, 0, sizeof(r));
    r.status = NFS3ERR_IO;
    fill_wcc(&r.wcc, 56);
    RT_EQ(nfs3_enc_commit_res, nfs3_dec_commit_res, r);
}

/* ---- MOUNT: the 6 procedures ---------------------------------------------------- */

static void test_mnt_null(void **state)
{
    (void)state;
    xdr_dec d;
    xdr_dec_init(&d, "", 0);
    assert_true(nfs3_dec_void(&d));
    assert_string_equal(mnt3_proc_name(MNT3_PROC_NULL), "NULL");
    assert_string_equal(mnt3_proc_name(MNT3_PROC_EXPORT), "EXPORT");
    assert_string_equal(mnt3_proc_name(6), "?");
}

static void test_mnt_mnt(void **state)
{
    (void)state;
    mnt3_path_args *a = NEW(mnt3_path_args);
    strcpy(a->path, "/strata/slot-1");
    RT_EQ(mnt3_enc_path_args, mnt3_dec_path_args, *a);
    memset(a->path, 'p', MNT3_PATH_MAX);
    RT_EQ(mnt3_enc_path_args, mnt3_dec_path_args, *a);
    free(a);

    mnt3_mnt_res r;
    memset(&r, 0, sizeof(r));
    fill_fh(&r.fh, 36, 57);
    r.nflavors = 2;
    r.flavors[0] = 1; /* AUTH_SYS */
    r.flavors[1] = 0; /* AUTH_NONE */
    RT_EQ(mnt3_enc_mnt_res, mnt3_dec_mnt_res, r);
    r.nflavors = MNT3_MAX_FLAVORS;
    RT_EQ(mnt3_enc_mnt_res, mnt3_dec_mnt_res, r);
    memset(&r, 0, sizeof(r));
    r.status = MNT3ERR_ACCES;
    RT_EQ(mnt3_enc_mnt_res, mnt3_dec_mnt_res, r);
    assert_int_equal(g_len, 4);

    /* More flavors than the client takes: the server refuses to write it
     * and the client to read it. */
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    memset(&r, 0, sizeof(r));
    r.nflavors = MNT3_MAX_FLAVORS + 1;
    mnt3_enc_mnt_res(&e, &r);
    assert_true(e.err);
    xdr_enc_reset(&e);
    xdr_put_u32(&e, MNT3_OK);
    xdr_put_opaque_var(&e, "fh", 2);
    xdr_put_u32(&e, MNT3_MAX_FLAVORS + 1);
    for (int i = 0; i <= MNT3_MAX_FLAVORS; i++)
        xdr_put_u32(&e, 1);
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(mnt3_dec_mnt_res(&d, &r));
    xdr_enc_free(&e);
}

static void test_mnt_dump(void **state)
{
    (void)state;
    xdr_dec d;
    xdr_dec_init(&d, "", 0);
    assert_true(nfs3_dec_void(&d));

    mnt3_mount *in = calloc(2, sizeof(*in)), *out = calloc(3, sizeof(*out));
    strcpy(in[0].host, "localhost");
    strcpy(in[0].dir, "/strata/a");
    strcpy(in[1].host, "127.0.0.1");
    strcpy(in[1].dir, "/strata/b");
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    mnt3_enc_dump_res(&e, in, 2);
    size_t n;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(mnt3_dec_dump_res(&d, out, 3, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(out, in, 2 * sizeof(*in));
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(mnt3_dec_dump_res(&d, out, 1, &n));
    xdr_enc_reset(&e);
    mnt3_enc_dump_res(&e, in, 0);
    assert_int_equal(e.len, 4);
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(mnt3_dec_dump_res(&d, out, 3, &n));
    assert_int_equal(n, 0);
    xdr_enc_free(&e);
    free(in);
    free(out);
}

static void test_mnt_umnt(void **state)
{
    (void)state;
    mnt3_path_args *a = NEW(mnt3_path_args);
    strcpy(a->path, "/strata/slot-1");
    RT_EQ(mnt3_enc_path_args, mnt3_dec_path_args, *a);
    free(a);
    /* The result is void: nothing to decode but the end. */
    xdr_dec d;
    xdr_dec_init(&d, "", 0);
    assert_true(nfs3_dec_void(&d));
}

static void test_mnt_umntall(void **state)
{
    (void)state;
    xdr_dec d;
    xdr_dec_init(&d, "", 0);
    assert_true(nfs3_dec_void(&d));
    uint8_t one[4] = {0, 0, 0, 1};
    xdr_dec_init(&d, one, 4);
    assert_false(nfs3_dec_void(&d));
}

static void test_mnt_export(void **state)
{
    (void)state;
    xdr_dec d;
    xdr_dec_init(&d, "", 0);
    assert_true(nfs3_dec_void(&d));

    mnt3_export *in = calloc(2, sizeof(*in)), *out = calloc(2, sizeof(*out));
    strcpy(in[0].dir, "/strata");
    strcpy(in[1].dir, "/other");
    in[1].ngroups = 2;
    strcpy(in[1].groups[0], "127.0.0.1");
    strcpy(in[1].groups[1], "localhost");
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    mnt3_enc_export_res(&e, in, 2);
    assert_false(e.err);
    size_t n;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(mnt3_dec_export_res(&d, out, 2, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(out, in, 2 * sizeof(*in));
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(mnt3_dec_export_res(&d, out, 1, &n));

    /* Too many groups: refused on both sides. */
    xdr_enc_reset(&e);
    in[0].ngroups = MNT3_MAX_GROUPS + 1;
    mnt3_enc_export_res(&e, in, 1);
    assert_true(e.err);
    xdr_enc_reset(&e);
    xdr_put_bool(&e, true);
    xdr_put_string(&e, "/x");
    for (int g = 0; g <= MNT3_MAX_GROUPS; g++) {
        xdr_put_bool(&e, true);
        xdr_put_string(&e, "g");
    }
    xdr_put_bool(&e, false);
    xdr_put_bool(&e, false);
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(mnt3_dec_export_res(&d, out, 2, &n));
    xdr_enc_free(&e);
    free(in);
    free(out);
}

/* ---- malformed arguments -------------------------------------------------------- */

static bool dec_write_4k(xdr_dec *d, nfs3_write_args *a)
{
    return nfs3_dec_write_args(d, a, 4096);
}

static void test_truncated_args(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);

    nfs3_create_args c;
    memset(&c, 0, sizeof(c));
    fill_dirop(&c.where, "exclusive", 60);
    c.how = NFS3_EXCLUSIVE;
    memcpy(c.verf, "12345678", 8);
    nfs3_enc_create_args(&e, &c);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_create_args, nfs3_dec_create_args);

    xdr_enc_reset(&e);
    nfs3_setattr_args s;
    memset(&s, 0, sizeof(s));
    fill_fh(&s.fh, 61, 61);
    fill_sattr_all(&s.attr);
    s.guard = true;
    fill_time(&s.guard_ctime, 1);
    nfs3_enc_setattr_args(&e, &s);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_setattr_args, nfs3_dec_setattr_args);

    xdr_enc_reset(&e);
    nfs3_write_args w;
    memset(&w, 0, sizeof(w));
    fill_fh(&w.fh, 32, 62);
    w.count = w.data_len = 11;
    w.data = (const uint8_t *)"eleven byte";
    w.stable = NFS3_DATA_SYNC;
    nfs3_enc_write_args(&e, &w);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_write_args, dec_write_4k);

    xdr_enc_reset(&e);
    nfs3_symlink_args *sl = NEW(nfs3_symlink_args);
    fill_dirop(&sl->where, "sym", 63);
    fill_sattr_all(&sl->attr);
    strcpy(sl->data, "to/somewhere");
    nfs3_enc_symlink_args(&e, sl);
    free(sl);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_symlink_args, nfs3_dec_symlink_args);

    xdr_enc_reset(&e);
    nfs3_rename_args r;
    memset(&r, 0, sizeof(r));
    fill_dirop(&r.from, "a", 64);
    fill_dirop(&r.to, "bcdef", 65);
    nfs3_enc_rename_args(&e, &r);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_rename_args, nfs3_dec_rename_args);

    xdr_enc_reset(&e);
    nfs3_readdirplus_args rp;
    memset(&rp, 0, sizeof(rp));
    fill_fh(&rp.dir, 64, 66);
    rp.dircount = 1;
    rp.maxcount = 2;
    nfs3_enc_readdirplus_args(&e, &rp);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_readdirplus_args, nfs3_dec_readdirplus_args);

    xdr_enc_reset(&e);
    nfs3_mknod_args m;
    memset(&m, 0, sizeof(m));
    fill_dirop(&m.where, "dev", 67);
    m.type = NF3CHR;
    fill_sattr_all(&m.attr);
    m.spec.major = 1;
    nfs3_enc_mknod_args(&e, &m);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_mknod_args, nfs3_dec_mknod_args);

    xdr_enc_reset(&e);
    nfs3_link_args lk;
    memset(&lk, 0, sizeof(lk));
    fill_fh(&lk.fh, 5, 68);
    fill_dirop(&lk.link, "ln", 69);
    nfs3_enc_link_args(&e, &lk);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_link_args, nfs3_dec_link_args);

    xdr_enc_reset(&e);
    mnt3_path_args *mp = NEW(mnt3_path_args);
    strcpy(mp->path, "/export/path");
    mnt3_enc_path_args(&e, mp);
    free(mp);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, mnt3_path_args, mnt3_dec_path_args);

    xdr_enc_free(&e);
}

/* The client side is no less careful: a truncated reply is refused too. */
static bool dec_readdirplus_8(xdr_dec *d, nfs3_readdir_res *r)
{
    static nfs3_dirent ents[8];
    return nfs3_dec_readdir_res(d, true, r, ents, 8);
}

static void test_truncated_results(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_lookup_res lr;
    memset(&lr, 0, sizeof(lr));
    fill_fh(&lr.fh, 30, 70);
    fill_post_attr(&lr.obj_attr, 71);
    fill_post_attr(&lr.dir_attr, 72);
    nfs3_enc_lookup_res(&e, &lr);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_lookup_res, nfs3_dec_lookup_res);

    xdr_enc_reset(&e);
    nfs3_post_attr attr = {0};
    fill_post_attr(&attr, 73);
    nfs3_post_fh fh = {0};
    fh.present = true;
    fill_fh(&fh.fh, 17, 74);
    nfs3_dirlist l;
    nfs3_readdirplus_begin(&l, &e, &attr, (const uint8_t *)"12345678", 1000, 100000);
    assert_true(nfs3_dirlist_add(&l, 1, "one", 1, &attr, &fh));
    assert_true(nfs3_dirlist_add(&l, 2, "three", 2, NULL, &fh));
    assert_int_equal(nfs3_dirlist_end(&l, true), NFS3_OK);
    ASSERT_PREFIXES_REFUSED(e.buf, e.len, nfs3_readdir_res, dec_readdirplus_8);
    xdr_enc_free(&e);
}

/* A diropargs3 written by hand: fh, then a name of n bytes from name. */
static void put_raw_dirop(xdr_enc *e, uint32_t fhlen, const char *name, uint32_t n)
{
    uint8_t fh[128] = {0};
    xdr_put_opaque_var(e, fh, fhlen);
    xdr_put_opaque_var(e, name, n);
}

static bool dec_dirop_from(const xdr_enc *e)
{
    nfs3_dirop a;
    xdr_dec d;
    xdr_dec_init(&d, e->buf, e->len);
    return nfs3_dec_dirop_args(&d, &a);
}

static void test_bounds(void **state)
{
    (void)state;
    char big[NFS3_PATH_MAX + 2];
    memset(big, 'n', sizeof(big));
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);

    /* Filehandles: 64 taken, 65 refused. */
    put_raw_dirop(&e, 64, "x", 1);
    assert_true(dec_dirop_from(&e));
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 65, "x", 1);
    assert_false(dec_dirop_from(&e));

    /* Names: up to 1024 bytes taken (over 255, the procedures answer
     * NAMETOOLONG), 1025 refused, a NUL anywhere refused. */
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, big, NFS3_NAME_MAX);
    assert_true(dec_dirop_from(&e));
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, big, NFS3_NAME_MAX + 1);
    assert_true(dec_dirop_from(&e));
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, big, NFS3_NAME_WIRE_MAX);
    assert_true(dec_dirop_from(&e));
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, big, NFS3_NAME_WIRE_MAX + 1);
    assert_false(dec_dirop_from(&e));
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, "a\0b", 3);
    assert_false(dec_dirop_from(&e));
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, "\0", 1);
    assert_false(dec_dirop_from(&e));

    /* Non-zero padding after a name. */
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, "abc", 3);
    e.buf[e.len - 1] = 1;
    assert_false(dec_dirop_from(&e));

    /* A symlink target: 4096 taken (test_proc_symlink), 4097 refused. */
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 8, "s", 1);
    for (int i = 0; i < 6; i++) /* a sattr3 that sets nothing */
        xdr_put_u32(&e, 0);
    xdr_put_opaque_var(&e, big, NFS3_PATH_MAX + 1);
    nfs3_symlink_args *sl = NEW(nfs3_symlink_args);
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_symlink_args(&d, sl));
    free(sl);

    /* A MOUNT path: 1025 refused. */
    xdr_enc_reset(&e);
    xdr_put_opaque_var(&e, big, MNT3_PATH_MAX + 1);
    mnt3_path_args *mp = NEW(mnt3_path_args);
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(mnt3_dec_path_args(&d, mp));
    free(mp);

    /* Encoders refuse what decoders would. */
    xdr_enc_reset(&e);
    nfs3_fh fh = {0};
    fh.len = 65;
    nfs3_enc_fh_args(&e, &fh);
    assert_true(e.err);
    xdr_enc_free(&e);
}

/* Builds SETATTR args word by word so one discriminant can be corrupted:
 * fh(4+4) set_mode(4) mode(4) set_uid(4) set_gid(4) set_size(4)
 * set_atime(4) set_mtime(4) guard(4). */
static void test_bad_discriminants(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_setattr_args s;
    memset(&s, 0, sizeof(s));
    fill_fh(&s.fh, 4, 1);
    s.attr.set_mode = true;
    nfs3_enc_setattr_args(&e, &s);
    assert_int_equal(e.len, 40);
    const struct {
        size_t at;
        uint32_t v;
        bool ok;
    } cases[] = {
        {8, 2, false},  /* set_mode */
        {16, 2, false}, /* set_uid */
        {20, 7, false}, /* set_gid */
        {24, 2, false}, /* set_size */
        {28, 3, false}, /* set_atime: time_how has 0..2 */
        {32, 3, false}, /* set_mtime */
        {36, 2, false}, /* guard */
        {28, 1, true},  /* SET_TO_SERVER_TIME carries no time */
        {12, 0xffffffff, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *c = dup_bytes(e.buf, e.len);
        c[cases[i].at] = (uint8_t)(cases[i].v >> 24);
        c[cases[i].at + 1] = (uint8_t)(cases[i].v >> 16);
        c[cases[i].at + 2] = (uint8_t)(cases[i].v >> 8);
        c[cases[i].at + 3] = (uint8_t)cases[i].v;
        xdr_dec d;
        xdr_dec_init(&d, c, e.len);
        nfs3_setattr_args out;
        assert_int_equal(nfs3_dec_setattr_args(&d, &out), cases[i].ok);
        free(c);
    }

    /* createmode 3, stable_how 3, ftype 0 and 8. */
    uint32_t bad_how[] = {3, 0x80000000u};
    for (size_t i = 0; i < 2; i++) {
        xdr_enc_reset(&e);
        put_raw_dirop(&e, 4, "f", 1);
        xdr_put_u32(&e, bad_how[i]);
        xdr_put_opaque_fixed(&e, "12345678", 8);
        nfs3_create_args c;
        xdr_dec d;
        xdr_dec_init(&d, e.buf, e.len);
        assert_false(nfs3_dec_create_args(&d, &c));
    }
    xdr_enc_reset(&e);
    nfs3_write_args w;
    memset(&w, 0, sizeof(w));
    w.stable = 3;
    nfs3_enc_write_args(&e, &w);
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_write_args(&d, &w, 10));
    for (uint32_t type = 0; type <= 8; type += 8) {
        xdr_enc_reset(&e);
        put_raw_dirop(&e, 4, "n", 1);
        xdr_put_u32(&e, type);
        nfs3_mknod_args m;
        xdr_dec_init(&d, e.buf, e.len);
        assert_false(nfs3_dec_mknod_args(&d, &m));
    }
    /* REG (and DIR, LNK) carry nothing: a sattr3 after one is trailing. */
    xdr_enc_reset(&e);
    put_raw_dirop(&e, 4, "n", 1);
    xdr_put_u32(&e, NF3REG);
    nfs3_mknod_args m;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_mknod_args(&d, &m));
    for (int i = 0; i < 6; i++)
        xdr_put_u32(&e, 0);
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_mknod_args(&d, &m));

    /* post_op_attr's present of 2, and a bad ftype, in a reply. */
    xdr_enc_reset(&e);
    xdr_put_u32(&e, NFS3ERR_NOENT);
    xdr_put_u32(&e, 2);
    nfs3_lookup_res lr;
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_lookup_res(&d, &lr));
    xdr_enc_reset(&e);
    nfs3_getattr_res gr;
    memset(&gr, 0, sizeof(gr));
    fill_fattr(&gr.attr, 0);
    gr.attr.type = 0;
    nfs3_enc_getattr_res(&e, &gr);
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_getattr_res(&d, &gr));
    xdr_enc_free(&e);
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    nfs3_dirop a;
    memset(&a, 0, sizeof(a));
    fill_dirop(&a, "name", 80);
    nfs3_enc_dirop_args(&e, &a);
    assert_true(dec_dirop_from(&e));
    xdr_put_u32(&e, 0);
    assert_false(dec_dirop_from(&e));

    xdr_enc_reset(&e);
    nfs3_read_args r;
    memset(&r, 0, sizeof(r));
    nfs3_enc_read_args(&e, &r);
    xdr_put_opaque_fixed(&e, "x", 1);
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_read_args(&d, &r));

    xdr_enc_reset(&e);
    nfs3_getattr_res g;
    memset(&g, 0, sizeof(g));
    g.status = NFS3ERR_STALE;
    nfs3_enc_getattr_res(&e, &g);
    xdr_put_u32(&e, 0);
    xdr_dec_init(&d, e.buf, e.len);
    assert_false(nfs3_dec_getattr_res(&d, &g));
    xdr_enc_free(&e);
}

/* ---- directory listings ------------------------------------------------------- */

#define NENT 24

static char names[NENT][NFS3_NAME_MAX + 1];
static nfs3_post_attr ent_attr[NENT];
static nfs3_post_fh ent_fh[NENT];

/* Names of many lengths (1..12, then one of 255), attributes on some,
 * handles of several lengths on some: entries of many sizes. */
static void make_entries(void)
{
    for (int i = 0; i < NENT; i++) {
        size_t len = i == 7 ? NFS3_NAME_MAX : (size_t)(i % 12) + 1;
        memset(names[i], 0, sizeof(names[i]));
        for (size_t j = 0; j < len; j++)
            names[i][j] = (char)('a' + (i + j) % 26);
        memset(&ent_attr[i], 0, sizeof(ent_attr[i]));
        if (i % 3 != 1)
            fill_post_attr(&ent_attr[i], (uint32_t)i);
        memset(&ent_fh[i], 0, sizeof(ent_fh[i]));
        if (i % 4 != 2) {
            ent_fh[i].present = true;
            fill_fh(&ent_fh[i].fh, (uint32_t)(i * 3) % 65, (uint8_t)i);
        }
    }
}

static size_t round4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* The accounting of nfs3_xdr.h, computed independently. */
static size_t dir_info_size(int i)
{
    return 4 + 8 + 4 + round4(strlen(names[i])) + 8;
}

static size_t entry_size(bool plus, int i)
{
    size_t n = dir_info_size(i);
    if (plus) {
        n += ent_attr[i].present ? 88 : 4;
        n += ent_fh[i].present ? 8 + round4(ent_fh[i].fh.len) : 4;
    }
    return n;
}

/* Lists the entries from first on with the given bounds and checks the
 * reply: within maxcount, dircount kept (but for a first entry), as full
 * as allowed, and decoding to exactly what went in. Returns the number of
 * entries taken (0 for TOOSMALL). */
static int list_and_check(bool plus, int first, uint32_t dircount, uint32_t maxcount,
                          size_t enc_limit)
{
    nfs3_post_attr dattr = {0};
    fill_post_attr(&dattr, 99);
    xdr_enc e;
    xdr_enc_init(&e, enc_limit);
    nfs3_dirlist l;
    if (plus)
        nfs3_readdirplus_begin(&l, &e, &dattr, (const uint8_t *)"VERIFIER", dircount, maxcount);
    else
        nfs3_readdir_begin(&l, &e, &dattr, (const uint8_t *)"VERIFIER", maxcount);
    int i = first;
    size_t dirbytes = 0;
    while (i < NENT && nfs3_dirlist_add(&l, 1000 + (uint64_t)i, names[i], 5000 + (uint64_t)i,
                                        &ent_attr[i], &ent_fh[i])) {
        dirbytes += dir_info_size(i);
        i++;
    }
    int taken = i - first;
    if (i < NENT) /* closed for good */
        assert_false(nfs3_dirlist_add(&l, 1, "z", 1, NULL, NULL));
    uint32_t st = nfs3_dirlist_end(&l, i == NENT);
    assert_false(e.err);
    assert_true(e.len <= enc_limit);

    nfs3_dirent *ents = calloc(NENT, sizeof(*ents));
    nfs3_readdir_res r;
    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_true(nfs3_dec_readdir_res(&d, plus, &r, ents, NENT));
    assert_int_equal(r.status, st);
    assert_memory_equal(&r.dir_attr, &dattr, sizeof(dattr));

    size_t header = 88 + 8, tail = 8;
    if (st == NFS3ERR_TOOSMALL) {
        assert_int_equal(taken, 0);
        assert_true(i < NENT);
        assert_int_equal(e.len, 4 + 88);
        /* Honest: the first entry really did not fit (dircount never
         * refuses a first entry). */
        assert_true(header + entry_size(plus, i) + tail > maxcount ||
                    4 + header + entry_size(plus, i) + tail > enc_limit);
    } else {
        assert_int_equal(st, NFS3_OK);
        assert_true(taken > 0 || first == NENT);
        size_t resok = e.len - 4;
        assert_true(resok <= maxcount);
        size_t want = header + tail;
        for (int k = first; k < i; k++)
            want += entry_size(plus, k);
        assert_int_equal(resok, want); /* the accounting is exact */
        if (plus && taken > 1)
            assert_true(dirbytes <= dircount);
        if (i < NENT) {
            /* As full as allowed: the next one breaks a bound. */
            bool over_max =
                resok + entry_size(plus, i) > maxcount || e.len + entry_size(plus, i) > enc_limit;
            bool over_dir = plus && dirbytes + dir_info_size(i) > dircount;
            assert_true(over_max || over_dir);
        }
        assert_int_equal(r.n, (uint32_t)taken);
        assert_int_equal(r.eof, i == NENT);
        assert_memory_equal(r.verf, "VERIFIER", 8);
        for (int k = 0; k < taken; k++) {
            int s = first + k;
            assert_string_equal(ents[k].name, names[s]);
            assert_true(ents[k].fileid == 1000 + (uint64_t)s);
            assert_true(ents[k].cookie == 5000 + (uint64_t)s);
            if (plus) {
                assert_memory_equal(&ents[k].attr, &ent_attr[s], sizeof(ent_attr[s]));
                assert_memory_equal(&ents[k].fh, &ent_fh[s], sizeof(ent_fh[s]));
            } else {
                assert_false(ents[k].attr.present);
                assert_false(ents[k].fh.present);
            }
        }
    }
    free(ents);
    xdr_enc_free(&e);
    return taken;
}

static void test_readdir_fill(void **state)
{
    (void)state;
    make_entries();
    /* Every count from nothing to more than the whole directory. */
    int toosmall = 0, partial = 0, whole = 0;
    for (uint32_t count = 0; count <= 1400; count++) {
        int n = list_and_check(false, 0, 0, count, LIMIT);
        toosmall += n == 0;
        partial += n > 0 && n < NENT;
        whole += n == NENT;
    }
    assert_true(toosmall > 0 && partial > 0 && whole > 0);

    /* A client paging through with a small count sees every entry once. */
    int at = 0, calls = 0;
    while (at < NENT) {
        int n = list_and_check(false, at, 0, 400, LIMIT);
        assert_true(n > 0);
        at += n;
        calls++;
    }
    assert_true(calls > 1);

    /* The encoder's own limit bounds the reply too. */
    for (size_t lim = 100; lim < 900; lim += 13)
        list_and_check(false, 0, 0, 100000, lim);
}

static void test_readdirplus_fill(void **state)
{
    (void)state;
    make_entries();
    const uint32_t dircounts[] = {0, 24, 60, 200, 1000000};
    int toosmall = 0, dir_limited = 0;
    for (size_t k = 0; k < sizeof(dircounts) / sizeof(dircounts[0]); k++) {
        for (uint32_t maxcount = 0; maxcount <= 5000; maxcount += 3) {
            int n = list_and_check(true, 0, dircounts[k], maxcount, LIMIT);
            toosmall += n == 0;
            dir_limited += dircounts[k] == 60 && n > 0 && maxcount > 4000 && n < NENT;
        }
    }
    assert_true(toosmall > 0);
    assert_true(dir_limited > 0);
    /* dircount 0 still makes progress: one entry per call. */
    assert_int_equal(list_and_check(true, 3, 0, 100000, LIMIT), 1);
    for (size_t lim = 100; lim < 1500; lim += 17)
        list_and_check(true, 0, 100000, 100000, lim);
}

/* No entry fits: the reply becomes NFS3ERR_TOOSMALL with the directory's
 * attributes, after whatever the server wrote before it. */
static void test_readdir_toosmall(void **state)
{
    (void)state;
    nfs3_post_attr dattr = {0};
    fill_post_attr(&dattr, 7);
    xdr_enc e;
    xdr_enc_init(&e, LIMIT);
    xdr_put_u32(&e, 0x12345678); /* the RPC header, kept */
    nfs3_dirlist l;
    nfs3_readdir_begin(&l, &e, &dattr, (const uint8_t *)"00000000", 88 + 8 + 8 + 24);
    assert_false(nfs3_dirlist_add(&l, 1, "x", 1, NULL, NULL)); /* needs 28 */
    assert_int_equal(nfs3_dirlist_end(&l, true), NFS3ERR_TOOSMALL);
    assert_int_equal(e.len, 4 + 4 + 88);
    assert_int_equal(e.buf[0], 0x12);
    xdr_dec d;
    xdr_dec_init(&d, e.buf + 4, e.len - 4);
    nfs3_readdir_res r;
    nfs3_dirent ent;
    assert_true(nfs3_dec_readdir_res(&d, false, &r, &ent, 1));
    assert_int_equal(r.status, NFS3ERR_TOOSMALL);
    assert_memory_equal(&r.dir_attr, &dattr, sizeof(dattr));

    /* The same count, an empty directory: the empty list fits. */
    xdr_enc_reset(&e);
    nfs3_readdir_begin(&l, &e, &dattr, (const uint8_t *)"00000000", 88 + 8 + 8);
    assert_int_equal(nfs3_dirlist_end(&l, true), NFS3_OK);
    assert_int_equal(e.len, 4 + 88 + 8 + 8);
    /* Too small for even that. */
    xdr_enc_reset(&e);
    nfs3_readdir_begin(&l, &e, &dattr, (const uint8_t *)"00000000", 88 + 8 + 7);
    assert_int_equal(nfs3_dirlist_end(&l, true), NFS3ERR_TOOSMALL);

    /* A name over NFS3_NAME_MAX is the caller's bug: the encoder fails. */
    char longname[NFS3_NAME_MAX + 2];
    memset(longname, 'l', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    xdr_enc_reset(&e);
    nfs3_readdir_begin(&l, &e, NULL, (const uint8_t *)"00000000", 100000);
    assert_false(nfs3_dirlist_add(&l, 1, longname, 1, NULL, NULL));
    assert_true(e.err);
    xdr_enc_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_null),         cmocka_unit_test(test_proc_getattr),
        cmocka_unit_test(test_proc_setattr),      cmocka_unit_test(test_proc_lookup),
        cmocka_unit_test(test_proc_access),       cmocka_unit_test(test_proc_readlink),
        cmocka_unit_test(test_proc_read),         cmocka_unit_test(test_read_reply_in_place),
        cmocka_unit_test(test_proc_write),        cmocka_unit_test(test_proc_create),
        cmocka_unit_test(test_proc_mkdir),        cmocka_unit_test(test_proc_symlink),
        cmocka_unit_test(test_proc_mknod),        cmocka_unit_test(test_proc_remove),
        cmocka_unit_test(test_proc_rmdir),        cmocka_unit_test(test_proc_rename),
        cmocka_unit_test(test_proc_link),         cmocka_unit_test(test_proc_readdir),
        cmocka_unit_test(test_proc_readdirplus),  cmocka_unit_test(test_proc_fsstat),
        cmocka_unit_test(test_proc_fsinfo),       cmocka_unit_test(test_proc_pathconf),
        cmocka_unit_test(test_proc_commit),       cmocka_unit_test(test_mnt_null),
        cmocka_unit_test(test_mnt_mnt),           cmocka_unit_test(test_mnt_dump),
        cmocka_unit_test(test_mnt_umnt),          cmocka_unit_test(test_mnt_umntall),
        cmocka_unit_test(test_mnt_export),        cmocka_unit_test(test_truncated_args),
        cmocka_unit_test(test_truncated_results), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_bad_discriminants), cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_readdir_fill),      cmocka_unit_test(test_readdirplus_fill),
        cmocka_unit_test(test_readdir_toosmall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
