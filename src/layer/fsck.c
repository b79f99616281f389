/* fsck: is every blob intact, and does every ref lead to a whole layer?
 * The store re-hashes the bytes; this file checks what only manifests can
 * say: that each ref's manifest decodes and that every file it names is
 * present with the recorded size. Problems are reported, never repaired:
 * the user decides what to re-import or delete. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer/layer.h"

typedef struct fsck_ctx {
    layer_fsck_fn fn;
    void *ctx;
} fsck_ctx;

static void fsck_blob_problem(void *arg, const strata_digest *d, store_fsck_problem p,
                              const char *detail)
{
    fsck_ctx *c = arg;
    char name[DIGEST_STR_LEN + 1];
    digest_format(d, name);
    const char *what = p == STORE_FSCK_MISMATCH  ? "content does not match its digest"
                       : p == STORE_FSCK_SIZE    ? "size differs from the recorded size"
                       : p == STORE_FSCK_MISSING ? "spilled file is missing"
                                                 : "cannot be read";
    char *line = NULL;
    if (detail && *detail && asprintf(&line, "%s (%s)", what, detail) < 0)
        line = NULL;
    if (c->fn)
        c->fn(c->ctx, name, line ? line : what);
    free(line);
}

static void report(layer_fsck_fn fn, void *ctx, const char *ref, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(layer_fsck_fn fn, void *ctx, const char *ref, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    char *what = NULL;
    if (asprintf(&what, "ref %s", ref) < 0)
        what = NULL;
    if (fn)
        fn(ctx, what ? what : ref, msg ? msg : "problem (out of memory describing it)");
    free(what);
    free(msg);
}

/* Returns true when the ref's layer is whole. */
static bool fsck_ref(store *s, const char *ref, const strata_digest *d, layer_fsck_fn fn, void *ctx)
{
    manifest *m = NULL;
    strata_err *e = layer_load(s, d, &m);
    if (e) {
        report(fn, ctx, ref, "%s", e->msg);
        strata_err_free(e);
        return false;
    }
    bool ok = true;
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        if (en->kind != MANIFEST_FILE)
            continue;
        bool present = false;
        uint64_t size = 0;
        char name[DIGEST_STR_LEN + 1];
        digest_format(&en->digest, name);
        e = store_has(s, &en->digest, &present, &size);
        if (e) {
            report(fn, ctx, ref, "%s: %s", en->path, e->msg);
            strata_err_free(e);
            ok = false;
        } else if (!present) {
            report(fn, ctx, ref, "%s: blob %s is missing", en->path, name);
            ok = false;
        } else if (size != en->size) {
            report(fn, ctx, ref, "%s: blob %s has %llu bytes, the manifest says %llu", en->path,
                   name, (unsigned long long)size, (unsigned long long)en->size);
            ok = false;
        }
    }
    manifest_free(m);
    return ok;
}

strata_err *layer_fsck(store *s, layer_fsck_fn fn, void *ctx, layer_fsck_stats *stats)
{
    layer_fsck_stats local;
    memset(&local, 0, sizeof(local));
    fsck_ctx c = {.fn = fn, .ctx = ctx};
    strata_err *e = store_fsck(s, fsck_blob_problem, &c, &local.blobs);
    if (e)
        return e;
    layer_refs refs;
    e = layer_refs_list(s, &refs);
    for (size_t i = 0; !e && i < refs.n; i++) {
        local.refs++;
        if (!fsck_ref(s, refs.names[i], &refs.digests[i], fn, ctx))
            local.refs_bad++;
    }
    layer_refs_free(&refs);
    if (stats)
        *stats = local;
    return e;
}
