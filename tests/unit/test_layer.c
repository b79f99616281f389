/* Unit tests for layer/ operations over a real store: import, materialize
 * (with each sharing mode), gc reachability and fsck of refs. Trees are
 * compared through a canonical listing of type, mode, size and content. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "layer/layer.h"
#include "testutil.h"

#define SPILL 4096

typedef struct fixture {
    char *dir; /* scratch root: store/, src/, out/ */
    char *store_dir, *src, *out;
    store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = tu_mkdtemp("layer");
    f->store_dir = tu_path(f->dir, "store");
    f->src = tu_path(f->dir, "src");
    f->out = tu_path(f->dir, "out");
    mkdir(f->src, 0755);
    store_opts o = {.spill_threshold = SPILL};
    strata_err *e = store_open(f->store_dir, &o, &f->s);
    if (e) {
        print_error("store_open: %s\n", e->msg);
        strata_err_free(e);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    free(f->store_dir);
    free(f->src);
    free(f->out);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* Appends one line per entry below dir/rel, in readdir-independent order. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_tree(const char *root, const char *rel, strata_buf *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    DIR *d = fdopendir(fd);
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char sub[4096], full[8200], line[8400];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", names[i]);
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        struct stat st;
        assert_int_equal(lstat(full, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            snprintf(line, sizeof(line), "d %s %o\n", sub, st.st_mode & 0777);
            buf_append(out, line, strlen(line));
            list_tree(root, sub, out);
        } else if (S_ISLNK(st.st_mode)) {
            char t[4096];
            ssize_t tl = readlink(full, t, sizeof(t) - 1);
            assert_true(tl > 0);
            t[tl] = '\0';
            snprintf(line, sizeof(line), "l %s -> %s\n", sub, t);
            buf_append(out, line, strlen(line));
        } else {
            int ffd = open(full, O_RDONLY);
            assert_true(ffd >= 0);
            char *data = malloc((size_t)st.st_size + 1);
            size_t got = 0;
            assert_ok(fs_pread_full(ffd, data, (size_t)st.st_size, 0, &got, full));
            close(ffd);
            assert_int_equal(got, (size_t)st.st_size);
            strata_digest dg;
            digest_buf(data, got, &dg);
            free(data);
            char hex[DIGEST_HEX_LEN + 1];
            digest_to_hex(&dg, hex);
            snprintf(line, sizeof(line), "f %s %o %lld %s\n", sub, st.st_mode & 0777,
                     (long long)st.st_size, hex);
            buf_append(out, line, strlen(line));
        }
        free(names[i]);
    }
    free(names);
}

static void assert_same_tree(const char *a, const char *b)
{
    strata_buf la, lb;
    buf_init(&la);
    buf_init(&lb);
    list_tree(a, "", &la);
    list_tree(b, "", &lb);
    buf_put_u8(&la, 0);
    buf_put_u8(&lb, 0);
    assert_string_equal((char *)la.data, (char *)lb.data);
    buf_free(&la);
    buf_free(&lb);
}

static void make_varied_tree(const char *src)
{
    char big[3 * SPILL + 17];
    tu_fill_random(big, sizeof(big), 42);
    tu_write_file(src, "hello.txt", "hello\n", 6, 0644);
    tu_write_file(src, "empty", "", 0, 0644);
    tu_write_file(src, "bin/tool", "#!/bin/sh\necho hi\n", 18, 0755);
    tu_write_file(src, "secret", "s", 1, 0600);
    tu_write_file(src, "data/big.bin", big, sizeof(big), 0644);
    tu_write_file(src, "data/big-copy.bin", big, sizeof(big), 0444);
    tu_write_file(src, "data/exec-big", big, sizeof(big), 0755);
    tu_write_file(src, "héllo wörld ☃.txt", "unicode", 7, 0644);
    tu_write_file(src, "ro/inside", "x", 1, 0644);
    char p[4096];
    snprintf(p, sizeof(p), "%s/empty-dir", src);
    assert_int_equal(mkdir(p, 0750), 0);
    snprintf(p, sizeof(p), "%s/ro", src);
    assert_int_equal(chmod(p, 0555), 0);
    snprintf(p, sizeof(p), "%s/rel-link", src);
    assert_int_equal(symlink("hello.txt", p), 0);
    snprintf(p, sizeof(p), "%s/dangling", src);
    assert_int_equal(symlink("no/such/file", p), 0);
    snprintf(p, sizeof(p), "%s/escape", src);
    assert_int_equal(symlink("../../../../etc", p), 0);
    snprintf(p, sizeof(p), "%s/abs", src);
    assert_int_equal(symlink("/etc", p), 0);
}

static void test_import_export_round_trip(void **state)
{
    fixture *f = *state;
    make_varied_tree(f->src);
    strata_digest d;
    layer_import_stats st;
    assert_ok(layer_import(f->s, f->src, NULL, &d, &st));
    assert_int_equal(st.files, 9);
    assert_int_equal(st.symlinks, 4);
    assert_int_equal(st.dirs, 4);
    manifest *m = NULL;
    assert_ok(layer_load(f->s, &d, &m));
    /* Links are stored as links: nothing from /etc came in. */
    int64_t i = manifest_find(m, "escape", 6);
    assert_true(i >= 0);
    assert_int_equal(m->entries[i].kind, MANIFEST_SYMLINK);
    assert_string_equal(m->entries[i].target, "../../../../etc");
    assert_int_equal(manifest_find(m, "escape/passwd", 13), -1);
    layer_export_stats es;
    assert_ok(layer_materialize(f->s, m, f->out, LAYER_SHARE_REFLINK, &es));
    assert_int_equal(es.files, 9);
    assert_same_tree(f->src, f->out);
    struct stat sb;
    char p[4096];
    snprintf(p, sizeof(p), "%s/hello.txt", f->out);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mtim.tv_sec, MANIFEST_MTIME);
    manifest_free(m);
    snprintf(p, sizeof(p), "%s/ro", f->src);
    chmod(p, 0755);
    snprintf(p, sizeof(p), "%s/ro", f->out);
    chmod(p, 0755);
}

static void test_import_is_deterministic_and_dedupes(void **state)
{
    fixture *f = *state;
    char name[64], body[64];
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof(name), "d%d/e%d/f%d", i % 7, i % 13, i);
        int n = snprintf(body, sizeof(body), "file %d", i % 50); /* many duplicates */
        tu_write_file(f->src, name, body, (size_t)n, 0644);
    }
    strata_digest one, two;
    layer_import_stats a, b;
    layer_import_opts single = {.threads = 1}, many = {.threads = 4};
    assert_ok(layer_import(f->s, f->src, &single, &one, &a));
    assert_int_equal(a.files, 600);
    assert_int_equal(a.new_blobs, 50);
    assert_ok(layer_import(f->s, f->src, &many, &two, &b));
    assert_true(digest_eq(&one, &two));
    assert_int_equal(b.new_blobs, 0);
    assert_int_equal(b.new_bytes, 0);
}

static void test_import_refuses_fifo(void **state)
{
    fixture *f = *state;
    tu_write_file(f->src, "ok.txt", "ok", 2, 0644);
    char p[4096];
    snprintf(p, sizeof(p), "%s/pipe", f->src);
    assert_int_equal(mkfifo(p, 0644), 0);
    strata_digest d;
    strata_err *e = layer_import(f->s, f->src, NULL, &d, NULL);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->msg, "pipe"));
    assert_non_null(strstr(e->msg, "fifo"));
    strata_err_free(e);
}

static void test_import_refuses_the_store(void **state)
{
    fixture *f = *state;
    strata_digest d;
    assert_err(layer_import(f->s, f->dir, NULL, &d, NULL), STRATA_E_INVALID);
    assert_err(layer_import(f->s, f->store_dir, NULL, &d, NULL), STRATA_E_INVALID);
    char *missing = tu_path(f->dir, "missing");
    assert_err(layer_import(f->s, missing, NULL, &d, NULL), STRATA_E_NOTFOUND);
    free(missing);
}

static void test_export_into_nonempty_changes_nothing(void **state)
{
    fixture *f = *state;
    tu_write_file(f->src, "a", "a", 1, 0644);
    tu_write_file(f->out, "mine", "keep", 4, 0600);
    strata_digest d;
    assert_ok(layer_import(f->s, f->src, NULL, &d, NULL));
    manifest *m = NULL;
    assert_ok(layer_load(f->s, &d, &m));
    assert_err(layer_materialize(f->s, m, f->out, LAYER_SHARE_COPY, NULL), STRATA_E_EXISTS);
    manifest_free(m);
    char *p = tu_path(f->out, "a");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
}

static void test_export_failure_cleans_up(void **state)
{
    fixture *f = *state;
    /* A manifest naming a blob the store does not have. */
    manifest_builder *b = manifest_builder_new(0755);
    strata_digest ghost;
    digest_buf("not stored", 10, &ghost);
    assert_ok(manifest_builder_add(b, MANIFEST_DIR, "dir", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "dir/a", 0644, 10, &ghost, NULL));
    strata_buf buf;
    buf_init(&buf);
    assert_ok(manifest_builder_encode(b, &buf));
    manifest_builder_free(b);
    manifest *m = NULL;
    assert_ok(manifest_decode(buf.data, buf.len, &m));
    buf_free(&buf);
    mkdir(f->out, 0755);
    assert_err(layer_materialize(f->s, m, f->out, LAYER_SHARE_COPY, NULL), STRATA_E_NOTFOUND);
    bool empty = false, exists = false;
    assert_ok(fs_dir_is_empty(f->out, &empty, &exists));
    assert_true(exists);
    assert_true(empty);
    manifest_free(m);
}

static void test_export_link_shares_readonly(void **state)
{
    fixture *f = *state;
    char big[2 * SPILL];
    tu_fill_random(big, sizeof(big), 9);
    tu_write_file(f->src, "plain", big, sizeof(big), 0644);
    big[0] ^= 1;
    tu_write_file(f->src, "exec", big, sizeof(big), 0755);
    tu_write_file(f->src, "small", "s", 1, 0644);
    strata_digest d;
    assert_ok(layer_import(f->s, f->src, NULL, &d, NULL));
    manifest *m = NULL;
    assert_ok(layer_load(f->s, &d, &m));
    layer_export_stats es;
    assert_ok(layer_materialize(f->s, m, f->out, LAYER_SHARE_LINK, &es));
    assert_int_equal(es.hardlinked, 1);
    struct stat plain, exec, obj;
    char p[4096];
    snprintf(p, sizeof(p), "%s/plain", f->out);
    assert_int_equal(stat(p, &plain), 0);
    assert_int_equal(plain.st_mode & 0777, 0444);
    assert_int_equal(plain.st_nlink, 2);
    /* The link is the store's own object file. */
    store_reader *r = NULL;
    assert_ok(store_reader_open(f->s, &m->entries[manifest_find(m, "plain", 5)].digest, &r));
    assert_non_null(store_reader_path(r));
    assert_int_equal(stat(store_reader_path(r), &obj), 0);
    store_reader_close(r);
    assert_true(obj.st_ino == plain.st_ino);
    snprintf(p, sizeof(p), "%s/exec", f->out);
    assert_int_equal(stat(p, &exec), 0);
    assert_int_equal(exec.st_mode & 0777, 0755);
    assert_int_equal(exec.st_nlink, 1);
    manifest_free(m);
}

static size_t count_problems;
static void on_problem(void *ctx, const char *what, const char *problem)
{
    (void)ctx;
    (void)what;
    (void)problem;
    count_problems++;
}

static void test_gc_keeps_reachable(void **state)
{
    fixture *f = *state;
    char big[2 * SPILL];
    tu_fill_random(big, sizeof(big), 1);
    tu_write_file(f->src, "a/shared", "shared", 6, 0644);
    tu_write_file(f->src, "a/only-a", "only a", 6, 0644);
    tu_write_file(f->src, "a/big-a", big, sizeof(big), 0644);
    tu_write_file(f->src, "b/shared", "shared", 6, 0644);
    tu_write_file(f->src, "b/only-b", "only b", 6, 0644);
    char *a = tu_path(f->src, "a"), *b = tu_path(f->src, "b");
    strata_digest da, db;
    assert_ok(layer_import(f->s, a, NULL, &da, NULL));
    assert_ok(layer_import(f->s, b, NULL, &db, NULL));
    assert_ok(store_ref_set(f->s, "a", &da));
    assert_ok(store_ref_set(f->s, "b", &db));

    store_gc_stats st;
    assert_ok(layer_gc(f->s, false, &st));
    assert_int_equal(st.blobs_removed, 0);
    assert_int_equal(st.blobs_kept, 6); /* 2 manifests + shared, only-a, big-a, only-b */

    assert_ok(store_ref_delete(f->s, "a"));
    assert_ok(layer_gc(f->s, true, &st));
    assert_int_equal(st.blobs_removed, 3); /* manifest a, only-a, big-a */
    bool present = false;
    uint64_t size;
    assert_ok(store_has(f->s, &da, &present, &size));
    assert_true(present); /* dry run removed nothing */

    assert_ok(layer_gc(f->s, false, &st));
    assert_int_equal(st.blobs_removed, 3);
    assert_int_equal(st.blobs_kept, 3);
    assert_ok(store_has(f->s, &da, &present, &size));
    assert_false(present);
    manifest *m = NULL;
    assert_ok(layer_load(f->s, &db, &m));
    assert_ok(layer_materialize(f->s, m, f->out, LAYER_SHARE_COPY, NULL));
    manifest_free(m);
    assert_same_tree(b, f->out);

    count_problems = 0;
    layer_fsck_stats fs;
    assert_ok(layer_fsck(f->s, on_problem, NULL, &fs));
    assert_int_equal(count_problems, 0);
    assert_int_equal(fs.refs, 1);
    assert_int_equal(fs.refs_bad, 0);
    free(a);
    free(b);
}

static void test_fsck_reports_broken_ref(void **state)
{
    fixture *f = *state;
    manifest_builder *b = manifest_builder_new(0755);
    strata_digest ghost;
    digest_buf("ghost", 5, &ghost);
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "g", 0644, 5, &ghost, NULL));
    strata_buf buf;
    buf_init(&buf);
    assert_ok(manifest_builder_encode(b, &buf));
    manifest_builder_free(b);
    strata_digest md;
    assert_ok(store_put_buf(f->s, buf.data, buf.len, &md, NULL));
    buf_free(&buf);
    assert_ok(store_ref_set(f->s, "broken", &md));
    count_problems = 0;
    layer_fsck_stats fs;
    assert_ok(layer_fsck(f->s, on_problem, NULL, &fs));
    assert_int_equal(count_problems, 1);
    assert_int_equal(fs.refs_bad, 1);
    /* The manifest itself is intact, so gc knows what the ref reaches and
     * deletes nothing of it. */
    store_gc_stats st;
    assert_ok(layer_gc(f->s, false, &st));
    assert_int_equal(st.blobs_removed, 0);
}

static void test_resolve(void **state)
{
    fixture *f = *state;
    tu_write_file(f->src, "x", "x", 1, 0644);
    strata_digest d, r;
    assert_ok(layer_import(f->s, f->src, NULL, &d, NULL));
    assert_ok(store_ref_set(f->s, "team/tool:v1", &d));
    assert_ok(layer_resolve(f->s, "team/tool:v1", &r));
    assert_true(digest_eq(&d, &r));
    char s[DIGEST_STR_LEN + 1];
    digest_format(&d, s);
    assert_ok(layer_resolve(f->s, s, &r));
    assert_true(digest_eq(&d, &r));
    assert_err(layer_resolve(f->s, "nope", &r), STRATA_E_NOTFOUND);
    assert_err(layer_resolve(f->s, "bad name!", &r), STRATA_E_INVALID);
    layer_refs refs;
    assert_ok(layer_refs_list(f->s, &refs));
    assert_int_equal(refs.n, 1);
    assert_string_equal(refs.names[0], "team/tool:v1");
    layer_refs_free(&refs);
}

/* A version 2 layer (whiteouts, an opaque directory) written out alone:
 * whiteouts delete nothing there and are left out; the opaque directory is
 * an ordinary one; gc keeps its files. */
static void test_export_diff_layer(void **state)
{
    fixture *f = *state;
    strata_digest fd, md;
    assert_ok(store_put_buf(f->s, "built\n", 6, &fd, NULL));
    manifest_builder *b = manifest_builder_new(0755);
    assert_ok(
        manifest_builder_add_flags(b, MANIFEST_DIR, MANIFEST_F_OPAQUE, "out", 0755, 0, NULL, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_FILE, "out/prog", 0755, 6, &fd, NULL));
    assert_ok(manifest_builder_add(b, MANIFEST_WHITEOUT, "removed.o", 0, 0, NULL, NULL));
    strata_buf enc;
    buf_init(&enc);
    assert_ok(manifest_builder_encode(b, &enc));
    manifest_builder_free(b);
    assert_ok(store_put_buf(f->s, enc.data, enc.len, &md, NULL));
    buf_free(&enc);
    assert_ok(store_ref_set(f->s, "diff", &md));
    manifest *m = NULL;
    assert_ok(layer_load(f->s, &md, &m));
    assert_int_equal(m->version, MANIFEST_VERSION_DIFF);
    layer_export_stats es;
    assert_ok(layer_materialize(f->s, m, f->out, LAYER_SHARE_COPY, &es));
    manifest_free(m);
    assert_int_equal(es.files, 1);
    assert_int_equal(es.dirs, 1);
    strata_buf got;
    buf_init(&got);
    list_tree(f->out, "", &got);
    buf_put_u8(&got, 0);
    char hex[DIGEST_HEX_LEN + 1], want[256];
    digest_to_hex(&fd, hex);
    snprintf(want, sizeof(want), "d out 755\nf out/prog 755 6 %s\n", hex);
    assert_string_equal((char *)got.data, want);
    buf_free(&got);
    char p[4096];
    snprintf(p, sizeof(p), "%s/out/prog", f->out);
    char buf[16] = {0};
    int fdp = open(p, O_RDONLY);
    assert_true(fdp >= 0);
    assert_int_equal(read(fdp, buf, sizeof(buf)), 6);
    close(fdp);
    assert_memory_equal(buf, "built\n", 6);
    store_gc_stats gs;
    assert_ok(layer_gc(f->s, false, &gs));
    bool present = false;
    uint64_t size = 0;
    assert_ok(store_has(f->s, &fd, &present, &size));
    assert_true(present);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_import_export_round_trip),
        T(test_import_is_deterministic_and_dedupes),
        T(test_import_refuses_fifo),
        T(test_import_refuses_the_store),
        T(test_export_into_nonempty_changes_nothing),
        T(test_export_failure_cleans_up),
        T(test_export_link_shares_readonly),
        T(test_gc_keeps_reachable),
        T(test_fsck_reports_broken_ref),
        T(test_resolve),
        T(test_export_diff_layer),
    };
    return cmocka_run_group_tests_name("layer", tests, NULL, NULL);
}
