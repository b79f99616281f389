/* The NFS transport's front (see nfs.h): a server context over one view,
 * the network server, and the dispatcher between them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/nfs/dispatch.h"
#include "transport/nfs/nfs.h"

struct nfs_serve {
    nfs_ctx ctx;
    nfs_server *srv;
};

strata_err *nfs_serve_start(const nfs_serve_opts *o, nfs_serve **out)
{
    *out = NULL;
    nfs_serve *s = calloc(1, sizeof(*s));
    if (!s)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    s->ctx.v = o->v;
    s->ctx.slot = o->slot;
    s->ctx.owner_uid = o->owner_uid;
    s->ctx.instance = nfs_fh_new_instance();
    /* A new verifier per server: a client that sent UNSTABLE writes to
     * an earlier server sees it changed at COMMIT and writes them again. */
    uint64_t verf = nfs_fh_new_instance();
    memcpy(s->ctx.write_verf, &verf, sizeof(verf));
    s->ctx.export_path = "/";
    pthread_mutex_init(&s->ctx.mu, NULL);
    nfs_server_opts so = {
        .handler = nfs_dispatch_handler,
        .quick = nfs_dispatch_quick,
        .try_now = nfs_dispatch_try,
        .ctx = &s->ctx,
        .port = o->port,
        .secure = o->secure,
        .workers = o->workers,
    };
    strata_err *e = nfs_server_start(&so, &s->srv);
    if (e) {
        pthread_mutex_destroy(&s->ctx.mu);
        free(s);
        return e;
    }
    *out = s;
    return NULL;
}

uint16_t nfs_serve_port(const nfs_serve *s)
{
    return nfs_server_port(s->srv);
}

void nfs_serve_url(const nfs_serve *s, char *buf, size_t n)
{
    unsigned p = nfs_serve_port(s);
    snprintf(buf, n, "nfs://127.0.0.1/?nfsport=%u&mountport=%u&version=3", p, p);
}

void nfs_serve_stats(nfs_serve *s, nfs_server_stats *out)
{
    nfs_server_get_stats(s->srv, out);
}

void nfs_serve_stop(nfs_serve *s)
{
    if (!s)
        return;
    nfs_server_stop(s->srv);
    pthread_mutex_destroy(&s->ctx.mu);
    free(s);
}
