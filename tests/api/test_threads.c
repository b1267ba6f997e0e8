/* The threading contract: concurrent queries on one model are reentrant and
 * give the same bits as serial ones; trainers on distinct models run
 * concurrently with their own BLIS thread counts and reproduce serial runs;
 * a trainer or a sampler with threads=2 (BLIS and the helper threads of
 * their element-wise passes) gives the same bits as one with threads=1. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosm.h"

#define D 16
#define N 512
#define QUERY_THREADS 4

static int failures;
#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
            failures++;                                                 \
        }                                                               \
    } while (0)

static float data[N * D];

typedef struct {
    const hosm_model *model;
    const float *x;
    float out[N * D];
    int status;
} query_job;

static void *run_query(void *arg)
{
    query_job *j = arg;
    for (int rep = 0; rep < 20 && j->status == HOSM_OK; rep++)
        j->status = hosm_model_score(j->model, 0, j->x, N, j->out);
    return NULL;
}

typedef struct {
    const char *text;
    float params[16384];
    int64_t nparams;
    int status;
} train_job;

static void *run_train(void *arg)
{
    train_job *j = arg;
    hosm_config *c = NULL;
    hosm_model *m = NULL;
    hosm_trainer *t = NULL;
    j->status = hosm_config_new(&c);
    if (!j->status)
        j->status = hosm_config_parse(c, j->text);
    if (!j->status)
        j->status = hosm_model_new(&m, D, c);
    if (!j->status)
        j->status = hosm_trainer_new(&t, m, c);
    if (!j->status)
        j->status = hosm_trainer_fit(t, data, N, NULL, NULL);
    if (!j->status)
        j->status = hosm_model_num_params(m, &j->nparams);
    if (!j->status && j->nparams <= 16384)
        j->status = hosm_model_get_params(m, j->params, j->nparams);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(c);
    return NULL;
}

int main(void)
{
    srand(7);
    for (int i = 0; i < N * D; i++)
        data[i] = (float)rand() / (float)RAND_MAX * 4.0f - 2.0f;

    /* Concurrent queries on one model. */
    hosm_config *c;
    hosm_model *m;
    CHECK(hosm_config_new(&c) == HOSM_OK);
    CHECK(hosm_config_parse(c, "hidden=32 depth=2 seed=3") == HOSM_OK);
    CHECK(hosm_model_new(&m, D, c) == HOSM_OK);
    static float serial[N * D];
    CHECK(hosm_model_score(m, 0, data, N, serial) == HOSM_OK);
    static query_job q[QUERY_THREADS];
    pthread_t th[QUERY_THREADS];
    for (int i = 0; i < QUERY_THREADS; i++) {
        q[i].model = m;
        q[i].x = data;
        pthread_create(&th[i], NULL, run_query, &q[i]);
    }
    for (int i = 0; i < QUERY_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(q[i].status == HOSM_OK);
        CHECK(memcmp(q[i].out, serial, sizeof serial) == 0);
    }
    hosm_model_free(m);
    hosm_config_free(c);

    /* Two trainers at once, with 1 and 2 BLIS threads, against serial runs. */
    static train_job jobs[2] = {
        {.text = "hidden=24 depth=2 steps=60 batch=64 seed=1 threads=1"},
        {.text = "hidden=24 depth=2 steps=60 batch=64 seed=2 threads=2 objective=dsm_vr"},
    };
    static train_job alone[2];
    for (int i = 0; i < 2; i++) {
        alone[i].text = jobs[i].text;
        run_train(&alone[i]);
        CHECK(alone[i].status == HOSM_OK);
    }
    pthread_t tt[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&tt[i], NULL, run_train, &jobs[i]);
    for (int i = 0; i < 2; i++) {
        pthread_join(tt[i], NULL);
        CHECK(jobs[i].status == HOSM_OK);
        CHECK(jobs[i].nparams == alone[i].nparams);
        CHECK(memcmp(jobs[i].params, alone[i].params,
                     (size_t)jobs[i].nparams * sizeof(float)) == 0);
    }
    /* One thread against two, over every kind of pass: the activations and
     * their products (batches of several row tasks), the per-point losses
     * (several point tasks), full and low-rank D2SM terms, tangents. */
    static const char *const kinds[] = {
        "objective=dsm_vr s2=full s2_objective=d2sm_vr",
        "objective=dsm s2=lowrank rank=3 s2_objective=d2sm act=silu",
        "objective=ssm_vr projections=2 act=tanh",
        "objective=dsm levels=3 sigma_min=0.1 sigma_max=1",
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        static char text[2][256];
        static train_job one, two;
        for (int th = 0; th < 2; th++)
            snprintf(text[th], sizeof text[th], "hidden=40 depth=2 steps=12 batch=100 seed=5 %s "
                     "threads=%d", kinds[k], th + 1);
        one = (train_job){.text = text[0]};
        two = (train_job){.text = text[1]};
        run_train(&one);
        run_train(&two);
        CHECK(one.status == HOSM_OK && two.status == HOSM_OK);
        CHECK(one.nparams == two.nparams && one.nparams <= 16384);
        CHECK(memcmp(one.params, two.params, (size_t)one.nparams * sizeof(float)) == 0);
    }

    /* A sampler's helper threads: Langevin chains with threads=1 and 2. */
    static float chains[2][N * D];
    for (int th = 0; th < 2; th++) {
        char text[128];
        snprintf(text, sizeof text, "hidden=48 depth=2 seed=9 sample_steps=5 threads=%d", th + 1);
        hosm_config *sc = NULL;
        hosm_model *sm = NULL;
        hosm_sampler *s = NULL;
        memcpy(chains[th], data, sizeof data);
        CHECK(hosm_config_new(&sc) == HOSM_OK);
        CHECK(hosm_config_parse(sc, text) == HOSM_OK);
        CHECK(hosm_model_new(&sm, D, sc) == HOSM_OK);
        CHECK(hosm_sampler_new(&s, sm, sc) == HOSM_OK);
        CHECK(hosm_sampler_run(s, chains[th], N, NULL, NULL) == HOSM_OK);
        hosm_sampler_free(s);
        hosm_model_free(sm);
        hosm_config_free(sc);
    }
    CHECK(memcmp(chains[0], chains[1], sizeof chains[0]) == 0);

    printf("%s: %d failures\n", __FILE__, failures);
    return failures != 0;
}
