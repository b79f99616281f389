/* Unit tests for the ONC RPC layer of the NFS server (transport/nfs/rpc.h):
 * calls round-trip through encoding, record marking and reassembly (fed
 * byte by byte, at once, and in fragments); every reply encoder decodes
 * back field by field; malformed calls get the answer rpc.h promises, at
 * every truncation; and the reassembler refuses oversized records without
 * allocating for them. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "transport/nfs/rpc.h"

#define MIB (1024 * 1024)

/* Large buffers live here, not on the stack. */
static uint8_t big[MIB + 64];

static rpc_call call_none(void)
{
    rpc_call c = {.xid = 0x01020304, .prog = 100003, .vers = 3, .proc = 0};
    c.cred.flavor = RPC_AUTH_NONE;
    return c;
}

static rpc_call call_sys(uint32_t ngids)
{
    rpc_call c = {.xid = 0xfedcba98, .prog = 100005, .vers = 3, .proc = 1};
    c.cred.flavor = RPC_AUTH_SYS;
    c.cred.stamp = 0x5a5a5a5a;
    c.cred.uid = 1000;
    c.cred.gid = 100;
    c.cred.ngids = ngids;
    for (uint32_t i = 0; i < ngids && i < RPC_SYS_GIDS_MAX; i++)
        c.cred.gids[i] = 2000 + i;
    strcpy(c.cred.machine, "builder.local");
    return c;
}

/* A framed call: record mark, header, then args (a multiple of 4). */
static void encode_call(xdr_enc *e, const rpc_call *c, const uint8_t *args, size_t args_len)
{
    xdr_enc_init(e, 2 * MIB);
    size_t at = rpc_mark_begin(e);
    rpc_call_encode(e, c);
    xdr_put_opaque_fixed(e, args, args_len);
    assert_true(rpc_mark_end(e, at));
    assert_false(e->err);
}

/* The record r holds, fed chunk bytes at a time (0: all at once); fails
 * unless exactly one record comes out and every byte is used. */
static size_t reassemble(const uint8_t *p, size_t n, size_t chunk, uint8_t *out)
{
    rpc_rec r;
    rpc_rec_init(&r, MIB);
    size_t got = 0, records = 0;
    size_t off = 0;
    while (off < n) {
        size_t avail = chunk && n - off > chunk ? chunk : n - off;
        size_t used;
        const uint8_t *msg;
        size_t len;
        rpc_rec_status s = rpc_rec_feed(&r, p + off, avail, &used, &msg, &len);
        assert_true(used <= avail);
        off += used;
        if (s == RPC_REC_READY) {
            memcpy(out, msg, len);
            got = len;
            records++;
        } else {
            assert_int_equal(s, RPC_REC_MORE);
            assert_int_equal(used, avail);
        }
        assert_true(rpc_rec_capacity(&r) <= MIB);
    }
    assert_int_equal(records, 1);
    assert_false(rpc_rec_pending(&r));
    rpc_rec_free(&r);
    return got;
}

/* Rewrites a framed record as fragments of at most frag bytes. */
static size_t refragment(const uint8_t *rec, size_t n, size_t frag, uint8_t *out)
{
    const uint8_t *body = rec + 4;
    size_t left = n - 4, o = 0;
    do {
        size_t k = left < frag ? left : frag;
        uint32_t h = (uint32_t)k | (k == left ? RPC_REC_LAST : 0);
        out[o++] = (uint8_t)(h >> 24);
        out[o++] = (uint8_t)(h >> 16);
        out[o++] = (uint8_t)(h >> 8);
        out[o++] = (uint8_t)h;
        memcpy(out + o, body, k);
        o += k;
        body += k;
        left -= k;
    } while (left);
    return o;
}

static void assert_same_call(const rpc_call *a, const rpc_call *b)
{
    assert_int_equal(a->xid, b->xid);
    assert_int_equal(a->prog, b->prog);
    assert_int_equal(a->vers, b->vers);
    assert_int_equal(a->proc, b->proc);
    assert_memory_equal(&a->cred, &b->cred, sizeof(a->cred));
}

/* Encodes c with args, reassembles it every which way, decodes it. */
static void roundtrip(const rpc_call *c)
{
    uint8_t args[12] = {0, 0, 0, 4, '/', 'e', 'x', 'p', 0xde, 0xad, 0xbe, 0xef};
    xdr_enc e;
    encode_call(&e, c, args, sizeof(args));
    static uint8_t rec[4096], frags[8192];
    size_t sizes[] = {0, 1, 3, 7, 64};
    for (size_t f = 0; f < 4; f++) {
        const uint8_t *src = e.buf;
        size_t n = e.len;
        if (f > 0) {
            size_t frag = f == 1 ? 1 : f == 2 ? 5 : 16;
            n = refragment(e.buf, e.len, frag, frags);
            src = frags;
        }
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            size_t len = reassemble(src, n, sizes[s], rec);
            assert_int_equal(len, e.len - 4);
            assert_memory_equal(rec, e.buf + 4, len);
            rpc_call out;
            uint32_t as;
            assert_int_equal(rpc_call_decode(rec, len, &out, &as), RPC_CALL_OK);
            assert_int_equal(as, RPC_AUTH_OK);
            assert_same_call(c, &out);
            assert_int_equal(out.args_len, sizeof(args));
            assert_ptr_equal(out.args, rec + len - sizeof(args));
            assert_memory_equal(out.args, args, sizeof(args));
        }
    }
    xdr_enc_free(&e);
}

static void test_roundtrip_auth_none(void **state)
{
    (void)state;
    rpc_call c = call_none();
    roundtrip(&c);
}

static void test_roundtrip_auth_sys(void **state)
{
    (void)state;
    rpc_call c = call_sys(0);
    roundtrip(&c);
    c = call_sys(RPC_SYS_GIDS_MAX);
    roundtrip(&c);
    /* The longest machine name, and an empty one. */
    memset(c.cred.machine, 'm', RPC_SYS_MACHINE_MAX);
    c.cred.machine[RPC_SYS_MACHINE_MAX] = '\0';
    roundtrip(&c);
    memset(c.cred.machine, 0, sizeof(c.cred.machine));
    roundtrip(&c);
}

/* The exact bytes of a small call, as RFC 5531 lays them out. */
static void test_call_bytes(void **state)
{
    (void)state;
    rpc_call c = call_sys(1);
    strcpy(c.cred.machine, "abc");
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    rpc_call_encode(&e, &c);
    static const uint8_t want[] = {
        0xfe, 0xdc, 0xba, 0x98, 0, 0, 0,    0,    /* xid, CALL */
        0,    0,    0,    2,    0, 1, 0x86, 0xa5, /* rpcvers 2, prog 100005 */
        0,    0,    0,    3,    0, 0, 0,    1,    /* vers 3, proc 1 */
        0,    0,    0,    1,    0, 0, 0,    28,   /* AUTH_SYS, body 28 bytes */
        0x5a, 0x5a, 0x5a, 0x5a, 0, 0, 0,    3,    /* stamp, machinename "abc" */
        'a',  'b',  'c',  0,    0, 0, 0x03, 0xe8, /* uid 1000 */
        0,    0,    0,    100,  0, 0, 0,    1,    /* gid 100, 1 gid */
        0,    0,    0x07, 0xd0, 0, 0, 0,    0,    /* 2000, verifier AUTH_NONE */
        0,    0,    0,    0,                      /* of length 0 */
    };
    assert_int_equal(e.len, sizeof(want));
    assert_memory_equal(e.buf, want, sizeof(want));
    xdr_enc_free(&e);
}

static void test_call_encode_refuses_bad_cred(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    rpc_call c = call_sys(RPC_SYS_GIDS_MAX + 1);
    rpc_call_encode(&e, &c);
    assert_true(e.err);
    xdr_enc_reset(&e);
    c = call_sys(0);
    memset(c.cred.machine, 'm', sizeof(c.cred.machine)); /* no NUL */
    rpc_call_encode(&e, &c);
    assert_true(e.err);
    xdr_enc_reset(&e);
    c = call_none();
    c.cred.flavor = 2;
    rpc_call_encode(&e, &c);
    assert_true(e.err);
    xdr_enc_free(&e);
}

/* ---- replies -------------------------------------------------------------- */

/* Frames what fill() writes, reassembles it, decodes it as a reply. */
static rpc_reply reply_of(xdr_enc *e)
{
    static uint8_t rec[4096];
    rpc_reply r;
    size_t len = reassemble(e->buf, e->len, 1, rec);
    assert_int_equal(len, e->len - 4);
    assert_true(rpc_reply_decode(rec, len, &r));
    if (r.results) {
        /* Point into e, not into the static copy. */
        r.results = e->buf + 4 + (size_t)(r.results - rec);
    }
    return r;
}

static void test_reply_accepted(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    uint32_t stats[] = {RPC_ACC_PROG_UNAVAIL, RPC_ACC_PROC_UNAVAIL, RPC_ACC_GARBAGE_ARGS,
                        RPC_ACC_SYSTEM_ERR};
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
        xdr_enc_reset(&e);
        size_t at = rpc_mark_begin(&e);
        rpc_reply_accepted(&e, 77 + (uint32_t)i, stats[i]);
        assert_true(rpc_mark_end(&e, at));
        assert_int_equal(e.len, 4 + 24);
        rpc_reply r = reply_of(&e);
        assert_int_equal(r.xid, 77 + i);
        assert_int_equal(r.reply_stat, RPC_MSG_ACCEPTED);
        assert_int_equal(r.verf_flavor, RPC_AUTH_NONE);
        assert_int_equal(r.accept_stat, stats[i]);
        assert_null(r.results);
        assert_int_equal(r.results_len, 0);
        assert_int_equal(r.low, 0);
        assert_int_equal(r.high, 0);
    }

    /* SUCCESS with results after it. */
    xdr_enc_reset(&e);
    size_t at = rpc_mark_begin(&e);
    rpc_reply_accepted(&e, 5, RPC_ACC_SUCCESS);
    xdr_put_u32(&e, 0xabcdef01);
    xdr_put_u32(&e, 42);
    assert_true(rpc_mark_end(&e, at));
    static const uint8_t want[] = {0x80, 0, 0, 32, 0,    0,    0,    5, 0, 0, 0, 1,
                                   0,    0, 0, 0,  0,    0,    0,    0, 0, 0, 0, 0,
                                   0,    0, 0, 0,  0xab, 0xcd, 0xef, 1, 0, 0, 0, 42};
    assert_int_equal(e.len, sizeof(want));
    assert_memory_equal(e.buf, want, sizeof(want));
    rpc_reply r = reply_of(&e);
    assert_int_equal(r.xid, 5);
    assert_int_equal(r.accept_stat, RPC_ACC_SUCCESS);
    assert_int_equal(r.results_len, 8);
    assert_memory_equal(r.results, e.buf + e.len - 8, 8);

    /* PROG_MISMATCH needs its range: the plain encoder refuses it. */
    xdr_enc_reset(&e);
    rpc_reply_accepted(&e, 5, RPC_ACC_PROG_MISMATCH);
    assert_true(e.err);
    xdr_enc_free(&e);
}

static void test_reply_prog_mismatch(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    size_t at = rpc_mark_begin(&e);
    rpc_reply_prog_mismatch(&e, 0xffffffff, 3, 4);
    assert_true(rpc_mark_end(&e, at));
    assert_int_equal(e.len, 4 + 32);
    rpc_reply r = reply_of(&e);
    assert_int_equal(r.xid, 0xffffffff);
    assert_int_equal(r.reply_stat, RPC_MSG_ACCEPTED);
    assert_int_equal(r.verf_flavor, RPC_AUTH_NONE);
    assert_int_equal(r.accept_stat, RPC_ACC_PROG_MISMATCH);
    assert_int_equal(r.low, 3);
    assert_int_equal(r.high, 4);
    assert_null(r.results);
    xdr_enc_free(&e);
}

static void test_reply_rpc_mismatch(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    size_t at = rpc_mark_begin(&e);
    rpc_reply_rpc_mismatch(&e, 9);
    assert_true(rpc_mark_end(&e, at));
    static const uint8_t want[] = {0x80, 0, 0, 24, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0,
                                   0,    1, 0, 0,  0, 0, 0, 0, 0, 2, 0, 0, 0, 2};
    assert_int_equal(e.len, sizeof(want));
    assert_memory_equal(e.buf, want, sizeof(want));
    rpc_reply r = reply_of(&e);
    assert_int_equal(r.xid, 9);
    assert_int_equal(r.reply_stat, RPC_MSG_DENIED);
    assert_int_equal(r.reject_stat, RPC_REJ_RPC_MISMATCH);
    assert_int_equal(r.low, 2);
    assert_int_equal(r.high, 2);
    assert_int_equal(r.auth_stat, 0);
    xdr_enc_free(&e);
}

static void test_reply_auth_error(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    uint32_t stats[] = {RPC_AUTH_BADCRED, RPC_AUTH_BADVERF, RPC_AUTH_TOOWEAK};
    for (size_t i = 0; i < 3; i++) {
        xdr_enc_reset(&e);
        size_t at = rpc_mark_begin(&e);
        rpc_reply_auth_error(&e, 10 + (uint32_t)i, stats[i]);
        assert_true(rpc_mark_end(&e, at));
        assert_int_equal(e.len, 4 + 20);
        rpc_reply r = reply_of(&e);
        assert_int_equal(r.xid, 10 + i);
        assert_int_equal(r.reply_stat, RPC_MSG_DENIED);
        assert_int_equal(r.reject_stat, RPC_REJ_AUTH_ERROR);
        assert_int_equal(r.auth_stat, stats[i]);
        assert_int_equal(r.low, 0);
    }
    xdr_enc_free(&e);
}

/* Several replies framed into one buffer, in any order, come apart by
 * their marks and are told apart by xid. */
static void test_replies_batched(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    uint32_t xids[] = {30, 10, 20};
    for (size_t i = 0; i < 3; i++) {
        size_t at = rpc_mark_begin(&e);
        rpc_reply_accepted(&e, xids[i], RPC_ACC_SUCCESS);
        xdr_put_u32(&e, xids[i] * 2);
        assert_true(rpc_mark_end(&e, at));
    }
    rpc_rec rr;
    rpc_rec_init(&rr, 4096);
    size_t off = 0, i = 0;
    while (off < e.len) {
        size_t used, len;
        const uint8_t *msg;
        rpc_rec_status s = rpc_rec_feed(&rr, e.buf + off, e.len - off, &used, &msg, &len);
        off += used;
        assert_int_equal(s, RPC_REC_READY);
        rpc_reply r;
        assert_true(rpc_reply_decode(msg, len, &r));
        assert_int_equal(r.xid, xids[i]);
        assert_int_equal(r.results_len, 4);
        assert_int_equal(r.results[3], xids[i] * 2);
        i++;
    }
    assert_int_equal(i, 3);
    rpc_rec_free(&rr);
    xdr_enc_free(&e);
}

static void test_reply_decode_rejects(void **state)
{
    (void)state;
    rpc_reply r;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    /* A call is not a reply. */
    rpc_call c = call_none();
    rpc_call_encode(&e, &c);
    assert_false(rpc_reply_decode(e.buf, e.len, &r));
    /* Every truncation of a reply that carries nothing after it fails;
     * so does a byte too many. */
    xdr_enc_reset(&e);
    rpc_reply_prog_mismatch(&e, 1, 2, 3);
    for (size_t n = 0; n < e.len; n++) {
        assert_false(rpc_reply_decode(e.buf, n, &r));
        assert_int_equal(r.xid, 0);
    }
    assert_true(rpc_reply_decode(e.buf, e.len, &r));
    xdr_put_u32(&e, 0);
    assert_false(rpc_reply_decode(e.buf, e.len, &r));
    /* An accept_stat beyond SYSTEM_ERR, a reply_stat beyond DENIED. */
    xdr_enc_reset(&e);
    rpc_reply_accepted(&e, 1, 6);
    assert_false(rpc_reply_decode(e.buf, e.len, &r));
    xdr_enc_reset(&e);
    rpc_reply_auth_error(&e, 1, RPC_AUTH_BADCRED);
    e.buf[11] = 2;
    assert_false(rpc_reply_decode(e.buf, e.len, &r));
    xdr_enc_free(&e);
}

/* ---- malformed calls ------------------------------------------------------ */

static const uint8_t *g_msg;

/* An unframed call header written field by field. */
static void head(xdr_enc *e, uint32_t xid, uint32_t mtype, uint32_t rpcvers)
{
    xdr_enc_reset(e);
    xdr_put_u32(e, xid);
    xdr_put_u32(e, mtype);
    xdr_put_u32(e, rpcvers);
    xdr_put_u32(e, 100003);
    xdr_put_u32(e, 3);
    xdr_put_u32(e, 0);
}

static void null_verf(xdr_enc *e)
{
    xdr_put_u32(e, RPC_AUTH_NONE);
    xdr_put_u32(e, 0);
}

static rpc_call_status decode(const xdr_enc *e, rpc_call *out, uint32_t *as)
{
    assert_false(e->err);
    g_msg = e->buf;
    return rpc_call_decode(e->buf, e->len, out, as);
}

static void expect_auth_error(const xdr_enc *e, uint32_t xid, uint32_t want)
{
    rpc_call out;
    uint32_t as;
    assert_int_equal(decode(e, &out, &as), RPC_CALL_AUTH_ERROR);
    assert_int_equal(as, want);
    assert_int_equal(out.xid, xid);
    rpc_call zero;
    memset(&zero, 0, sizeof(zero));
    zero.xid = xid;
    assert_memory_equal(&out, &zero, sizeof(out));
}

/* An AUTH_SYS body written field by field, with a given declared length
 * (0: the true one). */
static void sys_cred(xdr_enc *e, uint32_t declared, const char *machine, uint32_t ngids,
                     uint32_t gids_written)
{
    size_t m = strlen(machine);
    uint32_t n = (uint32_t)(20 + m + xdr_pad(m) + 4 * gids_written);
    xdr_put_u32(e, RPC_AUTH_SYS);
    xdr_put_u32(e, declared ? declared : n);
    xdr_put_u32(e, 1);
    xdr_put_opaque_var(e, machine, (uint32_t)m);
    xdr_put_u32(e, 0);
    xdr_put_u32(e, 0);
    xdr_put_u32(e, ngids);
    for (uint32_t i = 0; i < gids_written; i++)
        xdr_put_u32(e, i);
}

static void test_rpcvers_mismatch(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    uint32_t vers[] = {0, 1, 3, 0xffffffff};
    for (size_t i = 0; i < 4; i++) {
        head(&e, 0x1234, RPC_MSG_CALL, vers[i]);
        xdr_put_u32(&e, RPC_AUTH_NONE);
        xdr_put_u32(&e, 0);
        null_verf(&e);
        rpc_call out;
        uint32_t as;
        assert_int_equal(decode(&e, &out, &as), RPC_CALL_RPC_MISMATCH);
        assert_int_equal(out.xid, 0x1234);
        assert_int_equal(out.prog, 0);
        assert_int_equal(as, RPC_AUTH_OK);
    }
    xdr_enc_free(&e);
}

static void test_not_a_call_is_dropped(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    rpc_call out;
    uint32_t as;
    /* A reply, as a server would send it. */
    rpc_reply_accepted(&e, 7, RPC_ACC_SUCCESS);
    assert_int_equal(decode(&e, &out, &as), RPC_CALL_DROP);
    rpc_call zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&out, &zero, sizeof(out));
    /* A msg_type that is neither. */
    head(&e, 7, 2, 2);
    assert_int_equal(decode(&e, &out, &as), RPC_CALL_DROP);
    /* An empty record. */
    assert_int_equal(rpc_call_decode(e.buf, 0, &out, &as), RPC_CALL_DROP);
    xdr_enc_free(&e);
}

static void test_bad_credentials(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    static uint8_t body[RPC_AUTH_MAX + 1];
    char name[RPC_SYS_MACHINE_MAX + 2];

    /* A credential body of 401 bytes, whatever the flavor. */
    for (uint32_t fl = 0; fl < 2; fl++) {
        head(&e, 1, RPC_MSG_CALL, 2);
        xdr_put_u32(&e, fl);
        xdr_put_opaque_var(&e, body, RPC_AUTH_MAX + 1);
        null_verf(&e);
        expect_auth_error(&e, 1, RPC_AUTH_BADCRED);
    }
    /* 400 bytes of AUTH_NONE body are fine (and ignored). */
    head(&e, 1, RPC_MSG_CALL, 2);
    xdr_put_u32(&e, RPC_AUTH_NONE);
    xdr_put_opaque_var(&e, body, RPC_AUTH_MAX);
    null_verf(&e);
    rpc_call out;
    uint32_t as;
    assert_int_equal(decode(&e, &out, &as), RPC_CALL_OK);
    assert_int_equal(out.cred.flavor, RPC_AUTH_NONE);
    assert_int_equal(out.args_len, 0);

    /* Flavors other than AUTH_NONE and AUTH_SYS: AUTH_SHORT, AUTH_DH,
     * RPCSEC_GSS, nonsense. */
    uint32_t flavors[] = {2, 3, 6, 0x80000000};
    for (size_t i = 0; i < 4; i++) {
        head(&e, 2, RPC_MSG_CALL, 2);
        xdr_put_u32(&e, flavors[i]);
        xdr_put_u32(&e, 0);
        null_verf(&e);
        expect_auth_error(&e, 2, RPC_AUTH_BADCRED);
    }

    /* 16 gids are fine, 17 are not (written out or not). */
    head(&e, 3, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "host", 16, 16);
    null_verf(&e);
    assert_int_equal(decode(&e, &out, &as), RPC_CALL_OK);
    assert_int_equal(out.cred.ngids, 16);
    assert_int_equal(out.cred.gids[15], 15);
    head(&e, 3, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "host", 17, 17);
    null_verf(&e);
    expect_auth_error(&e, 3, RPC_AUTH_BADCRED);
    head(&e, 3, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "host", 17, 16);
    null_verf(&e);
    expect_auth_error(&e, 3, RPC_AUTH_BADCRED);

    /* A machine name of 255 bytes is fine, 256 is not. */
    memset(name, 'h', sizeof(name));
    name[RPC_SYS_MACHINE_MAX] = '\0';
    head(&e, 4, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, name, 0, 0);
    null_verf(&e);
    assert_int_equal(decode(&e, &out, &as), RPC_CALL_OK);
    assert_int_equal(strlen(out.cred.machine), RPC_SYS_MACHINE_MAX);
    name[RPC_SYS_MACHINE_MAX] = 'h';
    name[RPC_SYS_MACHINE_MAX + 1] = '\0';
    head(&e, 4, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, name, 0, 0);
    null_verf(&e);
    expect_auth_error(&e, 4, RPC_AUTH_BADCRED);

    /* A NUL inside the machine name. */
    head(&e, 5, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "ho", 0, 0);
    null_verf(&e);
    e.buf[40] = 0; /* "ho" -> "\0o": the name's bytes follow flavor, length, stamp, its length */
    e.buf[41] = 'o';
    expect_auth_error(&e, 5, RPC_AUTH_BADCRED);

    /* A body longer than its authsys_parms, and one shorter. */
    head(&e, 6, RPC_MSG_CALL, 2);
    sys_cred(&e, 28, "host", 0, 0);
    xdr_put_u32(&e, 0);
    null_verf(&e);
    expect_auth_error(&e, 6, RPC_AUTH_BADCRED);
    head(&e, 6, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "host", 2, 2);
    e.buf[31] -= 4; /* the declared length misses the last gid */
    null_verf(&e);
    expect_auth_error(&e, 6, RPC_AUTH_BADCRED);

    /* Non-zero padding in the machine name. */
    head(&e, 7, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "abc", 0, 0);
    null_verf(&e);
    e.buf[43] = 'x';
    expect_auth_error(&e, 7, RPC_AUTH_BADCRED);

    /* A body that claims more bytes than the message holds. */
    head(&e, 8, RPC_MSG_CALL, 2);
    xdr_put_u32(&e, RPC_AUTH_NONE);
    xdr_put_u32(&e, 16);
    expect_auth_error(&e, 8, RPC_AUTH_BADCRED);
    xdr_enc_free(&e);
}

static void test_bad_verifiers(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    static uint8_t body[RPC_AUTH_MAX + 1];
    rpc_call out;
    uint32_t as;

    /* A non-empty AUTH_NONE verifier is allowed and ignored. */
    head(&e, 1, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "h", 0, 0);
    xdr_put_u32(&e, RPC_AUTH_NONE);
    xdr_put_opaque_var(&e, body, RPC_AUTH_MAX);
    xdr_put_u32(&e, 0xcafe);
    assert_int_equal(decode(&e, &out, &as), RPC_CALL_OK);
    assert_int_equal(out.args_len, 4);
    assert_ptr_equal(out.args, g_msg + e.len - 4);

    /* Over 400 bytes, another flavor, or missing. */
    head(&e, 2, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "h", 0, 0);
    xdr_put_u32(&e, RPC_AUTH_NONE);
    xdr_put_opaque_var(&e, body, RPC_AUTH_MAX + 1);
    expect_auth_error(&e, 2, RPC_AUTH_BADVERF);
    head(&e, 3, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "h", 0, 0);
    xdr_put_u32(&e, RPC_AUTH_SYS);
    xdr_put_u32(&e, 0);
    expect_auth_error(&e, 3, RPC_AUTH_BADVERF);
    head(&e, 4, RPC_MSG_CALL, 2);
    sys_cred(&e, 0, "h", 0, 0);
    expect_auth_error(&e, 4, RPC_AUTH_BADVERF);
    xdr_enc_free(&e);
}

/* Every prefix of a call gets the answer its first missing field calls
 * for, from a copy exactly that long (so that ASan sees any overread). */
static void test_truncated_calls(void **state)
{
    (void)state;
    rpc_call c = call_sys(3);
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    rpc_call_encode(&e, &c);
    size_t full = e.len;
    size_t cred_end = full - 8;
    for (size_t n = 0; n <= full; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, e.buf, n);
        rpc_call out;
        uint32_t as;
        rpc_call_status s = rpc_call_decode(copy, n, &out, &as);
        if (n < 8) {
            assert_int_equal(s, RPC_CALL_DROP);
            assert_int_equal(out.xid, 0);
        } else if (n < 12) {
            assert_int_equal(s, RPC_CALL_RPC_MISMATCH);
            assert_int_equal(out.xid, c.xid);
        } else if (n < cred_end) {
            assert_int_equal(s, RPC_CALL_AUTH_ERROR);
            assert_int_equal(as, RPC_AUTH_BADCRED);
            assert_int_equal(out.xid, c.xid);
        } else if (n < full) {
            assert_int_equal(s, RPC_CALL_AUTH_ERROR);
            assert_int_equal(as, RPC_AUTH_BADVERF);
        } else {
            assert_int_equal(s, RPC_CALL_OK);
            assert_same_call(&c, &out);
            assert_int_equal(out.args_len, 0);
        }
        free(copy);
    }
    xdr_enc_free(&e);
}

/* ---- record reassembly ---------------------------------------------------- */

static rpc_rec_status feed1(rpc_rec *r, const uint8_t *p, size_t n, size_t *used, size_t *len)
{
    const uint8_t *msg;
    return rpc_rec_feed(r, p, n, used, &msg, len);
}

static void put_mark(uint8_t *p, uint32_t h)
{
    p[0] = (uint8_t)(h >> 24);
    p[1] = (uint8_t)(h >> 16);
    p[2] = (uint8_t)(h >> 8);
    p[3] = (uint8_t)h;
}

/* Headers announcing 2^31 - 1 bytes are refused at once, with nothing
 * allocated, and the error sticks. */
static void test_rec_huge_header(void **state)
{
    (void)state;
    uint32_t marks[] = {0x7fffffff, 0xffffffff, MIB + 1, RPC_REC_LAST | (MIB + 1)};
    for (size_t i = 0; i < 4; i++) {
        rpc_rec r;
        rpc_rec_init(&r, MIB);
        uint8_t h[8];
        put_mark(h, marks[i]);
        memset(h + 4, 'x', 4);
        size_t used, len;
        assert_int_equal(feed1(&r, h, sizeof(h), &used, &len), RPC_REC_TOO_BIG);
        assert_int_equal(used, 4);
        assert_int_equal(rpc_rec_capacity(&r), 0);
        assert_int_equal(feed1(&r, h + 4, 4, &used, &len), RPC_REC_TOO_BIG);
        assert_int_equal(used, 0);
        rpc_rec_free(&r);
    }
}

/* A header announcing max bytes allocates only as they come. */
static void test_rec_grows_with_data(void **state)
{
    (void)state;
    rpc_rec r;
    rpc_rec_init(&r, MIB);
    put_mark(big, RPC_REC_LAST | MIB);
    size_t used, len;
    assert_int_equal(feed1(&r, big, 4, &used, &len), RPC_REC_MORE);
    assert_int_equal(rpc_rec_capacity(&r), 0);
    assert_true(rpc_rec_pending(&r));
    memset(big + 4, 'y', MIB);
    assert_int_equal(feed1(&r, big + 4, 10, &used, &len), RPC_REC_MORE);
    assert_true(rpc_rec_capacity(&r) <= 4096);
    assert_int_equal(feed1(&r, big + 14, 100000, &used, &len), RPC_REC_MORE);
    assert_true(rpc_rec_capacity(&r) <= 2 * 100010);
    rpc_rec_free(&r);
}

/* A record of exactly max bytes passes, max + 1 does not, whether it is
 * one fragment or a chain of them. */
static void test_rec_max(void **state)
{
    (void)state;
    size_t sizes[] = {MIB, MIB + 1};
    for (size_t i = 0; i < 2; i++) {
        for (size_t frag = 0; frag < 2; frag++) {
            rpc_rec r;
            rpc_rec_init(&r, MIB);
            size_t n = sizes[i], o = 0;
            if (frag) {
                /* 4 bytes, then 1000, then the rest: the chain crosses
                 * max only at its last header. */
                put_mark(big, 4);
                o = 8;
                put_mark(big + o, 1000);
                o += 4 + 1000;
                put_mark(big + o, RPC_REC_LAST | (uint32_t)(n - 1004));
                o += 4;
            } else {
                put_mark(big, RPC_REC_LAST | (uint32_t)n);
                o = 4;
            }
            size_t used, len;
            const uint8_t *msg;
            rpc_rec_status s = rpc_rec_feed(&r, big, o + n - (frag ? 1004 : 0), &used, &msg, &len);
            if (i == 0) {
                assert_int_equal(s, RPC_REC_READY);
                assert_int_equal(len, MIB);
                assert_int_equal(rpc_rec_capacity(&r), MIB);
            } else {
                assert_int_equal(s, RPC_REC_TOO_BIG);
                assert_int_equal(used, o);
                assert_true(rpc_rec_capacity(&r) <= 4096);
            }
            rpc_rec_free(&r);
        }
    }
}

/* A chain of non-last fragments may not grow past max, even in small
 * steps; empty ones are harmless. */
static void test_rec_fragment_chain(void **state)
{
    (void)state;
    rpc_rec r;
    rpc_rec_init(&r, 4096);
    uint8_t frag[4 + 1024];
    put_mark(frag, 1024);
    memset(frag + 4, 'z', 1024);
    size_t used, len;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(feed1(&r, frag, sizeof(frag), &used, &len), RPC_REC_MORE);
        assert_int_equal(used, sizeof(frag));
    }
    uint8_t empty[4];
    put_mark(empty, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(feed1(&r, empty, 4, &used, &len), RPC_REC_MORE);
    assert_int_equal(feed1(&r, frag, sizeof(frag), &used, &len), RPC_REC_TOO_BIG);
    assert_int_equal(used, 4);
    assert_int_equal(rpc_rec_capacity(&r), 4096);
    rpc_rec_free(&r);
}

/* The header 0x80000000 (the "length 2^31" of a careless encoder) is an
 * empty last fragment: an empty record, which is no call. */
static void test_rec_empty_record(void **state)
{
    (void)state;
    rpc_rec r;
    rpc_rec_init(&r, MIB);
    uint8_t h[4];
    put_mark(h, RPC_REC_LAST);
    size_t used, len;
    const uint8_t *msg;
    assert_int_equal(rpc_rec_feed(&r, h, 4, &used, &msg, &len), RPC_REC_READY);
    assert_int_equal(len, 0);
    assert_non_null(msg);
    rpc_call out;
    uint32_t as;
    assert_int_equal(rpc_call_decode(msg, len, &out, &as), RPC_CALL_DROP);
    assert_false(rpc_rec_pending(&r));
    rpc_rec_free(&r);
}

/* A connection that ends in the middle of a record leaves it pending and
 * hands out nothing; feeding nothing changes nothing. */
static void test_rec_truncated(void **state)
{
    (void)state;
    rpc_call c = call_none();
    xdr_enc e;
    encode_call(&e, &c, NULL, 0);
    for (size_t n = 0; n < e.len; n++) {
        rpc_rec r;
        rpc_rec_init(&r, MIB);
        size_t used, len;
        assert_int_equal(feed1(&r, e.buf, n, &used, &len), RPC_REC_MORE);
        assert_int_equal(used, n);
        assert_int_equal(rpc_rec_pending(&r), n > 0);
        assert_int_equal(feed1(&r, e.buf, 0, &used, &len), RPC_REC_MORE);
        rpc_rec_free(&r);
    }
    xdr_enc_free(&e);
}

/* Calls sent back to back come out one by one, in order, and a big
 * record's buffer is not kept once a small one follows. */
static void test_rec_pipelined(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 2 * MIB);
    rpc_call c = call_none();
    for (uint32_t i = 0; i < 3; i++) {
        c.xid = 100 + i;
        size_t at = rpc_mark_begin(&e);
        rpc_call_encode(&e, &c);
        if (i == 1) {
            uint8_t *args = xdr_put_space(&e, 200000);
            assert_non_null(args);
            memset(args, 'a', 200000);
        }
        assert_true(rpc_mark_end(&e, at));
    }
    rpc_rec r;
    rpc_rec_init(&r, MIB);
    size_t off = 0;
    for (uint32_t i = 0; i < 3; i++) {
        size_t used, len;
        const uint8_t *msg;
        assert_int_equal(rpc_rec_feed(&r, e.buf + off, e.len - off, &used, &msg, &len),
                         RPC_REC_READY);
        off += used;
        rpc_call out;
        uint32_t as;
        assert_int_equal(rpc_call_decode(msg, len, &out, &as), RPC_CALL_OK);
        assert_int_equal(out.xid, 100 + i);
        assert_int_equal(out.args_len, i == 1 ? 200000 : 0);
        if (i == 2)
            assert_true(rpc_rec_capacity(&r) <= RPC_REC_KEEP);
    }
    assert_int_equal(off, e.len);
    rpc_rec_free(&r);
    xdr_enc_free(&e);
}

static void test_mark_end_refuses(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 64);
    assert_false(rpc_mark_end(&e, 0)); /* nothing reserved */
    size_t at = rpc_mark_begin(&e);
    assert_true(rpc_mark_end(&e, at)); /* an empty record */
    assert_int_equal(e.buf[0], 0x80);
    assert_false(rpc_mark_end(&e, at + 1));
    xdr_put_space(&e, 100); /* over the limit */
    assert_true(e.err);
    assert_false(rpc_mark_end(&e, at));
    xdr_enc_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_auth_none),
        cmocka_unit_test(test_roundtrip_auth_sys),
        cmocka_unit_test(test_call_bytes),
        cmocka_unit_test(test_call_encode_refuses_bad_cred),
        cmocka_unit_test(test_reply_accepted),
        cmocka_unit_test(test_reply_prog_mismatch),
        cmocka_unit_test(test_reply_rpc_mismatch),
        cmocka_unit_test(test_reply_auth_error),
        cmocka_unit_test(test_replies_batched),
        cmocka_unit_test(test_reply_decode_rejects),
        cmocka_unit_test(test_rpcvers_mismatch),
        cmocka_unit_test(test_not_a_call_is_dropped),
        cmocka_unit_test(test_bad_credentials),
        cmocka_unit_test(test_bad_verifiers),
        cmocka_unit_test(test_truncated_calls),
        cmocka_unit_test(test_rec_huge_header),
        cmocka_unit_test(test_rec_grows_with_data),
        cmocka_unit_test(test_rec_max),
        cmocka_unit_test(test_rec_fragment_chain),
        cmocka_unit_test(test_rec_empty_record),
        cmocka_unit_test(test_rec_truncated),
        cmocka_unit_test(test_rec_pipelined),
        cmocka_unit_test(test_mark_end_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
