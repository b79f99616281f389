/* strata-testtool: small helpers for the end-to-end scripts, so that they
 * need nothing beyond coreutils: deterministic test data (one big file, or
 * a tree of many small files), hashing, an exact canonical listing of a
 * tree for comparing an import with its export, and corrupting one byte.
 *
 *   strata-testtool gen-file PATH SIZE SEED    SIZE pseudo-random bytes
 *   strata-testtool gen-tree DIR NFILES SEED   NFILES files of 0..8 KiB
 *   strata-testtool sha256 FILE                hex digest ("-": stdin)
 *   strata-testtool tree-list DIR              sorted listing, see below
 *   strata-testtool flip-byte FILE OFFSET      inverts the byte at OFFSET
 *   strata-testtool gen-flat DIR NFILES SEED   NFILES files of 0..64 bytes in DIR
 *   strata-testtool cmp-random A B COUNT SEED  COUNT reads at random offsets and
 *                                              lengths of A and B must match
 *   strata-testtool unix-talk SOCKET           stdin to a Unix stream socket, then
 *                                              its replies to stdout until EOF
 *   strata-testtool rpc-talk PORT [ADDRESS]    ONC RPC calls over TCP to ADDRESS
 *                                              (127.0.0.1) from a script on stdin
 *   strata-testtool rpc-churn PORT COUNT       COUNT connections opened and dropped
 *
 * Everything but the three that talk to a server is a pure function of
 * its arguments: the same SEED gives the same bytes on every machine. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/digest.h"
#include "base/fsutil.h"
#include "xrng.h"

#define TT_CHUNK (1u << 20)

static int tt_fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "strata-testtool: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "%s%s\n", errno ? ": " : "", errno ? strerror(errno) : "");
    return 1;
}

static int tt_report(strata_err *e)
{
    fprintf(stderr, "strata-testtool: %s\n", e->msg);
    strata_err_free(e);
    return 1;
}

static bool tt_parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || !*s || *end || *s == '-')
        return false;
    *out = v;
    return true;
}

/* ---- deterministic bytes (xrng.h) ------------------------------------ */

/* Fills len bytes (a multiple of 8 is fastest; any length works). */
static void tt_fill(rng *r, uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = rng_next(r);
        memcpy(buf + i, &v, 8);
    }
    if (i < len) {
        uint64_t v = rng_next(r);
        memcpy(buf + i, &v, len - i);
    }
}

/* Writes size pseudo-random bytes to fd, streaming a chunk at a time. */
static strata_err *tt_write_random(int fd, uint64_t size, uint64_t seed, uint8_t *buf,
                                   const char *what)
{
    rng r;
    rng_seed(&r, seed);
    while (size) {
        size_t n = size < TT_CHUNK ? (size_t)size : TT_CHUNK;
        tt_fill(&r, buf, n);
        strata_err *e = fs_write_all(fd, buf, n, what);
        if (e)
            return e;
        size -= n;
    }
    return NULL;
}

static int tt_gen_file(const char *path, uint64_t size, uint64_t seed)
{
    uint8_t *buf = malloc(TT_CHUNK);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!buf || fd < 0) {
        free(buf);
        return tt_fail("create %s", path);
    }
    strata_err *e = tt_write_random(fd, size, seed, buf, path);
    free(buf);
    if (close(fd) < 0 && !e)
        return tt_fail("close %s", path);
    return e ? tt_report(e) : 0;
}

/* NFILES files in leaf directories of 64, under 16 top directories, so the
 * tree has both breadth and depth: t<00-15>/u<000->/f<000000>.dat. Sizes
 * 0..8192 bytes; every 13th file is executable, every 29th private. */
static int tt_gen_tree(const char *dir, uint64_t nfiles, uint64_t seed)
{
    uint8_t *buf = malloc(8192 + 8);
    if (!buf)
        return tt_fail("out of memory%s", "");
    strata_err *e = fs_mkdir_p(dir, 0755);
    char path[4096];
    for (uint64_t i = 0; !e && i < nfiles; i++) {
        uint64_t leaf = i / 64;
        int n = snprintf(path, sizeof(path), "%s/t%02u/u%03u", dir, (unsigned)(leaf % 16),
                         (unsigned)(leaf / 16));
        if (i % 64 == 0 && (e = fs_mkdir_p(path, 0755)))
            break;
        snprintf(path + n, sizeof(path) - (size_t)n, "/f%06" PRIu64 ".dat", i);
        rng r;
        rng_seed(&r, seed * 0x100000001b3ull + i);
        size_t size = (size_t)(rng_next(&r) % 8193);
        mode_t mode = i % 13 == 0 ? 0755 : i % 29 == 0 ? 0600 : 0644;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            free(buf);
            return tt_fail("create %s", path);
        }
        tt_fill(&r, buf, size);
        e = fs_write_all(fd, buf, size, path);
        if (!e && fchmod(fd, mode) < 0)
            e = strata_err_sys(errno, NULL, "chmod %s", path);
        close(fd);
    }
    free(buf);
    return e ? tt_report(e) : 0;
}

/* sha256 of an open file, streaming; hex written to out. */
static strata_err *tt_hash_fd(int fd, const char *what, char out[DIGEST_HEX_LEN + 1])
{
    digest_ctx *ctx = digest_begin();
    uint8_t *buf = malloc(TT_CHUNK);
    if (!ctx || !buf) {
        free(buf);
        if (ctx)
            digest_abort(ctx);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    }
    for (;;) {
        ssize_t n = read(fd, buf, TT_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            digest_abort(ctx);
            return strata_err_sys(errno, NULL, "read %s", what);
        }
        if (n == 0)
            break;
        digest_update(ctx, buf, (size_t)n);
    }
    free(buf);
    strata_digest d;
    digest_end(ctx, &d);
    digest_to_hex(&d, out);
    return NULL;
}

static int tt_sha256(const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail("open %s", path);
    char hex[DIGEST_HEX_LEN + 1];
    strata_err *e = tt_hash_fd(fd, path, hex);
    if (!is_stdin)
        close(fd);
    if (e)
        return tt_report(e);
    printf("%s\n", hex);
    return 0;
}

/* ---- tree-list ---------------------------------------------------------
 * One line per entry, sorted bytewise by path (the root is "."):
 *   PATH <tab> TYPE <tab> MODE <tab> SIZE <tab> CONTENT
 * TYPE is f, d, l (or p, s, c, b: never expected in a layer); MODE the
 * permission bits in octal (setuid/setgid/sticky included, so that a
 * dropped bit shows); SIZE the byte count of files and the target length of
 * links ("-" for directories, whose st_size depends on the filesystem);
 * CONTENT the sha256 of a file or the target of a link. Backslash, tab and
 * newline in names and targets are escaped, so one entry is one line.
 * Symbolic links are never followed. */

static char **tt_lines;
static size_t tt_nlines, tt_caplines;
static size_t tt_root_len;
static int tt_walk_err;

static void tt_escape(const char *s, FILE *out)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\t')
            fputs("\\t", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

static int tt_visit(const char *fpath, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    const char *rel = fpath + tt_root_len;
    while (*rel == '/')
        rel++;
    if (!*rel)
        rel = ".";
    char type = S_ISREG(st->st_mode)    ? 'f'
                : S_ISDIR(st->st_mode)  ? 'd'
                : S_ISLNK(st->st_mode)  ? 'l'
                : S_ISFIFO(st->st_mode) ? 'p'
                : S_ISSOCK(st->st_mode) ? 's'
                : S_ISCHR(st->st_mode)  ? 'c'
                                        : 'b';
    char content[PATH_MAX + 1] = "-", size[32] = "-";
    if (type == 'f') {
        int fd = open(fpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        strata_err *e =
            fd < 0 ? strata_err_sys(errno, NULL, "open %s", fpath) : tt_hash_fd(fd, fpath, content);
        if (fd >= 0)
            close(fd);
        if (e) {
            tt_walk_err = tt_report(e);
            return 1;
        }
        snprintf(size, sizeof(size), "%jd", (intmax_t)st->st_size);
    } else if (type == 'l') {
        ssize_t n = readlink(fpath, content, sizeof(content) - 1);
        if (n < 0) {
            tt_walk_err = tt_fail("readlink %s", fpath);
            return 1;
        }
        content[n] = '\0';
        snprintf(size, sizeof(size), "%zd", n);
    }
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f) {
        tt_walk_err = tt_fail("out of memory%s", "");
        return 1;
    }
    tt_escape(rel, f);
    fprintf(f, "\t%c\t%04o\t%s\t", type, (unsigned)(st->st_mode & 07777), size);
    tt_escape(content, f);
    fclose(f);
    if (tt_nlines == tt_caplines) {
        tt_caplines = tt_caplines ? 2 * tt_caplines : 1024;
        char **nl = realloc(tt_lines, tt_caplines * sizeof(*nl));
        if (!nl) {
            tt_walk_err = tt_fail("out of memory%s", "");
            return 1;
        }
        tt_lines = nl;
    }
    tt_lines[tt_nlines++] = line;
    return 0;
}

/* Sorts by path only: compares up to the first tab, bytewise. */
static int tt_cmp_lines(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;
    for (;; x++, y++) {
        unsigned cx = *x == '\t' ? 0 : *x, cy = *y == '\t' ? 0 : *y;
        if (cx != cy || cx == 0)
            return (int)cx - (int)cy;
    }
}

static int tt_tree_list(const char *dir)
{
    tt_root_len = strlen(dir);
    if (nftw(dir, tt_visit, 64, FTW_PHYS) != 0)
        return tt_walk_err ? tt_walk_err : tt_fail("walk %s", dir);
    qsort(tt_lines, tt_nlines, sizeof(*tt_lines), tt_cmp_lines);
    for (size_t i = 0; i < tt_nlines; i++) {
        puts(tt_lines[i]);
        free(tt_lines[i]);
    }
    free(tt_lines);
    return fflush(stdout) == 0 ? 0 : tt_fail("write%s", "");
}

static int tt_flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return tt_fail("open %s", path);
    uint8_t b;
    if (pread(fd, &b, 1, (off_t)off) != 1) {
        close(fd);
        return tt_fail("read the byte of %s", path);
    }
    b ^= 0xff;
    if (pwrite(fd, &b, 1, (off_t)off) != 1) {
        close(fd);
        return tt_fail("write the byte of %s", path);
    }
    return close(fd) == 0 ? 0 : tt_fail("close %s", path);
}

/* One directory with NFILES entries (e000000, e000001, ...), for listing
 * huge directories; each file holds a few bytes naming itself. */
static int tt_gen_flat(const char *dir, uint64_t nfiles, uint64_t seed)
{
    strata_err *e = fs_mkdir_p(dir, 0755);
    char path[4096], buf[80];
    for (uint64_t i = 0; !e && i < nfiles; i++) {
        snprintf(path, sizeof(path), "%s/e%06" PRIu64, dir, i);
        rng r;
        rng_seed(&r, seed * 0x100000001b3ull + i);
        int len = snprintf(buf, sizeof(buf), "%06" PRIu64 " %016" PRIx64 "\n", i, rng_next(&r));
        size_t size = (size_t)(rng_next(&r) % ((uint64_t)len + 1));
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            return tt_fail("create %s", path);
        e = fs_write_all(fd, buf, size, path);
        close(fd);
    }
    return e ? tt_report(e) : 0;
}

/* Reads the same COUNT random ranges (1 byte to 256 KiB, some reaching
 * past the end) from two files and compares them: random access through
 * a mount against the source. */
static int tt_cmp_random(const char *a, const char *b, uint64_t count, uint64_t seed)
{
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    struct stat sa, sb;
    if (fa < 0 || fb < 0 || fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0) {
        if (fa >= 0)
            close(fa);
        if (fb >= 0)
            close(fb);
        return tt_fail("open %s", fa < 0 ? a : b);
    }
    size_t max = 256 * 1024;
    uint8_t *ba = malloc(max), *bb = malloc(max);
    int rc = 0;
    if (!ba || !bb) {
        rc = tt_fail("out of memory%s", "");
    } else if (sa.st_size != sb.st_size || sa.st_size == 0) {
        fprintf(stderr, "strata-testtool: sizes differ or are 0: %jd vs %jd\n",
                (intmax_t)sa.st_size, (intmax_t)sb.st_size);
        rc = 1;
    }
    rng r;
    rng_seed(&r, seed);
    uint64_t size = (uint64_t)sa.st_size;
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        uint64_t off = rng_next(&r) % size;
        if (i % 16 == 0) /* near the end, often past it */
            off = size - 1 - rng_next(&r) % (size < 4096 ? size : 4096);
        size_t len = 1 + (size_t)(rng_next(&r) % max);
        ssize_t na = pread(fa, ba, len, (off_t)off), nb = pread(fb, bb, len, (off_t)off);
        if (na < 0 || nb < 0) {
            rc = tt_fail("read %s", na < 0 ? a : b);
        } else if (na != nb || memcmp(ba, bb, (size_t)na) != 0) {
            fprintf(stderr,
                    "strata-testtool: read %" PRIu64 " of %zu bytes at %" PRIu64
                    " differs (%zd vs %zd bytes)\n",
                    i, len, off, na, nb);
            rc = 1;
        }
    }
    free(ba);
    free(bb);
    close(fa);
    close(fb);
    if (rc == 0)
        printf("%" PRIu64 " random reads match\n", count);
    return rc;
}

/* ---- unix-talk: raw bytes to and from a Unix stream socket ------------- */

#define TT_TALK_SECONDS 10

static int64_t tt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects to the socket at path, sends all of stdin and shuts the write
 * side down, then copies what comes back to stdout until the peer closes:
 * a script's way to speak a line protocol, malformed or not. The socket
 * and stdin are read as they become ready, so a peer that answers (or
 * closes) before stdin ends is seen too; once the peer has closed, what
 * is left of stdin is dropped. Everything must be over within
 * TT_TALK_SECONDS. */
static int tt_unix_talk(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        errno = 0;
        return tt_fail("socket path too long: %s", path);
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return tt_fail("create a socket for %s", path);
    signal(SIGPIPE, SIG_IGN); /* a peer that closes early is an EPIPE, seen below */
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return tt_fail("connect to %s", path);
    }
    int64_t deadline = tt_now_ms() + TT_TALK_SECONDS * 1000;
    char in[65536], out[65536];
    size_t in_len = 0, in_off = 0;
    bool in_eof = false, sent_all = false;
    int rc = 0;
    for (;;) {
        int64_t left = deadline - tt_now_ms();
        if (left <= 0) {
            fprintf(stderr, "strata-testtool: unix-talk %s: no end within %d s\n", path,
                    TT_TALK_SECONDS);
            rc = 1;
            break;
        }
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = -1}};
        if (!sent_all) {
            if (in_off < in_len)
                p[0].events |= POLLOUT;
            else
                p[1] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        }
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = tt_fail("poll %s", path);
            break;
        }
        if (p[1].revents) {
            ssize_t r = read(STDIN_FILENO, in, sizeof(in));
            if (r < 0 && errno != EINTR) {
                rc = tt_fail("read stdin%s", "");
                break;
            }
            if (r == 0)
                in_eof = true;
            in_len = r > 0 ? (size_t)r : 0;
            in_off = 0;
        }
        if (p[0].revents & POLLOUT) {
            /* Never blocks: the deadline holds for a peer that stops reading. */
            ssize_t w = send(fd, in + in_off, in_len - in_off, MSG_DONTWAIT);
            if (w < 0 && errno != EINTR && errno != EAGAIN) {
                /* The peer has closed: what it said is still to be read. */
                sent_all = true;
                shutdown(fd, SHUT_WR);
            } else if (w > 0) {
                in_off += (size_t)w;
            }
        }
        if (!sent_all && in_eof && in_off == in_len) {
            sent_all = true;
            if (shutdown(fd, SHUT_WR) < 0) {
                rc = tt_fail("shut down the write side of %s", path);
                break;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, out, sizeof(out));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno == ECONNRESET)
                break; /* closed with our bytes unread: an end like EOF */
            if (r < 0) {
                rc = tt_fail("read %s", path);
                break;
            }
            if (r == 0)
                break;
            errno = 0;
            if (fwrite(out, 1, (size_t)r, stdout) != (size_t)r || fflush(stdout) != 0) {
                rc = tt_fail("write stdout%s", "");
                break;
            }
        }
    }
    close(fd);
    return rc;
}

/* ---- rpc-talk: ONC RPC calls over TCP, driven by a script ---------------
 * An encoder and decoder of its own (RFC 5531 and its record marking), so
 * that a test speaks to the NFS server as any client would, malformed or
 * not. Each line of stdin is one command; a command that waits prints one
 * line, flushed at once, so a script may drive a connection through a
 * fifo and wait for each answer:
 *
 *   call XID PROG VERS PROC none|sys UID [HEX...]
 *        one call record (AUTH_NONE with UID "-", or AUTH_SYS with uid
 *        and gid UID), HEX its argument bytes; then one reply record:
 *          reply XID accepted SUCCESS [status N]   N: the first result word
 *          reply XID accepted PROG_MISMATCH LOW HIGH
 *          reply XID accepted PROG_UNAVAIL (PROC_UNAVAIL, GARBAGE_ARGS...)
 *          reply XID denied RPC_MISMATCH LOW HIGH
 *          reply XID denied AUTH_ERROR BADCRED (TOOWEAK, BADVERF...)
 *        with " +N bytes" after a reply that carries bytes it should not;
 *        or "malformed reply", "closed", "timeout"
 *   rpcvers XID N   a NULL call to NFS v3 whose RPC version is N; its reply
 *   dump            "results HEX": the results of the last reply, if SUCCESS
 *   raw HEX...      sends the bytes as they are (prints nothing)
 *   shut            shuts the write side down (prints nothing)
 *   expect-close [SECONDS]
 *                   "closed" once the server closes the connection ("closed
 *                   after N bytes" if it sent some first), or "open" if it
 *                   has not within SECONDS (TT_RPC_SECONDS)
 * A send the server refuses (it has closed) prints "send failed".
 *
 * rpc-churn opens COUNT connections, 50 at a time, and drops each: at
 * once; after half a call; after a whole NULL call, its reply unread; or
 * after half a call, with a reset (SO_LINGER 0). */

#define TT_RPC_SECONDS 10
#define TT_RPC_MSG     (64 * 1024)
#define TT_RPC_MAX     (2u << 20) /* the longest reply record read */
#define TT_RPC_TOKENS  64

typedef struct tt_msg {
    uint8_t b[TT_RPC_MSG];
    size_t len;
} tt_msg;

static void tt_put32(tt_msg *m, uint32_t v)
{
    uint8_t *p = m->b + m->len;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    m->len += 4;
}

static uint32_t tt_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int tt_hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Appends the bytes the hex digits of s spell (an even number of them). */
static bool tt_put_hex(tt_msg *m, const char *s)
{
    for (; *s; s += 2) {
        int hi = tt_hexval(s[0]), lo = hi < 0 ? -1 : tt_hexval(s[1]);
        if (lo < 0 || m->len == sizeof(m->b) - 4) /* room for nothing but a mark */
            return false;
        m->b[m->len++] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool tt_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (!s || !tt_parse_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* The start of a call record: a mark (filled by tt_mark), the header with
 * its credential and an empty AUTH_NONE verifier. The arguments follow. */
static void tt_call_header(tt_msg *m, uint32_t xid, uint32_t rpcvers, uint32_t prog, uint32_t vers,
                           uint32_t proc, bool sys, uint32_t uid)
{
    m->len = 0;
    uint32_t words[] = {0, xid, 0 /* CALL */, rpcvers, prog, vers, proc, sys ? 1 : 0};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        tt_put32(m, words[i]);
    if (sys) {
        tt_put32(m, 4 * 5 + 8); /* the body's length */
        tt_put32(m, 0);         /* stamp */
        tt_put32(m, 8);         /* the machine's name */
        memcpy(m->b + m->len, "testtool", 8);
        m->len += 8;
        tt_put32(m, uid);
        tt_put32(m, uid); /* gid */
        tt_put32(m, 0);   /* no more gids */
    } else {
        tt_put32(m, 0);
    }
    tt_put32(m, 0); /* the verifier: AUTH_NONE, empty */
    tt_put32(m, 0);
}

/* One last fragment: everything after the mark. */
static void tt_mark(tt_msg *m)
{
    size_t len = m->len;
    m->len = 0;
    tt_put32(m, 0x80000000u | (uint32_t)(len - 4));
    m->len = len;
}

static bool tt_send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Waits until fd is readable: 1, or 0 at the deadline. */
static int tt_wait_in(int fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - tt_now_ms();
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
        if (r >= 0 || errno != EINTR)
            return r != 0;
    }
}

/* Reads exactly n bytes by the deadline: 1; 0 at the peer's end (or a
 * reset); -1 at the deadline; -2 on another error. */
static int tt_recv_all(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while (n) {
        if (!tt_wait_in(fd, deadline))
            return -1;
        ssize_t got = recv(fd, p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got == 0 || (got < 0 && errno == ECONNRESET))
            return 0;
        if (got < 0)
            return -2;
        p += got;
        n -= (size_t)got;
    }
    return 1;
}

/* One reply record into buf, its fragments joined, and its length in
 * *len; false with *why set if none came. */
static bool tt_recv_record(int fd, uint8_t *buf, size_t *len, const char **why)
{
    int64_t deadline = tt_now_ms() + TT_RPC_SECONDS * 1000;
    *len = 0;
    for (;;) {
        uint8_t h[4];
        int r = tt_recv_all(fd, h, 4, deadline);
        uint32_t frag = tt_get32(h) & 0x7fffffffu;
        if (r == 1 && frag > TT_RPC_MAX - *len)
            r = -2;
        if (r == 1)
            r = tt_recv_all(fd, buf + *len, frag, deadline);
        if (r != 1) {
            *why = r == 0 ? "closed" : r == -1 ? "timeout" : "bad record";
            return false;
        }
        *len += frag;
        if (h[0] & 0x80)
            return true;
    }
}

static const char *const tt_accept_names[] = {"SUCCESS",      "PROG_UNAVAIL", "PROG_MISMATCH",
                                              "PROC_UNAVAIL", "GARBAGE_ARGS", "SYSTEM_ERR"};
static const char *const tt_auth_names[] = {"OK",           "BADCRED", "REJECTEDCRED", "BADVERF",
                                            "REJECTEDVERF", "TOOWEAK", "INVALIDRESP",  "FAILED"};

static void tt_print_name(const char *const *names, size_t n, uint32_t v)
{
    if (v < n)
        printf(" %s", names[v]);
    else
        printf(" %" PRIu32, v);
}

/* Reads one reply and prints its line; *res and *res_len are the results
 * of a SUCCESS (in buf), else empty. */
static void tt_print_reply(int fd, uint8_t *buf, const uint8_t **res, size_t *res_len)
{
    size_t len, off;
    const char *why;
    *res_len = 0;
    if (!tt_recv_record(fd, buf, &len, &why)) {
        puts(why);
        return;
    }
    /* xid, REPLY, reply_stat; accepted: verifier, accept_stat; denied:
     * reject_stat, and AUTH_ERROR's auth_stat */
    uint32_t xid = len >= 12 ? tt_get32(buf) : 0, stat = len >= 12 ? tt_get32(buf + 8) : 2;
    uint32_t vlen = len >= 20 ? tt_get32(buf + 16) : 0, more = 0;
    if (len < 16 || tt_get32(buf + 4) != 1 || stat > 1 ||
        (stat == 0 && (vlen > 400 || len < 24 + (size_t)((vlen + 3) & ~3u)))) {
        puts("malformed reply");
        return;
    }
    printf("reply %" PRIu32 " %s", xid, stat == 0 ? "accepted" : "denied");
    if (stat == 0) {
        off = 20 + (size_t)((vlen + 3) & ~3u);
        uint32_t acc = tt_get32(buf + off);
        off += 4;
        tt_print_name(tt_accept_names, 6, acc);
        if (tt_get32(buf + 12) != 0)
            printf(" verf %" PRIu32, tt_get32(buf + 12));
        if (acc == 0) {
            *res = buf + off;
            *res_len = len - off;
            if (len - off >= 4)
                printf(" status %" PRIu32, tt_get32(buf + off));
            off = len;
        }
        more = acc == 2 ? 2 : 0; /* PROG_MISMATCH: low, high */
    } else {
        uint32_t rej = tt_get32(buf + 12);
        off = 16;
        if (rej == 0) {
            printf(" RPC_MISMATCH");
            more = 2;
        } else if (rej == 1 && len >= 20) {
            printf(" AUTH_ERROR");
            tt_print_name(tt_auth_names, 8, tt_get32(buf + 16));
            off = 20;
        } else {
            printf(" reject %" PRIu32, rej);
        }
    }
    for (; more && off + 4 <= len; more--, off += 4)
        printf(" %" PRIu32, tt_get32(buf + off));
    if (more)
        printf(" (short)");
    if (off < len)
        printf(" +%zu bytes", len - off);
    putchar('\n');
}

/* "closed" once the peer has closed (counting what it sent first), or
 * "open" if it has not within the given seconds. */
static void tt_expect_close(int fd, uint8_t *buf, uint32_t seconds)
{
    int64_t deadline = tt_now_ms() + (int64_t)seconds * 1000;
    size_t got = 0;
    for (;;) {
        if (!tt_wait_in(fd, deadline)) {
            puts("open");
            return;
        }
        ssize_t n = recv(fd, buf, TT_RPC_MAX, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno != ECONNRESET) {
            printf("error %s\n", strerror(errno));
            return;
        } else {
            if (got)
                printf("closed after %zu bytes\n", got);
            else
                puts("closed");
            return;
        }
    }
}

/* A TCP connection to the numeric address addr (v4 or v6) and port; -1
 * with errno set on failure. */
static int tt_tcp_connect(const char *addr, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(addr, port, &hints, &ai) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int err = errno;
        close(fd);
        fd = -1;
        errno = err;
    }
    freeaddrinfo(ai);
    return fd;
}

/* One command line of rpc-talk (see above); false if it is malformed. */
static bool tt_rpc_command(int fd, char *line, uint8_t *buf, const uint8_t **res, size_t *res_len)
{
    static tt_msg m;
    char *tok[TT_RPC_TOKENS + 1], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(line, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
        if (n == TT_RPC_TOKENS)
            return false;
        tok[n++] = t;
    }
    tok[n] = NULL;
    if (n == 0)
        return true;
    const char *cmd = tok[0];
    uint32_t xid, prog, vers, proc, uid = 0, rpcvers, secs = TT_RPC_SECONDS;
    bool sys = n >= 6 && strcmp(tok[5], "sys") == 0;
    int hex_from = n;
    if (strcmp(cmd, "call") == 0 && n >= 7 && tt_parse_u32(tok[1], &xid) &&
        tt_parse_u32(tok[2], &prog) && tt_parse_u32(tok[3], &vers) && tt_parse_u32(tok[4], &proc) &&
        (sys ? tt_parse_u32(tok[6], &uid)
             : strcmp(tok[5], "none") == 0 && strcmp(tok[6], "-") == 0)) {
        tt_call_header(&m, xid, 2, prog, vers, proc, sys, uid);
        hex_from = 7;
    } else if (strcmp(cmd, "rpcvers") == 0 && n == 3 && tt_parse_u32(tok[1], &xid) &&
               tt_parse_u32(tok[2], &rpcvers)) {
        tt_call_header(&m, xid, rpcvers, 100003, 3, 0, false, 0);
    } else if (strcmp(cmd, "raw") == 0 && n >= 2) {
        m.len = 0;
        hex_from = 1;
    } else if (strcmp(cmd, "shut") == 0 && n == 1) {
        shutdown(fd, SHUT_WR);
        return true;
    } else if (strcmp(cmd, "expect-close") == 0 &&
               (n == 1 || (n == 2 && tt_parse_u32(tok[1], &secs)))) {
        *res_len = 0; /* buf is overwritten */
        tt_expect_close(fd, buf, secs);
        return true;
    } else if (strcmp(cmd, "dump") == 0 && n == 1) {
        printf("results ");
        for (size_t i = 0; i < *res_len; i++)
            printf("%02x", (*res)[i]);
        putchar('\n');
        return true;
    } else {
        return false;
    }
    for (int i = hex_from; i < n; i++)
        if (!tt_put_hex(&m, tok[i]))
            return false;
    if (strcmp(cmd, "raw") != 0)
        tt_mark(&m);
    if (!tt_send_all(fd, m.b, m.len))
        puts("send failed");
    else if (strcmp(cmd, "raw") != 0)
        tt_print_reply(fd, buf, res, res_len);
    return true;
}

static int tt_rpc_talk(const char *port, const char *addr)
{
    int fd = tt_tcp_connect(addr, port);
    if (fd < 0)
        return tt_fail("connect to port %s", port);
    uint8_t *buf = malloc(TT_RPC_MAX);
    char *line = NULL, *copy = NULL;
    size_t cap = 0, res_len = 0;
    const uint8_t *res = NULL;
    int rc = buf ? 0 : tt_fail("out of memory%s", "");
    while (rc == 0 && getline(&line, &cap, stdin) > 0) {
        free(copy);
        copy = strdup(line);
        if (!tt_rpc_command(fd, line, buf, &res, &res_len)) {
            fprintf(stderr, "strata-testtool: rpc-talk: a bad command: %s", copy ? copy : "?");
            rc = 2;
        } else if (fflush(stdout) != 0) {
            rc = tt_fail("write stdout%s", "");
        }
    }
    free(copy);
    free(line);
    free(buf);
    close(fd);
    return rc;
}

static int tt_rpc_churn(const char *port, uint64_t count)
{
    enum { BATCH = 50 };
    static tt_msg call;
    tt_call_header(&call, 1, 2, 100003, 3, 0, false, 0);
    tt_mark(&call);
    uint64_t done = 0;
    while (done < count) {
        int fds[BATCH], n = 0;
        for (; n < BATCH && done + (uint64_t)n < count; n++) {
            if ((fds[n] = tt_tcp_connect("127.0.0.1", port)) < 0) {
                int err = errno;
                for (int i = 0; i < n; i++)
                    close(fds[i]);
                errno = err;
                return tt_fail("connect to port %s", port);
            }
        }
        for (int i = 0; i < n; i++) {
            uint64_t kind = (done + (uint64_t)i) % 4;
            size_t len = kind == 2 ? call.len : call.len / 2;
            if (kind != 0)
                (void)tt_send_all(fds[i], call.b, len); /* a refused one fails: fine */
            if (kind == 3) {
                struct linger l = {.l_onoff = 1, .l_linger = 0};
                (void)setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            }
            close(fds[i]);
        }
        done += (uint64_t)n;
    }
    printf("%" PRIu64 " connections\n", done);
    return 0;
}

static int tt_usage(void)
{
    fputs("usage: strata-testtool gen-file PATH SIZE SEED\n"
          "       strata-testtool gen-tree DIR NFILES SEED\n"
          "       strata-testtool sha256 FILE\n"
          "       strata-testtool tree-list DIR\n"
          "       strata-testtool flip-byte FILE OFFSET\n"
          "       strata-testtool gen-flat DIR NFILES SEED\n"
          "       strata-testtool cmp-random A B COUNT SEED\n"
          "       strata-testtool unix-talk SOCKET\n"
          "       strata-testtool rpc-talk PORT [ADDRESS]\n"
          "       strata-testtool rpc-churn PORT COUNT\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return tt_usage();
    const char *cmd = argv[1];
    uint64_t a, b;
    if (strcmp(cmd, "gen-file") == 0 && argc == 5 && tt_parse_u64(argv[3], &a) &&
        tt_parse_u64(argv[4], &b))
        return tt_gen_file(argv[2], a, b);
    if (strcmp(cmd, "gen-tree") == 0 && argc == 5 && tt_parse_u64(argv[3], &a) &&
        tt_parse_u64(argv[4], &b))
        return tt_gen_tree(argv[2], a, b);
    if (strcmp(cmd, "sha256") == 0 && argc == 3)
        return tt_sha256(argv[2]);
    if (strcmp(cmd, "tree-list") == 0 && argc == 3)
        return tt_tree_list(argv[2]);
    if (strcmp(cmd, "flip-byte") == 0 && argc == 4 && tt_parse_u64(argv[3], &a))
        return tt_flip_byte(argv[2], a);
    if (strcmp(cmd, "gen-flat") == 0 && argc == 5 && tt_parse_u64(argv[3], &a) &&
        tt_parse_u64(argv[4], &b))
        return tt_gen_flat(argv[2], a, b);
    if (strcmp(cmd, "cmp-random") == 0 && argc == 6 && tt_parse_u64(argv[4], &a) &&
        tt_parse_u64(argv[5], &b))
        return tt_cmp_random(argv[2], argv[3], a, b);
    if (strcmp(cmd, "unix-talk") == 0 && argc == 3)
        return tt_unix_talk(argv[2]);
    if (strcmp(cmd, "rpc-talk") == 0 && (argc == 3 || argc == 4))
        return tt_rpc_talk(argv[2], argc == 4 ? argv[3] : "127.0.0.1");
    if (strcmp(cmd, "rpc-churn") == 0 && argc == 4 && tt_parse_u64(argv[3], &a))
        return tt_rpc_churn(argv[2], a);
    return tt_usage();
}
