/* The invalidation queue and its sending thread (see fuse_notify.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "transport/fuse_internal.h"
#include "transport/fuse_notify.h"

typedef struct fusefs_inval {
    struct fusefs_inval *next;
    uint64_t parent;
    size_t len;
    char name[];
} fusefs_inval;

struct fusefs_notifier {
    const fuse_lib *fl;
    struct fuse_session *se;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fusefs_inval *head, *tail;
    bool stop;
    bool joined;
    _Atomic uint64_t sent;
};

static void *fusefs_notifier_main(void *arg)
{
    fusefs_notifier *n = arg;
    pthread_mutex_lock(&n->mu);
    for (;;) {
        while (!n->head && !n->stop)
            pthread_cond_wait(&n->cv, &n->mu);
        if (n->stop)
            break;
        fusefs_inval *i = n->head;
        n->head = i->next;
        if (!n->head)
            n->tail = NULL;
        pthread_mutex_unlock(&n->mu);
        /* ENOENT (the kernel had nothing cached under the name) is the
         * common answer, and as good as done. */
        n->fl->notify_inval_entry(n->se, i->parent, i->name, i->len);
        atomic_fetch_add_explicit(&n->sent, 1, memory_order_relaxed);
        free(i);
        pthread_mutex_lock(&n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

strata_err *fusefs_notifier_start(const fuse_lib *fl, struct fuse_session *se,
                                  fusefs_notifier **out)
{
    *out = NULL;
    if (!fl->notify_inval_entry)
        return strata_err_new(STRATA_E_UNSUPPORTED, "install libfuse 3.0 or later",
                              "this libfuse cannot send invalidations");
    fusefs_notifier *n = calloc(1, sizeof(*n));
    if (!n)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    n->fl = fl;
    n->se = se;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    /* Like the server's own threads, it takes no process signal. */
    int rc = fusefs_thread_start(&n->thread, fusefs_notifier_main, n);
    if (rc) {
        pthread_mutex_destroy(&n->mu);
        pthread_cond_destroy(&n->cv);
        free(n);
        return strata_err_sys(rc, NULL, "start the FUSE invalidation thread");
    }
    *out = n;
    return NULL;
}

void fusefs_notifier_queue(fusefs_notifier *n, uint64_t parent, const char *name, size_t len)
{
    fusefs_inval *i = malloc(sizeof(*i) + len + 1);
    if (!i)
        return;
    i->next = NULL;
    i->parent = parent;
    i->len = len;
    memcpy(i->name, name, len);
    i->name[len] = '\0';
    pthread_mutex_lock(&n->mu);
    if (n->tail)
        n->tail->next = i;
    else
        n->head = i;
    n->tail = i;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

uint64_t fusefs_notifier_sent(fusefs_notifier *n)
{
    return atomic_load_explicit(&n->sent, memory_order_relaxed);
}

void fusefs_notifier_stop(fusefs_notifier *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    bool join = !n->joined;
    n->stop = n->joined = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (join)
        pthread_join(n->thread, NULL);
}

void fusefs_notifier_free(fusefs_notifier *n)
{
    if (!n)
        return;
    fusefs_notifier_stop(n);
    for (fusefs_inval *i = n->head, *next; i; i = next) {
        next = i->next;
        free(i);
    }
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
}
