/* The NFS server's network side: TCP listeners on loopback, an event loop
 * that reads records off every connection, and a pool of workers that
 * answer them.
 *
 *   - Listens on 127.0.0.1 and ::1 only (where the host has IPv6), on the
 *     given port or an ephemeral one, both on the same port number.
 *   - One thread runs the event loop (epoll or kqueue, poller.h): it
 *     accepts, reads, splits the byte stream into records (RPC record
 *     marking) and queues each record as a job. Workers decode, call the
 *     handler and send the reply. So a slow READ holds up only its own
 *     worker: replies leave in the order they are ready, and the client
 *     matches them by xid.
 *   - Bounded per connection: a record is at most max_record bytes (a
 *     larger one closes that connection, and no other); at most
 *     NFS_SERVER_INFLIGHT requests of a connection are queued or running,
 *     and its replies waiting to be sent stay under NFS_SERVER_OUTQ bytes:
 *     past either, the loop stops reading that connection until it
 *     drains. At most max_conns connections; one idle for idle_timeout
 *     seconds with nothing in flight is closed.
 *   - secure: only connections from privileged source ports (< 1024), as
 *     the macOS client sends with resvport; others are closed at once.
 *
 * What a record means is the handler's business (nfs_server_handler): the
 * server only moves bytes. */
#ifndef STRATA_TRANSPORT_NFS_SERVER_H
#define STRATA_TRANSPORT_NFS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "transport/nfs/xdr.h"

#define NFS_SERVER_INFLIGHT 16
#define NFS_SERVER_OUTQ     (8u << 20)

/* Who sent a record. */
typedef struct nfs_peer {
    bool privileged_port; /* source port < 1024 */
    uint16_t port;
} nfs_peer;

/* Answers one record: writes the whole reply message (without its record
 * mark) into reply, or leaves it empty to send nothing. Returns false when
 * the connection must be closed (the record was not RPC at all). Runs on
 * any worker, several at once. */
typedef bool (*nfs_server_handler)(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                                   xdr_enc *reply);

/* Whether a record is cheap enough to answer on the loop thread itself
 * (attributes, a lookup): no hand-off to a worker, two wake-ups fewer. */
typedef bool (*nfs_server_quick)(void *ctx, const uint8_t *rec, size_t len);

/* Tries to answer a record on the loop thread without waiting for the
 * disk: as a handler, with *answered false when it would have to wait
 * (the record then goes to a worker). Tried only for the last record
 * read so far, when no worker has a job. */
typedef bool (*nfs_server_try)(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                               xdr_enc *reply, bool *answered);

typedef struct nfs_server_opts {
    nfs_server_handler handler;
    nfs_server_quick quick; /* NULL: every record goes to a worker */
    nfs_server_try try_now; /* NULL: none tried */
    void *ctx;
    uint16_t port;       /* 0: an ephemeral port */
    bool secure;         /* privileged source ports only */
    unsigned workers;    /* 0: 4 */
    unsigned max_conns;  /* 0: 256 */
    double idle_timeout; /* seconds; 0: 300 */
    size_t max_record;   /* bytes of one request record; 0: 1 MiB + 64 KiB */
    size_t max_reply;    /* bytes of one reply; 0: the same */
} nfs_server_opts;

typedef struct nfs_server nfs_server;

typedef struct nfs_server_stats {
    uint64_t accepted, refused, closed_bad, closed_idle, records;
    unsigned conns; /* open now */
} nfs_server_stats;

/* Listens and starts serving. A port in use is STRATA_E_BUSY with a hint. */
strata_err *nfs_server_start(const nfs_server_opts *o, nfs_server **out);

/* The port it listens on. */
uint16_t nfs_server_port(const nfs_server *s);

void nfs_server_get_stats(nfs_server *s, nfs_server_stats *out);

/* Stops accepting and reading, waits for the workers to finish what they
 * run, closes every connection and frees s (NULL: nothing). */
void nfs_server_stop(nfs_server *s);

#endif
