/* Unit tests of the embedded store: round trips on both sides of the spill
 * threshold, dedup, streaming and concurrent reads, batches from several
 * threads, refs, gc (including its lock against another process), fsck of
 * damaged blobs, and what a killed writer leaves behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/digest.h"
#include "base/fsutil.h"
#include "store/store.h"
#include "testutil.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

/* ---- helpers ------------------------------------------------------------ */

static store *open_store(const char *dir, uint64_t threshold)
{
    store_opts o = {.spill_threshold = threshold};
    store *s = NULL;
    assert_ok(store_open(dir, &o, &s));
    assert_non_null(s);
    return s;
}

static uint8_t *rand_bytes(size_t len, uint64_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    tu_fill_random(p, len, seed);
    return p;
}

/* Reads the whole blob through a reader in odd-sized pieces and through
 * get_buf, and compares both with want. */
static void check_blob(store *s, const strata_digest *d, const void *want, size_t len)
{
    bool present = false;
    uint64_t size = 12345;
    assert_ok(store_has(s, d, &present, &size));
    assert_true(present);
    assert_int_equal(size, len);

    store_reader *r = NULL;
    assert_ok(store_reader_open(s, d, &r));
    assert_int_equal(store_reader_size(r), len);
    uint8_t *got = malloc(len + 1);
    assert_non_null(got);
    size_t off = 0;
    const size_t piece = 77777;
    for (;;) {
        size_t n = 0;
        assert_ok(store_reader_read(r, got + off, piece, off, &n));
        off += n;
        if (n < piece)
            break;
    }
    assert_int_equal(off, len);
    if (len)
        assert_memory_equal(got, want, len);
    store_reader_close(r);
    free(got);

    void *buf = NULL;
    size_t blen = 0;
    assert_ok(store_get_buf(s, d, len, &buf, &blen));
    assert_int_equal(blen, len);
    if (len)
        assert_memory_equal(buf, want, len);
    free(buf);
}

static bool is_spilled(store *s, const strata_digest *d)
{
    store_reader *r = NULL;
    assert_ok(store_reader_open(s, d, &r));
    bool spilled = store_reader_path(r) != NULL;
    store_reader_close(r);
    return spilled;
}

static char *object_path(const char *dir, const strata_digest *d)
{
    char hex[DIGEST_HEX_LEN + 1];
    digest_to_hex(d, hex);
    char *p = NULL;
    assert_true(asprintf(&p, "%s/objects/%.2s/%s", dir, hex, hex + 2) > 0);
    return p;
}

typedef struct pipe_feed {
    int fd;
    const uint8_t *data;
    size_t len;
} pipe_feed;

static void *feed_pipe(void *arg)
{
    pipe_feed *f = arg;
    strata_err *e = fs_write_all(f->fd, f->data, f->len, "pipe");
    strata_err_free(e);
    close(f->fd);
    return NULL;
}

/* Puts data through store_put_fd from a pipe, which gives no size hint. */
static void put_via_pipe(store *s, const uint8_t *data, size_t len, strata_digest *d, bool *was_new)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pipe_feed f = {.fd = p[1], .data = data, .len = len};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed_pipe, &f), 0);
    uint64_t size = 0;
    assert_ok(store_put_fd(s, p[0], "a pipe", d, &size, was_new));
    pthread_join(t, NULL);
    close(p[0]);
    assert_int_equal(size, len);
}

/* Puts data through store_put_fd from a regular file. */
static void put_via_file(store *s, const char *scratch, const uint8_t *data, size_t len,
                         strata_digest *d, bool *was_new)
{
    tu_write_file(scratch, "src.bin", data, len, 0644);
    char *path = tu_path(scratch, "src.bin");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint64_t size = 0;
    assert_ok(store_put_fd(s, fd, path, d, &size, was_new));
    assert_int_equal(size, len);
    close(fd);
    unlink(path);
    free(path);
}

static void read_byte(int fd, char *c)
{
    ssize_t n;
    do
        n = read(fd, c, 1);
    while (n < 0 && errno == EINTR);
    assert_int_equal(n, 1);
}

static int64_t sql_int(const char *dir, const char *sql)
{
    char *db = tu_path(dir, "store.db");
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    free(db);
    return v;
}

/* Runs one statement with an optional blob parameter ?1 and digest ?2. */
static void sql_exec(const char *dir, const char *sql, const void *blob, size_t blen,
                     const strata_digest *d)
{
    char *db = tu_path(dir, "store.db");
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    if (blob)
        sqlite3_bind_blob(st, 1, blob, (int)blen, SQLITE_STATIC);
    if (d)
        sqlite3_bind_blob(st, 2, d->b, DIGEST_LEN, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(h);
    free(db);
}

static size_t count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Files under objects/xx/. */
static size_t count_objects(const char *dir)
{
    char *objs = tu_path(dir, "objects");
    size_t n = 0;
    DIR *d = opendir(objs);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *sub = tu_path(objs, de->d_name);
        n += count_entries(sub);
        free(sub);
    }
    closedir(d);
    free(objs);
    return n;
}

static size_t count_temps(const char *dir)
{
    char *tmp = tu_path(dir, "tmp");
    size_t n = count_entries(tmp);
    free(tmp);
    return n;
}

/* ---- round trips -------------------------------------------------------- */

static void roundtrip_sizes(uint64_t threshold, const size_t *sizes, size_t nsizes)
{
    char *dir = tu_mkdtemp("store");
    char *scratch = tu_mkdtemp("scratch");
    store *s = open_store(dir, threshold);
    assert_int_equal(store_spill_threshold(s), threshold ? threshold : STORE_SPILL_DEFAULT);
    uint64_t limit = store_spill_threshold(s);
    for (size_t i = 0; i < nsizes; i++) {
        size_t len = sizes[i];
        /* Three different contents of this size, one per way in. */
        for (int how = 0; how < 3; how++) {
            uint8_t *data = rand_bytes(len, len * 3 + (size_t)how + 1);
            strata_digest want, d;
            digest_buf(data, len, &want);
            bool was_new = false;
            if (how == 0)
                assert_ok(store_put_buf(s, data, len, &d, &was_new));
            else if (how == 1)
                put_via_file(s, scratch, data, len, &d, &was_new);
            else
                put_via_pipe(s, data, len, &d, &was_new);
            /* The empty blob is the same content each time. */
            assert_true(was_new || len == 0);
            assert_true(digest_eq(&d, &want));
            check_blob(s, &d, data, len);
            assert_int_equal(is_spilled(s, &d), len > limit);
            free(data);
        }
    }
    assert_int_equal(count_temps(dir), 0);
    store_close(s);
    tu_rmtree(scratch);
    tu_rmtree(dir);
}

static void test_roundtrip_small_threshold(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 10000, 3 * MiB + 17};
    roundtrip_sizes(4096, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

static void test_roundtrip_default_threshold(void **state)
{
    (void)state;
    const size_t sizes[] = {
        0,          1000, STORE_SPILL_DEFAULT - 1, STORE_SPILL_DEFAULT, STORE_SPILL_DEFAULT + 1,
        5 * MiB + 3};
    roundtrip_sizes(0, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

static void test_threshold_extremes(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 1);
    const size_t sizes[] = {0, 1, 2, 5000};
    for (size_t i = 0; i < 4; i++) {
        uint8_t *data = rand_bytes(sizes[i], i + 7);
        strata_digest d;
        assert_ok(store_put_buf(s, data, sizes[i], &d, NULL));
        check_blob(s, &d, data, sizes[i]);
        assert_int_equal(is_spilled(s, &d), sizes[i] > 1);
        free(data);
    }
    store_close(s);
    tu_rmtree(dir);

    /* "Never spill" is clamped to what SQLite and memory allow, and that is
     * still far above the sizes the benchmark keeps inline. */
    dir = tu_mkdtemp("store");
    s = open_store(dir, UINT64_MAX);
    assert_true(store_spill_threshold(s) >= 16 * MiB);
    uint8_t *data = rand_bytes(17 * MiB, 99);
    strata_digest d;
    put_via_pipe(s, data, 17 * MiB, &d, NULL);
    assert_false(is_spilled(s, &d));
    check_blob(s, &d, data, 17 * MiB);
    free(data);
    store_close(s);
    tu_rmtree(dir);
}

/* ---- dedup and the spilled file ----------------------------------------- */

static void test_dedup(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    char *scratch = tu_mkdtemp("scratch");
    store *s = open_store(dir, 4096);
    uint8_t *small = rand_bytes(1000, 1), *big = rand_bytes(100000, 2);
    strata_digest d1, d2, d;
    bool was_new = false;

    assert_ok(store_put_buf(s, small, 1000, &d1, &was_new));
    assert_true(was_new);
    assert_ok(store_put_buf(s, small, 1000, &d, &was_new));
    assert_false(was_new);
    assert_true(digest_eq(&d, &d1));
    put_via_pipe(s, small, 1000, &d, &was_new);
    assert_false(was_new);
    assert_true(digest_eq(&d, &d1));

    assert_ok(store_put_buf(s, big, 100000, &d2, &was_new));
    assert_true(was_new);
    assert_ok(store_put_buf(s, big, 100000, &d, &was_new));
    assert_false(was_new);
    put_via_file(s, scratch, big, 100000, &d, &was_new);
    assert_false(was_new);
    assert_true(digest_eq(&d, &d2));
    put_via_pipe(s, big, 100000, &d, &was_new);
    assert_false(was_new);
    assert_true(digest_eq(&d, &d2));

    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 2);
    assert_int_equal(count_objects(dir), 1);
    assert_int_equal(count_temps(dir), 0); /* discarded temp files are gone */
    check_blob(s, &d1, small, 1000);
    check_blob(s, &d2, big, 100000);
    free(small);
    free(big);
    store_close(s);
    tu_rmtree(scratch);
    tu_rmtree(dir);
}

static void test_spilled_file(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    size_t len = 300000;
    uint8_t *data = rand_bytes(len, 3);
    strata_digest d;
    assert_ok(store_put_buf(s, data, len, &d, NULL));
    char *want = object_path(dir, &d);
    struct stat st;
    assert_int_equal(stat(want, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0444);
    assert_int_equal(st.st_size, len);

    store_reader *r = NULL;
    assert_ok(store_reader_open(s, &d, &r));
    assert_string_equal(store_reader_path(r), want);
    store_reader_close(r);

    uint8_t *got = malloc(len);
    int fd = open(want, O_RDONLY);
    assert_true(fd >= 0);
    size_t n = 0;
    assert_ok(fs_pread_full(fd, got, len, 0, &n, want));
    close(fd);
    assert_int_equal(n, len);
    assert_memory_equal(got, data, len);

    /* An inline blob has no file and no path. */
    strata_digest di;
    assert_ok(store_put_buf(s, data, 4096, &di, NULL));
    char *none = object_path(dir, &di);
    assert_int_equal(stat(none, &st), -1);
    assert_false(is_spilled(s, &di));

    free(none);
    free(got);
    free(want);
    free(data);
    store_close(s);
    tu_rmtree(dir);
}

/* ---- reads -------------------------------------------------------------- */

static void random_reads(store *s, const strata_digest *d, const uint8_t *src, size_t len,
                         uint64_t seed, int count)
{
    store_reader *r = NULL;
    assert_ok(store_reader_open(s, d, &r));
    uint8_t *buf = malloc(70000);
    uint64_t x = seed * 2654435761u + 1;
    for (int i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t off = x % (len + 100);
        size_t want_len = (size_t)((x >> 20) % 70000);
        if (i % 10 == 0)
            want_len = (size_t)((x >> 20) % 64); /* many tiny reads too */
        size_t got = 0;
        memset(buf, 0xA5, 70000);
        assert_ok(store_reader_read(r, buf, want_len, off, &got));
        size_t expect = off >= len ? 0 : (len - off < want_len ? len - off : want_len);
        assert_int_equal(got, expect);
        if (expect)
            assert_memory_equal(buf, src + off, expect);
    }
    free(buf);
    store_reader_close(r);
}

static void test_random_reads(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    /* A threshold above the default, so the inline blob spans many
     * overflow pages and reads of up to 70000 bytes fit inside it. */
    store *s = open_store(dir, 256 * KiB);
    size_t ilen = 200 * KiB + 3, slen = 3 * MiB + 5;
    uint8_t *in = rand_bytes(ilen, 10), *sp = rand_bytes(slen, 11);
    strata_digest di, ds;
    assert_ok(store_put_buf(s, in, ilen, &di, NULL));
    assert_ok(store_put_buf(s, sp, slen, &ds, NULL));
    assert_false(is_spilled(s, &di));
    assert_true(is_spilled(s, &ds));
    random_reads(s, &di, in, ilen, 1, 1500);
    random_reads(s, &ds, sp, slen, 2, 1500);
    free(in);
    free(sp);
    store_close(s);
    tu_rmtree(dir);
}

static void test_read_past_end(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    const size_t lens[] = {0, 1000, 9000}; /* empty, inline, spilled */
    for (int i = 0; i < 3; i++) {
        size_t len = lens[i];
        uint8_t *data = rand_bytes(len, 20 + (uint64_t)i);
        strata_digest d;
        assert_ok(store_put_buf(s, data, len, &d, NULL));
        store_reader *r = NULL;
        assert_ok(store_reader_open(s, &d, &r));
        uint8_t buf[200];
        size_t got = 99;
        assert_ok(store_reader_read(r, buf, sizeof(buf), len, &got));
        assert_int_equal(got, 0);
        got = 99;
        assert_ok(store_reader_read(r, buf, sizeof(buf), len + 5000, &got));
        assert_int_equal(got, 0);
        got = 99;
        assert_ok(store_reader_read(r, buf, sizeof(buf), UINT64_MAX, &got));
        assert_int_equal(got, 0);
        if (len) {
            assert_ok(store_reader_read(r, buf, sizeof(buf), len - 10, &got));
            assert_int_equal(got, 10);
            assert_memory_equal(buf, data + len - 10, 10);
            assert_ok(store_reader_read(r, buf, 0, 0, &got));
            assert_int_equal(got, 0);
        }
        store_reader_close(r);
        free(data);
    }
    store_close(s);
    tu_rmtree(dir);
}

/* ---- concurrency -------------------------------------------------------- */

#define NBLOBS 6

typedef struct read_world {
    store *s;
    strata_digest d[NBLOBS];
    uint8_t *data[NBLOBS];
    size_t len[NBLOBS];
    store_reader *shared[NBLOBS];
} read_world;

typedef struct read_task {
    read_world *w;
    bool own; /* open private readers instead of using the shared ones */
    uint64_t seed;
    int errors; /* checked by the main thread: cmocka is not thread-safe */
    int reads;
} read_task;

static void *read_worker(void *arg)
{
    read_task *t = arg;
    read_world *w = t->w;
    store_reader *mine[NBLOBS] = {0};
    uint8_t *buf = malloc(40000);
    uint64_t x = t->seed * 0x9e3779b97f4a7c15ull + 7;
    for (int i = 0; i < 300; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int b = (int)(x % NBLOBS);
        store_reader *r = w->shared[b];
        if (t->own) {
            /* Reopen now and then, so opens race with reads too. */
            if (mine[b] && i % 7 == 0) {
                store_reader_close(mine[b]);
                mine[b] = NULL;
            }
            if (!mine[b]) {
                strata_err *e = store_reader_open(w->s, &w->d[b], &mine[b]);
                if (e) {
                    strata_err_free(e);
                    t->errors++;
                    continue;
                }
            }
            r = mine[b];
        }
        size_t len = w->len[b];
        uint64_t off = (x >> 8) % (len + 10);
        size_t want = (size_t)((x >> 32) % 40000);
        size_t got = 0;
        strata_err *e = store_reader_read(r, buf, want, off, &got);
        size_t expect = off >= len ? 0 : (len - off < want ? len - off : want);
        if (e) {
            strata_err_free(e);
            t->errors++;
        } else if (got != expect || (expect && memcmp(buf, w->data[b] + off, expect) != 0)) {
            t->errors++;
        }
        t->reads++;
    }
    for (int b = 0; b < NBLOBS; b++)
        store_reader_close(mine[b]);
    free(buf);
    return NULL;
}

static void concurrent_reads(int max_readers)
{
    char *dir = tu_mkdtemp("store");
    store_opts o = {.max_readers = max_readers};
    read_world w = {0};
    assert_ok(store_open(dir, &o, &w.s));
    const size_t lens[NBLOBS] = {0,      100, 5000, STORE_SPILL_DEFAULT, STORE_SPILL_DEFAULT + 1,
                                 2 * MiB};
    for (int b = 0; b < NBLOBS; b++) {
        w.len[b] = lens[b];
        w.data[b] = rand_bytes(lens[b], 40 + (uint64_t)b);
        assert_ok(store_put_buf(w.s, w.data[b], lens[b], &w.d[b], NULL));
        assert_ok(store_reader_open(w.s, &w.d[b], &w.shared[b]));
    }
    enum { N = 64 };
    read_task tasks[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        tasks[i] = (read_task){.w = &w, .own = i % 2 == 1, .seed = (uint64_t)i + 1};
        assert_int_equal(pthread_create(&th[i], NULL, read_worker, &tasks[i]), 0);
    }
    int errors = 0, reads = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        errors += tasks[i].errors;
        reads += tasks[i].reads;
    }
    assert_int_equal(errors, 0);
    assert_int_equal(reads, N * 300);
    for (int b = 0; b < NBLOBS; b++) {
        store_reader_close(w.shared[b]);
        free(w.data[b]);
    }
    store_close(w.s);
    tu_rmtree(dir);
}

/* 32 threads on shared readers and 32 on readers of their own. */
static void test_concurrent_readers(void **state)
{
    (void)state;
    concurrent_reads(0);
}

/* The same with a pool far smaller than the threads: borrowers wait. */
static void test_concurrent_readers_small_pool(void **state)
{
    (void)state;
    concurrent_reads(3);
}

typedef struct batch_task {
    store *s;
    int thread;
    int fresh; /* puts that reported was_new */
    int errors;
} batch_task;

enum { BATCH_PER_THREAD = 1000, BATCH_SHARED = 600, BATCH_THREADS = 4 };

/* Content number k: shared numbers are put by every thread. */
static size_t batch_content(int k, uint8_t *buf)
{
    size_t len = (size_t)(k * 7919 % 3000);
    if (k % 97 == 0)
        len = 5000 + (size_t)k; /* some spill (threshold 4096) */
    tu_fill_random(buf, len, (uint64_t)k + 1000);
    return len;
}

static int batch_number(int thread, int i)
{
    return i < BATCH_SHARED ? i : BATCH_SHARED + thread * BATCH_PER_THREAD + i;
}

static void *batch_worker(void *arg)
{
    batch_task *t = arg;
    uint8_t *buf = malloc(64 * KiB);
    for (int i = 0; i < BATCH_PER_THREAD; i++) {
        /* Walk the shared part in a different order per thread, so the
         * same content races between threads. */
        int j = (i + t->thread * 150) % BATCH_PER_THREAD;
        size_t len = batch_content(batch_number(t->thread, j), buf);
        strata_digest d;
        bool was_new = false;
        strata_err *e = store_put_buf(t->s, buf, len, &d, &was_new);
        if (e) {
            strata_err_free(e);
            t->errors++;
        } else if (was_new) {
            t->fresh++;
        }
    }
    free(buf);
    return NULL;
}

static void test_batch_threads(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    assert_ok(store_batch_begin(s));
    assert_err(store_batch_begin(s), STRATA_E_INTERNAL); /* no nesting */
    batch_task tasks[BATCH_THREADS];
    pthread_t th[BATCH_THREADS];
    for (int i = 0; i < BATCH_THREADS; i++) {
        tasks[i] = (batch_task){.s = s, .thread = i};
        assert_int_equal(pthread_create(&th[i], NULL, batch_worker, &tasks[i]), 0);
    }
    int fresh = 0;
    for (int i = 0; i < BATCH_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(tasks[i].errors, 0);
        fresh += tasks[i].fresh;
    }
    /* A ref set in the batch may name a blob the batch has not committed. */
    uint8_t *buf = malloc(64 * KiB);
    size_t len = batch_content(BATCH_PER_THREAD * BATCH_THREADS + BATCH_SHARED - 1, buf);
    strata_digest last;
    digest_buf(buf, len, &last);
    assert_ok(store_ref_set(s, "batch/last", &last));
    assert_ok(store_batch_end(s));

    /* Every distinct content reported new exactly once, across threads. */
    int distinct = BATCH_SHARED + BATCH_THREADS * (BATCH_PER_THREAD - BATCH_SHARED);
    /* Sizes collide into the empty blob for k multiple of 3000/gcd: count
     * distinct digests instead of assuming. */
    int64_t rows = sql_int(dir, "SELECT count(*) FROM blobs");
    assert_int_equal(fresh, rows);
    assert_true(rows > 2000); /* so at least one automatic commit happened */
    assert_true(rows <= distinct);
    store_close(s);

    s = open_store(dir, 4096);
    for (int t = 0; t < BATCH_THREADS; t++) {
        for (int i = 0; i < BATCH_PER_THREAD; i += 13) {
            len = batch_content(batch_number(t, i), buf);
            strata_digest d;
            digest_buf(buf, len, &d);
            check_blob(s, &d, buf, len);
        }
    }
    strata_digest got;
    assert_ok(store_ref_get(s, "batch/last", &got));
    assert_true(digest_eq(&got, &last));
    free(buf);
    store_close(s);
    tu_rmtree(dir);
}

/* Within a batch, dedup is exact before anything reaches the database: a
 * pending blob counts as present, and a spilled duplicate makes neither a
 * second object file nor a leftover temp file. */
static void test_batch_dedup(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    char *scratch = tu_mkdtemp("scratch");
    store *s = open_store(dir, 4096);
    uint8_t *old = rand_bytes(500, 40), *small = rand_bytes(1000, 41);
    uint8_t *big = rand_bytes(100000, 42), *big2 = rand_bytes(200000, 43);
    strata_digest dold, dsmall, dbig, dbig2, d;
    bool was_new = false;

    assert_ok(store_put_buf(s, old, 500, &dold, &was_new));
    assert_true(was_new);

    assert_ok(store_batch_begin(s));
    /* Stored before the batch: present. */
    assert_ok(store_put_buf(s, old, 500, &d, &was_new));
    assert_false(was_new);

    /* Pending in the batch: present, whichever way the bytes come in. */
    assert_ok(store_put_buf(s, small, 1000, &dsmall, &was_new));
    assert_true(was_new);
    assert_ok(store_put_buf(s, small, 1000, &d, &was_new));
    assert_false(was_new);
    put_via_pipe(s, small, 1000, &d, &was_new);
    assert_false(was_new);
    assert_true(digest_eq(&d, &dsmall));

    assert_ok(store_put_buf(s, big, 100000, &dbig, &was_new));
    assert_true(was_new);
    assert_ok(store_put_buf(s, big, 100000, &d, &was_new));
    assert_false(was_new);
    put_via_file(s, scratch, big, 100000, &d, &was_new);
    assert_false(was_new);
    put_via_pipe(s, big, 100000, &d, &was_new);
    assert_false(was_new);
    assert_true(digest_eq(&d, &dbig));

    put_via_pipe(s, big2, 200000, &dbig2, &was_new);
    assert_true(was_new);
    assert_ok(store_put_buf(s, big2, 200000, &d, &was_new));
    assert_false(was_new);
    put_via_file(s, scratch, big2, 200000, &d, &was_new);
    assert_false(was_new);

    /* Spilled files are published at once; their rows wait for the flush,
     * and readers see the batch's blobs only after it. */
    assert_int_equal(count_objects(dir), 2);
    assert_int_equal(count_temps(dir), 0);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 1);
    bool present = true;
    assert_ok(store_has(s, &dsmall, &present, NULL));
    assert_false(present);
    assert_ok(store_batch_end(s));

    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 4);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs WHERE spilled"), 2);
    assert_int_equal(count_objects(dir), 2);
    assert_int_equal(count_temps(dir), 0);
    check_blob(s, &dold, old, 500);
    check_blob(s, &dsmall, small, 1000);
    check_blob(s, &dbig, big, 100000);
    check_blob(s, &dbig2, big2, 200000);

    /* A later batch finds them all in the database. */
    assert_ok(store_batch_begin(s));
    assert_ok(store_put_buf(s, small, 1000, &d, &was_new));
    assert_false(was_new);
    put_via_pipe(s, big, 100000, &d, &was_new);
    assert_false(was_new);
    assert_ok(store_put_buf(s, big2, 200000, &d, &was_new));
    assert_false(was_new);
    assert_ok(store_batch_end(s));
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 4);
    assert_int_equal(count_objects(dir), 2);
    assert_int_equal(count_temps(dir), 0);

    free(old);
    free(small);
    free(big);
    free(big2);
    store_close(s);
    tu_rmtree(scratch);
    tu_rmtree(dir);
}

/* A flush that fails loses the rows it was writing: the batch refuses
 * further puts and store_batch_end reports the loss, rather than the
 * importer naming a layer whose blobs are missing. The failure is injected
 * with a trigger that aborts every insert. */
static void test_batch_flush_fails(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    sql_exec(dir,
             "CREATE TRIGGER no_insert BEFORE INSERT ON blobs BEGIN"
             " SELECT RAISE(ABORT, 'injected failure'); END",
             NULL, 0, NULL);
    assert_ok(store_batch_begin(s));
    strata_digest d;
    strata_err *e = NULL;
    int i = 0;
    /* Puts succeed while they are only buffered; the one that fills the
     * buffer flushes, and fails. */
    for (; i < 100000 && !e; i++)
        e = store_put_buf(s, &i, sizeof(i), &d, NULL);
    assert_non_null(e);
    assert_true(i > 1);
    strata_err_free(e);
    assert_err(store_put_buf(s, "after", 5, &d, NULL), STRATA_E_IO);
    assert_err(store_batch_end(s), STRATA_E_IO);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 0);

    /* The next batch starts clean. */
    sql_exec(dir, "DROP TRIGGER no_insert", NULL, 0, NULL);
    assert_ok(store_batch_begin(s));
    assert_ok(store_put_buf(s, "after", 5, &d, NULL));
    assert_ok(store_batch_end(s));
    check_blob(s, &d, "after", 5);
    store_close(s);
    tu_rmtree(dir);
}

/* A store_put_fd running in a thread of its own. */
typedef struct put_task {
    store *s;
    int fd;
    strata_digest d;
    strata_err *err;
} put_task;

static void *put_fd_thread(void *arg)
{
    put_task *t = arg;
    t->err = store_put_fd(t->s, t->fd, "a pipe", &t->d, NULL, NULL);
    return NULL;
}

/* What the child of test_batch_other_process does, as an exit status:
 * 0 when every step went as expected. It must not wait on the parent's
 * batch: alarm() kills it if anything blocks (a busy wait on SQLite's
 * write lock would last 30 s). */
static int other_process_child(const char *dir, int go, int done)
{
    alarm(20);
    char c;
    if (read(go, &c, 1) != 1)
        return 10;
    store *s = NULL;
    strata_err *e = store_open(dir, NULL, &s);
    if (e)
        return 11;
    strata_digest d;
    bool was_new = false;
    e = store_put_buf(s, "from the child", 14, &d, &was_new);
    if (e || !was_new)
        return 12;
    if ((e = store_batch_begin(s)))
        return 13;
    uint8_t big[20000];
    tu_fill_random(big, sizeof(big), 77);
    e = store_put_buf(s, big, sizeof(big), &d, &was_new);
    if (e || !was_new)
        return 14;
    if ((e = store_batch_end(s)))
        return 15;
    store_gc *g = NULL;
    e = store_gc_begin(s, &g);
    int rc = 0;
    if (!e || e->code != STRATA_E_BUSY || !strstr(e->hint, "another strata process"))
        rc = 16;
    strata_err_free(e);
    store_close(s);
    c = rc ? 'e' : 'k';
    if (write(done, &c, 1) != 1)
        return 17;
    return rc;
}

/* An import in one process, its batch holding buffered puts while a
 * thread streams a large file, does not block another process: that one
 * opens the store, puts and commits blobs, and is told at once by gc that
 * a writer is active. */
static void test_batch_other_process(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    store_close(s);

    /* Forked before this process opens SQLite or starts threads. */
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(done[0]);
        _exit(other_process_child(dir, go[0], done[1]));
    }
    close(go[0]);
    close(done[1]);

    s = open_store(dir, 4096);
    assert_ok(store_batch_begin(s));
    enum { N = 500 };
    strata_digest ds[N];
    uint8_t buf[6000];
    for (int i = 0; i < N; i++) {
        size_t len = i % 50 == 0 ? 5000 + (size_t)i : 10 + (size_t)i;
        tu_fill_random(buf, len, (uint64_t)i + 500);
        assert_ok(store_put_buf(s, buf, len, &ds[i], NULL));
    }
    /* In the middle of something: a thread streams a large blob from a
     * pipe. Once this write returns, its temp file exists. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    size_t len = 4 * MiB;
    uint8_t *data = rand_bytes(len, 501);
    put_task f = {.s = s, .fd = p[0]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, put_fd_thread, &f), 0);
    assert_ok(fs_write_all(p[1], data, len / 2, "pipe"));
    assert_int_equal(count_temps(dir), 1);

    char c = 'g';
    assert_int_equal(write(go[1], &c, 1), 1);
    read_byte(done[0], &c);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status)); /* not killed by its alarm */
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(c, 'k');

    /* The child's committed blob is visible here at once. */
    strata_digest dc;
    digest_buf("from the child", 14, &dc);
    check_blob(s, &dc, "from the child", 14);

    assert_ok(fs_write_all(p[1], data + len / 2, len - len / 2, "pipe"));
    close(p[1]);
    pthread_join(t, NULL);
    close(p[0]);
    assert_null(f.err);
    assert_ok(store_batch_end(s));
    for (int i = 0; i < N; i++) {
        size_t l = i % 50 == 0 ? 5000 + (size_t)i : 10 + (size_t)i;
        tu_fill_random(buf, l, (uint64_t)i + 500);
        check_blob(s, &ds[i], buf, l);
    }
    check_blob(s, &f.d, data, len);
    assert_int_equal(count_temps(dir), 0);
    /* With the other writer gone, gc may start. */
    store_gc *g = NULL;
    assert_ok(store_gc_begin(s, &g));
    store_gc_abort(g);
    free(data);
    close(go[1]);
    close(done[0]);
    store_close(s);
    tu_rmtree(dir);
}

enum { TWO_SHARED = 1500, TWO_PER_PROC = 6000 };

/* Content k for test_batch_two_processes: some spill (threshold 4096). */
static size_t two_content(int k, uint8_t *buf)
{
    size_t len = 1 + (size_t)(k * 37 % 3000);
    if (k % 50 == 0)
        len = 5000 + (size_t)(k % 10000);
    tu_fill_random(buf, len, (uint64_t)k + 7000);
    return len;
}

/* The content number that process proc puts i-th: the shared ones come in
 * opposite orders in the two processes, so they race. */
static int two_number(int proc, int i)
{
    if (i < TWO_SHARED)
        return proc == 0 ? i : TWO_SHARED - 1 - i;
    return 100000 * (proc + 1) + i;
}

static int two_child(const char *dir, int proc, int go)
{
    alarm(120);
    char c;
    if (read(go, &c, 1) != 0) /* the parent starts both by closing go */
        return 10;
    store *s = NULL;
    if (store_open(dir, &(store_opts){.spill_threshold = 4096}, &s))
        return 11;
    if (store_batch_begin(s))
        return 12;
    uint8_t *buf = malloc(16 * KiB);
    int errors = 0;
    for (int i = 0; i < TWO_PER_PROC; i++) {
        size_t len = two_content(two_number(proc, i), buf);
        strata_digest d;
        strata_err *e = store_put_buf(s, buf, len, &d, NULL);
        if (e) {
            fprintf(stderr, "child %d: %s\n", proc, e->msg);
            strata_err_free(e);
            errors++;
        }
    }
    free(buf);
    strata_err *e = store_batch_end(s);
    if (e) {
        fprintf(stderr, "child %d: %s\n", proc, e->msg);
        strata_err_free(e);
        errors++;
    }
    store_close(s);
    return errors ? 13 : 0;
}

/* Two processes importing at once, each with a batch of thousands of
 * puts (some of the same bytes), both succeed and store everything. */
static void test_batch_two_processes(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    store_close(s);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[2];
    for (int proc = 0; proc < 2; proc++) {
        pids[proc] = fork();
        assert_true(pids[proc] >= 0);
        if (pids[proc] == 0) {
            close(go[1]);
            _exit(two_child(dir, proc, go[0]));
        }
    }
    close(go[0]);
    close(go[1]);
    for (int proc = 0; proc < 2; proc++) {
        int status = 0;
        assert_int_equal(waitpid(pids[proc], &status, 0), pids[proc]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    s = open_store(dir, 4096);
    uint8_t *buf = malloc(16 * KiB);
    int64_t spilled = 0;
    for (int proc = 0; proc < 2; proc++) {
        for (int i = 0; i < TWO_PER_PROC; i++) {
            int k = two_number(proc, i);
            if (proc == 1 && i < TWO_SHARED)
                continue; /* counted once, for proc 0 */
            size_t len = two_content(k, buf);
            spilled += len > 4096;
            strata_digest d;
            digest_buf(buf, len, &d);
            check_blob(s, &d, buf, len);
        }
    }
    int64_t distinct = TWO_SHARED + 2 * (TWO_PER_PROC - TWO_SHARED);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), distinct);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs WHERE spilled"), spilled);
    assert_int_equal(count_objects(dir), spilled);
    assert_int_equal(count_temps(dir), 0);
    free(buf);
    store_close(s);
    tu_rmtree(dir);
}

/* ---- refs --------------------------------------------------------------- */

typedef struct ref_seen {
    int n, stop_after;
    char names[8][64];
    strata_digest d[8];
} ref_seen;

static bool collect_ref(void *ctx, const char *name, const strata_digest *d)
{
    ref_seen *r = ctx;
    snprintf(r->names[r->n], sizeof(r->names[0]), "%s", name);
    r->d[r->n] = *d;
    r->n++;
    return r->n != r->stop_after;
}

static void test_refs(void **state)
{
    (void)state;
    const char *good[] = {"a", "main", "v1.2.3", "team/app:latest", "x@y+z_w-1", "a/b/c", "A.Z"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(store_ref_name_valid(good[i]));
    char long_ok[256], long_bad[257];
    memset(long_ok, 'r', 255);
    long_ok[255] = '\0';
    memset(long_bad, 'r', 256);
    long_bad[256] = '\0';
    assert_true(store_ref_name_valid(long_ok));
    const char *bad[] = {"",    "-x",  "sha256:abc", "/a",          "a/",   "a..b",
                         "..",  "a b", "a\tb",       "caf\xc3\xa9", "a\\b", "a*",
                         "a?b", "x\n", long_bad,     "sha256:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(store_ref_name_valid(bad[i]));

    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    strata_digest d1, d2, absent, got;
    assert_ok(store_put_buf(s, "one", 3, &d1, NULL));
    assert_ok(store_put_buf(s, "two", 3, &d2, NULL));
    digest_buf("absent", 6, &absent);

    assert_err(store_ref_set(s, "main", &absent), STRATA_E_NOTFOUND);
    assert_err(store_ref_get(s, "main", &got), STRATA_E_NOTFOUND);
    assert_err(store_ref_set(s, "bad name", &d1), STRATA_E_INVALID);
    assert_err(store_ref_get(s, "-bad", &got), STRATA_E_INVALID);

    assert_ok(store_ref_set(s, "main", &d1));
    assert_ok(store_ref_get(s, "main", &got));
    assert_true(digest_eq(&got, &d1));
    assert_ok(store_ref_set(s, "main", &d2)); /* replaces */
    assert_ok(store_ref_get(s, "main", &got));
    assert_true(digest_eq(&got, &d2));
    assert_ok(store_ref_set(s, "z/last", &d1));
    assert_ok(store_ref_set(s, "a/first", &d1));

    ref_seen seen = {0};
    assert_ok(store_ref_list(s, collect_ref, &seen));
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.names[0], "a/first");
    assert_string_equal(seen.names[1], "main");
    assert_string_equal(seen.names[2], "z/last");
    assert_true(digest_eq(&seen.d[1], &d2));
    ref_seen two = {.stop_after = 2};
    assert_ok(store_ref_list(s, collect_ref, &two));
    assert_int_equal(two.n, 2);

    assert_ok(store_ref_delete(s, "main"));
    assert_err(store_ref_get(s, "main", &got), STRATA_E_NOTFOUND);
    assert_err(store_ref_delete(s, "main"), STRATA_E_NOTFOUND);
    store_close(s);

    /* Refs survive a reopen, read-only included. */
    store_opts ro = {.read_only = true};
    assert_ok(store_open(dir, &ro, &s));
    assert_ok(store_ref_get(s, "z/last", &got));
    assert_true(digest_eq(&got, &d1));
    assert_err(store_ref_set(s, "other", &d1), STRATA_E_INVALID);
    store_close(s);
    tu_rmtree(dir);
}

/* ---- gc ----------------------------------------------------------------- */

static void test_gc(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    uint8_t *a = rand_bytes(1000, 50), *b = rand_bytes(20000, 51), *c = rand_bytes(2000, 52),
            *dd = rand_bytes(30000, 53), *e = rand_bytes(10, 54);
    strata_digest da, db, dc, ddd, de;
    assert_ok(store_put_buf(s, a, 1000, &da, NULL));
    assert_ok(store_put_buf(s, b, 20000, &db, NULL));
    assert_ok(store_put_buf(s, c, 2000, &dc, NULL));
    assert_ok(store_put_buf(s, dd, 30000, &ddd, NULL));
    assert_ok(store_put_buf(s, e, 10, &de, NULL));
    assert_ok(store_ref_set(s, "keep", &de)); /* a ref target is always kept */
    char *pb = object_path(dir, &db), *pd = object_path(dir, &ddd);

    /* Leftovers of killed writers: a temp file and an object with no row. */
    tu_write_file(dir, "tmp/put.AbCdEf", "partial", 7, 0600);
    strata_digest ghost;
    digest_buf("ghost", 5, &ghost);
    char *pg = object_path(dir, &ghost);
    char ghex[DIGEST_HEX_LEN + 1];
    digest_to_hex(&ghost, ghex);
    char gname[80];
    snprintf(gname, sizeof(gname), "objects/%.2s/%s", ghex, ghex + 2);
    tu_write_file(dir, gname, "ghost", 5, 0444);
    /* A name that is not an object name is left alone. */
    tu_write_file(dir, "objects/README", "hi", 2, 0644);

    /* Puts are refused while this handle collects. */
    strata_digest dx;
    store_gc *g = NULL;
    assert_ok(store_gc_begin(s, &g));
    assert_err(store_put_buf(s, "x", 1, &dx, NULL), STRATA_E_BUSY);
    store_gc_abort(g);
    assert_ok(store_put_buf(s, "x", 1, &dx, NULL)); /* and accepted after abort */

    /* Dry run: counts, changes nothing. */
    assert_ok(store_gc_begin(s, &g));
    assert_ok(store_gc_mark(g, &da));
    assert_ok(store_gc_mark(g, &db));
    assert_ok(store_gc_mark(g, &da));    /* twice is fine */
    assert_ok(store_gc_mark(g, &ghost)); /* absent is fine */
    store_gc_stats st;
    memset(&st, 0xff, sizeof(st));
    assert_ok(store_gc_sweep(g, true, &st));
    assert_int_equal(st.blobs_kept, 3);
    assert_int_equal(st.bytes_kept, 1000 + 20000 + 10);
    assert_int_equal(st.blobs_removed, 3); /* c, dd, "x" */
    assert_int_equal(st.bytes_removed, 2000 + 30000 + 1);
    assert_int_equal(st.temp_files_removed, 2);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 6);
    assert_int_equal(access(pd, F_OK), 0);
    assert_int_equal(access(pg, F_OK), 0);
    assert_int_equal(count_temps(dir), 1);
    check_blob(s, &dc, c, 2000);
    check_blob(s, &ddd, dd, 30000);

    /* For real. */
    assert_ok(store_gc_begin(s, &g));
    assert_ok(store_gc_mark(g, &da));
    assert_ok(store_gc_mark(g, &db));
    memset(&st, 0xff, sizeof(st));
    assert_ok(store_gc_sweep(g, false, &st));
    assert_int_equal(st.blobs_kept, 3);
    assert_int_equal(st.blobs_removed, 3);
    assert_int_equal(st.bytes_removed, 2000 + 30000 + 1);
    assert_int_equal(st.temp_files_removed, 2);
    bool present = true;
    assert_ok(store_has(s, &dc, &present, NULL));
    assert_false(present);
    assert_ok(store_has(s, &ddd, &present, NULL));
    assert_false(present);
    assert_int_equal(access(pd, F_OK), -1);
    assert_int_equal(access(pg, F_OK), -1);
    assert_int_equal(access(pb, F_OK), 0);
    assert_int_equal(count_temps(dir), 0);
    char *readme = tu_path(dir, "objects/README");
    assert_int_equal(access(readme, F_OK), 0);
    free(readme);
    store_reader *r = NULL;
    assert_err(store_reader_open(s, &ddd, &r), STRATA_E_NOTFOUND);
    check_blob(s, &da, a, 1000);
    check_blob(s, &db, b, 20000);
    check_blob(s, &de, e, 10);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 3);
    assert_int_equal(count_objects(dir), 1); /* b's file */

    /* Sweeping again finds nothing; the store still takes puts, and a
     * removed blob can come back. */
    assert_ok(store_gc_begin(s, &g));
    assert_ok(store_gc_mark(g, &da));
    assert_ok(store_gc_mark(g, &db));
    assert_ok(store_gc_sweep(g, false, &st));
    assert_int_equal(st.blobs_removed, 0);
    assert_int_equal(st.temp_files_removed, 0);
    bool was_new = false;
    assert_ok(store_put_buf(s, dd, 30000, &ddd, &was_new));
    assert_true(was_new);
    check_blob(s, &ddd, dd, 30000);

    store_fsck_stats fs;
    assert_ok(store_fsck(s, NULL, NULL, &fs));
    assert_int_equal(fs.bad, 0);
    assert_int_equal(fs.temp_files, 0);

    free(pb);
    free(pd);
    free(pg);
    free(a);
    free(b);
    free(c);
    free(dd);
    free(e);
    store_close(s);
    tu_rmtree(dir);
}

static void test_gc_busy_other_process(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 0);
    store_close(s);

    /* The child opens the store writable and holds it until the parent
     * closes the hold pipe. The parent has no SQLite connection open across
     * the fork. */
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        store *cs = NULL;
        strata_err *e = store_open(dir, NULL, &cs);
        char c = e ? 'e' : 'k';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        char tmp;
        while (read(hold[0], &tmp, 1) > 0)
            ;
        store_close(cs);
        _exit(e ? 1 : 0);
    }
    close(ready[1]);
    close(hold[0]);
    char c = 0;
    read_byte(ready[0], &c);
    assert_int_equal(c, 'k');

    s = open_store(dir, 0);
    store_gc *g = NULL;
    assert_err(store_gc_begin(s, &g), STRATA_E_BUSY);
    /* The failed upgrade kept this handle's shared lock and usefulness. */
    strata_digest d;
    assert_ok(store_put_buf(s, "still writable", 14, &d, NULL));
    assert_err(store_gc_begin(s, &g), STRATA_E_BUSY);

    close(hold[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(ready[0]);

    assert_ok(store_gc_begin(s, &g));
    /* While gc holds the lock, other writers (even in this process) are
     * turned away rather than racing the sweep. */
    store *other = NULL;
    assert_err(store_open(dir, NULL, &other), STRATA_E_BUSY);
    store_opts ro = {.read_only = true};
    assert_ok(store_open(dir, &ro, &other)); /* readers take no lock */
    store_close(other);
    assert_ok(store_gc_mark(g, &d));
    assert_ok(store_gc_sweep(g, false, NULL));
    assert_ok(store_open(dir, NULL, &other)); /* the sweep let go */
    store_close(other);
    check_blob(s, &d, "still writable", 14);
    store_close(s);
    tu_rmtree(dir);
}

/* ---- fsck --------------------------------------------------------------- */

typedef struct fsck_seen {
    int n;
    strata_digest d[16];
    store_fsck_problem p[16];
} fsck_seen;

static void collect_problem(void *ctx, const strata_digest *d, store_fsck_problem p,
                            const char *detail)
{
    fsck_seen *f = ctx;
    assert_non_null(detail);
    if (f->n < 16) {
        f->d[f->n] = *d;
        f->p[f->n] = p;
    }
    f->n++;
}

static int find_problem(const fsck_seen *f, const strata_digest *d)
{
    for (int i = 0; i < f->n && i < 16; i++)
        if (digest_eq(&f->d[i], d))
            return (int)f->p[i];
    return -1;
}

/* An inline blob whose stored bytes do not match its size is refused when
 * read, small or large. */
static void test_inline_short(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 0);
    const size_t lens[2] = {1000, 40000};
    for (int i = 0; i < 2; i++) {
        uint8_t *data = rand_bytes(lens[i], 70 + (uint64_t)i);
        strata_digest d;
        assert_ok(store_put_buf(s, data, lens[i], &d, NULL));
        check_blob(s, &d, data, lens[i]);
        sql_exec(dir, "UPDATE blobs SET data = ?1 WHERE digest = ?2", data, lens[i] - 1, &d);
        store_reader *r = NULL;
        strata_err *e = store_reader_open(s, &d, &r);
        if (!e) {
            uint8_t buf[64];
            size_t got;
            e = store_reader_read(r, buf, sizeof(buf), lens[i] - sizeof(buf), &got);
            store_reader_close(r);
        }
        assert_non_null(e);
        assert_int_equal(e->code, STRATA_E_CORRUPT);
        strata_err_free(e);
        free(data);
    }
    store_close(s);
    tu_rmtree(dir);
}

static void test_fsck_clean(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    uint64_t bytes = 0;
    for (int i = 0; i < 300; i++) {
        size_t len = (size_t)(i * 131 % 9000);
        uint8_t *data = rand_bytes(len, (uint64_t)i + 300);
        strata_digest d;
        assert_ok(store_put_buf(s, data, len, &d, NULL));
        bytes += len;
        free(data);
    }
    fsck_seen seen = {0};
    store_fsck_stats st;
    assert_ok(store_fsck(s, collect_problem, &seen, &st));
    assert_int_equal(seen.n, 0);
    assert_int_equal(st.blobs, 300);
    assert_int_equal(st.bytes, bytes);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.temp_files, 0);
    store_close(s);
    tu_rmtree(dir);
}

static void test_fsck_damage(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    enum { GOOD, INLINE, SPILLED, MISSING, SHORT, N };
    const size_t lens[N] = {500, 1000, 10000, 10000, 20000};
    uint8_t *data[N];
    strata_digest d[N];
    for (int i = 0; i < N; i++) {
        data[i] = rand_bytes(lens[i], 60 + (uint64_t)i);
        assert_ok(store_put_buf(s, data[i], lens[i], &d[i], NULL));
    }
    /* A flipped byte in an inline blob, written behind the store's back. */
    data[INLINE][123] ^= 0x40;
    sql_exec(dir, "UPDATE blobs SET data = ?1 WHERE digest = ?2", data[INLINE], lens[INLINE],
             &d[INLINE]);
    /* A flipped byte in a spilled file. */
    char *p = object_path(dir, &d[SPILLED]);
    assert_int_equal(chmod(p, 0644), 0);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    uint8_t flipped = data[SPILLED][5000] ^ 1;
    assert_int_equal(pwrite(fd, &flipped, 1, 5000), 1);
    close(fd);
    free(p);
    /* A missing spilled file, and a truncated one. */
    p = object_path(dir, &d[MISSING]);
    assert_int_equal(unlink(p), 0);
    free(p);
    p = object_path(dir, &d[SHORT]);
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(truncate(p, 19999), 0);
    free(p);

    fsck_seen seen = {0};
    store_fsck_stats st;
    assert_ok(store_fsck(s, collect_problem, &seen, &st));
    assert_int_equal(seen.n, 4);
    assert_int_equal(st.bad, 4);
    assert_int_equal(st.blobs, N);
    assert_int_equal(find_problem(&seen, &d[GOOD]), -1);
    assert_int_equal(find_problem(&seen, &d[INLINE]), STORE_FSCK_MISMATCH);
    assert_int_equal(find_problem(&seen, &d[SPILLED]), STORE_FSCK_MISMATCH);
    assert_int_equal(find_problem(&seen, &d[MISSING]), STORE_FSCK_MISSING);
    assert_int_equal(find_problem(&seen, &d[SHORT]), STORE_FSCK_SIZE);

    /* Readers refuse what they can tell is damaged. */
    store_reader *r = NULL;
    assert_err(store_reader_open(s, &d[MISSING], &r), STRATA_E_CORRUPT);
    assert_err(store_reader_open(s, &d[SHORT], &r), STRATA_E_CORRUPT);
    for (int i = 0; i < N; i++)
        free(data[i]);
    store_close(s);
    tu_rmtree(dir);
}

/* ---- open, reopen, crashes ---------------------------------------------- */

static void test_readonly_missing(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    char *missing = tu_path(dir, "nothing-here");
    store_opts ro = {.read_only = true};
    store *s = NULL;
    strata_err *e = store_open(missing, &ro, &s);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_NOTFOUND);
    assert_non_null(strstr(e->hint, "strata import"));
    assert_non_null(strstr(e->msg, missing));
    assert_null(s);
    strata_err_free(e);
    /* And nothing was created. */
    assert_int_equal(access(missing, F_OK), -1);
    free(missing);
    tu_rmtree(dir);
}

static void test_reopen(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    uint8_t *small = rand_bytes(3000, 70), *big = rand_bytes(200000, 71);
    strata_digest ds, db;
    assert_ok(store_put_buf(s, small, 3000, &ds, NULL));
    assert_ok(store_put_buf(s, big, 200000, &db, NULL));
    assert_ok(store_ref_set(s, "r", &ds));
    store_close(s);

    s = open_store(dir, 4096);
    check_blob(s, &ds, small, 3000);
    check_blob(s, &db, big, 200000);
    bool was_new = true;
    assert_ok(store_put_buf(s, big, 200000, &db, &was_new));
    assert_false(was_new);
    store_close(s);

    /* Reopened with another threshold, old blobs still read and dedup. */
    s = open_store(dir, 0);
    check_blob(s, &db, big, 200000);
    assert_ok(store_put_buf(s, big, 200000, &db, &was_new));
    assert_false(was_new);
    store_close(s);

    store_opts ro = {.read_only = true};
    assert_ok(store_open(dir, &ro, &s));
    check_blob(s, &ds, small, 3000);
    check_blob(s, &db, big, 200000);
    strata_digest d;
    assert_err(store_put_buf(s, small, 10, &d, NULL), STRATA_E_INVALID);
    assert_err(store_batch_begin(s), STRATA_E_INVALID);
    store_gc *g = NULL;
    assert_err(store_gc_begin(s, &g), STRATA_E_INVALID);
    store_fsck_stats st;
    assert_ok(store_fsck(s, NULL, NULL, &st));
    assert_int_equal(st.blobs, 2);
    assert_int_equal(st.bad, 0);
    store_close(s);
    free(small);
    free(big);
    tu_rmtree(dir);
}

static void test_schema_newer(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 0);
    store_close(s);
    sql_exec(dir, "UPDATE meta SET value = 99 WHERE key = 'schema'", NULL, 0, NULL);
    strata_err *e = store_open(dir, NULL, &s);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->hint, "upgrade strata"));
    strata_err_free(e);
    store_opts ro = {.read_only = true};
    assert_err(store_open(dir, &ro, &s), STRATA_E_UNSUPPORTED);
    tu_rmtree(dir);
}

static void test_not_a_store(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    sql_exec(dir, "CREATE TABLE other(x)", NULL, 0, NULL);
    store *s = NULL;
    assert_err(store_open(dir, NULL, &s), STRATA_E_CORRUPT);
    store_opts ro = {.read_only = true};
    assert_err(store_open(dir, &ro, &s), STRATA_E_CORRUPT);
    tu_rmtree(dir);
}

static void test_get_buf_limits(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    uint8_t *data = rand_bytes(5000, 80);
    strata_digest d, absent;
    assert_ok(store_put_buf(s, data, 5000, &d, NULL));
    void *buf = NULL;
    size_t len = 0;
    assert_err(store_get_buf(s, &d, 4999, &buf, &len), STRATA_E_INVALID);
    assert_null(buf);
    assert_ok(store_get_buf(s, &d, 5000, &buf, &len));
    assert_int_equal(len, 5000);
    assert_memory_equal(buf, data, 5000);
    free(buf);
    digest_buf("absent", 6, &absent);
    assert_err(store_get_buf(s, &absent, 100, &buf, &len), STRATA_E_NOTFOUND);
    bool present = true;
    assert_ok(store_has(s, &absent, &present, NULL));
    assert_false(present);
    store_reader *r = NULL;
    assert_err(store_reader_open(s, &absent, &r), STRATA_E_NOTFOUND);
    free(data);
    store_close(s);
    tu_rmtree(dir);
}

/* A writer SIGKILLed in the middle of a spilling put leaves a temp file and
 * nothing addressable; fsck calls it harmless and gc removes it. */
static void test_killed_writer(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store");
    store *s = open_store(dir, 4096);
    store_close(s);

    int p[2], ready[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        close(ready[0]);
        store *cs = NULL;
        strata_err *e = store_open(dir, NULL, &cs);
        char c = e ? 'e' : 'k';
        if (write(ready[1], &c, 1) != 1 || e)
            _exit(1);
        strata_digest d;
        e = store_put_fd(cs, p[0], "pipe", &d, NULL, NULL);
        _exit(e ? 1 : 0); /* not reached: the parent kills us first */
    }
    close(p[0]);
    close(ready[1]);
    char c = 0;
    read_byte(ready[0], &c);
    assert_int_equal(c, 'k');
    /* Once this write has returned, the child has read all but at most a
     * pipe's capacity of it: far past the threshold, so its temp file
     * exists. The end of file never comes. */
    size_t len = 2 * MiB;
    uint8_t *data = rand_bytes(len, 90);
    assert_ok(fs_write_all(p[1], data, len, "pipe"));
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(p[1]);
    close(ready[0]);

    assert_int_equal(count_temps(dir), 1);
    s = open_store(dir, 4096);
    assert_int_equal(sql_int(dir, "SELECT count(*) FROM blobs"), 0);
    store_fsck_stats st;
    assert_ok(store_fsck(s, NULL, NULL, &st));
    assert_int_equal(st.blobs, 0);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.temp_files, 1);
    store_gc *g = NULL;
    store_gc_stats gs;
    assert_ok(store_gc_begin(s, &g));
    assert_ok(store_gc_sweep(g, false, &gs));
    assert_int_equal(gs.temp_files_removed, 1);
    assert_int_equal(count_temps(dir), 0);
    /* The same bytes store normally afterwards. */
    strata_digest d, want;
    digest_buf(data, len, &want);
    bool was_new = false;
    assert_ok(store_put_buf(s, data, len, &d, &was_new));
    assert_true(was_new);
    assert_true(digest_eq(&d, &want));
    check_blob(s, &d, data, len);
    free(data);
    store_close(s);
    tu_rmtree(dir);
}

int main(void)
{
    /* A killed child or a closed pipe must fail a test, not the runner. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_small_threshold),
        cmocka_unit_test(test_roundtrip_default_threshold),
        cmocka_unit_test(test_threshold_extremes),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_spilled_file),
        cmocka_unit_test(test_random_reads),
        cmocka_unit_test(test_read_past_end),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_concurrent_readers_small_pool),
        cmocka_unit_test(test_batch_threads),
        cmocka_unit_test(test_batch_dedup),
        cmocka_unit_test(test_batch_flush_fails),
        cmocka_unit_test(test_batch_other_process),
        cmocka_unit_test(test_batch_two_processes),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_gc),
        cmocka_unit_test(test_gc_busy_other_process),
        cmocka_unit_test(test_fsck_clean),
        cmocka_unit_test(test_fsck_damage),
        cmocka_unit_test(test_inline_short),
        cmocka_unit_test(test_readonly_missing),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_schema_newer),
        cmocka_unit_test(test_not_a_store),
        cmocka_unit_test(test_get_buf_limits),
        cmocka_unit_test(test_killed_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
