/* Unit tests for the `none` transport: a view of two real layers is
 * written out, changed the way a build changes a tree (new, edited,
 * re-moded and deleted files, a deleted directory), and the captured layer
 * stacked on the view gives exactly the changed tree. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "testutil.h"
#include "transport/none.h"

static void test_prepare_capture(void **state)
{
    (void)state;
    char *root = tu_mkdtemp("none");
    char *sdir = tu_path(root, "store"), *deps = tu_path(root, "deps"), *src = tu_path(root, "src");
    char *box = tu_path(root, "box");
    store *s;
    assert_ok(store_open(sdir, NULL, &s));
    char big[300000];
    tu_fill_random(big, sizeof(big), 7);
    tu_write_file(deps, "include/lib.h", "int lib(void);\n", 15, 0644);
    tu_write_file(deps, "lib/big.a", big, sizeof(big), 0644);
    tu_write_file(deps, "doc/README", "docs\n", 5, 0644);
    tu_write_file(src, "main.c", "int main(void){return 0;}\n", 26, 0644);
    tu_write_file(src, "include/lib.h", "int lib(int);\n", 14, 0644); /* overrides deps */
    strata_digest dd, sd;
    assert_ok(layer_import(s, deps, NULL, &dd, NULL));
    assert_ok(layer_import(s, src, NULL, &sd, NULL));
    manifest *layers[2];
    assert_ok(layer_load(s, &sd, &layers[0]));
    assert_ok(layer_load(s, &dd, &layers[1]));

    none_sandbox *sb;
    assert_ok(none_prepare(s, layers, 2, box, &sb));
    assert_string_equal(none_dir(sb), box);
    char p[4096], buf[64] = {0};
    /* The view: the top layer's header, the bottom's library. */
    snprintf(p, sizeof(p), "%s/include/lib.h", box);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 14);
    close(fd);
    assert_memory_equal(buf, "int lib(int);\n", 14);

    /* A build: new output, an edit, a chmod, deletions. */
    tu_write_file(box, "out/prog",
                  "\x7f"
                  "ELF",
                  4, 0755);
    tu_write_file(box, "main.c", "int main(void){return 1;}\n", 26, 0644);
    snprintf(p, sizeof(p), "%s/lib/big.a", box);
    assert_int_equal(chmod(p, 0600), 0);
    snprintf(p, sizeof(p), "%s/doc", box);
    assert_ok(fs_remove_tree(p));

    strata_digest cd;
    layer_diff_stats st;
    assert_ok(none_capture(sb, NULL, &cd, &st));
    assert_int_equal(st.added, 2); /* out, out/prog */
    assert_int_equal(st.changed, 2);
    assert_int_equal(st.deleted, 1);

    /* Stacked on the view, the captured layer gives the tree as left. */
    manifest *diff, *after, *stack[3];
    assert_ok(layer_load(s, &cd, &diff));
    assert_int_equal(diff->version, MANIFEST_VERSION_DIFF);
    strata_digest now_d;
    assert_ok(layer_import(s, box, NULL, &now_d, NULL));
    stack[0] = diff;
    stack[1] = layers[0];
    stack[2] = layers[1];
    manifest *flat;
    assert_ok(layer_flatten(stack, 3, &flat));
    assert_ok(layer_load(s, &now_d, &after));
    strata_buf a, b;
    buf_init(&a);
    buf_init(&b);
    assert_ok(layer_diff(flat, after, &a, NULL));
    assert_ok(layer_diff(after, flat, &b, NULL));
    manifest *da, *db;
    assert_ok(manifest_decode(a.data, a.len, &da));
    assert_ok(manifest_decode(b.data, b.len, &db));
    assert_int_equal(da->count, 0);
    assert_int_equal(db->count, 0);
    manifest_free(da);
    manifest_free(db);
    buf_free(&a);
    buf_free(&b);
    manifest_free(flat);
    manifest_free(after);
    manifest_free(diff);

    assert_ok(none_destroy(sb, true));
    struct stat sbuf;
    assert_int_equal(lstat(box, &sbuf), -1);
    manifest_free(layers[0]);
    manifest_free(layers[1]);
    store_close(s);
    free(sdir);
    free(deps);
    free(src);
    free(box);
    tu_rmtree(root);
}

/* A view that cannot be written out (the target is not empty) is an error
 * that leaves the target alone. */
static void test_prepare_refuses_nonempty(void **state)
{
    (void)state;
    char *root = tu_mkdtemp("none");
    char *sdir = tu_path(root, "store"), *src = tu_path(root, "src"), *box = tu_path(root, "box");
    store *s;
    assert_ok(store_open(sdir, NULL, &s));
    tu_write_file(src, "a", "a", 1, 0644);
    tu_write_file(box, "mine", "keep", 4, 0644);
    strata_digest d;
    assert_ok(layer_import(s, src, NULL, &d, NULL));
    manifest *m;
    assert_ok(layer_load(s, &d, &m));
    none_sandbox *sb = NULL;
    strata_err *e = none_prepare(s, &m, 1, box, &sb);
    assert_non_null(e);
    assert_null(sb);
    strata_err_free(e);
    char p[4096];
    snprintf(p, sizeof(p), "%s/mine", box);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 4);
    manifest_free(m);
    store_close(s);
    free(sdir);
    free(src);
    free(box);
    tu_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_capture),
        cmocka_unit_test(test_prepare_refuses_nonempty),
    };
    return cmocka_run_group_tests_name("none", tests, NULL, NULL);
}
