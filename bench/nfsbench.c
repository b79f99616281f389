/* strata-nfsbench: one NFSv3 workload against one server through libnfs's
 * synchronous API, timed, and one number printed on stdout. bench/nfs runs
 * it against strata's server and nfs-ganesha in turn.
 *
 *   strata-nfsbench URL seqread PATH       MB/s (10^6 bytes/s): PATH read
 *                                          whole in 1 MiB preads, in order
 *   strata-nfsbench URL smallfiles LIST    µs per file: open, read whole,
 *                                          close each path listed in LIST
 *   strata-nfsbench URL readdir PATH       ms for a full listing of PATH
 *                                          (opendir: READDIRPLUS, readdir)
 *   strata-nfsbench URL stat LIST          µs per nfs_stat64 of each path
 *   strata-nfsbench URL write PATH MIB     MB/s: create PATH, MIB writes of
 *                                          1 MiB, fsync (COMMIT); then
 *                                          PATH is removed, untimed
 *   strata-nfsbench URL info               the negotiated rsize and wsize
 *
 * LIST is a local file of paths from the export's root, one a line. The
 * connection and mount are made before the clock starts. libnfs's
 * directory cache, page cache and readahead are off, so every call is a
 * round trip: an nfs_stat64 is a LOOKUP per path component and a GETATTR,
 * an open the same LOOKUPs (and an ACCESS), a read of a small file one
 * READ. A short summary (bytes, entries) goes to stderr, as a check that
 * both servers did the same work. Exit 0, or 1 with a message. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define CHUNK (1u << 20)

static int fail(struct nfs_context *nfs, const char *what)
{
    fprintf(stderr, "strata-nfsbench: %s%s%s\n", what, nfs ? ": " : "",
            nfs ? nfs_get_error(nfs) : "");
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct nfs_context *connect_server(const char *url)
{
    struct nfs_context *nfs = nfs_init_context();
    if (!nfs)
        return NULL;
    struct nfs_url *u = nfs_parse_url_dir(nfs, url);
    if (!u) {
        fprintf(stderr, "strata-nfsbench: bad URL %s: %s\n", url, nfs_get_error(nfs));
        nfs_destroy_context(nfs);
        return NULL;
    }
    nfs_set_uid(nfs, (int)getuid());
    nfs_set_gid(nfs, (int)getgid());
    nfs_set_dircache(nfs, 0);
    nfs_set_pagecache(nfs, 0);
    nfs_set_readahead(nfs, 0);
    if (nfs_mount(nfs, u->server, u->path) != 0) {
        fprintf(stderr, "strata-nfsbench: mount %s: %s\n", url, nfs_get_error(nfs));
        nfs_destroy_url(u);
        nfs_destroy_context(nfs);
        return NULL;
    }
    nfs_destroy_url(u);
    return nfs;
}

/* The lines of a local file, each a path (the array ends with NULL). */
static char **read_list(const char *file, size_t *count)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "strata-nfsbench: %s: %s\n", file, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof(*v));
    char *line = NULL;
    size_t len = 0;
    ssize_t got;
    while (v && (got = getline(&line, &len, f)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0)
            continue;
        if (n + 1 >= cap) {
            char **w = realloc(v, (cap *= 2) * sizeof(*v));
            if (!w) {
                free(v);
                v = NULL;
                break;
            }
            v = w;
        }
        if (!(v[n++] = strdup(line))) {
            free(v);
            v = NULL;
        }
    }
    free(line);
    fclose(f);
    if (!v || n == 0) {
        fprintf(stderr, "strata-nfsbench: %s: %s\n", file, v ? "no paths" : "out of memory");
        free(v);
        return NULL;
    }
    v[n] = NULL;
    *count = n;
    return v;
}

static int bench_seqread(struct nfs_context *nfs, const char *path)
{
    char *buf = malloc(CHUNK);
    struct nfsfh *fh;
    if (!buf)
        return fail(NULL, "out of memory");
    double t0 = now();
    if (nfs_open(nfs, path, O_RDONLY, &fh) != 0)
        return fail(nfs, path);
    uint64_t off = 0;
    for (;;) {
        int n = nfs_pread(nfs, fh, off, CHUNK, buf);
        if (n < 0)
            return fail(nfs, path);
        if (n == 0)
            break;
        off += (uint64_t)n;
    }
    nfs_close(nfs, fh);
    double t = now() - t0;
    free(buf);
    fprintf(stderr, "seqread: %" PRIu64 " bytes in %.3f s\n", off, t);
    printf("%.1f\n", (double)off / t / 1e6);
    return 0;
}

static int bench_smallfiles(struct nfs_context *nfs, char **paths, size_t count)
{
    char *buf = malloc(65536);
    if (!buf)
        return fail(NULL, "out of memory");
    uint64_t bytes = 0;
    double t0 = now();
    for (size_t i = 0; i < count; i++) {
        struct nfsfh *fh;
        if (nfs_open(nfs, paths[i], O_RDONLY, &fh) != 0)
            return fail(nfs, paths[i]);
        for (uint64_t off = 0;;) {
            int n = nfs_pread(nfs, fh, off, 65536, buf);
            if (n < 0)
                return fail(nfs, paths[i]);
            off += (uint64_t)n;
            bytes += (uint64_t)n;
            if (n < 65536)
                break;
        }
        nfs_close(nfs, fh);
    }
    double t = now() - t0;
    free(buf);
    fprintf(stderr, "smallfiles: %zu files, %" PRIu64 " bytes in %.3f s\n", count, bytes, t);
    printf("%.1f\n", t / (double)count * 1e6);
    return 0;
}

static int bench_readdir(struct nfs_context *nfs, const char *path)
{
    struct nfsdir *dir;
    uint64_t entries = 0, sizes = 0;
    double t0 = now();
    if (nfs_opendir(nfs, path, &dir) != 0)
        return fail(nfs, path);
    struct nfsdirent *e;
    while ((e = nfs_readdir(nfs, dir)) != NULL) {
        entries++;
        sizes += e->size;
    }
    nfs_closedir(nfs, dir);
    double t = now() - t0;
    fprintf(stderr,
            "readdir: %" PRIu64 " entries (with . and ..), %" PRIu64 " bytes in files, %.3f s\n",
            entries, sizes, t);
    printf("%.1f\n", t * 1e3);
    return 0;
}

static int bench_stat(struct nfs_context *nfs, char **paths, size_t count)
{
    uint64_t sizes = 0;
    double t0 = now();
    for (size_t i = 0; i < count; i++) {
        struct nfs_stat_64 st;
        if (nfs_stat64(nfs, paths[i], &st) != 0)
            return fail(nfs, paths[i]);
        sizes += st.nfs_size;
    }
    double t = now() - t0;
    fprintf(stderr, "stat: %zu paths, %" PRIu64 " bytes in files, %.3f s\n", count, sizes, t);
    printf("%.1f\n", t / (double)count * 1e6);
    return 0;
}

static int bench_write(struct nfs_context *nfs, const char *path, unsigned mib)
{
    char *buf = malloc(CHUNK);
    if (!buf)
        return fail(NULL, "out of memory");
    for (size_t i = 0; i < CHUNK; i++) /* not all zeros, not compressible */
        buf[i] = (char)((i * 2654435761u) >> 13);
    struct nfsfh *fh;
    double t0 = now();
    if (nfs_open(nfs, path, O_WRONLY | O_CREAT | O_TRUNC, &fh) != 0)
        return fail(nfs, path);
    for (unsigned i = 0; i < mib; i++) {
        buf[0] = (char)i;
        int n = nfs_pwrite(nfs, fh, (uint64_t)i * CHUNK, CHUNK, buf);
        if (n != (int)CHUNK)
            return fail(n < 0 ? nfs : NULL, n < 0 ? path : "short write");
    }
    if (nfs_fsync(nfs, fh) != 0)
        return fail(nfs, "fsync");
    double t = now() - t0;
    nfs_close(nfs, fh);
    struct nfs_stat_64 st;
    if (nfs_stat64(nfs, path, &st) != 0 || st.nfs_size != (uint64_t)mib * CHUNK)
        return fail(NULL, "the written file has the wrong size");
    if (nfs_unlink(nfs, path) != 0)
        return fail(nfs, "unlink");
    free(buf);
    fprintf(stderr, "write: %u MiB and COMMIT in %.3f s\n", mib, t);
    printf("%.1f\n", (double)mib * CHUNK / t / 1e6);
    return 0;
}

static int usage(void)
{
    fputs("usage: strata-nfsbench URL seqread PATH\n"
          "       strata-nfsbench URL smallfiles LIST\n"
          "       strata-nfsbench URL readdir PATH\n"
          "       strata-nfsbench URL stat LIST\n"
          "       strata-nfsbench URL write PATH MIB\n"
          "       strata-nfsbench URL info\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *url = argv[1], *cmd = argv[2];
    int known = (argc == 4 && (!strcmp(cmd, "seqread") || !strcmp(cmd, "smallfiles") ||
                               !strcmp(cmd, "readdir") || !strcmp(cmd, "stat"))) ||
                (argc == 5 && !strcmp(cmd, "write")) || (argc == 3 && !strcmp(cmd, "info"));
    if (!known)
        return usage();
    char **paths = NULL;
    size_t count = 0;
    if ((!strcmp(cmd, "smallfiles") || !strcmp(cmd, "stat")) &&
        !(paths = read_list(argv[3], &count)))
        return 1;
    struct nfs_context *nfs = connect_server(url);
    if (!nfs)
        return 1;
    int rc;
    if (!strcmp(cmd, "seqread"))
        rc = bench_seqread(nfs, argv[3]);
    else if (!strcmp(cmd, "smallfiles"))
        rc = bench_smallfiles(nfs, paths, count);
    else if (!strcmp(cmd, "readdir"))
        rc = bench_readdir(nfs, argv[3]);
    else if (!strcmp(cmd, "stat"))
        rc = bench_stat(nfs, paths, count);
    else if (!strcmp(cmd, "write")) {
        char *end;
        unsigned long mib = strtoul(argv[4], &end, 10);
        rc = *end || mib == 0 || mib > 65536 ? usage() : bench_write(nfs, argv[3], (unsigned)mib);
    } else {
        printf("rsize %" PRIu64 " wsize %" PRIu64 "\n", nfs_get_readmax(nfs),
               nfs_get_writemax(nfs));
        rc = 0;
    }
    nfs_destroy_context(nfs);
    if (paths) {
        for (size_t i = 0; i < count; i++)
            free(paths[i]);
        free(paths);
    }
    return rc;
}
