/* Unit tests for views and diffs of layers: flattening a stack follows
 * overlayfs's rules (whiteouts, opaque directories, kinds hiding kinds),
 * and a diff stacked on its base flattens back to the new tree, checked on
 * hand-picked cases and on hundreds of random trees and edits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer/layer.h"
#include "testutil.h"

/* A tree as text, one entry per line in tree order:
 *   d PATH MODE | o PATH MODE (opaque) | f PATH MODE CONTENT | l PATH TARGET
 *   | w PATH (whiteout); "R MODE" first sets the root mode. */
static manifest *mk(const char *spec)
{
    uint32_t root = 0755;
    manifest_builder *b = NULL;
    char *copy = strdup(spec), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char kind, path[256], arg[256] = "";
        unsigned mode = 0;
        int n = sscanf(line, " %c %255s %255s", &kind, path, arg);
        if (kind == 'R') {
            root = (uint32_t)strtoul(path, NULL, 8);
            continue;
        }
        if (!b)
            b = manifest_builder_new(root);
        assert_true(n >= 2);
        if (kind == 'd' || kind == 'o') {
            mode = (unsigned)strtoul(arg, NULL, 8);
            assert_ok(manifest_builder_add_flags(b, MANIFEST_DIR,
                                                 kind == 'o' ? MANIFEST_F_OPAQUE : 0, path,
                                                 (uint16_t)mode, 0, NULL, NULL));
        } else if (kind == 'f') {
            char content[256] = "";
            sscanf(line, " %*c %*s %o %255s", &mode, content);
            strata_digest d;
            digest_buf(content, strlen(content), &d);
            assert_ok(manifest_builder_add(b, MANIFEST_FILE, path, (uint16_t)mode, strlen(content),
                                           &d, NULL));
        } else if (kind == 'l') {
            assert_ok(manifest_builder_add(b, MANIFEST_SYMLINK, path, 0777, 0, NULL, arg));
        } else if (kind == 'w') {
            assert_ok(manifest_builder_add(b, MANIFEST_WHITEOUT, path, 0, 0, NULL, NULL));
        } else {
            fail_msg("bad spec line '%s'", line);
        }
    }
    free(copy);
    if (!b)
        b = manifest_builder_new(root);
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    manifest_builder_free(b);
    manifest *m;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    buf_free(&enc);
    return m;
}

/* The tree as text again (files show their size, not their content). */
static char *show(const manifest *m)
{
    strata_buf out;
    buf_init(&out);
    char line[600];
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        switch (en->kind) {
        case MANIFEST_DIR:
            snprintf(line, sizeof(line), "%c %s %o\n", (en->flags & MANIFEST_F_OPAQUE) ? 'o' : 'd',
                     en->path, en->mode);
            break;
        case MANIFEST_FILE:
            snprintf(line, sizeof(line), "f %s %o %llu\n", en->path, en->mode,
                     (unsigned long long)en->size);
            break;
        case MANIFEST_SYMLINK:
            snprintf(line, sizeof(line), "l %s %s\n", en->path, en->target);
            break;
        default:
            snprintf(line, sizeof(line), "w %s\n", en->path);
        }
        buf_append(&out, line, strlen(line));
    }
    buf_put_u8(&out, 0);
    return (char *)out.data;
}

static void flat_is(const char *const *specs, size_t n, const char *want)
{
    manifest *layers[8];
    for (size_t i = 0; i < n; i++)
        layers[i] = mk(specs[i]);
    manifest *flat;
    assert_ok(layer_flatten(layers, n, &flat));
    char *got = show(flat);
    assert_string_equal(got, want);
    assert_int_equal(flat->version, MANIFEST_VERSION);
    assert_int_equal(flat->root_mode, layers[0]->root_mode);
    free(got);
    manifest_free(flat);
    for (size_t i = 0; i < n; i++)
        manifest_free(layers[i]);
}

static void test_flatten_rules(void **state)
{
    (void)state;
    /* One layer flattens to itself, minus whiteouts and opaque marks. */
    const char *one[] = {"d a 755\nf a/x 644 hello\nl a/l x\nw gone\n"};
    flat_is(one, 1, "d a 755\nl a/l x\nf a/x 644 5\n");
    /* Top wins at a path; directories merge; the top directory's mode. */
    const char *merge[] = {"d a 700\nf a/x 600 top\n", "d a 755\nf a/x 644 bottom!\nf a/y 644 y\n"};
    flat_is(merge, 2, "d a 700\nf a/x 600 3\nf a/y 644 1\n");
    /* A whiteout hides a file, and a whole directory. */
    const char *wh[] = {"w a\nw f\n", "d a 755\nf a/x 644 x\nd a/b 755\nf f 644 f\nf g 644 g\n"};
    flat_is(wh, 2, "f g 644 1\n");
    /* An opaque directory hides what lies below it, keeps its own. */
    const char *op[] = {"o a 755\nf a/new 644 n\n", "d a 755\nf a/old 644 o\nd a/sub 755\n"};
    flat_is(op, 2, "d a 755\nf a/new 644 1\n");
    /* A file hides a directory; a directory hides a file. */
    const char *kinds[] = {"f a 644 file\nd b 755\nf b/in 644 i\n",
                           "d a 755\nf a/x 644 x\nf b 644 bfile\n"};
    flat_is(kinds, 2, "f a 644 4\nd b 755\nf b/in 644 1\n");
    /* Three layers: the middle whiteout cuts the bottom off below a
     * directory the top recreates. */
    const char *three[] = {"d a 755\nf a/top 644 t\n", "w a\n", "d a 755\nf a/bottom 644 b\n"};
    flat_is(three, 3, "d a 755\nf a/top 644 1\n");
    /* An opaque directory in the middle: top and middle merge, bottom is
     * cut; nested directories inherit the cut. */
    const char *mid[] = {"d a 755\nd a/s 755\nf a/s/t 644 t\n",
                         "o a 750\nd a/s 755\nf a/s/m 644 m\n",
                         "d a 755\nd a/s 755\nf a/s/b 644 b\nf a/z 644 z\n"};
    flat_is(mid, 3, "d a 755\nd a/s 755\nf a/s/m 644 1\nf a/s/t 644 1\n");
    /* A layer without the path does not cut the merge. */
    const char *gap[] = {"d a 755\n", "f other 644 o\n", "d a 755\nf a/deep 644 d\n"};
    flat_is(gap, 3, "d a 755\nf a/deep 644 1\nf other 644 1\n");
    /* The root mode is the top layer's. */
    const char *rootm[] = {"R 700\nf x 644 x\n", "R 755\nf y 644 y\n"};
    flat_is(rootm, 2, "f x 644 1\nf y 644 1\n");
}

/* ---- diffs --------------------------------------------------------------- */

static manifest *flatten2(manifest *top, manifest *base)
{
    manifest *layers[2] = {top, base}, *flat;
    assert_ok(layer_flatten(layers, 2, &flat));
    return flat;
}

static manifest *diff_of(const manifest *base, const manifest *now, layer_diff_stats *st)
{
    strata_buf enc;
    buf_init(&enc);
    assert_ok(layer_diff(base, now, &enc, st));
    manifest *d;
    assert_ok(manifest_decode(enc.data, enc.len, &d));
    buf_free(&enc);
    return d;
}

static void test_diff_cases(void **state)
{
    (void)state;
    manifest *base = mk("d a 755\nf a/keep 644 k\nf a/edit 644 old\nf a/chmod 644 c\n"
                        "d a/gone 755\nf a/gone/x 644 x\nl link t1\nf f2d 644 f\nd d2f 755\n"
                        "f d2f/in 644 i\nd same 755\nd same/deep 755\nf same/deep/f 644 f\n");
    manifest *now = mk("d a 755\nf a/chmod 755 c\nf a/edit 644 new!\nf a/keep 644 k\n"
                       "f a/new 644 n\nd f2d 700\nf f2d/in 644 x\nf d2f 644 file\nl link t2\n"
                       "d same 755\nd same/deep 755\nf same/deep/f 644 f\n");
    layer_diff_stats st;
    manifest *d = diff_of(base, now, &st);
    char *got = show(d);
    assert_string_equal(got, "d a 755\nf a/chmod 755 1\nf a/edit 644 4\nw a/gone\nf a/new 644 1\n"
                             "f d2f 644 4\nd f2d 700\nf f2d/in 644 1\nl link t2\n");
    free(got);
    assert_int_equal(d->version, MANIFEST_VERSION_DIFF);
    assert_int_equal(st.deleted, 1);
    assert_int_equal(st.added, 2);   /* a/new, f2d/in */
    assert_int_equal(st.changed, 5); /* chmod, edit, f2d, d2f, link */
    manifest *back = flatten2(d, base);
    char *a = show(back), *b = show(now);
    assert_string_equal(a, b);
    free(a);
    free(b);
    manifest_free(back);
    manifest_free(d);
    /* No change: an empty layer. */
    d = diff_of(now, now, &st);
    assert_int_equal(d->count, 0);
    assert_int_equal(st.added + st.changed + st.deleted, 0);
    manifest_free(d);
    manifest_free(base);
    manifest_free(now);
    /* A stack is not a plain tree: flatten it first. */
    manifest *wh = mk("w x\n");
    strata_buf enc;
    buf_init(&enc);
    assert_err(layer_diff(wh, wh, &enc, NULL), STRATA_E_INVALID);
    buf_free(&enc);
    manifest_free(wh);
}

/* Random trees over a small alphabet, so that edits collide with what is
 * there: deletions of subtrees, new entries under old and new directories,
 * kind changes both ways, mode and content edits. */
static uint64_t rng;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

typedef struct rnode {
    char path[64];
    char kind; /* d f l */
    unsigned mode;
    char content[8];
} rnode;

static bool rn_under(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(p, dir, n) == 0 && p[n] == '/';
}

static int rn_find(rnode *v, int n, const char *p)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].path, p))
            return i;
    return -1;
}

/* Adds a random entry under a random existing directory (or the root). */
static int rn_add(rnode *v, int n)
{
    char parent[64] = "";
    int tries = 0;
    while (tries++ < 4) {
        int i = n ? (int)rnd((unsigned)n) : 0;
        if (n && v[i].kind == 'd' && strlen(v[i].path) < 40) {
            strcpy(parent, v[i].path);
            break;
        }
    }
    rnode r;
    memset(&r, 0, sizeof(r));
    snprintf(r.path, sizeof(r.path), "%s%s%c", parent, *parent ? "/" : "", "abcde"[rnd(5)]);
    if (rn_find(v, n, r.path) >= 0)
        return n;
    r.kind = "dfl"[rnd(3)];
    r.mode = r.kind == 'l' ? 0777 : (rnd(2) ? 0755 : 0644);
    snprintf(r.content, sizeof(r.content), "%c%u", "xyz"[rnd(3)], rnd(3));
    v[n] = r;
    return n + 1;
}

static int rn_delete(rnode *v, int n, int victim)
{
    char dir[64];
    strcpy(dir, v[victim].path);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].path, dir) && !rn_under(v[i].path, dir))
            v[k++] = v[i];
    return k;
}

static manifest *rn_manifest(rnode *v, int n, unsigned root)
{
    manifest_builder *b = manifest_builder_new(root);
    for (int i = 0; i < n; i++) {
        if (v[i].kind == 'd') {
            assert_ok(manifest_builder_add(b, MANIFEST_DIR, v[i].path, (uint16_t)v[i].mode, 0, NULL,
                                           NULL));
        } else if (v[i].kind == 'f') {
            strata_digest d;
            size_t len = strlen(v[i].content);
            digest_buf(v[i].content, len, &d);
            assert_ok(manifest_builder_add(b, MANIFEST_FILE, v[i].path, (uint16_t)v[i].mode, len,
                                           &d, NULL));
        } else {
            assert_ok(
                manifest_builder_add(b, MANIFEST_SYMLINK, v[i].path, 0777, 0, NULL, v[i].content));
        }
    }
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    manifest_builder_free(b);
    manifest *m;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    buf_free(&enc);
    return m;
}

static void test_diff_random(void **state)
{
    (void)state;
    for (unsigned round = 0; round < 400; round++) {
        rng = 0x9e3779b97f4a7c15ull + round;
        rnode base[200], now[200];
        int nb = 0;
        for (int k = 0; k < 30; k++)
            nb = rn_add(base, nb);
        memcpy(now, base, sizeof(base));
        int nn = nb;
        for (int k = 0; k < 8; k++) {
            unsigned op = rnd(5);
            if (nn == 0 || op == 0) {
                nn = rn_add(now, nn);
            } else if (op == 1) {
                nn = rn_delete(now, nn, (int)rnd((unsigned)nn));
            } else if (op == 2) {
                int i = (int)rnd((unsigned)nn);
                if (now[i].kind != 'l')
                    now[i].mode ^= 0111;
            } else if (op == 3) {
                int i = (int)rnd((unsigned)nn);
                snprintf(now[i].content, sizeof(now[i].content), "q%u", rnd(100));
            } else {
                /* Replace an entry by another kind (a directory's
                 * contents go with it). */
                int i = (int)rnd((unsigned)nn);
                rnode r = now[i];
                nn = rn_delete(now, nn, i);
                r.kind = r.kind == 'd' ? "fl"[rnd(2)] : 'd';
                r.mode = r.kind == 'l' ? 0777 : 0755;
                now[nn++] = r;
            }
        }
        manifest *mb = rn_manifest(base, nb, 0755);
        manifest *mn = rn_manifest(now, nn, round % 2 ? 0700 : 0755);
        manifest *d = diff_of(mb, mn, NULL);
        manifest *back = flatten2(d, mb);
        char *a = show(back), *b = show(mn);
        if (strcmp(a, b) != 0) {
            char *sb = show(mb), *sd = show(d);
            fail_msg("round %u: base:\n%s\nnow:\n%s\ndiff:\n%s\nflattened:\n%s", round, sb, b, sd,
                     a);
        }
        assert_int_equal(back->root_mode, mn->root_mode);
        free(a);
        free(b);
        manifest_free(back);
        manifest_free(d);
        manifest_free(mb);
        manifest_free(mn);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatten_rules),
        cmocka_unit_test(test_diff_cases),
        cmocka_unit_test(test_diff_random),
    };
    return cmocka_run_group_tests_name("view", tests, NULL, NULL);
}
