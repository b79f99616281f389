/* Measures where the store's spill threshold should sit (docs/STORE.md
 * records a run). For each blob size it stores the same amount of data
 * twice, once kept inline in SQLite and once spilled to files, and reports
 * for each of the two:
 *
 *   - put throughput, with one thread and with several (the importer puts
 *     from one thread per core), inside a batch; the time includes the
 *     batch's end and the WAL checkpoint at close, the second write that
 *     every inline byte costs, and a spill's temp file, fsync, rename and
 *     directory fsync;
 *   - sequential read throughput through a streaming reader (opened per
 *     blob, read in 128 KiB pieces, FUSE's usual size), from one thread and
 *     from several concurrent readers;
 *   - random 4 KiB read throughput on open readers, from one thread and
 *     from several at once (they share the readers, as the vfs does);
 *   - bytes on disk per stored byte.
 *
 * The page cache is warm for the reads: what is measured is the store's
 * own cost, not the disk's. Reads repeat for about BENCH_SECS each. Each cell is the median of
 * BENCH_REPS runs.
 *
 *   bench_spill [DIR]     scratch stores go under DIR (default $TMPDIR or /tmp)
 *
 * Environment: BENCH_MB (default 64) bytes stored per size and mode,
 * BENCH_READS (default 20000) random reads per measurement (each also
 * stops after BENCH_SECS, default 1 s, which also sets how long the
 * sequential reads repeat), BENCH_REPS (default 3),
 * BENCH_PUT_THREADS (default: the number of cores), BENCH_READERS
 * (default 4) concurrent reader threads, BENCH_SIZES (e.g. "64K,1M") to
 * measure only some sizes. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store.h"

#define MAX_THREADS 16
#define PIECE       (128 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Incompressible, cheap content: the hashing in a put must dominate the
 * making of its bytes. */
static void fill(uint8_t *p, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
}

static uint64_t next_rand(uint64_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return *r;
}

static void die(strata_err *e, const char *what)
{
    if (!e)
        return;
    fprintf(stderr, "bench_spill: %s: %s\n  hint: %s\n", what, e->msg, e->hint);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    int n = v && *v ? atoi(v) : def;
    return n < lo ? lo : n > hi ? hi : n;
}

static char *scratch_dir(const char *base)
{
    char *dir = NULL;
    if (asprintf(&dir, "%s/bench-spill-XXXXXX", base) < 0 || !mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

/* Inline: a threshold past every size measured (the store clamps it to its
 * own maximum); spilled: every blob of more than one byte. */
static store *open_mode(const char *dir, bool spill)
{
    store_opts o = {.spill_threshold = spill ? 1 : UINT64_MAX};
    store *s = NULL;
    die(store_open(dir, &o, &s), "open");
    return s;
}

static uint64_t disk_bytes;
static int add_blocks(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        disk_bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

/* ---- puts ---------------------------------------------------------------- */

typedef struct put_task {
    store *s;
    size_t size;
    int from, to;
    uint64_t seed;
    strata_digest *d;
    double busy; /* seconds inside store_put_buf */
} put_task;

static void *put_worker(void *arg)
{
    put_task *t = arg;
    uint8_t *buf = malloc(t->size);
    for (int i = t->from; i < t->to; i++) {
        fill(buf, t->size, t->seed + (uint64_t)i);
        double t0 = now();
        die(store_put_buf(t->s, buf, t->size, &t->d[i], NULL), "put");
        t->busy += now() - t0;
    }
    free(buf);
    return NULL;
}

/* Puts n blobs of size from nthreads threads into a fresh store in dir, in
 * one batch, and closes it; returns MB/s. With one thread only the time
 * inside the puts counts (content generation is not the store's cost);
 * with several, wall time, since they overlap. */
static double put_blobs(const char *dir, size_t size, bool spill, int n, int nthreads,
                        strata_digest *d)
{
    store *s = open_mode(dir, spill);
    put_task tasks[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    uint64_t seed = (uint64_t)size * 1000003u + (spill ? 7 : 0);
    double t0 = now();
    die(store_batch_begin(s), "batch");
    for (int i = 0; i < nthreads; i++) {
        tasks[i] = (put_task){s, size, n * i / nthreads, n * (i + 1) / nthreads, seed, d, 0};
        if (nthreads == 1)
            put_worker(&tasks[0]);
        else
            pthread_create(&th[i], NULL, put_worker, &tasks[i]);
    }
    if (nthreads > 1)
        for (int i = 0; i < nthreads; i++)
            pthread_join(th[i], NULL);
    double t1 = now();
    die(store_batch_end(s), "batch end");
    store_close(s);
    double secs = now() - t1 + (nthreads == 1 ? tasks[0].busy : t1 - t0);
    return (double)size * n / secs / 1e6;
}

/* ---- reads --------------------------------------------------------------- */

typedef struct read_task {
    store *s;
    size_t size;
    int n, stride, first;
    const strata_digest *d;
    store_reader **rds; /* shared open readers, for random reads */
    int nreads;
    double limit; /* seconds */
    uint64_t seed;
    uint64_t done; /* random reads done */
    double secs;
} read_task;

/* Streams blobs first, first+stride, ... whole, each through a reader of
 * its own. */
static void *seq_worker(void *arg)
{
    read_task *t = arg;
    uint8_t *buf = malloc(PIECE);
    for (int i = t->first; i < t->n; i += t->stride) {
        store_reader *r = NULL;
        die(store_reader_open(t->s, &t->d[i], &r), "reader");
        for (uint64_t off = 0; off < t->size;) {
            size_t got = 0;
            die(store_reader_read(r, buf, PIECE, off, &got), "read");
            off += got;
        }
        store_reader_close(r);
    }
    free(buf);
    return NULL;
}

/* Random 4 KiB-aligned reads of 4 KiB on the shared readers, until nreads
 * are done or the time limit has passed. */
static void *rand_worker(void *arg)
{
    read_task *t = arg;
    uint8_t buf[4096];
    uint64_t pages = t->size / 4096 ? t->size / 4096 : 1;
    double t0 = now();
    uint64_t i = 0;
    for (; i < (uint64_t)t->nreads; i++) {
        if (i % 64 == 0 && now() - t0 > t->limit)
            break;
        int b = (int)(next_rand(&t->seed) % (uint64_t)t->n);
        uint64_t off = (next_rand(&t->seed) % pages) * 4096;
        size_t got = 0;
        die(store_reader_read(t->rds[b], buf, sizeof(buf), off, &got), "random read");
    }
    t->done = i;
    t->secs = now() - t0;
    return NULL;
}

/* Runs fn on nthreads threads (the first on this one); returns wall time. */
static double run_threads(void *(*fn)(void *), read_task *tasks, int nthreads)
{
    pthread_t th[MAX_THREADS];
    double t0 = now();
    for (int i = 1; i < nthreads; i++)
        pthread_create(&th[i], NULL, fn, &tasks[i]);
    fn(&tasks[0]);
    for (int i = 1; i < nthreads; i++)
        pthread_join(th[i], NULL);
    return now() - t0;
}

/* Sequential MB/s with nthreads readers. A first pass warms the cache;
 * then whole passes repeat until limit seconds have passed, so that small
 * totals are not timed by a single short pass. */
static double seq_read(store *s, size_t size, int n, const strata_digest *d, int nthreads,
                       double limit)
{
    read_task tasks[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        tasks[i] =
            (read_task){.s = s, .size = size, .n = n, .stride = nthreads, .first = i, .d = d};
    run_threads(seq_worker, tasks, nthreads);
    double secs = 0;
    int passes = 0;
    while (passes == 0 || secs < limit) {
        secs += run_threads(seq_worker, tasks, nthreads);
        passes++;
    }
    return (double)size * n * passes / secs / 1e6;
}

/* Random 4 KiB reads per second (thousands) with nthreads readers. */
static double rand_read(store *s, size_t size, int n, store_reader **rds, int nreads, double limit,
                        int nthreads)
{
    read_task tasks[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        tasks[i] = (read_task){.s = s,
                               .size = size,
                               .n = n,
                               .rds = rds,
                               .nreads = nreads / nthreads,
                               .limit = limit,
                               .seed = 88172645463325252ull + (uint64_t)i * 7919};
    double wall = run_threads(rand_worker, tasks, nthreads);
    uint64_t done = 0;
    for (int i = 0; i < nthreads; i++)
        done += tasks[i].done;
    return (double)done / wall / 1e3;
}

/* ---- one measurement ----------------------------------------------------- */

typedef struct result {
    double put1, putn;   /* MB/s */
    double seq1, seqn;   /* MB/s */
    double rand1, randn; /* thousand 4 KiB reads per second */
    double disk;         /* bytes on disk per byte stored */
} result;

typedef struct params {
    const char *base;
    int nreads, put_threads, readers;
    double limit;
} params;

static result measure(const params *p, size_t size, bool spill, int n)
{
    result r = {0};
    strata_digest *d = calloc((size_t)n, sizeof(*d));

    /* Several threads into a store of their own, thrown away. */
    char *dir = scratch_dir(p->base);
    r.putn = put_blobs(dir, size, spill, n, p->put_threads, d);
    strata_err_free(fs_remove_tree(dir));
    free(dir);

    dir = scratch_dir(p->base);
    r.put1 = put_blobs(dir, size, spill, n, 1, d);
    disk_bytes = 0;
    nftw(dir, add_blocks, 16, FTW_PHYS);
    r.disk = (double)disk_bytes / ((double)size * n);

    store *s = open_mode(dir, spill);
    r.seq1 = seq_read(s, size, n, d, 1, p->limit);
    r.seqn = seq_read(s, size, n, d, p->readers, p->limit);
    store_reader **rds = calloc((size_t)n, sizeof(*rds));
    for (int i = 0; i < n; i++)
        die(store_reader_open(s, &d[i], &rds[i]), "reader");
    r.rand1 = rand_read(s, size, n, rds, p->nreads, p->limit, 1);
    r.randn = rand_read(s, size, n, rds, p->nreads, p->limit, p->readers);
    for (int i = 0; i < n; i++)
        store_reader_close(rds[i]);
    free(rds);
    store_close(s);
    strata_err_free(fs_remove_tree(dir));
    free(dir);
    free(d);
    return r;
}

static result measure_median(const params *p, size_t size, bool spill, int n, int reps)
{
    double v[7][16];
    for (int i = 0; i < reps; i++) {
        result r = measure(p, size, spill, n);
        double f[7] = {r.put1, r.putn, r.seq1, r.seqn, r.rand1, r.randn, r.disk};
        for (int k = 0; k < 7; k++)
            v[k][i] = f[k];
    }
    return (result){median(v[0], reps), median(v[1], reps), median(v[2], reps), median(v[3], reps),
                    median(v[4], reps), median(v[5], reps), median(v[6], reps)};
}

/* What the file-system half of a spill costs on this disk: create a file,
 * write 4 KiB, fsync it, rename it, fsync the directory. The unit in which
 * spills are paid, so the table can be read against another machine's. */
static double spill_primitive_us(const char *base)
{
    char *dir = scratch_dir(base);
    uint8_t page[4096];
    fill(page, sizeof(page), 1);
    const int n = 200;
    char a[PATH_MAX], b[PATH_MAX];
    double t0 = now();
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof(a), "%s/t%d", dir, i);
        snprintf(b, sizeof(b), "%s/o%d", dir, i);
        int fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, page, sizeof(page)) != 4096 || fsync(fd) != 0 || close(fd) != 0 ||
            rename(a, b) != 0) {
            perror("spill primitive");
            exit(1);
        }
        strata_err_free(fs_fsync_dir(dir));
    }
    double per = (now() - t0) / n * 1e6;
    strata_err_free(fs_remove_tree(dir));
    free(dir);
    return per;
}

static const char *fs_name(const char *path)
{
    struct statfs sf;
    if (statfs(path, &sf) < 0)
        return "?";
    switch ((unsigned long)sf.f_type) {
    case 0xEF53:
        return "ext4";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0x01021994:
        return "tmpfs";
    case 0x794c7630:
        return "overlayfs";
    default:
        return "other";
    }
}

static void size_label(size_t size, char *out, size_t n)
{
    if (size >= (1 << 20))
        snprintf(out, n, "%zuM", size >> 20);
    else
        snprintf(out, n, "%zuK", size >> 10);
}

static bool wanted(const char *list, const char *label)
{
    if (!list || !*list)
        return true;
    size_t n = strlen(label);
    for (const char *p = list; (p = strstr(p, label)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t budget = (size_t)env_int("BENCH_MB", 64, 1, 4096) << 20;
    int reps = env_int("BENCH_REPS", 3, 1, 16);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    params p = {
        .base = base,
        .nreads = env_int("BENCH_READS", 20000, 100, 100000000),
        .put_threads = env_int("BENCH_PUT_THREADS", cores > 0 ? (int)cores : 2, 1, MAX_THREADS),
        .readers = env_int("BENCH_READERS", 4, 1, MAX_THREADS),
        .limit = env_int("BENCH_SECS", 1, 1, 3600),
    };
    struct utsname u;
    uname(&u);
    printf("machine: %ld cores (nproc), Linux %s, %s under %s, SQLite %s\n", cores, u.release,
           fs_name(base), base, sqlite3_libversion());
    printf("runs: %d MiB per size and mode, median of %d; put threads %d; readers %d\n",
           (int)(budget >> 20), reps, p.put_threads, p.readers);
    printf("spill primitive (create, write 4 KiB, fsync, rename, fsync dir): %.0f µs\n\n",
           spill_primitive_us(base));
    printf("Each cell: inline / spilled.\n\n");
    printf("| size | blobs | put MB/s, 1 thread | put MB/s, %d threads | seq read MB/s | "
           "seq read MB/s, %d readers | rand 4K kreads/s | rand 4K kreads/s, %d readers | "
           "disk per byte |\n",
           p.put_threads, p.readers, p.readers);
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    const size_t sizes[] = {4 << 10,   16 << 10,  32 << 10, 64 << 10, 128 << 10,
                            256 << 10, 512 << 10, 1 << 20,  4 << 20};
    const char *only = getenv("BENCH_SIZES");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t size = sizes[i];
        char label[16];
        size_label(size, label, sizeof(label));
        if (!wanted(only, label))
            continue;
        int n = (int)(budget / size);
        n = n < 16 ? 16 : n > 4000 ? 4000 : n;
        result in = measure_median(&p, size, false, n, reps);
        result sp = measure_median(&p, size, true, n, reps);
        printf("| %s | %d | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | "
               "%.1f / %.1f | %.1f / %.1f | %.2f / %.2f |\n",
               label, n, in.put1, sp.put1, in.putn, sp.putn, in.seq1, sp.seq1, in.seqn, sp.seqn,
               in.rand1, sp.rand1, in.randn, sp.randn, in.disk, sp.disk);
        fflush(stdout);
    }
    return 0;
}
