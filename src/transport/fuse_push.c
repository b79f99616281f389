/* The push queue and its thread (see fuse_push.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "transport/fuse_internal.h"
#include "transport/fuse_push.h"

typedef struct fusefs_push {
    uint64_t ino, size;
    unsigned tries;
} fusefs_push;

/* A push that finds no inode in the kernel (ENOENT) may have come before
 * the kernel took in the listing that names it (the listing's reader
 * makes the inodes after the reply): it is tried again, after the queue,
 * up to this many times, FUSEFS_PUSH_RETRY_MS apart at the least. */
#define FUSEFS_PUSH_TRIES    4
#define FUSEFS_PUSH_RETRY_MS 2

struct fusefs_pusher {
    const fuse_lib *fl;
    struct fuse_session *se;
    vfs *v;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fusefs_push ring[FUSEFS_PUSH_QUEUE]; /* head..head+n-1, modulo */
    uint32_t head, n;
    bool stop, joined;
    _Atomic uint64_t pushed;
};

static void fusefs_push_requeue(fusefs_pusher *p, fusefs_push job);

/* Reads one file from the store and stores it in the kernel's cache. A
 * file that cannot be read (removed meanwhile, a store error) is simply
 * not pushed: its READ will say what is wrong. */
static void fusefs_push_one(fusefs_pusher *p, const fusefs_push *job, void *buf)
{
    size_t got = 0;
    strata_err *e = vfs_read_ino(p->v, job->ino, buf, (size_t)job->size, 0, &got);
    if (e) {
        strata_err_free(e);
        return;
    }
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT(got);
    bv.buf[0].mem = buf;
    int rc = p->fl->notify_store(p->se, job->ino, 0, &bv, 0);
    if (rc == 0) {
        atomic_fetch_add_explicit(&p->pushed, 1, memory_order_relaxed);
    } else if (rc == -ENOENT && job->tries + 1 < FUSEFS_PUSH_TRIES) {
        /* Not there yet, or forgotten already: once more, later. */
        fusefs_push again = *job;
        again.tries++;
        fusefs_push_requeue(p, again);
        return;
    }
    /* A write that copied the file up while its bytes were on their way
     * held the page until its reply, so the store landed after it, with
     * the old bytes: the kernel drops them and asks again. */
    vfs_attr a;
    e = vfs_getattr(p->v, job->ino, &a);
    if (e || !(a.flags & VFS_ATTR_IMMUTABLE))
        p->fl->notify_inval_inode(p->se, job->ino, 0, 0);
    strata_err_free(e);
}

static void *fusefs_pusher_main(void *arg)
{
    fusefs_pusher *p = arg;
    void *buf = malloc(FUSEFS_PUSH_MAX);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->n && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        fusefs_push job = p->ring[p->head];
        p->head = (p->head + 1) % FUSEFS_PUSH_QUEUE;
        p->n--;
        pthread_mutex_unlock(&p->mu);
        /* A retry waits a moment for the kernel, which is busy taking in
         * the listing; new pushes behind it wait with it, which costs
         * them nothing they would not lose to the same race. */
        if (job.tries)
            nanosleep(&(struct timespec){.tv_nsec = FUSEFS_PUSH_RETRY_MS * 1000000L}, NULL);
        if (buf)
            fusefs_push_one(p, &job, buf);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    free(buf);
    return NULL;
}

strata_err *fusefs_pusher_start(const fuse_lib *fl, struct fuse_session *se, vfs *v,
                                fusefs_pusher **out)
{
    *out = NULL;
    if (!fl->notify_store || !fl->notify_inval_inode)
        return strata_err_new(STRATA_E_UNSUPPORTED, "install libfuse 3.0 or later",
                              "this libfuse cannot push file contents");
    fusefs_pusher *p = calloc(1, sizeof(*p));
    if (!p)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    p->fl = fl;
    p->se = se;
    p->v = v;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    /* Like the server's own threads, it takes no process signal. */
    int rc = fusefs_thread_start(&p->thread, fusefs_pusher_main, p);
    if (rc) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return strata_err_sys(rc, NULL, "start the FUSE push thread");
    }
    *out = p;
    return NULL;
}

static void fusefs_push_requeue(fusefs_pusher *p, fusefs_push job)
{
    pthread_mutex_lock(&p->mu);
    if (p->n < FUSEFS_PUSH_QUEUE && !p->stop) {
        p->ring[(p->head + p->n) % FUSEFS_PUSH_QUEUE] = job;
        p->n++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void fusefs_pusher_queue(fusefs_pusher *p, uint64_t ino, uint64_t size)
{
    if (size == 0 || size > FUSEFS_PUSH_MAX)
        return;
    fusefs_push_requeue(p, (fusefs_push){.ino = ino, .size = size});
}

uint64_t fusefs_pusher_pushed(fusefs_pusher *p)
{
    return atomic_load_explicit(&p->pushed, memory_order_relaxed);
}

void fusefs_pusher_stop(fusefs_pusher *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    bool join = !p->joined;
    p->stop = p->joined = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (join)
        pthread_join(p->thread, NULL);
}

void fusefs_pusher_free(fusefs_pusher *p)
{
    if (!p)
        return;
    fusefs_pusher_stop(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
