/* A growable byte buffer, used to build encodings (manifests, later RPC
 * replies) without a size known in advance. Appends never fail silently:
 * an allocation failure sets buf.oom, and the caller checks it once. */
#ifndef STRATA_BASE_BUF_H
#define STRATA_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strata_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool oom;
} strata_buf;

void buf_init(strata_buf *b);
void buf_free(strata_buf *b);
/* Makes room for n more bytes; false (and b->oom) when out of memory. */
bool buf_reserve(strata_buf *b, size_t n);
void buf_append(strata_buf *b, const void *data, size_t n);
void buf_put_u8(strata_buf *b, uint8_t v);
void buf_put_u16le(strata_buf *b, uint16_t v);
void buf_put_u32le(strata_buf *b, uint32_t v);
void buf_put_u64le(strata_buf *b, uint64_t v);

static inline uint16_t buf_get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t buf_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t buf_get_u64le(const uint8_t *p)
{
    return (uint64_t)buf_get_u32le(p) | (uint64_t)buf_get_u32le(p + 4) << 32;
}

#endif
