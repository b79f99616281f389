/* Unit tests for the manifest codec: round trips, canonical bytes, tree
 * order, lookup, child iteration, and one case for every defect the decoder
 * and the builder must refuse. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/path.h"
#include "layer/manifest.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct spec {
    manifest_kind kind;
    const char *path;
    uint16_t mode;
    const char *content; /* files */
    const char *target;  /* symlinks */
} spec;

static strata_err *add_spec(manifest_builder *b, const spec *s)
{
    strata_digest d;
    uint64_t size = 0;
    if (s->kind == MANIFEST_FILE) {
        size = strlen(s->content);
        digest_buf(s->content, size, &d);
    }
    return manifest_builder_add(b, s->kind, s->path, s->mode, size,
                                s->kind == MANIFEST_FILE ? &d : NULL, s->target);
}

/* Encodes specs added in the order given by idx (or as listed). */
static void encode_specs(const spec *specs, size_t n, const size_t *idx, uint32_t root_mode,
                         strata_buf *out)
{
    manifest_builder *b = manifest_builder_new(root_mode);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        assert_ok(add_spec(b, &specs[idx ? idx[i] : i]));
    assert_int_equal(manifest_builder_count(b), n);
    buf_init(out);
    assert_ok(manifest_builder_encode(b, out));
    assert_false(out->oom);
    manifest_builder_free(b);
}

/* Re-encodes a decoded manifest through the builder. */
static void reencode(const manifest *m, strata_buf *out)
{
    manifest_builder *b = manifest_builder_new(m->root_mode);
    assert_non_null(b);
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        assert_ok(manifest_builder_add_flags(b, en->kind, en->flags, en->path, en->mode,
                                             en->kind == MANIFEST_WHITEOUT ? 0 : en->size,
                                             en->kind == MANIFEST_FILE ? &en->digest : NULL,
                                             en->target));
    }
    buf_init(out);
    assert_ok(manifest_builder_encode(b, out));
    manifest_builder_free(b);
}

static bool has_prefix_dir(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(p, dir, n) == 0 && p[n] == '/';
}

/* Checks parent, end and name_off against a slow, obvious computation. */
static void check_structure(const manifest *m)
{
    assert_int_equal(m->root_end, m->count);
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        assert_int_equal(strlen(en->path), en->path_len);
        const char *slash = strrchr(en->path, '/');
        assert_int_equal(en->name_off, slash ? (uint32_t)(slash - en->path) + 1 : 0);
        uint32_t parent = MANIFEST_ROOT;
        for (uint32_t j = 0; j < i; j++) {
            const manifest_entry *p = &m->entries[j];
            if (slash && p->path_len == (uint32_t)(slash - en->path) &&
                memcmp(p->path, en->path, p->path_len) == 0)
                parent = j;
        }
        assert_int_equal(en->parent, parent);
        uint32_t end = i + 1;
        if (en->kind == MANIFEST_DIR)
            while (end < m->count && has_prefix_dir(m->entries[end].path, en->path))
                end++;
        assert_int_equal(en->end, end);
    }
}

/* Decoding must fail with STRATA_E_CORRUPT, and the message must contain
 * each given needle (what and where). */
static void expect_corrupt(const void *data, size_t len, const char *n1, const char *n2)
{
    manifest *m = (manifest *)(uintptr_t)1;
    strata_err *e = manifest_decode(data, len, &m);
    if (!e) {
        print_error("decode of %zu bytes succeeded, expected corrupt\n", len);
        manifest_free(m);
        fail();
    }
    assert_null(m);
    if (e->code != STRATA_E_CORRUPT || (n1 && !strstr(e->msg, n1)) || (n2 && !strstr(e->msg, n2))) {
        print_error("got %s: '%s'; want corrupt with '%s' and '%s'\n", strata_code_name(e->code),
                    e->msg, n1 ? n1 : "", n2 ? n2 : "");
        strata_err_free(e);
        fail();
    }
    assert_non_null(e->hint);
    assert_true(strlen(e->hint) > 0);
    strata_err_free(e);
}

/* Hand-made encodings, for defects the builder would never write. */
typedef struct raw {
    strata_buf b;
    uint32_t count;
} raw;

static void raw_begin_v(raw *r, uint32_t version)
{
    buf_init(&r->b);
    r->count = 0;
    buf_append(&r->b, MANIFEST_MAGIC, 8);
    buf_put_u32le(&r->b, version);
    buf_put_u32le(&r->b, 0755);
    buf_put_u32le(&r->b, 0);
    buf_put_u64le(&r->b, 0);
}

static void raw_begin(raw *r)
{
    raw_begin_v(r, MANIFEST_VERSION);
}

static void raw_head(raw *r, uint8_t kind, uint16_t mode, const char *path, size_t plen)
{
    buf_put_u8(&r->b, kind);
    buf_put_u16le(&r->b, mode);
    buf_put_u16le(&r->b, (uint16_t)plen);
    buf_append(&r->b, path, plen);
    r->count++;
}

static void raw_dir(raw *r, const char *path)
{
    raw_head(r, MANIFEST_DIR, 0755, path, strlen(path));
}

static void raw_file_d(raw *r, const char *path, uint16_t mode, uint64_t size,
                       const strata_digest *d)
{
    raw_head(r, MANIFEST_FILE, mode, path, strlen(path));
    buf_put_u64le(&r->b, size);
    buf_append(&r->b, d->b, DIGEST_LEN);
}

static void raw_file(raw *r, const char *path, const char *content)
{
    strata_digest d;
    digest_buf(content, strlen(content), &d);
    raw_file_d(r, path, 0644, strlen(content), &d);
}

static void raw_link(raw *r, const char *path, uint16_t mode, const char *target, size_t tlen)
{
    raw_head(r, MANIFEST_SYMLINK, mode, path, strlen(path));
    buf_put_u16le(&r->b, (uint16_t)tlen);
    buf_append(&r->b, target, tlen);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* Patches count and body length to match what was written. */
static void raw_finish(raw *r, strata_buf *out)
{
    assert_false(r->b.oom);
    put_u32(r->b.data + 16, r->count);
    put_u64(r->b.data + 20, r->b.len - MANIFEST_HEADER_LEN);
    *out = r->b;
}

/* ---- the varied tree ----------------------------------------------------- */

static const spec varied[] = {
    {MANIFEST_DIR, "a", 0755, NULL, NULL},
    {MANIFEST_DIR, "a/b", 0700, NULL, NULL},
    {MANIFEST_DIR, "a/b/c", 0755, NULL, NULL}, /* empty dir */
    {MANIFEST_FILE, "a/b/f.txt", 0644, "hello", NULL},
    {MANIFEST_FILE, "a/empty", 0644, "", NULL},
    {MANIFEST_SYMLINK, "a/link", 0777, NULL, "b/f.txt"},
    {MANIFEST_FILE, "a!", 0600, "bang", NULL},
    {MANIFEST_FILE, "a.txt", 0644, "dot", NULL},
    {MANIFEST_SYMLINK, "abs", 0777, NULL, "/etc/passwd"},
    {MANIFEST_DIR, "bin", 0755, NULL, NULL},
    {MANIFEST_DIR, "bin/sub", 0755, NULL, NULL},
    {MANIFEST_DIR, "bin/sub/deep", 0711, NULL, NULL},
    {MANIFEST_FILE, "bin/sub/deep/x", 0400, "deep", NULL},
    {MANIFEST_FILE, "bin/tool", 0755, "#!/bin/sh\necho hi\n", NULL},
    {MANIFEST_SYMLINK, "dangling", 0777, NULL, "nowhere/at/all"},
    {MANIFEST_DIR, "empty_dir", 0555, NULL, NULL},
    {MANIFEST_FILE, "z", 0, "", NULL},
    {MANIFEST_DIR, "ünïcødé", 0755, NULL, NULL},
    {MANIFEST_FILE, "ünïcødé/日本.txt", 0444, "konnichiwa", NULL},
};
#define NVARIED (sizeof(varied) / sizeof(varied[0]))

static void encode_varied(strata_buf *out)
{
    /* Added backwards, so the encoder has to sort. */
    size_t idx[NVARIED];
    for (size_t i = 0; i < NVARIED; i++)
        idx[i] = NVARIED - 1 - i;
    encode_specs(varied, NVARIED, idx, 0750, out);
}

static void test_roundtrip_varied(void **state)
{
    (void)state;
    strata_buf enc;
    encode_varied(&enc);
    manifest *m = NULL;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    assert_int_equal(m->root_mode, 0750);
    assert_int_equal(m->count, NVARIED);
    /* varied[] is listed in tree order already. */
    for (size_t i = 0; i < NVARIED; i++) {
        const spec *s = &varied[i];
        const manifest_entry *en = &m->entries[i];
        assert_string_equal(en->path, s->path);
        assert_int_equal(en->kind, s->kind);
        assert_int_equal(en->mode, s->mode);
        if (s->kind == MANIFEST_FILE) {
            strata_digest d;
            digest_buf(s->content, strlen(s->content), &d);
            assert_int_equal(en->size, strlen(s->content));
            assert_memory_equal(en->digest.b, d.b, DIGEST_LEN);
            assert_null(en->target);
        } else if (s->kind == MANIFEST_SYMLINK) {
            assert_non_null(en->target);
            assert_string_equal(en->target, s->target);
            assert_int_equal(en->size, strlen(s->target));
        } else {
            assert_null(en->target);
            assert_int_equal(en->size, 0);
        }
    }
    check_structure(m);
    assert_int_equal(m->entries[0].end, 6); /* "a" holds a/b ... a/link */
    assert_int_equal(m->entries[12].parent, 11);
    assert_int_equal(m->entries[13].parent, 9); /* bin/tool closes two levels */

    strata_buf again;
    reencode(m, &again);
    assert_int_equal(again.len, enc.len);
    assert_memory_equal(again.data, enc.data, enc.len);
    buf_free(&again);
    manifest_free(m);
    buf_free(&enc);
}

static void test_determinism(void **state)
{
    (void)state;
    strata_buf ref;
    encode_specs(varied, NVARIED, NULL, 0750, &ref);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        size_t idx[NVARIED];
        for (size_t i = 0; i < NVARIED; i++)
            idx[i] = i;
        uint64_t x = seed * 0x9e3779b97f4a7c15ull;
        for (size_t i = NVARIED - 1; i > 0; i--) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t j = (size_t)(x % (i + 1));
            size_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        strata_buf enc;
        encode_specs(varied, NVARIED, idx, 0750, &enc);
        assert_int_equal(enc.len, ref.len);
        assert_memory_equal(enc.data, ref.data, ref.len);
        buf_free(&enc);
    }
    strata_buf rev;
    encode_varied(&rev);
    assert_int_equal(rev.len, ref.len);
    assert_memory_equal(rev.data, ref.data, ref.len);
    buf_free(&rev);
    buf_free(&ref);
}

static void test_encode_appends(void **state)
{
    (void)state;
    strata_buf ref;
    encode_varied(&ref);
    strata_buf out;
    buf_init(&out);
    buf_append(&out, "prefix", 6);
    manifest_builder *b = manifest_builder_new(0750);
    for (size_t i = 0; i < NVARIED; i++)
        assert_ok(add_spec(b, &varied[i]));
    assert_ok(manifest_builder_encode(b, &out));
    /* A second encode of the same builder gives the same bytes again. */
    assert_ok(manifest_builder_encode(b, &out));
    manifest_builder_free(b);
    assert_int_equal(out.len, 6 + 2 * ref.len);
    assert_memory_equal(out.data, "prefix", 6);
    assert_memory_equal(out.data + 6, ref.data, ref.len);
    assert_memory_equal(out.data + 6 + ref.len, ref.data, ref.len);
    buf_free(&out);
    buf_free(&ref);
}

static void test_empty_manifest(void **state)
{
    (void)state;
    manifest_builder *b = manifest_builder_new(0700);
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    manifest_builder_free(b);
    assert_int_equal(enc.len, MANIFEST_HEADER_LEN);
    manifest *m = NULL;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    assert_int_equal(m->count, 0);
    assert_int_equal(m->root_mode, 0700);
    assert_int_equal(manifest_child_first(m, MANIFEST_ROOT), MANIFEST_ROOT);
    assert_int_equal(manifest_find(m, "a", 1), -1);
    assert_int_equal(manifest_find(m, "", 0), -1);
    manifest_free(m);
    buf_free(&enc);
    manifest_free(NULL);
}

static void test_tree_order(void **state)
{
    (void)state;
    static const spec s[] = {
        {MANIFEST_FILE, "a.txt", 0644, "1", NULL}, {MANIFEST_FILE, "a!", 0644, "2", NULL},
        {MANIFEST_FILE, "a/b", 0644, "3", NULL},   {MANIFEST_DIR, "a", 0755, NULL, NULL},
        {MANIFEST_FILE, "a0", 0644, "4", NULL},    {MANIFEST_FILE, "a/b.c", 0644, "5", NULL},
        {MANIFEST_DIR, "a/a", 0755, NULL, NULL},   {MANIFEST_FILE, "a/a/z", 0644, "6", NULL},
    };
    static const char *const want[] = {"a", "a/a", "a/a/z", "a/b", "a/b.c", "a!", "a.txt", "a0"};
    strata_buf enc;
    encode_specs(s, 8, NULL, 0755, &enc);
    manifest *m = NULL;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    assert_int_equal(m->count, 8);
    for (int i = 0; i < 8; i++)
        assert_string_equal(m->entries[i].path, want[i]);
    assert_true(path_cmp("a/b", 3, "a.txt", 5) < 0);
    assert_true(path_cmp("a/b", 3, "a!", 2) < 0);
    manifest_free(m);
    buf_free(&enc);

    /* Plain byte order ('!' < '/') is not tree order: refused. */
    raw r;
    raw_begin(&r);
    raw_dir(&r, "a");
    raw_file(&r, "a!", "x");
    raw_file(&r, "a/b", "y");
    raw_finish(&r, &enc);
    expect_corrupt(enc.data, enc.len, "entry 2 at byte", "tree order");
    buf_free(&enc);
}

static void test_find(void **state)
{
    (void)state;
    strata_buf enc;
    encode_varied(&enc);
    manifest *m = NULL;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    for (size_t i = 0; i < NVARIED; i++)
        assert_int_equal(manifest_find(m, varied[i].path, strlen(varied[i].path)), (int64_t)i);
    static const char *const misses[] = {
        "",           "a/",   "/a",    "a/b/",   "a/b/c/d",     "a.t",
        "a.txtx",     "a/bb", "b",     "bi",     "bin/",        "bin/x",
        "bin/tool/x", "A",    "a/b/f", "a/b/f.", "a/b/f.tx",    "0",
        "zz",         "\xff", "a//b",  "empty",  "empty_dir/x", "ünïcødé/\xe6\x97\xa5",
    };
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        if (manifest_find(m, misses[i], strlen(misses[i])) != -1) {
            print_error("found '%s'\n", misses[i]);
            fail();
        }
    }
    /* The length counts, not the NUL. */
    assert_int_equal(manifest_find(m, "a/bXXX", 3), 1);
    assert_int_equal(manifest_find(m, "a.txt", 1), 0);
    manifest_free(m);
    buf_free(&enc);
}

/* Joins a directory's child names with ',' for easy comparison. */
static void child_names(const manifest *m, uint32_t dir, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = 0;
    for (uint32_t c = manifest_child_first(m, dir); c != MANIFEST_ROOT;
         c = manifest_child_next(m, c)) {
        assert_true(c < m->count);
        assert_int_equal(m->entries[c].parent, dir);
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "",
                              m->entries[c].path + m->entries[c].name_off);
        assert_true(n < cap);
    }
}

static void test_children(void **state)
{
    (void)state;
    strata_buf enc;
    encode_varied(&enc);
    manifest *m = NULL;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    char names[512];
    child_names(m, MANIFEST_ROOT, names, sizeof(names));
    assert_string_equal(names, "a,a!,a.txt,abs,bin,dangling,empty_dir,z,"
                               "ünïcødé");
    struct {
        const char *dir;
        const char *want;
    } cases[] = {
        {"a", "b,empty,link"}, {"a/b", "c,f.txt"},      {"a/b/c", ""},
        {"bin", "sub,tool"},   {"bin/sub", "deep"},     {"bin/sub/deep", "x"},
        {"empty_dir", ""},     {"a.txt", ""}, /* a file has no children */
        {"abs", ""},           {"ünïcødé", "日本.txt"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t d = manifest_find(m, cases[i].dir, strlen(cases[i].dir));
        assert_true(d >= 0);
        child_names(m, (uint32_t)d, names, sizeof(names));
        if (strcmp(names, cases[i].want) != 0) {
            print_error("children of %s: '%s', want '%s'\n", cases[i].dir, names, cases[i].want);
            fail();
        }
    }
    assert_int_equal(manifest_child_first(m, m->count), MANIFEST_ROOT);
    assert_int_equal(manifest_child_next(m, m->count), MANIFEST_ROOT);
    manifest_free(m);
    buf_free(&enc);
}

static void test_limits_accepted(void **state)
{
    (void)state;
    char name[256], longpath[PATH_TREE_MAX + 1], target[PATH_TREE_MAX + 1];
    memset(name, 'n', 255);
    name[255] = '\0';
    /* A 4095-byte path: "d/" * 2046 then "ddd". */
    size_t n = 0;
    while (n + 2 <= PATH_TREE_MAX - 3) {
        longpath[n++] = 'd';
        longpath[n++] = '/';
    }
    memset(longpath + n, 'd', PATH_TREE_MAX - n);
    longpath[PATH_TREE_MAX] = '\0';
    memset(target, 't', PATH_TREE_MAX);
    target[PATH_TREE_MAX] = '\0';

    manifest_builder *b = manifest_builder_new(0755);
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, name, 0644, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_SYMLINK, "l", 0777, 0, NULL, target));
    /* Every ancestor of the long path. */
    for (size_t i = 1; i < PATH_TREE_MAX; i++) {
        if (longpath[i] == '/') {
            longpath[i] = '\0';
            assert_ok(manifest_builder_add(b, MANIFEST_DIR, longpath, 0755, 0, NULL, NULL));
            longpath[i] = '/';
        }
    }
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, longpath, 0755, 0, NULL, NULL));
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    manifest_builder_free(b);
    manifest *m = NULL;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    assert_int_equal(m->count, 2 + 2047);
    assert_true(manifest_find(m, longpath, PATH_TREE_MAX) >= 0);
    int64_t l = manifest_find(m, "l", 1);
    assert_true(l >= 0);
    assert_string_equal(m->entries[l].target, target);
    check_structure(m);
    assert_int_equal(m->entries[0].end, 2047); /* "d" holds the whole chain */
    manifest_free(m);
    buf_free(&enc);
}

/* ---- version 2: whiteouts and opaque directories ----------------------- */

static void test_diff_roundtrip(void **state)
{
    (void)state;
    strata_digest d;
    digest_buf("new", 3, &d);
    manifest_builder *b = manifest_builder_new(0755);
    assert_ok(
        manifest_builder_add_flags(b, MANIFEST_DIR, MANIFEST_F_OPAQUE, "out", 0750, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "out/new", 0644, 3, &d, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_WHITEOUT, "gone", 0, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, "src", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_WHITEOUT, "src/old.c", 0, 0, NULL, NULL));
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    manifest_builder_free(b);
    manifest *m;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    assert_int_equal(m->version, MANIFEST_VERSION_DIFF);
    assert_int_equal(m->count, 5);
    int64_t i = manifest_find(m, "out", 3);
    assert_true(i >= 0);
    assert_int_equal(m->entries[i].kind, MANIFEST_DIR);
    assert_int_equal(m->entries[i].flags, MANIFEST_F_OPAQUE);
    assert_int_equal(m->entries[i].mode, 0750);
    i = manifest_find(m, "gone", 4);
    assert_true(i >= 0);
    assert_int_equal(m->entries[i].kind, MANIFEST_WHITEOUT);
    assert_int_equal(m->entries[i].mode, 0);
    i = manifest_find(m, "src", 3);
    assert_int_equal(m->entries[i].flags, 0);
    assert_string_equal(manifest_kind_name(MANIFEST_WHITEOUT), "whiteout");
    check_structure(m);
    /* Canonical: re-encoding gives the same bytes. */
    strata_buf again;
    reencode(m, &again);
    assert_int_equal(again.len, enc.len);
    assert_memory_equal(again.data, enc.data, enc.len);
    manifest_free(m);
    buf_free(&again);
    buf_free(&enc);

    /* A plain tree is still version 1, byte for byte as before. */
    encode_varied(&enc);
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    assert_int_equal(m->version, MANIFEST_VERSION);
    for (uint32_t k = 0; k < m->count; k++)
        assert_int_equal(m->entries[k].flags, 0);
    manifest_free(m);
    buf_free(&enc);
}

static void test_diff_builder_rejects(void **state)
{
    (void)state;
    strata_digest d;
    digest_buf("x", 1, &d);
    manifest_builder *b = manifest_builder_new(0755);
    assert_err(
        manifest_builder_add_flags(b, MANIFEST_FILE, MANIFEST_F_OPAQUE, "f", 0644, 1, &d, NULL),
        STRATA_E_INVALID);
    assert_err(manifest_builder_add_flags(b, MANIFEST_DIR, 2, "d", 0755, 0, NULL, NULL),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_WHITEOUT, "w", 0644, 0, NULL, NULL),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_WHITEOUT, "w", 0, 1, NULL, NULL), STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_WHITEOUT, "w", 0, 0, &d, NULL), STRATA_E_INVALID);
    assert_int_equal(manifest_builder_count(b), 0);
    /* Nothing can live under a whiteout. */
    assert_ok(manifest_builder_add(b, MANIFEST_WHITEOUT, "w", 0, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "w/f", 0644, 1, &d, NULL));
    strata_buf enc;
    buf_init(&enc);
    assert_err(manifest_builder_encode(b, &enc), STRATA_E_INVALID);
    buf_free(&enc);
    manifest_builder_free(b);
}

/* ---- rejection by the decoder --------------------------------------------- */

typedef struct bad_case {
    void (*make)(strata_buf *out);
    const char *where;
    const char *what;
} bad_case;

static void run_bad(void **state)
{
    const bad_case *c = *state;
    strata_buf b;
    c->make(&b);
    expect_corrupt(b.data, b.len, c->where, c->what);
    buf_free(&b);
}

static void mk_valid_mutated(strata_buf *out, size_t off, uint32_t v32)
{
    encode_varied(out);
    put_u32(out->data + off, v32);
}

static void mk_bad_magic(strata_buf *o)
{
    encode_varied(o);
    o->data[3] = 'X';
}
static void mk_version0(strata_buf *o)
{
    mk_valid_mutated(o, 8, 0);
}
static void mk_version2(strata_buf *o)
{
    mk_valid_mutated(o, 8, 2);
}
static void mk_root_mode(strata_buf *o)
{
    mk_valid_mutated(o, 12, 01755);
}
static void mk_short_header(strata_buf *o)
{
    encode_varied(o);
    o->len = MANIFEST_HEADER_LEN - 1;
}
static void mk_body_too_long(strata_buf *o)
{
    encode_varied(o);
    put_u64(o->data + 20, o->len - MANIFEST_HEADER_LEN + 1);
}
static void mk_body_too_short(strata_buf *o)
{
    encode_varied(o);
    put_u64(o->data + 20, o->len - MANIFEST_HEADER_LEN - 1);
}
static void mk_trailing(strata_buf *o)
{
    encode_varied(o);
    buf_put_u8(o, 0);
}
static void mk_trailing_in_body(strata_buf *o)
{
    encode_varied(o);
    buf_put_u8(o, 0);
    put_u64(o->data + 20, o->len - MANIFEST_HEADER_LEN);
}
static void mk_count_low(strata_buf *o)
{
    mk_valid_mutated(o, 16, NVARIED - 1);
}
static void mk_count_high(strata_buf *o)
{
    mk_valid_mutated(o, 16, NVARIED + 1);
}
static void mk_count_huge(strata_buf *o)
{
    mk_valid_mutated(o, 16, UINT32_MAX);
}
static void mk_body_huge(strata_buf *o)
{
    encode_varied(o);
    put_u64(o->data + 20, UINT64_MAX);
}

/* Refused by its length alone, before any byte past the header is read, so
 * a short buffer stands in for a 1 GiB one. */
static void test_too_large(void **state)
{
    (void)state;
    strata_buf enc;
    encode_varied(&enc);
    expect_corrupt(enc.data, (size_t)MANIFEST_MAX_BYTES + 1, "header, byte 0", "1 GiB");
    buf_free(&enc);
}

static void mk_kind(strata_buf *o, uint8_t kind)
{
    raw r;
    raw_begin(&r);
    raw_head(&r, kind, 0755, "a", 1);
    raw_finish(&r, o);
}
static void mk_kind0(strata_buf *o)
{
    mk_kind(o, 0);
}
static void mk_kind4(strata_buf *o)
{
    mk_kind(o, 4);
}
static void mk_kind5_v1(strata_buf *o)
{
    mk_kind(o, 5);
}
static void mk_kind6_v2(strata_buf *o)
{
    raw r;
    raw_begin_v(&r, MANIFEST_VERSION_DIFF);
    raw_head(&r, 4, 0, "a", 1);
    raw_head(&r, 6, 0755, "b", 1);
    raw_finish(&r, o);
}
static void mk_whiteout_mode(strata_buf *o)
{
    raw r;
    raw_begin_v(&r, MANIFEST_VERSION_DIFF);
    raw_head(&r, 4, 0644, "a", 1);
    raw_finish(&r, o);
}
static void mk_whiteout_parent(strata_buf *o)
{
    raw r;
    raw_begin_v(&r, MANIFEST_VERSION_DIFF);
    raw_head(&r, 4, 0, "a", 1);
    raw_head(&r, 4, 0, "a/b", 3);
    raw_finish(&r, o);
}
static void mk_version3(strata_buf *o)
{
    mk_valid_mutated(o, 8, 3);
}
static void mk_file_mode(strata_buf *o, uint16_t mode)
{
    raw r;
    raw_begin(&r);
    raw_dir(&r, "d");
    strata_digest d;
    digest_buf("x", 1, &d);
    raw_file_d(&r, "d/f", mode, 1, &d);
    raw_finish(&r, o);
}
static void mk_setuid(strata_buf *o)
{
    mk_file_mode(o, 04755);
}
static void mk_mode_1000(strata_buf *o)
{
    mk_file_mode(o, 01000);
}
static void mk_mode_ffff(strata_buf *o)
{
    mk_file_mode(o, 0xffff);
}
static void mk_sticky_dir(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_head(&r, MANIFEST_DIR, 01777, "tmp", 3);
    raw_finish(&r, o);
}
static void mk_link_mode(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_link(&r, "l", 0755, "t", 1);
    raw_finish(&r, o);
}

static void mk_path(strata_buf *o, const char *dir, const char *path, size_t plen)
{
    raw r;
    raw_begin(&r);
    if (dir)
        raw_dir(&r, dir);
    raw_head(&r, MANIFEST_DIR, 0755, path, plen);
    raw_finish(&r, o);
}
static void mk_empty_path(strata_buf *o)
{
    /* A file follows, so that the count still fits the body. */
    raw r;
    raw_begin(&r);
    raw_head(&r, MANIFEST_DIR, 0755, "", 0);
    raw_file(&r, "f", "x");
    raw_finish(&r, o);
}
static void mk_absolute(strata_buf *o)
{
    mk_path(o, NULL, "/a", 2);
}
static void mk_dotdot(strata_buf *o)
{
    mk_path(o, NULL, "..", 2);
}
static void mk_dotdot_inner(strata_buf *o)
{
    mk_path(o, "a", "a/../b", 6);
}
static void mk_dot(strata_buf *o)
{
    mk_path(o, NULL, ".", 1);
}
static void mk_dot_inner(strata_buf *o)
{
    mk_path(o, "a", "a/./b", 5);
}
static void mk_double_slash(strata_buf *o)
{
    mk_path(o, "a", "a//b", 4);
}
static void mk_trailing_slash(strata_buf *o)
{
    mk_path(o, "a", "a/b/", 4);
}
static void mk_nul_in_path(strata_buf *o)
{
    mk_path(o, NULL, "a\0b", 3);
}
static void mk_long_component(strata_buf *o)
{
    char name[256];
    memset(name, 'c', sizeof(name));
    mk_path(o, NULL, name, sizeof(name));
}
static void mk_long_path(strata_buf *o)
{
    char p[PATH_TREE_MAX + 1];
    for (size_t i = 0; i < sizeof(p); i++)
        p[i] = i % 2 ? '/' : 'd';
    p[sizeof(p) - 1] = 'd';
    mk_path(o, "d", p, sizeof(p));
}
static void mk_path_past_end(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    buf_put_u8(&r.b, MANIFEST_DIR);
    buf_put_u16le(&r.b, 0755);
    buf_put_u16le(&r.b, 10);
    buf_append(&r.b, "abc", 3);
    r.count = 1;
    raw_finish(&r, o);
}

static void mk_target(strata_buf *o, const char *t, size_t tlen)
{
    raw r;
    raw_begin(&r);
    raw_link(&r, "l", 0777, t, tlen);
    raw_finish(&r, o);
}
static void mk_target_empty(strata_buf *o)
{
    mk_target(o, "", 0);
}
static void mk_target_long(strata_buf *o)
{
    char t[PATH_TREE_MAX + 1];
    memset(t, 't', sizeof(t));
    mk_target(o, t, sizeof(t));
}
static void mk_target_nul(strata_buf *o)
{
    mk_target(o, "ab\0c", 4);
}
static void mk_target_past_end(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_head(&r, MANIFEST_SYMLINK, 0777, "l", 1);
    buf_put_u16le(&r.b, 20);
    buf_append(&r.b, "short", 5);
    raw_finish(&r, o);
}
static void mk_file_tail_short(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_head(&r, MANIFEST_FILE, 0644, "f", 1);
    buf_put_u64le(&r.b, 1);
    buf_append(&r.b, "0123456789", 10);
    raw_finish(&r, o);
}

static void mk_unsorted(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_file(&r, "b", "1");
    raw_file(&r, "a", "2");
    raw_finish(&r, o);
}
static void mk_duplicate(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_file(&r, "a", "1");
    raw_file(&r, "a", "1");
    raw_finish(&r, o);
}
static void mk_duplicate_dir(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_dir(&r, "a");
    raw_dir(&r, "a");
    raw_finish(&r, o);
}
static void mk_parent_missing(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_file(&r, "a/b", "1");
    raw_finish(&r, o);
}
static void mk_grandparent_missing(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_dir(&r, "a");
    raw_file(&r, "a/b/c", "1");
    raw_finish(&r, o);
}
static void mk_parent_file_nested(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_dir(&r, "a");
    raw_file(&r, "a/b", "1");
    raw_file(&r, "a/b/c", "1");
    raw_finish(&r, o);
}
static void mk_parent_file(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_file(&r, "a", "1");
    raw_file(&r, "a/b", "2");
    raw_finish(&r, o);
}
static void mk_parent_link(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_link(&r, "a", 0777, "elsewhere", 9);
    raw_file(&r, "a/b", "2");
    raw_finish(&r, o);
}
static void mk_empty_wrong_digest(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    strata_digest d;
    digest_buf("x", 1, &d);
    raw_file_d(&r, "f", 0644, 0, &d);
    raw_finish(&r, o);
}
static void mk_nonempty_empty_digest(strata_buf *o)
{
    raw r;
    raw_begin(&r);
    raw_file_d(&r, "f", 0644, 5, &digest_empty);
    raw_finish(&r, o);
}

/* One TAP case per defect: a CMUnitTest whose initial state is the case. */
#define BAD(fn, where, what)                                                                       \
    {                                                                                              \
        "corrupt_" #fn, run_bad, NULL, NULL, &(bad_case)                                           \
        {                                                                                          \
            mk_##fn, where, what                                                                   \
        }                                                                                          \
    }

/* ---- truncation and mutation ------------------------------------------------ */

static void test_truncation_everywhere(void **state)
{
    (void)state;
    strata_buf enc;
    encode_varied(&enc);
    for (size_t n = 0; n < enc.len; n++) {
        /* A fresh allocation of exactly n bytes, so ASan sees any overread. */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, enc.data, n);
        expect_corrupt(n ? cut : NULL, n, NULL, NULL);
        /* With the body length fixed up, the entries themselves run short. */
        if (n >= MANIFEST_HEADER_LEN) {
            put_u64(cut + 20, n - MANIFEST_HEADER_LEN);
            expect_corrupt(cut, n, n > MANIFEST_HEADER_LEN ? "entry" : "count", NULL);
        }
        free(cut);
    }
    buf_free(&enc);
}

/* Any mutation either is refused as corrupt or decodes to something that
 * re-encodes to exactly the mutated bytes: there is one encoding per tree. */
static void test_mutations(void **state)
{
    (void)state;
    strata_buf enc;
    encode_varied(&enc);
    static const uint8_t flips[] = {0x01, 0x02, 0x10, 0x20, 0x80, 0xff};
    size_t accepted = 0;
    uint8_t *mut = malloc(enc.len);
    for (size_t off = 0; off < enc.len; off++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(mut, enc.data, enc.len);
            mut[off] ^= flips[f];
            manifest *m = NULL;
            strata_err *e = manifest_decode(mut, enc.len, &m);
            if (e) {
                assert_int_equal(e->code, STRATA_E_CORRUPT);
                strata_err_free(e);
                continue;
            }
            accepted++;
            check_structure(m);
            strata_buf again;
            reencode(m, &again);
            assert_int_equal(again.len, enc.len);
            assert_memory_equal(again.data, mut, enc.len);
            buf_free(&again);
            manifest_free(m);
        }
    }
    /* Digest bytes and modes, at least, may change and stay valid. */
    assert_true(accepted > 0);
    free(mut);
    buf_free(&enc);
}

/* ---- rejection by the builder ------------------------------------------------ */

static void test_builder_rejects_entries(void **state)
{
    (void)state;
    manifest_builder *b = manifest_builder_new(0755);
    strata_digest d;
    digest_buf("x", 1, &d);
    static const char *const bad_paths[] = {"",      "/a",   "..", ".", "a/..", "../a",
                                            "a/./b", "a//b", "a/", "/", "a/b/"};
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
        assert_err(manifest_builder_add(b, MANIFEST_DIR, bad_paths[i], 0755, 0, NULL, NULL),
                   STRATA_E_INVALID);
    char name[257];
    memset(name, 'n', 256);
    name[256] = '\0';
    assert_err(manifest_builder_add(b, MANIFEST_DIR, name, 0755, 0, NULL, NULL), STRATA_E_INVALID);
    char longpath[PATH_TREE_MAX + 2];
    for (size_t i = 0; i < PATH_TREE_MAX + 1; i++)
        longpath[i] = i % 2 ? '/' : 'd';
    longpath[PATH_TREE_MAX] = 'd';
    longpath[PATH_TREE_MAX + 1] = '\0';
    assert_err(manifest_builder_add(b, MANIFEST_DIR, longpath, 0755, 0, NULL, NULL),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_DIR, NULL, 0755, 0, NULL, NULL), STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, (manifest_kind)0, "a", 0755, 0, NULL, NULL),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, (manifest_kind)5, "a", 0755, 0, NULL, NULL),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_FILE, "f", 04755, 1, &d, NULL), STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_DIR, "t", 01777, 0, NULL, NULL), STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_FILE, "f", 0644, 0, &d, NULL), STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_FILE, "f", 0644, 3, &digest_empty, NULL),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_FILE, "f", 0644, 3, NULL, NULL), STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_FILE, "f", 0644, 1, &d, "t"), STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_SYMLINK, "l", 0755, 0, NULL, "t"),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_SYMLINK, "l", 0777, 0, NULL, NULL),
               STRATA_E_INVALID);
    assert_err(manifest_builder_add(b, MANIFEST_SYMLINK, "l", 0777, 0, NULL, ""), STRATA_E_INVALID);
    char target[PATH_TREE_MAX + 2];
    memset(target, 't', PATH_TREE_MAX + 1);
    target[PATH_TREE_MAX + 1] = '\0';
    assert_err(manifest_builder_add(b, MANIFEST_SYMLINK, "l", 0777, 0, NULL, target),
               STRATA_E_INVALID);
    /* Nothing refused was kept. */
    assert_int_equal(manifest_builder_count(b), 0);
    /* An empty file may leave the digest out. */
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "e", 0644, 0, NULL, NULL));
    assert_int_equal(manifest_builder_count(b), 1);
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    manifest *m = NULL;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    assert_memory_equal(m->entries[0].digest.b, digest_empty.b, DIGEST_LEN);
    manifest_free(m);
    buf_free(&enc);
    manifest_builder_free(b);
}

/* Encodes specs and expects STRATA_E_INVALID whose message names path. */
static void expect_encode_invalid(const spec *s, size_t n, uint32_t root_mode, const char *path)
{
    manifest_builder *b = manifest_builder_new(root_mode);
    for (size_t i = 0; i < n; i++)
        assert_ok(add_spec(b, &s[i]));
    strata_buf out;
    buf_init(&out);
    strata_err *e = manifest_builder_encode(b, &out);
    manifest_builder_free(b);
    assert_non_null(e);
    if (e->code != STRATA_E_INVALID || !strstr(e->msg, path)) {
        print_error("got %s: %s; want invalid naming '%s'\n", strata_code_name(e->code), e->msg,
                    path);
        strata_err_free(e);
        fail();
    }
    strata_err_free(e);
    buf_free(&out);
}

static void test_builder_rejects_trees(void **state)
{
    (void)state;
    static const spec dup[] = {{MANIFEST_FILE, "x", 0644, "1", NULL},
                               {MANIFEST_FILE, "a", 0644, "1", NULL},
                               {MANIFEST_DIR, "x", 0755, NULL, NULL}};
    expect_encode_invalid(dup, 3, 0755, "'x' added twice");
    static const spec missing[] = {{MANIFEST_DIR, "a", 0755, NULL, NULL},
                                   {MANIFEST_FILE, "a/b/c", 0644, "1", NULL}};
    expect_encode_invalid(missing, 2, 0755, "a/b/c");
    static const spec toplevel_missing[] = {{MANIFEST_FILE, "q/r", 0644, "1", NULL}};
    expect_encode_invalid(toplevel_missing, 1, 0755, "'q'");
    static const spec parent_file[] = {{MANIFEST_FILE, "a/b", 0644, "1", NULL},
                                       {MANIFEST_FILE, "a", 0644, "2", NULL}};
    expect_encode_invalid(parent_file, 2, 0755, "is a file");
    static const spec parent_link[] = {{MANIFEST_FILE, "a/b", 0644, "1", NULL},
                                       {MANIFEST_SYMLINK, "a", 0777, NULL, "t"}};
    expect_encode_invalid(parent_link, 2, 0755, "is a symlink");
    expect_encode_invalid(NULL, 0, 01755, "root mode");
}

/* ---- scale -------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 50,000 entries: 500 directories of 99 files. Reports the decode time as a
 * TAP comment; there is deliberately no assertion on it. */
static void test_large(void **state)
{
    (void)state;
    manifest_builder *b = manifest_builder_new(0755);
    char p[64];
    strata_digest d;
    for (int i = 0; i < 500; i++) {
        snprintf(p, sizeof(p), "src/module%03d", i);
        if (i == 0)
            assert_ok(manifest_builder_add(b, MANIFEST_DIR, "src", 0755, 0, NULL, NULL));
        assert_ok(manifest_builder_add(b, MANIFEST_DIR, p, 0755, 0, NULL, NULL));
        for (int j = 0; j < (i == 0 ? 98 : 99); j++) {
            snprintf(p, sizeof(p), "src/module%03d/file_%05d.c", i, j);
            digest_buf(p, strlen(p), &d);
            assert_ok(
                manifest_builder_add(b, MANIFEST_FILE, p, 0644, 1000 + (uint64_t)j, &d, NULL));
        }
    }
    assert_int_equal(manifest_builder_count(b), 50000);
    strata_buf enc;
    buf_init(&enc);
    double t0 = now_ms();
    assert_ok(manifest_builder_encode(b, &enc));
    double t_enc = now_ms() - t0;
    manifest_builder_free(b);

    const int rounds = 20;
    double best = 1e9;
    manifest *m = NULL;
    for (int r = 0; r < rounds; r++) {
        t0 = now_ms();
        assert_ok(manifest_decode(enc.data, enc.len, &m));
        double t = now_ms() - t0;
        if (t < best)
            best = t;
        if (r < rounds - 1)
            manifest_free(m);
    }
    t0 = now_ms();
    int64_t found = 0;
    for (uint32_t i = 0; i < m->count; i++)
        found += manifest_find(m, m->entries[i].path, m->entries[i].path_len) == (int64_t)i;
    double t_find = now_ms() - t0;
    assert_int_equal(found, 50000);
    assert_int_equal(m->entries[0].end, 50000);
    printf("# 50000 entries, %zu bytes: decode %.2f ms (best of %d), encode %.2f ms, "
           "50000 finds %.2f ms\n",
           enc.len, best, rounds, t_enc, t_find);
    manifest_free(m);
    buf_free(&enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_varied),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_encode_appends),
        cmocka_unit_test(test_empty_manifest),
        cmocka_unit_test(test_tree_order),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_children),
        cmocka_unit_test(test_limits_accepted),
        BAD(bad_magic, "byte 0", "magic"),
        BAD(version0, "byte 8", "version"),
        BAD(version2, "byte 8", "version 2"),
        BAD(root_mode, "byte 12", "root mode 01755"),
        BAD(short_header, "header, byte 27", "truncated"),
        BAD(body_too_long, "byte 20", "sizes that do not match"),
        BAD(body_too_short, "byte 20", "sizes that do not match"),
        BAD(body_huge, "byte 20", "sizes that do not match"),
        BAD(trailing, "byte 20", "trailing bytes"),
        BAD(trailing_in_body, "bytes left after the last entry", "count"),
        BAD(count_low, "bytes left after the last entry", "count"),
        BAD(count_high, "entry 19 at byte", "truncated"),
        BAD(count_huge, "byte 16", "count"),
        cmocka_unit_test(test_too_large),
        BAD(kind0, "entry 0 at byte 28", "unknown kind 0"),
        BAD(kind4, "entry 0 at byte 28", "kind 4 needs format version 2"),
        BAD(kind5_v1, "entry 0 at byte 28", "kind 5 needs format version 2"),
        BAD(kind6_v2, "entry 1 at byte 34", "unknown kind 6"),
        BAD(whiteout_mode, "entry 0 at byte 28", "whiteout mode"),
        BAD(whiteout_parent, "entry 1 at byte 34", "is a whiteout"),
        BAD(version3, "byte 8", "unknown format version 3"),
        cmocka_unit_test(test_diff_roundtrip),
        cmocka_unit_test(test_diff_builder_rejects),
        BAD(setuid, "entry 1 at byte 34", "beyond 0777"),
        BAD(mode_1000, "entry 1 at byte 34", "beyond 0777"),
        BAD(mode_ffff, "entry 1 at byte 34", "beyond 0777"),
        BAD(sticky_dir, "entry 0 at byte 28", "beyond 0777"),
        BAD(link_mode, "entry 0 at byte 28", "symlink mode"),
        BAD(empty_path, "entry 0 at byte 28", "empty path"),
        BAD(absolute, "entry 0 at byte 28", "absolute"),
        BAD(dotdot, "entry 0 at byte 28", ".."),
        BAD(dotdot_inner, "entry 1 at byte 34", ".."),
        BAD(dot, "entry 0 at byte 28", "invalid component"),
        BAD(dot_inner, "entry 1 at byte 34", "invalid component"),
        BAD(double_slash, "entry 1 at byte 34", "empty component"),
        BAD(trailing_slash, "entry 1 at byte 34", "empty component"),
        BAD(nul_in_path, "entry 0 at byte 28", "NUL"),
        BAD(long_component, "entry 0 at byte 28", "invalid component"),
        BAD(long_path, "entry 1 at byte 34", "longer than 4095"),
        BAD(path_past_end, "entry 0 at byte 28", "truncated"),
        BAD(target_empty, "entry 0 at byte 28", "empty target"),
        BAD(target_long, "entry 0 at byte 28", "longer than 4095"),
        BAD(target_nul, "entry 0 at byte 28", "NUL"),
        BAD(target_past_end, "entry 0 at byte 28", "truncated"),
        BAD(file_tail_short, "entry 0 at byte 28", "truncated"),
        BAD(unsorted, "entry 1 at byte 74", "tree order"),
        BAD(duplicate, "entry 1 at byte 74", "duplicate"),
        BAD(duplicate_dir, "entry 1 at byte 34", "duplicate"),
        BAD(parent_missing, "entry 0 at byte 28", "parent 'a'"),
        BAD(grandparent_missing, "entry 1 at byte 34", "parent 'a/b'"),
        BAD(parent_file_nested, "entry 2 at byte 82", "parent 'a/b' of 'a/b/c' is a file"),
        BAD(parent_file, "entry 1 at byte 74", "is a file"),
        BAD(parent_link, "entry 1 at byte 45", "is a symlink"),
        BAD(empty_wrong_digest, "entry 0 at byte 28", "empty digest"),
        BAD(nonempty_empty_digest, "entry 0 at byte 28", "empty digest"),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_builder_rejects_entries),
        cmocka_unit_test(test_builder_rejects_trees),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
