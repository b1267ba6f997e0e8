/*
 * objectives_experiment: the first-order objectives side by side
 * (docs/objectives.md): DSM, DSM-VR, SSM, SSM-VR and exact score matching
 * train the same network on the same Gaussian mixtures, and their score
 * error against the oracle is recorded at equal steps and against CPU time.
 *
 *   usage: objectives_experiment [options]
 *     --dims LIST        data dimensions D (default 2,8,32,128)
 *     --objectives LIST  from dsm dsm_vr ssm ssm_vr exact_sm (default all;
 *                        dsm runs first: its CPU time is the budget B)
 *     --targets LIST     "noisy" (default), "clean" or "noisy,clean"
 *     --steps S          Adam steps of a run (default 4000)
 *     --cap SECONDS      CPU seconds after which a run stops short of S
 *                        (default 60; 0 = none)
 *     --seeds N          training seeds 1..N (default 3)
 *     --sigma SIGMA      noise level of every model (default 0.1)
 *     --hidden N --depth N --act NAME --lr LR --batch N
 *                        the network and Adam (default 128, 2, softplus,
 *                        1e-3, 128)
 *     --ema DECAY        EMA decay of the evaluated weights (default
 *                        1 - 10 / S, at most 0.999)
 *     --raw-head 0|1     the raw_head key of model and trainer (default 0)
 *     --parameterization score|energy
 *                        the model of every run (default score): a score
 *                        network (the MLP's D outputs are s1 sigma) or an
 *                        energy model (the same MLP with one output E,
 *                        s1 = -grad_x E / sigma)
 *     --score-budget     before the runs of each D and seed, train the score
 *                        network with DSM too (rows with parameterization
 *                        "score"); its CPU time for its S steps is a second
 *                        budget B_s at which every later run also records a
 *                        checkpoint (for the energy models: equal time
 *                        against the score network in the same process)
 *     --ntrain N         clean training points per seed (default 65536)
 *     --ntest N          held-out test points per D (default 2048)
 *     --out PATH         the CSV (default objectives_experiment.csv)
 *     --quick            --dims 2,8 --steps 200 --seeds 1 --ntrain 4096
 *                        --ntest 512 (a smoke test, not a measurement)
 *
 * Targets. For each D one mixture of K = 6 Gaussians, drawn once from the
 * example's own RNG (splitmix64 seeded with 2000 + D, Box-Muller normals):
 * weights 1 : 2 : ... : 6; means N(0, s^2 I) with s = 4 / sqrt(2 D), so that
 * two means are about 4 apart in every D; covariances Q diag(l) Q^T with Q a
 * random orthonormal matrix and l log-uniform in [0.02, 0.5] (standard
 * deviations 0.14 to 0.71 along random axes).
 *
 * What is learned. "noisy": the score of q_sigma, the data blurred by
 * N(0, sigma^2 I). DSM and DSM-VR learn it by construction; SSM, SSM-VR and
 * exact SM learn it with ssm_noise=1 (they score-match x + sigma z). The
 * test points are ntest exact draws plus sigma z (z from the example's
 * RNG), the reference hosm_mixture_score(mix, sigma, ...). "clean": the
 * score-matching objectives on the clean data (ssm_noise=0) against the
 * clean score hosm_mixture_score(mix, 0, ...) at ntest clean draws; DSM and
 * DSM-VR rows measure how far their q_sigma score is from it, and a line on
 * stdout gives the error of the exact score of q_sigma there.
 *
 * Every run: a one-level model at sigma (the model seed and the trainer
 * seed are the training seed s, so all objectives start from the same
 * weights), trained by hosm_trainer_fit on ntrain exact draws
 * (hosm_mixture_sample, seed 100 s + D), threads=1, projections=1 with
 * Rademacher directions for SSM and SSM-VR. It stops after S steps or once
 * its training CPU time exceeds --cap. At checkpoints (a log grid of about
 * 8 a decade, every S / 8 steps, the end, and the last step before the
 * budget B) it records the training CPU time so far
 * (CLOCK_PROCESS_CPUTIME_ID, the checkpoints' own evaluations excluded)
 * and the errors of the EMA weights (hosm_trainer_copy_ema) and of the
 * current weights on the test points:
 *   pooled  sqrt(sum_i ||s_i - s*_i||^2 / sum_i ||s*_i||^2)
 *   mean    mean_i ||s_i - s*_i|| / ||s*_i||   (median: the median of it)
 * B, for each D and seed, is DSM's training CPU time for its S steps in the
 * same process and parameterization (with --score-budget, B_s is the score
 * network's). Rows go to the CSV, one per checkpoint, with the
 * parameterization in the last column (at_budget: 1 at the step before B,
 * 2 before B_s, 3 both); a line per run to stdout.
 * examples/objectives_experiment_tables.py makes the tables of
 * docs/objectives.md from one or more CSVs.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "experiment_util.h"

#include <hosm.h>

#define K 6
#define MAXLIST 16
#define NOBJ 5
#define MAXCHECK 256

static const char *const OBJECTIVES[NOBJ] = {"dsm", "dsm_vr", "ssm", "ssm_vr", "exact_sm"};


/* ---- small helpers ---------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- the targets ------------------------------------------------------------ */

static hosm_mixture *make_mixture(int64_t D)
{
    hosm_mixture *mix;
    TRY(random_mixture(K, D, (uint64_t)(2000 + D), &mix));
    return mix;
}

/* ---- options ---------------------------------------------------------------- */

typedef struct {
    int64_t dims[MAXLIST];
    int ndims, seeds, raw_head, score_budget;
    char objectives[128], targets[32], act[16], param[16];
    const char *out;
    int64_t steps, batch, hidden, depth, ntrain, ntest;
    double cap, sigma, lr, ema;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: objectives_experiment [--dims 2,8,32,128] "
            "[--objectives dsm,dsm_vr,ssm,ssm_vr,exact_sm] [--targets noisy|clean|noisy,clean] "
            "[--steps 4000] [--cap 60] [--seeds 3] [--sigma 0.1] [--hidden 128] [--depth 2] "
            "[--act softplus] [--lr 1e-3] [--batch 128] [--ema DECAY] [--raw-head 0|1] "
            "[--parameterization score|energy] [--score-budget] [--ntrain 65536] [--ntest 2048] "
            "[--out objectives_experiment.csv] [--quick]\n");
    exit(2);
}

static int parse_dims(const char *s, int64_t *out)
{
    int n = 0;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || n == MAXLIST || (*end && *end != ','))
            return -1;
        out[n++] = v;
        s = *end ? end + 1 : end;
    }
    return n;
}

static void parse_options(int argc, char **argv, options *o)
{
    *o = (options){.dims = {2, 8, 32, 128}, .ndims = 4, .seeds = 3,
                   .objectives = "dsm,dsm_vr,ssm,ssm_vr,exact_sm", .targets = "noisy",
                   .act = "softplus", .param = "score", .out = "objectives_experiment.csv",
                   .steps = 4000, .batch = 128, .hidden = 128, .depth = 2, .ntrain = 65536,
                   .ntest = 2048, .cap = 60.0, .sigma = 0.1, .lr = 1e-3, .ema = -1.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quick")) {
            o->ndims = parse_dims("2,8", o->dims);
            o->steps = 200;
            o->seeds = 1;
            o->ntrain = 4096;
            o->ntest = 512;
            continue;
        }
        if (!strcmp(a, "--score-budget")) {
            o->score_budget = 1;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--dims"))
            o->ndims = parse_dims(v, o->dims);
        else if (!strcmp(a, "--objectives"))
            snprintf(o->objectives, sizeof o->objectives, "%s", v);
        else if (!strcmp(a, "--targets"))
            snprintf(o->targets, sizeof o->targets, "%s", v);
        else if (!strcmp(a, "--steps"))
            o->steps = atoll(v);
        else if (!strcmp(a, "--cap"))
            o->cap = atof(v);
        else if (!strcmp(a, "--seeds"))
            o->seeds = atoi(v);
        else if (!strcmp(a, "--sigma"))
            o->sigma = atof(v);
        else if (!strcmp(a, "--hidden"))
            o->hidden = atoll(v);
        else if (!strcmp(a, "--depth"))
            o->depth = atoll(v);
        else if (!strcmp(a, "--act"))
            snprintf(o->act, sizeof o->act, "%s", v);
        else if (!strcmp(a, "--lr"))
            o->lr = atof(v);
        else if (!strcmp(a, "--batch"))
            o->batch = atoll(v);
        else if (!strcmp(a, "--ema"))
            o->ema = atof(v);
        else if (!strcmp(a, "--raw-head"))
            o->raw_head = atoi(v);
        else if (!strcmp(a, "--parameterization"))
            snprintf(o->param, sizeof o->param, "%s", v);
        else if (!strcmp(a, "--ntrain"))
            o->ntrain = atoll(v);
        else if (!strcmp(a, "--ntest"))
            o->ntest = atoll(v);
        else if (!strcmp(a, "--out"))
            o->out = v;
        else
            usage();
    }
    if (o->ndims < 1 || o->seeds < 1 || o->steps < 1 || o->batch < 1 || o->ntrain < 1 ||
        o->ntest < 1 || !(o->sigma > 0.0) || !(o->cap >= 0.0) || o->ema >= 1.0 ||
        (o->raw_head != 0 && o->raw_head != 1) ||
        (strcmp(o->param, "score") && strcmp(o->param, "energy")))
        usage();
    for (int j = 0; j < o->ndims; j++)
        if (o->dims[j] < 1 || o->dims[j] > 1024)
            usage();
    if (o->ema < 0.0) {
        o->ema = 1.0 - 10.0 / (double)o->steps;
        o->ema = o->ema > 0.999 ? 0.999 : o->ema < 0.0 ? 0.0 : o->ema;
    }
}

/* ---- one run ---------------------------------------------------------------- */

typedef struct {
    int64_t D, n;
    const float *x, *ref; /* test points and the exact scores there (n x D) */
} testset;

typedef struct {
    double pooled, mean, median;
} errors;

static errors score_errors(const hosm_model *m, const testset *ts, float *s, double *per)
{
    const int64_t D = ts->D, n = ts->n;
    TRY(hosm_model_score(m, 0, ts->x, n, s));
    double num = 0.0, den = 0.0, sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e2 = 0.0, r2 = 0.0;
        for (int64_t a = 0; a < D; a++) {
            double d = (double)s[i * D + a] - ts->ref[i * D + a];
            e2 += d * d;
            r2 += (double)ts->ref[i * D + a] * ts->ref[i * D + a];
        }
        num += e2;
        den += r2;
        per[i] = sqrt(e2 / r2);
        sum += per[i];
    }
    qsort(per, (size_t)n, sizeof *per, cmp_double);
    errors e = {sqrt(num / den), sum / (double)n,
                n % 2 ? per[n / 2] : 0.5 * (per[n / 2 - 1] + per[n / 2])};
    return e;
}

typedef struct {
    const options *o;
    const testset *ts;
    const char *target, *objective, *param;
    int seed;
    hosm_model *model, *ema_model;
    hosm_trainer *trainer;
    FILE *csv;
    double t0, eval_cpu;   /* process CPU at the start; CPU spent in evaluations */
    double budget[2];      /* B and B_s (0: none) */
    int budget_done[2], capped;
    int64_t checks[MAXCHECK];
    int nchecks, next_check;
    float *s;
    double *per;
    double train_cpu, last_loss;
    errors last_ema;
    int64_t last_step;
} run;

static void record(run *r, int64_t step, double train, int at_budget, int end)
{
    const double e0 = cpu_now();
    errors fin = score_errors(r->model, r->ts, r->s, r->per);
    TRY(hosm_trainer_copy_ema(r->trainer, r->ema_model));
    errors ema = score_errors(r->ema_model, r->ts, r->s, r->per);
    fprintf(r->csv,
            "%s,%lld,%s,%d,%lld,%.6f,%.6f,%d,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%s\n",
            r->target, (long long)r->ts->D, r->objective, r->seed, (long long)step, train,
            r->budget[0], at_budget, end, r->capped, ema.pooled, ema.mean, ema.median,
            fin.pooled, fin.mean, fin.median, r->last_loss, r->param);
    fflush(r->csv);
    r->last_ema = ema;
    r->eval_cpu += cpu_now() - e0;
}

static int on_step(int64_t step, double loss, void *user)
{
    run *r = user;
    const double train = cpu_now() - r->t0 - r->eval_cpu;
    r->train_cpu = train;
    r->last_loss = loss;
    r->last_step = step;
    const int stop = r->o->cap > 0.0 && train > r->o->cap && step < r->o->steps;
    /* The last step before B (and B_s), predicted from the mean time of a
     * step so far. */
    int at_budget = 0;
    for (int b = 0; b < 2; b++)
        if (r->budget[b] > 0.0 && !r->budget_done[b] &&
            train + 1.5 * train / (double)step > r->budget[b]) {
            at_budget |= 1 << b;
            r->budget_done[b] = 1;
        }
    int check = 0;
    while (r->next_check < r->nchecks && r->checks[r->next_check] <= step)
        check |= r->checks[r->next_check++] == step;
    if (stop)
        r->capped = 1;
    if (check || at_budget || stop || step == r->o->steps)
        record(r, step, train, at_budget, stop || step == r->o->steps);
    return stop;
}

/* The checkpoints: about 8 a decade from step 1, every S / 8 steps, and S. */
static int make_checks(int64_t S, int64_t *c)
{
    int n = 0;
    for (int k = 0; n < MAXCHECK - 9; k++) {
        int64_t s = (int64_t)floor(pow(10.0, k / 8.0) + 0.5);
        if (s > S)
            break;
        c[n++] = s;
    }
    for (int j = 1; j <= 8; j++)
        c[n++] = S * j / 8 > 0 ? S * j / 8 : 1;
    qsort(c, (size_t)n, sizeof *c, cmp_i64);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || c[i] > c[m - 1])
            c[m++] = c[i];
    return m;
}

typedef struct {
    double train_cpu;
    int64_t steps;
    int capped;
    errors ema;
} outcome;

static outcome run_one(const options *o, const testset *ts, const char *target,
                       const char *param, const char *objective, int seed, const float *data,
                       double budget, double score_budget, FILE *csv)
{
    char text[512];
    snprintf(text, sizeof text,
             "hidden=%lld depth=%lld act=%s sigma=%.17g objective=%s projections=1 "
             "projection=rademacher ssm_noise=%d raw_head=%d lr=%.17g batch=%lld steps=%lld "
             "ema=%.17g seed=%d threads=1 parameterization=%s",
             (long long)o->hidden, (long long)o->depth, o->act, o->sigma, objective,
             strcmp(target, "noisy") == 0, o->raw_head, o->lr, (long long)o->batch,
             (long long)o->steps, o->ema, seed, param);
    hosm_config *cfg;
    TRY(hosm_config_new(&cfg));
    TRY(hosm_config_parse(cfg, text));
    run r = {.o = o, .ts = ts, .target = target, .objective = objective, .param = param,
             .seed = seed, .csv = csv, .budget = {budget, score_budget}};
    TRY(hosm_model_new(&r.model, ts->D, cfg));
    TRY(hosm_model_new(&r.ema_model, ts->D, cfg));
    TRY(hosm_trainer_new(&r.trainer, r.model, cfg));
    hosm_config_free(cfg);
    r.nchecks = make_checks(o->steps, r.checks);
    r.s = xmalloc(sizeof(float) * (size_t)(ts->n * ts->D));
    r.per = xmalloc(sizeof(double) * (size_t)ts->n);
    r.t0 = cpu_now();
    TRY(hosm_trainer_fit(r.trainer, data, o->ntrain, on_step, &r));
    outcome out = {r.train_cpu, r.last_step, r.capped, r.last_ema};
    hosm_trainer_free(r.trainer);
    hosm_model_free(r.model);
    hosm_model_free(r.ema_model);
    free(r.s);
    free(r.per);
    return out;
}

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    FILE *csv = fopen(o.out, "w");
    if (!csv) {
        fprintf(stderr, "objectives_experiment: cannot write %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    fprintf(csv, "target,D,objective,seed,steps,cpu_seconds,budget_seconds,at_budget,end,capped,"
                 "ema_pooled,ema_mean,ema_median,final_pooled,final_mean,final_median,loss,"
                 "parameterization\n");
    printf("libhosm %s objectives_experiment: %s model%s, K=%d mixtures, sigma=%g, S=%lld steps "
           "(cap %g CPU s), batch=%lld hidden=%lld depth=%lld act=%s lr=%g ema=%g raw_head=%d "
           "ntrain=%lld ntest=%lld seeds 1..%d; CPU seconds of training, one thread\n",
           hosm_version_string(), o.param, o.score_budget ? " (and score DSM for B_s)" : "", K,
           o.sigma, (long long)o.steps, o.cap, (long long)o.batch, (long long)o.hidden,
           (long long)o.depth, o.act, o.lr, o.ema, o.raw_head, (long long)o.ntrain,
           (long long)o.ntest, o.seeds);
    const double start = cpu_now();
    static const char *const TARGETS[2] = {"noisy", "clean"};
    for (int ti = 0; ti < 2; ti++) {
        if (!in_list(o.targets, TARGETS[ti]))
            continue;
        for (int di = 0; di < o.ndims; di++) {
            const int64_t D = o.dims[di], n = o.ntest;
            hosm_mixture *mix = make_mixture(D);
            float *x = xmalloc(sizeof(float) * (size_t)(n * D));
            float *ref = xmalloc(sizeof(float) * (size_t)(n * D));
            float *data = xmalloc(sizeof(float) * (size_t)(o.ntrain * D));
            TRY(hosm_mixture_sample(mix, 777000 + (uint64_t)D, n, x));
            double ref_sigma = 0.0;
            if (ti == 0) {
                xrng r = {(uint64_t)(555000 + D), 0, 0.0};
                for (int64_t i = 0; i < n * D; i++)
                    x[i] += (float)(o.sigma * xrng_normal(&r));
                ref_sigma = o.sigma;
            }
            TRY(hosm_mixture_score(mix, ref_sigma, x, n, ref));
            testset ts = {D, n, x, ref};
            if (ti == 1) { /* how far DSM's own target is from the clean score */
                float *qs = xmalloc(sizeof(float) * (size_t)(n * D));
                double num = 0.0, den = 0.0, sum = 0.0;
                TRY(hosm_mixture_score(mix, o.sigma, x, n, qs));
                for (int64_t i = 0; i < n; i++) {
                    double e2 = 0.0, r2 = 0.0;
                    for (int64_t a = 0; a < D; a++) {
                        double d = (double)qs[i * D + a] - ref[i * D + a];
                        e2 += d * d;
                        r2 += (double)ref[i * D + a] * ref[i * D + a];
                    }
                    num += e2;
                    den += r2;
                    sum += sqrt(e2 / r2);
                }
                printf("clean D=%lld: the exact score of q_sigma against the clean score: "
                       "pooled %.4f mean %.4f\n",
                       (long long)D, sqrt(num / den), sum / (double)n);
                free(qs);
            }
            for (int seed = 1; seed <= o.seeds; seed++) {
                TRY(hosm_mixture_sample(mix, 100 * (uint64_t)seed + (uint64_t)D, o.ntrain, data));
                double budget = 0.0, score_budget = 0.0;
                for (int k = o.score_budget ? -1 : 0; k < NOBJ; k++) {
                    const char *param = k < 0 ? "score" : o.param;
                    const char *obj = OBJECTIVES[k < 0 ? 0 : k];
                    if (k >= 0 && !in_list(o.objectives, obj))
                        continue;
                    outcome out = run_one(&o, &ts, TARGETS[ti], param, obj, seed, data, budget,
                                          score_budget, csv);
                    if (k == -1 && !out.capped)
                        score_budget = out.train_cpu;
                    if (k == 0 && !out.capped)
                        budget = out.train_cpu;
                    printf("%s D=%lld %-6s %-8s seed %d: %lld steps%s, %.2f CPU s (%.3f ms/step), "
                           "error pooled %.4f mean %.4f median %.4f\n",
                           TARGETS[ti], (long long)D, param, obj, seed,
                           (long long)out.steps, out.capped ? " (capped)" : "", out.train_cpu,
                           1e3 * out.train_cpu / (double)out.steps, out.ema.pooled, out.ema.mean,
                           out.ema.median);
                    fflush(stdout);
                }
            }
            free(x);
            free(ref);
            free(data);
            hosm_mixture_free(mix);
        }
    }
    fclose(csv);
    printf("total CPU %.1f s; wrote %s\n", cpu_now() - start, o.out);
    return 0;
}
