/*
 * images: denoising real images (Fashion-MNIST, 784 pixels) with the Tweedie
 * mean x + sigma^2 s1 and its posterior variance sigma^4 s2 + sigma^2, against
 * the linear Wiener (PCA) filter and a Gaussian blur (docs/images.md).
 *
 *   usage: images [options]
 *     --train PATH        training images, IDX (uncompressed, or .gz read
 *                         through gzip -dc); default Fashion-MNIST's
 *     --test PATH         test images, same format
 *     --ntrain 0          training images used (0 = all)
 *     --ntest 1000        test images evaluated
 *     --sigmas 0.5,0.2    noise levels, one model each
 *     --hidden 1024 --depth 2 --act silu      the s1 network
 *     --s2 diag --rank 10 --s2-hidden 512 --s2-depth 0   the s2 network
 *     --objective dsm_vr --s2-objective d2sm_vr
 *     --w1 1 --freeze-s1 0
 *     --s1-steps 0        first train s1 alone (a model without s2) for this
 *                         many steps, then s2 with s1 frozen at its EMA
 *     --s1-frac 0         with --budget: the share of the budget for s1 alone
 *     --steps 3000        Adam steps (of the model with s2)
 *     --budget 0          CPU seconds of training a model; > 0 replaces the
 *                         step counts
 *     --lr 1e-3 --batch 128 --ema 0.999 --raw-head 0 --seed 1
 *     --s2-lr 0           the learning rate of the s2 stage of staged training
 *                         (0: --lr)
 *     --jacobian-var N    also the posterior variances sigma^2 + sigma^4
 *                         diag(J) from the Jacobian of s1 of the first N test
 *                         images (D tangents an image), their calibration
 *     --set "k=v ..."     further model and trainer keys, e.g.
 *                         "parameterization=denoiser"
 *     --blur 1            also the best Gaussian blur (width chosen on
 *                         training images)
 *     --log-every 500     print the mean loss every this many steps
 *     --eval-every 0      also the Tweedie PSNR on 200 test images
 *     --grid 6 --topk 3 --scale 2   rows, posterior directions and pixel
 *                         scale of the PNG grid
 *     --out DIR           where the PNGs go (default .)
 *     --tag NAME          prefix of the PNG names and the "tag" of the results
 *     --pca 256,512       print the caps of width-h output layers (below) and exit
 *
 * Each model is evaluated with its final and its EMA weights. One JSON line a
 * model and weights goes to stdout; progress goes to stderr. The test images
 * are x + sigma z with z from the program's own RNG (seed 7), the same for
 * every training seed. PSNR is 10 log10(1 / MSE) per image, averaged over
 * images (pixels in [0, 1], outputs not clipped).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hosm.h>

#include "experiment_util.h"

#define MAXSIG 8
#define NDEC 10
#define NEVAL_QUICK 200


/* ---- options ---------------------------------------------------------------- */

typedef struct {
    char train[512], test[512], out[512], tag[64], pca[128], extra[256];
    char act[16], s2[16], obj[16], s2obj[16];
    double sigmas[MAXSIG];
    int nsig;
    int64_t ntrain, ntest, hidden, depth, rank, s2_hidden, s2_depth;
    int64_t steps, s1_steps, batch, log_every, eval_every, seed, jac_n;
    int freeze, raw_head, blur, grid, topk, scale;
    double w1, lr, s2_lr, ema, budget, s1_frac;
} options;

static void usage(void)
{
    fprintf(stderr, "usage: images [--train P] [--test P] [--ntrain N] [--ntest N] "
                    "[--sigmas a,b] [--hidden H] [--depth L] [--act A] [--s2 S] [--rank R] "
                    "[--s2-hidden H] [--s2-depth L] [--objective O] [--s2-objective O] "
                    "[--w1 W] [--freeze-s1 0|1] [--s1-steps N] [--s1-frac F] [--steps N] "
                    "[--budget SEC] [--lr X] [--s2-lr X] [--batch B] [--ema E] [--raw-head 0|1] "
                    "[--seed S] [--blur 0|1] [--log-every N] [--eval-every N] [--grid N] "
                    "[--topk K] [--scale S] [--out DIR] [--tag NAME] [--pca h,h] [--jacobian-var N] "
                    "[--set \"k=v ...\"]\n");
    exit(2);
}

static int parse_list(const char *s, double *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtod(s, &end);
        if (end == s || (*end && *end != ','))
            return -1;
        s = *end ? end + 1 : end;
    }
    return n;
}

#define STR_OPT(name, field)                                                                 \
    if (!strcmp(a, name)) {                                                                  \
        snprintf(o->field, sizeof o->field, "%s", v);                                        \
        continue;                                                                            \
    }
#define INT_OPT(name, field)                                                                 \
    if (!strcmp(a, name)) {                                                                  \
        o->field = atoll(v);                                                                 \
        continue;                                                                            \
    }
#define DBL_OPT(name, field)                                                                 \
    if (!strcmp(a, name)) {                                                                  \
        o->field = atof(v);                                                                  \
        continue;                                                                            \
    }

static void parse_options(int argc, char **argv, options *o)
{
    *o = (options){.train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
                   .test = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                   .out = ".", .tag = "images", .act = "silu", .s2 = "diag", .obj = "dsm_vr",
                   .s2obj = "d2sm_vr", .sigmas = {0.5, 0.2}, .nsig = 2, .ntest = 1000,
                   .hidden = 1024, .depth = 2, .rank = 10, .s2_hidden = 512, .steps = 3000,
                   .batch = 128, .log_every = 500, .seed = 1, .blur = 1, .grid = 6, .topk = 3,
                   .scale = 2, .w1 = 1.0, .lr = 1e-3, .ema = 0.999};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--sigmas")) {
            o->nsig = parse_list(v, o->sigmas, MAXSIG);
            continue;
        }
        STR_OPT("--train", train) STR_OPT("--test", test) STR_OPT("--out", out)
        STR_OPT("--tag", tag) STR_OPT("--act", act) STR_OPT("--s2", s2) STR_OPT("--pca", pca)
        STR_OPT("--set", extra) STR_OPT("--objective", obj) STR_OPT("--s2-objective", s2obj)
        INT_OPT("--ntrain", ntrain) INT_OPT("--ntest", ntest) INT_OPT("--hidden", hidden)
        INT_OPT("--depth", depth) INT_OPT("--rank", rank) INT_OPT("--s2-hidden", s2_hidden)
        INT_OPT("--s2-depth", s2_depth) INT_OPT("--steps", steps)
        INT_OPT("--s1-steps", s1_steps) INT_OPT("--batch", batch)
        INT_OPT("--log-every", log_every) INT_OPT("--eval-every", eval_every)
        INT_OPT("--seed", seed) INT_OPT("--freeze-s1", freeze) INT_OPT("--raw-head", raw_head)
        INT_OPT("--jacobian-var", jac_n)
        INT_OPT("--blur", blur) INT_OPT("--grid", grid) INT_OPT("--topk", topk)
        INT_OPT("--scale", scale) DBL_OPT("--w1", w1) DBL_OPT("--lr", lr) DBL_OPT("--s2-lr", s2_lr)
        DBL_OPT("--ema", ema) DBL_OPT("--budget", budget) DBL_OPT("--s1-frac", s1_frac)
        usage();
    }
    if (o->nsig < 1 || o->ntest < 1 || o->steps < 1 || o->s1_steps < 0 || o->grid < 0 ||
        o->jac_n < 0 || strpbrk(o->extra, "\"\\") || /* --set goes into the JSON as is */
        o->topk < 0 || o->scale < 1 || o->scale > 16 || o->s1_frac < 0 || o->s1_frac >= 1 ||
        o->s2_lr < 0)
        usage();
    for (int j = 0; j < o->nsig; j++)
        if (!(o->sigmas[j] > 0.0))
            usage();
}

/* ---- IDX files ------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Open path for reading, through gzip -dc when it ends in .gz (no zlib). */
static FILE *open_maybe_gz(const char *path, int *piped)
{
    *piped = ends_with(path, ".gz");
    if (!*piped)
        return fopen(path, "rb");
    if (strchr(path, '\'')) {
        fprintf(stderr, "images: a quote in the path %s\n", path);
        exit(1);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    return popen(cmd, "r");
}

/* An IDX file of unsigned bytes with 3 dimensions (images x rows x cols),
 * as floats in [0, 1]; at most max images (0 = all). */
static float *read_idx(const char *path, int64_t max, int64_t *n, int64_t *rows, int64_t *cols)
{
    int piped;
    FILE *f = open_maybe_gz(path, &piped);
    unsigned char hdr[16];
    if (!f || fread(hdr, 1, 16, f) != 16 || be32(hdr) != 0x803u) {
        fprintf(stderr, "images: %s is not an IDX file of ubyte images\n", path);
        exit(1);
    }
    *n = be32(hdr + 4);
    *rows = be32(hdr + 8);
    *cols = be32(hdr + 12);
    if (max > 0 && max < *n)
        *n = max;
    const int64_t count = *n * *rows * *cols;
    unsigned char *raw = xmalloc((size_t)count);
    if (*rows < 1 || *cols < 1 || *n < 1 || fread(raw, 1, (size_t)count, f) != (size_t)count) {
        fprintf(stderr, "images: %s is truncated\n", path);
        exit(1);
    }
    if (piped) {
        char sink[4096]; /* let gzip finish writing before pclose */
        while (fread(sink, 1, sizeof sink, f) > 0)
            ;
        pclose(f);
    } else {
        fclose(f);
    }
    float *x = xmalloc(sizeof(float) * (size_t)count);
    for (int64_t i = 0; i < count; i++)
        x[i] = raw[i] / 255.0f;
    free(raw);
    return x;
}

/* ---- the linear Wiener (PCA) filter --------------------------------------------- */

typedef struct {
    int64_t D;
    double *mu, *cov; /* mean and covariance of the training images */
    double *L;        /* Cholesky factor of cov + sigma^2 I */
    double *var;      /* its posterior variances sigma^2 (1 - sigma^2 [(C + s^2 I)^-1]_aa) */
} wiener;

static void mean_cov(const float *x, int64_t n, int64_t D, double *mu, double *cov)
{
    double *d = xmalloc(sizeof(double) * (size_t)D);
    memset(mu, 0, sizeof(double) * (size_t)D);
    memset(cov, 0, sizeof(double) * (size_t)(D * D));
    for (int64_t i = 0; i < n; i++)
        for (int64_t a = 0; a < D; a++)
            mu[a] += x[i * D + a] / (double)n;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t a = 0; a < D; a++)
            d[a] = x[i * D + a] - mu[a];
        for (int64_t a = 0; a < D; a++) /* upper triangle only */
            for (int64_t b = a; b < D; b++)
                cov[a * D + b] += d[a] * d[b];
    }
    for (int64_t a = 0; a < D; a++)
        for (int64_t b = a; b < D; b++)
            cov[b * D + a] = cov[a * D + b] /= (double)(n - 1 > 0 ? n - 1 : 1);
    free(d);
}

/* Lower Cholesky factor in place (the upper triangle is left alone). */
static void cholesky(double *A, int64_t D)
{
    for (int64_t j = 0; j < D; j++) {
        double s = A[j * D + j];
        for (int64_t k = 0; k < j; k++)
            s -= A[j * D + k] * A[j * D + k];
        A[j * D + j] = sqrt(s > 1e-300 ? s : 1e-300);
        for (int64_t i = j + 1; i < D; i++) {
            double t = A[i * D + j];
            for (int64_t k = 0; k < j; k++)
                t -= A[i * D + k] * A[j * D + k];
            A[i * D + j] = t / A[j * D + j];
        }
    }
}

/* y = (L L^T)^-1 y. */
static void chol_solve(const double *L, int64_t D, double *y)
{
    for (int64_t i = 0; i < D; i++) {
        double t = y[i];
        for (int64_t k = 0; k < i; k++)
            t -= L[i * D + k] * y[k];
        y[i] = t / L[i * D + i];
    }
    for (int64_t i = D - 1; i >= 0; i--) {
        double t = y[i];
        for (int64_t k = i + 1; k < D; k++)
            t -= L[k * D + i] * y[k];
        y[i] = t / L[i * D + i];
    }
}

/* Factor cov + sigma^2 I and the filter's per-pixel posterior variance. */
static void wiener_at(wiener *w, double sigma)
{
    const int64_t D = w->D;
    const double s2 = sigma * sigma;
    memcpy(w->L, w->cov, sizeof(double) * (size_t)(D * D));
    for (int64_t a = 0; a < D; a++)
        w->L[a * D + a] += s2;
    cholesky(w->L, D);
    double *e = xmalloc(sizeof(double) * (size_t)D);
    for (int64_t a = 0; a < D; a++) { /* [A^-1]_aa, column by column */
        memset(e, 0, sizeof(double) * (size_t)D);
        e[a] = 1.0;
        chol_solve(w->L, D, e);
        w->var[a] = s2 * (1.0 - s2 * e[a]);
    }
    free(e);
}

/* x_hat = mu + C (C + s^2 I)^-1 (y - mu) = y - s^2 (C + s^2 I)^-1 (y - mu). */
static void wiener_apply(const wiener *w, double sigma, const float *y, int64_t n, float *out)
{
    const int64_t D = w->D;
    double *r = xmalloc(sizeof(double) * (size_t)D);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t a = 0; a < D; a++)
            r[a] = y[i * D + a] - w->mu[a];
        chol_solve(w->L, D, r);
        for (int64_t a = 0; a < D; a++)
            out[i * D + a] = (float)(y[i * D + a] - sigma * sigma * r[a]);
    }
    free(r);
}

/* The eigenvalues of the symmetric A (D x D, destroyed) by cyclic Jacobi
 * rotations, in decreasing order. */
static void jacobi_eigenvalues(double *A, int64_t D, double *ev)
{
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0, diag = 0.0;
        for (int64_t p = 0; p < D; p++) {
            diag += A[p * D + p] * A[p * D + p];
            for (int64_t q = p + 1; q < D; q++)
                off += A[p * D + q] * A[p * D + q];
        }
        if (off <= 1e-22 * diag)
            break;
        for (int64_t p = 0; p < D; p++)
            for (int64_t q = p + 1; q < D; q++) {
                double apq = A[p * D + q];
                if (fabs(apq) < 1e-300)
                    continue;
                double th = (A[q * D + q] - A[p * D + p]) / (2.0 * apq);
                double t = (th >= 0 ? 1.0 : -1.0) / (fabs(th) + sqrt(th * th + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int64_t k = 0; k < D; k++) { /* columns p, q */
                    double akp = A[k * D + p], akq = A[k * D + q];
                    A[k * D + p] = c * akp - s * akq, A[k * D + q] = s * akp + c * akq;
                }
                for (int64_t k = 0; k < D; k++) { /* rows p, q */
                    double apk = A[p * D + k], aqk = A[q * D + k];
                    A[p * D + k] = c * apk - s * aqk, A[q * D + k] = s * apk + c * aqk;
                }
            }
    }
    for (int64_t a = 0; a < D; a++)
        ev[a] = -A[a * D + a];
    qsort(ev, (size_t)D, sizeof *ev, cmp_double);
    for (int64_t a = 0; a < D; a++)
        ev[a] = -ev[a];
}

/* Caps of an output layer of width h. A score network's output net(x) lies in
 * an h-dimensional affine subspace, so the noise sigma z keeps its D - h
 * other components in x + sigma net(x): MSE >= sigma^2 (D - h) / D. A network
 * that outputs the clean image is capped only by the best h-dimensional affine
 * fit of the images, the PCA tail sum_{k > h} lambda_k / D. */
static void print_caps(const options *o, const double *cov, int64_t D)
{
    double *A = xmalloc(sizeof(double) * (size_t)(D * D)), *ev = xmalloc(sizeof(double) * (size_t)D);
    double hs[MAXSIG];
    int nh = parse_list(o->pca, hs, MAXSIG);
    memcpy(A, cov, sizeof(double) * (size_t)(D * D));
    jacobi_eigenvalues(A, D, ev);
    for (int j = 0; j < o->nsig; j++)
        for (int k = 0; k < nh; k++) {
            int64_t h = (int64_t)hs[k] < D ? (int64_t)hs[k] : D;
            double tail = 0.0, s2 = o->sigmas[j] * o->sigmas[j];
            for (int64_t a = h; a < D; a++)
                tail += ev[a] > 0 ? ev[a] : 0;
            printf("{\"sigma\":%g,\"width\":%lld,\"cap_score_db\":%.2f,"
                   "\"cap_clean_db\":%.2f}\n",
                   o->sigmas[j], (long long)h,
                   h < D ? -10.0 * log10(s2 * (double)(D - h) / (double)D) : 999.0,
                   tail > 0 ? -10.0 * log10(tail / (double)D) : 999.0);
        }
    free(A);
    free(ev);
}

/* ---- Gaussian blur ---------------------------------------------------------------- */

/* Separable blur of width s pixels, edges clamped. */
static void blur_apply(const float *x, int64_t n, int64_t R, int64_t C, double s, float *out)
{
    double k[41];
    const int h = (int)fmin(20.0, ceil(3.0 * s));
    double sum = 0.0;
    for (int j = -h; j <= h; j++)
        sum += k[j + h] = exp(-0.5 * j * j / (s * s));
    float *tmp = xmalloc(sizeof(float) * (size_t)(R * C));
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + i * R * C;
        float *oi = out + i * R * C;
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) {
                double t = 0.0;
                for (int j = -h; j <= h; j++)
                    t += k[j + h] * xi[r * C + (c + j < 0 ? 0 : c + j >= C ? C - 1 : c + j)];
                tmp[r * C + c] = (float)(t / sum);
            }
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) {
                double t = 0.0;
                for (int j = -h; j <= h; j++)
                    t += k[j + h] * tmp[(r + j < 0 ? 0 : r + j >= R ? R - 1 : r + j) * C + c];
                oi[r * C + c] = (float)(t / sum);
            }
    }
    free(tmp);
}

/* ---- measures ---------------------------------------------------------------------- */

/* Mean over images of 10 log10(1 / MSE). */
static double psnr(const float *est, const float *ref, int64_t n, int64_t D)
{
    double tot = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double se = 0.0;
        for (int64_t a = 0; a < D; a++) {
            double d = (double)est[i * D + a] - ref[i * D + a];
            se += d * d;
        }
        tot += -10.0 * log10(se / (double)D + 1e-20);
    }
    return tot / (double)n;
}

typedef struct {
    double calib, dec[NDEC], corr, corr_ideal;
    double dec_var[NDEC], dec_mse[NDEC]; /* a decile's mean predicted variance and squared error */
} calibration;

typedef struct {
    double v, e2;
} pair;

static int cmp_pair(const void *a, const void *b)
{
    double x = ((const pair *)a)->v, y = ((const pair *)b)->v;
    return x < y ? -1 : x > y;
}

/* Pearson correlation of sqrt(v) with |e|, and what it would be if every
 * error were N(0, v): E|e| = sqrt(2/pi) s, E e^2 = s^2. */
static void correlations(const pair *p, int64_t N, calibration *c)
{
    double ss = 0, s2 = 0, ee = 0, e2 = 0, se = 0;
    for (int64_t i = 0; i < N; i++) {
        double s = sqrt(p[i].v), e = sqrt(p[i].e2);
        ss += s, s2 += s * s, ee += e, e2 += e * e, se += s * e;
    }
    ss /= N, s2 /= N, ee /= N, e2 /= N, se /= N;
    c->corr = (se - ss * ee) / sqrt((s2 - ss * ss) * (e2 - ee * ee) + 1e-300);
    const double k = sqrt(2.0 / 3.14159265358979323846);
    c->corr_ideal = k * (s2 - ss * ss) / sqrt((s2 - ss * ss) * (s2 - k * k * ss * ss) + 1e-300);
}

/* Predicted variance over realised squared error: overall and per decile of
 * the predicted variance over all (image, pixel) pairs. */
static calibration calibrate(const float *var, const float *est, const float *ref, int64_t N)
{
    pair *p = xmalloc(sizeof(pair) * (size_t)N);
    double sv = 0.0, se = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double d = (double)est[i] - ref[i];
        p[i] = (pair){var[i] > 0 ? var[i] : 0.0, d * d};
        sv += p[i].v, se += p[i].e2;
    }
    calibration c = {.calib = sv / se};
    correlations(p, N, &c);
    qsort(p, (size_t)N, sizeof *p, cmp_pair);
    for (int q = 0; q < NDEC; q++) {
        double a = 0.0, b = 0.0;
        const int64_t lo = N * q / NDEC, hi = N * (q + 1) / NDEC;
        for (int64_t i = lo; i < hi; i++)
            a += p[i].v, b += p[i].e2;
        c.dec[q] = a / (b + 1e-300);
        c.dec_var[q] = a / (double)(hi - lo > 0 ? hi - lo : 1);
        c.dec_mse[q] = b / (double)(hi - lo > 0 ? hi - lo : 1);
    }
    free(p);
    return c;
}

/* ---- PNG: 8-bit grayscale, stored (uncompressed) deflate blocks ----------------- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc_update(uint32_t c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void write_chunk(FILE *f, const char *type, const unsigned char *data, size_t n)
{
    unsigned char b[4];
    put32(b, (uint32_t)n);
    fwrite(b, 1, 4, f);
    fwrite(type, 1, 4, f);
    if (n)
        fwrite(data, 1, n, f);
    uint32_t c = crc_update(0xffffffffu, (const unsigned char *)type, 4);
    put32(b, crc_update(c, data, n) ^ 0xffffffffu);
    fwrite(b, 1, 4, f);
}

/* The zlib stream of raw: header, stored blocks of at most 65535 bytes, Adler-32. */
static unsigned char *zlib_stored(const unsigned char *raw, size_t n, size_t *out_n)
{
    size_t blocks = n / 65535 + 1, k = 0;
    unsigned char *z = xmalloc(n + 5 * blocks + 6);
    z[k++] = 0x78, z[k++] = 0x01;
    uint32_t s1 = 1, s2 = 0;
    for (size_t i = 0; i < n; i++)
        s1 = (s1 + raw[i]) % 65521u, s2 = (s2 + s1) % 65521u;
    for (size_t off = 0, b = 0; b < blocks; b++) {
        size_t len = n - off < 65535 ? n - off : 65535;
        z[k++] = b + 1 == blocks; /* BFINAL, BTYPE = 00 (stored) */
        z[k++] = (unsigned char)len, z[k++] = (unsigned char)(len >> 8);
        z[k++] = (unsigned char)~len, z[k++] = (unsigned char)(~len >> 8);
        memcpy(z + k, raw + off, len);
        k += len, off += len;
    }
    put32(z + k, s2 << 16 | s1);
    *out_n = k + 4;
    return z;
}

static int png_write_gray(const char *path, const unsigned char *pix, int64_t w, int64_t h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {0};
    put32(ihdr, (uint32_t)w), put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8; /* bit depth; colour type 0 = grey, no interlace */
    size_t rn = (size_t)(h * (w + 1)), zn;
    unsigned char *raw = xmalloc(rn);
    for (int64_t r = 0; r < h; r++) {
        raw[r * (w + 1)] = 0; /* filter: none */
        memcpy(raw + r * (w + 1) + 1, pix + r * w, (size_t)w);
    }
    unsigned char *z = zlib_stored(raw, rn, &zn);
    fwrite(sig, 1, 8, f);
    write_chunk(f, "IHDR", ihdr, 13);
    write_chunk(f, "IDAT", z, zn);
    write_chunk(f, "IEND", NULL, 0);
    free(raw);
    free(z);
    return fclose(f) ? -1 : 0;
}

/* ---- the picture grid ------------------------------------------------------------ */

typedef struct {
    int64_t R, C, rows, cols, scale;
    unsigned char *pix; /* (rows (R + 1) + 1) scale x (cols (C + 1) + 1) scale */
} grid;

static grid grid_new(int64_t R, int64_t C, int64_t rows, int64_t cols, int64_t scale)
{
    grid g = {R, C, rows, cols, scale, NULL};
    size_t n = (size_t)(((rows * (R + 1) + 1) * scale) * ((cols * (C + 1) + 1) * scale));
    g.pix = xmalloc(n);
    memset(g.pix, 200, n); /* light grey gaps */
    return g;
}

/* Tile (row, col) from values v (R x C) mapped by v * gain + offset to [0, 1]. */
static void grid_tile(grid *g, int64_t row, int64_t col, const float *v, double gain,
                      double offset)
{
    const int64_t W = (g->cols * (g->C + 1) + 1) * g->scale, s = g->scale;
    for (int64_t r = 0; r < g->R * s; r++)
        for (int64_t c = 0; c < g->C * s; c++) {
            double t = v[(r / s) * g->C + c / s] * gain + offset;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            int64_t y = (row * (g->R + 1) + 1) * s + r, x = (col * (g->C + 1) + 1) * s + c;
            g->pix[y * W + x] = (unsigned char)lrint(255.0 * t);
        }
}

static void grid_save(grid *g, const char *path)
{
    if (png_write_gray(path, g->pix, (g->cols * (g->C + 1) + 1) * g->scale,
                       (g->rows * (g->R + 1) + 1) * g->scale)) {
        fprintf(stderr, "images: cannot write %s\n", path);
        exit(1);
    }
    free(g->pix);
}

/* ---- the test set at one sigma, with the baselines -------------------------------- */

typedef struct {
    int64_t n, D, R, C;
    double sigma;
    const float *x;       /* clean */
    float *y, *xw, *xb;   /* noisy, Wiener, blur */
    double psnr_noisy, psnr_wiener, psnr_blur, blur_width;
    calibration wcal;     /* the Wiener filter's own posterior variance */
} testset;

static void add_noise(const float *x, int64_t n, double sigma, uint64_t seed, float *y)
{
    xrng r = {seed, 0, 0.0};
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(x[i] + sigma * xrng_normal(&r));
}

/* The blur width, of a few, with the best PSNR on 500 noisy training images. */
static double best_blur(const float *train, int64_t ntrain, int64_t R, int64_t C, double sigma)
{
    static const double widths[] = {0.5, 0.7, 1.0, 1.4, 2.0, 2.8};
    const int64_t n = ntrain < 500 ? ntrain : 500, D = R * C;
    float *y = xmalloc(sizeof(float) * (size_t)(n * D)), *b = xmalloc(sizeof(float) * (size_t)(n * D));
    add_noise(train, n * D, sigma, 11, y);
    double best = -1e300, bw = widths[0];
    for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
        blur_apply(y, n, R, C, widths[k], b);
        double p = psnr(b, train, n, D);
        if (p > best)
            best = p, bw = widths[k];
    }
    free(y);
    free(b);
    return bw;
}

static testset make_testset(const options *o, wiener *w, const float *train, int64_t ntrain,
                            const float *x, int64_t n, int64_t R, int64_t C, double sigma)
{
    const int64_t D = R * C;
    testset t = {.n = n, .D = D, .R = R, .C = C, .sigma = sigma, .x = x};
    t.y = xmalloc(sizeof(float) * (size_t)(n * D));
    t.xw = xmalloc(sizeof(float) * (size_t)(n * D));
    add_noise(x, n * D, sigma, 7, t.y);
    wiener_at(w, sigma);
    wiener_apply(w, sigma, t.y, n, t.xw);
    t.psnr_noisy = psnr(t.y, x, n, D);
    t.psnr_wiener = psnr(t.xw, x, n, D);
    float *wv = xmalloc(sizeof(float) * (size_t)(n * D));
    for (int64_t i = 0; i < n * D; i++)
        wv[i] = (float)w->var[i % D];
    t.wcal = calibrate(wv, t.xw, x, n * D);
    free(wv);
    if (o->blur) {
        t.xb = xmalloc(sizeof(float) * (size_t)(n * D));
        t.blur_width = best_blur(train, ntrain, R, C, sigma);
        blur_apply(t.y, n, R, C, t.blur_width, t.xb);
        t.psnr_blur = psnr(t.xb, x, n, D);
    }
    return t;
}

static void free_testset(testset *t)
{
    free(t->y);
    free(t->xw);
    free(t->xb);
}

/* ---- training ------------------------------------------------------------------------ */

typedef struct {
    const options *o;
    const testset *ts;
    hosm_model *m;
    double t0, budget, sum, last_loss;
    int64_t count;
} progress;

/* Logs the mean loss (and the Tweedie PSNR of the current weights on a few
 * test images) now and then; stops fit when the CPU budget is spent. */
static int on_step(int64_t step, double loss, void *user)
{
    progress *p = user;
    p->sum += loss, p->count++, p->last_loss = loss;
    if (p->o->log_every > 0 && step % p->o->log_every == 0) {
        fprintf(stderr, "  step %lld  loss %.6g  cpu %.0f s", (long long)step,
                p->sum / (double)p->count, cpu_now() - p->t0);
        if (p->o->eval_every > 0 && step % p->o->eval_every == 0) {
            const int64_t n = p->ts->n < NEVAL_QUICK ? p->ts->n : NEVAL_QUICK, D = p->ts->D;
            float *den = xmalloc(sizeof(float) * (size_t)(n * D));
            TRY(hosm_model_denoise(p->m, 0, p->ts->y, n, den));
            fprintf(stderr, "  psnr %.2f dB", psnr(den, p->ts->x, n, D));
            free(den);
        }
        fputc('\n', stderr);
        p->sum = 0.0, p->count = 0;
    }
    return p->budget > 0 && cpu_now() - p->t0 > p->budget;
}

static void make_config(const options *o, double sigma, const char *s2, int freeze,
                        int64_t steps, hosm_config **cfg)
{
    char text[1024];
    snprintf(text, sizeof text,
             "hidden=%lld depth=%lld act=%s sigma=%.17g seed=%lld s2=%s rank=%lld "
             "s2_hidden=%lld s2_depth=%lld objective=%s s2_objective=%s w1=%.17g "
             "freeze_s1=%d lr=%.17g batch=%lld ema=%.17g raw_head=%d steps=%lld %s",
             (long long)o->hidden, (long long)o->depth, o->act, sigma, (long long)o->seed, s2,
             (long long)o->rank, (long long)o->s2_hidden, (long long)o->s2_depth, o->obj,
             o->s2obj, o->w1, freeze, o->lr, (long long)o->batch, o->ema, o->raw_head,
             (long long)steps, o->extra);
    TRY(hosm_config_new(cfg));
    TRY(hosm_config_parse(*cfg, text));
}

/* Train m on data for steps Adam steps (or the CPU budget); returns the
 * trainer, whose EMA the caller reads. */
static hosm_trainer *train(const options *o, hosm_model *m, const hosm_config *cfg,
                           const float *data, int64_t n, const testset *ts, double budget,
                           double *last_loss)
{
    hosm_trainer *t;
    TRY(hosm_trainer_new(&t, m, cfg));
    progress p = {.o = o, .ts = ts, .m = m, .t0 = cpu_now(), .budget = budget};
    TRY(hosm_trainer_fit(t, data, n, on_step, &p));
    *last_loss = p.last_loss;
    return t;
}

typedef struct {
    hosm_model *m;
    hosm_trainer *t;
    double cpu, loss;
    int64_t steps, s1_steps;
} trained;

/* s1 alone (a model without s2) first, then s2 with s1 frozen at s1's EMA. */
static void pretrain_s1(const options *o, double sigma, trained *r, const float *data,
                        int64_t n, const testset *ts, double budget)
{
    hosm_config *cfg;
    hosm_model *m1;
    make_config(o, sigma, "none", 0, budget > 0 ? (int64_t)1e9 : o->s1_steps, &cfg);
    TRY(hosm_model_new(&m1, ts->D, cfg));
    fprintf(stderr, "sigma %g: s1 alone\n", sigma);
    double loss;
    hosm_trainer *t = train(o, m1, cfg, data, n, ts, budget, &loss);
    TRY(hosm_trainer_step_count(t, &r->s1_steps));
    TRY(hosm_trainer_copy_ema(t, m1));
    int64_t n1, n2;
    TRY(hosm_model_num_params(m1, &n1));
    TRY(hosm_model_num_params(r->m, &n2));
    float *p = xmalloc(sizeof(float) * (size_t)n2);
    TRY(hosm_model_get_params(r->m, p, n2));
    TRY(hosm_model_get_params(m1, p, n1)); /* s1's parameters come first */
    TRY(hosm_model_set_params(r->m, p, n2));
    free(p);
    hosm_trainer_free(t);
    hosm_model_free(m1);
    hosm_config_free(cfg);
}

static trained train_model(const options *o, double sigma, const float *data, int64_t n,
                           const testset *ts)
{
    trained r = {0};
    const double t0 = cpu_now();
    const int staged = o->s1_steps > 0 || (o->budget > 0 && o->s1_frac > 0);
    const int freeze = staged || o->freeze;
    hosm_config *cfg;
    make_config(o, sigma, o->s2, freeze, o->budget > 0 ? (int64_t)1e9 : o->steps, &cfg);
    TRY(hosm_model_new(&r.m, ts->D, cfg));
    if (staged && o->s2_lr > 0)
        TRY(hosm_config_set_double(cfg, HOSM_KEY_LR, o->s2_lr));
    if (staged)
        pretrain_s1(o, sigma, &r, data, n, ts, o->budget * o->s1_frac);
    fprintf(stderr, "sigma %g: %s\n", sigma,
            !strcmp(o->s2, "none") ? "s1" : freeze ? "s2, s1 frozen" : "s1 and s2 jointly");
    r.t = train(o, r.m, cfg, data, n, ts, o->budget - (cpu_now() - t0), &r.loss);
    TRY(hosm_trainer_step_count(r.t, &r.steps));
    r.cpu = cpu_now() - t0;
    hosm_config_free(cfg);
    return r;
}

/* ---- evaluation ----------------------------------------------------------------------- */

typedef struct {
    double psnr, t_denoise, t_var, t_topk, uu_share, corr_gain, nll, t_jac;
    calibration cal, jcal;
} evaluation;

/* The posterior variances sigma^2 (1 + sigma^2 J_aa) of the first k images
 * from the diagonal of the Jacobian of s1 (clamped at 0), calibrated
 * against the Tweedie mean den; returns the CPU time an image. */
static double jacobian_calibration(const hosm_model *m, const testset *ts, int64_t k,
                                   const float *den, calibration *out)
{
    const int64_t D = ts->D;
    const double s2 = ts->sigma * ts->sigma;
    float *v = xmalloc(sizeof(float) * (size_t)(k * D));
    double t = cpu_now();
    TRY(hosm_model_score_jacobian_diag(m, 0, ts->y, k, v));
    t = (cpu_now() - t) / (double)k;
    for (int64_t j = 0; j < k * D; j++)
        v[j] = (float)fmax(0.0, s2 * (1.0 + s2 * v[j]));
    *out = calibrate(v, den, ts->x, k * D);
    free(v);
    return t;
}

static const double two_pi = 6.28318530717958648;

/* What the correlations of one image's low-rank posterior covariance
 * sigma^2 A, A = diag(u) + V V^T (u_a = 1 + sigma^2 d_a, V = sigma U), are
 * worth: the Gaussian negative log-likelihood of its error e = x - x_hat
 * under the diagonal covariance of the same per-pixel variances, minus that
 * under sigma^2 A, in nats (Woodbury with K = I + V^T diag(u)^-1 V); the
 * latter into *nll. */
static double correlation_gain(const float *U, const float *d, const float *x, const float *den,
                               int64_t D, int64_t r, double sigma, double *K, double *q,
                               double *nll)
{
    const double s2 = sigma * sigma;
    double full = 0.0, marg = 0.0;
    memset(K, 0, sizeof(double) * (size_t)(r * r));
    memset(q, 0, sizeof(double) * (size_t)r);
    for (int64_t a = 0; a < D; a++) {
        /* u raised to 1e-6 as the library's likelihood does (its float resolution) */
        const double u = fmax(1.0 + s2 * d[a], 1e-6), rho = (x[a] - den[a]) / sigma;
        double vv = 0.0;
        for (int64_t j = 0; j < r; j++) {
            const double vj = sigma * U[a * r + j];
            vv += vj * vj;
            q[j] += vj * rho / u;
            for (int64_t k = 0; k <= j; k++)
                K[j * r + k] += vj * sigma * U[a * r + k] / u;
        }
        full += log(u) + rho * rho / u;
        marg += log(u + vv) + rho * rho / (u + vv);
    }
    for (int64_t j = 0; j < r; j++) {
        K[j * r + j] += 1.0;
        for (int64_t k = 0; k < j; k++)
            K[k * r + j] = K[j * r + k];
    }
    cholesky(K, r);
    double *c = q + r;
    memcpy(c, q, sizeof(double) * (size_t)r);
    chol_solve(K, r, c);
    for (int64_t j = 0; j < r; j++)
        full += 2.0 * log(K[j * r + j]) - q[j] * c[j];
    *nll = 0.5 * (full + (double)D * log(two_pi * s2));
    return 0.5 * (marg - full);
}

/* The share of the predicted variance that U U^T of a low-rank s2 carries
 * (sum sigma^4 ||U_a||^2 over sum of the variances var, n x D), and the
 * means of the images' correlation_gain() and negative log-likelihood. */
static double lowrank_stats(const hosm_model *m, const testset *ts, const float *var,
                            const float *den, double *gain, double *nll)
{
    int64_t r, D = ts->D, chunk = 100;
    TRY(hosm_model_s2_structure(m, NULL, &r));
    float *u = xmalloc(sizeof(float) * (size_t)(chunk * D * r));
    float *d = xmalloc(sizeof(float) * (size_t)(chunk * D));
    double *K = xmalloc(sizeof(double) * (size_t)(r * r + 2 * r));
    double uu = 0.0, tot = 0.0, s4 = pow(ts->sigma, 4);
    *gain = *nll = 0.0;
    for (int64_t i = 0; i < ts->n; i += chunk) {
        int64_t k = ts->n - i < chunk ? ts->n - i : chunk;
        TRY(hosm_model_hessian_factors(m, 0, ts->y + i * D, k, u, d));
        for (int64_t j = 0; j < k * D * r; j++)
            uu += s4 * u[j] * u[j];
        for (int64_t j = 0; j < k; j++) {
            double l;
            *gain += correlation_gain(u + j * D * r, d + j * D, ts->x + (i + j) * D,
                                      den + (i + j) * D, D, r, ts->sigma, K, K + r * r, &l) /
                     (double)ts->n;
            *nll += l / (double)ts->n;
        }
    }
    for (int64_t j = 0; j < ts->n * D; j++)
        tot += var[j];
    free(u);
    free(d);
    free(K);
    return uu / tot;
}

/* The mean Gaussian negative log-likelihood of the images' errors x - den
 * under independent per-pixel variances var (n x D), in nats an image;
 * infinite (and not printed) if a variance is not positive (a linear
 * head's clamp at 0). */
static double diagonal_nll(const float *var, const float *den, const float *x, int64_t n,
                           int64_t D)
{
    double s = 0.0;
    for (int64_t j = 0; j < n * D; j++) {
        const double v = var[j], e = (double)x[j] - den[j];
        s += v > 0.0 ? 0.5 * (log(two_pi * v) + e * e / v) : INFINITY;
    }
    return s / (double)n;
}

/* The grid: clean, noisy, Wiener, Tweedie mean, posterior std (/ sigma), top-k
 * posterior directions (0.5 + 0.5 v / max|v|), one image a row. */
static double picture(const options *o, const hosm_model *m, const testset *ts,
                      const float *den, const float *var, const char *weights)
{
    const int64_t rows = o->grid < ts->n ? o->grid : ts->n, D = ts->D, k = o->topk;
    if (rows == 0 || m == NULL)
        return 0.0;
    const int has_s2 = strcmp(o->s2, "none") != 0;
    grid g = grid_new(ts->R, ts->C, rows, has_s2 ? 5 + k : 4, o->scale);
    float *vals = xmalloc(sizeof(float) * (size_t)(rows * (k ? k : 1)));
    float *vecs = xmalloc(sizeof(float) * (size_t)(rows * (k ? k : 1) * D));
    float *sd = xmalloc(sizeof(float) * (size_t)D);
    double t = cpu_now();
    if (has_s2 && k > 0)
        TRY(hosm_model_posterior_topk(m, 0, ts->y, rows, k, 1, vals, vecs));
    t = (cpu_now() - t) / (double)rows;
    for (int64_t i = 0; i < rows; i++) {
        grid_tile(&g, i, 0, ts->x + i * D, 1, 0);
        grid_tile(&g, i, 1, ts->y + i * D, 1, 0);
        grid_tile(&g, i, 2, ts->xw + i * D, 1, 0);
        grid_tile(&g, i, 3, den + i * D, 1, 0);
        if (!has_s2)
            continue;
        for (int64_t a = 0; a < D; a++)
            sd[a] = sqrtf(var[i * D + a] > 0 ? var[i * D + a] : 0);
        grid_tile(&g, i, 4, sd, 1.0 / ts->sigma, 0);
        for (int64_t j = 0; j < k; j++) {
            const float *v = vecs + (i * k + j) * D;
            double mx = 1e-30;
            for (int64_t a = 0; a < D; a++)
                mx = fmax(mx, fabs(v[a]));
            grid_tile(&g, i, 5 + j, v, 0.5 / mx, 0.5);
        }
    }
    char path[700];
    snprintf(path, sizeof path, "%s/%s-sigma%g-%s.png", o->out, o->tag, ts->sigma, weights);
    grid_save(&g, path);
    free(vals);
    free(vecs);
    free(sd);
    return t;
}

static evaluation evaluate(const options *o, const hosm_model *m, const testset *ts,
                           const char *weights)
{
    const int64_t n = ts->n, D = ts->D;
    evaluation e = {0};
    float *den = xmalloc(sizeof(float) * (size_t)(n * D));
    float *var = xmalloc(sizeof(float) * (size_t)(n * D));
    double t = cpu_now();
    TRY(hosm_model_denoise(m, 0, ts->y, n, den));
    e.t_denoise = (cpu_now() - t) / (double)n;
    e.psnr = psnr(den, ts->x, n, D);
    if (strcmp(o->s2, "none")) {
        t = cpu_now();
        TRY(hosm_model_posterior_var(m, 0, ts->y, n, 1, var));
        e.t_var = (cpu_now() - t) / (double)n;
        e.cal = calibrate(var, den, ts->x, n * D);
        if (!strcmp(o->s2, "lowrank"))
            e.uu_share = lowrank_stats(m, ts, var, den, &e.corr_gain, &e.nll);
        else if (!strcmp(o->s2, "diag"))
            e.nll = diagonal_nll(var, den, ts->x, n, D);
    }
    if (o->jac_n > 0)
        e.t_jac = jacobian_calibration(m, ts, o->jac_n < n ? o->jac_n : n, den, &e.jcal);
    e.t_topk = picture(o, m, ts, den, var, weights);
    free(den);
    free(var);
    return e;
}

static void print_cal(const char *name, const calibration *c)
{
    printf(",\"%s\":%.4f,\"%s_deciles\":[", name, c->calib, name);
    for (int q = 0; q < NDEC; q++)
        printf("%s%.4f", q ? "," : "", c->dec[q]);
    printf("],\"%s_var_deciles\":[", name);
    for (int q = 0; q < NDEC; q++)
        printf("%s%.4g", q ? "," : "", c->dec_var[q]);
    printf("],\"%s_mse_deciles\":[", name);
    for (int q = 0; q < NDEC; q++)
        printf("%s%.4g", q ? "," : "", c->dec_mse[q]);
    printf("],\"%s_corr\":%.4f,\"%s_corr_ideal\":%.4f", name, c->corr, name, c->corr_ideal);
}

static void print_result(const options *o, const testset *ts, const trained *r,
                         const char *weights, const evaluation *e)
{
    printf("{\"tag\":\"%s\",\"sigma\":%g,\"weights\":\"%s\",\"seed\":%lld,\"hidden\":%lld,"
           "\"depth\":%lld,\"act\":\"%s\",\"s2\":\"%s\",\"rank\":%lld,\"s2_hidden\":%lld,"
           "\"objective\":\"%s\",\"s2_objective\":\"%s\",\"w1\":%g,\"freeze_s1\":%d,"
           "\"raw_head\":%d,\"lr\":%g,\"s2_lr\":%g,\"batch\":%lld,\"s1_steps\":%lld,"
           "\"steps\":%lld,"
           "\"train_cpu_s\":%.1f,\"last_loss\":%.6g,\"ntest\":%lld,\"psnr_noisy\":%.3f,"
           "\"psnr_wiener\":%.3f,\"psnr_blur\":%.3f,\"blur_width\":%g,\"psnr_tweedie\":%.3f,"
           "\"set\":\"%s\"",
           o->tag, ts->sigma, weights, (long long)o->seed, (long long)o->hidden,
           (long long)o->depth, o->act, o->s2, (long long)o->rank, (long long)o->s2_hidden,
           o->obj, o->s2obj, o->w1, o->freeze || r->s1_steps > 0, o->raw_head, o->lr,
           r->s1_steps > 0 && o->s2_lr > 0 ? o->s2_lr : o->lr, (long long)o->batch,
           (long long)r->s1_steps, (long long)r->steps, r->cpu, r->loss, (long long)ts->n,
           ts->psnr_noisy, ts->psnr_wiener, ts->psnr_blur, ts->blur_width, e->psnr, o->extra);
    if (strcmp(o->s2, "none"))
        print_cal("calib", &e->cal);
    if (!strcmp(o->s2, "lowrank"))
        printf(",\"uu_share\":%.4f,\"corr_gain\":%.3f", e->uu_share, e->corr_gain);
    if ((!strcmp(o->s2, "lowrank") || !strcmp(o->s2, "diag")) && isfinite(e->nll))
        printf(",\"nll_image\":%.3f", e->nll);
    print_cal("wiener_calib", &ts->wcal);
    if (o->jac_n > 0) {
        print_cal("jac_calib", &e->jcal);
        printf(",\"ms_jac\":%.4f", 1e3 * e->t_jac);
    }
    printf(",\"ms_denoise\":%.4f,\"ms_var\":%.4f,\"ms_topk\":%.4f}\n", 1e3 * e->t_denoise,
           1e3 * e->t_var, 1e3 * e->t_topk);
    fflush(stdout);
}

/* ---- main ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    crc_init();
    int64_t ntr, nte, R, C, R2, C2;
    float *train_x = read_idx(o.train, o.ntrain, &ntr, &R, &C);
    float *test_x = read_idx(o.test, o.ntest, &nte, &R2, &C2);
    if (R2 != R || C2 != C) {
        fprintf(stderr, "images: training and test images differ in size\n");
        return 1;
    }
    const int64_t D = R * C;
    fprintf(stderr, "%lld training and %lld test images of %lld x %lld\n", (long long)ntr,
            (long long)nte, (long long)R, (long long)C);
    wiener w = {D, xmalloc(sizeof(double) * (size_t)D), xmalloc(sizeof(double) * (size_t)(D * D)),
                xmalloc(sizeof(double) * (size_t)(D * D)), xmalloc(sizeof(double) * (size_t)D)};
    mean_cov(train_x, ntr, D, w.mu, w.cov);
    if (o.pca[0]) {
        print_caps(&o, w.cov, D);
        return 0;
    }
    for (int j = 0; j < o.nsig; j++) {
        testset ts = make_testset(&o, &w, train_x, ntr, test_x, nte, R, C, o.sigmas[j]);
        fprintf(stderr, "sigma %g: noisy %.2f dB, Wiener %.2f dB, blur %.2f dB\n", ts.sigma,
                ts.psnr_noisy, ts.psnr_wiener, ts.psnr_blur);
        trained r = train_model(&o, o.sigmas[j], train_x, ntr, &ts);
        evaluation e = evaluate(&o, r.m, &ts, "final");
        print_result(&o, &ts, &r, "final", &e);
        TRY(hosm_trainer_copy_ema(r.t, r.m));
        e = evaluate(&o, r.m, &ts, "ema");
        print_result(&o, &ts, &r, "ema", &e);
        hosm_trainer_free(r.t);
        hosm_model_free(r.m);
        free_testset(&ts);
    }
    free(w.mu);
    free(w.cov);
    free(w.L);
    free(w.var);
    free(train_x);
    free(test_x);
    return 0;
}
