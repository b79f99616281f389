/* Unit tests for capture: an upper directory written in overlayfs's
 * conventions by hand (0/0 and .wh. whiteouts, an opaque directory, a
 * redirected lower directory, unchanged copy-ups) becomes a layer that,
 * stacked on the view, gives exactly the tree the upper directory meant. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer/layer.h"
#include "layer/upper.h"
#include "testutil.h"

static char *show(const manifest *m)
{
    strata_buf out;
    buf_init(&out);
    char line[600];
    for (uint32_t i = 0; i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        if (en->kind == MANIFEST_DIR)
            snprintf(line, sizeof(line), "%c %s %o\n", (en->flags & MANIFEST_F_OPAQUE) ? 'o' : 'd',
                     en->path, en->mode);
        else if (en->kind == MANIFEST_FILE)
            snprintf(line, sizeof(line), "f %s %o %llu\n", en->path, en->mode,
                     (unsigned long long)en->size);
        else if (en->kind == MANIFEST_SYMLINK)
            snprintf(line, sizeof(line), "l %s %s\n", en->path, en->target);
        else
            snprintf(line, sizeof(line), "w %s\n", en->path);
        buf_append(&out, line, strlen(line));
    }
    buf_put_u8(&out, 0);
    return (char *)out.data;
}

typedef struct fx {
    char *root, *sdir, *src, *upper;
    store *s;
    manifest *base;
    strata_digest d; /* base's */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->root = tu_mkdtemp("capture");
    f->sdir = tu_path(f->root, "store");
    f->src = tu_path(f->root, "src");
    f->upper = tu_path(f->root, "upper");
    strata_err *e = store_open(f->sdir, NULL, &f->s);
    if (e) {
        strata_err_free(e);
        return -1;
    }
    tu_write_file(f->src, "a/keep", "k", 1, 0644);
    tu_write_file(f->src, "a/edit", "old", 3, 0644);
    tu_write_file(f->src, "a/sub/x", "x", 1, 0644);
    tu_write_file(f->src, "b/y", "y", 1, 0644);
    tu_write_file(f->src, "c", "c", 1, 0644);
    tu_write_file(f->src, "d/z", "z", 1, 0644);
    char p[4096];
    snprintf(p, sizeof(p), "%s/link", f->src);
    symlink("t", p);
    chmod(f->src, 0755);
    e = layer_import(f->s, f->src, NULL, &f->d, NULL);
    if (!e)
        e = layer_load(f->s, &f->d, &f->base);
    if (e) {
        print_error("%s\n", e->msg);
        strata_err_free(e);
        return -1;
    }
    mkdir(f->upper, 0755);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    manifest_free(f->base);
    store_close(f->s);
    free(f->sdir);
    free(f->src);
    free(f->upper);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static char *up(fx *f, const char *rel)
{
    return tu_path(f->upper, rel);
}

/* A 0/0 whiteout where mknod works (root), else the .wh. file. */
static void whiteout(fx *f, const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s%s%s", f->upper, dir, *dir ? "/" : "", name);
    if (mknod(p, S_IFCHR | 0000, makedev(0, 0)) == 0)
        return;
    snprintf(p, sizeof(p), "%s/%s%s%s%s", f->upper, dir, *dir ? "/" : "", UPPER_WHITEOUT_PREFIX,
             name);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static void set_xattr_dir(fx *f, const char *rel, const char *attr, const char *user_attr,
                          const char *value, bool marker_ok)
{
    char *p = up(f, rel);
    if (setxattr(p, attr, value, strlen(value), 0) != 0 &&
        setxattr(p, user_attr, value, strlen(value), 0) != 0) {
        assert_true(marker_ok);
        char m[4096];
        snprintf(m, sizeof(m), "%s/%s", p, UPPER_OPAQUE_MARKER);
        int fd = open(m, O_CREAT | O_WRONLY, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    free(p);
}

static manifest *capture(fx *f, layer_diff_stats *st)
{
    strata_buf enc;
    buf_init(&enc);
    assert_ok(layer_capture(f->s, f->base, f->upper, &enc, st));
    manifest *m;
    assert_ok(manifest_decode(enc.data, enc.len, &m));
    buf_free(&enc);
    return m;
}

static void test_capture_everything(void **state)
{
    fx *f = *state;
    tu_write_file(f->upper, "a/edit", "new!", 4, 0644);
    tu_write_file(f->upper, "a/new", "n", 1, 0644);
    tu_write_file(f->upper, "a/keep", "k", 1, 0644); /* copied up, unchanged */
    whiteout(f, "a", "sub");
    char *wc = up(f, ".wh.c"); /* the fallback form */
    int fd = open(wc, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    free(wc);
    tu_write_file(f->upper, "d/new2", "2", 1, 0644);
    set_xattr_dir(f, "d", UPPER_XATTR_OPAQUE, UPPER_XATTR_OPAQUE_USER, "y", true);
    tu_write_file(f->upper, "m/extra", "e", 1, 0600);
    set_xattr_dir(f, "m", UPPER_XATTR_REDIRECT, UPPER_XATTR_REDIRECT_USER, "/b", false);
    whiteout(f, "", "b");
    tu_write_file(f->upper, UPPER_WORK "/tmp.1", "scratch", 7, 0600);
    /* A whiteout of something the view does not have is no change. */
    whiteout(f, "", "never-there");

    layer_diff_stats st;
    manifest *cap = capture(f, &st);
    char *got = show(cap);
    assert_string_equal(got, "d a 755\nf a/edit 644 4\nf a/new 644 1\nw a/sub\nw b\nw c\n"
                             "o d 755\nf d/new2 644 1\no m 755\nf m/extra 600 1\nf m/y 644 1\n");
    free(got);
    assert_int_equal(st.deleted, 3);

    manifest *stack[2] = {cap, f->base}, *flat;
    assert_ok(layer_flatten(stack, 2, &flat));
    got = show(flat);
    assert_string_equal(got, "d a 755\nf a/edit 644 4\nf a/keep 644 1\nf a/new 644 1\n"
                             "d d 755\nf d/new2 644 1\nl link t\n"
                             "d m 755\nf m/extra 600 1\nf m/y 644 1\n");
    free(got);
    manifest_free(flat);
    manifest_free(cap);
}

static void test_capture_nothing_changed(void **state)
{
    fx *f = *state;
    tu_write_file(f->upper, "a/keep", "k", 1, 0644);
    char *p = up(f, "a");
    chmod(p, 0755);
    free(p);
    layer_diff_stats st;
    manifest *cap = capture(f, &st);
    assert_int_equal(cap->count, 0);
    assert_int_equal(st.added + st.changed + st.deleted, 0);
    manifest_free(cap);
}

/* The capture of a stack from its digests gives the bytes and counts of
 * loading, flattening and capturing it, whether the upper is empty (the
 * short cut, which loads no manifest) or not. */
static void check_capture_view(fx *f, const strata_digest *layers, size_t n)
{
    manifest *base;
    assert_ok(layer_load_view(f->s, layers, n, &base));
    strata_buf want, got;
    buf_init(&want);
    buf_init(&got);
    layer_diff_stats wst, gst;
    assert_ok(layer_capture_canonical(f->s, base, f->upper, &want, &wst));
    assert_ok(layer_capture_view(f->s, layers, n, f->upper, &got, &gst));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    assert_memory_equal(&gst, &wst, sizeof(wst));
    buf_free(&want);
    buf_free(&got);
    manifest_free(base);
}

static void reset_upper(fx *f)
{
    tu_rmtree(strdup(f->upper)); /* it frees its argument */
    assert_int_equal(mkdir(f->upper, 0755), 0);
}

static void test_capture_view(void **state)
{
    fx *f = *state;
    /* A second layer on top: a diff deleting c and adding e. */
    whiteout(f, "", "c");
    tu_write_file(f->upper, "e", "e", 1, 0644);
    strata_buf enc;
    buf_init(&enc);
    assert_ok(layer_capture_canonical(f->s, f->base, f->upper, &enc, NULL));
    strata_digest stack[2];
    assert_ok(store_put_buf(f->s, enc.data, enc.len, &stack[0], NULL));
    buf_free(&enc);
    stack[1] = f->d;
    reset_upper(f);

    /* A single plain layer is its own view; a stack flattens. */
    manifest *one, *two, *top, *flat;
    assert_ok(layer_load_view(f->s, &f->d, 1, &one));
    char *a = show(one), *b = show(f->base);
    assert_string_equal(a, b);
    free(a);
    free(b);
    assert_ok(layer_load_view(f->s, stack, 2, &two));
    assert_ok(layer_load(f->s, &stack[0], &top));
    manifest *ms[2] = {top, f->base};
    assert_ok(layer_flatten(ms, 2, &flat));
    a = show(two);
    b = show(flat);
    assert_string_equal(a, b);
    assert_null(strstr(a, "f c "));
    free(a);
    free(b);
    manifest_free(one);
    manifest_free(two);
    manifest_free(top);
    manifest_free(flat);

    for (size_t n = 1; n <= 2; n++) {
        const strata_digest *layers = n == 1 ? &f->d : stack;
        /* Empty but for the work area; then with another root mode. */
        tu_write_file(f->upper, UPPER_WORK "/tmp.1", "scratch", 7, 0600);
        assert_int_equal(chmod(f->upper, 0755), 0);
        check_capture_view(f, layers, n);
        assert_int_equal(chmod(f->upper, 0700), 0);
        check_capture_view(f, layers, n);
        /* Something written. */
        tu_write_file(f->upper, "a/new", "n", 1, 0644);
        check_capture_view(f, layers, n);
        reset_upper(f);
    }

    /* A missing layer is an error with or without anything to capture. */
    strata_digest gone = f->d;
    gone.b[0] ^= 1;
    strata_digest bad[2] = {f->d, gone};
    strata_buf out;
    buf_init(&out);
    assert_err(layer_capture_view(f->s, bad, 2, f->upper, &out, NULL), STRATA_E_NOTFOUND);
    tu_write_file(f->upper, "a/new", "n", 1, 0644);
    assert_err(layer_capture_view(f->s, bad, 2, f->upper, &out, NULL), STRATA_E_NOTFOUND);
    buf_free(&out);
}

static void test_capture_refuses_fifo(void **state)
{
    fx *f = *state;
    char *p = up(f, "pipe");
    assert_int_equal(mkfifo(p, 0644), 0);
    free(p);
    strata_buf enc;
    buf_init(&enc);
    strata_err *e = layer_capture(f->s, f->base, f->upper, &enc, NULL);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->msg, "pipe is a fifo"));
    strata_err_free(e);
    buf_free(&enc);
}

static void test_capture_bad_redirect(void **state)
{
    fx *f = *state;
    char *p = up(f, "m");
    mkdir(p, 0755);
    free(p);
    set_xattr_dir(f, "m", UPPER_XATTR_REDIRECT, UPPER_XATTR_REDIRECT_USER, "/../etc", false);
    strata_buf enc;
    buf_init(&enc);
    strata_err *e = layer_capture(f->s, f->base, f->upper, &enc, NULL);
    assert_non_null(e);
    assert_non_null(strstr(e->msg, "bad redirect"));
    strata_err_free(e);
    buf_free(&enc);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_capture_everything),   T(test_capture_nothing_changed), T(test_capture_view),
        T(test_capture_refuses_fifo), T(test_capture_bad_redirect),
    };
    return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}
