/* Content digests: sha256, written "sha256:<64 hex>". */
#ifndef STRATA_BASE_DIGEST_H
#define STRATA_BASE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define DIGEST_LEN     32
#define DIGEST_HEX_LEN 64
#define DIGEST_PREFIX  "sha256:"
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN) /* without the NUL */

typedef struct strata_digest {
    uint8_t b[DIGEST_LEN];
} strata_digest;

/* Streaming hasher; one per thread of work, never shared. */
typedef struct digest_ctx digest_ctx;

/* The digest of zero bytes, which every empty file has. */
extern const strata_digest digest_empty;

void digest_buf(const void *data, size_t len, strata_digest *out);

/* Returns NULL only when out of memory. */
digest_ctx *digest_begin(void);
void digest_update(digest_ctx *ctx, const void *data, size_t len);
/* Writes the digest and frees ctx. */
void digest_end(digest_ctx *ctx, strata_digest *out);
/* Frees ctx without a result (on an error path). */
void digest_abort(digest_ctx *ctx);

static inline bool digest_eq(const strata_digest *a, const strata_digest *b)
{
    for (int i = 0; i < DIGEST_LEN; i++)
        if (a->b[i] != b->b[i])
            return false;
    return true;
}

/* out gets 64 lowercase hex digits and a NUL. */
void digest_to_hex(const strata_digest *d, char out[DIGEST_HEX_LEN + 1]);
/* out gets "sha256:<hex>" and a NUL. */
void digest_format(const strata_digest *d, char out[DIGEST_STR_LEN + 1]);
/* Accepts "sha256:<hex>" (any case); anything else is STRATA_E_INVALID. */
strata_err *digest_parse(const char *s, strata_digest *out);
/* True when s looks like a digest rather than a ref name. */
bool digest_looks_like(const char *s);
/* Accepts exactly 64 hex digits (for object file names). */
bool digest_from_hex(const char *hex, size_t len, strata_digest *out);

#endif
