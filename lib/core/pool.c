/* A handle's helper threads for its element-wise passes (see internal.h).
 *
 * One mutex guards the pass: the caller publishes it, and every thread,
 * the caller included, takes the next task index under the mutex, runs it
 * unlocked and counts it done. Helpers sleep on a condition variable
 * between passes and never spin: on a machine whose cores are busy a
 * sleeping helper costs nothing, and a helper that is not scheduled in
 * time leaves its tasks to the caller (it can delay a pass by at most the
 * one task it has taken). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "core/internal.h"

typedef struct {
    pthread_t th;
    hosmi_pool *pool;
    int index;
} helper;

struct hosmi_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int size; /* threads counting the caller */
    int stop;
    hosmi_task fn;
    void *ctx;
    int64_t tasks, next, finished;
    helper helpers[];
};

/* The thread index of the running thread in its pool: 0 on any thread but
 * a helper (for a pass started from inside a task, which runs there). */
static _Thread_local int helper_index;

static void *helper_main(void *arg)
{
    helper *h = arg;
    hosmi_pool *p = h->pool;
    helper_index = h->index;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next >= p->tasks)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        const int64_t t = p->next++;
        hosmi_task fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, t, h->index);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->tasks)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void stop_helpers(hosmi_pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++)
        pthread_join(p->helpers[i].th, NULL);
}

hosmi_pool *hosmi_pool_new(int threads)
{
    if (threads <= 1)
        return NULL;
    hosmi_pool *p = calloc(1, sizeof *p + (size_t)(threads - 1) * sizeof(helper));
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->mu, NULL)) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->work, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->done, NULL)) {
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    /* Helpers take no signals: the application's handlers run on its own
     * threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = 0;
    for (; started < threads - 1; started++) {
        helper *h = &p->helpers[started];
        h->pool = p;
        h->index = started + 1;
        if (pthread_create(&h->th, NULL, helper_main, h))
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    p->size = started + 1;
    if (started == 0) { /* no helper: the caller works alone */
        hosmi_pool_free(p);
        return NULL;
    }
    return p;
}

void hosmi_pool_free(hosmi_pool *p)
{
    if (!p)
        return;
    stop_helpers(p, p->size - 1);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int hosmi_pool_size(const hosmi_pool *p)
{
    return p ? p->size : 1;
}

void hosmi_pool_run(hosmi_pool *p, int64_t tasks, hosmi_task fn, void *ctx)
{
    if (!p || tasks <= 1) {
        for (int64_t t = 0; t < tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    if (p->tasks != 0) { /* called from a task of a pass: that pass has the threads */
        pthread_mutex_unlock(&p->mu);
        for (int64_t t = 0; t < tasks; t++)
            fn(ctx, t, helper_index);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->tasks = tasks;
    p->next = p->finished = 0;
    pthread_cond_broadcast(&p->work);
    while (p->next < p->tasks) {
        const int64_t t = p->next++;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, t, 0);
        pthread_mutex_lock(&p->mu);
        p->finished++;
    }
    while (p->finished < p->tasks)
        pthread_cond_wait(&p->done, &p->mu);
    p->tasks = p->next = p->finished = 0;
    pthread_mutex_unlock(&p->mu);
}
