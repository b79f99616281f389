/* libFuzzer target for the manifest decoder.
 *
 * Beyond "no crash, no out-of-bounds read" (the sanitizers' job), it checks
 * the decoder's promise of canonical form: whatever it accepts must be what
 * the builder writes for the same entries, byte for byte, and the decoded
 * tree structure (find, parent, end, child iteration) must agree with
 * itself. Any disagreement aborts, which libFuzzer reports as a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer/manifest.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_manifest: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_reencode(const manifest *m, const uint8_t *data, size_t size)
{
    manifest_builder *b = manifest_builder_new(m->root_mode);
    if (!b)
        fail("out of memory", NULL);
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        strata_err *e =
            manifest_builder_add_flags(b, (manifest_kind)en->kind, en->flags, en->path, en->mode,
                                       en->kind == MANIFEST_WHITEOUT ? 0 : en->size,
                                       en->kind == MANIFEST_FILE ? &en->digest : NULL, en->target);
        if (e)
            fail("the builder refused a decoded entry", e->msg);
    }
    strata_buf out;
    buf_init(&out);
    strata_err *e = manifest_builder_encode(b, &out);
    if (e)
        fail("the builder refused a decoded tree", e->msg);
    if (out.len != size || memcmp(out.data, data, size) != 0)
        fail("re-encoding gave different bytes", NULL);
    buf_free(&out);
    manifest_builder_free(b);
}

static void check_structure(const manifest *m)
{
    if (m->root_end != m->count)
        fail("root_end != count", NULL);
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        if (manifest_find(m, en->path, en->path_len) != (int64_t)i)
            fail("find did not return the entry's own index", en->path);
        if (strlen(en->path) != en->path_len)
            fail("path_len disagrees with the string", en->path);
        if (en->end <= i || en->end > m->count || (en->kind != MANIFEST_DIR && en->end != i + 1))
            fail("bad end", en->path);
        if (en->parent != MANIFEST_ROOT) {
            const manifest_entry *p = &m->entries[en->parent];
            if (en->parent >= i || p->kind != MANIFEST_DIR || en->end > p->end ||
                en->name_off != p->path_len + 1 || memcmp(p->path, en->path, p->path_len) != 0)
                fail("bad parent", en->path);
        } else if (en->name_off != 0) {
            fail("top-level entry with a name offset", en->path);
        }
    }
    /* Iterating every directory's children visits each entry exactly once. */
    uint64_t visited = 0;
    for (uint64_t d = 0; d <= m->count; d++) {
        uint32_t dir = d == m->count ? MANIFEST_ROOT : (uint32_t)d;
        for (uint32_t c = manifest_child_first(m, dir); c != MANIFEST_ROOT;
             c = manifest_child_next(m, c)) {
            if (c >= m->count || m->entries[c].parent != dir)
                fail("child iteration left its directory", NULL);
            if (++visited > m->count)
                fail("child iteration visits too much", NULL);
        }
    }
    if (visited != m->count)
        fail("child iteration missed entries", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    manifest *m = NULL;
    strata_err *e = manifest_decode(data, size, &m);
    if (e) {
        if (e->code != STRATA_E_CORRUPT && e->code != STRATA_E_NOMEM)
            fail("decode failed with a code other than corrupt", e->msg);
        if (m)
            fail("decode failed but set its result", NULL);
        strata_err_free(e);
        return 0;
    }
    check_structure(m);
    check_reencode(m, data, size);
    manifest_free(m);
    return 0;
}
