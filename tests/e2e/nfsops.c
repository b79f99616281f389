/* strata-nfsops: the differential random-operation test of strata's NFS
 * server (`strata mount --backend nfs --serve-only --upper DIR`), driven
 * through libnfs, since the kernel here may have no NFS client. It is
 * tests/e2e/fsops.c's `diff` over NFS: the same seeded operations go to
 * the server through libnfs and, as system calls, to a plain directory
 * that starts out the same, and everything both answer must be equal.
 *
 *   strata-nfsops diff URL PLAIN COUNT SEED [-v] [--dump FILE] [--mtimes FILE]
 *       COUNT seeded random operations, each applied to both sides: every
 *       result (return value, errno: libnfs returns -errno, and the bytes
 *       read or the stat fields) must be equal, and after every step so
 *       must the whole trees. COUNT 0 compares the trees once, in full. A
 *       failure prints the seed, the step, the operation, both results and
 *       the operations before it; -v prints every step, --dump writes them
 *       to FILE one per line; --mtimes FILE reads the explicitly set
 *       modification times a run before kept, and writes them back at the
 *       end (so that a later run, against a restarted server, checks them)
 *   strata-nfsops replay URL PLAIN FILE [-v]
 *       the operations of a dump (or a part of one), compared the same way
 *   strata-nfsops unfifo URL PLAIN
 *       unlinks every fifo on both sides (found on the plain side; a layer
 *       holds no fifos, so `strata capture` refuses them), then compares
 *       the trees in full
 *
 * URL is what the server prints (nfs://127.0.0.1/?nfsport=P&mountport=P&
 * version=3); calls carry this process's uid and gid. Everything random is
 * a pure function of SEED: paths are chosen from the plain side, from
 * sorted listings, so a seed replays the same run on fresh copies of the
 * same trees and a fresh upper directory.
 *
 * What the trees must agree on: the names in every directory, each
 * entry's kind and permission bits (setuid, setgid and sticky included),
 * the size and link count of everything but directories, the target of
 * every symbolic link, the content of every regular file, byte for byte,
 * and the modification time of every entry whose time an operation set
 * explicitly (utimes, lutimes) and nothing changed since (the plain side
 * still shows that time). The server's side of a directory is one
 * READDIRPLUS (names and attributes at once), which with the LOOKUPs of
 * its path costs ~0.4 ms on loopback; a tree grows to ~35 directories, so
 * listing all of them after every step would make 3,000 steps take a
 * minute. Hence three depths of comparison:
 *   - after every step, every directory where the plain side changed (the
 *     step touched it or one of its entries, or an entry's stat differs
 *     from the last comparison's: a write through one hard link shows in
 *     the other's directory too) is listed on the server, and all of its
 *     entries compared; content or link target too where either side's
 *     attributes changed or the step touched the entry;
 *   - every LIST_EVERY steps, every directory is listed and compared so,
 *     which catches what the server changed where the plain side did not;
 *   - every FULL_EVERY steps, after the last, and before the first, all
 *     of that and every file's content and every link's target.
 * A mismatch found by the second or third is reported at the step that
 * found it; the cause may be up to LIST_EVERY steps before (replay with
 * -v and --dump, and cut the dump down).
 *
 * The operations: writes at random offsets (up to 200 KiB, some across a
 * 64 KiB or the 1 MiB boundary, some far past the end: holes), appends,
 * truncate(2) up and down, O_TRUNC opens, O_CREAT | O_EXCL opens (CREATE
 * GUARDED), reads at random ranges, stat and lstat (of missing names too:
 * ENOENT, and through files: ENOTDIR), chmod, utimes and lutimes, mkdir,
 * rmdir (empty and not: ENOTEMPTY), unlink, rename of files and
 * directories (lower ones from the layers included, onto existing targets:
 * file onto directory EISDIR, directory onto file ENOTDIR, directory onto
 * non-empty directory ENOTEMPTY, into itself EINVAL, hard links onto each
 * other: nothing), symlink, readlink, link, mknod of a fifo, and files
 * held open in slots across steps (pwrite, append, pread, ftruncate, fstat
 * and close through them, also after the file was renamed or linked).
 *
 * What is left out, and why (NFSv3 or libnfs, not the server, differ):
 *   - extended attributes, renameat2 (NOREPLACE, EXCHANGE), UTIME_OMIT:
 *     NFSv3 has none of them (libnfs's utimes sets both times);
 *   - atime, ctime and the link count and size of directories: not
 *     compared (atime moves with reads, ctime with everything; a merged
 *     directory's link count is not the plain one's, as in fsops.c);
 *   - modification times other than those set explicitly: each side
 *     stamps its own clock; and an explicitly set time stops being
 *     checked once a write, truncation or O_TRUNC open touched the file,
 *     since the O_TRUNC and truncate(2) emulation (SETATTR size) does not
 *     say whether an unchanged size updates mtime, where POSIX says it does;
 *   - a held file that loses its last link (unlink, or a rename onto its
 *     name): libnfs has no silly rename, so the server really removes it
 *     and the handle is stale (ESTALE) where a plain descriptor lives on.
 *     Such a slot is closed on both sides right after that step;
 *   - what libnfs emulates unlike open(2), decided from the plain side
 *     before the operation, which then becomes a stat of the same path:
 *     an open of a directory (libnfs opens it even for writing: ACCESS
 *     grants MODIFY, which on a directory means adding names), any open
 *     of a fifo (no NFS client opens a fifo on the server), and an O_CREAT
 *     open (without O_EXCL) whose last component is a symbolic link:
 *     libnfs 4.0 then opens the link itself (its CREATE UNCHECKED of the
 *     name is answered with the existing entry's handle, by knfsd as by
 *     strata), where open(2) opens or creates the link's target. A read
 *     through a slot opened write-only, and a write or ftruncate through
 *     one opened read-only, become an fstat (libnfs keeps no access mode);
 *   - O_NOFOLLOW (libnfs refuses a link anywhere in the path), and link(2)
 *     without following: libnfs's LINK resolves the old path through a
 *     final symbolic link, so the plain side links with AT_SYMLINK_FOLLOW;
 *   - truncate(2) to a length with bit 17 set (O_NOFOLLOW's value) of a
 *     path with a symbolic link in it: libnfs 4.0 hands the length to its
 *     path walk in the word it reads O_NOFOLLOW from, and fails with
 *     ELOOP. Such a length loses that bit (chosen on the plain side);
 *   - reads of a directory: libnfs opens it, and its READ turns the
 *     server's NFS3ERR_ISDIR into EFAULT (as it does any failed WRITE), so
 *     no open of a directory is made (see below).
 * Errors libnfs's write path flattens (any failed WRITE is -EFAULT) cannot
 * occur: writes go only through handles of regular files that still exist.
 *
 * The plain side runs with umask 0, since NFS CREATE and MKDIR set the
 * exact mode the client sends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define OPS_PROG "strata-nfsops"
#include "opsutil.h"

/* Targets stay inside the tree wherever the link is moved to (no ".."),
 * or point at an absolute path that exists nowhere (libnfs resolves an
 * absolute target inside the export, finds nothing: ENOENT, as the plain
 * side does), so that both sides resolve them alike. */
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

/* ---- the server --------------------------------------------------------- */

static struct nfs_context *g_nfs;

/* A mounted context: one TCP connection, no directory cache (every
 * listing must come from the server), a deadline on every call so that a
 * hung server fails the run instead of stalling it. libnfs resolves a
 * file directly at the export's root only with auto-traverse-mounts=0
 * (docs/NFS.md). */
static void nfs_connect(const char *url)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s%s", url,
             strstr(url, "auto-traverse-mounts") ? "" : "&auto-traverse-mounts=0");
    g_nfs = nfs_init_context();
    if (!g_nfs)
        die("nfs_init_context");
    struct nfs_url *u = nfs_parse_url_dir(g_nfs, full);
    if (!u) {
        errno = 0;
        die("bad URL %s: %s", full, nfs_get_error(g_nfs));
    }
    nfs_set_uid(g_nfs, (int)getuid());
    nfs_set_gid(g_nfs, (int)getgid());
    nfs_set_dircache(g_nfs, 0);
    nfs_set_timeout(g_nfs, 60000);
    if (nfs_mount(g_nfs, u->server, u->path) != 0) {
        errno = 0;
        die("mount %s: %s", full, nfs_get_error(g_nfs));
    }
    nfs_destroy_url(u);
}

/* ---- the operations ----------------------------------------------------- */

enum {
    OP_WRITE,    /* open (maybe O_CREAT), pwrite, close */
    OP_APPEND,   /* open O_APPEND (maybe O_CREAT), write, close */
    OP_TRUNCATE, /* truncate(2) by path */
    OP_OTRUNC,   /* open O_TRUNC (maybe O_CREAT), write, close */
    OP_EXCL,     /* open O_CREAT | O_EXCL, write, close */
    OP_READ,     /* open, pread a range, close */
    OP_STAT,     /* stat or lstat (flags: AT_SYMLINK_NOFOLLOW) */
    OP_CHMOD,    /* chmod (through links) */
    OP_UTIMES,   /* utimes or lutimes (flags), then stat or lstat */
    OP_MKDIR,    /* mkdir */
    OP_RMDIR,    /* rmdir */
    OP_UNLINK,   /* unlink */
    OP_RENAME,   /* rename */
    OP_SYMLINK,  /* symlink */
    OP_READLINK, /* readlink */
    OP_LINK,     /* link, through a final link (see the top) */
    OP_MKFIFO,   /* mknod S_IFIFO */
    OP_HOPEN,    /* open a file into a slot, kept open across steps */
    OP_HWRITE,   /* pwrite (an O_APPEND slot: write) through a slot */
    OP_HREAD,    /* pread through a slot */
    OP_HTRUNC,   /* ftruncate through a slot */
    OP_HSTAT,    /* fstat through a slot */
    OP_HCLOSE,   /* close a slot */
    OP_COUNT
};

static const char *const OP_NAMES[OP_COUNT] = {
    "write",      "append",     "truncate",       "open-trunc", "open-excl",  "read",
    "stat",       "chmod",      "utimes",         "mkdir",      "rmdir",      "unlink",
    "rename",     "symlink",    "readlink",       "link",       "mkfifo",     "hold-open",
    "held-write", "held-pread", "held-ftruncate", "held-fstat", "held-close",
};

/* How often each is chosen, out of the sum. */
static const unsigned OP_WEIGHT[OP_COUNT] = {
    [OP_WRITE] = 10, [OP_APPEND] = 5, [OP_TRUNCATE] = 5, [OP_OTRUNC] = 3,  [OP_EXCL] = 5,
    [OP_READ] = 6,   [OP_STAT] = 4,   [OP_CHMOD] = 4,    [OP_UTIMES] = 4,  [OP_MKDIR] = 3,
    [OP_RMDIR] = 3,  [OP_UNLINK] = 5, [OP_RENAME] = 10,  [OP_SYMLINK] = 3, [OP_READLINK] = 2,
    [OP_LINK] = 4,   [OP_MKFIFO] = 1, [OP_HOPEN] = 3,    [OP_HWRITE] = 4,  [OP_HREAD] = 3,
    [OP_HTRUNC] = 1, [OP_HSTAT] = 2,  [OP_HCLOSE] = 2,
};

#define SLOTS      4
#define WRITE_MAX  (200 << 10)               /* the largest write */
#define DATA_CAP   (256 << 10)               /* the largest read, and write buffer */
#define FILE_CAP   ((1 << 20) + (320 << 10)) /* writes and truncations stay below */
#define BOUNDARY64 (64 << 10)
#define BOUNDARY1M (1 << 20)

typedef struct op {
    int kind;
    char p1[PATH_CAP], p2[PATH_CAP]; /* p2: the new name, or a link's target */
    uint64_t off, len, seed;
    unsigned mode;
    int flags;
    int slot;
    struct timeval tv[2];
} op;

/* What one side answered: the return value, errno when it failed, and the
 * bytes it produced (read data, a link target, chosen stat fields). */
typedef struct res {
    long ret;
    int err;
    char msg[256]; /* libnfs's message for a failure, for the report */
    size_t dlen;
    unsigned char data[DATA_CAP];
} res;

enum { MNT = 0, PLAIN = 1 };
static const char *const SIDE[2] = {"nfs", "plain"};
static int g_root;             /* the plain directory */
static const char *g_rootpath; /* ... and its path */

/* A file held open on both sides. */
typedef struct slot {
    bool open;
    struct nfsfh *fh;
    int fd;
    int flags;
    char path[PATH_CAP]; /* where it was opened (it may have moved since) */
} slot;

static slot g_slot[SLOTS];
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
        snprintf(out + n, cap - (size_t)n, " \"%s\"%s", o->p1,
                 o->flags ? " (not following a link)" : "");
        break;
    case OP_CHMOD:
    case OP_MKDIR:
    case OP_MKFIFO:
        snprintf(out + n, cap - (size_t)n, " \"%s\" mode=%o", o->p1, o->mode);
        break;
    case OP_UTIMES:
        snprintf(out + n, cap - (size_t)n, " \"%s\" atime=%lld.%06ld mtime=%lld.%06ld%s", o->p1,
                 (long long)o->tv[0].tv_sec, (long)o->tv[0].tv_usec, (long long)o->tv[1].tv_sec,
                 (long)o->tv[1].tv_usec, o->flags ? " (lutimes)" : "");
        break;
    case OP_RENAME:
    case OP_LINK:
        snprintf(out + n, cap - (size_t)n, " \"%s\" -> \"%s\"", o->p1, o->p2);
        break;
    case OP_SYMLINK:
        snprintf(out + n, cap - (size_t)n, " \"%s\" target=\"%s\"", o->p1, o->p2);
        break;
    case OP_HOPEN:
        snprintf(out + n, cap - (size_t)n, " slot %d \"%s\" flags=%#o mode=%o", o->slot, o->p1,
                 (unsigned)o->flags, o->mode);
        break;
    default:
        snprintf(out + n, cap - (size_t)n,
                 " slot %d (opened as \"%s\") off=%" PRIu64 " len=%" PRIu64, o->slot, o->p1, o->off,
                 o->len);
        break;
    }
}

/* The plain side's answer: the call's value, and its errno when it failed. */
static void set_plain(res *r, long ret)
{
    r->ret = ret;
    r->err = ret < 0 ? errno : 0;
}

/* libnfs's answer, made to look like a system call's: -errno becomes -1
 * with that errno. */
static void set_nfs(res *r, long ret)
{
    r->ret = ret < 0 ? -1 : ret;
    r->err = ret < 0 ? (int)-ret : 0;
    const char *m = ret < 0 ? nfs_get_error(g_nfs) : NULL;
    snprintf(r->msg, sizeof(r->msg), "%s", m ? m : "");
}

/* libnfs takes paths from the export's root. */
static const char *npath(const char *rel, char *buf)
{
    snprintf(buf, PATH_MAX, "/%s", rel);
    return buf;
}

/* The stat fields both sides must agree on: the kind and mode always;
 * size and link count except for directories (see the top). */
static size_t stat_fields(uint64_t mode, uint64_t size, uint64_t nlink, unsigned char *out)
{
    uint64_t f[3] = {mode & (S_IFMT | 07777), 0, 0};
    if (!S_ISDIR(mode)) {
        f[1] = size;
        f[2] = nlink;
    }
    memcpy(out, f, sizeof(f));
    return sizeof(f);
}

static size_t nfs_stat_fields(const struct nfs_stat_64 *st, unsigned char *out)
{
    return stat_fields(st->nfs_mode, st->nfs_size, st->nfs_nlink, out);
}

static size_t plain_stat_fields(const struct stat *st, unsigned char *out)
{
    return stat_fields(st->st_mode, (uint64_t)st->st_size, st->st_nlink, out);
}

/* Opens o->p1, writes (appends with O_APPEND), closes: the result is the
 * write's, or the failing call's. A close that fails after a good write
 * counts. A write of nothing is not made (see OP_OTRUNC). */
static void nfs_open_write(const op *o, res *r)
{
    char p[PATH_MAX];
    struct nfsfh *fh = NULL;
    int rc = nfs_open2(g_nfs, npath(o->p1, p), o->flags, (int)o->mode, &fh);
    if (rc < 0) {
        set_nfs(r, rc);
        return;
    }
    long n = 0;
    if (o->len)
        n = (o->flags & O_APPEND) ? nfs_write(g_nfs, fh, o->len, g_wbuf)
                                  : nfs_pwrite(g_nfs, fh, o->off, o->len, g_wbuf);
    set_nfs(r, n);
    rc = nfs_close(g_nfs, fh);
    if (rc < 0 && n >= 0)
        set_nfs(r, rc);
}

static void plain_open_write(const op *o, res *r)
{
    int fd = openat(g_root, o->p1, o->flags | O_CLOEXEC, o->mode);
    if (fd < 0) {
        set_plain(r, -1);
        return;
    }
    ssize_t n = 0;
    if (o->len)
        n = (o->flags & O_APPEND) ? write(fd, g_wbuf, o->len)
                                  : pwrite(fd, g_wbuf, o->len, (off_t)o->off);
    set_plain(r, n);
    if (close(fd) != 0 && n >= 0)
        set_plain(r, -1);
}

/* Closes a slot on one side; what close says is the result. */
static long nfs_slot_close(slot *s)
{
    int rc = s->fh ? nfs_close(g_nfs, s->fh) : 0;
    s->fh = NULL;
    return rc;
}

static long plain_slot_close(slot *s)
{
    long rc = s->fd >= 0 ? close(s->fd) : 0;
    s->fd = -1;
    return rc;
}

/* The calls of o through libnfs. */
static void apply_nfs(const op *o, res *r)
{
    char p[PATH_MAX], q[PATH_MAX];
    struct nfs_stat_64 st;
    slot *s = &g_slot[o->slot];
    r->dlen = 0;
    switch (o->kind) {
    case OP_WRITE:
    case OP_APPEND:
    case OP_OTRUNC:
    case OP_EXCL:
        nfs_open_write(o, r);
        break;
    case OP_TRUNCATE:
        set_nfs(r, nfs_truncate(g_nfs, npath(o->p1, p), o->off));
        break;
    case OP_READ: {
        struct nfsfh *fh = NULL;
        int rc = nfs_open(g_nfs, npath(o->p1, p), O_RDONLY, &fh);
        if (rc < 0) {
            set_nfs(r, rc);
            break;
        }
        rc = nfs_pread(g_nfs, fh, o->off, o->len, r->data);
        set_nfs(r, rc);
        r->dlen = rc > 0 ? (size_t)rc : 0;
        nfs_close(g_nfs, fh);
        break;
    }
    case OP_STAT: {
        int rc = o->flags ? nfs_lstat64(g_nfs, npath(o->p1, p), &st)
                          : nfs_stat64(g_nfs, npath(o->p1, p), &st);
        set_nfs(r, rc);
        if (rc == 0)
            r->dlen = nfs_stat_fields(&st, r->data);
        break;
    }
    case OP_CHMOD:
        set_nfs(r, nfs_chmod(g_nfs, npath(o->p1, p), (int)o->mode));
        break;
    case OP_UTIMES: {
        /* Then the times must be the ones set, to the microsecond. */
        struct timeval tv[2] = {o->tv[0], o->tv[1]};
        int rc = o->flags ? nfs_lutimes(g_nfs, npath(o->p1, p), tv)
                          : nfs_utimes(g_nfs, npath(o->p1, p), tv);
        set_nfs(r, rc);
        if (rc == 0 && (o->flags ? nfs_lstat64(g_nfs, p, &st) : nfs_stat64(g_nfs, p, &st)) == 0) {
            int64_t t[4] = {(int64_t)st.nfs_atime, (int64_t)st.nfs_atime_nsec,
                            (int64_t)st.nfs_mtime, (int64_t)st.nfs_mtime_nsec};
            memcpy(r->data, t, sizeof(t));
            r->dlen = sizeof(t);
        }
        break;
    }
    case OP_MKDIR:
        set_nfs(r, nfs_mkdir2(g_nfs, npath(o->p1, p), (int)o->mode));
        break;
    case OP_RMDIR:
        set_nfs(r, nfs_rmdir(g_nfs, npath(o->p1, p)));
        break;
    case OP_UNLINK:
        set_nfs(r, nfs_unlink(g_nfs, npath(o->p1, p)));
        break;
    case OP_RENAME:
        set_nfs(r, nfs_rename(g_nfs, npath(o->p1, p), npath(o->p2, q)));
        break;
    case OP_SYMLINK:
        set_nfs(r, nfs_symlink(g_nfs, o->p2, npath(o->p1, p)));
        break;
    case OP_READLINK: {
        char *t = NULL;
        int rc = nfs_readlink2(g_nfs, npath(o->p1, p), &t);
        set_nfs(r, rc < 0 ? rc : t ? (long)strlen(t) : 0);
        if (rc == 0 && t) {
            r->dlen = strlen(t) < PATH_CAP ? strlen(t) : PATH_CAP;
            memcpy(r->data, t, r->dlen);
        }
        free(t);
        break;
    }
    case OP_LINK:
        set_nfs(r, nfs_link(g_nfs, npath(o->p1, p), npath(o->p2, q)));
        break;
    case OP_MKFIFO:
        set_nfs(r, nfs_mknod(g_nfs, npath(o->p1, p), (int)(S_IFIFO | o->mode), 0));
        break;
    case OP_HOPEN: {
        if (s->fh)
            nfs_slot_close(s);
        int rc = nfs_open2(g_nfs, npath(o->p1, p), o->flags, (int)o->mode, &s->fh);
        if (rc < 0)
            s->fh = NULL;
        set_nfs(r, rc);
        break;
    }
    case OP_HWRITE:
        set_nfs(r, (s->flags & O_APPEND) ? nfs_write(g_nfs, s->fh, o->len, g_wbuf)
                                         : nfs_pwrite(g_nfs, s->fh, o->off, o->len, g_wbuf));
        break;
    case OP_HREAD: {
        int rc = nfs_pread(g_nfs, s->fh, o->off, o->len, r->data);
        set_nfs(r, rc);
        r->dlen = rc > 0 ? (size_t)rc : 0;
        break;
    }
    case OP_HTRUNC:
        set_nfs(r, nfs_ftruncate(g_nfs, s->fh, o->off));
        break;
    case OP_HSTAT: {
        int rc = nfs_fstat64(g_nfs, s->fh, &st);
        set_nfs(r, rc);
        if (rc == 0)
            r->dlen = nfs_stat_fields(&st, r->data);
        break;
    }
    case OP_HCLOSE:
        set_nfs(r, nfs_slot_close(s));
        break;
    }
}

/* The system calls of o on the plain side, relative to its root. */
static void apply_plain(const op *o, res *r)
{
    struct stat st;
    slot *s = &g_slot[o->slot];
    r->dlen = 0;
    r->msg[0] = '\0';
    errno = 0;
    switch (o->kind) {
    case OP_WRITE:
    case OP_APPEND:
    case OP_OTRUNC:
    case OP_EXCL:
        plain_open_write(o, r);
        break;
    case OP_TRUNCATE: {
        char full[PATH_MAX];
        snprintf(full, sizeof(full), "%s/%s", g_rootpath, o->p1);
        set_plain(r, truncate(full, (off_t)o->off));
        break;
    }
    case OP_READ: {
        int fd = openat(g_root, o->p1, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            set_plain(r, -1);
            break;
        }
        ssize_t n = pread(fd, r->data, o->len, (off_t)o->off);
        set_plain(r, n);
        r->dlen = n > 0 ? (size_t)n : 0;
        close(fd);
        break;
    }
    case OP_STAT:
        set_plain(r, fstatat(g_root, o->p1, &st, o->flags ? AT_SYMLINK_NOFOLLOW : 0));
        if (r->ret == 0)
            r->dlen = plain_stat_fields(&st, r->data);
        break;
    case OP_CHMOD:
        set_plain(r, fchmodat(g_root, o->p1, o->mode, 0));
        break;
    case OP_UTIMES: {
        struct timespec ts[2];
        for (int i = 0; i < 2; i++)
            ts[i] = (struct timespec){o->tv[i].tv_sec, o->tv[i].tv_usec * 1000};
        int fl = o->flags ? AT_SYMLINK_NOFOLLOW : 0;
        set_plain(r, utimensat(g_root, o->p1, ts, fl));
        if (r->ret == 0 && fstatat(g_root, o->p1, &st, fl) == 0) {
            int64_t t[4] = {st.st_atim.tv_sec, st.st_atim.tv_nsec, st.st_mtim.tv_sec,
                            st.st_mtim.tv_nsec};
            memcpy(r->data, t, sizeof(t));
            r->dlen = sizeof(t);
        }
        break;
    }
    case OP_MKDIR:
        set_plain(r, mkdirat(g_root, o->p1, o->mode));
        break;
    case OP_RMDIR:
        set_plain(r, unlinkat(g_root, o->p1, AT_REMOVEDIR));
        break;
    case OP_UNLINK:
        set_plain(r, unlinkat(g_root, o->p1, 0));
        break;
    case OP_RENAME:
        set_plain(r, renameat(g_root, o->p1, g_root, o->p2));
        break;
    case OP_SYMLINK:
        set_plain(r, symlinkat(o->p2, g_root, o->p1));
        break;
    case OP_READLINK: {
        ssize_t n = readlinkat(g_root, o->p1, (char *)r->data, PATH_CAP);
        set_plain(r, n);
        r->dlen = n > 0 ? (size_t)n : 0;
        break;
    }
    case OP_LINK:
        set_plain(r, linkat(g_root, o->p1, g_root, o->p2, AT_SYMLINK_FOLLOW));
        break;
    case OP_MKFIFO:
        set_plain(r, mknodat(g_root, o->p1, S_IFIFO | o->mode, 0));
        break;
    case OP_HOPEN:
        if (s->fd >= 0)
            plain_slot_close(s);
        s->fd = openat(g_root, o->p1, o->flags | O_CLOEXEC, o->mode);
        set_plain(r, s->fd < 0 ? -1 : 0);
        break;
    case OP_HWRITE:
        set_plain(r, (s->flags & O_APPEND) ? write(s->fd, g_wbuf, o->len)
                                           : pwrite(s->fd, g_wbuf, o->len, (off_t)o->off));
        break;
    case OP_HREAD: {
        ssize_t n = pread(s->fd, r->data, o->len, (off_t)o->off);
        set_plain(r, n);
        r->dlen = n > 0 ? (size_t)n : 0;
        break;
    }
    case OP_HTRUNC:
        set_plain(r, ftruncate(s->fd, (off_t)o->off));
        break;
    case OP_HSTAT:
        set_plain(r, fstat(s->fd, &st));
        if (r->ret == 0)
            r->dlen = plain_stat_fields(&st, r->data);
        break;
    case OP_HCLOSE:
        set_plain(r, plain_slot_close(s));
        break;
    }
}

/* ---- choosing operations ------------------------------------------------ */

/* What an operation would rather have: any path, a regular file (through
 * links too), a directory, an empty one, anything but a directory, a
 * symbolic link, an existing entry, or a name that does not exist yet. */
enum { W_ANY, W_FILE, W_DIR, W_EMPTY, W_NONDIR, W_LINK, W_EXISTS, W_NEW };

static const struct stat *rec_stat(const char *path);
static size_t rec_children(const char *dir, char names[][NAME_MAX + 1], size_t cap);

/* The plain side's stat of path (following a link with follow), from the
 * records of the last comparison where they have it, else asked. */
static bool plain_stat(const char *path, struct stat *st, bool follow)
{
    const struct stat *r = rec_stat(path);
    if (r && !(follow && S_ISLNK(r->st_mode))) {
        *st = *r;
        return true;
    }
    return fstatat(g_root, path, st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0;
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
            int fd = openat(g_root, out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    return fstatat(g_root, path, &st, 0) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

/* Modes with and without exec bits, unreadable ones, set-id and sticky
 * bits: the upper directory keeps them all, as a plain one does. */
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

/* An offset and length for a write to a file of size: mostly small,
 * sometimes up to 64 KiB, now and then up to WRITE_MAX; mostly inside or
 * just past the end, often across a 64 KiB boundary, sometimes across
 * 1 MiB, sometimes far out (a hole); never past FILE_CAP. */
static void pick_range(rng *r, uint64_t size, uint64_t *off, uint64_t *len)
{
    uint64_t c = rnd(r, 100);
    *len = c < 60 ? rnd_in(r, 1, 4096) : c < 90 ? rnd_in(r, 1, 64 << 10) : rnd_in(r, 1, WRITE_MAX);
    c = rnd(r, 100);
    if (c < 50) {
        *off = rnd(r, size + 1);
    } else if (c < 72) { /* across a 64 KiB boundary at or below the end */
        uint64_t b = BOUNDARY64 * rnd_in(r, 1, size / BOUNDARY64 + 1);
        *off = b - rnd_in(r, 1, *len < b ? *len : b);
        if (*len == 1)
            *len = 2;
    } else if (c < 85) { /* across 1 MiB */
        *off = BOUNDARY1M - rnd_in(r, 1, *len);
        if (*len == 1)
            *len = 2;
    } else {
        *off = rnd(r, FILE_CAP);
    }
    if (*off + *len > FILE_CAP)
        *off = FILE_CAP - *len;
}

/* Explicit times to the microsecond (utimes' resolution), over the whole
 * 31-bit range. */
static void pick_times(rng *r, struct timeval tv[2])
{
    for (int i = 0; i < 2; i++) {
        tv[i].tv_sec = (time_t)rnd(r, 1u << 31);
        tv[i].tv_usec = (suseconds_t)rnd(r, 1000000);
    }
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

/* Whether an open of path with flags is one libnfs emulates as open(2)
 * behaves (see the top): not of a fifo, not of a directory, not O_CREAT
 * (without O_EXCL) at a symbolic link. Decided on the plain side. */
static bool open_emulated(const char *path, int flags)
{
    struct stat st, lst;
    if ((flags & O_CREAT) && !(flags & O_EXCL) &&
        fstatat(g_root, path, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
        return false;
    return fstatat(g_root, path, &st, 0) != 0 || (!S_ISFIFO(st.st_mode) && !S_ISDIR(st.st_mode));
}

/* Whether a component of path is a symbolic link, on the plain side. */
static bool path_has_link(const char *path)
{
    char p[PATH_CAP];
    snprintf(p, sizeof(p), "%s", path);
    for (char *c = p;; c++) {
        if (*c == '/' || !*c) {
            char was = *c;
            struct stat st;
            *c = '\0';
            if (fstatat(g_root, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return true;
            if (!was)
                return false;
            *c = was;
        }
    }
}

static bool slot_readable(const slot *s)
{
    return (s->flags & O_ACCMODE) != O_WRONLY;
}

static bool slot_writable(const slot *s)
{
    return (s->flags & O_ACCMODE) != O_RDONLY;
}

/* The next operation: its kind, the paths it wants, and its arguments,
 * drawn so that they mostly make sense for what is there (an offset near
 * the file's end, a name free for a mkdir) and sometimes not, for the
 * error paths. One libnfs would not emulate becomes a stat (see the top). */
static void pick_op(rng *r, op *o)
{
    bool any = false;
    for (int s = 0; s < SLOTS; s++)
        any = any || g_slot[s].open;
    memset(o, 0, sizeof(*o));
    o->kind = pick_kind(r, any);
    o->seed = rng_next(r);
    static const int want1[OP_COUNT] = {
        [OP_WRITE] = W_FILE,    [OP_APPEND] = W_FILE, [OP_TRUNCATE] = W_FILE,
        [OP_OTRUNC] = W_FILE,   [OP_STAT] = W_EXISTS, [OP_CHMOD] = W_EXISTS,
        [OP_UTIMES] = W_EXISTS, [OP_EXCL] = W_NEW,    [OP_READ] = W_FILE,
        [OP_MKDIR] = W_NEW,     [OP_RMDIR] = W_EMPTY, [OP_UNLINK] = W_NONDIR,
        [OP_RENAME] = W_EXISTS, [OP_SYMLINK] = W_NEW, [OP_READLINK] = W_LINK,
        [OP_LINK] = W_FILE,     [OP_MKFIFO] = W_NEW,  [OP_HOPEN] = W_FILE,
    };
    int want = want1[o->kind];
    if (o->kind == OP_RMDIR && rnd(r, 2))
        want = W_DIR; /* often not empty: ENOTEMPTY */
    if (o->kind == OP_STAT && rnd(r, 4) == 0)
        want = W_NEW; /* a lookup of a missing name */
    pick_path(r, o->p1, want);
    switch (o->kind) {
    case OP_WRITE:
        o->flags = (rnd(r, 4) == 0 ? O_RDWR : O_WRONLY) | (rnd(r, 3) == 0 ? O_CREAT : 0);
        o->mode = pick_mode(r, false);
        pick_range(r, plain_size(o->p1), &o->off, &o->len);
        break;
    case OP_APPEND:
        o->flags = O_WRONLY | O_APPEND | (rnd(r, 3) == 0 ? O_CREAT : 0);
        o->mode = pick_mode(r, false);
        o->len = rnd(r, 5) ? rnd_in(r, 1, 8192) : rnd_in(r, 1, WRITE_MAX);
        if (plain_size(o->p1) + o->len > FILE_CAP)
            o->len = 0;
        break;
    case OP_OTRUNC:
        o->flags = O_WRONLY | O_TRUNC | (rnd(r, 2) == 0 ? O_CREAT : 0);
        o->mode = pick_mode(r, false);
        o->len = rnd(r, 3) == 0 ? 0 : rnd_in(r, 1, 100000);
        break;
    case OP_EXCL:
        o->flags = O_WRONLY | O_CREAT | O_EXCL;
        o->mode = pick_mode(r, false);
        o->len = rnd(r, 5000);
        break;
    case OP_TRUNCATE: {
        uint64_t c = rnd(r, 3);
        o->off = c == 0   ? rnd(r, plain_size(o->p1) + 1)
                 : c == 1 ? rnd(r, 140 << 10)
                          : rnd(r, FILE_CAP);
        /* libnfs passes the length where its path walk looks for
         * O_NOFOLLOW: with that bit set, a link on the way is ELOOP. */
        if (path_has_link(o->p1))
            o->off &= ~(uint64_t)O_NOFOLLOW;
        break;
    }
    case OP_READ:
        o->off = rnd(r, 2) ? rnd(r, plain_size(o->p1) + 1) : rnd(r, FILE_CAP);
        o->len = rnd(r, 4) ? rnd_in(r, 1, 64 << 10) : rnd_in(r, 1, DATA_CAP);
        break;
    case OP_STAT:
        o->flags = (int)rnd(r, 2);
        break;
    case OP_CHMOD:
        o->mode = pick_mode(r, rnd(r, 2));
        break;
    case OP_UTIMES:
        pick_times(r, o->tv);
        o->flags = rnd(r, 3) == 0;
        break;
    case OP_MKDIR:
        o->mode = pick_mode(r, true);
        break;
    case OP_RENAME:
        pick_path(r, o->p2, rnd(r, 2) ? W_EXISTS : W_NEW);
        break;
    case OP_LINK:
        pick_path(r, o->p2, W_NEW);
        break;
    case OP_SYMLINK:
        gen_target(r, o->p2);
        break;
    case OP_MKFIFO:
        o->mode = pick_mode(r, false) & 0777;
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
        while (!g_slot[s].open)
            s = (s + 1) % SLOTS;
        o->slot = s;
        struct stat st;
        uint64_t size = fstat(g_slot[s].fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        if (o->kind == OP_HWRITE) {
            pick_range(r, size, &o->off, &o->len);
            if ((g_slot[s].flags & O_APPEND) && size + o->len > FILE_CAP)
                o->len = FILE_CAP > size ? FILE_CAP - size : 1;
        } else if (o->kind == OP_HREAD) {
            o->off = rnd(r, size + 1);
            o->len = rnd_in(r, 1, DATA_CAP);
        } else if (o->kind == OP_HTRUNC) {
            o->off = rnd(r, 2) ? rnd(r, size + 1) : rnd(r, FILE_CAP);
        }
        if (((o->kind == OP_HWRITE || o->kind == OP_HTRUNC) && !slot_writable(&g_slot[s])) ||
            (o->kind == OP_HREAD && !slot_readable(&g_slot[s])))
            o->kind = OP_HSTAT;
        snprintf(o->p1, sizeof(o->p1), "%s", g_slot[s].path);
        break;
    }
    }
    bool opens = o->kind == OP_WRITE || o->kind == OP_APPEND || o->kind == OP_OTRUNC ||
                 o->kind == OP_EXCL || o->kind == OP_READ || o->kind == OP_HOPEN;
    if (opens && !open_emulated(o->p1, o->kind == OP_READ ? O_RDONLY : o->flags)) {
        o->kind = OP_STAT;
        o->flags = 0;
    }
}

/* ---- comparing ---------------------------------------------------------- */

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
        fprintf(f, " errno=%d (%s)%s%s%s", r->err, strerror(r->err), r->msg[0] ? " [" : "", r->msg,
                r->msg[0] ? "]" : "");
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

/* ---- comparing the trees -------------------------------------------------
 *
 * After every step both trees are walked whole: every directory listed on
 * both sides (READDIRPLUS on the server: names and attributes at once),
 * every entry's kind, mode, size and link count compared (see the top).
 * Contents and link targets are compared for the entries that may have
 * changed: what the step's operation touched (its paths, the directories
 * it made or removed names in, every name of the inodes involved, before
 * and after), what is new since the last step, and what either side's
 * attributes say changed; and everywhere every FULL_EVERY steps and after
 * the last. */

#define LIST_EVERY 10
#define FULL_EVERY 250

/* The attributes of the server's entries that are compared or watched. */
typedef struct mattr {
    uint64_t ino, mode, nlink, size, mtime, mtime_ns, ctime, ctime_ns;
} mattr;

typedef struct rec {
    char path[PATH_CAP];
    struct stat st; /* plain */
    mattr ma;       /* server */
} rec;

static rec *g_recs[2]; /* [0]: the last walk's, sorted by path; [1]: being built */
static size_t g_nrecs[2], g_caprecs[2];
static ino_t g_touched[32]; /* plain inode numbers the step's operation touched */
static size_t g_ntouched;
static uint64_t g_content_checks, g_listings;
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

/* Everything a change to a plain entry changes (never atime: reading
 * does). */
static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_nlink == b->st_nlink &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static bool same_mattr(const mattr *a, const mattr *b)
{
    return !memcmp(a, b, sizeof(*a));
}

/* Whether the step's operation touched the plain inode ino. */
static bool was_touched(ino_t ino)
{
    for (size_t i = 0; i < g_ntouched; i++)
        if (ino == g_touched[i])
            return true;
    return false;
}

/* Records path as compared, with both sides' attributes, for the next
 * step. */
static void remember(const char *path, const struct stat *st, const mattr *ma)
{
    if (g_nrecs[1] == g_caprecs[1]) {
        g_caprecs[1] = g_caprecs[1] ? 2 * g_caprecs[1] : 256;
        g_recs[1] = realloc(g_recs[1], g_caprecs[1] * sizeof(rec));
        if (!g_recs[1])
            die("out of memory");
    }
    rec *r = &g_recs[1][g_nrecs[1]++];
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->st = *st;
    r->ma = *ma;
}

/* The names in directory dir ("" for the root) as the last comparison
 * found them on the plain side, sorted (its records' paths sort siblings
 * by name); at most cap of them. */
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
    return r ? &r->st : NULL;
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
            fstatat(g_root, paths[i], &st, i == 0 ? AT_SYMLINK_NOFOLLOW : 0) == 0)
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
    case OP_SYMLINK:
    case OP_LINK:
    case OP_MKFIFO:
        return true;
    }
    return false;
}

/* Whether o may change the data of what it touches (and so its mtime,
 * in a way the two sides need not agree on: see the top). */
static bool changes_data(const op *o)
{
    switch (o->kind) {
    case OP_WRITE:
    case OP_APPEND:
    case OP_OTRUNC:
    case OP_EXCL:
    case OP_TRUNCATE:
    case OP_HWRITE:
    case OP_HTRUNC:
        return true;
    case OP_HOPEN:
        return (o->flags & O_TRUNC) != 0;
    }
    return false;
}

/* Notes what o may change, called before and after it, so that the
 * inodes it removes or replaces count as much as the ones it leaves. */
static void touch_op(const op *o)
{
    bool names = changes_names(o);
    if (o->kind < OP_HWRITE)
        touch(o->p1, names);
    if (o->kind == OP_RENAME || o->kind == OP_LINK)
        touch(o->p2, names);
    struct stat st;
    if (o->kind >= OP_HOPEN && g_slot[o->slot].fd >= 0 && fstat(g_slot[o->slot].fd, &st) == 0 &&
        g_ntouched < 32)
        g_touched[g_ntouched++] = st.st_ino;
}

/* ---- explicitly set modification times -----------------------------------
 * Plain inode -> the mtime utimes set. While the plain side still shows
 * that time, the server must show it too. */

typedef struct mtrec {
    uint64_t ino;
    int64_t sec, nsec;
} mtrec;

static mtrec *g_mt;
static size_t g_nmt, g_capmt;
static uint64_t g_mt_checks;

static mtrec *mt_find(uint64_t ino)
{
    for (size_t i = 0; i < g_nmt; i++)
        if (g_mt[i].ino == ino)
            return &g_mt[i];
    return NULL;
}

static void mt_drop(uint64_t ino)
{
    mtrec *m = mt_find(ino);
    if (m)
        *m = g_mt[--g_nmt];
}

static void mt_set(uint64_t ino, int64_t sec, int64_t nsec)
{
    mtrec *m = mt_find(ino);
    if (!m) {
        if (g_nmt == g_capmt) {
            g_capmt = g_capmt ? 2 * g_capmt : 64;
            g_mt = realloc(g_mt, g_capmt * sizeof(*g_mt));
            if (!g_mt)
                die("out of memory");
        }
        m = &g_mt[g_nmt++];
    }
    *m = (mtrec){ino, sec, nsec};
}

static void mt_load(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return; /* none yet */
    unsigned long long ino;
    long long sec, nsec;
    while (fscanf(f, "%llu %lld %lld", &ino, &sec, &nsec) == 3)
        mt_set(ino, sec, nsec);
    fclose(f);
}

static void mt_save(const char *file)
{
    FILE *f = fopen(file, "w");
    if (!f)
        die("open %s", file);
    for (size_t i = 0; i < g_nmt; i++)
        fprintf(f, "%" PRIu64 " %" PRId64 " %" PRId64 "\n", g_mt[i].ino, g_mt[i].sec, g_mt[i].nsec);
    if (fclose(f) != 0)
        die("write %s", file);
}

/* ---- reading whole files and listings ----------------------------------- */

static unsigned char g_fbuf[2][FILE_CAP * 2];

/* A whole regular file (no larger than cap) into buf, through libnfs. */
static long nfs_read_whole(const char *path, unsigned char *buf, size_t cap)
{
    char p[PATH_MAX];
    struct nfsfh *fh = NULL;
    int rc = nfs_open(g_nfs, npath(path, p), O_RDONLY, &fh);
    if (rc < 0)
        return rc;
    size_t got = 0;
    while (got < cap) {
        size_t want = cap - got < (1u << 20) ? cap - got : (1u << 20);
        int n = nfs_pread(g_nfs, fh, got, want, buf + got);
        if (n < 0) {
            nfs_close(g_nfs, fh);
            return n;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    nfs_close(g_nfs, fh);
    return (long)got;
}

static long plain_read_whole(const char *path, unsigned char *buf, size_t cap)
{
    int fd = openat(g_root, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return (long)got;
}

/* An entry of a server listing. */
typedef struct ment {
    char name[NAME_MAX + 1];
    mattr ma;
} ment;

static int cmp_ments(const void *a, const void *b)
{
    return strcmp(((const ment *)a)->name, ((const ment *)b)->name);
}

/* The server's listing of directory rel ("" for the root), sorted by
 * name, with the attributes READDIRPLUS brought. */
static bool nfs_list(const char *rel, ment *out, size_t *n)
{
    char p[PATH_MAX];
    struct nfsdir *d = NULL;
    int rc = nfs_opendir(g_nfs, npath(rel, p), &d);
    if (rc < 0) {
        why("nfs: cannot list \"%s\": %s", rel, strerror(-rc));
        return false;
    }
    *n = 0;
    struct nfsdirent *e;
    while ((e = nfs_readdir(g_nfs, d))) {
        if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
            continue;
        if (*n == NAMES_CAP) {
            why("nfs: \"%s\" lists more than %d names", rel, NAMES_CAP);
            nfs_closedir(g_nfs, d);
            return false;
        }
        ment *m = &out[(*n)++];
        snprintf(m->name, sizeof(m->name), "%s", e->name);
        m->ma = (mattr){e->inode,
                        e->mode,
                        e->nlink,
                        e->size,
                        (uint64_t)e->mtime.tv_sec,
                        e->mtime_nsec,
                        (uint64_t)e->ctime.tv_sec,
                        e->ctime_nsec};
    }
    nfs_closedir(g_nfs, d);
    qsort(out, *n, sizeof(*out), cmp_ments);
    return true;
}

/* Compares what may have changed of one entry: file content byte for
 * byte, or the link target. */
static bool entry_equal(const char *path, mode_t mode)
{
    g_content_checks++;
    if (S_ISREG(mode)) {
        long got[2];
        got[MNT] = nfs_read_whole(path, g_fbuf[MNT], sizeof(g_fbuf[MNT]));
        got[PLAIN] = plain_read_whole(path, g_fbuf[PLAIN], sizeof(g_fbuf[PLAIN]));
        if (got[0] < 0 || got[1] < 0 || got[0] != got[1] ||
            memcmp(g_fbuf[0], g_fbuf[1], (size_t)got[0])) {
            long k = 0;
            while (k < got[0] && k < got[1] && g_fbuf[0][k] == g_fbuf[1][k])
                k++;
            why("\"%s\": content: nfs read %ld bytes, plain %ld (negative: -errno); first "
                "difference at byte %ld",
                path, got[0], got[1], k);
            return false;
        }
    } else if (S_ISLNK(mode)) {
        char p[PATH_MAX], t[PATH_MAX], *nt = NULL;
        int rc = nfs_readlink2(g_nfs, npath(path, p), &nt);
        ssize_t tl = readlinkat(g_root, path, t, sizeof(t) - 1);
        t[tl < 0 ? 0 : tl] = '\0';
        bool ok = rc == 0 && nt && tl >= 0 && !strcmp(nt, t);
        if (!ok)
            why("\"%s\": link target: nfs \"%s\" (%d), plain \"%s\"", path, nt ? nt : "", rc, t);
        free(nt);
        return ok;
    }
    return true;
}

/* How much a comparison compares: after a step, the directories where the
 * plain side changed; every LIST_EVERY steps every directory's listing;
 * every FULL_EVERY steps that and every file's content and link's target. */
enum { CMP_CHANGED, CMP_NAMES, CMP_FULL };

/* Whether the plain entry at path, now st, may have changed since the
 * last comparison: the step touched it, or its stat is not the same. */
static bool plain_changed(const char *path, const struct stat *st)
{
    if (was_touched(st->st_ino))
        return true;
    const rec *old = rec_find(path);
    return !old || !same_stat(&old->st, st);
}

/* Compares the attributes both sides must agree on of the entry at path
 * (see the top), and its explicitly set mtime. */
static bool attrs_equal(const char *path, const struct stat *st, const mattr *ma)
{
    uint64_t m0 = ma->mode & (S_IFMT | 07777), m1 = st->st_mode & (S_IFMT | 07777);
    if (m0 != m1) {
        why("\"%s\": mode: nfs %06" PRIo64 ", plain %06" PRIo64, path, m0, m1);
        return false;
    }
    if (!S_ISDIR(m1) && ma->nlink != (uint64_t)st->st_nlink) {
        why("\"%s\": nlink: nfs %" PRIu64 ", plain %ju", path, ma->nlink, (uintmax_t)st->st_nlink);
        return false;
    }
    if ((S_ISREG(m1) || S_ISLNK(m1)) && ma->size != (uint64_t)st->st_size) {
        why("\"%s\": size: nfs %" PRIu64 ", plain %jd", path, ma->size, (intmax_t)st->st_size);
        return false;
    }
    mtrec *mt = mt_find(st->st_ino);
    if (mt && (mt->sec != st->st_mtim.tv_sec || mt->nsec != st->st_mtim.tv_nsec)) {
        mt_drop(st->st_ino); /* changed since: no longer an explicit time */
    } else if (mt) {
        g_mt_checks++;
        if ((int64_t)ma->mtime != mt->sec || (int64_t)ma->mtime_ns != mt->nsec) {
            why("\"%s\": mtime (set explicitly): nfs %" PRIu64 ".%09" PRIu64 ", plain %lld.%09ld",
                path, ma->mtime, ma->mtime_ns, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
            return false;
        }
    }
    return true;
}

/* Compares the trees under directory rel (the root: ""), which changed on
 * the plain side when changed: see above. A directory is listed on the
 * server when the level says so, or when it or one of its entries
 * changed on the plain side; otherwise its entries keep the server's
 * attributes of the last listing, which were compared then. */
static bool tree_equal(const char *rel, unsigned depth, int level, bool changed)
{
    /* Listings, one set per depth, kept: every step walks the tree. */
    static char(*lists[PATH_CAP])[NAME_MAX + 1];
    static ment *mlists[PATH_CAP];
    static struct stat *slists[PATH_CAP];
    if (depth >= PATH_CAP)
        die("tree too deep at %s", rel);
    if ((!lists[depth] && !(lists[depth] = malloc(NAMES_CAP * sizeof(*lists[depth])))) ||
        (!mlists[depth] && !(mlists[depth] = malloc(NAMES_CAP * sizeof(ment)))) ||
        (!slists[depth] && !(slists[depth] = malloc(NAMES_CAP * sizeof(struct stat)))))
        die("out of memory");
    char(*names)[NAME_MAX + 1] = lists[depth];
    ment *ments = mlists[depth];
    struct stat *sts = slists[depth];
    int fd = openat(g_root, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        why("plain: cannot open directory \"%s\": %s", rel, strerror(errno));
        return false;
    }
    size_t n = list_names(fd, names), mn = 0;
    bool list = level >= CMP_NAMES || changed;
    char paths[NAMES_CAP][PATH_CAP];
    for (size_t i = 0; i < n; i++) {
        snprintf(paths[i], PATH_CAP, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        if (fstatat(g_root, paths[i], &sts[i], AT_SYMLINK_NOFOLLOW) != 0) {
            why("\"%s\": plain: lstat: %s", paths[i], strerror(errno));
            return false;
        }
        list = list || plain_changed(paths[i], &sts[i]);
    }
    if (list) {
        g_listings++;
        if (!nfs_list(rel, ments, &mn))
            return false;
        for (size_t i = 0; i < n || i < mn; i++) {
            if (i >= n || i >= mn || strcmp(names[i], ments[i].name)) {
                bool only_nfs = i >= n || (i < mn && strcmp(ments[i].name, names[i]) < 0);
                why("\"%s%s%s\": only in %s", rel, *rel ? "/" : "",
                    only_nfs ? ments[i].name : names[i],
                    only_nfs ? "the server's tree" : "the plain tree");
                return false;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *path = paths[i];
        const struct stat *st = &sts[i];
        g_entries++;
        const rec *old = rec_find(path);
        bool pchanged = plain_changed(path, st);
        mattr ma = list ? ments[i].ma : old->ma; /* not listed: unchanged, so recorded */
        if (!attrs_equal(path, st, &ma))
            return false;
        bool dirty = level == CMP_FULL || pchanged || !old || !same_mattr(&old->ma, &ma);
        remember(path, st, &ma);
        if (dirty && !entry_equal(path, st->st_mode))
            return false;
        if (S_ISDIR(st->st_mode) && !tree_equal(path, depth + 1, level, pchanged))
            return false;
    }
    return true;
}

/* One comparison of the whole trees, as far as level says. */
static bool trees_equal(int level)
{
    g_entries = 0;
    g_nrecs[1] = 0;
    struct stat st;
    mattr none = {0};
    if (fstatat(g_root, ".", &st, 0) != 0)
        die("stat %s", g_rootpath);
    bool changed = plain_changed(".", &st);
    remember(".", &st, &none);
    bool ok = tree_equal("", 0, level, changed);
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

/* ---- running ------------------------------------------------------------ */

#define HISTORY 40

static uint64_t g_by_kind[OP_COUNT][2]; /* failed, succeeded (alike on both sides) */

/* One operation as a line of tab-separated fields, for --dump and replay. */
static void op_dump(FILE *f, const op *o)
{
    fprintf(f,
            "%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%o\t%d\t%d\t%lld\t%ld\t%lld\t%ld\n",
            OP_NAMES[o->kind], o->p1, o->p2, o->off, o->len, o->seed, o->mode, o->flags, o->slot,
            (long long)o->tv[0].tv_sec, (long)o->tv[0].tv_usec, (long long)o->tv[1].tv_sec,
            (long)o->tv[1].tv_usec);
}

/* The inverse of op_dump; false for a line that is not one. */
static bool op_parse(char *line, op *o)
{
    char *f[13];
    line[strcspn(line, "\n")] = '\0';
    for (int i = 0; i < 13; i++)
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
    o->tv[0] = (struct timeval){strtoll(f[9], NULL, 10), strtol(f[10], NULL, 10)};
    o->tv[1] = (struct timeval){strtoll(f[11], NULL, 10), strtol(f[12], NULL, 10)};
    if (o->kind < 0 || o->slot < 0 || o->slot >= SLOTS || o->len > WRITE_MAX + DATA_CAP)
        return false;
    /* A slot's operation needs the slot open (a dump cut in the middle). */
    return o->kind <= OP_HOPEN || g_slot[o->slot].open;
}

/* After a step: a held file that lost its last link is closed on both
 * sides (see the top), and the slots follow what the step opened and
 * closed. Returns a note for the history, or NULL. */
static const char *after_step(const op *o, const res *rs)
{
    static char note[256];
    note[0] = '\0';
    slot *s = &g_slot[o->slot];
    if (o->kind == OP_HOPEN) {
        s->open = rs[PLAIN].ret == 0;
        if (s->open) {
            s->flags = o->flags;
            snprintf(s->path, sizeof(s->path), "%s", o->p1);
        } else {
            nfs_slot_close(s);
            plain_slot_close(s);
        }
    } else if (o->kind == OP_HCLOSE) {
        s->open = false;
    }
    for (int i = 0; i < SLOTS; i++) {
        struct stat st;
        if (g_slot[i].open && fstat(g_slot[i].fd, &st) == 0 && st.st_nlink == 0) {
            nfs_slot_close(&g_slot[i]);
            plain_slot_close(&g_slot[i]);
            g_slot[i].open = false;
            size_t l = strlen(note);
            snprintf(note + l, sizeof(note) - l,
                     "%sslot %d's file lost its last link: closed on both sides", l ? "; " : "", i);
        }
    }
    return note[0] ? note : NULL;
}

/* Opens the plain root and the server, and sets the process up: umask 0
 * (see the top), slots closed. */
static void setup(const char *url, const char *plain)
{
    umask(0);
    g_out = stdout;
    g_rootpath = plain;
    g_root = open(plain, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (g_root < 0)
        die("open %s", plain);
    for (int i = 0; i < SLOTS; i++)
        g_slot[i] = (slot){.fd = -1};
    nfs_connect(url);
}

static void teardown(void)
{
    for (int i = 0; i < SLOTS; i++) {
        nfs_slot_close(&g_slot[i]);
        plain_slot_close(&g_slot[i]);
    }
    nfs_destroy_context(g_nfs);
    close(g_root);
    free(g_recs[0]);
    free(g_recs[1]);
    free(g_mt);
}

/* Runs the operations, from the generator (seeded) or from a dump (one
 * per line), on the server and PLAIN; see the top of the file. */
static int run_diff(uint64_t count, uint64_t seed, FILE *from, FILE *dump, bool verbose,
                    const char *mtimes)
{
    static char history[HISTORY][PATH_CAP * 4];
    static res rs[2];
    if (mtimes)
        mt_load(mtimes);
    rng r;
    rng_seed(&r, seed);
    struct timeval t0;
    gettimeofday(&t0, NULL);
    uint64_t fails[2] = {0, 0}; /* steps that failed / succeeded, for the summary */
    uint64_t step = 0;
    const char *stage = "before the first step";
    bool ok = trees_equal(CMP_FULL);
    char desc[PATH_CAP * 4] = "";
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
        fill_bytes(o.seed, g_wbuf, o.len < DATA_CAP ? o.len : DATA_CAP);
        g_why[0] = '\0';
        touch_op(&o);
        apply_nfs(&o, &rs[MNT]);
        apply_plain(&o, &rs[PLAIN]);
        /* What failed, or only looked, changed nothing (on the plain side;
         * a change on the server's shows in its attributes, or in the next
         * full comparison). */
        if (rs[PLAIN].ret < 0 || changes_nothing(&o))
            g_ntouched = 0;
        else
            touch_op(&o);
        if (rs[PLAIN].ret >= 0 && changes_data(&o))
            for (size_t i = 0; i < g_ntouched; i++)
                mt_drop(g_touched[i]);
        if (o.kind == OP_UTIMES && rs[PLAIN].ret == 0 && rs[PLAIN].dlen) {
            struct stat st;
            if (fstatat(g_root, o.p1, &st, o.flags ? AT_SYMLINK_NOFOLLOW : 0) == 0)
                mt_set(st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        }
        fails[rs[PLAIN].ret >= 0]++;
        g_by_kind[o.kind][rs[PLAIN].ret >= 0]++;
        if (!res_equal(&rs[MNT], &rs[PLAIN])) {
            stage = "the operation's results differ";
            ok = false;
            break;
        }
        const char *note = after_step(&o, rs);
        if (note) {
            size_t l = strlen(history[step % HISTORY]);
            snprintf(history[step % HISTORY] + l, sizeof(history[0]) - l, " [%s]", note);
            if (verbose)
                fprintf(g_out, "  %s\n", note);
        }
        struct timespec ta, tb;
        clock_gettime(CLOCK_MONOTONIC, &ta);
        int level = (step + 1) % FULL_EVERY == 0 || step + 1 == count ? CMP_FULL
                    : (step + 1) % LIST_EVERY == 0                    ? CMP_NAMES
                                                                      : CMP_CHANGED;
        bool teq = trees_equal(level);
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
        if (mtimes)
            mt_save(mtimes);
        fprintf(g_out,
                "seed %" PRIu64 ": %" PRIu64 " operations (%" PRIu64 " succeeded, %" PRIu64
                " failed alike), trees equal after each; %zu entries at the end; %.1f s\n",
                seed, step, fails[1], fails[0], g_entries, secs);
        fprintf(g_out,
                "  %.1f s of it comparing: %" PRIu64 " server listings, %" PRIu64
                " contents or link targets, %" PRIu64 " explicit mtimes (%zu held at the end)\n",
                g_tcmp, g_listings, g_content_checks, g_mt_checks, g_nmt);
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
                "  replay on fresh copies: strata-nfsops diff URL PLAIN %" PRIu64 " %" PRIu64
                " -v [--dump FILE]\n",
                step + 1, seed);
    return 1;
}

/* diff URL PLAIN COUNT SEED [-v] [--dump FILE] [--mtimes FILE] */
static int cmd_diff(int argc, char **argv)
{
    uint64_t count, seed;
    if (!parse_u64(argv[2], &count) || !parse_u64(argv[3], &seed))
        die("bad COUNT or SEED: %s %s", argv[2], argv[3]);
    bool verbose = false;
    FILE *dump = NULL;
    const char *mtimes = NULL;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            verbose = true;
        } else if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
            if (!(dump = fopen(argv[++i], "w")))
                die("open %s", argv[i]);
        } else if (!strcmp(argv[i], "--mtimes") && i + 1 < argc) {
            mtimes = argv[++i];
        } else {
            errno = 0;
            die("unknown option %s", argv[i]);
        }
    }
    setup(argv[0], argv[1]);
    int rc = run_diff(count, seed, NULL, dump, verbose, mtimes);
    if (dump)
        fclose(dump);
    teardown();
    return rc;
}

/* replay URL PLAIN FILE [-v]: a dump's operations, in order. */
static int cmd_replay(int argc, char **argv)
{
    FILE *from = fopen(argv[2], "r");
    if (!from)
        die("open %s", argv[2]);
    setup(argv[0], argv[1]);
    int rc = run_diff(UINT64_MAX, 0, from, NULL, argc > 3 && !strcmp(argv[3], "-v"), NULL);
    fclose(from);
    teardown();
    return rc;
}

/* Appends the paths of the fifos under rel on the plain side to out. */
static void find_fifos(const char *rel, char (*out)[PATH_CAP], size_t *n, size_t cap)
{
    char names[NAMES_CAP][NAME_MAX + 1];
    int fd = openat(g_root, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t k = list_names(fd, names);
    for (size_t i = 0; i < k; i++) {
        char path[PATH_CAP];
        struct stat st;
        snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", names[i]);
        if (fstatat(g_root, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISFIFO(st.st_mode) && *n < cap)
            snprintf(out[(*n)++], PATH_CAP, "%s", path);
        else if (S_ISDIR(st.st_mode))
            find_fifos(path, out, n, cap);
    }
}

/* unfifo URL PLAIN: every fifo unlinked on both sides, alike, then the
 * trees compared in full. */
static int cmd_unfifo(char **argv)
{
    static char fifos[1024][PATH_CAP];
    static res rs[2];
    size_t n = 0;
    setup(argv[0], argv[1]);
    find_fifos("", fifos, &n, 1024);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        op o = {.kind = OP_UNLINK};
        snprintf(o.p1, sizeof(o.p1), "%.*s", PATH_CAP - 1, fifos[i]);
        apply_nfs(&o, &rs[MNT]);
        apply_plain(&o, &rs[PLAIN]);
        if (!res_equal(&rs[MNT], &rs[PLAIN])) {
            fprintf(g_out, "MISMATCH unlinking the fifo \"%s\"\n", o.p1);
            print_res(g_out, MNT, &rs[MNT]);
            print_res(g_out, PLAIN, &rs[PLAIN]);
            rc = 1;
        }
    }
    if (rc == 0 && !trees_equal(CMP_FULL)) {
        fprintf(g_out, "MISMATCH after unlinking %zu fifos: %s\n", n, g_why);
        rc = 1;
    }
    if (rc == 0)
        fprintf(g_out, "%zu fifos unlinked on both sides; trees equal\n", n);
    teardown();
    return rc;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: strata-nfsops diff URL PLAIN COUNT SEED [-v] [--dump FILE] [--mtimes FILE]\n"
            "       strata-nfsops replay URL PLAIN FILE [-v]\n"
            "       strata-nfsops unfifo URL PLAIN\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "diff"))
        return cmd_diff(argc - 2, argv + 2);
    if (argc >= 5 && !strcmp(argv[1], "replay"))
        return cmd_replay(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "unfifo"))
        return cmd_unfifo(argv + 2);
    return usage();
}
