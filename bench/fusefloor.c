/* strata-fusefloor: the floor of the FUSE transport, for bench/run. A
 * minimal read-only low-level libfuse3 filesystem that shows SRCDIR at
 * MOUNTPOINT with every lever PERF-NOTES.md lists and nothing else to
 * do: infinite entry and attribute timeouts, keep_cache (through
 * no-open), readdirplus for every listing, no OPEN and no OPENDIR
 * (answered ENOSYS with FUSE_CAP_NO_OPEN{,DIR}_SUPPORT), reads of up to
 * 1 MiB. Whatever strata's FUSE server costs beyond this is strata's.
 *
 *   strata-fusefloor [-f] [-p] [-t THREADS] SRCDIR MOUNTPOINT
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
 * has nothing to do. It links libfuse3 directly: it is a benchmark tool,
 * not part of strata (src/ loads libfuse with dlopen). */
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
#include <sys/stat.h>
#include <unistd.h>

/* "Infinite": the kernel keeps entries and attributes for a year. */
#define FLOOR_TIMEOUT (365.0 * 86400.0)
#define FLOOR_MAX_IO  (1u << 20)

typedef struct node node;
struct node {
    node *parent;
    char *path; /* relative to the source root, "." for the root */
    struct stat st;
    /* directories: children, filled on first use */
    int scanned;
    size_t nkids;
    node **kids;
    /* the hash chain of (parent, name) */
    node *next;
    const char *name;
    uint64_t hash;
};

static struct {
    int rootfd;
    node root;
    pthread_mutex_t lock;
    node **buckets;
    size_t nbuckets, nnodes;
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
    size_t cap = 0;
    size_t plen = strcmp(d->path, ".") == 0 ? 0 : strlen(d->path);
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        node *n = calloc(1, sizeof(*n));
        size_t nlen = strlen(de->d_name);
        if (!n || !(n->path = malloc(plen + 1 + nlen + 1)))
            abort();
        if (plen) {
            memcpy(n->path, d->path, plen);
            n->path[plen] = '/';
            memcpy(n->path + plen + 1, de->d_name, nlen + 1);
            n->name = n->path + plen + 1;
        } else {
            memcpy(n->path, de->d_name, nlen + 1);
            n->name = n->path;
        }
        if (fstatat(dirfd(dir), de->d_name, &n->st, AT_SYMLINK_NOFOLLOW) < 0) {
            free(n->path);
            free(n);
            continue;
        }
        n->parent = d;
        if (d->nkids == cap) {
            cap = cap ? cap * 2 : 16;
            node **k = realloc(d->kids, cap * sizeof(*k));
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

static void fill_entry(node *n, struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = ino_of(n);
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
    struct stat st = n->st;
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
    int fd = openat(fl.rootfd, node_of(ino)->path, O_RDONLY | O_CLOEXEC);
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
};

static int usage(void)
{
    fprintf(stderr, "usage: strata-fusefloor [-f] [-p] [-t THREADS] SRCDIR MOUNTPOINT\n");
    return 2;
}

int main(int argc, char **argv)
{
    int foreground = 0, pre = 0, threads = 1, opt;
    while ((opt = getopt(argc, argv, "fpt:")) != -1) {
        if (opt == 'f')
            foreground = 1;
        else if (opt == 'p')
            pre = 1;
        else if (opt == 't' && (threads = atoi(optarg)) >= 1 && threads <= 64)
            continue;
        else
            return usage();
    }
    if (argc - optind != 2)
        return usage();
    const char *src = argv[optind], *mnt = argv[optind + 1];
    fl.rootfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fl.rootfd < 0 || fstat(fl.rootfd, &fl.root.st) < 0) {
        perror(src);
        return 1;
    }
    fl.root.path = ".";
    if (pre)
        preload(&fl.root);

    char *fargv[] = {argv[0], "-o", "fsname=fusefloor,subtype=fusefloor", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse_session *se = fuse_session_new(&args, &ff_ops, sizeof(ff_ops), NULL);
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
