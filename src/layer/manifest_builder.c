/* The manifest encoder: collects entries in any order and writes the one
 * canonical encoding of the tree they describe (see layer/manifest.h).
 *
 * Everything a decoder would reject is refused here first, as
 * STRATA_E_INVALID naming the path, so that a manifest strata writes is
 * always one it can read back: single entries when they are added, and the
 * tree as a whole (duplicates, parents) when it is encoded. */
#include "layer/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"

/* Paths and targets live in one arena, addressed by offset while entries
 * are still being added (the arena moves as it grows). */
typedef struct bentry {
    const char *path; /* set from path_off just before sorting */
    size_t path_off;
    size_t target_off; /* symlinks only */
    uint64_t size;
    strata_digest digest;
    uint16_t path_len;
    uint16_t target_len;
    uint16_t mode;
    uint8_t kind;
    uint8_t flags;
} bentry;

struct manifest_builder {
    uint32_t root_mode;
    bentry *v;
    size_t n, cap;
    char *arena;
    size_t arena_len, arena_cap;
};

/* More entries could never fit under MANIFEST_MAX_BYTES, so refusing them at
 * add time keeps the count well inside uint32_t. */
#define MAX_ENTRIES (MANIFEST_MAX_BYTES / 6)

manifest_builder *manifest_builder_new(uint32_t root_mode)
{
    manifest_builder *b = calloc(1, sizeof(*b));
    if (b)
        b->root_mode = root_mode;
    return b;
}

void manifest_builder_free(manifest_builder *b)
{
    if (!b)
        return;
    free(b->v);
    free(b->arena);
    free(b);
}

uint32_t manifest_builder_count(const manifest_builder *b)
{
    return (uint32_t)b->n;
}

static strata_err *oom(void)
{
    return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory building a manifest");
}

static bool arena_put(manifest_builder *b, const char *s, size_t len, size_t *off)
{
    if (b->arena_cap - b->arena_len < len + 1) {
        size_t cap = b->arena_cap ? b->arena_cap : 4096;
        while (cap - b->arena_len < len + 1) {
            if (cap > SIZE_MAX / 2)
                return false;
            cap *= 2;
        }
        char *a = realloc(b->arena, cap);
        if (!a)
            return false;
        b->arena = a;
        b->arena_cap = cap;
    }
    memcpy(b->arena + b->arena_len, s, len);
    b->arena[b->arena_len + len] = '\0';
    *off = b->arena_len;
    b->arena_len += len + 1;
    return true;
}

/* Names the path first: the caller is usually an import walking a tree,
 * and the path is what its user needs to find the culprit. */
static strata_err *invalid(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static strata_err *invalid(const char *path, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&what, fmt, ap);
    va_end(ap);
    strata_err *e = strata_err_new(STRATA_E_INVALID, NULL, "manifest entry '%.200s': %s", path,
                                   n >= 0 ? what : "invalid");
    if (n >= 0)
        free(what);
    return e;
}

/* Checks one entry on its own, before anything is copied, so that a
 * refused entry leaves the builder as it was. */
static strata_err *check_entry(manifest_kind kind, unsigned flags, const char *path, size_t plen,
                               uint16_t mode, uint64_t size, const strata_digest *digest,
                               const char *target)
{
    if (kind != MANIFEST_FILE && kind != MANIFEST_DIR && kind != MANIFEST_SYMLINK &&
        kind != MANIFEST_WHITEOUT)
        return invalid(path, "unknown kind %d", (int)kind);
    if (flags & ~(unsigned)MANIFEST_F_OPAQUE)
        return invalid(path, "unknown flags 0x%x", flags);
    if ((flags & MANIFEST_F_OPAQUE) && kind != MANIFEST_DIR)
        return invalid(path, "only a directory can be opaque");
    strata_err *e = path_validate(path, plen);
    if (e)
        return strata_err_wrap(e, "manifest entry");
    if (mode > 0777)
        return invalid(path, "mode 0%o has bits beyond 0777", mode);
    if (kind != MANIFEST_SYMLINK && target)
        return invalid(path, "only a symlink has a target");
    switch (kind) {
    case MANIFEST_FILE:
        if (size == 0 && digest && !digest_eq(digest, &digest_empty))
            return invalid(path, "an empty file must carry the empty digest");
        if (size != 0 && !digest)
            return invalid(path, "a file of %llu bytes needs a digest", (unsigned long long)size);
        if (size != 0 && digest_eq(digest, &digest_empty))
            return invalid(path, "a file of %llu bytes cannot carry the empty digest",
                           (unsigned long long)size);
        break;
    case MANIFEST_SYMLINK: {
        if (mode != 0777)
            return invalid(path, "symlink mode 0%o is not 0777", mode);
        if (!target)
            return invalid(path, "a symlink needs a target");
        size_t tlen = strlen(target);
        if (tlen == 0)
            return invalid(path, "a symlink target cannot be empty");
        if (tlen > PATH_TREE_MAX)
            return invalid(path, "symlink target of %zu bytes is longer than %d", tlen,
                           PATH_TREE_MAX);
        break;
    }
    case MANIFEST_WHITEOUT:
        if (mode != 0 || size != 0 || digest)
            return invalid(path, "a whiteout has mode 0 and no size or digest");
        break;
    case MANIFEST_DIR:
        break;
    }
    return NULL;
}

strata_err *manifest_builder_add(manifest_builder *b, manifest_kind kind, const char *path,
                                 uint16_t mode, uint64_t size, const strata_digest *digest,
                                 const char *target)
{
    return manifest_builder_add_flags(b, kind, 0, path, mode, size, digest, target);
}

strata_err *manifest_builder_add_flags(manifest_builder *b, manifest_kind kind, unsigned flags,
                                       const char *path, uint16_t mode, uint64_t size,
                                       const strata_digest *digest, const char *target)
{
    if (!path)
        return strata_err_new(STRATA_E_INVALID, NULL, "manifest entry without a path");
    size_t plen = strlen(path);
    strata_err *e = check_entry(kind, flags, path, plen, mode, size, digest, target);
    if (e)
        return e;
    if (b->n >= MAX_ENTRIES)
        return strata_err_new(STRATA_E_INVALID, "split the tree into several layers",
                              "a manifest holds at most %u entries", (unsigned)MAX_ENTRIES);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        bentry *v = realloc(b->v, cap * sizeof(*v));
        if (!v)
            return oom();
        b->v = v;
        b->cap = cap;
    }
    bentry *en = &b->v[b->n];
    memset(en, 0, sizeof(*en));
    size_t arena_mark = b->arena_len;
    if (!arena_put(b, path, plen, &en->path_off))
        return oom();
    en->path_len = (uint16_t)plen;
    en->mode = mode;
    en->kind = (uint8_t)kind;
    en->flags = (uint8_t)flags;
    if (kind == MANIFEST_FILE) {
        en->size = size;
        en->digest = size == 0 ? digest_empty : *digest;
    } else if (kind == MANIFEST_SYMLINK) {
        size_t tlen = strlen(target);
        if (!arena_put(b, target, tlen, &en->target_off)) {
            b->arena_len = arena_mark;
            return oom();
        }
        en->target_len = (uint16_t)tlen;
        en->size = tlen;
    }
    b->n++;
    return NULL;
}

static int bentry_cmp(const void *pa, const void *pb)
{
    const bentry *a = pa, *b = pb;
    return path_cmp(a->path, a->path_len, b->path, b->path_len);
}

/* Binary search over the sorted entries, for the parent check. */
static const bentry *find_sorted(const manifest_builder *b, const char *p, size_t len)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = path_cmp(b->v[mid].path, b->v[mid].path_len, p, len);
        if (c == 0)
            return &b->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Sorts into tree order and checks what only the whole tree shows. */
static strata_err *sort_and_check(manifest_builder *b)
{
    for (size_t i = 0; i < b->n; i++)
        b->v[i].path = b->arena + b->v[i].path_off;
    if (b->n > 1)
        qsort(b->v, b->n, sizeof(*b->v), bentry_cmp);
    for (size_t i = 0; i < b->n; i++) {
        const bentry *en = &b->v[i];
        if (i > 0 && bentry_cmp(&b->v[i - 1], en) == 0)
            return strata_err_new(STRATA_E_INVALID, NULL, "manifest entry '%.200s' added twice",
                                  en->path);
        size_t plen = path_parent_len(en->path, en->path_len);
        if (plen == 0)
            continue;
        const bentry *parent = find_sorted(b, en->path, plen);
        if (!parent)
            return strata_err_new(STRATA_E_INVALID, NULL,
                                  "manifest entry '%.200s': parent directory '%.*s' was not added",
                                  en->path, (int)(plen > 200 ? 200 : plen), en->path);
        if (parent->kind != MANIFEST_DIR)
            return strata_err_new(STRATA_E_INVALID, NULL,
                                  "manifest entry '%.200s': parent '%.*s' is a %s, not a "
                                  "directory",
                                  en->path, (int)(plen > 200 ? 200 : plen), en->path,
                                  manifest_kind_name(parent->kind));
    }
    return NULL;
}

strata_err *manifest_builder_encode(manifest_builder *b, strata_buf *out)
{
    if (b->root_mode > 0777)
        return strata_err_new(STRATA_E_INVALID, NULL, "root mode 0%o has bits beyond 0777",
                              b->root_mode);
    strata_err *e = sort_and_check(b);
    if (e)
        return e;

    /* Version 2 only when the tree needs it, so plain trees keep the
     * digest they have always had. */
    uint32_t version = MANIFEST_VERSION;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].kind == MANIFEST_WHITEOUT || (b->v[i].flags & MANIFEST_F_OPAQUE))
            version = MANIFEST_VERSION_DIFF;
    size_t start = out->len;
    buf_append(out, MANIFEST_MAGIC, 8);
    buf_put_u32le(out, version);
    buf_put_u32le(out, b->root_mode);
    buf_put_u32le(out, (uint32_t)b->n);
    buf_put_u64le(out, 0); /* body length, patched below */
    for (size_t i = 0; i < b->n && !out->oom; i++) {
        const bentry *en = &b->v[i];
        /* On the wire, an opaque directory is a kind of its own (5). */
        buf_put_u8(out, (en->flags & MANIFEST_F_OPAQUE) ? 5 : en->kind);
        buf_put_u16le(out, en->mode);
        buf_put_u16le(out, en->path_len);
        buf_append(out, en->path, en->path_len);
        if (en->kind == MANIFEST_FILE) {
            buf_put_u64le(out, en->size);
            buf_append(out, en->digest.b, DIGEST_LEN);
        } else if (en->kind == MANIFEST_SYMLINK) {
            buf_put_u16le(out, en->target_len);
            buf_append(out, b->arena + en->target_off, en->target_len);
        }
    }
    if (out->oom) {
        out->len = start;
        return oom();
    }
    size_t total = out->len - start;
    if (total > MANIFEST_MAX_BYTES) {
        out->len = start;
        return strata_err_new(STRATA_E_INVALID, "split the tree into several layers",
                              "the manifest would take %zu bytes, more than the 1 GiB limit",
                              total);
    }
    uint64_t body = total - MANIFEST_HEADER_LEN;
    for (int k = 0; k < 8; k++)
        out->data[start + 20 + k] = (uint8_t)(body >> (8 * k));
    return NULL;
}
