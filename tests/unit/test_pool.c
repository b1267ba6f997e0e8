/* The helper threads of lib/core/pool.c: every task of a pass runs exactly
 * once and before the pass returns, thread indices stay below the pool's
 * size, no thread index runs two tasks at once (the trainer's per-thread
 * scratch relies on it), many short passes in a row all complete, a pass
 * started from inside a task runs there, on that task's thread index, and
 * a NULL pool runs the tasks in order on the caller. */
#include <pthread.h>
#include <stdatomic.h>

#include "../test_util.h"
#include "core/internal.h"

#define MAX_TASKS 1000
#define MAX_THREADS 8

typedef struct {
    atomic_int runs[MAX_TASKS];
    atomic_int busy[MAX_THREADS]; /* tasks running now, per thread index */
    atomic_int bad_index, overlap, order_breaks;
    atomic_long last; /* the previous task, for the in-order check */
    int size;
    int spin; /* iterations of work a task, to let tasks overlap */
} pass_state;

static void task(void *arg, int64_t t, int w)
{
    pass_state *s = arg;
    if (w < 0 || w >= s->size) {
        atomic_fetch_add(&s->bad_index, 1);
        return;
    }
    if (atomic_fetch_add(&s->busy[w], 1) != 0)
        atomic_fetch_add(&s->overlap, 1);
    volatile double x = 0.0;
    for (int i = 0; i < s->spin; i++)
        x = x + 1e-3 * (double)i;
    if (atomic_exchange(&s->last, (long)t) != (long)t - 1)
        atomic_fetch_add(&s->order_breaks, 1);
    atomic_fetch_add(&s->runs[t], 1);
    atomic_fetch_sub(&s->busy[w], 1);
}

static void reset(pass_state *s, int size, int spin)
{
    for (int i = 0; i < MAX_TASKS; i++)
        atomic_store(&s->runs[i], 0);
    for (int i = 0; i < MAX_THREADS; i++)
        atomic_store(&s->busy[i], 0);
    atomic_store(&s->bad_index, 0);
    atomic_store(&s->overlap, 0);
    atomic_store(&s->order_breaks, 0);
    atomic_store(&s->last, -1L);
    s->size = size;
    s->spin = spin;
}

/* Tasks that did not run exactly once. */
static int wrong_runs(pass_state *s, int64_t tasks)
{
    int wrong = 0;
    for (int64_t t = 0; t < MAX_TASKS; t++)
        wrong += atomic_load(&s->runs[t]) != (t < tasks ? 1 : 0);
    return wrong;
}

/* A pass started from inside a task of a pass on the same pool. */
typedef struct {
    hosmi_pool *pool;
    atomic_int inner_runs, wrong_index;
} nest_state;

typedef struct {
    nest_state *s;
    int outer_w;
} inner_ctx;

static void inner_task(void *arg, int64_t t, int w)
{
    (void)t;
    inner_ctx *c = arg;
    atomic_fetch_add(&c->s->inner_runs, 1);
    if (w != c->outer_w)
        atomic_fetch_add(&c->s->wrong_index, 1);
}

static void outer_task(void *arg, int64_t t, int w)
{
    (void)t;
    nest_state *s = arg;
    inner_ctx c = {s, w};
    hosmi_pool_run(s->pool, 4, inner_task, &c);
}

int main(void)
{
    static pass_state s;

    /* No pool: the caller alone, in order. */
    CHECK(hosmi_pool_new(1) == NULL, "a pool of 1 thread is NULL");
    CHECK(hosmi_pool_new(0) == NULL, "a pool of 0 threads is NULL");
    CHECK(hosmi_pool_size(NULL) == 1, "a NULL pool has 1 thread");
    reset(&s, 1, 10);
    hosmi_pool_run(NULL, 300, task, &s);
    CHECK(wrong_runs(&s, 300) == 0, "NULL pool: every task once");
    CHECK(atomic_load(&s.order_breaks) == 0, "NULL pool: tasks in order");
    CHECK(atomic_load(&s.bad_index) == 0, "NULL pool: thread index 0");

    const int sizes[] = {2, 3, 8};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        hosmi_pool *p = hosmi_pool_new(sizes[k]);
        CHECK(p != NULL, "a pool of %d threads starts", sizes[k]);
        if (!p)
            continue;
        const int size = hosmi_pool_size(p);
        CHECK(size == sizes[k], "pool size %d, asked for %d", size, sizes[k]);
        /* Passes of 0, 1 and many tasks, long and short ones. */
        const int64_t counts[] = {0, 1, 2, 7, MAX_TASKS};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            for (int spin = 0; spin <= 2000; spin += 2000) {
                reset(&s, size, spin);
                hosmi_pool_run(p, counts[c], task, &s);
                CHECK(wrong_runs(&s, counts[c]) == 0,
                      "size %d, %lld tasks, spin %d: every task exactly once", size,
                      (long long)counts[c], spin);
                CHECK(atomic_load(&s.bad_index) == 0, "size %d: thread indices below %d", size,
                      size);
                CHECK(atomic_load(&s.overlap) == 0, "size %d: one task at a time a thread",
                      size);
            }
        /* Many short passes back to back: none is lost or left running. */
        int wrong = 0;
        for (int rep = 0; rep < 2000; rep++) {
            reset(&s, size, 0);
            hosmi_pool_run(p, 5, task, &s);
            wrong += wrong_runs(&s, 5) != 0;
        }
        CHECK(wrong == 0, "size %d: 2000 short passes all complete (%d did not)", size, wrong);
        static nest_state ns;
        ns.pool = p;
        atomic_store(&ns.inner_runs, 0);
        atomic_store(&ns.wrong_index, 0);
        hosmi_pool_run(p, 40, outer_task, &ns);
        CHECK(atomic_load(&ns.inner_runs) == 160, "size %d: nested passes run all their tasks",
              size);
        CHECK(atomic_load(&ns.wrong_index) == 0,
              "size %d: a nested pass runs on its task's thread index", size);
        hosmi_pool_free(p);
    }
    hosmi_pool_free(NULL);
    return finish("test_pool");
}
