/*
 * accuracy: is a directly learned s2 more accurate, and cheaper to query,
 * than the Jacobian of a DSM-trained s1?  (Meng et al. 2021, docs/math.md#6-the-autodiff-baseline.)
 *
 *   usage: accuracy [options]
 *     --dims 2,8,32         data dimensions D
 *     --sigmas 0.05,0.1,0.3 noise levels sigma (one model per sigma)
 *     --seeds 3             training seeds per (D, sigma): 1..seeds
 *     --steps 2500          Adam steps of every model
 *     --batch 128           points per step
 *     --hidden 128          MLP width of s1 and of s2
 *     --depth 3             hidden layers of s1 and of s2
 *     --act silu            activation
 *     --lr 2e-3             Adam learning rate
 *     --ntrain 32768        clean training points per seed
 *     --ntest 2048          held-out noisy test points per (D, sigma)
 *     --reps 5              repetitions of each timed query (median taken)
 *     --methods abc         which rows: a, b, c below; d = diag, l = lowrank
 *     --extra               also d and l at the largest D
 *     --quick               --dims 2,8 --sigmas 0.1 --seeds 1 --steps 300
 * The defaults are the full run of docs/accuracy.md (with --extra).
 *
 * The targets. For each D, a mixture of K = 4 Gaussians drawn once from the
 * example's own RNG (splitmix64 seeded with 1000 + D, Box-Muller normals):
 *   weights  1, 2, 3, 4 (normalised: 0.1 .. 0.4);
 *   means    N(0, s^2 I) with s = 4 / sqrt(2 D), so two means are about 4
 *            apart in every D;
 *   covs     Q diag(l) Q^T with Q orthonormal (Gram-Schmidt of a Gaussian
 *            matrix) and l log-uniform in [0.02, 0.5] (standard deviations
 *            0.14 .. 0.71 along random axes: anisotropic and rotated).
 * Training data: ntrain exact draws, hosm_mixture_sample(seed = 100 * s + D)
 * for training seed s. Test data: ntest exact draws with a seed of their own
 * plus sigma z (z from the example's RNG), the same for every training seed.
 *
 * The models, all at one noise level sigma, with the same width, depth,
 * activation, steps, batch, learning rate, data and trainer seed:
 *   (a) dsm       s1 only (s2=none), DSM;
 *   (b) d2sm      s1 and a full s2 trained jointly, DSM + D2SM (w1 = 1);
 *   (c) d2sm_vr   the same with D2SM-VR;
 *   extra rows (--extra) at the largest D: diag and lowrank (rank 8) s2 by
 *   D2SM-VR.
 * The weights evaluated are the EMA (decay 1 - 10 / steps, capped at 0.999,
 * so that the initial weights have faded to e^-10 by the end).
 *
 * What is measured on the test points, against the oracle:
 *   s1 err     sqrt(sum ||s1 - s1_exact||^2 / sum ||s1_exact||^2)
 *   s2 err     sqrt(sum ||H - s2_exact||_F^2 / sum ||s2_exact||_F^2), where H
 *              is hosm_model_score_jacobian (raw) for (a) and
 *              hosm_model_hessian for the others;
 *   sym        the same for the symmetrised Jacobian (J + J^T) / 2;
 *   J(own s1)  the raw Jacobian of the model's own s1 (to separate the effect
 *              of joint training on s1 from the s2 network itself);
 *   diag err   the same on the diagonals only (jacobian_diag / hessian_diag);
 *   t(H), t(diag) the time per query point of that H (or its diagonal), the
 *              median of --reps calls on all test points, 1 BLIS thread;
 *              "x J" is the speed-up over (a)'s Jacobian in the same run;
 *   train s    wall-clock seconds of hosm_trainer_fit (median over seeds).
 * The first-order loss is DSM in every row (objective=dsm).
 * Errors are mean, std and [min, max] over seeds; times the median over seeds.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hosm.h>

#include "experiment_util.h"

#define K 4
#define MAXLIST 16
#define MAXSEEDS 64
#define LOWRANK_R 8


/* ---- small helpers (the others: experiment_util.h) ------------------------ */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the targets ----------------------------------------------------------- */

static hosm_mixture *make_mixture(int64_t D)
{
    hosm_mixture *mix;
    TRY(random_mixture(K, D, (uint64_t)(1000 + D), &mix));
    return mix;
}

/* ---- options --------------------------------------------------------------- */

typedef struct {
    int64_t dims[MAXLIST];
    int ndims;
    double sigmas[MAXLIST];
    int nsigmas;
    int seeds, reps, extra;
    char act[16], methods[8];
    int64_t steps, batch, hidden, depth, ntrain, ntest;
    double lr;
} options;

static int parse_list(const char *s, double *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtod(s, &end);
        if (end == s)
            return -1;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: accuracy [--dims 2,8,32] [--sigmas 0.05,0.1,0.3] [--seeds 3] "
                    "[--steps 2500] [--batch 128] [--hidden 128] [--depth 3] [--act silu] "
                    "[--lr 2e-3] [--ntrain 32768] [--ntest 2048] [--reps 5] [--methods abc] "
                    "[--extra] [--quick]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, options *o)
{
    *o = (options){.dims = {2, 8, 32}, .ndims = 3, .sigmas = {0.05, 0.1, 0.3}, .nsigmas = 3,
                   .seeds = 3, .reps = 5, .steps = 2500, .batch = 128, .hidden = 128,
                   .depth = 3, .ntrain = 32768, .ntest = 2048, .lr = 2e-3,
                   .act = "silu", .methods = "abc"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double tmp[MAXLIST];
        if (!strcmp(a, "--extra")) {
            o->extra = 1;
            continue;
        }
        if (!strcmp(a, "--quick")) {
            o->ndims = 2;
            o->dims[0] = 2;
            o->dims[1] = 8;
            o->nsigmas = 1;
            o->sigmas[0] = 0.1;
            o->seeds = 1;
            o->steps = 300;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--dims")) {
            o->ndims = parse_list(v, tmp, MAXLIST);
            for (int j = 0; j < o->ndims; j++)
                o->dims[j] = (int64_t)tmp[j];
        } else if (!strcmp(a, "--sigmas")) {
            o->nsigmas = parse_list(v, o->sigmas, MAXLIST);
        } else if (!strcmp(a, "--seeds")) {
            o->seeds = atoi(v);
        } else if (!strcmp(a, "--steps")) {
            o->steps = atoll(v);
        } else if (!strcmp(a, "--batch")) {
            o->batch = atoll(v);
        } else if (!strcmp(a, "--hidden")) {
            o->hidden = atoll(v);
        } else if (!strcmp(a, "--depth")) {
            o->depth = atoll(v);
        } else if (!strcmp(a, "--lr")) {
            o->lr = atof(v);
        } else if (!strcmp(a, "--ntrain")) {
            o->ntrain = atoll(v);
        } else if (!strcmp(a, "--ntest")) {
            o->ntest = atoll(v);
        } else if (!strcmp(a, "--act")) {
            snprintf(o->act, sizeof o->act, "%s", v);
        } else if (!strcmp(a, "--methods")) {
            snprintf(o->methods, sizeof o->methods, "%s", v);
        } else if (!strcmp(a, "--reps")) {
            o->reps = atoi(v);
        } else {
            usage();
        }
    }
    if (o->ndims < 1 || o->nsigmas < 1 || o->seeds < 1 || o->seeds > MAXSEEDS || o->reps < 1 ||
        o->steps < 1 || o->batch < 1 || o->ntrain < 1 || o->ntest < 1)
        usage();
    for (int j = 0; j < o->ndims; j++)
        if (o->dims[j] < 1 || o->dims[j] > 256)
            usage();
    for (int j = 0; j < o->nsigmas; j++)
        if (!(o->sigmas[j] > 0.0))
            usage();
}

/* ---- one method ------------------------------------------------------------ */

enum { M_DSM, M_D2SM, M_D2SM_VR, M_DIAG, M_LOWRANK, NMETHODS };
static const char *const METHOD_NAME[NMETHODS] = {
    "(a) DSM, Jacobian of s1", "(b) D2SM, full s2", "(c) D2SM-VR, full s2",
    "D2SM-VR, diag s2", "D2SM-VR, lowrank s2 (r=8)"};

/* Results of one trained model. */
typedef struct {
    double s1, s2, sym, jown, diag; /* relative errors (sym: (a) only) */
    double t_full, t_diag;          /* seconds per point */
    double train;                   /* seconds */
} result;

typedef struct {
    int64_t D, n;
    double sigma;
    const float *x, *s1e, *s2e; /* test points, exact s1 (n x D), exact s2 (n x D x D) */
    double s1n, s2n, dgn;       /* sums of squares of the exact values */
} testset;

static double rel_err(const float *a, const float *e, int64_t n, double den)
{
    double num = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - e[i];
        num += d * d;
    }
    return sqrt(num / den);
}

static double rel_err_diag(const float *dg, const testset *ts)
{
    const int64_t D = ts->D;
    double num = 0.0;
    for (int64_t i = 0; i < ts->n; i++)
        for (int64_t a = 0; a < D; a++) {
            double d = (double)dg[i * D + a] - ts->s2e[(i * D + a) * D + a];
            num += d * d;
        }
    return sqrt(num / ts->dgn);
}

typedef int (*query_fn)(const hosm_model *, const float *, int64_t, float *);

static int q_jac(const hosm_model *m, const float *x, int64_t n, float *out)
{
    return hosm_model_score_jacobian(m, 0, x, n, 0, out);
}
static int q_jacdiag(const hosm_model *m, const float *x, int64_t n, float *out)
{
    return hosm_model_score_jacobian_diag(m, 0, x, n, out);
}
static int q_hess(const hosm_model *m, const float *x, int64_t n, float *out)
{
    return hosm_model_hessian(m, 0, x, n, out);
}
static int q_hessdiag(const hosm_model *m, const float *x, int64_t n, float *out)
{
    return hosm_model_hessian_diag(m, 0, x, n, out);
}

/* Median over reps of one query on all test points, per point. */
static double time_query(query_fn f, const hosm_model *m, const testset *ts, int reps, float *out)
{
    double t[64];
    reps = reps > 64 ? 64 : reps;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        TRY(f(m, ts->x, ts->n, out));
        t[r] = (now() - t0) / (double)ts->n;
    }
    return median(t, reps);
}

static result run_method(int method, const options *o, const testset *ts, const float *data,
                         int seed)
{
    const int64_t D = ts->D, n = ts->n;
    double ema = 1.0 - 10.0 / (double)o->steps;
    ema = ema > 0.999 ? 0.999 : ema < 0.0 ? 0.0 : ema;
    char text[512];
    static const char *const s2[NMETHODS] = {"none", "full", "full", "diag", "lowrank"};
    static const char *const obj2[NMETHODS] = {"d2sm", "d2sm", "d2sm_vr", "d2sm_vr", "d2sm_vr"};
    snprintf(text, sizeof text,
             "hidden=%lld depth=%lld act=%s sigma=%.17g objective=dsm s2=%s "
             "s2_objective=%s rank=%d w1=1 lr=%.17g batch=%lld steps=%lld ema=%.17g seed=%d "
             "threads=1 raw_head=0", /* the setting the tables of accuracy.md were made with */
             (long long)o->hidden, (long long)o->depth, o->act, ts->sigma, s2[method], obj2[method],
             LOWRANK_R, o->lr, (long long)o->batch, (long long)o->steps, ema, seed);
    hosm_config *cfg;
    hosm_model *m;
    hosm_trainer *t;
    TRY(hosm_config_new(&cfg));
    TRY(hosm_config_parse(cfg, text));
    TRY(hosm_model_new(&m, D, cfg));
    TRY(hosm_trainer_new(&t, m, cfg));
    result r = {0};
    double t0 = now();
    TRY(hosm_trainer_fit(t, data, o->ntrain, NULL, NULL));
    r.train = now() - t0;
    TRY(hosm_trainer_copy_ema(t, m)); /* evaluate the EMA weights */
    hosm_trainer_free(t);
    hosm_config_free(cfg);

    float *s1 = xmalloc(sizeof(float) * n * D), *h = xmalloc(sizeof(float) * n * D * D);
    float *dg = xmalloc(sizeof(float) * n * D);
    TRY(hosm_model_score(m, 0, ts->x, n, s1));
    r.s1 = rel_err(s1, ts->s1e, n * D, ts->s1n);
    /* The Jacobian of the model's own s1 (every model has one). */
    TRY(hosm_model_score_jacobian(m, 0, ts->x, n, 0, h));
    r.jown = rel_err(h, ts->s2e, n * D * D, ts->s2n);
    if (method == M_DSM) {
        r.s2 = r.jown;
        TRY(hosm_model_score_jacobian(m, 0, ts->x, n, 1, h));
        r.sym = rel_err(h, ts->s2e, n * D * D, ts->s2n);
        TRY(hosm_model_score_jacobian_diag(m, 0, ts->x, n, dg));
        r.diag = rel_err_diag(dg, ts);
        r.t_full = time_query(q_jac, m, ts, o->reps, h);
        r.t_diag = time_query(q_jacdiag, m, ts, o->reps, dg);
    } else {
        TRY(hosm_model_hessian(m, 0, ts->x, n, h));
        r.s2 = rel_err(h, ts->s2e, n * D * D, ts->s2n);
        r.sym = NAN;
        TRY(hosm_model_hessian_diag(m, 0, ts->x, n, dg));
        r.diag = rel_err_diag(dg, ts);
        r.t_full = time_query(q_hess, m, ts, o->reps, h);
        r.t_diag = time_query(q_hessdiag, m, ts, o->reps, dg);
    }
    free(s1);
    free(h);
    free(dg);
    hosm_model_free(m);
    return r;
}

/* ---- statistics and printing ----------------------------------------------- */

typedef struct {
    double mean, sd, lo, hi;
} stat;

static stat stats(const double *v, int n)
{
    stat s = {0.0, 0.0, INFINITY, -INFINITY};
    for (int i = 0; i < n; i++) {
        s.mean += v[i] / n;
        s.lo = v[i] < s.lo ? v[i] : s.lo;
        s.hi = v[i] > s.hi ? v[i] : s.hi;
    }
    for (int i = 0; i < n; i++)
        s.sd += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = n > 1 ? sqrt(s.sd / (n - 1)) : 0.0;
    return s;
}

static void fmt_stat(char *buf, size_t cap, const double *v, int n, int range)
{
    stat s = stats(v, n);
    if (isnan(s.mean))
        snprintf(buf, cap, "-");
    else if (range && n > 1)
        snprintf(buf, cap, "%.3f ± %.3f [%.3f–%.3f]", s.mean, s.sd, s.lo, s.hi);
    else if (n > 1)
        snprintf(buf, cap, "%.3f ± %.3f", s.mean, s.sd);
    else
        snprintf(buf, cap, "%.3f", s.mean);
}

static void print_row(int64_t D, double sigma, int method, result *res, int seeds,
                      double tjac_full, double tjac_diag)
{
    double v[MAXSEEDS];
    char s1[64], s2[80], sym[64], jown[64], dg[64];
#define COLLECT(field) for (int s = 0; s < seeds; s++) v[s] = res[s].field
    COLLECT(s1);
    fmt_stat(s1, sizeof s1, v, seeds, 0);
    COLLECT(s2);
    fmt_stat(s2, sizeof s2, v, seeds, 1);
    COLLECT(sym);
    fmt_stat(sym, sizeof sym, v, seeds, 0);
    COLLECT(jown);
    fmt_stat(jown, sizeof jown, v, seeds, 0);
    COLLECT(diag);
    fmt_stat(dg, sizeof dg, v, seeds, 0);
    COLLECT(t_full);
    double tf = median(v, seeds);
    COLLECT(t_diag);
    double td = median(v, seeds);
    COLLECT(train);
    double tr = median(v, seeds);
#undef COLLECT
    char rf[32] = "", rd[32] = "";
    if (!isnan(tjac_full)) { /* (a) ran: the speed-ups over its Jacobian */
        snprintf(rf, sizeof rf, " (%.1fx)", tjac_full / tf);
        snprintf(rd, sizeof rd, " (%.1fx)", tjac_diag / td);
    }
    printf("| %lld | %.2f | %s | %s | %s | %s | %s | %s | %.2f%s | %.2f%s | %.1f |\n",
           (long long)D, sigma, METHOD_NAME[method], s1, s2, sym,
           method == M_DSM ? "(= s2 err)" : jown, dg, tf * 1e6, rf, td * 1e6, rd, tr);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    const double t_start = now();
    printf("libhosm %s accuracy: K=%d mixtures, steps=%lld batch=%lld hidden=%lld depth=%lld "
           "act=%s lr=%g ntrain=%lld ntest=%lld seeds=1..%d reps=%d\n\n",
           hosm_version_string(), K, (long long)o.steps, (long long)o.batch,
           (long long)o.hidden, (long long)o.depth, o.act, o.lr, (long long)o.ntrain,
           (long long)o.ntest, o.seeds, o.reps);
    printf("| D | σ | method | s1 err | s2 err: mean ± std [min–max] | sym. J err | J(own s1) err "
           "| diag err | t(H) µs/pt (x J) | t(diag) µs/pt (x J) | train s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    int64_t Dmax = 0;
    for (int di = 0; di < o.ndims; di++)
        Dmax = o.dims[di] > Dmax ? o.dims[di] : Dmax;

    for (int di = 0; di < o.ndims; di++) {
        const int64_t D = o.dims[di], n = o.ntest;
        hosm_mixture *mix = make_mixture(D);
        float *data = xmalloc(sizeof(float) * o.ntrain * D);
        float *clean = xmalloc(sizeof(float) * n * D), *x = xmalloc(sizeof(float) * n * D);
        float *s1e = xmalloc(sizeof(float) * n * D), *s2e = xmalloc(sizeof(float) * n * D * D);
        TRY(hosm_mixture_sample(mix, 777000 + (uint64_t)D, n, clean));
        for (int si = 0; si < o.nsigmas; si++) {
            const double sigma = o.sigmas[si];
            xrng r = {(uint64_t)(555000 + 1000 * si + D), 0, 0.0};
            for (int64_t i = 0; i < n * D; i++)
                x[i] = clean[i] + (float)(sigma * xrng_normal(&r));
            TRY(hosm_mixture_score(mix, sigma, x, n, s1e));
            TRY(hosm_mixture_hessian(mix, sigma, x, n, s2e));
            testset ts = {D, n, sigma, x, s1e, s2e, 0.0, 0.0, 0.0};
            for (int64_t i = 0; i < n * D; i++)
                ts.s1n += (double)s1e[i] * s1e[i];
            for (int64_t i = 0; i < n * D * D; i++)
                ts.s2n += (double)s2e[i] * s2e[i];
            for (int64_t i = 0; i < n; i++)
                for (int64_t a = 0; a < D; a++)
                    ts.dgn += (double)s2e[(i * D + a) * D + a] * s2e[(i * D + a) * D + a];

            int run[NMETHODS];
            for (int m = 0; m < NMETHODS; m++)
                run[m] = strchr(o.methods, "abcdl"[m]) != NULL ||
                         (o.extra && D == Dmax && m >= M_DIAG);
            result res[NMETHODS][MAXSEEDS];
            for (int s = 0; s < o.seeds; s++) {
                TRY(hosm_mixture_sample(mix, 100 * (uint64_t)(s + 1) + (uint64_t)D, o.ntrain,
                                        data));
                for (int m = 0; m < NMETHODS; m++)
                    if (run[m])
                        res[m][s] = run_method(m, &o, &ts, data, s + 1);
            }
            double v[MAXSEEDS], tjf = NAN, tjd = NAN;
            if (run[M_DSM]) {
                for (int s = 0; s < o.seeds; s++)
                    v[s] = res[M_DSM][s].t_full;
                tjf = median(v, o.seeds);
                for (int s = 0; s < o.seeds; s++)
                    v[s] = res[M_DSM][s].t_diag;
                tjd = median(v, o.seeds);
            }
            for (int m = 0; m < NMETHODS; m++)
                if (run[m])
                    print_row(D, sigma, m, res[m], o.seeds, tjf, tjd);
        }
        free(data);
        free(clean);
        free(x);
        free(s1e);
        free(s2e);
        hosm_mixture_free(mix);
    }
    printf("\ntotal time %.1f s\n", now() - t_start);
    return 0;
}
