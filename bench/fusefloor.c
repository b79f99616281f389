/* strata-fusefloor: the floor of the FUSE transport, for bench/run. A
 * minimal low-level libfuse3 filesystem that shows SRCDIR at MOUNTPOINT
 * with every lever PERF-NOTES.md lists and nothing else to do: infinite
 * entry and attribute timeouts, keep_cache (through no-open),
 * readdirplus for every listing, no OPEN and no OPENDIR (answered ENOSYS
 * with FUSE_CAP_NO_OPEN{,DIR}_SUPPORT), reads and writes of up to 1 MiB.
 * Whatever strata's FUSE server costs beyond this is strata's.
 *
 *   strata-fusefloor [-f] [-p] [-t THREADS] [-u UPPER [-W] [-x]] SRCDIR MOUNTPOINT
 *
 * It mounts, then goes to the background (unless -f) once the mount
 * exists, so the command returns with the mount ready, as `strata mount`
 * does; `umount MOUNTPOINT` (or fusermount3 -u) ends it. THREADS 1 (the
 * default) is libfuse's single-threaded loop, the fastest for one client
 * on 2 cores (PERF-NOTES.md); more uses the multi-threaded loop.
 *
 * The tree's metadata is read lazily, one directory at a time on its
 * first LOOKUP or READDIRPLUS (or all of it before mounting, with -p),
 * and kept in memory for the life of the mount (the source must not
 * change meanwhile: it is a lower layer). A READ is a pread of the
 * source file, which sits in the page cache as strata's store does. Node
 * ids are the addresses of the nodes, which are never freed, so FORGET
 * has nothing to do.
 *
 * Without -u the mount is read-only. With -u, new files and directories
 * go to the directory UPPER, at the same paths, as a sandbox's writes go
 * to its upper directory: CREATE, MKDIR, WRITE and SETATTR of what was
 * created there (lower entries stay read-only: no copy-up, and no
 * removal or rename, which the benchmark's writes do not need). The
 * last FLOOR_FDS files opened (created, or reopened to be written) keep
 * their descriptors, so a WRITE is one pwrite. Extended attributes are
 * answered ENOSYS, after which the kernel stops asking for the
 * `security.capability` it looks up before every write(2). Two levers can be put back for measuring
 * them: -x answers GETXATTR with ENODATA instead (as a server with
 * extended attributes must, so every write(2) costs a round trip more),
 * and -W turns on the kernel's writeback cache.
 *
 * It links libfuse3 directly: it is a benchmark tool, not part of strata
 * (src/ loads libfuse with dlopen). */
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* "Infinite": the kernel keeps entries and attributes for a year. */
#define FLOOR_TIMEOUT (365.0 * 86400.0)
#define FLOOR_MAX_IO  (1u << 20)
/* Created files whose descriptors stay open: the last ones written. */
#define FLOOR_FDS 1024

typedef struct node node;
struct node {
    node *parent;
    char *path; /* relative to the source root, "." for the root */
    struct stat st;
    /* directories: children, filled on first use */
    int scanned;
    size_t nkids, capkids;
    node **kids;
    /* the hash chain of (parent, name) */
    node *next;
    const char *name;
    uint64_t hash;
    /* with -u: the entry exists in the upper directory (a directory made
     * there, or one of the lower ones a new entry needed), or was created
     * there; a created file's descriptor while it is one of the last
     * FLOOR_FDS opened (-1 otherwise), used under the lock */
    int upper, created;
    int fd;
};

static struct {
    int rootfd, upperfd; /* upperfd -1: read-only */
    int writeback, xattr_enodata;
    node root;
    pthread_mutex_t lock;
    node **buckets;
    size_t nbuckets, nnodes;
    node *open[FLOOR_FDS]; /* the files holding descriptors, a ring */
    size_t next_open;
} fl = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t name_hash(const node *parent, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(uintptr_t)parent;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

static node *node_of(fuse_ino_t ino)
{
    return ino == FUSE_ROOT_ID ? &fl.root : (node *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(node *n)
{
    return n == &fl.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static void hash_grow(void)
{
    size_t nb = fl.nbuckets ? fl.nbuckets * 2 : 1024;
    node **b = calloc(nb, sizeof(*b));
    if (!b)
        abort();
    for (size_t i = 0; i < fl.nbuckets; i++) {
        for (node *n = fl.buckets[i], *next; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    }
    free(fl.buckets);
    fl.buckets = b;
    fl.nbuckets = nb;
}

/* Adds the entry NAME of directory d, with attributes st. Called locked. */
static node *add_node(node *d, const char *name, const struct stat *st)
{
    node *n = calloc(1, sizeof(*n));
    size_t plen = strcmp(d->path, ".") == 0 ? 0 : strlen(d->path), nlen = strlen(name);
    if (!n || !(n->path = malloc(plen + 1 + nlen + 1)))
        abort();
    if (plen) {
        memcpy(n->path, d->path, plen);
        n->path[plen] = '/';
        memcpy(n->path + plen + 1, name, nlen + 1);
        n->name = n->path + plen + 1;
    } else {
        memcpy(n->path, name, nlen + 1);
        n->name = n->path;
    }
    n->st = *st;
    n->fd = -1;
    n->parent = d;
    if (d->nkids == d->capkids) {
        d->capkids = d->capkids ? d->capkids * 2 : 16;
        node **k = realloc(d->kids, d->capkids * sizeof(*k));
        if (!k)
            abort();
        d->kids = k;
    }
    d->kids[d->nkids++] = n;
    if (fl.nnodes + 1 > fl.nbuckets)
        hash_grow();
    n->hash = name_hash(d, n->name);
    n->next = fl.buckets[n->hash & (fl.nbuckets - 1)];
    fl.buckets[n->hash & (fl.nbuckets - 1)] = n;
    fl.nnodes++;
    return n;
}

/* Reads directory d's entries from the source, once. Called locked. */
static int scan(node *d)
{
    if (d->scanned)
        return 0;
    int fd = openat(fl.rootfd, d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (!dir) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return err;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        add_node(d, de->d_name, &st);
    }
    closedir(dir);
    d->scanned = 1;
    return 0;
}

/* -p: every directory read before the mount, for workloads whose mount
 * is not timed (so the floor's own reads of the source are not either). */
static void preload(node *d)
{
    if (scan(d) != 0)
        return;
    for (size_t i = 0; i < d->nkids; i++) {
        if (S_ISDIR(d->kids[i]->st.st_mode))
            preload(d->kids[i]);
    }
}

static int find(node *d, const char *name, node **out)
{
    int err = scan(d);
    if (err)
        return err;
    if (!fl.nbuckets)
        return ENOENT;
    uint64_t h = name_hash(d, name);
    for (node *n = fl.buckets[h & (fl.nbuckets - 1)]; n; n = n->next) {
        if (n->hash == h && n->parent == d && strcmp(n->name, name) == 0) {
            *out = n;
            return 0;
        }
    }
    return ENOENT;
}

/* n's attributes: what was read of a lower entry; those of an entry
 * created in the upper directory change as it is written. */
static int node_stat(node *n, struct stat *st)
{
    if (n->created)
        return fstatat(fl.upperfd, n->path, st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
    *st = n->st;
    return 0;
}

static void fill_entry(node *n, struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = ino_of(n);
    if (node_stat(n, &e->attr) != 0)
        e->attr = n->st;
    e->attr_timeout = e->entry_timeout = FLOOR_TIMEOUT;
}

static void ff_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    unsigned want[] = {FUSE_CAP_READDIRPLUS,        FUSE_CAP_NO_OPEN_SUPPORT,
                       FUSE_CAP_NO_OPENDIR_SUPPORT, FUSE_CAP_CACHE_SYMLINKS,
                       FUSE_CAP_ASYNC_READ,         FUSE_CAP_PARALLEL_DIROPS};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (conn->capable & want[i])
            conn->want |= want[i];
    }
    /* Every listing is a READDIRPLUS, not only the first. */
    conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
    /* Without OPEN, O_TRUNC can only come as a SETATTR of the size. */
    conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
    if (fl.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
        conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    conn->max_write = FLOOR_MAX_IO; /* also the kernel's max_pages */
    conn->max_background = 64;
    conn->congestion_threshold = 48;
}

static void ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    node *n = NULL;
    pthread_mutex_lock(&fl.lock);
    int err = find(node_of(parent), name, &n);
    pthread_mutex_unlock(&fl.lock);
    if (err) {
        /* The source never changes: a missing name stays missing. */
        struct fuse_entry_param e = {.entry_timeout = FLOOR_TIMEOUT};
        if (err == ENOENT)
            fuse_reply_entry(req, &e);
        else
            fuse_reply_err(req, err);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(n, &e);
    fuse_reply_entry(req, &e);
}

static void ff_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    (void)ino;
    (void)nlookup;
    fuse_reply_none(req);
}

static void ff_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    (void)count;
    (void)forgets;
    fuse_reply_none(req);
}

static void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    node *n = node_of(ino);
    struct stat st;
    int err = node_stat(n, &st);
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    if (n == &fl.root)
        st.st_ino = FUSE_ROOT_ID;
    fuse_reply_attr(req, &st, FLOOR_TIMEOUT);
}

static void ff_readlink(fuse_req_t req, fuse_ino_t ino)
{
    char buf[PATH_MAX + 1];
    ssize_t len = readlinkat(fl.rootfd, node_of(ino)->path, buf, sizeof(buf) - 1);
    if (len < 0) {
        fuse_reply_err(req, errno);
        return;
    }
    buf[len] = '\0';
    fuse_reply_readlink(req, buf);
}

/* No OPEN and no OPENDIR: the kernel then opens by itself, with
 * keep_cache (and cached listings) for every file. */
static void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, ENOSYS);
}

static void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)fi;
    static _Thread_local char *buf;
    if (!buf && !(buf = malloc(FLOOR_MAX_IO))) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (size > FLOOR_MAX_IO)
        size = FLOOR_MAX_IO;
    node *n = node_of(ino);
    int fd = openat(n->created ? fl.upperfd : fl.rootfd, n->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fuse_reply_err(req, errno);
        return;
    }
    ssize_t got = pread(fd, buf, size, off);
    int err = errno;
    close(fd);
    if (got < 0)
        fuse_reply_err(req, err);
    else
        fuse_reply_buf(req, buf, (size_t)got);
}

/* ---- writes (-u) ---------------------------------------------------- */

/* Makes directory d exist in the upper directory, as a sandbox makes the
 * lower directories that new entries go into. Called locked. */
static int upper_dir(node *d)
{
    if (d->upper)
        return 0;
    int err = d->parent ? upper_dir(d->parent) : 0;
    if (err)
        return err;
    if (mkdirat(fl.upperfd, d->path, d->st.st_mode & 07777) < 0 && errno != EEXIST)
        return errno;
    d->upper = 1;
    return 0;
}

/* Gives created file n its descriptor fd, closing the one opened longest
 * ago when FLOOR_FDS are open: a floor that kept one per file would run
 * out (cp -r of 20k files). Called locked. */
static void keep_fd(node *n, int fd)
{
    node **slot = &fl.open[fl.next_open];
    if (*slot) {
        close((*slot)->fd);
        (*slot)->fd = -1;
    }
    *slot = n;
    n->fd = fd;
    fl.next_open = (fl.next_open + 1) % FLOOR_FDS;
}

/* Created file n's descriptor, reopened if it was given up. Called locked. */
static int node_fd(node *n)
{
    if (n->fd < 0 && n->created && S_ISREG(n->st.st_mode)) {
        int fd = openat(fl.upperfd, n->path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        keep_fd(n, fd);
    }
    return n->fd >= 0 ? n->fd : -EROFS; /* a lower file: no copy-up here */
}

/* The entry NAME of directory parent, made new in the upper directory: a
 * file, created and kept open, for CREATE (fi given), else a directory. */
static void make_entry(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                       struct fuse_file_info *fi)
{
    if (fl.upperfd < 0) {
        fuse_reply_err(req, EROFS);
        return;
    }
    node *d = node_of(parent), *n = NULL;
    pthread_mutex_lock(&fl.lock);
    int err = find(d, name, &n);
    if (err == 0)
        err = EEXIST;
    else if (err == ENOENT)
        err = upper_dir(d);
    char path[PATH_MAX];
    if (!err && snprintf(path, sizeof(path), "%s/%s", d->path, name) >= (int)sizeof(path))
        err = ENAMETOOLONG;
    int fd = -1;
    struct stat st;
    if (!err) {
        if (fi)
            fd = openat(fl.upperfd, path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
        if (fi ? fd < 0 : mkdirat(fl.upperfd, path, mode) < 0)
            err = errno;
        else if (fi ? fstat(fd, &st) < 0 : fstatat(fl.upperfd, path, &st, 0) < 0)
            err = errno;
    }
    if (!err) {
        n = add_node(d, name, &st);
        n->upper = n->created = 1;
        n->scanned = 1; /* a new directory is empty, and has no lower */
        if (fd >= 0)
            keep_fd(n, fd);
    } else if (fd >= 0) {
        close(fd);
    }
    pthread_mutex_unlock(&fl.lock);
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(n, &e);
    if (fi) {
        fi->fh = 0; /* writes name the inode, which holds the descriptor */
        fuse_reply_create(req, &e, fi);
    } else {
        fuse_reply_entry(req, &e);
    }
}

static void ff_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    make_entry(req, parent, name, mode, fi);
}

static void ff_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    make_entry(req, parent, name, mode, NULL);
}

static void ff_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)fi;
    pthread_mutex_lock(&fl.lock);
    int fd = node_fd(node_of(ino));
    ssize_t done = fd < 0 ? fd : pwrite(fd, buf, size, off);
    int err = fd < 0 ? -fd : errno;
    pthread_mutex_unlock(&fl.lock);
    if (done < 0)
        fuse_reply_err(req, err);
    else
        fuse_reply_write(req, (size_t)done);
}

static int truncate_at(const char *path, off_t size)
{
    int fd = openat(fl.upperfd, path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = ftruncate(fd, size), err = errno;
    close(fd);
    errno = err;
    return r;
}

/* Of entries made in the upper directory only: the lower never changes. */
static void ff_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    (void)fi;
    node *n = node_of(ino);
    if (!n->created) {
        fuse_reply_err(req, EROFS);
        return;
    }
    int err = 0;
    if ((to_set & FUSE_SET_ATTR_MODE) && fchmodat(fl.upperfd, n->path, attr->st_mode, 0) < 0)
        err = errno;
    if (!err && (to_set & FUSE_SET_ATTR_SIZE) && truncate_at(n->path, attr->st_size) < 0)
        err = errno;
    struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
    if (to_set & FUSE_SET_ATTR_ATIME)
        ts[0] = attr->st_atim;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW)
        ts[0].tv_nsec = UTIME_NOW;
    if (to_set & FUSE_SET_ATTR_MTIME)
        ts[1] = attr->st_mtim;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
        ts[1].tv_nsec = UTIME_NOW;
    if (!err && (ts[0].tv_nsec != UTIME_OMIT || ts[1].tv_nsec != UTIME_OMIT) &&
        utimensat(fl.upperfd, n->path, ts, 0) < 0)
        err = errno;
    struct stat st;
    if (!err && fstatat(fl.upperfd, n->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
        err = errno;
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    fuse_reply_attr(req, &st, FLOOR_TIMEOUT);
}

static void ff_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)fi;
    pthread_mutex_lock(&fl.lock);
    node *n = node_of(ino);
    int err = 0, fd = n->fd; /* a file given up was synced by nobody: reopen */
    if (fd < 0 && n->created && S_ISREG(n->st.st_mode))
        fd = node_fd(n);
    if (fd >= 0 && (datasync ? fdatasync(fd) : fsync(fd)) < 0)
        err = errno;
    pthread_mutex_unlock(&fl.lock);
    fuse_reply_err(req, err);
}

/* -x: what a server with extended attributes answers for a file without
 * them. Without -x there is no handler: ENOSYS, and the kernel asks no
 * more. */
static void ff_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    (void)ino;
    (void)name;
    (void)size;
    fuse_reply_err(req, ENODATA);
}

static void ff_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    (void)fi;
    node *d = node_of(ino);
    pthread_mutex_lock(&fl.lock);
    int err = scan(d);
    pthread_mutex_unlock(&fl.lock);
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    /* Offsets are 1 + the index of the entry: 0 is the start. */
    for (size_t i = (size_t)off; i < d->nkids; i++) {
        struct fuse_entry_param e;
        fill_entry(d->kids[i], &e);
        size_t len = fuse_add_direntry_plus(req, buf + used, size - used, d->kids[i]->name, &e,
                                            (off_t)(i + 1));
        if (len > size - used)
            break;
        used += len;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static const struct fuse_lowlevel_ops ff_ops = {
    .init = ff_init,
    .lookup = ff_lookup,
    .forget = ff_forget,
    .forget_multi = ff_forget_multi,
    .getattr = ff_getattr,
    .readlink = ff_readlink,
    .open = ff_open,
    .opendir = ff_open,
    .read = ff_read,
    .readdirplus = ff_readdirplus,
    .create = ff_create,
    .mkdir = ff_mkdir,
    .write = ff_write,
    .setattr = ff_setattr,
    .fsync = ff_fsync,
};

static int usage(void)
{
    fprintf(
        stderr,
        "usage: strata-fusefloor [-f] [-p] [-t THREADS] [-u UPPER [-W] [-x]] SRCDIR MOUNTPOINT\n");
    return 2;
}

int main(int argc, char **argv)
{
    int foreground = 0, pre = 0, threads = 1, opt;
    const char *upper = NULL;
    while ((opt = getopt(argc, argv, "fpt:u:Wx")) != -1) {
        if (opt == 'f')
            foreground = 1;
        else if (opt == 'p')
            pre = 1;
        else if (opt == 'u')
            upper = optarg;
        else if (opt == 'W')
            fl.writeback = 1;
        else if (opt == 'x')
            fl.xattr_enodata = 1;
        else if (opt == 't' && (threads = atoi(optarg)) >= 1 && threads <= 64)
            continue;
        else
            return usage();
    }
    if (argc - optind != 2 || (!upper && (fl.writeback || fl.xattr_enodata)))
        return usage();
    const char *src = argv[optind], *mnt = argv[optind + 1];
    fl.rootfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fl.rootfd < 0 || fstat(fl.rootfd, &fl.root.st) < 0) {
        perror(src);
        return 1;
    }
    fl.root.path = ".";
    fl.root.fd = fl.upperfd = -1;
    if (upper) {
        fl.upperfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fl.upperfd < 0) {
            perror(upper);
            return 1;
        }
        fl.root.upper = 1;
        /* The kernel applied the caller's umask already. */
        umask(0);
        /* FLOOR_FDS descriptors of created files, and libfuse's. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FLOOR_FDS + 64 &&
            rl.rlim_max >= FLOOR_FDS + 64) {
            rl.rlim_cur = FLOOR_FDS + 64;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (pre)
        preload(&fl.root);

    char *fargv[] = {argv[0], "-o", "fsname=fusefloor,subtype=fusefloor", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse_lowlevel_ops ops = ff_ops;
    if (fl.xattr_enodata)
        ops.getxattr = ff_getxattr;
    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
    if (!se)
        return 1;
    int rc = 1;
    if (fuse_session_mount(se, mnt) != 0)
        goto out;
    if (fuse_daemonize(foreground) != 0 || fuse_set_signal_handlers(se) != 0)
        goto unmount;
    if (threads == 1) {
        rc = fuse_session_loop(se);
    } else {
        struct fuse_loop_config *cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(cfg, (unsigned)threads);
        fuse_loop_cfg_set_idle_threads(cfg, (unsigned)threads);
        rc = fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
    }
    fuse_remove_signal_handlers(se);
unmount:
    fuse_session_unmount(se);
out:
    fuse_session_destroy(se);
    return rc ? 1 : 0;
}
