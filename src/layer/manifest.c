/* The manifest decoder and the read side of a decoded manifest: lookup by
 * path and iteration over a directory's children.
 *
 * A manifest blob may come from a damaged store or from anyone, so the
 * decoder trusts nothing in it: every length is checked against the bytes
 * that are really there before it is used, and the result is accepted only
 * if it is exactly what manifest_builder_encode would have written. */
#include "layer/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"

#define CORRUPT_HINT                                                                               \
    "the layer's manifest is damaged or was not written by strata; run 'strata fsck', "            \
    "then re-import the layer's source"

/* The smallest entry: kind, mode, path length and a one-byte path. */
#define ENTRY_MIN_LEN   6
#define ENTRY_FIXED_LEN 5
#define FILE_TAIL_LEN   (8 + DIGEST_LEN)
/* Version 2's opaque directory, on the wire. */
#define WIRE_OPAQUE_DIR 5

/* A path of PATH_TREE_MAX bytes has at most this many components, so the
 * chain of open directories is never deeper. */
#define MAX_DEPTH (PATH_TREE_MAX / 2 + 1)

typedef struct decoder {
    uint32_t version;
    bool diff_seen; /* a whiteout or opaque directory was read */
    const uint8_t *p;
    size_t len;
    size_t pos;
    manifest_entry *entries;
    uint32_t stack[MAX_DEPTH];
    uint32_t depth;
} decoder;

static strata_err *hdr_corrupt(const char *hint, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static strata_err *hdr_corrupt(const char *hint, size_t off, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&what, fmt, ap);
    va_end(ap);
    strata_err *e =
        strata_err_new(STRATA_E_CORRUPT, hint ? hint : CORRUPT_HINT,
                       "manifest header, byte %zu: %s", off, n >= 0 ? what : "invalid header");
    if (n >= 0)
        free(what);
    return e;
}

/* Every entry defect says which entry and where it starts, so that a
 * damaged blob can be inspected with a hex dump. */
static strata_err *entry_corrupt(uint32_t i, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static strata_err *entry_corrupt(uint32_t i, size_t off, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&what, fmt, ap);
    va_end(ap);
    strata_err *e =
        strata_err_new(STRATA_E_CORRUPT, CORRUPT_HINT, "manifest entry %u at byte %zu: %s", i, off,
                       n >= 0 ? what : "invalid entry");
    if (n >= 0)
        free(what);
    return e;
}

/* Paths in messages are cut short: a 4 KiB path helps nobody read it. */
static int shown(uint32_t len)
{
    return len > 80 ? 80 : (int)len;
}

/* True when d is an ancestor of p: p begins with d's path and a '/'. */
static bool is_ancestor(const manifest_entry *d, const char *p, uint32_t len)
{
    return d->path_len < len && p[d->path_len] == '/' && memcmp(d->path, p, d->path_len) == 0;
}

/* Checks the entry's place in the tree: strictly after the previous entry
 * in tree order, and directly inside the innermost open directory. The
 * stack of open directories replaces a lookup per entry: tree order puts a
 * directory's whole subtree right after it, so a directory closes exactly
 * when an entry outside it appears. */
static strata_err *place_entry(decoder *d, uint32_t i, size_t off)
{
    manifest_entry *en = &d->entries[i];
    if (i > 0) {
        const manifest_entry *prev = &d->entries[i - 1];
        int c = path_cmp(prev->path, prev->path_len, en->path, en->path_len);
        if (c == 0)
            return entry_corrupt(i, off, "duplicate path '%.*s'", shown(en->path_len), en->path);
        if (c > 0)
            return entry_corrupt(i, off, "path '%.*s' is not in tree order: it sorts before '%.*s'",
                                 shown(en->path_len), en->path, shown(prev->path_len), prev->path);
    }
    while (d->depth > 0) {
        manifest_entry *top = &d->entries[d->stack[d->depth - 1]];
        if (is_ancestor(top, en->path, en->path_len))
            break;
        top->end = i;
        d->depth--;
    }
    uint32_t plen = (uint32_t)path_parent_len(en->path, en->path_len);
    en->name_off = plen ? plen + 1 : 0;
    if (plen == 0) {
        en->parent = MANIFEST_ROOT;
    } else if (d->depth > 0 && d->entries[d->stack[d->depth - 1]].path_len == plen) {
        en->parent = d->stack[d->depth - 1];
    } else {
        /* Tree order puts a non-directory parent right before its would-be
         * child, which lets the message say precisely what is wrong. */
        const manifest_entry *prev = i > 0 ? &d->entries[i - 1] : NULL;
        const char *why = "has no directory entry before it";
        if (prev && prev->path_len == plen && memcmp(prev->path, en->path, plen) == 0)
            why = prev->kind == MANIFEST_FILE       ? "is a file, not a directory"
                  : prev->kind == MANIFEST_WHITEOUT ? "is a whiteout, not a directory"
                                                    : "is a symlink, not a directory";
        return entry_corrupt(i, off, "parent '%.*s' of '%.*s' %s", shown(plen), en->path,
                             shown(en->path_len), en->path, why);
    }
    en->end = i + 1;
    if (en->kind == MANIFEST_DIR) {
        if (d->depth >= MAX_DEPTH)
            return entry_corrupt(i, off, "directories nested too deeply");
        d->stack[d->depth++] = i;
    }
    return NULL;
}

/* Reads one entry at d->pos into entries[i], with path and target still
 * pointing into the input (copy_strings moves them once all is valid). */
static strata_err *read_entry(decoder *d, uint32_t i, uint32_t count)
{
    size_t off = d->pos;
    size_t left = d->len - off;
    manifest_entry *en = &d->entries[i];
    if (left < ENTRY_MIN_LEN)
        return entry_corrupt(i, off,
                             "truncated: %zu bytes left, but the header counts %u entries "
                             "(an entry needs at least %d)",
                             left, count, ENTRY_MIN_LEN);
    const uint8_t *p = d->p + off;
    uint8_t kind = p[0];
    uint16_t mode = buf_get_u16le(p + 1);
    uint16_t plen = buf_get_u16le(p + 3);
    uint8_t flags = 0;
    if (kind == WIRE_OPAQUE_DIR || kind == MANIFEST_WHITEOUT) {
        if (d->version < MANIFEST_VERSION_DIFF)
            return entry_corrupt(i, off,
                                 "kind %u needs format version %d, the manifest is "
                                 "version %u",
                                 kind, MANIFEST_VERSION_DIFF, d->version);
        d->diff_seen = true;
        if (kind == WIRE_OPAQUE_DIR) {
            kind = MANIFEST_DIR;
            flags = MANIFEST_F_OPAQUE;
        }
    } else if (kind < MANIFEST_FILE || kind > MANIFEST_SYMLINK) {
        return entry_corrupt(i, off, "unknown kind %u", kind);
    }
    if (mode > 0777)
        return entry_corrupt(i, off, "mode 0%o has bits beyond 0777", mode);
    if (kind == MANIFEST_WHITEOUT && mode != 0)
        return entry_corrupt(i, off, "whiteout mode 0%o is not 0", mode);
    if (kind == MANIFEST_SYMLINK && mode != 0777)
        return entry_corrupt(i, off, "symlink mode 0%o is not 0777", mode);
    if (plen == 0)
        return entry_corrupt(i, off, "empty path");
    if (plen > PATH_TREE_MAX)
        return entry_corrupt(i, off, "path of %u bytes is longer than %d", plen, PATH_TREE_MAX);
    if (left - ENTRY_FIXED_LEN < plen)
        return entry_corrupt(i, off, "truncated: path of %u bytes, only %zu bytes left", plen,
                             left - ENTRY_FIXED_LEN);
    const char *path = (const char *)p + ENTRY_FIXED_LEN;
    strata_err *pe = path_validate(path, plen);
    if (pe) {
        strata_err *e = entry_corrupt(i, off, "%s", pe->msg);
        strata_err_free(pe);
        return e;
    }
    size_t pos = off + ENTRY_FIXED_LEN + plen;
    left = d->len - pos;

    en->path = path;
    en->path_len = plen;
    en->target = NULL;
    en->size = 0;
    memset(&en->digest, 0, sizeof(en->digest));
    en->mode = mode;
    en->kind = kind;
    en->flags = flags;

    if (kind == MANIFEST_FILE) {
        if (left < FILE_TAIL_LEN)
            return entry_corrupt(i, off,
                                 "truncated: a file needs %d bytes of size and digest, only %zu "
                                 "left",
                                 FILE_TAIL_LEN, left);
        en->size = buf_get_u64le(d->p + pos);
        memcpy(en->digest.b, d->p + pos + 8, DIGEST_LEN);
        bool empty_digest = digest_eq(&en->digest, &digest_empty);
        if (en->size == 0 && !empty_digest)
            return entry_corrupt(i, off, "empty file '%.*s' whose digest is not the empty digest",
                                 shown(plen), path);
        if (en->size != 0 && empty_digest)
            return entry_corrupt(i, off, "file '%.*s' of %llu bytes carries the empty digest",
                                 shown(plen), path, (unsigned long long)en->size);
        pos += FILE_TAIL_LEN;
    } else if (kind == MANIFEST_SYMLINK) {
        if (left < 2)
            return entry_corrupt(i, off, "truncated: symlink target length missing");
        uint16_t tlen = buf_get_u16le(d->p + pos);
        if (tlen == 0)
            return entry_corrupt(i, off, "symlink '%.*s' has an empty target", shown(plen), path);
        if (tlen > PATH_TREE_MAX)
            return entry_corrupt(i, off, "symlink target of %u bytes is longer than %d", tlen,
                                 PATH_TREE_MAX);
        if (left - 2 < tlen)
            return entry_corrupt(i, off, "truncated: symlink target of %u bytes, only %zu left",
                                 tlen, left - 2);
        const char *target = (const char *)d->p + pos + 2;
        if (memchr(target, '\0', tlen))
            return entry_corrupt(i, off, "symlink '%.*s' has a NUL byte in its target", shown(plen),
                                 path);
        en->target = target;
        en->size = tlen;
        pos += 2 + (size_t)tlen;
    }
    d->pos = pos;
    return place_entry(d, i, off);
}

/* Moves every path and target out of the input into one allocation of
 * exactly the needed size, so the manifest outlives the input bytes. */
static strata_err *copy_strings(manifest *m)
{
    size_t total = 1;
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        total += (size_t)en->path_len + 1;
        if (en->target)
            total += (size_t)en->size + 1;
    }
    char *s = malloc(total);
    if (!s)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory decoding a manifest");
    size_t n = 0;
    for (uint32_t i = 0; i < m->count; i++) {
        manifest_entry *en = &m->entries[i];
        memcpy(s + n, en->path, en->path_len);
        s[n + en->path_len] = '\0';
        en->path = s + n;
        n += (size_t)en->path_len + 1;
        if (en->target) {
            memcpy(s + n, en->target, (size_t)en->size);
            s[n + en->size] = '\0';
            en->target = s + n;
            n += (size_t)en->size + 1;
        }
    }
    s[n] = '\0';
    m->strings = s;
    return NULL;
}

static strata_err *decode_header(const uint8_t *p, size_t len, uint32_t *version,
                                 uint32_t *root_mode, uint32_t *count)
{
    if (len < MANIFEST_HEADER_LEN)
        return hdr_corrupt(NULL, len, "truncated: %zu bytes, fewer than the %d-byte header", len,
                           MANIFEST_HEADER_LEN);
    if (len > MANIFEST_MAX_BYTES)
        return hdr_corrupt(NULL, 0, "%zu bytes, more than the 1 GiB limit for a manifest", len);
    if (memcmp(p, MANIFEST_MAGIC, 8) != 0)
        return hdr_corrupt(NULL, 0, "bad magic: not a strata manifest");
    *version = buf_get_u32le(p + 8);
    if (*version != MANIFEST_VERSION && *version != MANIFEST_VERSION_DIFF)
        return hdr_corrupt("the manifest is damaged or was written by a newer strata; run "
                           "'strata fsck', or upgrade strata",
                           8, "unknown format version %u (this strata reads versions %d and %d)",
                           *version, MANIFEST_VERSION, MANIFEST_VERSION_DIFF);
    *root_mode = buf_get_u32le(p + 12);
    if (*root_mode > 0777)
        return hdr_corrupt(NULL, 12, "root mode 0%o has bits beyond 0777", *root_mode);
    *count = buf_get_u32le(p + 16);
    uint64_t body = buf_get_u64le(p + 20);
    uint64_t actual = len - MANIFEST_HEADER_LEN;
    if (body > actual)
        return hdr_corrupt(NULL, 20,
                           "sizes that do not match: body length %llu, but only %llu bytes "
                           "follow the header (truncated)",
                           (unsigned long long)body, (unsigned long long)actual);
    if (body < actual)
        return hdr_corrupt(NULL, 20,
                           "sizes that do not match: body length %llu, but %llu bytes follow "
                           "the header (trailing bytes)",
                           (unsigned long long)body, (unsigned long long)actual);
    if (*count > body / ENTRY_MIN_LEN)
        return hdr_corrupt(NULL, 16,
                           "entry count %u cannot fit in a body of %llu bytes (an entry takes "
                           "at least %d)",
                           *count, (unsigned long long)body, ENTRY_MIN_LEN);
    return NULL;
}

strata_err *manifest_decode_header(const void *hdr, size_t blob_len, uint32_t *version,
                                   uint32_t *root_mode)
{
    uint32_t count;
    return decode_header(hdr, blob_len, version, root_mode, &count);
}

strata_err *manifest_decode(const void *data, size_t len, manifest **out)
{
    *out = NULL;
    const uint8_t *p = data;
    uint32_t version = 0, root_mode = 0, count = 0;
    strata_err *e = decode_header(p, p ? len : 0, &version, &root_mode, &count);
    if (e)
        return e;

    manifest *m = calloc(1, sizeof(*m));
    decoder *d = malloc(sizeof(*d));
    manifest_entry *entries = malloc((count ? count : 1) * sizeof(*entries));
    if (!m || !d || !entries) {
        free(m);
        free(d);
        free(entries);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory decoding a manifest");
    }
    m->version = version;
    m->root_mode = root_mode;
    m->count = count;
    m->root_end = count;
    m->entries = entries;
    d->version = version;
    d->diff_seen = false;
    d->p = p;
    d->len = len;
    d->pos = MANIFEST_HEADER_LEN;
    d->entries = entries;
    d->depth = 0;

    for (uint32_t i = 0; !e && i < count; i++)
        e = read_entry(d, i, count);
    if (!e && d->pos != len)
        e = strata_err_new(STRATA_E_CORRUPT, CORRUPT_HINT,
                           "manifest at byte %zu: entry count %u does not match: %zu bytes left "
                           "after the last entry",
                           d->pos, count, len - d->pos);
    if (!e && version == MANIFEST_VERSION_DIFF && !d->diff_seen)
        e = hdr_corrupt(NULL, 8,
                        "format version 2 without a whiteout or opaque directory (not "
                        "canonical: such a tree is written as version 1)");
    if (!e) {
        while (d->depth > 0)
            entries[d->stack[--d->depth]].end = count;
        e = copy_strings(m);
    }
    free(d);
    if (e) {
        free(entries);
        free(m);
        return e;
    }
    *out = m;
    return NULL;
}

void manifest_free(manifest *m)
{
    if (!m)
        return;
    free(m->entries);
    free(m->strings);
    free(m);
}

int64_t manifest_find(const manifest *m, const char *path, size_t len)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const manifest_entry *en = &m->entries[mid];
        int c = path_cmp(en->path, en->path_len, path, len);
        if (c == 0)
            return (int64_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

uint32_t manifest_child_first(const manifest *m, uint32_t dir)
{
    if (dir == MANIFEST_ROOT)
        return m->count > 0 ? 0 : MANIFEST_ROOT;
    if (dir >= m->count || m->entries[dir].kind != MANIFEST_DIR)
        return MANIFEST_ROOT;
    return dir + 1 < m->entries[dir].end ? dir + 1 : MANIFEST_ROOT;
}

uint32_t manifest_child_next(const manifest *m, uint32_t child)
{
    if (child >= m->count)
        return MANIFEST_ROOT;
    const manifest_entry *en = &m->entries[child];
    uint32_t limit = en->parent == MANIFEST_ROOT ? m->root_end : m->entries[en->parent].end;
    return en->end < limit ? en->end : MANIFEST_ROOT;
}

const char *manifest_kind_name(manifest_kind k)
{
    switch (k) {
    case MANIFEST_FILE:
        return "file";
    case MANIFEST_DIR:
        return "dir";
    case MANIFEST_SYMLINK:
        return "symlink";
    case MANIFEST_WHITEOUT:
        return "whiteout";
    }
    return "unknown";
}
