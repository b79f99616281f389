/* Import: a directory tree becomes a layer.
 *
 * One thread walks the tree with openat() relative to each directory's own
 * descriptor and O_NOFOLLOW everywhere, so the walk cannot be led outside
 * the tree by a symbolic link, even one swapped in while it runs. It opens
 * each regular file itself and hands the descriptor to a pool of workers,
 * which hash and store the content in parallel (store_put_fd streams, so a
 * file of any size costs bounded memory). Puts share batched transactions.
 * A file the caller's stat cache (opts->known) vouches for is not opened:
 * the walker takes its digest once the store confirms it has the blob.
 * When every file is stored, the entries become a manifest blob. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/path.h"
#include "layer/layer.h"

#define IMPORT_QUEUE_LEN   256 /* bounds the descriptors held open at once */
#define IMPORT_MAX_THREADS 32

typedef struct imp_entry {
    char *path;
    char *target;
    uint64_t size;
    strata_digest digest;
    uint16_t mode;
    uint8_t kind;
} imp_entry;

typedef struct imp_job {
    int fd;
    imp_entry *entry;
} imp_job;

typedef struct importer {
    store *s;
    const char *root;
    const layer_import_opts *opts;
    dev_t store_dev;
    ino_t store_ino;

    /* Entries are allocated one by one so that workers can fill in a
     * file's digest while the walker keeps growing the array of pointers. */
    imp_entry **entries;
    size_t count, cap;

    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full, idle;
    imp_job queue[IMPORT_QUEUE_LEN];
    size_t q_head, q_len;
    bool closed;
    int busy_workers;
    strata_err *err; /* the first failure; later ones are dropped */
    atomic_bool failed;

    atomic_uint_fast64_t files, dirs, symlinks, files_read, bytes, new_blobs, new_bytes;
} importer;

static void imp_fail(importer *im, strata_err *e)
{
    pthread_mutex_lock(&im->mu);
    if (!im->err)
        im->err = e;
    else
        strata_err_free(e);
    atomic_store(&im->failed, true);
    pthread_cond_broadcast(&im->not_full);
    pthread_mutex_unlock(&im->mu);
}

static void imp_snapshot(importer *im, layer_import_stats *st)
{
    st->files = atomic_load(&im->files);
    st->dirs = atomic_load(&im->dirs);
    st->symlinks = atomic_load(&im->symlinks);
    st->files_read = atomic_load(&im->files_read);
    st->bytes = atomic_load(&im->bytes);
    st->new_blobs = atomic_load(&im->new_blobs);
    st->new_bytes = atomic_load(&im->new_bytes);
}

static void imp_progress(importer *im, bool done)
{
    if (!im->opts || !im->opts->progress)
        return;
    layer_import_stats st;
    imp_snapshot(im, &st);
    im->opts->progress(im->opts->progress_ctx, &st, done);
}

/* ---- the work queue --------------------------------------------------- */

static void imp_push(importer *im, imp_job job)
{
    pthread_mutex_lock(&im->mu);
    while (im->q_len == IMPORT_QUEUE_LEN && !atomic_load(&im->failed))
        pthread_cond_wait(&im->not_full, &im->mu);
    if (atomic_load(&im->failed)) {
        pthread_mutex_unlock(&im->mu);
        close(job.fd);
        return;
    }
    im->queue[(im->q_head + im->q_len) % IMPORT_QUEUE_LEN] = job;
    im->q_len++;
    pthread_cond_signal(&im->not_empty);
    pthread_mutex_unlock(&im->mu);
}

static bool imp_pop(importer *im, imp_job *job)
{
    pthread_mutex_lock(&im->mu);
    im->busy_workers--;
    if (im->busy_workers == 0)
        pthread_cond_broadcast(&im->idle);
    while (im->q_len == 0 && !im->closed)
        pthread_cond_wait(&im->not_empty, &im->mu);
    if (im->q_len == 0) {
        pthread_mutex_unlock(&im->mu);
        return false;
    }
    *job = im->queue[im->q_head];
    im->q_head = (im->q_head + 1) % IMPORT_QUEUE_LEN;
    im->q_len--;
    im->busy_workers++;
    pthread_cond_signal(&im->not_full);
    pthread_mutex_unlock(&im->mu);
    return true;
}

static void *imp_worker(void *arg)
{
    importer *im = arg;
    imp_job job;
    while (imp_pop(im, &job)) {
        if (atomic_load(&im->failed)) {
            close(job.fd);
            continue;
        }
        bool was_new = false;
        imp_entry *en = job.entry;
        strata_err *e = store_put_fd(im->s, job.fd, en->path, &en->digest, &en->size, &was_new);
        close(job.fd);
        if (e) {
            imp_fail(im, strata_err_wrap(e, "import %s/%s", im->root, en->path));
            continue;
        }
        atomic_fetch_add(&im->files_read, 1);
        atomic_fetch_add(&im->bytes, en->size);
        if (was_new) {
            atomic_fetch_add(&im->new_blobs, 1);
            atomic_fetch_add(&im->new_bytes, en->size);
        }
    }
    return NULL;
}

/* ---- the walk --------------------------------------------------------- */

static strata_err *imp_add(importer *im, uint8_t kind, char *path, uint16_t mode, char *target,
                           imp_entry **out)
{
    if (im->count == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 1024;
        imp_entry **p = realloc(im->entries, cap * sizeof(*p));
        if (!p)
            goto oom;
        im->entries = p;
        im->cap = cap;
    }
    imp_entry *en = calloc(1, sizeof(*en));
    if (!en)
        goto oom;
    en->kind = kind;
    en->path = path;
    en->mode = mode;
    en->target = target;
    if (kind == MANIFEST_SYMLINK)
        en->size = strlen(target);
    im->entries[im->count++] = en;
    if (out)
        *out = en;
    return NULL;
oom:
    free(path);
    free(target);
    return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory importing %s", im->root);
}

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

/* Lists a directory fully before descending, so that only one descriptor
 * per level stays open however wide the tree is. */
static strata_err *imp_list(importer *im, int dirfd, const char *rel, name_list *out)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return strata_err_sys(err, NULL, "list %s/%s", im->root, rel);
    }
    strata_err *e = NULL;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            char **p = realloc(out->names, cap * sizeof(*p));
            if (!p) {
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
                break;
            }
            out->names = p;
            out->cap = cap;
        }
        if (!(out->names[out->n] = strdup(de->d_name))) {
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
            break;
        }
        out->n++;
        errno = 0;
    }
    if (!e && errno)
        e = strata_err_sys(errno, NULL, "list %s/%s", im->root, rel);
    closedir(d);
    return e;
}

static strata_err *imp_dir(importer *im, int dirfd, const char *rel);

/* Whether the caller's stat cache vouches for the file at path, and the
 * store still has the blob it names with the file's size. The cache knows
 * what was written, not what gc has taken since; a blob that is gone, or
 * a store that cannot say, makes the file be read like any other (and a
 * store that is really broken then fails that read with a proper error). */
static bool imp_known(importer *im, const char *path, const struct stat *st, strata_digest *out)
{
    if (!im->opts || !im->opts->known || !im->opts->known(im->opts->known_ctx, path, st, out))
        return false;
    bool present = false;
    uint64_t size = 0;
    strata_err *e = store_has(im->s, out, &present, &size);
    if (e) {
        strata_err_free(e);
        return false;
    }
    return present && size == (uint64_t)st->st_size;
}

static strata_err *imp_one(importer *im, int dirfd, const char *rel, const char *name)
{
    char *path = path_join(rel, name);
    if (!path)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    strata_err *e = path_validate(path, strlen(path));
    if (e) {
        free(path);
        return strata_err_wrap(e, "import %s", im->root);
    }
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        e = strata_err_sys(errno, NULL, "stat %s/%s", im->root, path);
        free(path);
        return e;
    }
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR: {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
            e = strata_err_sys(errno, NULL, "open directory %s/%s", im->root, path);
            if (fd >= 0)
                close(fd);
            free(path);
            return e;
        }
        if (st.st_dev == im->store_dev && st.st_ino == im->store_ino) {
            close(fd);
            e = strata_err_new(STRATA_E_INVALID,
                               "import a directory that does not contain the store, "
                               "or move the store with --store",
                               "%s/%s is the store itself", im->root, path);
            free(path);
            return e;
        }
        e = imp_add(im, MANIFEST_DIR, path, (uint16_t)(st.st_mode & 0777), NULL, NULL);
        if (!e) {
            atomic_fetch_add(&im->dirs, 1);
            e = imp_dir(im, fd, im->entries[im->count - 1]->path);
        }
        close(fd);
        return e;
    }
    case S_IFLNK: {
        char buf[PATH_TREE_MAX + 1];
        ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf));
        if (n < 0 || n > PATH_TREE_MAX) {
            e = n < 0 ? strata_err_sys(errno, NULL, "read link %s/%s", im->root, path)
                      : strata_err_new(STRATA_E_INVALID, NULL,
                                       "link %s/%s has a target longer than %d bytes", im->root,
                                       path, PATH_TREE_MAX);
            free(path);
            return e;
        }
        char *target = strndup(buf, (size_t)n);
        if (!target) {
            free(path);
            return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        }
        atomic_fetch_add(&im->symlinks, 1);
        return imp_add(im, MANIFEST_SYMLINK, path, 0777, target, NULL);
    }
    case S_IFREG: {
        strata_digest known;
        if (imp_known(im, path, &st, &known)) {
            imp_entry *en = NULL;
            e = imp_add(im, MANIFEST_FILE, path, (uint16_t)(st.st_mode & 0777), NULL, &en);
            if (e)
                return e;
            en->digest = known;
            en->size = (uint64_t)st.st_size;
            atomic_fetch_add(&im->files, 1);
            return NULL;
        }
        /* O_NONBLOCK: if the file was swapped for a fifo since the stat,
         * the open must not hang; fstat below then refuses it. */
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            e = strata_err_sys(errno, NULL, "open %s/%s", im->root, path);
            free(path);
            return e;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            e = strata_err_new(STRATA_E_INVALID, "retry once the tree stops changing",
                               "%s/%s changed type during the import", im->root, path);
            free(path);
            return e;
        }
        imp_entry *en = NULL;
        e = imp_add(im, MANIFEST_FILE, path, (uint16_t)(st.st_mode & 0777), NULL, &en);
        if (e) {
            close(fd);
            return e;
        }
        atomic_fetch_add(&im->files, 1);
        imp_push(im, (imp_job){.fd = fd, .entry = en});
        return NULL;
    }
    default: {
        const char *what = S_ISFIFO(st.st_mode)   ? "a fifo"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "a device node";
        e = strata_err_new(STRATA_E_UNSUPPORTED,
                           "layers hold only files, directories and symbolic links; "
                           "remove it or import a copy of the tree without it",
                           "%s/%s is %s", im->root, path, what);
        free(path);
        return e;
    }
    }
}

static strata_err *imp_dir(importer *im, int dirfd, const char *rel)
{
    name_list names = {0};
    strata_err *e = imp_list(im, dirfd, rel, &names);
    for (size_t i = 0; !e && i < names.n; i++) {
        if (atomic_load(&im->failed))
            break;
        e = imp_one(im, dirfd, rel, names.names[i]);
        imp_progress(im, false);
    }
    names_free(&names);
    return e;
}

/* ---- the whole import ------------------------------------------------- */

static int imp_thread_count(const layer_import_opts *opts)
{
    long n = opts && opts->threads > 0 ? opts->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > IMPORT_MAX_THREADS)
        n = IMPORT_MAX_THREADS;
    return (int)n;
}

/* Waits for the workers to drain the queue, reporting progress meanwhile,
 * so that a long hash of one big file still shows movement. */
static void imp_drain(importer *im)
{
    pthread_mutex_lock(&im->mu);
    im->closed = true;
    pthread_cond_broadcast(&im->not_empty);
    while (im->q_len > 0 || im->busy_workers > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&im->idle, &im->mu, &ts);
        pthread_mutex_unlock(&im->mu);
        imp_progress(im, false);
        pthread_mutex_lock(&im->mu);
    }
    pthread_mutex_unlock(&im->mu);
}

static strata_err *imp_encode(importer *im, uint16_t root_mode, strata_digest *out)
{
    manifest_builder *b = manifest_builder_new(root_mode);
    if (!b)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    strata_err *e = NULL;
    for (size_t i = 0; !e && i < im->count; i++) {
        imp_entry *en = im->entries[i];
        e = manifest_builder_add(b, en->kind, en->path, en->mode, en->size,
                                 en->kind == MANIFEST_FILE ? &en->digest : NULL, en->target);
    }
    strata_buf buf;
    buf_init(&buf);
    if (!e)
        e = manifest_builder_encode(b, &buf);
    manifest_builder_free(b);
    if (!e && buf.oom)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory encoding the manifest");
    if (!e)
        e = store_put_buf(im->s, buf.data, buf.len, out, NULL);
    buf_free(&buf);
    return e;
}

strata_err *layer_import(store *s, const char *dir, const layer_import_opts *opts,
                         strata_digest *out, layer_import_stats *stats)
{
    importer *im = calloc(1, sizeof(*im));
    if (!im)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    im->s = s;
    im->root = dir;
    im->opts = opts;
    pthread_mutex_init(&im->mu, NULL);
    pthread_cond_init(&im->not_empty, NULL);
    pthread_cond_init(&im->not_full, NULL);
    pthread_cond_init(&im->idle, NULL);

    struct stat st;
    if (stat(store_dir(s), &st) == 0) {
        im->store_dev = st.st_dev;
        im->store_ino = st.st_ino;
    }

    strata_err *e = NULL;
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0 || fstat(rootfd, &st) < 0) {
        e = strata_err_sys(errno, NULL, "open directory %s", dir);
        if (errno == ENOTDIR)
            strata_err_rehint(e, "import takes a directory; put the file in one first");
        if (rootfd >= 0)
            close(rootfd);
        goto out;
    }
    if (st.st_dev == im->store_dev && st.st_ino == im->store_ino) {
        close(rootfd);
        e = strata_err_new(STRATA_E_INVALID, "import a directory that is not the store",
                           "%s is the store itself", dir);
        goto out;
    }
    uint16_t root_mode = (uint16_t)(st.st_mode & 0777);

    e = store_batch_begin(s);
    if (e) {
        close(rootfd);
        goto out;
    }
    int nthreads = imp_thread_count(opts);
    pthread_t threads[IMPORT_MAX_THREADS];
    int started = 0;
    im->busy_workers = 0;
    for (; started < nthreads; started++) {
        pthread_mutex_lock(&im->mu);
        im->busy_workers++; /* each worker starts "busy" until its first pop */
        pthread_mutex_unlock(&im->mu);
        if (pthread_create(&threads[started], NULL, imp_worker, im) != 0) {
            pthread_mutex_lock(&im->mu);
            im->busy_workers--;
            pthread_mutex_unlock(&im->mu);
            break;
        }
    }
    if (started == 0)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "cannot start import threads");
    else
        e = imp_dir(im, rootfd, "");
    close(rootfd);
    if (e)
        imp_fail(im, e);
    imp_drain(im);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    e = im->err;
    im->err = NULL;
    if (!e)
        e = imp_encode(im, root_mode, out);
    strata_err *be = store_batch_end(s);
    if (!e)
        e = be;
    else
        strata_err_free(be);
    if (!e)
        imp_progress(im, true);

out:
    if (stats)
        imp_snapshot(im, stats);
    for (size_t i = 0; i < im->count; i++) {
        free(im->entries[i]->path);
        free(im->entries[i]->target);
        free(im->entries[i]);
    }
    free(im->entries);
    strata_err_free(im->err);
    pthread_mutex_destroy(&im->mu);
    pthread_cond_destroy(&im->not_empty);
    pthread_cond_destroy(&im->not_full);
    pthread_cond_destroy(&im->idle);
    free(im);
    return e;
}
