/*
 * jacobian_vs_s2: the cost of a second-order query per point, the Jacobian
 * of s1 (the autodiff baseline, docs/math.md#6-the-autodiff-baseline) against the learned s2 in each
 * structure.
 *
 *   usage: jacobian_vs_s2 [--dims 8,32,128,784] [--hidden 256] [--depth 2]
 *                         [--rank 50] [--reps 7] [--threads 1] [--no-full-784]
 *
 * For every D one model per s2 structure (diag, lowrank with rank min(r, D),
 * full) is created with the same width and depth for s1 and s2; timings do
 * not depend on the weights, so the models are not trained. On n random
 * points (n = min(1024, max(16, 2^24 / D^2)), so that an n x D x D output
 * stays <= 64 MiB) each query is called --reps times after one warm-up call;
 * the table gives the median time per point and its ratio to the Jacobian
 * measured in the same run ("x J" > 1: faster than the Jacobian):
 *   score          hosm_model_score (one s1 evaluation, for scale)
 *   jacobian       hosm_model_score_jacobian (raw), dense D x D
 *   jacobian_diag  hosm_model_score_jacobian_diag
 *   hessian        hosm_model_hessian, dense D x D
 *   hessian_diag   hosm_model_hessian_diag
 *   hvp            hosm_model_hvp (one vector per point)
 * and also the ratio to jacobian_diag ("x J_diag"), the fair reference for
 * the diagonal queries.
 * The Jacobian rows are measured on the "diag" model's s1 (s1 is the same
 * network in every structure). "full" at D = 784 has a 307,720-output s2
 * layer (about 315 MB of weights at width 256); --no-full-784 skips it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hosm.h>

#define MAXLIST 16
#define MAXREPS 64

#define TRY(call)                                                                            \
    do {                                                                                     \
        int try_st_ = (call);                                                                \
        if (try_st_ != HOSM_OK) {                                                            \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,               \
                    hosm_strerror(try_st_), hosm_last_errmsg());                             \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng_state = 0x1234567ULL;
static double uniform(void) /* splitmix64, (0, 1) */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

enum { Q_SCORE, Q_JAC, Q_JACDIAG, Q_HESS, Q_HESSDIAG, Q_HVP };
static const char *const QNAME[] = {"score", "jacobian", "jacobian_diag",
                                    "hessian", "hessian_diag", "hvp"};

static void call(int q, const hosm_model *m, const float *x, const float *v, int64_t n, float *out)
{
    switch (q) {
    case Q_SCORE: TRY(hosm_model_score(m, 0, x, n, out)); break;
    case Q_JAC: TRY(hosm_model_score_jacobian(m, 0, x, n, 0, out)); break;
    case Q_JACDIAG: TRY(hosm_model_score_jacobian_diag(m, 0, x, n, out)); break;
    case Q_HESS: TRY(hosm_model_hessian(m, 0, x, n, out)); break;
    case Q_HESSDIAG: TRY(hosm_model_hessian_diag(m, 0, x, n, out)); break;
    default: TRY(hosm_model_hvp(m, 0, x, v, n, out)); break;
    }
}

/* Median seconds per point over reps calls (after one warm-up call). */
static double time_query(int q, const hosm_model *m, const float *x, const float *v, int64_t n,
                         float *out, int reps, double *lo, double *hi)
{
    double t[MAXREPS];
    call(q, m, x, v, n, out);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        call(q, m, x, v, n, out);
        t[r] = (now() - t0) / (double)n;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    *lo = t[0];
    *hi = t[reps - 1];
    return reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
}

static void row(int64_t D, const char *structure, int q, double t, double lo, double hi,
                double tref, double tref_diag)
{
    printf("| %lld | %s | %s | %.2f | %.2f–%.2f | %.2f | %.2f |\n", (long long)D, structure,
           QNAME[q], t * 1e6, lo * 1e6, hi * 1e6, tref / t, tref_diag / t);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int64_t dims[MAXLIST] = {8, 32, 128, 784};
    int ndims = 4, reps = 7, threads = 1, full784 = 1;
    int64_t hidden = 256, depth = 2, rank = 50;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-full-784")) {
            full784 = 0;
            continue;
        }
        if (!v)
            goto usage;
        i++;
        if (!strcmp(a, "--dims")) {
            ndims = 0;
            for (char *s = (char *)v; *s && ndims < MAXLIST;) {
                char *end;
                dims[ndims++] = strtoll(s, &end, 10);
                if (end == s || (*end && *end != ','))
                    goto usage;
                s = *end ? end + 1 : end;
            }
        } else if (!strcmp(a, "--hidden")) {
            hidden = atoll(v);
        } else if (!strcmp(a, "--depth")) {
            depth = atoll(v);
        } else if (!strcmp(a, "--rank")) {
            rank = atoll(v);
        } else if (!strcmp(a, "--reps")) {
            reps = atoi(v);
        } else if (!strcmp(a, "--threads")) {
            threads = atoi(v);
        } else {
            goto usage;
        }
    }
    if (ndims < 1 || reps < 1 || reps > MAXREPS || hidden < 1 || depth < 1 || rank < 1 ||
        threads < 1)
        goto usage;

    printf("libhosm %s jacobian_vs_s2: hidden=%lld depth=%lld act=softplus rank=%lld "
           "threads=%d reps=%d (median per point; x J = jacobian time / this time, "
           "x J_diag = jacobian_diag time / this time)\n\n",
           hosm_version_string(), (long long)hidden, (long long)depth, (long long)rank, threads,
           reps);
    printf("| D | structure | query | µs/pt (median) | min–max | x J | x J_diag |\n");
    printf("|---|---|---|---|---|---|---|\n");
    static const char *const S2[] = {"diag", "lowrank", "full"};
    for (int di = 0; di < ndims; di++) {
        const int64_t D = dims[di];
        int64_t n = ((int64_t)1 << 24) / (D * D);
        n = n > 1024 ? 1024 : n < 16 ? 16 : n;
        float *x = xmalloc(sizeof(float) * n * D), *v = xmalloc(sizeof(float) * n * D);
        float *out = xmalloc(sizeof(float) * n * D * D);
        for (int64_t i = 0; i < n * D; i++) {
            x[i] = (float)(2.0 * uniform() - 1.0);
            v[i] = (float)(2.0 * uniform() - 1.0);
        }
        double tjac = 0.0, tjacdiag = 0.0, lo, hi;
        for (int s = 0; s < 3; s++) {
            if (s == 2 && D >= 784 && !full784) {
                printf("| %lld | full | (skipped: --no-full-784) | | | | |\n", (long long)D);
                continue;
            }
            char text[256];
            snprintf(text, sizeof text,
                     "hidden=%lld depth=%lld act=softplus sigma=0.1 s2=%s rank=%lld seed=1 "
                     "threads=%d",
                     (long long)hidden, (long long)depth, S2[s], (long long)rank, threads);
            hosm_config *cfg;
            hosm_model *m;
            TRY(hosm_config_new(&cfg));
            TRY(hosm_config_parse(cfg, text));
            TRY(hosm_model_new(&m, D, cfg));
            hosm_config_free(cfg);
            int64_t r = 0;
            TRY(hosm_model_s2_structure(m, NULL, &r));
            char name[32];
            if (s == 1)
                snprintf(name, sizeof name, "lowrank r=%lld", (long long)r);
            else
                snprintf(name, sizeof name, "%s", S2[s]);
            if (s == 0) {
                double t = time_query(Q_SCORE, m, x, v, n, out, reps, &lo, &hi);
                double sl = lo, sh = hi;
                tjac = time_query(Q_JAC, m, x, v, n, out, reps, &lo, &hi);
                double jl = lo, jh = hi;
                tjacdiag = time_query(Q_JACDIAG, m, x, v, n, out, reps, &lo, &hi);
                double dl = lo, dh = hi;
                row(D, "s1 (any)", Q_SCORE, t, sl, sh, tjac, tjacdiag);
                row(D, "s1 (any)", Q_JAC, tjac, jl, jh, tjac, tjacdiag);
                row(D, "s1 (any)", Q_JACDIAG, tjacdiag, dl, dh, tjac, tjacdiag);
            }
            double t = time_query(Q_HESS, m, x, v, n, out, reps, &lo, &hi);
            row(D, name, Q_HESS, t, lo, hi, tjac, tjacdiag);
            t = time_query(Q_HESSDIAG, m, x, v, n, out, reps, &lo, &hi);
            row(D, name, Q_HESSDIAG, t, lo, hi, tjac, tjacdiag);
            t = time_query(Q_HVP, m, x, v, n, out, reps, &lo, &hi);
            row(D, name, Q_HVP, t, lo, hi, tjac, tjacdiag);
            hosm_model_free(m);
        }
        free(x);
        free(v);
        free(out);
    }
    return 0;
usage:
    fprintf(stderr, "usage: jacobian_vs_s2 [--dims 8,32,128,784] [--hidden 256] [--depth 2] "
                    "[--rank 50] [--reps 7] [--threads 1] [--no-full-784]\n");
    return 2;
}
