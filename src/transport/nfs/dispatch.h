/* The NFS server's handler: one record in, one reply out (dispatch.c). */
#ifndef STRATA_TRANSPORT_NFS_DISPATCH_H
#define STRATA_TRANSPORT_NFS_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/nfs/nfs_proc.h"
#include "transport/nfs/server.h"

/* Answers the RPC call in rec (without its record mark) into reply. Any
 * input gets a defined answer or none; always true (the connection goes
 * on: a bad call is answered, not a reason to hang up). */
bool nfs_dispatch(nfs_ctx *ctx, const uint8_t *rec, size_t len, xdr_enc *reply);

/* Whether a record is a call answered from memory, without I/O beyond a
 * stat (NULL, GETATTR, LOOKUP, ACCESS, READLINK, FSSTAT, FSINFO,
 * PATHCONF), or a READ of at most NFS_QUICK_READ bytes (a small file's
 * whole content, from the page cache in the common case): the server
 * answers those on its loop thread, which spares the hand-off to a
 * worker (two thread wake-ups), the larger part of a short call's cost
 * on a loaded machine. The price: a small READ whose data is not cached
 * holds the loop for one disk read. */
#define NFS_QUICK_READ (64u * 1024)

/* A READ answered on the loop thread when its bytes are all in the page
 * cache (*answered); otherwise nothing is answered, and the server hands
 * the call to a worker. The server tries it only when no worker has a
 * job: then a client that waits for each answer (one large READ at a
 * time) is spared the hand-off, and a READ that would wait for the disk
 * still holds up nothing behind it. */
bool nfs_dispatch_try(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                      xdr_enc *reply, bool *answered);
bool nfs_dispatch_quick(void *ctx, const uint8_t *rec, size_t len);

/* nfs_dispatch as an nfs_server_handler, ctx being an nfs_ctx. */
bool nfs_dispatch_handler(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                          xdr_enc *reply);

#endif
