/* From a name the user typed to a decoded manifest: ref names and digests
 * resolve the same way everywhere (ls, cat, export, and later mount). */
#include <stdlib.h>
#include <string.h>

#include "layer/layer.h"

strata_err *layer_resolve(store *s, const char *ref, strata_digest *out)
{
    if (digest_looks_like(ref))
        return digest_parse(ref, out);
    if (!store_ref_name_valid(ref))
        return strata_err_new(STRATA_E_INVALID,
                              "a ref is 1-255 characters of letters, digits and ._+@/:-",
                              "'%s' is not a valid ref name", ref);
    strata_err *e = store_ref_get(s, ref, out);
    if (e && e->code == STRATA_E_NOTFOUND) {
        strata_err_free(e);
        return strata_err_new(STRATA_E_NOTFOUND,
                              "'strata refs' lists the layers in the store; "
                              "import one with 'strata import DIR --name REF'",
                              "no layer named '%s'", ref);
    }
    return e;
}

strata_err *layer_load(store *s, const strata_digest *d, manifest **out)
{
    char name[DIGEST_STR_LEN + 1];
    digest_format(d, name);
    void *data = NULL;
    size_t len = 0;
    strata_err *e = store_get_buf(s, d, MANIFEST_MAX_BYTES, &data, &len);
    if (e) {
        if (e->code == STRATA_E_NOTFOUND)
            strata_err_rehint(e, "the layer's manifest is missing from the store; "
                                 "run 'strata fsck', then re-import the layer");
        return strata_err_wrap(e, "load layer %s", name);
    }
    e = manifest_decode(data, len, out);
    free(data);
    return strata_err_wrap(e, "layer %s", name);
}

strata_err *layer_root_mode(store *s, const strata_digest *d, uint32_t *out)
{
    char name[DIGEST_STR_LEN + 1];
    digest_format(d, name);
    store_reader *r;
    strata_err *e = store_reader_open(s, d, &r);
    if (e) {
        if (e->code == STRATA_E_NOTFOUND)
            strata_err_rehint(e, "the layer's manifest is missing from the store; "
                                 "run 'strata fsck', then re-import the layer");
        return strata_err_wrap(e, "load layer %s", name);
    }
    uint8_t hdr[MANIFEST_HEADER_LEN];
    uint64_t size = store_reader_size(r);
    size_t want = size < sizeof(hdr) ? (size_t)size : sizeof(hdr), got = 0;
    e = store_reader_read(r, hdr, want, 0, &got);
    store_reader_close(r);
    if (!e && got != want)
        e = strata_err_new(STRATA_E_CORRUPT, "run 'strata fsck'",
                           "the manifest blob ended after %zu of %zu bytes", got, want);
    uint32_t version;
    if (!e)
        e = manifest_decode_header(hdr, size > SIZE_MAX ? SIZE_MAX : (size_t)size, &version, out);
    return strata_err_wrap(e, "layer %s", name);
}

typedef struct refs_builder {
    layer_refs *r;
    size_t cap;
    bool oom;
} refs_builder;

static bool refs_add(void *ctx, const char *name, const strata_digest *d)
{
    refs_builder *b = ctx;
    layer_refs *r = b->r;
    if (r->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        char **nn = realloc(r->names, cap * sizeof(*nn));
        if (nn)
            r->names = nn;
        strata_digest *dd = realloc(r->digests, cap * sizeof(*dd));
        if (dd)
            r->digests = dd;
        if (!nn || !dd) {
            b->oom = true;
            return false;
        }
        b->cap = cap;
    }
    if (!(r->names[r->n] = strdup(name))) {
        b->oom = true;
        return false;
    }
    r->digests[r->n++] = *d;
    return true;
}

strata_err *layer_refs_list(store *s, layer_refs *out)
{
    memset(out, 0, sizeof(*out));
    refs_builder b = {.r = out};
    strata_err *e = store_ref_list(s, refs_add, &b);
    if (!e && b.oom)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory listing refs");
    if (e)
        layer_refs_free(out);
    return e;
}

void layer_refs_free(layer_refs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    free(r->digests);
    memset(r, 0, sizeof(*r));
}
