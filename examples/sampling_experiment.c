/*
 * sampling_experiment: Ozaki against Langevin, and MH-Ozaki against MALA,
 * measured (docs/sampling.md#ozaki-against-langevin-measured).
 *
 *   usage: sampling_experiment [options]
 *     --targets LIST   comma-separated, from gauss2-100 gauss2-1000
 *                      gauss32-100 gauss32-1000 mix2 mix8, or "all" (default)
 *     --sources LIST   "exact" (the oracle's exact scores), "learned" (models
 *                      with s1 + s2 trained here, mixtures only), or
 *                      "exact,learned" (default)
 *     --samplers LIST  from langevin ozaki ozaki_l0 mala mh_ozaki (default:
 *                      all that the source supports; ozaki_l0 is ozaki with
 *                      l_max=0, run on the mixtures only)
 *     --eps LIST       step sizes (default: a log grid per target)
 *     --chains N       chains of a run (default 1000; 500 in D = 32)
 *     --steps N        steps of an Ozaki or MH-Ozaki run (default 200)
 *     --steps-cheap N  steps of a Langevin or MALA run (default 2000): the
 *                      cheaper samplers get more steps, so that the
 *                      equal-time comparison is not cut short by the budget
 *                      of the slower ones
 *     --train-steps N  Adam steps of each learned model (default 3000)
 *     --out DIR        where the CSV and the SVG plots go (default ".")
 *     --seed N         seed of the starts, the samplers, the exact draws and
 *                      the training (default 1); the targets do not depend
 *                      on it
 *
 * For every target, source, sampler and step size it runs n chains from a
 * fixed start, records the CPU time after every step (CLOCK_PROCESS_CPUTIME_ID:
 * the process's CPU time, so that other load on the machine does not count;
 * everything runs on one thread) and keeps a trace of at most 1000 states a
 * chain (every k-th step for longer runs). At steps 1, 2, 5, 10, 20, 50, ...
 * (rounded up to multiples of k) and at the end it measures the chains'
 * states: the kernel Stein discrepancy with the target's exact score, the
 * energy distance to as many exact draws, the smallest ESS over coordinates
 * of the second half of the trace so far, and for mixtures the total
 * variation between the share of states in each component
 * (hosm_mixture_assign) and the weights. Rows go to sampling_experiment.csv
 * (examples/sampling_experiment_tables.py turns one or more of them into the
 * tables of docs/sampling.md), a line per run to stdout, and plots of each
 * sampler at its best step size to curves_<target>_<source>.svg and
 * scatter_mix2_<source>.svg.
 *
 * Targets: N(0, Sigma) with Sigma = R diag(l) R^T, R a random rotation and l
 * log-spaced from 1 down to 1/kappa (kappa = 100 or 1000), chains started 3
 * standard deviations out along the slowest direction plus N(0, I); and
 * mixtures with weights 0.6/0.3/0.1 of anisotropic Gaussians in D = 2 and 8,
 * chains started from N(0, 2^2 I). The oracle is used at sigma = 0 for the
 * Gaussians and 0.05 for the mixtures; the learned models at sigma = 0.1
 * are judged against the oracle's sigma = 0.1 target, from a warm start
 * (exact draws spread by N(0, 0.3^2 I)): a one-level model has not learned
 * the score far from the data. A run that returns a failure
 * (HOSM_E_NONFINITE: every chain diverged) has its status in the CSV and
 * infinite measures.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <hosm.h>

#include "experiment_util.h"

#define PI 3.14159265358979323846
#define MAX_DIM 32
#define MAX_EPS 16
#define MAX_KINDS 5
#define MAX_ROWS 1000 /* trace states a chain */
#define ED_FLOOR 1e-4 /* energy distances below are drawn at this value */

static const char *const KINDS[MAX_KINDS] = {"langevin", "ozaki", "ozaki_l0", "mala", "mh_ozaki"};
static const char *const COLOURS[MAX_KINDS] = {"#1f77b4", "#d62728", "#ff7f0e", "#2ca02c",
                                               "#9467bd"};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_normal(void) /* Box-Muller */
{
    double u = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
    double v = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u)) * cos(2.0 * PI * v);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "sampling_experiment: out of memory\n");
        exit(1);
    }
    return p;
}

static void die(const char *what, int status)
{
    fprintf(stderr, "sampling_experiment: %s failed: %s: %s\n", what, hosm_strerror(status),
            hosm_last_errmsg());
    exit(1);
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int st_ = (call);                                                                          \
        if (st_ < 0)                                                                               \
            die(#call, st_);                                                                       \
    } while (0)

static int kind_index(const char *kind)
{
    for (int i = 0; i < MAX_KINDS; i++)
        if (strcmp(kind, KINDS[i]) == 0)
            return i;
    return 0;
}

/* A random rotation (D x D, row-major): Gram-Schmidt on a Gaussian matrix;
 * column j is the j-th unit vector. */
static void random_rotation(int d, double *r)
{
    for (int i = 0; i < d * d; i++)
        r[i] = rng_normal();
    for (int j = 0; j < d; j++) {
        for (int k = 0; k < j; k++) {
            double dot = 0;
            for (int i = 0; i < d; i++)
                dot += r[i * d + j] * r[i * d + k];
            for (int i = 0; i < d; i++)
                r[i * d + j] -= dot * r[i * d + k];
        }
        double nrm = 0;
        for (int i = 0; i < d; i++)
            nrm += r[i * d + j] * r[i * d + j];
        nrm = sqrt(nrm);
        for (int i = 0; i < d; i++)
            r[i * d + j] /= nrm;
    }
}

/* cov = R diag(l) R^T */
static void rotated_cov(int d, const double *r, const double *l, double *cov)
{
    for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++) {
            double s = 0;
            for (int j = 0; j < d; j++)
                s += r[a * d + j] * l[j] * r[b * d + j];
            cov[a * d + b] = s;
        }
}

/* ---- targets ------------------------------------------------------------ */

typedef struct {
    char name[32];
    int dim, k, is_mixture, chains;
    double weights[3];
    double slow[MAX_DIM]; /* Gaussians: the slowest direction (unit vector) */
    hosm_mixture *mix;
    double eps[MAX_EPS];
    int n_eps;
} target;

static void set_grid(target *t, const double *grid, int n, double lowest)
{
    t->n_eps = 0;
    for (int i = 0; i < n && t->n_eps < MAX_EPS; i++)
        if (grid[i] >= lowest)
            t->eps[t->n_eps++] = grid[i];
}

static void make_gauss(target *t, int dim, double kappa)
{
    snprintf(t->name, sizeof t->name, "gauss%d-%g", dim, kappa);
    t->dim = dim;
    t->k = 1;
    t->weights[0] = 1.0;
    double r[MAX_DIM * MAX_DIM], l[MAX_DIM], cov[MAX_DIM * MAX_DIM], mu[MAX_DIM] = {0};
    random_rotation(dim, r);
    for (int j = 0; j < dim; j++) /* variances 1 .. 1/kappa, log-spaced */
        l[j] = pow(kappa, -(double)j / (dim - 1));
    rotated_cov(dim, r, l, cov);
    CHECK(hosm_mixture_new(&t->mix, 1, dim, t->weights, mu, cov));
    for (int a = 0; a < dim; a++)
        t->slow[a] = r[a * dim + 0];
    /* step sizes from below Langevin's stability limit 4 / kappa upwards */
    const double grid[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0};
    set_grid(t, grid, (int)(sizeof grid / sizeof grid[0]), 0.09 / kappa);
}

/* Three anisotropic components: fixed ones in D = 2, random ones (means 2.5
 * from the origin, standard deviations 0.7 .. 0.15) in higher D. */
static void mixture_components(int dim, double *mu, double *cov)
{
    double r[MAX_DIM * MAX_DIM], l[MAX_DIM];
    const double m2[3][2] = {{-1.5, -1.0}, {1.8, -0.5}, {0.0, 2.0}};
    const double sl[3] = {0.8, 0.6, 0.5}, ss[3] = {0.2, 0.25, 0.15}, ang[3] = {30, -60, 0};
    for (int c = 0; c < 3; c++) {
        if (dim == 2) {
            double th = ang[c] * PI / 180.0;
            r[0] = cos(th), r[1] = -sin(th), r[2] = sin(th), r[3] = cos(th);
            l[0] = sl[c] * sl[c], l[1] = ss[c] * ss[c];
            mu[c * 2] = m2[c][0], mu[c * 2 + 1] = m2[c][1];
        } else {
            double nrm = 0;
            for (int a = 0; a < dim; a++) {
                mu[c * dim + a] = rng_normal();
                nrm += mu[c * dim + a] * mu[c * dim + a];
            }
            for (int a = 0; a < dim; a++)
                mu[c * dim + a] *= 2.5 / sqrt(nrm);
            random_rotation(dim, r);
            for (int j = 0; j < dim; j++)
                l[j] = pow(0.7 * pow(0.15 / 0.7, (double)j / (dim - 1)), 2);
        }
        rotated_cov(dim, r, l, cov + (size_t)c * dim * dim);
    }
}

static void make_mixture(target *t, int dim)
{
    snprintf(t->name, sizeof t->name, "mix%d", dim);
    t->dim = dim;
    t->k = 3;
    t->is_mixture = 1;
    t->weights[0] = 0.6, t->weights[1] = 0.3, t->weights[2] = 0.1;
    double *mu = xcalloc((size_t)3 * dim, sizeof *mu);
    double *cov = xcalloc((size_t)3 * dim * dim, sizeof *cov);
    mixture_components(dim, mu, cov);
    CHECK(hosm_mixture_new(&t->mix, 3, dim, t->weights, mu, cov));
    free(mu);
    free(cov);
    const double grid[] = {1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3};
    set_grid(t, grid, (int)(sizeof grid / sizeof grid[0]), 0);
}

/* Exact draws of the target at noise level sigma: clean draws plus
 * N(0, sigma^2 I). */
static void draw_exact(const target *t, double sigma, uint64_t seed, int n, float *out)
{
    CHECK(hosm_mixture_sample(t->mix, seed, n, out));
    for (int64_t i = 0; i < (int64_t)n * t->dim; i++)
        out[i] += (float)(sigma * rng_normal());
}

/* ---- one source: a target and where the sampler's scores come from ------ */

typedef struct {
    const target *t;
    char source[16];         /* "exact", "learned-full", "learned-diag" */
    const hosm_model *model; /* NULL: the oracle at sigma */
    double sigma;            /* noise level of the target the samples should follow */
    uint64_t seed;
    float *x0;     /* start states, chains x dim */
    float *ref;    /* exact draws of the target, chains x dim */
    float *score;  /* scratch */
    int64_t *comp; /* scratch */
    FILE *csv;
} bench;

/* Start states: Gaussians 3 sd out along the slowest direction plus N(0, I)
 * (which overdisperses every stiff direction); mixtures N(0, 2^2 I), or for
 * a learned model exact draws spread by N(0, 0.3^2 I). */
static void draw_starts(bench *b)
{
    const target *t = b->t;
    const int n = t->chains, dim = t->dim;
    if (b->model) {
        draw_exact(b->t, 0.3, b->seed + 600, n, b->x0);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int a = 0; a < dim; a++)
            b->x0[i * dim + a] = (float)(t->is_mixture ? 2.0 * rng_normal()
                                                       : 3.0 * t->slow[a] + rng_normal());
}

static void bench_init(bench *b, const target *t, const char *source, const hosm_model *model,
                       double sigma, uint64_t seed, FILE *csv)
{
    const size_t nd = (size_t)t->chains * t->dim;
    *b = (bench){.t = t, .model = model, .sigma = sigma, .seed = seed, .csv = csv};
    snprintf(b->source, sizeof b->source, "%s", source);
    b->x0 = xcalloc(nd, sizeof(float));
    b->ref = xcalloc(nd, sizeof(float));
    b->score = xcalloc(nd, sizeof(float));
    b->comp = xcalloc((size_t)t->chains, sizeof(int64_t));
    draw_starts(b);
    draw_exact(t, sigma, seed + 300, t->chains, b->ref);
}

static void bench_free(bench *b)
{
    free(b->x0);
    free(b->ref);
    free(b->score);
    free(b->comp);
}

/* ---- results ------------------------------------------------------------ */

typedef struct {
    char target[32], source[16], sampler[16];
    double eps;
    int steps, last; /* last: the final measurement of a run */
    double cpu, ksd, ed, ess_min, ess_per_cpu, occ_tv, acceptance;
    long long diverged;
    int chains, status;
} row;

static row *rows;
static size_t n_rows, cap_rows;

static void add_row(const bench *b, const row *r)
{
    if (n_rows == cap_rows) {
        cap_rows = cap_rows ? 2 * cap_rows : 1024;
        rows = realloc(rows, cap_rows * sizeof *rows);
        if (!rows) {
            fprintf(stderr, "sampling_experiment: out of memory\n");
            exit(1);
        }
    }
    rows[n_rows++] = *r;
    fprintf(b->csv, "%s,%s,%s,%llu,%g,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%lld,%d,%d\n",
            r->target, r->source, r->sampler, (unsigned long long)b->seed, r->eps, r->steps,
            r->cpu, r->ksd, r->ed, r->ess_min, r->ess_per_cpu, r->occ_tv, r->acceptance,
            r->diverged, r->chains, r->status);
    fflush(b->csv);
}

static row new_row(const bench *b, const char *kind, double eps)
{
    row r = {.eps = eps, .chains = b->t->chains, .acceptance = 1, .ess_min = NAN,
             .ess_per_cpu = NAN};
    snprintf(r.target, sizeof r.target, "%.31s", b->t->name);
    snprintf(r.source, sizeof r.source, "%.15s", b->source);
    snprintf(r.sampler, sizeof r.sampler, "%.15s", kind);
    return r;
}

/* ---- measurements ------------------------------------------------------- */

static double occupancy_tv(const bench *b, const float *x, int n)
{
    if (!b->t->is_mixture || hosm_mixture_assign(b->t->mix, x, n, b->comp) != HOSM_OK)
        return NAN;
    double share[3] = {0, 0, 0}, tv = 0;
    for (int i = 0; i < n; i++)
        share[b->comp[i]] += 1.0 / n;
    for (int c = 0; c < b->t->k; c++)
        tv += 0.5 * fabs(share[c] - b->t->weights[c]);
    return tv;
}

/* KSD, energy distance to the exact draws and occupancy error of n states;
 * infinite where a measure fails. A state beyond 1e6 (a runaway chain; the
 * targets lie within about 10 of the origin) makes the energy distance
 * infinite: its value would be lost to rounding in the distances' GEMM
 * form. */
static void measure(const bench *b, const float *x, int n, row *r)
{
    const int dim = b->t->dim;
    r->ksd = r->ed = INFINITY;
    double far = 0;
    for (int64_t i = 0; i < (int64_t)n * dim; i++)
        far = fmax(far, fabs(x[i]));
    if (hosm_mixture_score(b->t->mix, b->sigma, x, n, b->score) == HOSM_OK) {
        int finite = 1;
        for (int64_t i = 0; i < (int64_t)n * dim && finite; i++)
            finite = isfinite(b->score[i]);
        if (finite && hosm_diag_ksd(x, b->score, n, dim, &r->ksd) != HOSM_OK)
            r->ksd = INFINITY;
    }
    if (far > 1e6 || hosm_diag_energy_distance(x, n, b->ref, b->t->chains, dim, &r->ed) != HOSM_OK)
        r->ed = INFINITY;
    r->occ_tv = occupancy_tv(b, x, n);
}

/* The smallest ESS over coordinates of trace rows [half, rows) of n chains;
 * NaN if there are too few rows, or a coordinate is frozen. */
static double ess_min(const float *trace, int n_rows_, int n, int dim, double *ess)
{
    const int half = n_rows_ / 2;
    if (n_rows_ - half < 4 || hosm_diag_ess(trace + (size_t)half * n * dim, n_rows_ - half, n,
                                            dim, ess) != HOSM_OK)
        return NAN;
    double m = INFINITY;
    for (int a = 0; a < dim; a++)
        if (!(ess[a] >= m))
            m = ess[a]; /* NaN (frozen chains) wins */
    return m;
}

/* Exact draws measured like the samplers' states: five independent sets,
 * one CSV row each (sampler "exact", 0 steps); returns their mean KSD and
 * in *ed_level the mean plus two standard deviations of their energy
 * distances, the level below which a distance is noise. */
static double exact_floor(const bench *b, double *ed_level)
{
    const int n = b->t->chains;
    float *other = xcalloc((size_t)n * b->t->dim, sizeof *other);
    double ksd = 0, ed = 0, ed2 = 0;
    for (int rep = 0; rep < 5; rep++) {
        row r = new_row(b, "exact", 0);
        r.last = 1;
        draw_exact(b->t, b->sigma, b->seed + 400 + (uint64_t)rep, n, other);
        measure(b, other, n, &r);
        add_row(b, &r);
        ksd += r.ksd / 5, ed += r.ed / 5, ed2 += r.ed * r.ed / 5;
    }
    free(other);
    *ed_level = ed + 2 * sqrt(fmax(0, ed2 - ed * ed) * 5 / 4);
    return ksd;
}

/* ---- runs --------------------------------------------------------------- */

static hosm_sampler *new_sampler(const bench *b, const char *kind, double eps, int steps)
{
    char text[512];
    const int l0 = strcmp(kind, "ozaki_l0") == 0;
    snprintf(text, sizeof text, "sampler=%s step_size=%.17g sample_steps=%d seed=%llu%s%s",
             l0 ? "ozaki" : kind, eps, steps, (unsigned long long)(b->seed + 500),
             l0 ? " l_max=0" : "", b->model ? " hessian=s2" : "");
    hosm_config *cfg;
    hosm_sampler *s;
    CHECK(hosm_config_new(&cfg));
    CHECK(hosm_config_parse(cfg, text));
    if (b->model)
        CHECK(hosm_sampler_new(&s, b->model, cfg));
    else
        CHECK(hosm_sampler_new_mixture(&s, b->t->mix, b->sigma, cfg));
    hosm_config_free(cfg);
    return s;
}

typedef struct {
    double *cpu; /* CPU seconds since the start after each step */
    double t0;
} clock_rec;

static int on_step(int64_t step, double value, void *user)
{
    (void)value;
    clock_rec *c = user;
    c->cpu[step] = cpu_now() - c->t0;
    return 0;
}

/* The trace rows (0-based) to measure at: those that end at steps 1, 2, 5,
 * 10, 20, 50, ... rounded up to multiples of every, and the last row. */
static int checkpoints(int t_rows, int every, int *at)
{
    int m = 0;
    for (long dec = 1; dec < (long)t_rows * every; dec *= 10)
        for (int j = 0; j < 3; j++) {
            const long c = dec * (j == 0 ? 1 : j == 1 ? 2 : 5);
            const int r = (int)((c + every - 1) / every) - 1;
            if (r < t_rows - 1 && (m == 0 || at[m - 1] != r))
                at[m++] = r;
        }
    at[m++] = t_rows - 1;
    return m;
}

/* One run of one sampler at one step size from the bench's start: CSV rows
 * at the checkpoints and a line on stdout. */
static void run_one(const bench *b, const char *kind, double eps, int steps)
{
    const target *t = b->t;
    const int n = t->chains, dim = t->dim;
    const int every = (steps + MAX_ROWS - 1) / MAX_ROWS, t_rows = steps / every;
    hosm_sampler *s = new_sampler(b, kind, eps, steps);
    float *x = xcalloc((size_t)n * dim, sizeof *x);
    float *trace = xcalloc((size_t)t_rows * n * dim, sizeof *trace);
    double *ess = xcalloc((size_t)dim, sizeof *ess);
    clock_rec c = {xcalloc((size_t)steps + 1, sizeof(double)), 0};
    memcpy(x, b->x0, (size_t)n * dim * sizeof *x);
    c.t0 = cpu_now();
    int st = hosm_sampler_run_trace(s, x, n, every, trace, on_step, &c);
    if (st < 0 && st != HOSM_E_NONFINITE)
        die("hosm_sampler_run_trace", st);
    if (st < 0)
        fprintf(stderr, "sampling_experiment: %s %s %s eps %g: %s\n", t->name, b->source, kind,
                eps, hosm_sampler_errmsg(s));
    int64_t diverged = 0;
    double acc = 1;
    hosm_sampler_diverged(s, &diverged);
    hosm_sampler_acceptance(s, &acc);
    int at[64], m = checkpoints(t_rows, every, at);
    row r = new_row(b, kind, eps);
    for (int q = 0; q < m; q++) {
        r.steps = (at[q] + 1) * every;
        r.last = q == m - 1;
        r.cpu = c.cpu[r.steps], r.acceptance = acc, r.diverged = (long long)diverged;
        r.status = st;
        measure(b, trace + (size_t)at[q] * n * dim, n, &r);
        if (st < 0) /* the trace was not (entirely) written */
            r.ksd = r.ed = r.occ_tv = INFINITY;
        r.ess_min = st < 0 ? NAN : ess_min(trace, at[q] + 1, n, dim, ess);
        r.ess_per_cpu = r.ess_min / r.cpu;
        add_row(b, &r);
    }
    printf("  %-12s %-12s %-9s eps %-6g %5d steps %7.2f s  ksd %-9.4g ed %-9.3g div %lld acc %.2f\n",
           t->name, b->source, kind, eps, steps, c.cpu[steps], r.ksd, r.ed, (long long)diverged,
           acc);
    fflush(stdout);
    free(x);
    free(trace);
    free(ess);
    free(c.cpu);
    hosm_sampler_free(s);
}

/* ---- learned models ----------------------------------------------------- */

static hosm_model *train_model(const target *t, double sigma, const char *s2, int steps,
                               uint64_t seed, double *cpu_seconds)
{
    const int n = 20000, dim = t->dim;
    float *data = xcalloc((size_t)n * dim, sizeof *data);
    CHECK(hosm_mixture_sample(t->mix, seed + 100, n, data));
    char text[512];
    snprintf(text, sizeof text,
             "hidden=64 depth=2 act=silu levels=1 sigma=%g s2=%s objective=dsm_vr "
             "s2_objective=d2sm_vr lr=2e-3 batch=256 steps=%d ema=0.995 seed=%llu "
             "raw_head=0", /* the setting the tables of sampling.md were made with */
             sigma, s2, steps, (unsigned long long)seed);
    hosm_config *cfg;
    hosm_model *model;
    hosm_trainer *tr;
    CHECK(hosm_config_new(&cfg));
    CHECK(hosm_config_parse(cfg, text));
    CHECK(hosm_model_new(&model, dim, cfg));
    CHECK(hosm_trainer_new(&tr, model, cfg));
    double t0 = cpu_now();
    CHECK(hosm_trainer_fit(tr, data, n, NULL, NULL));
    CHECK(hosm_trainer_copy_ema(tr, model));
    *cpu_seconds = cpu_now() - t0;
    hosm_trainer_free(tr);
    hosm_config_free(cfg);
    free(data);
    return model;
}

/* Relative error of the learned s1 against the oracle's at sigma on 2000
 * exact draws of the sigma-perturbed target, for the log. */
static double score_error(const target *t, const hosm_model *m, double sigma, uint64_t seed)
{
    const int n = 2000;
    float *pts = xcalloc((size_t)n * t->dim, sizeof *pts);
    float *a = xcalloc((size_t)n * t->dim, sizeof *a), *b = xcalloc((size_t)n * t->dim, sizeof *b);
    draw_exact(t, sigma, seed + 200, n, pts);
    CHECK(hosm_model_score(m, 0, pts, n, a));
    CHECK(hosm_mixture_score(t->mix, sigma, pts, n, b));
    double num = 0, den = 0;
    for (int64_t i = 0; i < (int64_t)n * t->dim; i++) {
        num += (double)(a[i] - b[i]) * (a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    free(pts);
    free(a);
    free(b);
    return sqrt(num / den);
}

/* ---- plots -------------------------------------------------------------- */

static int same_series(const row *r, const bench *b, const char *kind)
{
    return !strcmp(r->target, b->t->name) && !strcmp(r->source, b->source) &&
           !strcmp(r->sampler, kind);
}

/* The step size of a sampler whose final states have the smallest energy
 * distance to the exact draws (among runs without diverged chains), and in
 * *steps the length of that run; 0 if every run diverged. */
static double best_eps(const bench *b, const char *kind, int *steps)
{
    double best = INFINITY, eps = 0;
    *steps = 0;
    for (size_t i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        if (same_series(r, b, kind) && r->last && r->diverged == 0 && r->status >= 0 &&
            r->ed < best)
            best = r->ed, eps = r->eps, *steps = r->steps;
    }
    return eps;
}

typedef struct {
    double x0, y0, w, h, lx0, lx1, ly0, ly1;
} frame;

static double fx(const frame *f, double v)
{
    return f->x0 + f->w * (log10(v) - f->lx0) / (f->lx1 - f->lx0);
}

static double fy(const frame *f, double v)
{
    double l = fmin(fmax(log10(v), f->ly0), f->ly1);
    return f->y0 + f->h - f->h * (l - f->ly0) / (f->ly1 - f->ly0);
}

static void axes(FILE *o, const frame *f, const char *xlabel, const char *ylabel)
{
    fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"black\"/>\n", f->x0, f->y0, f->w, f->h);
    for (int e = (int)ceil(f->lx0); e <= (int)floor(f->lx1); e++) {
        double px = fx(f, pow(10, e));
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">1e%d</text>\n",
                px, f->y0, px, f->y0 + f->h, px, f->y0 + f->h + 14, e);
    }
    for (int e = (int)ceil(f->ly0); e <= (int)floor(f->ly1); e++) {
        double py = fy(f, pow(10, e));
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n",
                f->x0, py, f->x0 + f->w, py, f->x0 - 4, py + 4, e);
    }
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            f->x0 + f->w / 2, f->y0 + f->h + 30, xlabel);
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
               "transform=\"rotate(-90 %.1f %.1f)\">%s</text>\n",
            f->x0 - 40, f->y0 + f->h / 2, f->x0 - 40, f->y0 + f->h / 2, ylabel);
}

static double metric(const row *r, int which) { return which ? fmax(r->ed, ED_FLOOR) : r->ksd; }

/* The log ranges of the series: steps, CPU seconds and each metric. */
static void ranges(const bench *b, const char *const *kinds, const double *be, int n_kinds,
                   const double *floor_, double *lo, double *hi)
{
    for (int q = 0; q < 4; q++)
        lo[q] = INFINITY, hi[q] = -INFINITY;
    lo[0] = 1;
    for (int w = 0; w < 2; w++)
        lo[2 + w] = hi[2 + w] = floor_[w];
    for (int k = 0; k < n_kinds; k++)
        for (size_t i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            if (!same_series(r, b, kinds[k]) || r->eps != be[k] || !isfinite(r->ksd) ||
                !isfinite(r->ed) || r->cpu <= 0)
                continue;
            const double v[4] = {r->steps, r->cpu, metric(r, 0), metric(r, 1)};
            for (int q = 0; q < 4; q++)
                lo[q] = fmin(lo[q], v[q]), hi[q] = fmax(hi[q], v[q]);
        }
    for (int q = 0; q < 4; q++) {
        if (!(lo[q] < INFINITY) || !(hi[q] > 0))
            lo[q] = 1e-3, hi[q] = 1;
        lo[q] = floor(log10(lo[q])), hi[q] = ceil(log10(hi[q]));
        if (hi[q] <= lo[q])
            hi[q] = lo[q] + 1;
        if (q >= 2 && hi[q] > lo[q] + 5) /* runaway chains: off the top */
            hi[q] = lo[q] + 5;
    }
}

/* One polyline a sampler in panel (metric which, against steps or CPU). */
static void series(FILE *o, const bench *b, const frame *f, const char *const *kinds,
                   const double *be, int n_kinds, int which, int by_cpu)
{
    for (int k = 0; k < n_kinds; k++) {
        if (be[k] == 0)
            continue;
        fprintf(o, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\" points=\"",
                COLOURS[kind_index(kinds[k])]);
        for (size_t i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            if (same_series(r, b, kinds[k]) && r->eps == be[k] && isfinite(r->ksd) &&
                isfinite(r->ed) && r->cpu > 0)
                fprintf(o, "%.1f,%.1f ", fx(f, by_cpu ? r->cpu : r->steps),
                        fy(f, metric(r, which)));
        }
        fprintf(o, "\"/>\n");
    }
}

static void legend(FILE *o, const char *const *kinds, const double *be, const int *steps,
                   int n_kinds, int y0)
{
    for (int k = 0; k < n_kinds; k++) {
        const int y = y0 + 14 * k;
        fprintf(o, "<line x1=\"80\" y1=\"%d\" x2=\"110\" y2=\"%d\" stroke-width=\"2\" "
                   "stroke=\"%s\"/><text x=\"116\" y=\"%d\">%s, eps = %g, %d steps%s</text>\n",
                y - 4, y - 4, COLOURS[kind_index(kinds[k])], y, kinds[k], be[k], steps[k],
                be[k] == 0 ? " (every step size diverged)" : "");
    }
    fprintf(o, "<line x1=\"420\" y1=\"%d\" x2=\"450\" y2=\"%d\" stroke=\"black\" "
               "stroke-dasharray=\"4 3\"/><text x=\"456\" y=\"%d\">exact draws, 5 sets: mean "
               "KSD, mean + 2 sd of the</text>\n<text x=\"456\" y=\"%d\">energy distance "
               "(values below %g drawn at %g)</text>\n",
            y0 - 4, y0 - 4, y0, y0 + 14, ED_FLOOR, ED_FLOOR);
}

/* KSD (top) and energy distance (bottom) against steps (left) and CPU
 * seconds (right) of each sampler at its best step size, with the exact
 * draws' levels dashed. */
static void plot_curves(const char *dir, const bench *b, const char *const *kinds, int n_kinds,
                        const double *floor_)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/curves_%s_%s.svg", dir, b->t->name, b->source);
    FILE *o = fopen(path, "w");
    if (!o) {
        fprintf(stderr, "sampling_experiment: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    double be[MAX_KINDS], lo[4], hi[4];
    int steps[MAX_KINDS];
    for (int k = 0; k < n_kinds; k++)
        be[k] = best_eps(b, kinds[k], &steps[k]);
    ranges(b, kinds, be, n_kinds, floor_, lo, hi);
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"400\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">%s, %s scores, "
               "seed %llu: each sampler at the step size of its best final energy distance"
               "</text>\n", 620 + 14 * n_kinds, b->t->name, b->source,
            (unsigned long long)b->seed);
    for (int p = 0; p < 4; p++) {
        const int which = p / 2, by_cpu = p % 2;
        frame f = {70 + 380 * by_cpu, 40 + 280 * which, 300, 220, lo[by_cpu], hi[by_cpu],
                   lo[2 + which], hi[2 + which]};
        axes(o, &f, by_cpu ? "CPU seconds" : "steps", which ? "energy distance" : "KSD");
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" "
                   "stroke-dasharray=\"4 3\"/>\n", f.x0, fy(&f, floor_[which]), f.x0 + f.w,
                fy(&f, floor_[which]));
        series(o, b, &f, kinds, be, n_kinds, which, by_cpu);
    }
    legend(o, kinds, be, steps, n_kinds, 600);
    fprintf(o, "</svg>\n");
    fclose(o);
    printf("wrote %s\n", path);
}

/* One panel of the scatter plot: the first (up to) 300 points of x. */
static void scatter_panel(FILE *o, const float *x, int n, int p, const char *title,
                          const char *colour)
{
    const int cell = 220, pad = 10, show = n < 300 ? n : 300;
    const double view = 3.5, ox = pad + p * (cell + pad), oy = 30;
    fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"black\"/><text x=\"%.0f\" y=\"22\" text-anchor=\"middle\">%s</text>\n"
               "<g fill=\"%s\" fill-opacity=\"0.5\">\n",
            ox, oy, cell, cell, ox + cell / 2.0, title, colour);
    for (int i = 0; i < show; i++) {
        double px = ox + cell * (x[2 * i] + view) / (2 * view);
        double py = oy + cell - cell * (x[2 * i + 1] + view) / (2 * view);
        if (px >= ox && px <= ox + cell && py >= oy && py <= oy + cell)
            fprintf(o, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"1.5\"/>", px, py);
    }
    fprintf(o, "\n</g>\n");
}

/* The final states of each sampler at its best step size, and exact draws,
 * of a 2-D target. The runs are deterministic, so each is simply repeated. */
static void plot_scatter(const char *dir, const bench *b, const char *const *kinds, int n_kinds)
{
    const target *t = b->t;
    char path[4096], title[320];
    snprintf(path, sizeof path, "%s/scatter_%s_%s.svg", dir, t->name, b->source);
    FILE *o = fopen(path, "w");
    if (!o)
        return;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"260\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            (n_kinds + 1) * 230 + 10);
    scatter_panel(o, b->ref, t->chains, 0, "exact draws", "black");
    float *x = xcalloc((size_t)t->chains * 2, sizeof *x);
    for (int k = 0; k < n_kinds; k++) {
        int steps;
        double eps = best_eps(b, kinds[k], &steps);
        if (eps == 0)
            continue;
        hosm_sampler *s = new_sampler(b, kinds[k], eps, steps);
        memcpy(x, b->x0, (size_t)t->chains * 2 * sizeof *x);
        int st = hosm_sampler_run(s, x, t->chains, NULL, NULL);
        hosm_sampler_free(s);
        if (st < 0)
            continue;
        snprintf(title, sizeof title, "%s, eps %g, %d steps", kinds[k], eps, steps);
        scatter_panel(o, x, t->chains, k + 1, title, COLOURS[kind_index(kinds[k])]);
    }
    free(x);
    fprintf(o, "</svg>\n");
    fclose(o);
    printf("wrote %s\n", path);
}

/* ---- driver ------------------------------------------------------------- */

typedef struct {
    const char *targets, *sources, *samplers, *eps_list, *out;
    int chains, steps, steps_cheap, train_steps;
    uint64_t seed;
} options;

/* Every sampler the options and the source allow, at every step size; then
 * the plots. */
static void run_bench(const options *o, const bench *b)
{
    double floor_[2];
    floor_[0] = exact_floor(b, &floor_[1]);
    floor_[1] = fmax(floor_[1], ED_FLOOR);
    const char *kinds[MAX_KINDS];
    int n_kinds = 0;
    for (int k = 0; k < MAX_KINDS; k++) {
        const int adjusted = k >= 3, l0 = k == 2;
        if (!in_list(o->samplers, KINDS[k]) || (b->model && adjusted) ||
            (l0 && !b->t->is_mixture)) /* no log density; the clamp is inert on a Gaussian */
            continue;
        kinds[n_kinds++] = KINDS[k];
    }
    for (int k = 0; k < n_kinds; k++) {
        const int cheap = !strcmp(kinds[k], "langevin") || !strcmp(kinds[k], "mala");
        for (int e = 0; e < b->t->n_eps; e++)
            run_one(b, kinds[k], b->t->eps[e], cheap ? o->steps_cheap : o->steps);
    }
    plot_curves(o->out, b, kinds, n_kinds, floor_);
    if (b->t->dim == 2 && b->t->is_mixture)
        plot_scatter(o->out, b, kinds, n_kinds);
}

/* The sources of a target: the oracle, and for mixtures learned models (s2
 * full, and in D > 2 also diag). */
static void run_target(const options *o, target *t, int ti, FILE *csv)
{
    const char *s2s[2] = {"full", "diag"};
    for (int si = 0; si < 2; si++) {
        if (!in_list(o->sources, si ? "learned" : "exact") || (si && !t->is_mixture))
            continue;
        for (int mi = 0; mi < (si ? (t->dim == 2 ? 1 : 2) : 1); mi++) {
            double sigma = si ? 0.1 : t->is_mixture ? 0.05 : 0.0, tcpu = 0;
            char name[16];
            snprintf(name, sizeof name, "%s%s", si ? "learned-" : "exact", si ? s2s[mi] : "");
            rng_state = o->seed * 1000003u + (uint64_t)(10 * ti + 3 * si + mi);
            hosm_model *model = NULL;
            if (si) {
                model = train_model(t, sigma, s2s[mi], o->train_steps, o->seed, &tcpu);
                printf("trained %s on %s: %d steps, %.1f CPU s, relative s1 error %.3f\n", name,
                       t->name, o->train_steps, tcpu, score_error(t, model, sigma, o->seed));
            }
            bench b;
            bench_init(&b, t, name, model, sigma, o->seed, csv);
            run_bench(o, &b);
            bench_free(&b);
            hosm_model_free(model);
        }
    }
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--targets LIST|all] [--sources exact,learned] [--samplers LIST]\n"
            "          [--eps LIST] [--chains N] [--steps N] [--steps-cheap N]\n"
            "          [--train-steps N] [--out DIR] [--seed N]\n"
            "targets: gauss2-100 gauss2-1000 gauss32-100 gauss32-1000 mix2 mix8\n"
            "samplers: langevin ozaki ozaki_l0 mala mh_ozaki\n",
            argv0);
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){"all", "exact,learned", "langevin,ozaki,ozaki_l0,mala,mh_ozaki", NULL, ".",
                   0, 200, 2000, 3000, 1};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!v)
            return -1;
        if (!strcmp(a, "--targets"))
            o->targets = v;
        else if (!strcmp(a, "--sources"))
            o->sources = v;
        else if (!strcmp(a, "--samplers"))
            o->samplers = v;
        else if (!strcmp(a, "--eps"))
            o->eps_list = v;
        else if (!strcmp(a, "--chains"))
            o->chains = atoi(v);
        else if (!strcmp(a, "--steps"))
            o->steps = atoi(v);
        else if (!strcmp(a, "--steps-cheap"))
            o->steps_cheap = atoi(v);
        else if (!strcmp(a, "--train-steps"))
            o->train_steps = atoi(v);
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else
            return -1;
    }
    return o->steps < 1 || o->steps_cheap < 1 || o->chains < 0 || o->chains == 1 ||
                   o->train_steps < 1 ? -1 : 0;
}

/* Target ti (0..5) with its chains and step sizes from the options; its
 * geometry does not depend on the seed. */
static void make_target(const options *o, int ti, target *t)
{
    memset(t, 0, sizeof *t);
    rng_state = 1000003u * 7 + (uint64_t)ti;
    const int dim = ti < 2 || ti == 4 ? 2 : ti < 4 ? 32 : 8;
    if (ti < 4)
        make_gauss(t, dim, ti % 2 ? 1000 : 100);
    else
        make_mixture(t, dim);
    t->chains = o->chains ? o->chains : dim == 32 ? 500 : 1000;
    if (o->eps_list) {
        t->n_eps = 0;
        for (const char *p = o->eps_list; *p && t->n_eps < MAX_EPS;) {
            char *end;
            double e = strtod(p, &end);
            if (end == p)
                break;
            t->eps[t->n_eps++] = e;
            p = *end == ',' ? end + 1 : end;
        }
    }
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0) {
        usage(argv[0]);
        return 2;
    }
    if (mkdir(o.out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "sampling_experiment: cannot create %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/sampling_experiment.csv", o.out);
    FILE *csv = fopen(path, "w");
    if (!csv) {
        fprintf(stderr, "sampling_experiment: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(csv, "target,source,sampler,seed,step_size,steps,cpu_seconds,ksd,energy_distance,"
                 "ess_min,ess_per_cpu_second,occupancy_tv,acceptance,diverged,chains,status\n");
    printf("libhosm %s; times are process CPU seconds (CLOCK_PROCESS_CPUTIME_ID), one thread\n",
           hosm_version_string());
    const char *names[] = {"gauss2-100", "gauss2-1000", "gauss32-100", "gauss32-1000", "mix2",
                           "mix8"};
    for (int ti = 0; ti < 6; ti++) {
        if (strcmp(o.targets, "all") && !in_list(o.targets, names[ti]))
            continue;
        target t;
        make_target(&o, ti, &t);
        run_target(&o, &t, ti, csv);
        hosm_mixture_free(t.mix);
    }
    fclose(csv);
    free(rows);
    printf("wrote %s\n", path);
    return 0;
}
