/* libFuzzer target for the NFS server's way in (transport/nfs/rpc.h): the
 * bytes one TCP client writes, through record marking, the RPC call
 * decoder and the dispatcher (every NFSv3 and MOUNTv3 procedure, over a
 * real store and a vfs with an upper directory), to the replies.
 *
 * Input: the first byte sets how many bytes each read delivers (0: all
 * at once), the rest is the stream. Beyond "no crash, no leak, no
 * out-of-bounds read", it checks what the server relies on: the
 * reassembler's memory stays under the record limit and follows the
 * bytes that arrived; a call that decodes encodes back to the same call;
 * a refused call gets the answer rpc.h names; and every reply frames and
 * decodes, as a client would read it, to the xid it answers. Each record
 * is also read as a reply, the test client's side of hostile input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "layer/layer.h"
#include "transport/nfs/dispatch.h"
#include "transport/nfs/rpc.h"

#define MAX_RECORD (1024 * 1024)
#define MAX_REPLY  (NFS_IO_MAX + (64 << 10))

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_nfs_rpc: %s\n", what);
    abort();
}

/* Encoders and a client's reassembler, kept across inputs. */
static xdr_enc enc, reply;
static rpc_rec client;

/* The server's side: a store with a small layer, shown with an upper
 * directory, exported to uid 0 (the uid a fuzzer reaches first). Writes
 * pile up in the upper across inputs, as on a long-lived server. */
static store *st;
static vfs *fv;
static nfs_ctx ctx;

static void write_file(const char *dir, const char *name, const char *data)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f)
        fail("cannot write the fuzzer's tree");
    fputs(data, f);
    fclose(f);
}

/* In the working directory, which tests/fuzz.sh makes and removes. */
static void setup_server(void)
{
    char tmpl[] = "fuzz-nfs-XXXXXX";
    char *rel = mkdtemp(tmpl);
    char *dir = rel ? realpath(rel, NULL) : NULL;
    if (!dir)
        fail("mkdtemp");
    char lower[256], upper[256], sd[256], sub[256];
    snprintf(lower, sizeof(lower), "%s/lower", dir);
    snprintf(upper, sizeof(upper), "%s/upper", dir);
    snprintf(sd, sizeof(sd), "%s/store", dir);
    snprintf(sub, sizeof(sub), "%s/lower/d", dir);
    if (mkdir(lower, 0755) < 0 || mkdir(upper, 0755) < 0 || mkdir(sub, 0755) < 0)
        fail("mkdir");
    write_file(lower, "a", "alpha\n");
    write_file(sub, "b", "beta\n");
    if (symlink("a", (snprintf(sub, sizeof(sub), "%s/lower/l", dir), sub)) < 0)
        fail("symlink");
    strata_digest d;
    layer_import_opts io = {.threads = 1};
    strata_err *e = store_open(sd, NULL, &st);
    if (!e)
        e = layer_import(st, lower, &io, &d, NULL);
    if (!e)
        e = vfs_new(st, NULL, &fv);
    vfs_view_spec spec = {.layers = &d, .nlayers = 1, .upper = upper};
    if (!e)
        e = vfs_slot_attach(fv, 0, &spec);
    if (e)
        fail(e->msg);
    free(dir);
    ctx = (nfs_ctx){.v = fv, .instance = 0x5eed, .owner_uid = 0, .export_path = "/"};
    pthread_mutex_init(&ctx.mu, NULL);
}

static void setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    xdr_enc_init(&enc, 1 << 16);
    xdr_enc_init(&reply, MAX_REPLY);
    rpc_rec_init(&client, MAX_REPLY);
    setup_server();
}

/* A decoded call encodes (as the test client would send it) to a header
 * that decodes to the same call, no longer than the one received. */
static void check_call_roundtrip(const rpc_call *c, size_t header_len)
{
    xdr_enc_reset(&enc);
    rpc_call_encode(&enc, c);
    if (enc.err)
        fail("a decoded call does not encode");
    if (enc.len > header_len)
        fail("a re-encoded header is longer than the one received");
    rpc_call back;
    uint32_t as;
    if (rpc_call_decode(enc.buf, enc.len, &back, &as) != RPC_CALL_OK)
        fail("a re-encoded call does not decode");
    if (back.xid != c->xid || back.prog != c->prog || back.vers != c->vers ||
        back.proc != c->proc || memcmp(&back.cred, &c->cred, sizeof(c->cred)) != 0 ||
        back.args_len != 0)
        fail("a re-encoded call decodes differently");
}

/* Reads the framed reply in `reply` as a client does: one record, one
 * reply to xid. */
static rpc_reply read_reply(uint32_t xid)
{
    size_t used, len;
    const uint8_t *msg;
    if (rpc_rec_feed(&client, reply.buf, reply.len, &used, &msg, &len) != RPC_REC_READY ||
        used != reply.len)
        fail("a reply is not one record");
    rpc_reply r;
    if (!rpc_reply_decode(msg, len, &r))
        fail("a reply does not decode");
    if (r.xid != xid)
        fail("a reply has the wrong xid");
    return r;
}

/* What the server does with one record. */
static void serve_record(const uint8_t *msg, size_t len)
{
    rpc_call c;
    uint32_t as;
    rpc_call_status s = rpc_call_decode(msg, len, &c, &as);
    if (s == RPC_CALL_DROP) {
        rpc_call zero;
        memset(&zero, 0, sizeof(zero));
        if (memcmp(&c, &zero, sizeof(c)) != 0 || as != RPC_AUTH_OK)
            fail("a dropped call left fields set");
        return;
    }
    xdr_enc_reset(&reply);
    size_t at = rpc_mark_begin(&reply);
    switch (s) {
    case RPC_CALL_OK:
        if (c.args_len > len || c.args != msg + (len - c.args_len) || as != RPC_AUTH_OK)
            fail("a call's arguments are not the end of its message");
        check_call_roundtrip(&c, len - c.args_len);
        if (!nfs_dispatch(&ctx, msg, len, &reply))
            fail("the dispatcher hung up on a call");
        if (reply.err)
            fail("a reply did not fit");
        break;
    case RPC_CALL_RPC_MISMATCH:
        rpc_reply_rpc_mismatch(&reply, c.xid);
        break;
    case RPC_CALL_AUTH_ERROR:
        if (as != RPC_AUTH_BADCRED && as != RPC_AUTH_BADVERF)
            fail("an auth error that is neither BADCRED nor BADVERF");
        rpc_reply_auth_error(&reply, c.xid, as);
        break;
    case RPC_CALL_DROP:
        break;
    }
    if (!rpc_mark_end(&reply, at))
        fail("a reply does not frame");
    rpc_reply r = read_reply(c.xid);
    if (s == RPC_CALL_RPC_MISMATCH &&
        (r.reply_stat != RPC_MSG_DENIED || r.reject_stat != RPC_REJ_RPC_MISMATCH ||
         r.low != RPC_VERSION || r.high != RPC_VERSION))
        fail("an RPC_MISMATCH reply reads differently");
    if (s == RPC_CALL_AUTH_ERROR && (r.reply_stat != RPC_MSG_DENIED ||
                                     r.reject_stat != RPC_REJ_AUTH_ERROR || r.auth_stat != as))
        fail("an AUTH_ERROR reply reads differently");
    /* Only the server's own policy denies a call that decodes: AUTH_NONE
     * beyond NULL, or another uid. */
    if (s == RPC_CALL_OK && r.reply_stat != RPC_MSG_ACCEPTED &&
        !(r.reject_stat == RPC_REJ_AUTH_ERROR &&
          (r.auth_stat == RPC_AUTH_TOOWEAK || r.auth_stat == RPC_AUTH_BADCRED)))
        fail("a dispatched call was denied for no reason");
}

/* A hostile record read as a reply: the test client's decoder may refuse
 * it but must keep its results inside it. */
static void read_as_reply(const uint8_t *msg, size_t len)
{
    rpc_reply r;
    if (!rpc_reply_decode(msg, len, &r))
        return;
    if (r.results &&
        (r.results < msg || r.results_len > len || r.results != msg + (len - r.results_len)))
        fail("a reply's results are not the end of its message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size == 0)
        return 0;
    size_t chunk = data[0];
    data++;
    size--;

    rpc_rec rec;
    rpc_rec_init(&rec, MAX_RECORD);
    size_t off = 0;
    while (off < size) {
        size_t n = chunk && size - off > chunk ? chunk : size - off;
        /* One read's bytes, until they are used up. */
        while (n > 0) {
            size_t used, len;
            const uint8_t *msg;
            rpc_rec_status s = rpc_rec_feed(&rec, data + off, n, &used, &msg, &len);
            if (used > n)
                fail("the reassembler used more bytes than it was given");
            off += used;
            n -= used;
            size_t cap = rpc_rec_capacity(&rec);
            if (cap > MAX_RECORD || (cap > RPC_REC_KEEP && cap >= 2 * rec.len))
                fail("the reassembler holds more memory than its bytes need");
            if (s == RPC_REC_TOO_BIG || s == RPC_REC_NOMEM)
                goto closed; /* the server closes this connection */
            if (s == RPC_REC_MORE) {
                if (n != 0)
                    fail("the reassembler wants more but left bytes");
                break;
            }
            if (len > MAX_RECORD)
                fail("a record over the limit");
            serve_record(msg, len);
            read_as_reply(msg, len);
        }
    }
closed:
    rpc_rec_free(&rec);
    return 0;
}
