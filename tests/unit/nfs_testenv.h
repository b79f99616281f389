/* A test environment for the NFS procedure handlers: a store with one
 * layer, a vfs showing it in slot 0 with an upper directory, and an
 * nfs_ctx over it; calls go through nfs_dispatch in process (no sockets),
 * so each test sees exactly the reply a client would. */
#ifndef STRATA_TESTS_NFS_TESTENV_H
#define STRATA_TESTS_NFS_TESTENV_H

#include "store/store.h"
#include "transport/nfs/nfs_proc.h"
#include "transport/nfs/rpc.h"

#define NTE_OWNER 4242 /* the server's owner: the view's uid and gid */

typedef struct nfs_testenv {
    char *dir;   /* everything lives here */
    char *lower; /* the tree the layer was imported from (still there) */
    char *upper; /* the view's upper directory */
    store *s;
    vfs *v;
    nfs_ctx ctx;
    xdr_enc req, rep; /* the last call and reply */
    rpc_reply reply;  /* the last reply, decoded */
    xdr_dec res;      /* its results (SUCCESS) */
} nfs_testenv;

/* Builds the environment; fill (may be NULL) writes the lower tree into
 * its argument directory before the import. */
nfs_testenv *nte_new(void (*fill)(const char *lower));
void nte_free(nfs_testenv *t);

/* The arguments of a call are written by the caller into nte_args(t)
 * after nte_begin; nte_call sends them as uid (AUTH_SYS; uid 0 or
 * NTE_OWNER are allowed) and decodes the reply. Returns the accept_stat
 * (RPC_ACC_SUCCESS: t->res holds the results), or -1 for a reply that is
 * not accepted (t->reply says why). */
xdr_enc *nte_begin(nfs_testenv *t, uint32_t prog, uint32_t proc, uint32_t uid);
int nte_call(nfs_testenv *t);

/* Handles. */
void nte_root(nfs_testenv *t, nfs3_fh *out);
/* Looks path up (from the root, through LOOKUP calls) and fills its
 * handle; the NFS status of the last step. */
uint32_t nte_lookup_path(nfs_testenv *t, const char *path, nfs3_fh *out);

#endif
