/* strata-nfsread: reads files from strata's NFS server through libnfs (a
 * client nobody here wrote), for the end-to-end tests of big files and
 * many connections:
 *
 *   strata-nfsread sha256 URL PATH
 *       streams PATH in 1 MiB reads and prints its sha256 (hex)
 *   strata-nfsread random URL PATH LOCAL COUNT SEED
 *       COUNT reads at pseudo-random offsets and lengths (up to 1 MiB),
 *       each compared byte for byte with the same range of LOCAL
 *   strata-nfsread parallel URL CONNS LOCALDIR PATH...
 *       CONNS threads, each with a connection of its own, read every PATH
 *       whole and compare it with LOCALDIR/PATH
 *   strata-nfsread ops URL < SCRIPT
 *       changes the tree, one operation a line: "mkdir P", "write P TEXT"
 *       (create or truncate, then write), "unlink P", "rmdir P", "rename A
 *       B", "symlink TARGET P", "chmod P OCTAL" (paths from the root)
 *
 * URL is the server's (nfs://127.0.0.1/?nfsport=P&mountport=P&version=3);
 * calls carry this process's uid and gid. Exit 0 when everything matched,
 * 1 with a message otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#include "base/digest.h"

#define CHUNK (1u << 20)

static const char *server_url;

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "strata-nfsread: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

/* A mounted context of its own (one TCP connection). */
static struct nfs_context *connect_server(void)
{
    struct nfs_context *nfs = nfs_init_context();
    if (!nfs)
        return NULL;
    struct nfs_url *u = nfs_parse_url_dir(nfs, server_url);
    if (!u) {
        fprintf(stderr, "strata-nfsread: bad URL %s: %s\n", server_url, nfs_get_error(nfs));
        nfs_destroy_context(nfs);
        return NULL;
    }
    nfs_set_uid(nfs, (int)getuid());
    nfs_set_gid(nfs, (int)getgid());
    if (nfs_mount(nfs, u->server, u->path) != 0) {
        fprintf(stderr, "strata-nfsread: mount %s: %s\n", server_url, nfs_get_error(nfs));
        nfs_destroy_url(u);
        nfs_destroy_context(nfs);
        return NULL;
    }
    nfs_destroy_url(u);
    return nfs;
}

/* Reads all of path into a digest (out) or compares it with local (cmp >= 0). */
static int read_whole(struct nfs_context *nfs, const char *path, strata_digest *out, int cmp)
{
    struct nfsfh *fh;
    if (nfs_open(nfs, path, O_RDONLY, &fh) != 0)
        return fail(path, nfs_get_error(nfs));
    char *buf = malloc(CHUNK), *want = cmp >= 0 ? malloc(CHUNK) : NULL;
    digest_ctx *d = out ? digest_begin() : NULL;
    uint64_t off = 0;
    int rc = (!buf || (cmp >= 0 && !want) || (out && !d)) ? fail("out of memory", NULL) : 0;
    while (rc == 0) {
        int n = nfs_pread(nfs, fh, off, CHUNK, buf);
        if (n < 0) {
            rc = fail(path, nfs_get_error(nfs));
            break;
        }
        if (cmp >= 0) {
            ssize_t m = pread(cmp, want, CHUNK, (off_t)off);
            if (m != n || memcmp(buf, want, (size_t)n) != 0) {
                char at[64];
                snprintf(at, sizeof(at), "differs from the local copy at %" PRIu64, off);
                rc = fail(path, at);
                break;
            }
        }
        if (n == 0)
            break;
        if (d)
            digest_update(d, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (d && rc == 0)
        digest_end(d, out);
    else if (d)
        digest_abort(d);
    nfs_close(nfs, fh);
    free(buf);
    free(want);
    return rc;
}

static int cmd_sha256(const char *path)
{
    struct nfs_context *nfs = connect_server();
    if (!nfs)
        return 1;
    strata_digest d;
    int rc = read_whole(nfs, path, &d, -1);
    if (rc == 0) {
        char hex[DIGEST_HEX_LEN + 1];
        digest_to_hex(&d, hex);
        printf("%s\n", hex);
    }
    nfs_destroy_context(nfs);
    return rc;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmd_random(const char *path, const char *local, uint64_t count, uint64_t seed)
{
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
        return fail(local, strerror(errno));
    struct nfs_context *nfs = connect_server();
    struct nfsfh *fh = NULL;
    if (!nfs || nfs_open(nfs, path, O_RDONLY, &fh) != 0) {
        close(fd);
        return nfs ? fail(path, nfs_get_error(nfs)) : 1;
    }
    char *got = malloc(CHUNK), *want = malloc(CHUNK);
    uint64_t s = seed ? seed : 1, size = (uint64_t)st.st_size;
    int rc = got && want ? 0 : fail("out of memory", NULL);
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        uint64_t off = next_rand(&s) % size;
        uint64_t len = 1 + next_rand(&s) % CHUNK;
        int n = nfs_pread(nfs, fh, off, len, got);
        ssize_t m = pread(fd, want, len, (off_t)off);
        if (n < 0 || m < 0 || n != m || memcmp(got, want, (size_t)n) != 0) {
            char at[96];
            snprintf(at, sizeof(at), "read %" PRIu64 " at %" PRIu64 ": %d bytes, want %zd", len,
                     off, n, m);
            rc = fail(path, at);
        }
    }
    nfs_close(nfs, fh);
    nfs_destroy_context(nfs);
    close(fd);
    free(got);
    free(want);
    return rc;
}

typedef struct reader {
    pthread_t t;
    const char *localdir;
    char **paths;
    int npaths;
    int rc;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    struct nfs_context *nfs = connect_server();
    r->rc = nfs ? 0 : 1;
    for (int i = 0; r->rc == 0 && i < r->npaths; i++) {
        char local[4096];
        snprintf(local, sizeof(local), "%s/%s", r->localdir, r->paths[i]);
        int fd = open(local, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r->rc = fail(local, strerror(errno));
            break;
        }
        char path[4096];
        snprintf(path, sizeof(path), "/%s", r->paths[i]);
        r->rc = read_whole(nfs, path, NULL, fd);
        close(fd);
    }
    if (nfs)
        nfs_destroy_context(nfs);
    return NULL;
}

static int cmd_parallel(int conns, const char *localdir, char **paths, int npaths)
{
    reader *rs = calloc((size_t)conns, sizeof(*rs));
    if (!rs)
        return fail("out of memory", NULL);
    int started = 0, rc = 0;
    for (int i = 0; i < conns; i++) {
        rs[i] = (reader){.localdir = localdir, .paths = paths, .npaths = npaths};
        if (pthread_create(&rs[i].t, NULL, reader_main, &rs[i]) != 0) {
            rc = fail("cannot start a reader", NULL);
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(rs[i].t, NULL);
        if (rs[i].rc)
            rc = 1;
    }
    free(rs);
    return rc;
}

/* One line of an ops script; 0 when it went through. */
static int run_op(struct nfs_context *nfs, char *line)
{
    char *save = NULL, *op = strtok_r(line, " \n", &save);
    char *a = op ? strtok_r(NULL, " \n", &save) : NULL;
    char *b = a ? strtok_r(NULL, "\n", &save) : NULL;
    if (!op)
        return 0;
    int rc = -1;
    if (!strcmp(op, "mkdir") && a) {
        rc = nfs_mkdir(nfs, a);
    } else if (!strcmp(op, "write") && a && b) {
        struct nfsfh *fh;
        rc = nfs_create(nfs, a, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fh);
        if (rc == 0) {
            size_t n = strlen(b);
            int w = nfs_write(nfs, fh, n, b);
            rc = (w == (int)n && nfs_fsync(nfs, fh) == 0) ? 0 : -1;
            nfs_close(nfs, fh);
        }
    } else if (!strcmp(op, "unlink") && a) {
        rc = nfs_unlink(nfs, a);
    } else if (!strcmp(op, "rmdir") && a) {
        rc = nfs_rmdir(nfs, a);
    } else if (!strcmp(op, "rename") && a && b) {
        rc = nfs_rename(nfs, a, b);
    } else if (!strcmp(op, "symlink") && a && b) {
        rc = nfs_symlink(nfs, a, b);
    } else if (!strcmp(op, "chmod") && a && b) {
        rc = nfs_chmod(nfs, a, (int)strtol(b, NULL, 8));
    } else {
        return fail("unknown operation", op);
    }
    return rc == 0 ? 0 : fail(op, nfs_get_error(nfs));
}

static int cmd_ops(void)
{
    struct nfs_context *nfs = connect_server();
    if (!nfs)
        return 1;
    char line[4096];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), stdin))
        rc = run_op(nfs, line);
    nfs_destroy_context(nfs);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "ops") == 0) {
        server_url = argv[2];
        return cmd_ops();
    }
    if (argc >= 4 && strcmp(argv[1], "sha256") == 0) {
        server_url = argv[2];
        return cmd_sha256(argv[3]);
    }
    if (argc == 7 && strcmp(argv[1], "random") == 0) {
        server_url = argv[2];
        return cmd_random(argv[3], argv[4], strtoull(argv[5], NULL, 10),
                          strtoull(argv[6], NULL, 10));
    }
    if (argc >= 6 && strcmp(argv[1], "parallel") == 0) {
        server_url = argv[2];
        int conns = atoi(argv[3]);
        if (conns < 1 || conns > 1024)
            return fail("CONNS must be 1 to 1024", argv[3]);
        return cmd_parallel(conns, argv[4], argv + 5, argc - 5);
    }
    fputs("usage: strata-nfsread sha256 URL PATH\n"
          "       strata-nfsread random URL PATH LOCAL COUNT SEED\n"
          "       strata-nfsread parallel URL CONNS LOCALDIR PATH...\n"
          "       strata-nfsread ops URL < SCRIPT\n",
          stderr);
    return 2;
}
