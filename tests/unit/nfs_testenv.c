/* The in-process NFS test environment (see nfs_testenv.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/layer.h"
#include "nfs_testenv.h"
#include "testutil.h"
#include "transport/nfs/dispatch.h"

nfs_testenv *nte_new(void (*fill)(const char *lower))
{
    nfs_testenv *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->dir = tu_mkdtemp("nfs");
    t->lower = tu_path(t->dir, "lower");
    t->upper = tu_path(t->dir, "upper");
    assert_int_equal(mkdir(t->lower, 0755), 0);
    assert_int_equal(mkdir(t->upper, 0755), 0);
    /* The upper belongs to the server's owner, as on a real server (which
     * runs as its owner); a test run as root gives it away. */
    if (geteuid() == 0)
        assert_int_equal(chown(t->upper, NTE_OWNER, NTE_OWNER), 0);
    if (fill)
        fill(t->lower);
    char *sd = tu_path(t->dir, "store");
    store_opts so = {.spill_threshold = 4096};
    assert_ok(store_open(sd, &so, &t->s));
    free(sd);
    strata_digest d;
    layer_import_opts io = {.threads = 1};
    assert_ok(layer_import(t->s, t->lower, &io, &d, NULL));
    assert_ok(vfs_new(t->s, NULL, &t->v));
    vfs_view_spec spec = {
        .layers = &d, .nlayers = 1, .upper = t->upper, .uid = NTE_OWNER, .gid = NTE_OWNER};
    assert_ok(vfs_slot_attach(t->v, 0, &spec));
    t->ctx = (nfs_ctx){
        .v = t->v,
        .slot = 0,
        .instance = nfs_fh_new_instance(),
        .owner_uid = NTE_OWNER,
        .write_verf = {1, 2, 3, 4, 5, 6, 7, 8},
        .export_path = "/",
    };
    pthread_mutex_init(&t->ctx.mu, NULL);
    xdr_enc_init(&t->req, 2u << 20);
    xdr_enc_init(&t->rep, 2u << 20);
    return t;
}

void nte_free(nfs_testenv *t)
{
    xdr_enc_free(&t->req);
    xdr_enc_free(&t->rep);
    pthread_mutex_destroy(&t->ctx.mu);
    vfs_free(t->v);
    store_close(t->s);
    free(t->lower);
    free(t->upper);
    tu_rmtree(t->dir);
    free(t);
}

static uint32_t nte_xid = 1000;

xdr_enc *nte_begin(nfs_testenv *t, uint32_t prog, uint32_t proc, uint32_t uid)
{
    xdr_enc_reset(&t->req);
    rpc_call c = {
        .xid = ++nte_xid,
        .prog = prog,
        .vers = 3,
        .proc = proc,
        .cred = {.flavor = RPC_AUTH_SYS, .uid = uid, .gid = uid},
    };
    snprintf(c.cred.machine, sizeof(c.cred.machine), "testhost");
    rpc_call_encode(&t->req, &c);
    return &t->req;
}

int nte_call(nfs_testenv *t)
{
    assert_false(t->req.err);
    xdr_enc_reset(&t->rep);
    assert_true(nfs_dispatch(&t->ctx, t->req.buf, t->req.len, &t->rep));
    assert_false(t->rep.err);
    assert_true(rpc_reply_decode(t->rep.buf, t->rep.len, &t->reply));
    if (t->reply.reply_stat != RPC_MSG_ACCEPTED)
        return -1;
    xdr_dec_init(&t->res, t->reply.results, t->reply.results_len);
    return (int)t->reply.accept_stat;
}

void nte_root(nfs_testenv *t, nfs3_fh *out)
{
    nfs_req r = {.ctx = &t->ctx};
    nfs_fh_root(&r, out);
}

uint32_t nte_lookup_path(nfs_testenv *t, const char *path, nfs3_fh *out)
{
    nte_root(t, out);
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *name = strtok_r(buf, "/", &save); name;
         name = strtok_r(NULL, "/", &save)) {
        nfs3_dirop a = {.dir = *out};
        snprintf(a.name, sizeof(a.name), "%s", name);
        nfs3_enc_dirop_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_LOOKUP, NTE_OWNER), &a);
        assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
        nfs3_lookup_res res;
        assert_true(nfs3_dec_lookup_res(&t->res, &res));
        if (res.status != NFS3_OK)
            return res.status;
        *out = res.fh;
    }
    return NFS3_OK;
}
