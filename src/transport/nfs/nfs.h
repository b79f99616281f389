/* The NFS transport: one slot's view served over NFSv3 and MOUNTv3 on
 * loopback (see docs/NFS.md for the design and the threat model).
 *
 *   nfs_serve_start   listens on 127.0.0.1 and ::1 and serves the view in
 *                     slot of v to AUTH_SYS callers with the owner's uid
 *                     (or root's)
 *   nfs_serve_url     the client URL libnfs and its tools take
 *   nfs_serve_stop    stops, after the calls in progress have answered
 *
 * Both programs share the one port (MOUNT's port is NFS's), so no
 * portmapper is needed: a client is told port=P,mountport=P. */
#ifndef STRATA_TRANSPORT_NFS_NFS_H
#define STRATA_TRANSPORT_NFS_NFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "transport/nfs/server.h"
#include "vfs/vfs.h"

typedef struct nfs_serve_opts {
    vfs *v;
    uint16_t slot;      /* the view to export */
    uint32_t owner_uid; /* besides root, the one uid served */
    uint16_t port;      /* 0: an ephemeral port */
    bool secure;        /* privileged source ports only (macOS resvport) */
    unsigned workers;   /* 0: the server's default */
} nfs_serve_opts;

typedef struct nfs_serve nfs_serve;

strata_err *nfs_serve_start(const nfs_serve_opts *o, nfs_serve **out);
uint16_t nfs_serve_port(const nfs_serve *s);
/* "nfs://127.0.0.1/?nfsport=P&mountport=P&version=3" into buf. */
void nfs_serve_url(const nfs_serve *s, char *buf, size_t n);
void nfs_serve_stats(nfs_serve *s, nfs_server_stats *out);
void nfs_serve_stop(nfs_serve *s);

#endif
