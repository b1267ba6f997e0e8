/* hosm_mpi_check: the single-process reference of hosm_mpi_train and checks
 * of its checkpoints (the tests of suite 'mpi'; no MPI here).
 *
 *   hosm_mpi_check replay --schedule R1:S1,R2:S2,... --compare CKPT [--tol T] [shared options]
 *       Replays a data-parallel run in one process: steps [0, S1) as R1 ranks
 *       drew them, [S1, S2) as R2 ranks, ...: at each step the global
 *       minibatch of hosm_trainer_batch_indices, the levels and noise every
 *       rank drew for its shard, concatenated, and one hosm_trainer_gradient
 *       over the whole batch (its mean loss), applied with
 *       hosm_trainer_apply_gradient. Then compares the weights and the EMA
 *       with the checkpoint: |a - b| <= T (1 + |b|) for every parameter
 *       (default T = 1e-5), and the step counts exactly.
 *   hosm_mpi_check same A B [shared options]
 *       Checkpoints A and B are byte for byte the same (weights, Adam
 *       moments, EMA, step count, RNG state).
 *   hosm_mpi_check close A B [--tol T] [shared options]
 *       The weights and EMA of checkpoints A and B agree to T as above, and
 *       their step counts exactly.
 *   hosm_mpi_check step CKPT S [shared options]
 *       CKPT loads into a trainer of the config's model and its step count is S.
 *
 * The shared options (common.h) give the config, the data and the noise mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "hosm_mpi_check: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    exit(1);
}

static void check_hosm(int st, const char *what)
{
    if (st < 0)
        fail("%s: %s", what, hosm_last_errmsg());
}

typedef struct env {
    mpi_opts o;
    hosm_config *cfg;
    int64_t dim;
} env;

static hosm_trainer *new_trainer(const env *e, hosm_model **model)
{
    hosm_trainer *t = NULL;
    check_hosm(hosm_model_new(model, e->dim, e->cfg), "creating the model");
    check_hosm(hosm_trainer_new(&t, *model, e->cfg), "creating the trainer");
    return t;
}

static unsigned char *ckpt_bytes(const env *e, const char *path, int64_t *size)
{
    hosm_model *m;
    hosm_trainer *t = new_trainer(e, &m);
    check_hosm(hosm_trainer_load(t, path), path);
    check_hosm(hosm_trainer_save_size(t, size), "checkpoint size");
    unsigned char *buf = malloc((size_t)*size);
    if (!buf)
        fail("%s%s", "out of memory", "");
    check_hosm(hosm_trainer_save_mem(t, buf, *size, NULL), "serialising");
    hosm_trainer_free(t);
    hosm_model_free(m);
    return buf;
}

static int cmd_same(const env *e, const char *a, const char *b)
{
    int64_t na, nb;
    unsigned char *x = ckpt_bytes(e, a, &na), *y = ckpt_bytes(e, b, &nb);
    const int same = na == nb && memcmp(x, y, (size_t)na) == 0;
    printf("%s and %s: %s\n", a, b, same ? "identical" : "DIFFERENT");
    free(x);
    free(y);
    return same ? 0 : 1;
}

static int cmd_step(const env *e, const char *path, const char *expect)
{
    hosm_model *m;
    hosm_trainer *t = new_trainer(e, &m);
    int64_t step;
    check_hosm(hosm_trainer_load(t, path), path);
    check_hosm(hosm_trainer_step_count(t, &step), "step count");
    const int ok = step == strtoll(expect, NULL, 10);
    printf("%s loads: step %lld (expected %s)\n", path, (long long)step, expect);
    hosm_trainer_free(t);
    hosm_model_free(m);
    return ok ? 0 : 1;
}

/* Max |a - b| and whether |a - b| <= tol (1 + |b|) everywhere. */
static int compare(const char *what, const float *a, const float *b, int64_t P, double tol)
{
    double maxabs = 0, maxrel = 0;
    int ok = 1;
    for (int64_t i = 0; i < P; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        maxabs = d > maxabs ? d : maxabs;
        const double r = d / (1 + fabs((double)b[i]));
        maxrel = r > maxrel ? r : maxrel;
        ok &= r <= tol;
    }
    printf("%s: max |diff| %.3g, max |diff| / (1 + |w|) %.3g (tolerance %.3g): %s\n", what, maxabs,
           maxrel, tol, ok ? "match" : "MISMATCH");
    return ok;
}

static int cmd_close(const env *e, const char *a, const char *b, double tol)
{
    hosm_model *ma, *mb, *ea, *eb;
    hosm_trainer *ta = new_trainer(e, &ma), *tb = new_trainer(e, &mb);
    check_hosm(hosm_trainer_load(ta, a), a);
    check_hosm(hosm_trainer_load(tb, b), b);
    int64_t P, sa, sb;
    check_hosm(hosm_model_num_params(ma, &P), "parameter count");
    check_hosm(hosm_trainer_step_count(ta, &sa), "step count");
    check_hosm(hosm_trainer_step_count(tb, &sb), "step count");
    printf("step count: %s %lld, %s %lld\n", a, (long long)sa, b, (long long)sb);
    float *x = malloc((size_t)P * sizeof *x), *y = malloc((size_t)P * sizeof *y);
    if (!x || !y)
        fail("%s%s", "out of memory", "");
    check_hosm(hosm_model_get_params(ma, x, P), "weights");
    check_hosm(hosm_model_get_params(mb, y, P), "weights");
    int ok = sa == sb;
    ok &= compare("weights", x, y, P, tol);
    check_hosm(hosm_model_new(&ea, e->dim, e->cfg), "model");
    check_hosm(hosm_model_new(&eb, e->dim, e->cfg), "model");
    check_hosm(hosm_trainer_copy_ema(ta, ea), "EMA");
    check_hosm(hosm_trainer_copy_ema(tb, eb), "EMA");
    check_hosm(hosm_model_get_params(ea, x, P), "weights");
    check_hosm(hosm_model_get_params(eb, y, P), "weights");
    ok &= compare("EMA", x, y, P, tol);
    hosm_trainer_free(ta);
    hosm_trainer_free(tb);
    hosm_model_free(ma);
    hosm_model_free(mb);
    hosm_model_free(ea);
    hosm_model_free(eb);
    free(x);
    free(y);
    return ok ? 0 : 1;
}

static int cmd_replay(const env *e, const char *schedule, const char *ckpt, double tol)
{
    char err[512];
    float *data;
    int64_t n, D, B, P;
    if (mpi_data_load(&e->o, &data, &n, &D, err, sizeof err))
        fail("%s%s", err, "");
    hosm_model *model, *ref_ema, *mpi_model, *mpi_ema;
    hosm_trainer *t = new_trainer(e, &model);
    check_hosm(hosm_config_get_int(e->cfg, HOSM_KEY_BATCH, &B), "batch");
    B = B < n ? B : n;
    check_hosm(hosm_model_num_params(model, &P), "parameter count");
    mpi_noise nz;
    if (mpi_noise_init(&nz, e->cfg, D, e->o.noise, err, sizeof err))
        fail("%s%s", err, "");
    int64_t *idx = malloc((size_t)B * sizeof *idx), *levels = malloc((size_t)B * sizeof *levels);
    float *x = malloc((size_t)(B * D) * sizeof *x), *noise = malloc((size_t)(B * D) * sizeof *x);
    float *grad = malloc((size_t)P * sizeof *grad), *other = malloc((size_t)P * sizeof *grad);
    if (!idx || !levels || !x || !noise || !grad || !other)
        fail("%s%s", "out of memory", "");

    int64_t step = 0;
    for (const char *p = schedule; *p;) {
        char *end;
        const long long R = strtoll(p, &end, 10);
        if (*end != ':' || R < 1)
            fail("bad --schedule '%s'%s", schedule, "");
        const long long until = strtoll(end + 1, &end, 10);
        if ((*end && *end != ',') || until < step)
            fail("bad --schedule '%s'%s", schedule, "");
        p = *end ? end + 1 : end;
        for (; step < until; step++) {
            int64_t count;
            check_hosm(hosm_trainer_batch_indices(t, n, step, idx, &count), "batch indices");
            for (int64_t i = 0; i < count; i++)
                memcpy(x + i * D, data + idx[i] * D, (size_t)D * sizeof(float));
            for (int64_t r = 0; r < R; r++) {
                int64_t lo, hi;
                check_hosm(hosm_shard(count, R, r, &lo, &hi), "shard");
                if (mpi_noise_draw(&nz, step, R, r, lo, hi, noise + lo * D, levels + lo, err,
                                   sizeof err))
                    fail("%s%s", err, "");
            }
            double loss;
            check_hosm(hosm_trainer_gradient(t, x, noise, levels, count, &loss, grad), "gradient");
            check_hosm(hosm_trainer_apply_gradient(t, grad, P), "apply");
        }
    }
    printf("replayed %lld steps of schedule %s\n", (long long)step, schedule);

    hosm_trainer *mt = new_trainer(e, &mpi_model);
    check_hosm(hosm_trainer_load(mt, ckpt), ckpt);
    int64_t mstep;
    check_hosm(hosm_trainer_step_count(mt, &mstep), "step count");
    int ok = mstep == step;
    printf("step count: reference %lld, %s %lld\n", (long long)step, ckpt, (long long)mstep);
    check_hosm(hosm_model_get_params(model, grad, P), "weights");
    check_hosm(hosm_model_get_params(mpi_model, other, P), "weights");
    ok &= compare("weights", other, grad, P, tol);
    check_hosm(hosm_model_new(&ref_ema, D, e->cfg), "model");
    check_hosm(hosm_model_new(&mpi_ema, D, e->cfg), "model");
    check_hosm(hosm_trainer_copy_ema(t, ref_ema), "EMA");
    check_hosm(hosm_trainer_copy_ema(mt, mpi_ema), "EMA");
    check_hosm(hosm_model_get_params(ref_ema, grad, P), "weights");
    check_hosm(hosm_model_get_params(mpi_ema, other, P), "weights");
    ok &= compare("EMA", other, grad, P, tol);

    mpi_noise_free(&nz);
    hosm_trainer_free(t);
    hosm_trainer_free(mt);
    hosm_model_free(model);
    hosm_model_free(mpi_model);
    hosm_model_free(ref_ema);
    hosm_model_free(mpi_ema);
    free(data);
    free(idx);
    free(levels);
    free(x);
    free(noise);
    free(grad);
    free(other);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    env e;
    mpi_opts_default(&e.o);
    const char *pos[3] = {NULL, NULL, NULL}, *schedule = NULL, *ckpt = NULL;
    double tol = 1e-5;
    int npos = 0;
    char err[512];
    for (int i = 1; i < argc; i++) {
        int r = mpi_opts_arg(&e.o, argc, argv, &i, err, sizeof err);
        if (r < 0)
            fail("%s%s", err, "");
        if (r)
            continue;
        if (!strcmp(argv[i], "--schedule") && i + 1 < argc)
            schedule = argv[++i];
        else if (!strcmp(argv[i], "--compare") && i + 1 < argc)
            ckpt = argv[++i];
        else if (!strcmp(argv[i], "--tol") && i + 1 < argc)
            tol = strtod(argv[++i], NULL);
        else if (argv[i][0] != '-' && npos < 3)
            pos[npos++] = argv[i];
        else
            fail("unknown argument %s%s", argv[i], "");
    }
    if (e.o.dim < 1)
        fail("%s%s", "--dim is required", "");
    e.dim = e.o.dim;
    if (!(e.cfg = mpi_config(&e.o, err, sizeof err)))
        fail("%s%s", err, "");
    int rc;
    if (npos == 1 && !strcmp(pos[0], "replay") && schedule && ckpt)
        rc = cmd_replay(&e, schedule, ckpt, tol);
    else if (npos == 3 && !strcmp(pos[0], "same"))
        rc = cmd_same(&e, pos[1], pos[2]);
    else if (npos == 3 && !strcmp(pos[0], "close"))
        rc = cmd_close(&e, pos[1], pos[2], tol);
    else if (npos == 3 && !strcmp(pos[0], "step"))
        rc = cmd_step(&e, pos[1], pos[2]);
    else {
        fprintf(stderr, "usage: hosm_mpi_check replay --schedule R1:S1,... --compare CKPT "
                        "[--tol T] | same A B | close A B [--tol T] | step CKPT S  [options]\n%s", mpi_opts_usage);
        rc = 2;
    }
    hosm_config_free(e.cfg);
    return rc;
}
