/*
 * sampling_experiment: Ozaki against Langevin, and MH-Ozaki against MALA,
 * measured (docs/sampling.md#ozaki-against-langevin-measured).
 *
 *   usage: sampling_experiment [options]
 *     --targets LIST   comma-separated, from gauss2-100 gauss2-1000
 *                      gauss32-100 gauss32-1000 mix2 mix8, or "all" (default)
 *     --sources LIST   "exact" (the oracle's exact scores), "learned" (a
 *                      model with s1 + s2 trained here, mixtures only), or
 *                      "exact,learned" (default)
 *     --samplers LIST  from langevin ozaki ozaki_l0 mala mh_ozaki (default:
 *                      all that the source supports; ozaki_l0 is ozaki with
 *                      l_max=0, used on the mixtures only)
 *     --eps LIST       step sizes (default: a log grid per target)
 *     --chains N       chains of a run (default 1000; 500 in D = 32)
 *     --steps N        steps of an Ozaki or MH-Ozaki run (default 200)
 *     --steps-cheap N  steps of a Langevin or MALA run (default 800): the
 *                      cheaper samplers get more steps so that the equal-time
 *                      comparison is not cut short by the budget of the
 *                      slower ones
 *     --train-steps N  Adam steps of each learned model (default 3000)
 *     --out DIR        where the CSV and the SVG plots go (default ".")
 *     --seed N         seed of targets, starts, samplers and training (default 1)
 *
 * For every target, source, sampler and step size it runs n chains from a
 * fixed start, records the CPU time after every step (CLOCK_PROCESS_CPUTIME_ID:
 * the process's CPU time, not wall time, so that other load on the machine
 * does not count) and at steps 1, 2, 5, 10, 20, 50, ... measures the chains'
 * states: the kernel Stein discrepancy with the target's exact score, the
 * energy distance to as many exact draws, the smallest ESS over coordinates
 * of the second half of the trace so far, and for mixtures the total
 * variation between the share of states in each component
 * (hosm_mixture_assign) and the weights. Rows go to sampling_experiment.csv,
 * a summary to stdout, and the plots to ksd_<target>_<source>.svg and
 * scatter_mix2_<source>.svg.
 *
 * Targets: N(0, Sigma) with Sigma = R diag(l) R^T, R a random rotation and l
 * log-spaced from 1 down to 1/kappa (kappa = 100 or 1000), chains started 3
 * standard deviations out along the slowest direction; and mixtures with
 * weights 0.6/0.3/0.1 of anisotropic Gaussians in D = 2 and 8, chains started
 * from N(0, 2^2 I). The oracle is used at sigma = 0 for the Gaussians and
 * 0.05 for the mixtures; the learned models at sigma = 0.1 are compared with
 * the oracle's sigma = 0.1 target, from a warm start (exact draws spread by
 * N(0, 0.3^2 I)): a one-level model has not learned the score far from the
 * data. A run that returns a failure (HOSM_E_NONFINITE: every chain
 * diverged) has its status in the CSV and infinite measures.
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

#define PI 3.14159265358979323846
#define MAX_EPS 16
#define MAX_CHECK 16
#define MAX_SAMPLERS 5

/* ---- small helpers ------------------------------------------------------ */

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
    int dim, k;
    int is_mixture;
    double weights[3];
    hosm_mixture *mix;
    float *x0; /* start states, chains x dim */
    int chains;
    double eps[MAX_EPS];
    int n_eps;
} target;

static void make_gauss(target *t, int dim, double kappa, int chains)
{
    snprintf(t->name, sizeof t->name, "gauss%d-%g", dim, kappa);
    t->dim = dim;
    t->k = 1;
    t->weights[0] = 1.0;
    double *r = xcalloc((size_t)dim * dim, sizeof *r), *l = xcalloc((size_t)dim, sizeof *l);
    double *cov = xcalloc((size_t)dim * dim, sizeof *cov), *mu = xcalloc((size_t)dim, sizeof *mu);
    random_rotation(dim, r);
    for (int j = 0; j < dim; j++) /* variances 1 .. 1/kappa, log-spaced */
        l[j] = pow(kappa, -(double)j / (dim - 1));
    rotated_cov(dim, r, l, cov);
    CHECK(hosm_mixture_new(&t->mix, 1, dim, t->weights, mu, cov));
    /* start: 3 sd out along the slowest direction (column 0, variance 1) plus
     * N(0, I), which overdisperses every stiff direction */
    t->chains = chains;
    t->x0 = xcalloc((size_t)chains * dim, sizeof *t->x0);
    for (int i = 0; i < chains; i++)
        for (int a = 0; a < dim; a++)
            t->x0[i * dim + a] = (float)(3.0 * r[a * dim + 0] + rng_normal());
    /* step sizes: Langevin is stable for eps < 4 / kappa */
    const double grid[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0};
    t->n_eps = 0;
    for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++)
        if (grid[i] >= 0.09 / kappa)
            t->eps[t->n_eps++] = grid[i];
    free(r);
    free(l);
    free(cov);
    free(mu);
}

static void make_mixture(target *t, int dim, int chains)
{
    snprintf(t->name, sizeof t->name, "mix%d", dim);
    t->dim = dim;
    t->k = 3;
    t->is_mixture = 1;
    t->weights[0] = 0.6;
    t->weights[1] = 0.3;
    t->weights[2] = 0.1;
    double *mu = xcalloc((size_t)3 * dim, sizeof *mu), *cov = xcalloc((size_t)3 * dim * dim, sizeof *cov);
    double *r = xcalloc((size_t)dim * dim, sizeof *r), *l = xcalloc((size_t)dim, sizeof *l);
    if (dim == 2) {
        const double m[3][2] = {{-1.5, -1.0}, {1.8, -0.5}, {0.0, 2.0}};
        const double sl[3] = {0.8, 0.6, 0.5}, ss[3] = {0.2, 0.25, 0.15}, ang[3] = {30, -60, 0};
        for (int c = 0; c < 3; c++) {
            double th = ang[c] * PI / 180.0;
            r[0] = cos(th), r[1] = -sin(th), r[2] = sin(th), r[3] = cos(th);
            l[0] = sl[c] * sl[c], l[1] = ss[c] * ss[c];
            rotated_cov(2, r, l, cov + c * 4);
            mu[c * 2] = m[c][0], mu[c * 2 + 1] = m[c][1];
        }
    } else {
        for (int c = 0; c < 3; c++) { /* means 2.5 from the origin along random directions */
            double nrm = 0;
            for (int a = 0; a < dim; a++) {
                mu[c * dim + a] = rng_normal();
                nrm += mu[c * dim + a] * mu[c * dim + a];
            }
            for (int a = 0; a < dim; a++)
                mu[c * dim + a] *= 2.5 / sqrt(nrm);
            random_rotation(dim, r);
            for (int j = 0; j < dim; j++) /* sd 0.7 .. 0.15, log-spaced */
                l[j] = pow(0.7 * pow(0.15 / 0.7, (double)j / (dim - 1)), 2);
            rotated_cov(dim, r, l, cov + (size_t)c * dim * dim);
        }
    }
    CHECK(hosm_mixture_new(&t->mix, 3, dim, t->weights, mu, cov));
    t->chains = chains;
    t->x0 = xcalloc((size_t)chains * dim, sizeof *t->x0);
    for (int i = 0; i < chains * dim; i++)
        t->x0[i] = (float)(2.0 * rng_normal());
    const double grid[] = {1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3};
    t->n_eps = (int)(sizeof grid / sizeof grid[0]);
    memcpy(t->eps, grid, sizeof grid);
    free(mu);
    free(cov);
    free(r);
    free(l);
}

/* ---- results ------------------------------------------------------------ */

typedef struct {
    char target[32], source[16], sampler[16];
    double eps;
    int steps;
    double cpu, ksd, ed, ess_min, ess_per_cpu, occ_tv, acceptance;
    long long diverged;
    int chains, status;
} row;

static row *rows;
static size_t n_rows, cap_rows;

static void add_row(const row *r)
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
}

static void write_row(FILE *f, const row *r)
{
    fprintf(f, "%s,%s,%s,%g,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%lld,%d,%d\n", r->target,
            r->source, r->sampler, r->eps, r->steps, r->cpu, r->ksd, r->ed, r->ess_min,
            r->ess_per_cpu, r->occ_tv, r->acceptance, r->diverged, r->chains, r->status);
    fflush(f);
}

/* ---- measurements ------------------------------------------------------- */

typedef struct {
    const target *t;
    double sigma;  /* noise level of the target the samples should follow */
    float *ref;    /* exact draws of that target, chains x dim */
    float *score;  /* scratch */
    int64_t *comp; /* scratch */
    const float *x0; /* start states, chains x dim */
} judge;

static double occupancy_tv(const judge *j, const float *x, int n)
{
    if (!j->t->is_mixture)
        return NAN;
    if (hosm_mixture_assign(j->t->mix, x, n, j->comp) != HOSM_OK)
        return NAN;
    double share[3] = {0, 0, 0}, tv = 0;
    for (int i = 0; i < n; i++)
        share[j->comp[i]] += 1.0 / n;
    for (int c = 0; c < j->t->k; c++)
        tv += 0.5 * fabs(share[c] - j->t->weights[c]);
    return tv;
}

static void measure(const judge *j, const float *x, int n, double *ksd, double *ed, double *occ)
{
    int dim = j->t->dim;
    *ksd = *ed = INFINITY;
    if (hosm_mixture_score(j->t->mix, j->sigma, x, n, j->score) == HOSM_OK) {
        int finite = 1;
        for (int64_t i = 0; i < (int64_t)n * dim && finite; i++)
            finite = isfinite(j->score[i]);
        if (finite && hosm_diag_ksd(x, j->score, n, dim, ksd) != HOSM_OK)
            *ksd = INFINITY;
    }
    if (hosm_diag_energy_distance(x, n, j->ref, j->t->chains, dim, ed) != HOSM_OK)
        *ed = INFINITY;
    *occ = occupancy_tv(j, x, n);
}

/* ---- one run ------------------------------------------------------------ */

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

static const int CHECKS[] = {1, 2, 5, 10, 20, 50, 100, 200, 400, 800, 1600, 3200};

static void run_one(FILE *csv, const judge *j, const char *source, const hosm_model *model,
                    double mix_sigma, const char *kind, double eps, int steps, uint64_t seed)
{
    const target *t = j->t;
    const int n = t->chains, dim = t->dim;
    char text[512];
    const char *real_kind = strcmp(kind, "ozaki_l0") == 0 ? "ozaki" : kind;
    snprintf(text, sizeof text, "sampler=%s step_size=%.17g sample_steps=%d seed=%llu%s%s",
             real_kind, eps, steps, (unsigned long long)seed,
             strcmp(kind, "ozaki_l0") == 0 ? " l_max=0" : "", model ? " hessian=s2" : "");
    hosm_config *cfg;
    hosm_sampler *s;
    CHECK(hosm_config_new(&cfg));
    CHECK(hosm_config_parse(cfg, text));
    if (model)
        CHECK(hosm_sampler_new(&s, model, cfg));
    else
        CHECK(hosm_sampler_new_mixture(&s, t->mix, mix_sigma, cfg));
    hosm_config_free(cfg);

    float *x = xcalloc((size_t)n * dim, sizeof *x);
    float *trace = xcalloc((size_t)steps * n * dim, sizeof *trace);
    double *ess = xcalloc((size_t)dim, sizeof *ess);
    clock_rec c = {xcalloc((size_t)steps + 1, sizeof(double)), 0};
    memcpy(x, j->x0, (size_t)n * dim * sizeof *x);
    c.t0 = cpu_now();
    int st = hosm_sampler_run_trace(s, x, n, 1, trace, on_step, &c);
    if (st < 0 && st != HOSM_E_NONFINITE)
        die("hosm_sampler_run_trace", st);
    int64_t diverged = 0;
    double acc = 1;
    if (st < 0)
        fprintf(stderr, "sampling_experiment: %s %s %s eps %g: the run returned %d (%s): %s\n",
                t->name, source, kind, eps, st, hosm_strerror(st), hosm_sampler_errmsg(s));
    hosm_sampler_diverged(s, &diverged);
    hosm_sampler_acceptance(s, &acc);

    const size_t n_checks = sizeof CHECKS / sizeof CHECKS[0];
    for (size_t q = 0; q <= n_checks; q++) {
        /* the checkpoints up to steps, and steps itself */
        int at = q < n_checks ? CHECKS[q] : steps, listed = 0;
        for (size_t p = 0; p < n_checks; p++)
            listed |= CHECKS[p] == steps;
        if (at > steps || (q == n_checks && listed))
            continue;
        row r = {.eps = eps, .steps = at, .cpu = c.cpu[at], .acceptance = acc,
                 .diverged = (long long)diverged, .chains = n, .status = st};
        snprintf(r.target, sizeof r.target, "%.31s", t->name);
        snprintf(r.source, sizeof r.source, "%.15s", source);
        snprintf(r.sampler, sizeof r.sampler, "%.15s", kind);
        measure(j, trace + (size_t)(at - 1) * n * dim, n, &r.ksd, &r.ed, &r.occ_tv);
        if (st < 0) /* the trace was not (entirely) written */
            r.ksd = r.ed = r.occ_tv = INFINITY;
        r.ess_min = NAN;
        int half = at / 2;
        if (at - half >= 4 &&
            hosm_diag_ess(trace + (size_t)half * n * dim, at - half, n, dim, ess) == HOSM_OK) {
            r.ess_min = INFINITY;
            for (int a = 0; a < dim; a++)
                if (!(ess[a] >= r.ess_min))
                    r.ess_min = ess[a]; /* NaN (frozen chains) wins */
        }
        r.ess_per_cpu = r.ess_min / r.cpu;
        add_row(&r);
        write_row(csv, &r);
    }
    fprintf(stderr, "  %-6s %-8s %-9s eps %-7g %4d steps %7.2f s cpu  ksd %-9.4g diverged %lld acc %.2f\n",
            t->name, source, kind, eps, steps, c.cpu[steps], rows[n_rows - 1].ksd,
            (long long)diverged, acc);
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
             "s2_objective=d2sm_vr lr=2e-3 batch=256 steps=%d ema=0.995 seed=%llu",
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

/* Relative error of the learned s1 against the oracle's at sigma on noisy
 * exact draws, for the log. */
static double score_error(const target *t, const hosm_model *m, double sigma, const float *pts, int n)
{
    float *a = xcalloc((size_t)n * t->dim, sizeof *a), *b = xcalloc((size_t)n * t->dim, sizeof *b);
    CHECK(hosm_model_score(m, 0, pts, n, a));
    CHECK(hosm_mixture_score(t->mix, sigma, pts, n, b));
    double num = 0, den = 0;
    for (int64_t i = 0; i < (int64_t)n * t->dim; i++) {
        num += (double)(a[i] - b[i]) * (a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    free(a);
    free(b);
    return sqrt(num / den);
}

/* ---- plots -------------------------------------------------------------- */

static const char *COLOURS[] = {"#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#555"};

static int sampler_index(const char *kind)
{
    const char *k[] = {"langevin", "ozaki", "ozaki_l0", "mala", "mh_ozaki"};
    for (int i = 0; i < 5; i++)
        if (strcmp(kind, k[i]) == 0)
            return i;
    return 5;
}

static int stable(const row *r)
{
    return r->diverged == 0 && r->status >= 0 && isfinite(r->ksd);
}

/* The step size of a sampler whose last checkpoint has the smallest KSD
 * (among runs without diverged chains); 0 if none. */
static double best_eps(const char *tg, const char *src, const char *kind, int *last_steps)
{
    double best = INFINITY, eps = 0;
    int last = 0;
    for (size_t i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        if (strcmp(r->target, tg) || strcmp(r->source, src) || strcmp(r->sampler, kind))
            continue;
        /* the last row of a run: the next row belongs to another run */
        int is_last = i + 1 == n_rows || rows[i + 1].steps < r->steps;
        if (is_last && stable(r) && r->ksd < best)
            best = r->ksd, eps = r->eps, last = r->steps;
    }
    if (last_steps)
        *last_steps = last;
    return eps;
}

typedef struct {
    double x0, y0, w, h, lx0, lx1, ly0, ly1;
} frame;

static double fx(const frame *f, double v) { return f->x0 + f->w * (log10(v) - f->lx0) / (f->lx1 - f->lx0); }
static double fy(const frame *f, double v)
{
    double l = log10(v);
    if (l < f->ly0)
        l = f->ly0;
    if (l > f->ly1)
        l = f->ly1;
    return f->y0 + f->h - f->h * (l - f->ly0) / (f->ly1 - f->ly0);
}

static void axes(FILE *o, const frame *f, const char *xlabel, const char *ylabel)
{
    fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n",
            f->x0, f->y0, f->w, f->h);
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
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", f->x0 + f->w / 2,
            f->y0 + f->h + 30, xlabel);
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">%s</text>\n",
            f->x0 - 38, f->y0 + f->h / 2, f->x0 - 38, f->y0 + f->h / 2, ylabel);
}

/* KSD against steps (left) and against CPU seconds (right) of each
 * sampler's best step size, with the KSD of exact draws dashed. */
static void plot_ksd(const char *dir, const char *tg, const char *src, const char *const *kinds,
                     int n_kinds, double ksd_exact)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ksd_%s_%s.svg", dir, tg, src);
    FILE *o = fopen(path, "w");
    if (!o) {
        fprintf(stderr, "sampling_experiment: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    double kmin = ksd_exact, kmax = ksd_exact, cmin = INFINITY, cmax = 0;
    int smax = 1;
    double be[MAX_SAMPLERS];
    for (int k = 0; k < n_kinds; k++) {
        be[k] = best_eps(tg, src, kinds[k], NULL);
        for (size_t i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            if (strcmp(r->target, tg) || strcmp(r->source, src) || strcmp(r->sampler, kinds[k]) ||
                r->eps != be[k] || !isfinite(r->ksd))
                continue;
            kmin = fmin(kmin, r->ksd), kmax = fmax(kmax, r->ksd);
            cmin = fmin(cmin, r->cpu), cmax = fmax(cmax, r->cpu);
            smax = r->steps > smax ? r->steps : smax;
        }
    }
    if (!(cmin < INFINITY) || cmin <= 0)
        cmin = 1e-4;
    if (cmax <= cmin)
        cmax = 10 * cmin;
    frame left = {70, 40, 300, 240, 0, ceil(log10(smax)), floor(log10(kmin)), ceil(log10(kmax))};
    frame right = {450, 40, 300, 240, floor(log10(cmin)), ceil(log10(cmax)), left.ly0, left.ly1};
    if (left.ly1 <= left.ly0)
        left.ly1 = right.ly1 = left.ly0 + 1;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            340 + 14 * n_kinds);
    fprintf(o, "<text x=\"400\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">KSD of the chains' states, %s, %s scores "
               "(each sampler at its best step size)</text>\n", tg, src);
    axes(o, &left, "steps", "KSD");
    axes(o, &right, "CPU seconds", "KSD");
    for (int p = 0; p < 2; p++) {
        const frame *f = p ? &right : &left;
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n",
                f->x0, fy(f, ksd_exact), f->x0 + f->w, fy(f, ksd_exact));
        for (int k = 0; k < n_kinds; k++) {
            if (be[k] == 0)
                continue;
            fprintf(o, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\" points=\"",
                    COLOURS[sampler_index(kinds[k])]);
            for (size_t i = 0; i < n_rows; i++) {
                const row *r = &rows[i];
                if (strcmp(r->target, tg) || strcmp(r->source, src) ||
                    strcmp(r->sampler, kinds[k]) || r->eps != be[k] || !isfinite(r->ksd))
                    continue;
                fprintf(o, "%.1f,%.1f ", fx(f, p ? fmax(r->cpu, cmin) : r->steps), fy(f, r->ksd));
            }
            fprintf(o, "\"/>\n");
        }
    }
    int y = 320;
    for (int k = 0; k < n_kinds; k++, y += 14) {
        fprintf(o, "<line x1=\"80\" y1=\"%d\" x2=\"110\" y2=\"%d\" stroke-width=\"2\" stroke=\"%s\"/>"
                   "<text x=\"116\" y=\"%d\">%s, eps = %g%s</text>\n",
                y - 4, y - 4, COLOURS[sampler_index(kinds[k])], y, kinds[k], be[k],
                be[k] == 0 ? " (every step size diverged)" : "");
    }
    fprintf(o, "<line x1=\"450\" y1=\"316\" x2=\"480\" y2=\"316\" stroke=\"black\" stroke-dasharray=\"4 3\"/>"
               "<text x=\"486\" y=\"320\">exact draws (as many points, mean of 5 sets)</text>\n</svg>\n");
    fclose(o);
    printf("wrote %s\n", path);
}

/* The final states of each sampler at its best step size, and exact draws,
 * of the 2-D mixture. The states are re-run, so the sampler is run again
 * here with the same seed (the runs are deterministic). */
static void plot_scatter(const char *dir, const judge *j, const char *src, const hosm_model *model,
                         double mix_sigma, const char *const *kinds, int n_kinds, uint64_t seed)
{
    const target *t = j->t;
    char path[4096];
    snprintf(path, sizeof path, "%s/scatter_%s_%s.svg", dir, t->name, src);
    FILE *o = fopen(path, "w");
    if (!o)
        return;
    const int show = t->chains < 300 ? t->chains : 300, cell = 220, pad = 10;
    const double view = 3.5;
    int panels = n_kinds + 1;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            panels * (cell + pad) + pad, cell + 40);
    for (int p = 0; p < panels; p++) {
        float *x = xcalloc((size_t)t->chains * 2, sizeof *x);
        char title[320];
        if (p == 0) {
            memcpy(x, j->ref, (size_t)t->chains * 2 * sizeof *x);
            snprintf(title, sizeof title, "exact draws");
        } else {
            int steps = 0;
            double eps = best_eps(t->name, src, kinds[p - 1], &steps);
            if (eps == 0) {
                free(x);
                continue;
            }
            char text[256];
            const char *kind = kinds[p - 1];
            snprintf(text, sizeof text, "sampler=%s step_size=%.17g sample_steps=%d seed=%llu%s%s",
                     strcmp(kind, "ozaki_l0") == 0 ? "ozaki" : kind, eps, steps,
                     (unsigned long long)seed, strcmp(kind, "ozaki_l0") == 0 ? " l_max=0" : "",
                     model ? " hessian=s2" : "");
            hosm_config *cfg;
            hosm_sampler *s;
            CHECK(hosm_config_new(&cfg));
            CHECK(hosm_config_parse(cfg, text));
            if (model)
                CHECK(hosm_sampler_new(&s, model, cfg));
            else
                CHECK(hosm_sampler_new_mixture(&s, t->mix, mix_sigma, cfg));
            memcpy(x, j->x0, (size_t)t->chains * 2 * sizeof *x);
            hosm_sampler_run(s, x, t->chains, NULL, NULL);
            hosm_sampler_free(s);
            hosm_config_free(cfg);
            snprintf(title, sizeof title, "%s, eps %g, %d steps", kind, eps, steps);
        }
        double ox = pad + p * (cell + pad), oy = 30;
        fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>"
                   "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\">%s</text>\n<g fill=\"%s\" fill-opacity=\"0.5\">\n",
                ox, oy, cell, cell, ox + cell / 2.0, title,
                p ? COLOURS[sampler_index(kinds[p - 1])] : "black");
        for (int i = 0; i < show; i++) {
            double px = ox + cell * (x[2 * i] + view) / (2 * view);
            double py = oy + cell - cell * (x[2 * i + 1] + view) / (2 * view);
            if (px >= ox && px <= ox + cell && py >= oy && py <= oy + cell)
                fprintf(o, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"1.5\"/>", px, py);
        }
        fprintf(o, "\n</g>\n");
        free(x);
    }
    fprintf(o, "</svg>\n");
    fclose(o);
    printf("wrote %s\n", path);
}

/* ---- summary ------------------------------------------------------------ */

static void summarise(const char *tg, const char *src, const char *const *kinds, int n_kinds,
                      double ksd_exact, double ksd_sd, double ed_exact, double occ_exact)
{
    printf("\n### %s, %s scores (exact draws, mean of 5 sets: KSD %.4g +- %.2g, energy distance %.2g%s",
           tg, src, ksd_exact, ksd_sd, ed_exact, isnan(occ_exact) ? ")\n" : "");
    if (!isnan(occ_exact))
        printf(", occupancy TV %.3f)\n", occ_exact);
    /* the CPU budget every sampler reached: the smallest over samplers of
     * the median full-run CPU time */
    double budget = INFINITY;
    for (int k = 0; k < n_kinds; k++) {
        double times[MAX_EPS * 2];
        int m = 0;
        for (size_t i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            if (strcmp(r->target, tg) || strcmp(r->source, src) || strcmp(r->sampler, kinds[k]))
                continue;
            if ((i + 1 == n_rows || rows[i + 1].steps < r->steps) && m < MAX_EPS * 2)
                times[m++] = r->cpu;
        }
        for (int a = 0; a < m; a++) /* insertion sort */
            for (int b = a; b > 0 && times[b] < times[b - 1]; b--) {
                double tmp = times[b];
                times[b] = times[b - 1];
                times[b - 1] = tmp;
            }
        if (m)
            budget = fmin(budget, times[m / 2]);
    }
    printf("| sampler | stable eps | best KSD at 10 / 50 / 200 steps (eps) | best KSD within %.3g CPU s (eps, steps) "
           "| at the best eps: final KSD, energy dist., ESS min, ESS/CPU s, occ. TV, acceptance |\n",
           budget);
    printf("|---|---|---|---|---|\n");
    for (int k = 0; k < n_kinds; k++) {
        double lo = INFINITY, hi = 0;
        double at_best[3] = {INFINITY, INFINITY, INFINITY}, at_eps[3] = {0, 0, 0};
        const int at_steps[3] = {10, 50, 200};
        double tb = INFINITY, tb_eps = 0;
        int tb_steps = 0;
        int last_steps = 0;
        double be = best_eps(tg, src, kinds[k], &last_steps);
        const row *fin = NULL;
        for (size_t i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            if (strcmp(r->target, tg) || strcmp(r->source, src) || strcmp(r->sampler, kinds[k]))
                continue;
            if (!stable(r))
                continue;
            lo = fmin(lo, r->eps), hi = fmax(hi, r->eps);
            for (int q = 0; q < 3; q++)
                if (r->steps == at_steps[q] && r->ksd < at_best[q])
                    at_best[q] = r->ksd, at_eps[q] = r->eps;
            if (r->cpu <= budget * 1.0001 && r->ksd < tb)
                tb = r->ksd, tb_eps = r->eps, tb_steps = r->steps;
            if (r->eps == be && r->steps == last_steps)
                fin = r;
        }
        printf("| %s | ", kinds[k]);
        if (lo <= hi)
            printf("%g to %g | ", lo, hi);
        else
            printf("none | ");
        for (int q = 0; q < 3; q++)
            printf(q < 2 ? "%.3g (%g) / " : "%.3g (%g) | ", at_best[q], at_eps[q]);
        printf("%.3g (%g, %d) | ", tb, tb_eps, tb_steps);
        if (fin)
            printf("%.3g, %.2g, %.0f, %.3g, %.3f, %.2f |\n", fin->ksd, fin->ed, fin->ess_min,
                   fin->ess_per_cpu, fin->occ_tv, fin->acceptance);
        else
            printf("- |\n");
    }
    /* CPU cost per step at the largest checkpoint, mean over step sizes */
    printf("CPU ms per step (%s, mean over step sizes):", tg);
    for (int k = 0; k < n_kinds; k++) {
        double sum = 0;
        int m = 0;
        for (size_t i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            if (strcmp(r->target, tg) || strcmp(r->source, src) || strcmp(r->sampler, kinds[k]))
                continue;
            if (i + 1 == n_rows || rows[i + 1].steps < r->steps)
                sum += 1e3 * r->cpu / r->steps, m++;
        }
        printf(" %s %.3g", kinds[k], m ? sum / m : NAN);
    }
    printf("\n");
    fflush(stdout);
}

/* ---- main --------------------------------------------------------------- */

static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
            return 1;
    return 0;
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

int main(int argc, char **argv)
{
    const char *targets = "all", *sources = "exact,learned",
               *samplers = "langevin,ozaki,ozaki_l0,mala,mh_ozaki", *eps_list = NULL, *out = ".";
    int chains = 0, steps = 200, steps_cheap = 800, train_steps = 3000;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage(argv[0]);
            return 2;
        }
        if (!strcmp(a, "--targets"))
            targets = v;
        else if (!strcmp(a, "--sources"))
            sources = v;
        else if (!strcmp(a, "--samplers"))
            samplers = v;
        else if (!strcmp(a, "--eps"))
            eps_list = v;
        else if (!strcmp(a, "--chains"))
            chains = atoi(v);
        else if (!strcmp(a, "--steps"))
            steps = atoi(v);
        else if (!strcmp(a, "--steps-cheap"))
            steps_cheap = atoi(v);
        else if (!strcmp(a, "--train-steps"))
            train_steps = atoi(v);
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10);
        else {
            usage(argv[0]);
            return 2;
        }
        i++;
    }
    if (steps < 1 || steps_cheap < 1 || chains < 0 || train_steps < 1) {
        usage(argv[0]);
        return 2;
    }
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "sampling_experiment: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/sampling_experiment.csv", out);
    FILE *csv = fopen(path, "w");
    if (!csv) {
        fprintf(stderr, "sampling_experiment: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(csv, "target,source,sampler,step_size,steps,cpu_seconds,ksd,energy_distance,ess_min,"
                 "ess_per_cpu_second,occupancy_tv,acceptance,diverged,chains,status\n");
    printf("libhosm %s; times are process CPU seconds (CLOCK_PROCESS_CPUTIME_ID), BLIS 1 thread\n",
           hosm_version_string());

    const char *all_targets[] = {"gauss2-100", "gauss2-1000", "gauss32-100", "gauss32-1000", "mix2", "mix8"};
    for (int ti = 0; ti < 6; ti++) {
        if (strcmp(targets, "all") && !in_list(targets, all_targets[ti]))
            continue;
        rng_state = seed * 1000003u + (uint64_t)ti;
        target t;
        memset(&t, 0, sizeof t);
        int dim = ti < 2 || ti == 4 ? 2 : ti < 4 ? 32 : 8;
        int n = chains ? chains : dim == 32 ? 500 : 1000;
        if (ti < 4)
            make_gauss(&t, dim, ti % 2 ? 1000 : 100, n);
        else
            make_mixture(&t, dim, n);
        if (eps_list) {
            t.n_eps = 0;
            for (const char *p = eps_list; *p && t.n_eps < MAX_EPS;) {
                char *end;
                double e = strtod(p, &end);
                if (end == p)
                    break;
                t.eps[t.n_eps++] = e;
                p = *end == ',' ? end + 1 : end;
            }
        }
        for (int si = 0; si < 2; si++) {
            const char *src = si ? "learned" : "exact";
            if (!in_list(sources, src) || (si && !t.is_mixture))
                continue;
            /* the models of this source: none for the oracle, one or two
             * s2 structures for the learned scores */
            const char *s2s[2] = {"full", "diag"};
            int n_models = si ? (dim == 2 ? 1 : 2) : 1;
            for (int mi = 0; mi < n_models; mi++) {
                double sigma = si ? 0.1 : t.is_mixture ? 0.05 : 0.0;
                char src_name[16];
                snprintf(src_name, sizeof src_name, "%s%s%s", src, si ? "-" : "", si ? s2s[mi] : "");
                hosm_model *model = NULL;
                if (si) {
                    double tcpu;
                    model = train_model(&t, sigma, s2s[mi], train_steps, seed, &tcpu);
                    float *pts = xcalloc((size_t)2000 * dim, sizeof *pts);
                    CHECK(hosm_mixture_sample(t.mix, seed + 200, 2000, pts));
                    for (int i = 0; i < 2000 * dim; i++)
                        pts[i] += (float)(sigma * rng_normal());
                    printf("\ntrained %s on %s: s2=%s, %d steps, %.1f CPU s, relative s1 error %.3f\n",
                           src_name, t.name, s2s[mi], train_steps, tcpu,
                           score_error(&t, model, sigma, pts, 2000));
                    free(pts);
                }
                /* the judge: exact draws of the target at sigma */
                judge j = {&t, sigma, xcalloc((size_t)n * dim, sizeof(float)),
                           xcalloc((size_t)n * dim, sizeof(float)), xcalloc((size_t)n, sizeof(int64_t)),
                           t.x0};
                float *warm = NULL;
                if (si) {
                    /* a single-level model knows its score only near the
                     * data: its chains start from exact draws spread by
                     * N(0, 0.3^2 I), not from the broad start */
                    warm = xcalloc((size_t)n * dim, sizeof *warm);
                    CHECK(hosm_mixture_sample(t.mix, seed + 600, n, warm));
                    for (int i = 0; i < n * dim; i++)
                        warm[i] += (float)(0.3 * rng_normal());
                    j.x0 = warm;
                }
                CHECK(hosm_mixture_sample(t.mix, seed + 300, n, j.ref));
                /* the floor: five more independent sets of exact draws,
                 * measured like the samplers' states (mean and sd) */
                float *other = xcalloc((size_t)n * dim, sizeof *other);
                row ex = {.steps = 0, .cpu = 0, .acceptance = 1, .chains = n};
                double sk = 0, sk2 = 0, se = 0, so = 0;
                for (int rep = 0; rep < 5; rep++) {
                    CHECK(hosm_mixture_sample(t.mix, seed + 400 + (uint64_t)rep, n, other));
                    for (int i = 0; i < n * dim; i++)
                        other[i] += (float)(sigma * rng_normal());
                    measure(&j, other, n, &ex.ksd, &ex.ed, &ex.occ_tv);
                    sk += ex.ksd / 5, sk2 += ex.ksd * ex.ksd / 5, se += ex.ed / 5, so += ex.occ_tv / 5;
                }
                double ksd_sd = sqrt(fmax(0, sk2 - sk * sk) * 5 / 4);
                ex.ksd = sk, ex.ed = se, ex.occ_tv = so;
                snprintf(ex.target, sizeof ex.target, "%s", t.name);
                snprintf(ex.source, sizeof ex.source, "%s", src_name);
                snprintf(ex.sampler, sizeof ex.sampler, "exact");
                ex.ess_min = ex.ess_per_cpu = NAN;
                write_row(csv, &ex);
                free(other);

                const char *kinds[MAX_SAMPLERS];
                int n_kinds = 0;
                const char *all_kinds[] = {"langevin", "ozaki", "ozaki_l0", "mala", "mh_ozaki"};
                for (int k = 0; k < 5; k++) {
                    if (!in_list(samplers, all_kinds[k]))
                        continue;
                    if (si && k >= 3) /* a model has no log density */
                        continue;
                    if (k == 2 && !t.is_mixture) /* the clamp changes nothing on a Gaussian */
                        continue;
                    kinds[n_kinds++] = all_kinds[k];
                }
                for (int k = 0; k < n_kinds; k++) {
                    int cheap = !strcmp(kinds[k], "langevin") || !strcmp(kinds[k], "mala");
                    for (int e = 0; e < t.n_eps; e++)
                        run_one(csv, &j, src_name, model, sigma, kinds[k], t.eps[e],
                                cheap ? steps_cheap : steps, seed + 500);
                }
                summarise(t.name, src_name, kinds, n_kinds, ex.ksd, ksd_sd, ex.ed, ex.occ_tv);
                plot_ksd(out, t.name, src_name, kinds, n_kinds, ex.ksd);
                if (dim == 2 && t.is_mixture)
                    plot_scatter(out, &j, src_name, model, sigma, kinds, n_kinds, seed + 500);
                free(j.ref);
                free(j.score);
                free(j.comp);
                free(warm);
                hosm_model_free(model);
            }
        }
        hosm_mixture_free(t.mix);
        free(t.x0);
    }
    fclose(csv);
    printf("\nwrote %s\n", path);
    return 0;
}
