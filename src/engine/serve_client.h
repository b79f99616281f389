/* The client side of `strata serve`'s control socket (serve.h,
 * serve_proto.h): what `strata run --server` uses to get a slot showing
 * its layers and to give it back. One request at a time per client. */
#ifndef STRATA_ENGINE_SERVE_CLIENT_H
#define STRATA_ENGINE_SERVE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/err.h"

/* How long a reply may take: an ATTACH loads the layers' manifests. */
#define SERVE_CLIENT_TIMEOUT 120.0

typedef struct serve_client serve_client;

/* Connects to the server of mountpoint and says HELLO. No server there
 * (no socket, or nothing answers it) is STRATA_E_NOTFOUND. */
strata_err *serve_client_open(const char *mountpoint, serve_client **out);

/* The server's mountpoint, absolute. */
const char *serve_client_mountpoint(const serve_client *c);

/* Asks for a slot showing layers (top first, 1..SERVE_MAX_LAYERS) with
 * writes going to upper (absolute; NULL: read-only). The server's error
 * comes back as the same code, message and hint. */
strata_err *serve_client_attach(serve_client *c, const char *upper, const strata_digest *layers,
                                size_t n, uint16_t *slot, uint32_t *generation);

/* Gives the slot back; once answered, nothing more lands in its upper. */
strata_err *serve_client_detach(serve_client *c, uint16_t slot);

/* Closes the connection (the server then detaches what is left) and
 * frees c (NULL: nothing). */
void serve_client_close(serve_client *c);

#endif
