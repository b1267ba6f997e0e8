/*
 * demo2d: learn the score of a 2-D Gaussian mixture and its second-order
 * score, check them against the exact answers, and draw samples with
 * annealed Langevin dynamics.
 *
 *   usage: demo2d [output-directory [settings]]
 *
 * The output directory defaults to the current one; settings are extra
 * "key=value" pairs that override the built-in config, e.g. "steps=8000".
 *
 * Steps:
 *   1. the target: a mixture of 4 anisotropic Gaussians with unequal weights,
 *      whose exact (noise-perturbed) score libhosm's oracle computes;
 *   2. a training set of exact draws from it;
 *   3. a noise-conditional model over a geometric ladder of noise levels:
 *      the score s1 = grad log q_sigma and the second-order score s2 (its
 *      Hessian, a full 2 x 2 matrix), trained jointly by denoising score
 *      matching of first and second order;
 *   4. the relative error of the learned score s1 against the exact one on
 *      held-out noisy points, level by level; then that of the posterior
 *      covariance sigma^4 s2 + sigma^2 I (Tweedie) at two levels;
 *   5. annealed Langevin sampling from a broad Gaussian, then one Tweedie
 *      denoising step; sample moments and mode occupancy against the target;
 *   6. a picture (demo2d.svg): density, learned score field, samples, and
 *      posterior covariance ellipses, learned and exact, at 16 noisy points;
 *   7. a model file (demo2d.hosm) saved, reloaded and compared.
 *
 * Every libhosm call returns a status; TRY() reports a failure with
 * hosm_strerror() and hosm_last_errmsg() and jumps to the cleanup.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <hosm.h>

/* ---- settings ----------------------------------------------------------- */

/* One config text serves every handle: each reads the keys it needs.
 *  model:   an MLP 2 -> 64 -> 64 -> 64 -> 2 (SiLU) for s1 with a learned
 *           per-level bias, over 12 noise levels from sigma_max = 4 (about
 *           the spread of the data, so that the largest level joins all
 *           modes) down to sigma_min = 0.04 (well below the smallest
 *           component's width); a second MLP 2 -> 32 -> 32 -> 3 for a full
 *           s2 (the 3 entries of a symmetric 2 x 2 matrix), conditioned on
 *           the level in the same way;
 *  trainer: denoising score matching with the control variate (dsm_vr),
 *           whose gradient noise stays small at small sigma, and for s2 its
 *           second-order counterpart (d2sm_vr: an antithetic pair and a
 *           control variate), trained jointly; w1 = 10 weights the
 *           first-order term, so that learning s2 costs s1 no accuracy (with
 *           w1 = 1 the score error grew by about 30%); the s2 network is
 *           smaller than s1's, adding about 40% to the run time (64 x 3
 *           would more than double it for a covariance error about a fifth
 *           lower); Adam with batches of 256 and an EMA of the weights (the
 *           EMA starts at the initial weights: 6000 steps make their share
 *           0.995^6000 ~ 0);
 *  sampler: annealed Langevin, 100 steps per level, step eps_l = step_size *
 *           sigma_l^2 / sigma_min^2, i.e. eps_l = 0.2 sigma_l^2 at every level. */
static const char *const CONFIG =
    "hidden=64 depth=3 act=silu "
    "levels=12 sigma_max=4 sigma_min=0.04 "
    "s2=full s2_hidden=32 s2_depth=2 "
    "objective=dsm_vr s2_objective=d2sm_vr w1=10 lr=2e-3 batch=256 steps=6000 ema=0.995 "
    "sampler=annealed step_size=3.2e-4 sample_steps=100 "
    "seed=7";

enum {
    N_TRAIN = 20000,     /* training points */
    N_TEST = 4000,       /* held-out points for the score error */
    N_CHAINS = 2000,     /* Langevin chains */
    PRINT_EVERY = 500,   /* training progress interval (steps) */
    HEAT_CELLS = 120,    /* heat-map resolution (cells per side) */
    ARROW_CELLS = 21,    /* score-field arrows per side */
    ELLIPSE_CELLS = 4,   /* posterior covariance ellipses per side */
    SVG_SAMPLES = 1200   /* samples drawn in the picture */
};

#define DIM 2
#define K 4
#define PI 3.14159265358979323846
#define VIEW 5.0 /* the picture shows [-VIEW, VIEW]^2 */
/* The posterior covariance is checked at the levels nearest these sigmas
 * (nearest in log sigma), and drawn at the second: about the components'
 * widths, where it differs most from sigma^2 I and its ellipses show at the
 * picture's scale. */
#define CHECK_SIGMA 1.0
#define ELLIPSE_SIGMA 0.5

/* The target: weight, mean, standard deviations along its own axes, and the
 * angle of its long axis (degrees). */
static const struct {
    double weight, mean[DIM], sd_long, sd_short, angle;
} COMPONENTS[K] = {
    {0.40, {-2.0, -1.5}, 0.90, 0.30, 30.0},
    {0.30, {2.2, -1.0}, 0.70, 0.25, -60.0},
    {0.20, {1.0, 2.5}, 1.00, 0.35, 0.0},
    {0.10, {-2.2, 2.2}, 0.50, 0.20, 75.0},
};

/* ---- error handling ----------------------------------------------------- */

static void report(int status, const char *call)
{
    fprintf(stderr, "demo2d: %s\n  failed: %s: %s\n", call, hosm_strerror(status),
            hosm_last_errmsg());
}

/* Negative statuses are errors; HOSM_STOPPED (positive) is not. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        int status_ = (call);                                                                      \
        if (status_ < 0) {                                                                         \
            report(status_, #call);                                                                \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

#define ALLOC(ptr, count)                                                                          \
    do {                                                                                           \
        (ptr) = calloc((size_t)(count), sizeof *(ptr));                                            \
        if (!(ptr)) {                                                                              \
            fprintf(stderr, "demo2d: out of memory\n");                                            \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* ---- small helpers ------------------------------------------------------ */

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Covariance R diag(a^2, b^2) R^T of a component, R the rotation by angle. */
static void component_cov(int k, double cov[DIM * DIM])
{
    const double t = COMPONENTS[k].angle * PI / 180.0, c = cos(t), s = sin(t);
    const double a2 = COMPONENTS[k].sd_long * COMPONENTS[k].sd_long;
    const double b2 = COMPONENTS[k].sd_short * COMPONENTS[k].sd_short;
    cov[0] = c * c * a2 + s * s * b2;
    cov[1] = cov[2] = c * s * (a2 - b2);
    cov[3] = s * s * a2 + c * c * b2;
}

/* Mean and covariance of the mixture: sum w_k mu_k and
 * sum w_k (Sigma_k + mu_k mu_k^T) - mean mean^T. */
static void mixture_moments(double mean[DIM], double cov[DIM * DIM])
{
    memset(mean, 0, DIM * sizeof(double));
    memset(cov, 0, DIM * DIM * sizeof(double));
    for (int k = 0; k < K; k++) {
        double ck[DIM * DIM];
        component_cov(k, ck);
        const double w = COMPONENTS[k].weight, *mu = COMPONENTS[k].mean;
        for (int i = 0; i < DIM; i++) {
            mean[i] += w * mu[i];
            for (int j = 0; j < DIM; j++)
                cov[i * DIM + j] += w * (ck[i * DIM + j] + mu[i] * mu[j]);
        }
    }
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++)
            cov[i * DIM + j] -= mean[i] * mean[j];
}

static void sample_moments(const float *x, int64_t n, double mean[DIM], double cov[DIM * DIM])
{
    memset(mean, 0, DIM * sizeof(double));
    memset(cov, 0, DIM * DIM * sizeof(double));
    for (int64_t p = 0; p < n; p++)
        for (int i = 0; i < DIM; i++)
            mean[i] += x[p * DIM + i] / (double)n;
    for (int64_t p = 0; p < n; p++)
        for (int i = 0; i < DIM; i++)
            for (int j = 0; j < DIM; j++)
                cov[i * DIM + j] += (x[p * DIM + i] - mean[i]) * (x[p * DIM + j] - mean[j]) /
                                    (double)(n - 1);
}

/* The component with the largest w_k N(x; mu_k, Sigma_k): the mode a point
 * "belongs to". */
static int nearest_component(const float *x)
{
    int best = 0;
    double best_score = -INFINITY;
    for (int k = 0; k < K; k++) {
        double c[DIM * DIM];
        component_cov(k, c);
        const double det = c[0] * c[3] - c[1] * c[2];
        const double dx = x[0] - COMPONENTS[k].mean[0], dy = x[1] - COMPONENTS[k].mean[1];
        const double maha = (c[3] * dx * dx - 2.0 * c[1] * dx * dy + c[0] * dy * dy) / det;
        const double score = log(COMPONENTS[k].weight) - 0.5 * log(det) - 0.5 * maha;
        if (score > best_score) {
            best_score = score;
            best = k;
        }
    }
    return best;
}

static void occupancy(const float *x, int64_t n, double frac[K])
{
    memset(frac, 0, K * sizeof(double));
    for (int64_t p = 0; p < n; p++)
        frac[nearest_component(x + p * DIM)] += 1.0 / (double)n;
}

/* n standard normal draws times sd, from libhosm's own oracle: a mixture of
 * one Gaussian N(0, sd^2 I). Returns a status. */
static int gaussian_draws(double sd, uint64_t seed, int64_t n, float *out)
{
    const double weight = 1.0, mean[DIM] = {0.0, 0.0}, cov[DIM * DIM] = {sd * sd, 0, 0, sd * sd};
    hosm_mixture *g = NULL;
    int status = hosm_mixture_new(&g, 1, DIM, &weight, mean, cov);
    if (status == HOSM_OK)
        status = hosm_mixture_sample(g, seed, n, out);
    hosm_mixture_free(g);
    return status;
}

/* Relative error sqrt(sum |a - b|^2 / sum |b|^2) of n D-vectors. */
static double relative_error(const float *a, const float *b, int64_t count)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < count; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

/* The level of the model's ladder whose sigma is nearest to sigma in log
 * sigma. Returns a status. */
static int nearest_level(const hosm_model *model, double sigma, int64_t *level)
{
    int64_t n_levels;
    int status = hosm_model_num_levels(model, &n_levels);
    double best = INFINITY;
    for (int64_t l = 0; status == HOSM_OK && l < n_levels; l++) {
        double s;
        status = hosm_model_sigma(model, l, &s);
        if (status == HOSM_OK && fabs(log(s / sigma)) < best) {
            best = fabs(log(s / sigma));
            *level = l;
        }
    }
    return status;
}

/* ---- progress callbacks ------------------------------------------------- */

typedef struct {
    int64_t total;
    double loss_sum;
    int64_t loss_count;
    double t0;
} train_progress;

/* Called after every training step with the step count and the batch loss;
 * prints the mean loss of the last PRINT_EVERY steps. Returns 0: continue. */
static int on_train_step(int64_t step, double loss, void *user_data)
{
    train_progress *p = user_data;
    p->loss_sum += loss;
    p->loss_count++;
    if (step % PRINT_EVERY == 0 || step == p->total) {
        const double t = now() - p->t0;
        printf("  step %5lld/%lld  loss %.4f  %5.1f s  (%.0f steps/s)\n", (long long)step,
               (long long)p->total, p->loss_sum / (double)p->loss_count, t, (double)step / t);
        fflush(stdout);
        p->loss_sum = 0.0;
        p->loss_count = 0;
    }
    return 0;
}

typedef struct {
    int64_t steps_per_level, levels;
    double t0;
} sample_progress;

/* Called after every sampler step with the noise level in use; prints a line
 * at the end of each level of the annealing schedule. */
static int on_sample_step(int64_t step, double sigma, void *user_data)
{
    sample_progress *p = user_data;
    if (step % p->steps_per_level == 0) {
        printf("  level %2lld/%lld  sigma %.4f  done  %5.1f s\n",
               (long long)(step / p->steps_per_level), (long long)p->levels, sigma, now() - p->t0);
        fflush(stdout);
    }
    return 0;
}

/* ---- the picture -------------------------------------------------------- */

/* A perceptually ordered colour ramp (dark blue -> purple -> orange -> pale
 * yellow) at t in [0, 1]. */
static void ramp(double t, int rgb[3])
{
    static const double stops[][3] = {
        {13, 8, 50}, {84, 15, 109}, {163, 44, 104}, {229, 92, 48}, {250, 180, 40}, {252, 253, 191},
    };
    const int n = (int)(sizeof stops / sizeof stops[0]) - 1;
    t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    int i = (int)(t * n);
    if (i >= n)
        i = n - 1;
    const double f = t * n - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
}

typedef struct {
    double size, margin; /* plot square in pixels, and the margin around it */
} frame;

static double px(const frame *f, double x) { return f->margin + (x + VIEW) / (2 * VIEW) * f->size; }
static double py(const frame *f, double y) { return f->margin + (VIEW - y) / (2 * VIEW) * f->size; }

/* The 1-standard-deviation ellipse of a symmetric 2 x 2 covariance c
 * around mean, as an SVG element: the square roots of c's eigenvalues
 * (negative ones read as 0) as radii, rotated to its first axis. */
static void svg_ellipse(FILE *out, const frame *f, const float mean[DIM],
                        const float c[DIM * DIM])
{
    const double a = c[0], b = 0.5 * ((double)c[1] + c[2]), d = c[3];
    const double mid = 0.5 * (a + d), rad = hypot(0.5 * (a - d), b);
    const double r1 = sqrt(fmax(mid + rad, 0.0)), r2 = sqrt(fmax(mid - rad, 0.0));
    const double angle = 0.5 * atan2(2.0 * b, a - d), scale = f->size / (2 * VIEW);
    const double mx = px(f, mean[0]), my = py(f, mean[1]);
    fprintf(out,
            "<ellipse cx=\"%.1f\" cy=\"%.1f\" rx=\"%.2f\" ry=\"%.2f\" "
            "transform=\"rotate(%.1f %.1f %.1f)\"/>\n",
            mx, my, r1 * scale, r2 * scale, -angle * 180.0 / PI, mx, my);
}

/* Writes the SVG: a heat map of the clean mixture's log-density (cells of
 * equal colour merged into runs), arrows of the learned score at sigma_arrows,
 * the samples as dots, the posterior covariance ellipses at ellipse_level
 * (none if it is negative) and the component means as crosses. */
static int write_svg(const char *path, const hosm_mixture *mix, const hosm_model *model,
                     int64_t arrow_level, int64_t ellipse_level, const float *samples,
                     int64_t n_samples)
{
    const frame f = {640.0, 40.0};
    const double cell = f.size / HEAT_CELLS;
    const int64_t H = HEAT_CELLS, A = ARROW_CELLS, E = ellipse_level >= 0 ? ELLIPSE_CELLS : 0;
    float *grid = NULL, *arrows = NULL, *score = NULL;
    /* At the ellipse points: the noisy point, the posterior mean and
     * covariance, learned and exact. */
    float noisy[ELLIPSE_CELLS * ELLIPSE_CELLS * DIM], mean[ELLIPSE_CELLS * ELLIPSE_CELLS * DIM],
        mean_exact[ELLIPSE_CELLS * ELLIPSE_CELLS * DIM],
        cov[ELLIPSE_CELLS * ELLIPSE_CELLS * DIM * DIM],
        cov_exact[ELLIPSE_CELLS * ELLIPSE_CELLS * DIM * DIM];
    double *logp = NULL, sigma_arrows, sigma_ellipses = 0.0;
    int ok = 0;
    FILE *out = NULL;

    ALLOC(grid, H * H * DIM);
    ALLOC(logp, H * H);
    ALLOC(arrows, A * A * DIM);
    ALLOC(score, A * A * DIM);
    for (int64_t r = 0; r < H; r++) /* cell centres, top row first */
        for (int64_t c = 0; c < H; c++) {
            grid[(r * H + c) * DIM + 0] = (float)(-VIEW + (c + 0.5) * 2 * VIEW / H);
            grid[(r * H + c) * DIM + 1] = (float)(VIEW - (r + 0.5) * 2 * VIEW / H);
        }
    TRY(hosm_mixture_log_density(mix, 0.0, grid, H * H, logp));
    for (int64_t r = 0; r < A; r++)
        for (int64_t c = 0; c < A; c++) {
            arrows[(r * A + c) * DIM + 0] = (float)(-VIEW + (c + 0.5) * 2 * VIEW / A);
            arrows[(r * A + c) * DIM + 1] = (float)(VIEW - (r + 0.5) * 2 * VIEW / A);
        }
    TRY(hosm_model_score(model, arrow_level, arrows, A * A, score));
    TRY(hosm_model_sigma(model, arrow_level, &sigma_arrows));
    /* Ellipse points: an E x E grid over [-0.6 VIEW, 0.6 VIEW]^2, which puts
     * points on, beside and between the modes. */
    for (int64_t r = 0; r < E; r++)
        for (int64_t c = 0; c < E; c++) {
            noisy[(r * E + c) * DIM + 0] = (float)(VIEW * (-0.6 + 1.2 * (double)c / (E - 1)));
            noisy[(r * E + c) * DIM + 1] = (float)(VIEW * (0.6 - 1.2 * (double)r / (E - 1)));
        }
    if (E > 0) {
        TRY(hosm_model_sigma(model, ellipse_level, &sigma_ellipses));
        TRY(hosm_model_denoise(model, ellipse_level, noisy, E * E, mean));
        TRY(hosm_model_posterior_cov(model, ellipse_level, noisy, E * E, 1, cov));
        TRY(hosm_mixture_posterior_mean(mix, sigma_ellipses, noisy, E * E, mean_exact));
        TRY(hosm_mixture_posterior_cov(mix, sigma_ellipses, noisy, E * E, cov_exact));
    }

    out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "demo2d: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    const double W = f.size + 2 * f.margin, Hpx = f.size + 2 * f.margin + (E > 0 ? 116 : 62);
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"26\" font-size=\"17\">libhosm demo2d: %s "
            "on a 2-D Gaussian mixture</text>\n",
            W, Hpx, W, Hpx, f.margin,
            E > 0 ? "learned s1 and s2" : "a learned score");

    /* Heat map: log p clipped to 10 nats below its maximum, in 64 shades. */
    double top = -INFINITY;
    for (int64_t i = 0; i < H * H; i++)
        top = logp[i] > top ? logp[i] : top;
    fprintf(out, "<g shape-rendering=\"crispEdges\">\n");
    for (int64_t r = 0; r < H; r++) {
        int64_t c = 0;
        while (c < H) {
            const int shade = (int)lround(63.0 * fmax(0.0, 1.0 + (logp[r * H + c] - top) / 10.0));
            int64_t run = 1;
            while (c + run < H &&
                   (int)lround(63.0 * fmax(0.0, 1.0 + (logp[r * H + c + run] - top) / 10.0)) == shade)
                run++;
            int rgb[3];
            ramp(shade / 63.0, rgb);
            fprintf(out,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"#%02x%02x%02x\"/>\n",
                    f.margin + c * cell, f.margin + r * cell, run * cell + 0.3, cell + 0.3, rgb[0],
                    rgb[1], rgb[2]);
            c += run;
        }
    }
    fprintf(out, "</g>\n");

    /* Score arrows: direction of s1, length growing with |s1| up to 90% of
     * the arrow spacing (length = spacing * 0.9 * tanh(|s1| / median |s1|)). */
    double norms[ARROW_CELLS * ARROW_CELLS], median;
    for (int64_t i = 0; i < A * A; i++)
        norms[i] = hypot(score[i * DIM], score[i * DIM + 1]);
    {
        double sorted[ARROW_CELLS * ARROW_CELLS];
        memcpy(sorted, norms, sizeof sorted);
        for (int64_t i = 1; i < A * A; i++) /* insertion sort: 441 values */
            for (int64_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                double t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        median = sorted[A * A / 2];
    }
    /* The arrows are defined once and drawn twice: a dark halo, then a light
     * line, so that they show on both ends of the colour ramp. */
    const double spacing = f.size / A;
    fprintf(out, "<defs><g id=\"arrows\">\n");
    for (int64_t i = 0; i < A * A; i++) {
        if (!(norms[i] > 0.0))
            continue;
        const double len = 0.9 * spacing * tanh(norms[i] / median);
        const double ux = score[i * DIM] / norms[i], uy = -score[i * DIM + 1] / norms[i];
        const double x0 = px(&f, arrows[i * DIM]) - 0.5 * len * ux;
        const double y0 = py(&f, arrows[i * DIM + 1]) - 0.5 * len * uy;
        const double x1 = x0 + len * ux, y1 = y0 + len * uy, head = 0.3 * len;
        fprintf(out, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1fL%.1f %.1f\"/>\n", x0, y0,
                x1, y1, x1 - head * (ux - 0.5 * uy), y1 - head * (uy + 0.5 * ux), x1, y1,
                x1 - head * (ux + 0.5 * uy), y1 - head * (uy - 0.5 * ux));
    }
    fprintf(out, "</g></defs>\n"
                 "<g fill=\"none\" stroke-linecap=\"round\" stroke-linejoin=\"round\">\n"
                 "<use xlink:href=\"#arrows\" stroke=\"black\" stroke-opacity=\"0.45\" "
                 "stroke-width=\"3\"/>\n"
                 "<use xlink:href=\"#arrows\" stroke=\"#9fe8ff\" stroke-width=\"1.3\"/>\n</g>\n");

    /* Samples inside the view. */
    fprintf(out, "<g fill=\"white\" fill-opacity=\"0.85\" stroke=\"black\" stroke-width=\"0.4\">\n");
    for (int64_t i = 0; i < n_samples; i++) {
        const double x = samples[i * DIM], y = samples[i * DIM + 1];
        if (fabs(x) < VIEW && fabs(y) < VIEW)
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.7\"/>\n", px(&f, x), py(&f, y));
    }
    fprintf(out, "</g>\n");

    /* Posterior covariance ellipses (1 sd): the learned one solid around the
     * learned posterior mean, with a line from the noisy point (a square) to
     * that mean (a dot); the exact one dashed around the exact mean. Each
     * drawn on a dark halo, like the arrows. */
    if (E > 0) {
        fprintf(out, "<defs><g id=\"learned\">\n");
        for (int64_t i = 0; i < E * E; i++) {
            fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    px(&f, noisy[i * DIM]), py(&f, noisy[i * DIM + 1]), px(&f, mean[i * DIM]),
                    py(&f, mean[i * DIM + 1]));
            svg_ellipse(out, &f, mean + i * DIM, cov + i * DIM * DIM);
        }
        fprintf(out, "</g><g id=\"exact\">\n");
        for (int64_t i = 0; i < E * E; i++)
            svg_ellipse(out, &f, mean_exact + i * DIM, cov_exact + i * DIM * DIM);
        fprintf(out, "</g></defs>\n"
                     "<g fill=\"none\" stroke-linecap=\"round\">\n"
                     "<use xlink:href=\"#exact\" stroke=\"black\" stroke-opacity=\"0.5\" "
                     "stroke-width=\"3.5\" stroke-dasharray=\"5 4\"/>\n"
                     "<use xlink:href=\"#exact\" stroke=\"white\" stroke-width=\"1.6\" "
                     "stroke-dasharray=\"5 4\"/>\n"
                     "<use xlink:href=\"#learned\" stroke=\"black\" stroke-opacity=\"0.5\" "
                     "stroke-width=\"3.5\"/>\n"
                     "<use xlink:href=\"#learned\" stroke=\"#40ff80\" stroke-width=\"1.6\"/>\n"
                     "</g>\n<g fill=\"#40ff80\" stroke=\"black\" stroke-width=\"0.8\">\n");
        for (int64_t i = 0; i < E * E; i++)
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"6\"/>\n"
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.8\"/>\n",
                    px(&f, noisy[i * DIM]) - 3, py(&f, noisy[i * DIM + 1]) - 3,
                    px(&f, mean[i * DIM]), py(&f, mean[i * DIM + 1]));
        fprintf(out, "</g>\n");
    }

    /* Component means with their weights: white on a dark outline. */
    fprintf(out, "<g font-size=\"14\" font-weight=\"bold\" stroke=\"black\" stroke-width=\"3\" "
                 "paint-order=\"stroke\" fill=\"white\">\n");
    for (int k = 0; k < K; k++) {
        const double x = px(&f, COMPONENTS[k].mean[0]), y = py(&f, COMPONENTS[k].mean[1]);
        fprintf(out,
                "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" stroke=\"black\" stroke-width=\"4.5\"/>\n"
                "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" stroke=\"#40ff80\" stroke-width=\"2\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\">w = %.2f</text>\n",
                x - 5, y - 5, x - 5, y - 5, x + 9, y - 9, COMPONENTS[k].weight);
    }
    fprintf(out, "</g>\n");

    /* Frame, axis labels and caption. */
    fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                 "stroke=\"black\"/>\n<g font-size=\"11\" text-anchor=\"middle\">\n",
            f.margin, f.margin, f.size, f.size);
    for (int t = -4; t <= 4; t += 2) {
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%d</text>\n", px(&f, t), f.margin + f.size + 14, t);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%d</text>\n", f.margin - 14, py(&f, t) + 4, t);
    }
    fprintf(out,
            "</g>\n<g font-size=\"13\">\n"
            "<text x=\"%.0f\" y=\"%.0f\">Heat map: log-density of the mixture (the top 10 nats). "
            "Arrows: the learned</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\">score s1 at sigma = %.3f (direction; length grows with "
            "|s1|). Dots: %lld samples</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\">(annealed Langevin, then Tweedie denoising). Crosses: "
            "component means and weights.</text>\n",
            f.margin, f.size + 2 * f.margin + 12, f.margin, f.size + 2 * f.margin + 30,
            sigma_arrows, (long long)n_samples, f.margin, f.size + 2 * f.margin + 48);
    if (E > 0)
        fprintf(out,
                "<text x=\"%.0f\" y=\"%.0f\">Ellipses (sigma = %.3f): 1 sd of the posterior "
                "covariance sigma^4 s2 + sigma^2 I of a</text>\n"
                "<text x=\"%.0f\" y=\"%.0f\">noisy point (square), centred at its posterior "
                "mean (dot): from the learned s2</text>\n"
                "<text x=\"%.0f\" y=\"%.0f\">(green), and exact (dashed white, centred at the "
                "exact posterior mean).</text>\n",
                f.margin, f.size + 2 * f.margin + 66, sigma_ellipses, f.margin,
                f.size + 2 * f.margin + 84, f.margin, f.size + 2 * f.margin + 102);
    fprintf(out, "</g>\n</svg>\n");
    if (fclose(out) != 0) {
        out = NULL;
        fprintf(stderr, "demo2d: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    out = NULL;
    ok = 1;
done:
    if (out)
        fclose(out);
    free(grid);
    free(logp);
    free(arrows);
    free(score);
    return ok;
}

/* ---- the demo ----------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *outdir = argc > 1 ? argv[1] : ".";
    char svg_path[4096], model_path[4096];
    int exit_code = EXIT_FAILURE;

    hosm_mixture *mix = NULL;
    hosm_config *cfg = NULL;
    hosm_model *model = NULL, *reloaded = NULL;
    hosm_trainer *trainer = NULL;
    hosm_sampler *sampler = NULL;
    float *train = NULL, *test = NULL, *noisy = NULL, *learned = NULL, *exact = NULL;
    float *chains = NULL, *reference = NULL, *again = NULL, *cov_learned = NULL, *cov_exact = NULL;

    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [output-directory [key=value settings]]\n", argv[0]);
        return EXIT_FAILURE;
    }
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "demo2d: cannot create %s: %s\n", outdir, strerror(errno));
        return EXIT_FAILURE;
    }
    snprintf(svg_path, sizeof svg_path, "%s/demo2d.svg", outdir);
    snprintf(model_path, sizeof model_path, "%s/demo2d.hosm", outdir);
    const double t_start = now();
    printf("libhosm %s\n\n", hosm_version_string());

    /* 1. The target mixture. */
    double weights[K], means[K * DIM], covs[K * DIM * DIM];
    for (int k = 0; k < K; k++) {
        weights[k] = COMPONENTS[k].weight;
        memcpy(means + k * DIM, COMPONENTS[k].mean, sizeof COMPONENTS[k].mean);
        component_cov(k, covs + k * DIM * DIM);
    }
    TRY(hosm_mixture_new(&mix, K, DIM, weights, means, covs));
    printf("Target: a mixture of %d Gaussians in 2-D\n", K);
    for (int k = 0; k < K; k++)
        printf("  component %d: weight %.2f  mean (%5.2f, %5.2f)  sd %.2f x %.2f at %3.0f deg\n", k,
               COMPONENTS[k].weight, COMPONENTS[k].mean[0], COMPONENTS[k].mean[1],
               COMPONENTS[k].sd_long, COMPONENTS[k].sd_short, COMPONENTS[k].angle);

    /* 2. Training data: exact draws. */
    ALLOC(train, N_TRAIN * DIM);
    TRY(hosm_mixture_sample(mix, 1, N_TRAIN, train));

    /* 3. Model and trainer from one config text. */
    TRY(hosm_config_new(&cfg));
    TRY(hosm_config_parse(cfg, CONFIG));
    if (argc > 2) /* later settings override earlier ones */
        TRY(hosm_config_parse(cfg, argv[2]));
    TRY(hosm_model_new(&model, DIM, cfg));
    int64_t n_params, n_levels, steps, sample_steps, sampler_kind;
    double sigma_max, sigma_min, step_size;
    TRY(hosm_model_num_params(model, &n_params));
    TRY(hosm_model_num_levels(model, &n_levels));
    TRY(hosm_model_sigma(model, 0, &sigma_max));
    TRY(hosm_model_sigma(model, n_levels - 1, &sigma_min));
    TRY(hosm_config_get_int(cfg, HOSM_KEY_STEPS, &steps));
    TRY(hosm_config_get_int(cfg, HOSM_KEY_SAMPLE_STEPS, &sample_steps));
    TRY(hosm_config_get_double(cfg, HOSM_KEY_STEP_SIZE, &step_size));
    TRY(hosm_config_get_int(cfg, HOSM_KEY_SAMPLER, &sampler_kind));
    const int annealed = sampler_kind == HOSM_SAMPLER_ANNEALED;
    printf("\nConfig: %s%s%s\n", CONFIG, argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
    printf("Model: %lld parameters, %lld noise levels from sigma %.3f down to %.3f\n",
           (long long)n_params, (long long)n_levels, sigma_max, sigma_min);

    printf("\nTraining on %d points (denoising score matching, %lld steps)\n", N_TRAIN,
           (long long)steps);
    TRY(hosm_trainer_new(&trainer, model, cfg));
    train_progress tp = {steps, 0.0, 0, now()};
    TRY(hosm_trainer_fit(trainer, train, N_TRAIN, on_train_step, &tp));
    const double t_train = now() - tp.t0;
    /* The EMA of the weights is smoother than the last iterate: use it. */
    TRY(hosm_trainer_copy_ema(trainer, model));

    /* 4. Score accuracy on held-out noisy points, level by level. */
    ALLOC(test, N_TEST * DIM);
    ALLOC(noisy, N_TEST * DIM);
    ALLOC(learned, N_TEST * DIM);
    ALLOC(exact, N_TEST * DIM);
    TRY(hosm_mixture_sample(mix, 2, N_TEST, test)); /* another seed: not training data */
    printf("\nScore error on %d held-out noisy points, |s1 - s1_exact| / |s1_exact|:\n",
           N_TEST);
    double err_smallest = 0.0;
    for (int64_t l = 0; l < n_levels; l++) {
        double sigma;
        TRY(hosm_model_sigma(model, l, &sigma));
        TRY(gaussian_draws(sigma, 100 + (uint64_t)l, N_TEST, noisy)); /* sigma z */
        for (int64_t i = 0; i < N_TEST * DIM; i++)
            noisy[i] += test[i];                                   /* x + sigma z */
        TRY(hosm_model_score(model, l, noisy, N_TEST, learned));
        TRY(hosm_mixture_score(mix, sigma, noisy, N_TEST, exact));
        const double err = relative_error(learned, exact, N_TEST * DIM);
        printf("  level %2lld  sigma %6.3f  relative error %.3f\n", (long long)l, sigma, err);
        err_smallest = err;
    }

    /* 4b. The posterior covariance, learned (clamped to be positive semidefinite)
     * and exact, on the same points at two levels; next to it, for scale, the
     * error of sigma^2 I, the covariance a model with s2 = 0 would give.
     * Skipped if a setting turned s2 off. */
    int s2_structure;
    int64_t cov_levels[2] = {-1, -1};
    double cov_err = 0.0, cov_sigma = 0.0;
    TRY(hosm_model_s2_structure(model, &s2_structure, NULL));
    if (s2_structure != HOSM_S2_NONE) {
        TRY(nearest_level(model, CHECK_SIGMA, &cov_levels[0]));
        TRY(nearest_level(model, ELLIPSE_SIGMA, &cov_levels[1]));
        ALLOC(cov_learned, N_TEST * DIM * DIM);
        ALLOC(cov_exact, N_TEST * DIM * DIM);
        printf("\nPosterior covariance error on the same points, |C - C_exact|_F / |C_exact|_F\n"
               "(C = sigma^4 s2 + sigma^2 I, clamped; in parentheses: that of sigma^2 I alone):\n");
        for (int c = 0; c < 2; c++) {
            const int64_t l = cov_levels[c];
            if (c > 0 && l == cov_levels[0])
                break;
            TRY(hosm_model_sigma(model, l, &cov_sigma));
            TRY(gaussian_draws(cov_sigma, 100 + (uint64_t)l, N_TEST, noisy));
            for (int64_t i = 0; i < N_TEST * DIM; i++)
                noisy[i] += test[i];
            TRY(hosm_model_posterior_cov(model, l, noisy, N_TEST, 1, cov_learned));
            TRY(hosm_mixture_posterior_cov(mix, cov_sigma, noisy, N_TEST, cov_exact));
            cov_err = relative_error(cov_learned, cov_exact, N_TEST * DIM * DIM);
            for (int64_t i = 0; i < N_TEST; i++) /* sigma^2 I */
                for (int a = 0; a < DIM * DIM; a++)
                    cov_learned[i * DIM * DIM + a] =
                        a % (DIM + 1) == 0 ? (float)(cov_sigma * cov_sigma) : 0.0f;
            printf("  level %2lld  sigma %6.3f  relative error %.3f  (%.3f)\n", (long long)l,
                   cov_sigma, cov_err, relative_error(cov_learned, cov_exact, N_TEST * DIM * DIM));
        }
    } else
        printf("\nNo s2 (s2=none): no posterior covariance to check or draw.\n");

    /* 5. Annealed Langevin from a broad Gaussian N(0, 3^2 I). */
    ALLOC(chains, N_CHAINS * DIM);
    TRY(gaussian_draws(3.0, 3, N_CHAINS, chains));
    if (annealed)
        printf("\nSampling %d chains: annealed Langevin, %lld steps at each of %lld levels, "
               "step %.1e at sigma_min\n",
               N_CHAINS, (long long)sample_steps, (long long)n_levels, step_size);
    else
        printf("\nSampling %d chains: Langevin, %lld steps of %.1e at sigma_min\n", N_CHAINS,
               (long long)sample_steps, step_size);
    TRY(hosm_sampler_new(&sampler, model, cfg));
    sample_progress sp = {sample_steps, annealed ? n_levels : 1, now()};
    TRY(hosm_sampler_run(sampler, chains, N_CHAINS, on_sample_step, &sp));
    const double t_sample = now() - sp.t0;
    /* The chains end near q_sigma_min, the data blurred by sigma_min; Tweedie's
     * formula x + sigma^2 s1(x) removes that blur (in place). */
    TRY(hosm_model_denoise(model, n_levels - 1, chains, N_CHAINS, chains));

    /* Reference: as many exact draws, to show the size of sampling noise. */
    ALLOC(reference, N_CHAINS * DIM);
    TRY(hosm_mixture_sample(mix, 4, N_CHAINS, reference));
    double mean_t[DIM], cov_t[DIM * DIM], mean_s[DIM], cov_s[DIM * DIM], mean_r[DIM],
        cov_r[DIM * DIM], occ_s[K], occ_r[K];
    mixture_moments(mean_t, cov_t);
    sample_moments(chains, N_CHAINS, mean_s, cov_s);
    sample_moments(reference, N_CHAINS, mean_r, cov_r);
    occupancy(chains, N_CHAINS, occ_s);
    occupancy(reference, N_CHAINS, occ_r);
    printf("\nSample statistics (%d samples)   Langevin            exact draws         target\n",
           N_CHAINS);
    printf("  mean                        (%6.3f, %6.3f)     (%6.3f, %6.3f)     (%6.3f, %6.3f)\n",
           mean_s[0], mean_s[1], mean_r[0], mean_r[1], mean_t[0], mean_t[1]);
    printf("  covariance xx, xy, yy       %5.3f %6.3f %5.3f   %5.3f %6.3f %5.3f   %5.3f %6.3f "
           "%5.3f\n",
           cov_s[0], cov_s[1], cov_s[3], cov_r[0], cov_r[1], cov_r[3], cov_t[0], cov_t[1],
           cov_t[3]);
    for (int k = 0; k < K; k++)
        printf("  fraction nearest component %d  %.3f               %.3f               %.3f\n",
               k, occ_s[k], occ_r[k], COMPONENTS[k].weight);

    /* 6. The picture. */
    if (!write_svg(svg_path, mix, model, n_levels - 1, cov_levels[1], chains,
                   N_CHAINS < SVG_SAMPLES ? N_CHAINS : SVG_SAMPLES))
        goto done;
    printf("\nWrote %s\n", svg_path);

    /* 7. Save, reload, compare. */
    TRY(hosm_model_save(model, model_path));
    TRY(hosm_model_load(&reloaded, model_path));
    ALLOC(again, N_TEST * DIM * DIM); /* room for scores or covariances */
    TRY(hosm_model_score(model, n_levels - 1, noisy, N_TEST, learned));
    TRY(hosm_model_score(reloaded, n_levels - 1, noisy, N_TEST, again));
    int same = memcmp(learned, again, (size_t)N_TEST * DIM * sizeof(float)) == 0;
    if (cov_learned) { /* and the posterior covariances */
        TRY(hosm_model_posterior_cov(model, cov_levels[1], noisy, N_TEST, 1, cov_learned));
        TRY(hosm_model_posterior_cov(reloaded, cov_levels[1], noisy, N_TEST, 1, again));
        same = same && memcmp(cov_learned, again,
                              (size_t)N_TEST * DIM * DIM * sizeof(float)) == 0;
    }
    int64_t file_bytes;
    TRY(hosm_model_save_size(model, &file_bytes));
    printf("Wrote %s (%lld bytes); reloaded: %s %s\n", model_path, (long long)file_bytes,
           cov_learned ? "scores and covariances" : "scores", same ? "identical" : "DIFFER");
    if (!same)
        goto done;

    printf("\nSummary: score error %.3f at sigma %.3f", err_smallest, sigma_min);
    if (cov_learned)
        printf(", covariance error %.3f at sigma %.3f", cov_err, cov_sigma);
    printf("; trained in %.1f s, sampled in %.1f s, total %.1f s\n", t_train, t_sample,
           now() - t_start);
    exit_code = EXIT_SUCCESS;

done:
    hosm_sampler_free(sampler);
    hosm_trainer_free(trainer);
    hosm_model_free(reloaded);
    hosm_model_free(model);
    hosm_config_free(cfg);
    hosm_mixture_free(mix);
    free(train);
    free(test);
    free(noisy);
    free(learned);
    free(exact);
    free(chains);
    free(reference);
    free(again);
    free(cov_learned);
    free(cov_exact);
    return exit_code;
}
