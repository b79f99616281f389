/* sha256 through OpenSSL's EVP interface. The algorithm is fetched once per
 * process: OpenSSL 3 otherwise looks it up again on every init, which costs
 * more than hashing a small file. */
#include "base/digest.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct digest_ctx {
    EVP_MD_CTX *md;
};

const strata_digest digest_empty = {{
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
}};

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

void digest_buf(const void *data, size_t len, strata_digest *out)
{
    unsigned int n = 0;
    EVP_Digest(data, len, out->b, &n, sha256(), NULL);
}

digest_ctx *digest_begin(void)
{
    digest_ctx *ctx = malloc(sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->md = EVP_MD_CTX_new();
    if (!ctx->md || !EVP_DigestInit_ex(ctx->md, sha256(), NULL)) {
        EVP_MD_CTX_free(ctx->md);
        free(ctx);
        return NULL;
    }
    return ctx;
}

void digest_update(digest_ctx *ctx, const void *data, size_t len)
{
    EVP_DigestUpdate(ctx->md, data, len);
}

void digest_end(digest_ctx *ctx, strata_digest *out)
{
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx->md, out->b, &n);
    digest_abort(ctx);
}

void digest_abort(digest_ctx *ctx)
{
    if (!ctx)
        return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

void digest_to_hex(const strata_digest *d, char out[DIGEST_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < DIGEST_LEN; i++) {
        out[2 * i] = hex[d->b[i] >> 4];
        out[2 * i + 1] = hex[d->b[i] & 15];
    }
    out[DIGEST_HEX_LEN] = '\0';
}

void digest_format(const strata_digest *d, char out[DIGEST_STR_LEN + 1])
{
    memcpy(out, DIGEST_PREFIX, 7);
    digest_to_hex(d, out + 7);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool digest_from_hex(const char *hex, size_t len, strata_digest *out)
{
    if (len != DIGEST_HEX_LEN)
        return false;
    for (int i = 0; i < DIGEST_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool digest_looks_like(const char *s)
{
    return strncmp(s, DIGEST_PREFIX, 7) == 0;
}

strata_err *digest_parse(const char *s, strata_digest *out)
{
    if (!digest_looks_like(s) || !digest_from_hex(s + 7, strlen(s + 7), out))
        return strata_err_new(STRATA_E_INVALID,
                              "a digest is written sha256: followed by 64 hex digits",
                              "'%s' is not a valid digest", s);
    return NULL;
}
