/* strata-fsops: the file-operation drivers of the end-to-end scripts that
 * exercise a mount with syscalls a shell cannot make, or not fast enough,
 * or without saying exactly what each one returned.
 *
 *   strata-fsops gen-layers BOT TOP MERGED SEED
 *       two small overlapping trees to import as layers (TOP over BOT), and
 *       MERGED, the plain directory TOP copied over BOT gives: nested
 *       directories, files of 0..100 KiB (some over 64 KiB), symbolic
 *       links, modes with and without exec bits
 *   strata-fsops diff MOUNT PLAIN COUNT SEED [-v] [--dump FILE]
 *       COUNT seeded random file operations, each applied to both
 *       directories, which start out the same: every result (return value,
 *       errno, bytes) must be equal, and after every step so must the whole
 *       trees. A failure prints the seed, the step, the operation, both
 *       results and the last operations before it; -v prints every step,
 *       --dump writes them to FILE one per line
 *   strata-fsops replay MOUNT PLAIN FILE [-v]
 *       the same with the operations of a dump (or a part of one, to
 *       narrow a failure down), compared the same way
 *   strata-fsops readers SRC MNT THREADS PROCS ROUNDS SEED FILE...
 *       THREADS threads of this process and PROCS processes, released at
 *       once, each reading every FILE under MNT whole and at random ranges,
 *       comparing every byte with the same FILE under SRC; prints one
 *       result line per group ("threads: ok ...", "procs: FAIL ...")
 *
 * Everything random is a pure function of SEED (the plain side is the one
 * consulted when choosing paths, and listings are sorted), so a seed
 * replays the same run on a fresh copy of the same trees. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define OPS_PROG "strata-fsops"
#include "opsutil.h"

/* ---- gen-layers ---------------------------------------------------------- */

static void join(char *out, const char *dir, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        die("path too long: %s/%s", dir, name);
}

/* Sizes: mostly small, a fifth up to 64 KiB, some over it (a spilled
 * blob in the store); the first `big` files made are all over it, so
 * every tree has some whatever the seed. */
static size_t gen_size(rng *r, int *big)
{
    if (*big > 0) {
        (*big)--;
        return (size_t)rnd_in(r, (64 << 10) + 1, 100 << 10);
    }
    uint64_t c = rnd(r, 100);
    if (c < 35)
        return (size_t)rnd(r, 101);
    if (c < 70)
        return (size_t)rnd_in(r, 101, 4096);
    if (c < 92)
        return (size_t)rnd_in(r, 4097, 64 << 10);
    return (size_t)rnd_in(r, (64 << 10) + 1, 100 << 10);
}

/* Writes the same file at each of the paths given (the layer and the
 * merged copy). */
static void gen_file(rng *r, int *big, const char *p1, const char *p2)
{
    static const unsigned modes[] = {0644, 0644, 0644, 0755, 0755, 0600, 0444, 0750};
    static unsigned char buf[100 << 10];
    size_t size = gen_size(r, big);
    unsigned mode = modes[rnd(r, sizeof(modes) / sizeof(modes[0]))];
    fill_bytes(rng_next(r), buf, size);
    const char *paths[] = {p1, p2};
    for (int i = 0; i < 2; i++) {
        unlink(paths[i]);
        int fd = open(paths[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, buf, size) != (ssize_t)size || fchmod(fd, mode) != 0 ||
            close(fd) != 0)
            die("write %s", paths[i]);
    }
}

/* Targets stay inside the tree wherever the link is moved to (no ".."),
 * or point at an absolute path that exists nowhere, so that both sides
 * resolve them alike. */
static void gen_target(rng *r, char *out)
{
    uint64_t c = rnd(r, 10);
    if (c < 6)
        snprintf(out, PATH_CAP, "%s", POOL[rnd(r, NPOOL)]);
    else if (c < 9)
        snprintf(out, PATH_CAP, "%s/%s", POOL[rnd(r, NPOOL)], POOL[rnd(r, NPOOL)]);
    else
        snprintf(out, PATH_CAP, "/nonexistent-strata/%s", POOL[rnd(r, NPOOL)]);
}

static void gen_link(rng *r, const char *p1, const char *p2)
{
    char target[PATH_CAP];
    gen_target(r, target);
    unlink(p1);
    unlink(p2);
    if (symlink(target, p1) != 0 || symlink(target, p2) != 0)
        die("symlink %s", p1);
}

/* mkdir, or an existing directory (the merged copy has the bottom's),
 * then the exact mode, whatever the umask. */
static void gen_mkdir(const char *p, unsigned mode)
{
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        die("mkdir %s", p);
    errno = 0;
    if (chmod(p, mode) != 0)
        die("chmod %s", p);
}

/* A fresh directory of n entries at depth (the root is 0), written to
 * both paths: subdirectories down to depth 3. */
static void gen_dir(rng *r, int *big, const char *d1, const char *d2, int depth)
{
    static const unsigned dmodes[] = {0755, 0755, 0755, 0700, 0750};
    static const int fanout[][2] = {{7, 9}, {3, 6}, {2, 4}, {1, 3}};
    int n = (int)rnd_in(r, (uint64_t)fanout[depth][0], (uint64_t)fanout[depth][1]);
    bool used[NPOOL] = {false};
    for (int i = 0; i < n; i++) {
        size_t k = rnd(r, NPOOL);
        while (used[k])
            k = (k + 1) % NPOOL;
        used[k] = true;
        char p1[PATH_MAX], p2[PATH_MAX];
        join(p1, d1, POOL[k]);
        join(p2, d2, POOL[k]);
        uint64_t c = rnd(r, 100);
        if (depth < 3 && c < 30) {
            unsigned mode = dmodes[rnd(r, sizeof(dmodes) / sizeof(dmodes[0]))];
            gen_mkdir(p1, mode);
            gen_mkdir(p2, mode);
            gen_dir(r, big, p1, p2, depth + 1);
        } else if (c < 42) {
            gen_link(r, p1, p2);
        } else {
            gen_file(r, big, p1, p2);
        }
    }
}

/* The top layer over an existing bottom directory bot (its copy in
 * merged): overrides some of its files and links with new ones of the
 * same kind, goes into some of its directories, and adds new entries.
 * Never a different kind over an entry, which a plain copy cannot show. */
static void gen_top(rng *r, int *big, const char *bot, const char *top, const char *merged,
                    int depth)
{
    static char names[NAMES_CAP][NAME_MAX + 1];
    char mine[NAMES_CAP][NAME_MAX + 1];
    int fd = open(bot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        die("open %s", bot);
    size_t n = list_names(fd, names);
    memcpy(mine, names, n * sizeof(names[0]));
    for (size_t i = 0; i < n; i++) {
        char pb[PATH_MAX], pt[PATH_MAX], pm[PATH_MAX];
        join(pb, bot, mine[i]);
        join(pt, top, mine[i]);
        join(pm, merged, mine[i]);
        struct stat st;
        if (lstat(pb, &st) != 0)
            die("lstat %s", pb);
        uint64_t c = rnd(r, 100);
        if (S_ISDIR(st.st_mode) && c < 50) {
            gen_mkdir(pt, st.st_mode & 07777);
            gen_top(r, big, pb, pt, pm, depth + 1);
        } else if (S_ISREG(st.st_mode) && c < 30) {
            gen_file(r, big, pt, pm);
        } else if (S_ISLNK(st.st_mode) && c < 30) {
            gen_link(r, pt, pm);
        }
    }
    /* New names, not in the bottom directory. */
    int add = (int)rnd_in(r, 0, depth == 0 ? 3 : 1);
    for (int a = 0; a < add; a++) {
        const char *name = POOL[rnd(r, NPOOL)];
        bool taken = false;
        for (size_t i = 0; i < n; i++)
            taken = taken || !strcmp(mine[i], name);
        char pt[PATH_MAX], pm[PATH_MAX];
        join(pt, top, name);
        join(pm, merged, name);
        struct stat st;
        if (taken || lstat(pt, &st) == 0)
            continue;
        uint64_t c = rnd(r, 100);
        if (depth < 3 && c < 30) {
            gen_mkdir(pt, 0755);
            gen_mkdir(pm, 0755);
            gen_dir(r, big, pt, pm, depth + 1);
        } else if (c < 45) {
            gen_link(r, pt, pm);
        } else {
            gen_file(r, big, pt, pm);
        }
    }
}

/* The bottom tree (a few large files first), then the top over it. */
static int cmd_gen_layers(char **argv)
{
    const char *bot = argv[0], *top = argv[1], *merged = argv[2];
    uint64_t seed;
    if (!parse_u64(argv[3], &seed))
        die("bad seed %s", argv[3]);
    rng r;
    rng_seed(&r, seed);
    if (mkdir(bot, 0755) != 0 || mkdir(top, 0755) != 0 || mkdir(merged, 0755) != 0)
        die("mkdir %s, %s or %s", bot, top, merged);
    int big = 3;
    gen_dir(&r, &big, bot, merged, 0);
    big = 1;
    gen_top(&r, &big, bot, top, merged, 0);
    return 0;
}

/* ---- diff: the operations ------------------------------------------------ */

enum {
    OP_WRITE,     /* open (maybe O_CREAT), pwrite, close */
    OP_APPEND,    /* open O_APPEND (maybe O_CREAT), write, close */
    OP_TRUNCATE,  /* truncate(2) by path */
    OP_OTRUNC,    /* open O_TRUNC (maybe O_CREAT), write, close */
    OP_EXCL,      /* open O_CREAT | O_EXCL, write, close */
    OP_READ,      /* open, pread a range, close */
    OP_STAT,      /* fstatat, following links or not */
    OP_CHMOD,     /* fchmodat */
    OP_UTIMENS,   /* utimensat with explicit times, then fstatat */
    OP_MKDIR,     /* mkdirat */
    OP_RMDIR,     /* unlinkat AT_REMOVEDIR */
    OP_UNLINK,    /* unlinkat */
    OP_RENAME,    /* renameat */
    OP_NOREPLACE, /* renameat2 RENAME_NOREPLACE */
    OP_EXCHANGE,  /* renameat2 RENAME_EXCHANGE */
    OP_SYMLINK,   /* symlinkat */
    OP_READLINK,  /* readlinkat */
    OP_LINK,      /* linkat, following links or not */
    OP_MKFIFO,    /* mkfifoat */
    OP_SETXATTR,  /* setxattr or lsetxattr of user.* */
    OP_GETXATTR,  /* getxattr or lgetxattr of user.*, with a size of 0, too small or enough */
    OP_RMXATTR,   /* removexattr or lremovexattr */
    OP_LISTXATTR, /* llistxattr */
    OP_HOPEN,     /* open a file into a slot, kept open across steps */
    OP_HWRITE,    /* pwrite through a slot */
    OP_HREAD,     /* pread through a slot */
    OP_HTRUNC,    /* ftruncate through a slot */
    OP_HSTAT,     /* fstat through a slot */
    OP_HCLOSE,    /* close a slot */
    OP_COUNT
};

static const char *const OP_NAMES[OP_COUNT] = {
    "write",      "append",         "truncate",   "open-trunc",       "open-excl",
    "read",       "stat",           "chmod",      "utimensat",        "mkdir",
    "rmdir",      "unlink",         "rename",     "rename-noreplace", "rename-exchange",
    "symlink",    "readlink",       "link",       "mkfifo",           "setxattr",
    "getxattr",   "removexattr",    "listxattr",  "hold-open",        "held-pwrite",
    "held-pread", "held-ftruncate", "held-fstat", "held-close",
};

/* How often each is chosen, out of the sum. */
static const unsigned OP_WEIGHT[OP_COUNT] = {
    [OP_WRITE] = 10,   [OP_APPEND] = 5,   [OP_TRUNCATE] = 5,  [OP_OTRUNC] = 3,    [OP_EXCL] = 5,
    [OP_READ] = 6,     [OP_STAT] = 3,     [OP_CHMOD] = 4,     [OP_UTIMENS] = 3,   [OP_MKDIR] = 3,
    [OP_RMDIR] = 3,    [OP_UNLINK] = 5,   [OP_RENAME] = 9,    [OP_NOREPLACE] = 3, [OP_EXCHANGE] = 4,
    [OP_SYMLINK] = 3,  [OP_READLINK] = 2, [OP_LINK] = 4,      [OP_MKFIFO] = 1,    [OP_SETXATTR] = 4,
    [OP_GETXATTR] = 3, [OP_RMXATTR] = 2,  [OP_LISTXATTR] = 1, [OP_HOPEN] = 3,     [OP_HWRITE] = 3,
    [OP_HREAD] = 3,    [OP_HTRUNC] = 1,   [OP_HSTAT] = 2,     [OP_HCLOSE] = 2,
};

#define SLOTS    4
#define DATA_CAP (64 << 10)
#define FILE_CAP (192 << 10) /* writes and truncations keep files below this */

typedef struct op {
    int kind;
    char p1[PATH_CAP], p2[PATH_CAP]; /* p2: the new name, or a link's target */
    uint64_t off, len, seed;
    unsigned mode;
    int flags;
    int slot;
    struct timespec ts[2];
    char xname[16];
} op;

/* What one side answered: the return value, errno when it failed, and the
 * bytes it produced (read data, a link target, an xattr value or list,
 * chosen stat fields). */
typedef struct res {
    long ret;
    int err;
    size_t dlen;
    unsigned char data[DATA_CAP];
} res;

enum { MNT = 0, PLAIN = 1 };
static const char *const SIDE[2] = {"mount", "plain"};
static int g_root[2];
static const char *g_rootpath[2];
static int g_slot[SLOTS][2]; /* -1: closed */
static char g_slotpath[SLOTS][PATH_CAP];
static unsigned char g_wbuf[DATA_CAP];

/* One line saying what o does, for the failure report and -v. */
static void describe(const op *o, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s", OP_NAMES[o->kind]);
    switch (o->kind) {
    case OP_WRITE:
    case OP_APPEND:
    case OP_OTRUNC:
    case OP_EXCL:
        snprintf(out + n, cap - (size_t)n, " \"%s\" flags=%#o mode=%o off=%" PRIu64 " len=%" PRIu64,
                 o->p1, (unsigned)o->flags, o->mode, o->off, o->len);
        break;
    case OP_READ:
        snprintf(out + n, cap - (size_t)n, " \"%s\" off=%" PRIu64 " len=%" PRIu64, o->p1, o->off,
                 o->len);
        break;
    case OP_TRUNCATE:
        snprintf(out + n, cap - (size_t)n, " \"%s\" size=%" PRIu64, o->p1, o->off);
        break;
    case OP_STAT:
    case OP_READLINK:
    case OP_RMDIR:
    case OP_UNLINK:
    case OP_LISTXATTR:
        snprintf(out + n, cap - (size_t)n, " \"%s\" flags=%#x", o->p1, (unsigned)o->flags);
        break;
    case OP_CHMOD:
    case OP_MKDIR:
    case OP_MKFIFO:
        snprintf(out + n, cap - (size_t)n, " \"%s\" mode=%o", o->p1, o->mode);
        break;
    case OP_UTIMENS:
        snprintf(out + n, cap - (size_t)n, " \"%s\" atime=%lld.%09ld mtime=%lld.%09ld flags=%#x",
                 o->p1, (long long)o->ts[0].tv_sec, o->ts[0].tv_nsec, (long long)o->ts[1].tv_sec,
                 o->ts[1].tv_nsec, (unsigned)o->flags);
        break;
    case OP_RENAME:
    case OP_NOREPLACE:
    case OP_EXCHANGE:
    case OP_LINK:
        snprintf(out + n, cap - (size_t)n, " \"%s\" -> \"%s\" flags=%#x", o->p1, o->p2,
                 (unsigned)o->flags);
        break;
    case OP_SYMLINK:
        snprintf(out + n, cap - (size_t)n, " \"%s\" target=\"%s\"", o->p1, o->p2);
        break;
    case OP_SETXATTR:
    case OP_GETXATTR:
    case OP_RMXATTR:
        snprintf(out + n, cap - (size_t)n, " \"%s\" %s size=%" PRIu64 " flags=%#x%s", o->p1,
                 o->xname, o->len, (unsigned)o->flags, o->off ? " (on the link itself)" : "");
        break;
    case OP_HOPEN:
        snprintf(out + n, cap - (size_t)n, " slot %d \"%s\" flags=%#o", o->slot, o->p1,
                 (unsigned)o->flags);
        break;
    default:
        snprintf(out + n, cap - (size_t)n, " slot %d (\"%s\") off=%" PRIu64 " len=%" PRIu64,
                 o->slot, g_slotpath[o->slot], o->off, o->len);
        break;
    }
}

/* For the calls that have no *at form (truncate, the xattr calls). */
static void full_path(int side, const char *rel, char *out)
{
    snprintf(out, PATH_MAX, "%s/%s", g_rootpath[side], rel);
}

/* Keeps a call's return value, and its errno when it failed. */
static void set_res(res *r, long ret)
{
    r->ret = ret;
    r->err = ret < 0 ? errno : 0;
}

/* The stat fields both sides must agree on: the type and mode always;
 * size and link count except for directories, whose size is the
 * filesystem's and whose link count a merged directory does not know
 * (it says 1, as overlayfs does). */
static size_t stat_fields(const struct stat *st, unsigned char *out)
{
    uint64_t f[3] = {st->st_mode & (S_IFMT | 07777), 0, 0};
    if (!S_ISDIR(st->st_mode)) {
        f[1] = (uint64_t)st->st_size;
        f[2] = (uint64_t)st->st_nlink;
    }
    memcpy(out, f, sizeof(f));
    return sizeof(f);
}

/* Opens o->p1 on one side, writes, closes: the result is the write's,
 * or the failing call's. A close that fails after a good write counts. */
static void apply_open_write(const op *o, int side, res *r)
{
    int fd = openat(g_root[side], o->p1, o->flags | O_NONBLOCK | O_CLOEXEC, o->mode);
    if (fd < 0) {
        set_res(r, -1);
        return;
    }
    ssize_t n = (o->flags & O_APPEND) ? write(fd, g_wbuf, o->len)
                                      : pwrite(fd, g_wbuf, o->len, (off_t)o->off);
    set_res(r, n);
    if (close(fd) != 0 && n >= 0)
        set_res(r, -1);
}

/* Makes the system calls of o on one side (relative to its root, so that
 * both sides take the same paths), and keeps what they answered. */
static void apply(const op *o, int side, res *r)
{
    int root = g_root[side];
    char full[PATH_MAX];
    struct stat st;
    r->dlen = 0;
    errno = 0;
    switch (o->kind) {
    case OP_WRITE:
    case OP_APPEND:
    case OP_OTRUNC:
    case OP_EXCL:
        apply_open_write(o, side, r);
        break;
    case OP_TRUNCATE:
        full_path(side, o->p1, full);
        set_res(r, truncate(full, (off_t)o->off));
        break;
    case OP_READ: {
        int fd = openat(root, o->p1, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            set_res(r, -1);
            break;
        }
        ssize_t n = pread(fd, r->data, o->len, (off_t)o->off);
        set_res(r, n);
        r->dlen = n > 0 ? (size_t)n : 0;
        close(fd);
        break;
    }
    case OP_STAT:
        set_res(r, fstatat(root, o->p1, &st, o->flags));
        if (r->ret == 0)
            r->dlen = stat_fields(&st, r->data);
        break;
    case OP_CHMOD:
        set_res(r, fchmodat(root, o->p1, o->mode, 0));
        break;
    case OP_UTIMENS: {
        /* The times must then be the ones set: each given one, to the
         * nanosecond (the mount's time granularity is 1 ns). The path's
         * directory is resolved first: going through a link on the way
         * sets the link's atime (relatime), and with hard links that link
         * may be the very entry whose times are being set. */
        char dir[PATH_CAP];
        snprintf(dir, sizeof(dir), "%s", o->p1);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : o->p1;
        if (slash)
            *slash = '\0';
        int dfd = openat(root, slash ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        set_res(r, dfd < 0 ? -1 : utimensat(dfd, base, o->ts, o->flags));
        if (r->ret == 0 && fstatat(dfd, base, &st, o->flags) == 0) {
            int64_t t[4] = {0, 0, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
            if (o->ts[0].tv_nsec != UTIME_OMIT) {
                t[0] = st.st_atim.tv_sec;
                t[1] = st.st_atim.tv_nsec;
            }
            memcpy(r->data, t, sizeof(t));
            r->dlen = sizeof(t);
        }
        if (dfd >= 0)
            close(dfd);
        break;
    }
    case OP_MKDIR:
        set_res(r, mkdirat(root, o->p1, o->mode));
        break;
    case OP_RMDIR:
        set_res(r, unlinkat(root, o->p1, AT_REMOVEDIR));
        break;
    case OP_UNLINK:
        set_res(r, unlinkat(root, o->p1, 0));
        break;
    case OP_RENAME:
        set_res(r, renameat(root, o->p1, root, o->p2));
        break;
    case OP_NOREPLACE:
    case OP_EXCHANGE:
        set_res(r, syscall(SYS_renameat2, root, o->p1, root, o->p2,
                           o->kind == OP_NOREPLACE ? RENAME_NOREPLACE : RENAME_EXCHANGE));
        break;
    case OP_SYMLINK:
        set_res(r, symlinkat(o->p2, root, o->p1));
        break;
    case OP_READLINK: {
        ssize_t n = readlinkat(root, o->p1, (char *)r->data, PATH_CAP);
        set_res(r, n);
        r->dlen = n > 0 ? (size_t)n : 0;
        break;
    }
    case OP_LINK:
        set_res(r, linkat(root, o->p1, root, o->p2, o->flags));
        break;
    case OP_MKFIFO:
        set_res(r, mkfifoat(root, o->p1, o->mode));
        break;
    case OP_SETXATTR:
        full_path(side, o->p1, full);
        set_res(r, o->off ? lsetxattr(full, o->xname, g_wbuf, o->len, o->flags)
                          : setxattr(full, o->xname, g_wbuf, o->len, o->flags));
        break;
    case OP_GETXATTR: {
        full_path(side, o->p1, full);
        ssize_t n = o->off ? lgetxattr(full, o->xname, r->data, o->len)
                           : getxattr(full, o->xname, r->data, o->len);
        set_res(r, n);
        r->dlen = n > 0 && o->len ? (size_t)n : 0;
        break;
    }
    case OP_RMXATTR:
        full_path(side, o->p1, full);
        set_res(r, o->off ? lremovexattr(full, o->xname) : removexattr(full, o->xname));
        break;
    case OP_LISTXATTR: {
        /* The user.* names, sorted: the order is the filesystem's, and the
         * other namespaces (security.*, the overlay's own) are not the
         * test's business. */
        char list[4096], names[64][64];
        full_path(side, o->p1, full);
        ssize_t n = llistxattr(full, list, sizeof(list));
        set_res(r, n < 0 ? -1 : 0);
        size_t k = 0;
        for (ssize_t i = 0; n > 0 && i < n && k < 64; i += (ssize_t)strlen(list + i) + 1)
            if (!strncmp(list + i, "user.", 5))
                snprintf(names[k++], sizeof(names[0]), "%s", list + i);
        qsort(names, k, sizeof(names[0]), cmp_names);
        for (size_t i = 0; i < k; i++) {
            size_t l = strlen(names[i]) + 1;
            memcpy(r->data + r->dlen, names[i], l);
            r->dlen += l;
        }
        break;
    }
    case OP_HOPEN: {
        int *fd = &g_slot[o->slot][side];
        if (*fd >= 0)
            close(*fd);
        *fd = openat(root, o->p1, o->flags | O_NONBLOCK | O_CLOEXEC, o->mode);
        set_res(r, *fd < 0 ? -1 : 0);
        break;
    }
    case OP_HWRITE:
        set_res(r, pwrite(g_slot[o->slot][side], g_wbuf, o->len, (off_t)o->off));
        break;
    case OP_HREAD: {
        ssize_t n = pread(g_slot[o->slot][side], r->data, o->len, (off_t)o->off);
        set_res(r, n);
        r->dlen = n > 0 ? (size_t)n : 0;
        break;
    }
    case OP_HTRUNC:
        set_res(r, ftruncate(g_slot[o->slot][side], (off_t)o->off));
        break;
    case OP_HSTAT:
        set_res(r, fstat(g_slot[o->slot][side], &st));
        if (r->ret == 0)
            r->dlen = stat_fields(&st, r->data);
        break;
    case OP_HCLOSE:
        set_res(r, close(g_slot[o->slot][side]));
        g_slot[o->slot][side] = -1;
        break;
    }
}

/* ---- diff: choosing operations ---------------------------------------- */

/* What an operation would rather have: any path, a regular file (through
 * links too), a directory, an empty one, anything but a directory, a
 * symbolic link, an existing entry, or a name that does not exist yet. */
enum { W_ANY, W_FILE, W_DIR, W_EMPTY, W_NONDIR, W_LINK, W_EXISTS, W_NEW };

static const struct stat *rec_stat(const char *path);
static size_t rec_children(const char *dir, char names[][NAME_MAX + 1], size_t cap);

/* The plain side's stat of path (following a link with follow), from the
 * records of the last comparison where they have it: choosing paths then
 * costs no system call, which matters at 10,000 steps. */
static bool plain_stat(const char *path, struct stat *st, bool follow)
{
    const struct stat *r = rec_stat(path);
    if (r && !(follow && S_ISLNK(r->st_mode))) {
        *st = *r;
        return true;
    }
    return fstatat(g_root[PLAIN], path, st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0;
}

/* One random walk down the plain tree: mostly existing entries (files,
 * directories, links, at every depth), sometimes a fresh pool name (which
 * may exist too), now and then a name under a non-directory (ENOTDIR) or
 * through a link to a directory. fresh_end: end in a pool name more
 * often; descend: the chance in percent of going on into a directory. */
static void walk(rng *r, char *out, bool fresh_end, unsigned descend)
{
    static char names[NAMES_CAP][NAME_MAX + 1];
    out[0] = '\0';
    for (int depth = 0;; depth++) {
        size_t len = strlen(out), n;
        const struct stat *rs = len ? rec_stat(out) : NULL;
        if (!len || (rs && S_ISDIR(rs->st_mode))) {
            n = rec_children(out, names, NAMES_CAP);
        } else { /* through a link: list it for real */
            int fd = openat(g_root[PLAIN], out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            n = fd < 0 ? 0 : list_names(fd, names);
        }
        bool fresh = n == 0 || rnd(r, 100) < (fresh_end ? 40 : 22);
        const char *name = fresh ? POOL[rnd(r, NPOOL)] : names[rnd(r, n)];
        snprintf(out + len, PATH_CAP - len, "%s%s", len ? "/" : "", name);
        struct stat st;
        bool is_dir = plain_stat(out, &st, true) && S_ISDIR(st.st_mode);
        if (is_dir && depth < 3 && rnd(r, 100) < descend)
            continue;
        if (!is_dir && depth < 3 && rnd(r, 100) < 3) {
            len = strlen(out);
            snprintf(out + len, PATH_CAP - len, "/%s", POOL[rnd(r, NPOOL)]);
        }
        return;
    }
}

/* Whether path is what an operation wants (see W_*), on the plain side. */
static bool wanted(const char *path, int want)
{
    struct stat st;
    switch (want) {
    case W_FILE:
        return plain_stat(path, &st, true) && S_ISREG(st.st_mode);
    case W_DIR:
        return plain_stat(path, &st, false) && S_ISDIR(st.st_mode);
    case W_EMPTY: {
        char names[1][NAME_MAX + 1];
        return plain_stat(path, &st, false) && S_ISDIR(st.st_mode) && rec_stat(path) &&
               rec_children(path, names, 1) == 0;
    }
    case W_NONDIR:
        return plain_stat(path, &st, false) && !S_ISDIR(st.st_mode);
    case W_LINK:
        return plain_stat(path, &st, false) && S_ISLNK(st.st_mode);
    case W_EXISTS:
        return plain_stat(path, &st, false);
    case W_NEW:
        return !plain_stat(path, &st, false) && errno == ENOENT;
    }
    return true;
}

/* A path for an operation: what it wants, most of the time, found in a
 * few walks; otherwise anything, so that the error paths are taken too. */
static void pick_path(rng *r, char *out, int want)
{
    if (rnd(r, 100) < 15)
        want = W_ANY;
    for (int tries = 0; tries < 6; tries++) {
        /* Files and links sit deeper than directories, on the whole. */
        bool deep = want == W_FILE || want == W_NONDIR || want == W_LINK;
        walk(r, out, want == W_NEW, deep ? 85 : 55);
        if (wanted(out, want))
            return;
    }
}

/* The plain side's size of path, following links; 0 when there is none. */
static uint64_t plain_size(const char *path)
{
    struct stat st;
    return fstatat(g_root[PLAIN], path, &st, 0) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
                                                                            : 0;
}

/* Modes with and without exec bits, unreadable ones, set-id and sticky
 * bits: all are kept by the upper directory as by a plain one. */
static unsigned pick_mode(rng *r, bool dir)
{
    static const unsigned fmodes[] = {0644, 0755, 0600, 0444, 0640, 0700, 0000, 04755, 02755};
    static const unsigned dmodes[] = {0755, 0700, 0750, 0555, 01777, 0000};
    unsigned mode = dir ? dmodes[rnd(r, sizeof(dmodes) / sizeof(dmodes[0]))]
                        : fmodes[rnd(r, sizeof(fmodes) / sizeof(fmodes[0]))];
    /* Root reads and lists anything; anyone else keeps access to what
     * the comparison must read. */
    if (geteuid() != 0)
        mode |= 0700;
    return mode;
}

/* An offset and length for a write to a file of size: mostly inside or
 * just past its end, sometimes far out (a hole); mostly small, sometimes
 * up to 64 KiB; never past FILE_CAP. */
static void pick_range(rng *r, uint64_t size, uint64_t *off, uint64_t *len)
{
    uint64_t c = rnd(r, 100);
    *off = c < 70 ? rnd(r, size + 1) : rnd(r, FILE_CAP - DATA_CAP);
    *len = rnd(r, 100) < 80 ? rnd_in(r, 1, 4096) : rnd_in(r, 1, DATA_CAP);
    if (*off + *len > FILE_CAP)
        *off = FILE_CAP - *len;
}

/* Explicit times to the nanosecond, over the whole 32-bit range;
 * sometimes the access time is left alone (UTIME_OMIT). */
static void pick_times(rng *r, struct timespec ts[2])
{
    for (int i = 0; i < 2; i++) {
        ts[i].tv_sec = (time_t)rnd(r, 1u << 31);
        ts[i].tv_nsec = (long)rnd(r, 1000000000);
    }
    if (rnd(r, 100) < 20)
        ts[0].tv_nsec = UTIME_OMIT;
}

static size_t g_entries; /* in the plain tree, counted by the last comparison */

/* An operation kind by weight. A tree grown past TREE_SOFT_MAX entries
 * makes entries less often and removes them more often, so that it stays
 * small enough to compare after every step. */
#define TREE_SOFT_MAX 80

static int pick_kind(rng *r, bool any_slot_open)
{
    unsigned w[OP_COUNT], total = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        w[k] = OP_WEIGHT[k];
        if (g_entries > TREE_SOFT_MAX) {
            if (k == OP_EXCL || k == OP_MKDIR || k == OP_SYMLINK || k == OP_LINK || k == OP_MKFIFO)
                w[k] = (w[k] + 2) / 3;
            else if (k == OP_UNLINK || k == OP_RMDIR)
                w[k] *= 3;
        }
        total += w[k];
    }
    for (;;) {
        unsigned x = (unsigned)rnd(r, total);
        int k = 0;
        while (x >= w[k])
            x -= w[k++];
        if (k > OP_HOPEN && !any_slot_open)
            continue;
        return k;
    }
}

/* The next operation: its kind, the paths it wants, and its arguments,
 * drawn so that they mostly make sense for what is there (an offset near
 * the file's end, a name free for a mkdir) and sometimes not, for the
 * error paths. */
static void pick_op(rng *r, op *o)
{
    bool any = false;
    for (int s = 0; s < SLOTS; s++)
        any = any || g_slot[s][PLAIN] >= 0;
    memset(o, 0, sizeof(*o));
    o->kind = pick_kind(r, any);
    o->seed = rng_next(r);
    static const int want1[OP_COUNT] = {
        [OP_WRITE] = W_FILE,      [OP_APPEND] = W_FILE,      [OP_TRUNCATE] = W_FILE,
        [OP_OTRUNC] = W_FILE,     [OP_STAT] = W_EXISTS,      [OP_CHMOD] = W_EXISTS,
        [OP_UTIMENS] = W_EXISTS,  [OP_SETXATTR] = W_EXISTS,  [OP_GETXATTR] = W_EXISTS,
        [OP_RMXATTR] = W_EXISTS,  [OP_LISTXATTR] = W_EXISTS, [OP_EXCL] = W_NEW,
        [OP_READ] = W_FILE,       [OP_MKDIR] = W_NEW,        [OP_RMDIR] = W_EMPTY,
        [OP_UNLINK] = W_NONDIR,   [OP_RENAME] = W_EXISTS,    [OP_NOREPLACE] = W_EXISTS,
        [OP_EXCHANGE] = W_EXISTS, [OP_SYMLINK] = W_NEW,      [OP_READLINK] = W_LINK,
        [OP_LINK] = W_FILE,       [OP_MKFIFO] = W_NEW,       [OP_HOPEN] = W_FILE,
    };
    pick_path(r, o->p1, o->kind == OP_RMDIR && rnd(r, 2) ? W_DIR : want1[o->kind]);
    switch (o->kind) {
    case OP_WRITE:
        o->flags = O_WRONLY | (rnd(r, 3) == 0 ? O_CREAT : 0) | (rnd(r, 4) == 0 ? O_RDWR : 0);
        if (o->flags & O_RDWR)
            o->flags &= ~O_WRONLY;
        o->mode = pick_mode(r, false);
        pick_range(r, plain_size(o->p1), &o->off, &o->len);
        break;
    case OP_APPEND:
        o->flags = O_WRONLY | O_APPEND | (rnd(r, 3) == 0 ? O_CREAT : 0);
        o->mode = pick_mode(r, false);
        o->len = rnd_in(r, 1, 8192);
        if (plain_size(o->p1) + o->len > FILE_CAP)
            o->len = 0;
        break;
    case OP_OTRUNC:
        o->flags = O_WRONLY | O_TRUNC | (rnd(r, 2) == 0 ? O_CREAT : 0);
        o->mode = pick_mode(r, false);
        o->len = rnd(r, 3) == 0 ? 0 : rnd_in(r, 1, 20000);
        break;
    case OP_EXCL:
        o->flags = O_WRONLY | O_CREAT | O_EXCL;
        o->mode = pick_mode(r, false);
        o->len = rnd(r, 5000);
        break;
    case OP_TRUNCATE:
        o->off = rnd(r, 2) ? rnd(r, plain_size(o->p1) + 1) : rnd(r, 140 << 10);
        break;
    case OP_READ:
        o->off = rnd(r, 2) ? rnd(r, plain_size(o->p1) + 1) : rnd(r, FILE_CAP);
        o->len = rnd_in(r, 1, DATA_CAP);
        break;
    case OP_STAT:
        o->flags = rnd(r, 2) ? AT_SYMLINK_NOFOLLOW : 0;
        break;
    case OP_CHMOD:
        o->mode = pick_mode(r, rnd(r, 2));
        break;
    case OP_UTIMENS:
        pick_times(r, o->ts);
        o->flags = rnd(r, 3) == 0 ? AT_SYMLINK_NOFOLLOW : 0;
        break;
    case OP_MKDIR:
        o->mode = pick_mode(r, true);
        break;
    case OP_RENAME:
    case OP_NOREPLACE:
    case OP_EXCHANGE:
        pick_path(r, o->p2, o->kind == OP_EXCHANGE ? W_EXISTS : rnd(r, 2) ? W_EXISTS : W_NEW);
        break;
    case OP_LINK:
        pick_path(r, o->p2, W_NEW);
        o->flags = rnd(r, 3) == 0 ? AT_SYMLINK_FOLLOW : 0;
        break;
    case OP_SYMLINK:
        gen_target(r, o->p2);
        break;
    case OP_MKFIFO:
        o->mode = pick_mode(r, false) & 0777;
        break;
    case OP_SETXATTR:
    case OP_GETXATTR:
    case OP_RMXATTR:
        snprintf(o->xname, sizeof(o->xname), "user.%c", (char)('a' + rnd(r, 3)));
        o->off = rnd(r, 4) == 0; /* the l* variant: the link itself */
        if (o->kind == OP_SETXATTR) {
            o->len = rnd(r, 65);
            uint64_t f = rnd(r, 4);
            o->flags = f == 1 ? XATTR_CREATE : f == 2 ? XATTR_REPLACE : 0;
        } else if (o->kind == OP_GETXATTR) {
            uint64_t c = rnd(r, 4);
            o->len = c == 0 ? 0 : c == 1 ? 3 : 256;
        }
        break;
    case OP_HOPEN: {
        static const int fl[] = {O_RDONLY,         O_RDWR,           O_WRONLY | O_APPEND,
                                 O_RDWR | O_CREAT, O_RDWR | O_TRUNC, O_RDONLY};
        o->slot = (int)rnd(r, SLOTS);
        o->flags = fl[rnd(r, sizeof(fl) / sizeof(fl[0]))];
        o->mode = pick_mode(r, false);
        break;
    }
    case OP_HWRITE:
    case OP_HREAD:
    case OP_HTRUNC:
    case OP_HSTAT:
    case OP_HCLOSE: {
        int s = (int)rnd(r, SLOTS);
        while (g_slot[s][PLAIN] < 0)
            s = (s + 1) % SLOTS;
        o->slot = s;
        struct stat st;
        uint64_t size = fstat(g_slot[s][PLAIN], &st) == 0 ? (uint64_t)st.st_size : 0;
        if (o->kind == OP_HWRITE) {
            pick_range(r, size, &o->off, &o->len);
            if (size + o->len > FILE_CAP) /* it may append */
                o->len = 0;
        } else if (o->kind == OP_HREAD)
            o->off = rnd(r, size + 1), o->len = rnd_in(r, 1, DATA_CAP);
        else if (o->kind == OP_HTRUNC)
            o->off = rnd(r, 140 << 10);
        break;
    }
    }
    if (o->kind >= OP_HWRITE)
        snprintf(o->p1, sizeof(o->p1), "%s", g_slotpath[o->slot]);
}

/* ---- diff: comparing ---------------------------------------------------- */

static FILE *g_out;
static char g_why[8192];

static void why(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_why, sizeof(g_why), fmt, ap);
    va_end(ap);
}

/* One side's answer in the failure report: enough bytes to tell them
 * apart. */
static void print_res(FILE *f, int side, const res *r)
{
    fprintf(f, "  %s: ret=%ld", SIDE[side], r->ret);
    if (r->ret < 0)
        fprintf(f, " errno=%d (%s)", r->err, strerror(r->err));
    if (r->dlen) {
        fprintf(f, " data[%zu]=", r->dlen);
        for (size_t i = 0; i < r->dlen && i < 32; i++)
            fprintf(f, "%02x", r->data[i]);
        if (r->dlen > 32)
            fprintf(f, "...");
    }
    fprintf(f, "\n");
}

/* Exact equality: the same value, the same errno, the same bytes. */
static bool res_equal(const res *a, const res *b)
{
    if (a->ret != b->ret || a->err != b->err || a->dlen != b->dlen)
        return false;
    if (memcmp(a->data, b->data, a->dlen) != 0) {
        size_t i = 0;
        while (a->data[i] == b->data[i])
            i++;
        why("data differ first at byte %zu", i);
        return false;
    }
    return true;
}

/* ---- diff: comparing the trees ------------------------------------------
 *
 * After every step, every entry of the tree is looked up in the mount:
 * type, permission bits, size and link count (of non-directories) must be
 * the plain tree's everywhere. What costs a round trip to the server,
 * reading content, xattrs and listings, is done for the entries that may
 * have changed: those the step's operation touched (its paths, the
 * directories it made or removed names in, and every name of the inodes
 * involved, before and after), those new since the last step, and those
 * whose stat changed on either side. The plain tree changes only by the
 * operations, so its listings and stats are read again only there too.
 * Every FULL_EVERY steps, and after the last, everything is compared. */

#define FULL_EVERY 250

typedef struct rec {
    char path[PATH_CAP];
    struct stat st[2];
} rec;

static rec *g_recs[2]; /* [0]: the last walk's, sorted by path; [1]: being built */
static size_t g_nrecs[2], g_caprecs[2];
static ino_t g_touched[32]; /* plain inode numbers the step's operation touched */
static size_t g_ntouched;
static uint64_t g_content_checks;
static double g_tcmp; /* seconds spent comparing */

static int cmp_recs(const void *a, const void *b)
{
    return strcmp(((const rec *)a)->path, ((const rec *)b)->path);
}

/* The last comparison's record of path, or NULL. */
static const rec *rec_find(const char *path)
{
    if (!g_nrecs[0])
        return NULL;
    rec key;
    snprintf(key.path, sizeof(key.path), "%s", path);
    return bsearch(&key, g_recs[0], g_nrecs[0], sizeof(rec), cmp_recs);
}

/* Everything a change to an entry changes (never atime: reading does). */
static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_nlink == b->st_nlink &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Whether the step's operation touched the plain inode ino. */
static bool was_touched(ino_t ino)
{
    for (size_t i = 0; i < g_ntouched; i++)
        if (ino == g_touched[i])
            return true;
    return false;
}

/* Whether path, now with stats st, may have changed since it was last
 * compared. */
static bool is_dirty(const char *path, const struct stat st[2])
{
    if (was_touched(st[PLAIN].st_ino))
        return true;
    const rec *old = rec_find(path);
    return !old || !same_stat(&old->st[MNT], &st[MNT]) || !same_stat(&old->st[PLAIN], &st[PLAIN]);
}

/* Records path as compared, with both sides' stats, for the next step. */
static void remember(const char *path, const struct stat st[2])
{
    if (g_nrecs[1] == g_caprecs[1]) {
        g_caprecs[1] = g_caprecs[1] ? 2 * g_caprecs[1] : 256;
        g_recs[1] = realloc(g_recs[1], g_caprecs[1] * sizeof(rec));
        if (!g_recs[1])
            die("out of memory");
    }
    rec *r = &g_recs[1][g_nrecs[1]++];
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->st[0] = st[0];
    r->st[1] = st[1];
}

/* The names in directory dir ("" for the root) as the last comparison
 * found them, sorted (its records' paths sort siblings by name); at most
 * cap of them. */
static size_t rec_children(const char *dir, char names[][NAME_MAX + 1], size_t cap)
{
    char prefix[PATH_CAP];
    int plen = snprintf(prefix, sizeof(prefix), "%s%s", dir, *dir ? "/" : "");
    size_t lo = 0, hi = g_nrecs[0], n = 0;
    while (lo < hi) { /* the first record not before the prefix */
        size_t mid = (lo + hi) / 2;
        if (strcmp(g_recs[0][mid].path, prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < g_nrecs[0] && n < cap; i++) {
        const char *p = g_recs[0][i].path;
        if (strncmp(p, prefix, (size_t)plen) != 0)
            break;
        if (!strchr(p + plen, '/') && strcmp(p, "."))
            snprintf(names[n++], NAME_MAX + 1, "%s", p + plen);
    }
    return n;
}

/* The plain side's last seen lstat of path, or NULL when it had none. */
static const struct stat *rec_stat(const char *path)
{
    const rec *r = rec_find(path);
    return r ? &r->st[PLAIN] : NULL;
}

/* Notes the plain inodes at path (the link itself and what it leads to),
 * and with parent at its parent directory, as touched. */
static void touch(const char *path, bool parent)
{
    char dir[PATH_CAP];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    const char *paths[] = {path, path, dir};
    for (int i = 0; i < (parent ? 3 : 2); i++) {
        struct stat st;
        if (*paths[i] && g_ntouched < sizeof(g_touched) / sizeof(g_touched[0]) &&
            fstatat(g_root[PLAIN], paths[i], &st, i == 0 ? AT_SYMLINK_NOFOLLOW : 0) == 0)
            g_touched[g_ntouched++] = st.st_ino;
    }
}

/* Operations that only look: when they succeed, nothing is touched. */
static bool changes_nothing(const op *o)
{
    switch (o->kind) {
    case OP_READ:
    case OP_STAT:
    case OP_READLINK:
    case OP_GETXATTR:
    case OP_LISTXATTR:
    case OP_HREAD:
    case OP_HSTAT:
    case OP_HCLOSE:
        return true;
    case OP_HOPEN:
        return !(o->flags & (O_CREAT | O_TRUNC));
    }
    return false;
}

/* Whether o may add or remove names: then the directories it names
 * entries in are touched too (and listed again). */
static bool changes_names(const op *o)
{
    switch (o->kind) {
    case OP_WRITE:
    case OP_APPEND:
    case OP_OTRUNC:
    case OP_HOPEN:
        return (o->flags & O_CREAT) != 0;
    case OP_EXCL:
    case OP_MKDIR:
    case OP_RMDIR:
    case OP_UNLINK:
    case OP_RENAME:
    case OP_NOREPLACE:
    case OP_EXCHANGE:
    case OP_SYMLINK:
    case OP_LINK:
    case OP_MKFIFO:
        return true;
    }
    return false;
}

/* Notes what o may change, called before and after it, so that the
 * inodes it removes or replaces count as much as the ones it leaves. */
static void touch_op(const op *o)
{
    bool names = changes_names(o);
    touch(o->p1, names);
    if (o->kind == OP_RENAME || o->kind == OP_NOREPLACE || o->kind == OP_EXCHANGE ||
        o->kind == OP_LINK)
        touch(o->p2, names);
    struct stat st;
    if (o->kind >= OP_HOPEN && g_slot[o->slot][PLAIN] >= 0 &&
        fstat(g_slot[o->slot][PLAIN], &st) == 0 && g_ntouched < 32)
        g_touched[g_ntouched++] = st.st_ino;
}

static unsigned char g_fbuf[2][FILE_CAP * 2];

/* Reads a whole regular file (no larger than the buffer) into buf. */
static ssize_t read_whole(int side, const char *path, unsigned char *buf, size_t cap)
{
    int fd = openat(g_root[side], path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == cap)
            break;
    }
    close(fd);
    return (ssize_t)got;
}

/* The user.* attributes of path as "name=value;" sorted by name, into
 * out; false when they cannot be listed. */
static bool xattr_text(int side, const char *path, char *out, size_t cap)
{
    char full[PATH_MAX], list[4096], names[64][64];
    full_path(side, path, full);
    ssize_t n = llistxattr(full, list, sizeof(list));
    if (n < 0)
        return false;
    size_t k = 0;
    for (ssize_t i = 0; i < n && k < 64; i += (ssize_t)strlen(list + i) + 1)
        if (!strncmp(list + i, "user.", 5))
            snprintf(names[k++], sizeof(names[0]), "%s", list + i);
    qsort(names, k, sizeof(names[0]), cmp_names);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        unsigned char v[256];
        ssize_t vl = lgetxattr(full, names[i], v, sizeof(v));
        if (vl < 0)
            return false;
        used += (size_t)snprintf(out + used, cap - used, "%s=", names[i]);
        for (ssize_t j = 0; j < vl && used + 3 < cap; j++)
            used += (size_t)snprintf(out + used, cap - used, "%02x", v[j]);
        used += (size_t)snprintf(out + used, cap - used, ";");
        if (used >= cap)
            return false;
    }
    return true;
}

/* Compares what may have changed of one entry: file content byte for
 * byte, the link target, user.* attributes. */
static bool entry_equal(const char *path, mode_t mode)
{
    g_content_checks++;
    if (S_ISREG(mode)) {
        ssize_t got[2];
        for (int s = 0; s < 2; s++)
            got[s] = read_whole(s, path, g_fbuf[s], sizeof(g_fbuf[s]));
        if (got[0] < 0 || got[1] < 0 || got[0] != got[1] ||
            memcmp(g_fbuf[0], g_fbuf[1], (size_t)got[0])) {
            ssize_t k = 0;
            while (k < got[0] && k < got[1] && g_fbuf[0][k] == g_fbuf[1][k])
                k++;
            why("\"%s\": content: mount read %zd bytes, plain %zd; first difference at byte %zd",
                path, got[0], got[1], k);
            return false;
        }
    } else if (S_ISLNK(mode)) {
        char t[2][PATH_MAX];
        ssize_t tl[2];
        for (int s = 0; s < 2; s++) {
            tl[s] = readlinkat(g_root[s], path, t[s], sizeof(t[s]) - 1);
            t[s][tl[s] < 0 ? 0 : tl[s]] = '\0';
        }
        if (tl[0] < 0 || tl[1] < 0 || strcmp(t[0], t[1])) {
            why("\"%s\": link target: mount \"%s\", plain \"%s\"", path, t[0], t[1]);
            return false;
        }
    }
    char x[2][2048];
    for (int s = 0; s < 2; s++)
        if (!xattr_text(s, path, x[s], sizeof(x[s])))
            snprintf(x[s], sizeof(x[s]), "(cannot list: %s)", strerror(errno));
    if (strcmp(x[0], x[1])) {
        why("\"%s\": user xattrs: mount {%s}, plain {%s}", path, x[0], x[1]);
        return false;
    }
    return true;
}

/* The names in directory rel of one side, sorted; false if it cannot be
 * listed. */
static bool dir_names(int side, const char *rel, char names[][NAME_MAX + 1], size_t *n)
{
    int fd = openat(g_root[side], *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        why("%s: cannot open directory \"%s\": %s", SIDE[side], rel, strerror(errno));
        return false;
    }
    *n = list_names(fd, names);
    return true;
}

/* Compares the trees under directory rel (the root: ""): see above.
 * dirty_dir: the directory may have changed, so both listings are read
 * and must hold the same names; otherwise the plain one is the last
 * comparison's. Timestamps and inode
 * numbers are never compared (lower entries show the manifest's time);
 * utimensat's result is checked right after the call instead. */
static bool tree_equal(const char *rel, unsigned depth, bool full, bool dirty_dir)
{
    /* Listings, one pair per depth, kept: every step walks the tree. */
    static char(*lists[PATH_CAP])[NAME_MAX + 1];
    if (depth >= PATH_CAP)
        die("tree too deep at %s", rel);
    if (!lists[depth] && !(lists[depth] = malloc(2 * NAMES_CAP * sizeof(*lists[depth]))))
        die("out of memory");
    char(*names)[NAME_MAX + 1] = lists[depth];
    char(*mnames)[NAME_MAX + 1] = names + NAMES_CAP;
    size_t n = 0, mn = 0;
    bool ok = true;
    if (dirty_dir)
        ok = dir_names(PLAIN, rel, names, &n) && dir_names(MNT, rel, mnames, &mn);
    else
        n = rec_children(rel, names, NAMES_CAP);
    for (size_t i = 0; ok && dirty_dir && (i < n || i < mn); i++) {
        if (i >= n || i >= mn || strcmp(names[i], mnames[i])) {
            bool only_mount = i >= n || (i < mn && strcmp(mnames[i], names[i]) < 0);
            why("\"%s%s%s\": only in %s", rel, *rel ? "/" : "", only_mount ? mnames[i] : names[i],
                only_mount ? "the mount" : "the plain tree");
            ok = false;
        }
    }
    for (size_t i = 0; ok && i < n; i++) {
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", names[i]);
        g_entries++;
        struct stat st[2];
        /* The plain tree changes only by the operations, so its stat is
         * read again only where one may have changed it. */
        const struct stat *old = full || dirty_dir ? NULL : rec_stat(path);
        if (old && !was_touched(old->st_ino))
            st[PLAIN] = *old;
        for (int s = 0; s < 2 && ok; s++)
            if ((s == MNT || !old || was_touched(old->st_ino)) &&
                fstatat(g_root[s], path, &st[s], AT_SYMLINK_NOFOLLOW) != 0) {
                why("\"%s\": %s: lstat: %s", path, SIDE[s], strerror(errno));
                ok = false;
            }
        if (!ok)
            break;
        mode_t m0 = st[0].st_mode & (S_IFMT | 07777), m1 = st[1].st_mode & (S_IFMT | 07777);
        if (m0 != m1) {
            why("\"%s\": mode: mount %06o, plain %06o", path, (unsigned)m0, (unsigned)m1);
            ok = false;
        } else if (!S_ISDIR(m0) && st[0].st_nlink != st[1].st_nlink) {
            why("\"%s\": nlink: mount %ju, plain %ju", path, (uintmax_t)st[0].st_nlink,
                (uintmax_t)st[1].st_nlink);
            ok = false;
        } else if ((S_ISREG(m0) || S_ISLNK(m0)) && st[0].st_size != st[1].st_size) {
            why("\"%s\": size: mount %jd, plain %jd", path, (intmax_t)st[0].st_size,
                (intmax_t)st[1].st_size);
            ok = false;
        }
        if (!ok)
            break;
        bool dirty = full || is_dirty(path, st);
        remember(path, st);
        if (dirty && !entry_equal(path, m0))
            ok = false;
        else if (S_ISDIR(m0))
            ok = tree_equal(path, depth + 1, full, dirty);
    }
    return ok;
}

/* One comparison of the whole trees, after the operation o (NULL: before
 * the first). */
static bool trees_equal(bool full)
{
    g_entries = 0;
    g_nrecs[1] = 0;
    struct stat st[2];
    bool root_dirty = fstatat(g_root[MNT], ".", &st[MNT], 0) != 0 ||
                      fstatat(g_root[PLAIN], ".", &st[PLAIN], 0) != 0 || is_dirty(".", st);
    remember(".", st);
    bool ok = tree_equal("", 0, full, full || root_dirty);
    qsort(g_recs[1], g_nrecs[1], sizeof(rec), cmp_recs);
    rec *t = g_recs[0];
    g_recs[0] = g_recs[1];
    g_recs[1] = t;
    size_t c = g_caprecs[0];
    g_caprecs[0] = g_caprecs[1];
    g_caprecs[1] = c;
    g_nrecs[0] = g_nrecs[1];
    g_ntouched = 0;
    return ok;
}

#define HISTORY 40

static uint64_t g_by_kind[OP_COUNT][2]; /* failed, succeeded (alike on both sides) */

/* One operation as a line of tab-separated fields, for --dump and replay. */
static void op_dump(FILE *f, const op *o)
{
    fprintf(f,
            "%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
            "\t%o\t%d\t%d\t%lld\t%ld\t%lld\t%ld\t%s\n",
            OP_NAMES[o->kind], o->p1, o->p2, o->off, o->len, o->seed, o->mode, o->flags, o->slot,
            (long long)o->ts[0].tv_sec, o->ts[0].tv_nsec, (long long)o->ts[1].tv_sec,
            o->ts[1].tv_nsec, o->xname);
}

/* The inverse of op_dump; false for a line that is not one. */
static bool op_parse(char *line, op *o)
{
    char *f[14];
    line[strcspn(line, "\n")] = '\0';
    for (int i = 0; i < 14; i++)
        if (!(f[i] = strsep(&line, "\t")))
            return false;
    memset(o, 0, sizeof(*o));
    o->kind = -1;
    for (int k = 0; k < OP_COUNT; k++)
        if (!strcmp(f[0], OP_NAMES[k]))
            o->kind = k;
    snprintf(o->p1, sizeof(o->p1), "%s", f[1]);
    snprintf(o->p2, sizeof(o->p2), "%s", f[2]);
    o->off = strtoull(f[3], NULL, 10);
    o->len = strtoull(f[4], NULL, 10);
    o->seed = strtoull(f[5], NULL, 10);
    o->mode = (unsigned)strtoul(f[6], NULL, 8);
    o->flags = (int)strtol(f[7], NULL, 10);
    o->slot = (int)strtol(f[8], NULL, 10);
    o->ts[0] =
        (struct timespec){.tv_sec = strtoll(f[9], NULL, 10), .tv_nsec = strtol(f[10], NULL, 10)};
    o->ts[1] =
        (struct timespec){.tv_sec = strtoll(f[11], NULL, 10), .tv_nsec = strtol(f[12], NULL, 10)};
    snprintf(o->xname, sizeof(o->xname), "%s", f[13]);
    return o->kind >= 0 && o->slot >= 0 && o->slot < SLOTS && o->len <= DATA_CAP;
}

/* Runs the operations, from the generator (seeded) or from a dump (one
 * per line), on MOUNT and PLAIN; see the top of the file. */
static int run_diff(const char *const roots[2], uint64_t count, uint64_t seed, FILE *from,
                    FILE *dump, bool verbose)
{
    g_out = stdout;
    for (int s = 0; s < 2; s++) {
        g_rootpath[s] = roots[s];
        g_root[s] = open(roots[s], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (g_root[s] < 0)
            die("open %s", roots[s]);
    }
    for (int i = 0; i < SLOTS; i++)
        g_slot[i][0] = g_slot[i][1] = -1;
    static char history[HISTORY][PATH_CAP * 3];
    static res rs[2];
    rng r;
    rng_seed(&r, seed);
    struct timeval t0;
    gettimeofday(&t0, NULL);
    uint64_t fails[2] = {0, 0}; /* steps that failed / succeeded, for the summary */
    uint64_t step = 0;
    const char *stage = "before the first step";
    bool ok = trees_equal(true);
    char desc[PATH_CAP * 3] = "";
    op o;
    for (; ok && step < count; step++) {
        if (from) {
            char line[PATH_CAP * 4];
            if (!fgets(line, sizeof(line), from))
                break;
            if (!op_parse(line, &o))
                die("bad operation line %" PRIu64, step + 1);
        } else {
            pick_op(&r, &o);
        }
        describe(&o, desc, sizeof(desc));
        snprintf(history[step % HISTORY], sizeof(history[0]), "%s", desc);
        if (verbose)
            fprintf(g_out, "step %" PRIu64 ": %s\n", step, desc);
        if (dump)
            op_dump(dump, &o);
        fill_bytes(o.seed, g_wbuf, DATA_CAP);
        g_why[0] = '\0';
        touch_op(&o);
        apply(&o, MNT, &rs[MNT]);
        apply(&o, PLAIN, &rs[PLAIN]);
        /* What failed, or only looked, changed nothing (on the plain side;
         * a change on the mount's shows in its stat, or in the next full
         * comparison). */
        if (rs[PLAIN].ret < 0 || changes_nothing(&o))
            g_ntouched = 0;
        else
            touch_op(&o);
        if (o.kind == OP_HOPEN && rs[PLAIN].ret == 0)
            snprintf(g_slotpath[o.slot], sizeof(g_slotpath[0]), "%s", o.p1);
        fails[rs[PLAIN].ret >= 0]++;
        g_by_kind[o.kind][rs[PLAIN].ret >= 0]++;
        if (!res_equal(&rs[MNT], &rs[PLAIN])) {
            stage = "the operation's results differ";
            ok = false;
            break;
        }
        struct timespec ta, tb;
        clock_gettime(CLOCK_MONOTONIC, &ta);
        bool teq = trees_equal((step + 1) % FULL_EVERY == 0 || step + 1 == count);
        clock_gettime(CLOCK_MONOTONIC, &tb);
        g_tcmp += (double)(tb.tv_sec - ta.tv_sec) + (double)(tb.tv_nsec - ta.tv_nsec) / 1e9;
        if (!teq) {
            stage = "the trees differ after the operation";
            ok = false;
            break;
        }
    }
    if (dump)
        fflush(dump);
    struct timeval t1;
    gettimeofday(&t1, NULL);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
    if (ok) {
        fprintf(g_out,
                "seed %" PRIu64 ": %" PRIu64 " operations (%" PRIu64 " succeeded, %" PRIu64
                " failed alike), trees equal after each; %zu entries at the end; %.1f s\n",
                seed, step, fails[1], fails[0], g_entries, secs);
        fprintf(g_out, "  %.1f s of it comparing; %" PRIu64 " entries compared in depth\n", g_tcmp,
                g_content_checks);
        fprintf(g_out, "  succeeded/failed by kind:");
        for (int k = 0; k < OP_COUNT; k++)
            fprintf(g_out, "%s %s %" PRIu64 "/%" PRIu64, k % 6 ? "," : "\n   ", OP_NAMES[k],
                    g_by_kind[k][1], g_by_kind[k][0]);
        fprintf(g_out, "\n");
        return 0;
    }
    FILE *f = g_out;
    fprintf(f, "MISMATCH seed=%" PRIu64 " step=%" PRIu64 ": %s\n", seed, step, stage);
    if (step < count) {
        fprintf(f, "  op: %s\n", desc);
        print_res(f, MNT, &rs[MNT]);
        print_res(f, PLAIN, &rs[PLAIN]);
    }
    if (g_why[0])
        fprintf(f, "  %s\n", g_why);
    fprintf(f, "  the operations before it, oldest first:\n");
    uint64_t first = step >= HISTORY - 1 ? step - (HISTORY - 1) : 0;
    for (uint64_t i = first; i < step && i < count; i++)
        fprintf(f, "    step %" PRIu64 ": %s\n", i, history[i % HISTORY]);
    if (!from)
        fprintf(f,
                "  replay on fresh copies: strata-fsops diff MOUNT PLAIN %" PRIu64 " %" PRIu64
                " -v [--dump FILE]\n",
                step + 1, seed);
    return 1;
}

/* diff MOUNT PLAIN COUNT SEED [-v] [--dump FILE] */
static int cmd_diff(int argc, char **argv)
{
    uint64_t count, seed;
    if (!parse_u64(argv[2], &count) || !parse_u64(argv[3], &seed))
        die("bad COUNT or SEED: %s %s", argv[2], argv[3]);
    bool verbose = false;
    FILE *dump = NULL;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            verbose = true;
        } else if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
            if (!(dump = fopen(argv[++i], "w")))
                die("open %s", argv[i]);
        } else {
            errno = 0;
            die("unknown option %s", argv[i]);
        }
    }
    const char *roots[2] = {argv[0], argv[1]};
    return run_diff(roots, count, seed, NULL, dump, verbose);
}

/* replay MOUNT PLAIN FILE [-v]: a dump's operations, in order. */
static int cmd_replay(int argc, char **argv)
{
    FILE *from = fopen(argv[2], "r");
    if (!from)
        die("open %s", argv[2]);
    const char *roots[2] = {argv[0], argv[1]};
    return run_diff(roots, UINT64_MAX, 0, from, NULL, argc > 3 && !strcmp(argv[3], "-v"));
}

/* ---- readers ------------------------------------------------------------- */

typedef struct rfile {
    const char *name;
    unsigned char *want;
    size_t size;
} rfile;

static const char *g_mnt;
static rfile *g_files;
static size_t g_nfiles;
static uint64_t g_rounds, g_seed;
static int g_go[2], g_ready[2];
/* Shared with the processes (MAP_SHARED): how many readers are reading
 * right now, and the most there ever were at once. */
static atomic_int *g_active, *g_peak;
static atomic_uint_fast64_t *g_bytes;

typedef struct reader {
    int id;
    char msg[512]; /* the first mismatch, or "" */
} reader;

/* Counts readers in and out of their reading, keeping the peak: the
 * report then says how many really read at once. */
static void note_active(int delta)
{
    int now = atomic_fetch_add(g_active, delta) + delta;
    int peak = atomic_load(g_peak);
    while (now > peak && !atomic_compare_exchange_weak(g_peak, &peak, now))
        ;
}

/* Compares got (len bytes read at off) with the source; false with a
 * message on the first difference. */
static bool check_bytes(reader *rd, const rfile *f, const char *how, const unsigned char *got,
                        size_t len, uint64_t off, size_t want_len)
{
    if (len != want_len) {
        snprintf(rd->msg, sizeof(rd->msg), "%s: %s at %" PRIu64 ": read %zu bytes, want %zu",
                 f->name, how, off, len, want_len);
        return false;
    }
    if (memcmp(got, f->want + off, len) != 0) {
        size_t i = 0;
        while (got[i] == f->want[off + i])
            i++;
        snprintf(rd->msg, sizeof(rd->msg), "%s: %s: byte %" PRIu64 " differs", f->name, how,
                 off + i);
        return false;
    }
    return true;
}

/* Reads f whole with read(2) in chunks of an odd size, or by mmap. */
static bool read_whole_check(reader *rd, const rfile *f, int fd, rng *r, unsigned char *buf,
                             size_t cap)
{
    if (rd->id % 3 == 2 && f->size > 0) {
        unsigned char *m = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            snprintf(rd->msg, sizeof(rd->msg), "%s: mmap: %s", f->name, strerror(errno));
            return false;
        }
        bool ok = check_bytes(rd, f, "mmap", m, f->size, 0, f->size);
        munmap(m, f->size);
        atomic_fetch_add(g_bytes, f->size);
        return ok;
    }
    static const size_t chunks[] = {4096, 65536, 1 << 20, 12345, 131072 + 17};
    size_t chunk = chunks[rnd(r, sizeof(chunks) / sizeof(chunks[0]))];
    if (chunk > cap)
        chunk = cap;
    uint64_t off = 0;
    for (;;) {
        ssize_t n = read(fd, buf, chunk);
        if (n < 0) {
            snprintf(rd->msg, sizeof(rd->msg), "%s: read at %" PRIu64 ": %s", f->name, off,
                     strerror(errno));
            return false;
        }
        if (n == 0)
            break;
        size_t want = off >= f->size ? 0 : f->size - off < chunk ? f->size - off : chunk;
        /* A short read before the end is allowed; a long one is not. */
        if ((size_t)n > want || !check_bytes(rd, f, "read", buf, (size_t)n, off, (size_t)n)) {
            if (!rd->msg[0])
                snprintf(rd->msg, sizeof(rd->msg), "%s: read past the end at %" PRIu64, f->name,
                         off);
            return false;
        }
        off += (uint64_t)n;
    }
    atomic_fetch_add(g_bytes, off);
    if (off != f->size) {
        snprintf(rd->msg, sizeof(rd->msg), "%s: end of file after %" PRIu64 " bytes, want %zu",
                 f->name, off, f->size);
        return false;
    }
    return true;
}

/* One reader: says it is ready, waits for the start (the end of the go
 * pipe, closed by the parent once every reader is ready), then reads
 * every file whole and at random ranges, ROUNDS times, each round in its
 * own order. */
static void run_reader(reader *rd)
{
    rng r;
    rng_seed(&r, g_seed ^ (uint64_t)rd->id * 0x9e3779b97f4a7c15ull);
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        snprintf(rd->msg, sizeof(rd->msg), "out of memory");
        return;
    }
    char c = 'r';
    char go;
    if (write(g_ready[1], &c, 1) != 1 || read(g_go[0], &go, 1) != 0) {
        snprintf(rd->msg, sizeof(rd->msg), "start pipe: %s", strerror(errno));
        free(buf);
        return;
    }
    note_active(1);
    for (uint64_t round = 0; round < g_rounds && !rd->msg[0]; round++) {
        for (size_t k = 0; k < g_nfiles && !rd->msg[0]; k++) {
            const rfile *f = &g_files[((size_t)rd->id + round + k) % g_nfiles];
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", g_mnt, f->name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                snprintf(rd->msg, sizeof(rd->msg), "%s: open: %s", f->name, strerror(errno));
                break;
            }
            if (read_whole_check(rd, f, fd, &r, buf, cap)) {
                for (int i = 0; i < 16 && !rd->msg[0]; i++) {
                    uint64_t off = rnd(&r, f->size + 2);
                    size_t len = (size_t)rnd_in(&r, 1, rnd(&r, 4) ? 8192 : cap);
                    ssize_t n = pread(fd, buf, len, (off_t)off);
                    size_t want = off >= f->size ? 0 : f->size - off < len ? f->size - off : len;
                    if (n < 0)
                        snprintf(rd->msg, sizeof(rd->msg), "%s: pread at %" PRIu64 ": %s", f->name,
                                 off, strerror(errno));
                    else
                        check_bytes(rd, f, "pread", buf, (size_t)n, off, want);
                    if (n > 0)
                        atomic_fetch_add(g_bytes, (uint64_t)n);
                }
            }
            close(fd);
        }
    }
    note_active(-1);
    free(buf);
}

static void *reader_thread(void *arg)
{
    run_reader(arg);
    return NULL;
}

/* The whole source of a file in memory: what every reader compares
 * against, read once, before the mount is touched. */
static unsigned char *load(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        die("open %s", path);
    *size = (size_t)st.st_size;
    unsigned char *buf = malloc(*size + 1);
    size_t got = 0;
    while (buf && got < *size) {
        ssize_t n = read(fd, buf + got, *size - got);
        if (n <= 0)
            die("read %s", path);
        got += (size_t)n;
    }
    close(fd);
    if (!buf)
        die("out of memory");
    return buf;
}

/* readers SRC MNT THREADS PROCS ROUNDS SEED FILE...: forks the processes
 * first (before any thread exists), starts the threads, waits until
 * every reader is ready, then releases all of them at once by closing the
 * go pipe, whose readers all see end of file together. */
static int cmd_readers(int argc, char **argv)
{
    const char *src = argv[0];
    uint64_t nthreads, nprocs;
    g_mnt = argv[1];
    if (!parse_u64(argv[2], &nthreads) || !parse_u64(argv[3], &nprocs) ||
        !parse_u64(argv[4], &g_rounds) || !parse_u64(argv[5], &g_seed) || nthreads > 1024 ||
        nprocs > 1024)
        die("bad THREADS, PROCS, ROUNDS or SEED");
    g_nfiles = (size_t)(argc - 6);
    g_files = calloc(g_nfiles, sizeof(*g_files));
    if (!g_files)
        die("out of memory");
    uint64_t total = 0;
    for (size_t i = 0; i < g_nfiles; i++) {
        char path[PATH_MAX];
        g_files[i].name = argv[6 + i];
        snprintf(path, sizeof(path), "%s/%s", src, g_files[i].name);
        g_files[i].want = load(path, &g_files[i].size);
        total += g_files[i].size;
    }
    void *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        die("mmap");
    g_active = shared;
    g_peak = g_active + 1;
    g_bytes = (atomic_uint_fast64_t *)((char *)shared + 64);
    if (pipe2(g_go, O_CLOEXEC) != 0 || pipe2(g_ready, O_CLOEXEC) != 0)
        die("pipe");
    fflush(NULL);
    /* The processes first, while this one has no other thread. */
    pid_t *pids = calloc(nprocs + 1, sizeof(*pids));
    reader *rds = calloc(nthreads + nprocs + 1, sizeof(*rds));
    pthread_t *tids = calloc(nthreads + 1, sizeof(*tids));
    if (!pids || !rds || !tids)
        die("out of memory");
    for (uint64_t i = 0; i < nprocs; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            die("fork");
        if (pids[i] == 0) {
            close(g_go[1]);
            reader *rd = &rds[nthreads + i];
            rd->id = (int)(nthreads + i);
            run_reader(rd);
            if (rd->msg[0])
                fprintf(stderr, "process reader %d: %s\n", rd->id, rd->msg);
            _exit(rd->msg[0] ? 1 : 0);
        }
    }
    for (uint64_t i = 0; i < nthreads; i++) {
        rds[i].id = (int)i;
        if (pthread_create(&tids[i], NULL, reader_thread, &rds[i]) != 0)
            die("pthread_create");
    }
    /* Everyone is ready and blocked on the go pipe: release them at once. */
    for (uint64_t i = 0; i < nthreads + nprocs; i++) {
        char c;
        if (read(g_ready[0], &c, 1) != 1)
            die("a reader never got ready");
    }
    close(g_go[1]);
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    uint64_t bad_threads = 0, bad_procs = 0;
    const char *first_thread = NULL;
    for (uint64_t i = 0; i < nthreads; i++) {
        pthread_join(tids[i], NULL);
        if (rds[i].msg[0]) {
            bad_threads++;
            if (!first_thread)
                first_thread = rds[i].msg;
        }
    }
    for (uint64_t i = 0; i < nprocs; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            bad_procs++;
    }
    gettimeofday(&t1, NULL);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
    printf("peak: %d readers at once; %.1f MiB read in %.2f s (%zu files, %.1f MiB)\n",
           atomic_load(g_peak), (double)atomic_load(g_bytes) / (1 << 20), secs, g_nfiles,
           (double)total / (1 << 20));
    if (bad_threads)
        printf("threads: FAIL %" PRIu64 " of %" PRIu64 " readers; first: %s\n", bad_threads,
               nthreads, first_thread);
    else
        printf("threads: ok %" PRIu64 " readers, byte-exact\n", nthreads);
    if (bad_procs)
        printf("procs: FAIL %" PRIu64 " of %" PRIu64 " readers (see stderr)\n", bad_procs, nprocs);
    else
        printf("procs: ok %" PRIu64 " readers, byte-exact\n", nprocs);
    fflush(stdout);
    /* Freed for the leak checker of sanitizer builds. */
    for (size_t i = 0; i < g_nfiles; i++)
        free(g_files[i].want);
    free(g_files);
    free(pids);
    free(rds);
    free(tids);
    munmap(shared, 4096);
    return bad_threads || bad_procs;
}

/* ---- main ---------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: strata-fsops gen-layers BOT TOP MERGED SEED\n"
                    "       strata-fsops diff MOUNT PLAIN COUNT SEED [-v] [--dump FILE]\n"
                    "       strata-fsops replay MOUNT PLAIN FILE [-v]\n"
                    "       strata-fsops readers SRC MNT THREADS PROCS ROUNDS SEED FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "gen-layers"))
        return cmd_gen_layers(argv + 2);
    if (argc >= 6 && !strcmp(argv[1], "diff"))
        return cmd_diff(argc - 2, argv + 2);
    if (argc >= 5 && !strcmp(argv[1], "replay"))
        return cmd_replay(argc - 2, argv + 2);
    if (argc >= 9 && !strcmp(argv[1], "readers"))
        return cmd_readers(argc - 2, argv + 2);
    return usage();
}
