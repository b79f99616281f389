/* `strata serve`: one long-lived FUSE mount whose root lists slots, and
 * the control socket through which clients (`strata run --server`) ask
 * for a slot showing their layers and give it back.
 *
 * The socket is a Unix stream socket in the registry's root (0700, owner
 * only, see registry.h), named after the mountpoint, mode 0600; a peer
 * whose uid is neither the server's nor root is refused. The protocol is
 * serve_proto.h's. Each connection has a thread of its own, so a slow or
 * malformed client never holds up another; a line longer than
 * SERVE_LINE_MAX gets an error and the connection is closed, as it is
 * after a peer that may not talk to the server.
 *
 * A slot belongs to the connection that attached it: only it may detach
 * the slot, and when it closes (the client exited, or was killed), its
 * slots are detached. Detaching first stops the slot's FUSE traffic
 * (fusefs_slot_close), so that once DETACH is answered nothing more
 * lands in the slot's upper directory and the client may capture it.
 * Slots are handed out round-robin, so a number comes back as late as
 * possible: the kernel may still hold inodes of a slot's last view for a
 * while after it is detached. */
#ifndef STRATA_ENGINE_SERVE_H
#define STRATA_ENGINE_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "transport/fuse.h"
#include "vfs/vfs.h"

#define SERVE_DEFAULT_SLOTS 1024 /* slots 1..1023 */
#define SERVE_DEFAULT_CONNS 256
#define SERVE_SOCK_MAX      108 /* sizeof(sockaddr_un.sun_path) on Linux */

typedef struct serve serve;

typedef struct serve_opts {
    vfs *v;                 /* with vfs_opts.slot_dir */
    fusefs *f;              /* the mount of v */
    const char *mountpoint; /* absolute: uppers may not lie inside it */
    const char *socket;     /* where to listen (serve_socket_path) */
    uint32_t max_conns;     /* 0 = SERVE_DEFAULT_CONNS */
} serve_opts;

/* The socket of the server of mountpoint (absolute), in the registry
 * root registry_root (NULL: registry_default_root()): root +
 * "/serve-<16 hex digits of the mountpoint's sha256>.sock". An error when
 * it does not fit in a socket address. */
strata_err *serve_socket_path(const char *registry_root, const char *mountpoint, char *out,
                              size_t n);

/* Listens on o->socket (a stale socket of a dead server there is
 * replaced; a live one is STRATA_E_EXISTS) and serves clients from
 * threads of its own until serve_stop. */
strata_err *serve_start(const serve_opts *o, serve **out);

/* Slots shown now (for tests and `ps`). */
uint32_t serve_attached(serve *s);

/* Stops listening, closes every connection (detaching its slots), waits
 * for their threads, removes the socket and frees s (NULL: nothing). */
void serve_stop(serve *s);

#endif
