/*
 * speed: the libhosm side of the side-by-side comparison with PyTorch
 * (bench/speed_torch.py is the other side, bench/side_by_side.py runs both).
 *
 *   usage: speed CASE [ROUNDS]
 *
 * One JSON line per measurement on stdout: the case, the round, the number
 * of units timed ("units", e.g. training steps), the unit's name, the wall
 * time (CLOCK_MONOTONIC) and the process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) of the whole measurement in seconds, and, where
 * it applies, the GEMM flops of one unit. Each measurement follows its own
 * warm-up in the same process. ROUNDS (default 3) is the number of
 * measurements.
 *
 * The network everywhere is the paper's MLP: two hidden layers of 256,
 * softplus, sigma = 0.1, Adam with lr = 1e-3; one BLIS thread (threads=1,
 * the library's default). The library gets no tuning: every other key
 * keeps its default (so the trainer also keeps its EMA of the weights).
 *
 * CASE:
 *   info          BLIS sub-configuration (bli_arch_query_id()), version
 *   dsm_d2        1. DSM, D = 2, batch 128: training steps
 *   vr_diag_d64   2. DSM-VR + D2SM-VR, diagonal s2, D = 64, batch 128
 *   full_d32      3. DSM + D2SM, full s2, D = 32, batch 1024
 *   sgemm_d32     the raw sgemm rate (the library's door to BLIS, its
 *                 kernels) at the GEMM shapes of one
 *                 full_d32 step (same transposes as lib/nn/mlp.c); the
 *                 unit is one pass over all of them
 *   hessian_d64   4. hosm_model_hessian of a full s2, 128 points, D = 64
 *   jacobian_d64  5. hosm_model_score_jacobian, 128 points, D = 64
 *   estimate_d64  5'. hosm_model_hessian_estimate "average" (the full s2 and
 *                 the symmetrised Jacobian of s1, averaged), 128 points,
 *                 D = 64
 *   langevin_d64  6. Langevin, 1000 chains, D = 64: chain-steps
 *   update_d784   8. hosm_trainer_apply_gradient (Adam, EMA) of the joint
 *                 diagonal model at D = 784 (as case 7): updates
 *   rss_d784      7. peak RSS of joint diagonal training (DSM-VR + D2SM-VR,
 *                 as case 2) at D = 784, batch 128; run it in a fresh
 *                 process (getrusage ru_maxrss is per process)
 *   lossref DIR   not a timing: the loss and gradient of the three training
 *                 cases at their initial weights for one batch and noise,
 *                 written to DIR for speed_torch.py --check DIR
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <blis.h>
#include <hosm.h>

#include "core/internal.h"

#define H 256
#define BASE "hidden=256 depth=2 act=softplus sigma=0.1 lr=1e-3 seed=1 threads=1"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    double wall, cpu;
} stamp;

static stamp stamp_now(void)
{
    stamp s = {clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)};
    return s;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "speed: out of memory\n");
        exit(2);
    }
    return p;
}

static void check(int st, const char *what)
{
    if (st < 0) {
        fprintf(stderr, "speed: %s: %s (%s)\n", what, hosm_strerror(st), hosm_last_errmsg());
        exit(2);
    }
}

/* Synthetic data: two clusters at +-1.5 (all coordinates), spread 0.5, as
 * speed_torch.py (not the same draws; the timings do not depend on them). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double uniform01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) * 0x1.0p-53;
}
static double normal(void)
{
    return sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}
static float *make_data(int64_t n, int64_t d)
{
    float *x = xmalloc((size_t)(n * d) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        double c = uniform01() < 0.5 ? -1.5 : 1.5;
        for (int64_t j = 0; j < d; j++)
            x[i * d + j] = (float)(c + 0.5 * normal());
    }
    return x;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long current_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * 4;
}

static void emit(const char *cas, int round, int64_t units, const char *unit, stamp a, stamp b,
                 double flops_per_unit, const char *extra)
{
    printf("{\"side\": \"libhosm\", \"case\": \"%s\", \"round\": %d, \"units\": %lld, "
           "\"unit\": \"%s\", \"wall_s\": %.6g, \"cpu_s\": %.6g",
           cas, round, (long long)units, unit, b.wall - a.wall, b.cpu - a.cpu);
    if (flops_per_unit > 0)
        printf(", \"gemm_flops_per_unit\": %.6g", flops_per_unit);
    if (extra && *extra)
        printf(", %s", extra);
    printf("}\n");
    fflush(stdout);
}

/* GEMM flops of a training step of one network (n rows, k0 inputs, two
 * hidden layers of H, o outputs): the forward pass, the weight gradients and
 * the input gradients of every layer but the first (lib/nn/mlp.c). */
static double mlp_step_flops(double n, double k0, double o)
{
    double fwd = 2.0 * n * (k0 * H + (double)H * H + (double)H * o);
    double bwd_in = 2.0 * n * ((double)H * H + (double)H * o);
    return 2.0 * fwd + bwd_in;
}
static double mlp_fwd_flops(double n, double k0, double o)
{
    return 2.0 * n * (k0 * H + (double)H * H + (double)H * o);
}

static hosm_config *config(const char *text)
{
    hosm_config *cfg;
    check(hosm_config_new(&cfg), "hosm_config_new");
    check(hosm_config_parse(cfg, BASE), "hosm_config_parse");
    check(hosm_config_parse(cfg, text), "hosm_config_parse");
    return cfg;
}

/* ---- training cases -------------------------------------------------------- */

static void train_case(const char *cas, int rounds, int64_t D, int64_t B, const char *keys,
                       int64_t steps, int64_t warm, double flops)
{
    const int64_t N = 8192;
    float *data = make_data(N, D);
    hosm_config *cfg = config(keys);
    hosm_model *m;
    hosm_trainer *t;
    check(hosm_model_new(&m, D, cfg), "hosm_model_new");
    check(hosm_trainer_new(&t, m, cfg), "hosm_trainer_new");
    int64_t pos = 0;
    for (int r = -1; r < rounds; r++) {
        int64_t n = r < 0 ? warm : steps;
        stamp a = stamp_now();
        for (int64_t s = 0; s < n; s++) {
            double loss;
            check(hosm_trainer_step(t, data + pos * D, B, &loss), "hosm_trainer_step");
            pos = (pos + B) % N;
        }
        stamp b = stamp_now();
        if (r >= 0)
            emit(cas, r, n, "step", a, b, flops, "");
    }
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(cfg);
    free(data);
}

/* Peak RSS of joint diagonal training at D = 784 (fresh process). */
static void rss_case(int rounds)
{
    const int64_t D = 784, B = 128, N = 8192, steps = 8;
    float *data = make_data(N, D);
    long base = current_rss_kib();
    hosm_config *cfg = config("objective=dsm_vr s2=diag s2_objective=d2sm_vr");
    hosm_model *m;
    hosm_trainer *t;
    check(hosm_model_new(&m, D, cfg), "hosm_model_new");
    check(hosm_trainer_new(&t, m, cfg), "hosm_trainer_new");
    int64_t pos = 0;
    double flops = 2.0 * mlp_step_flops(3.0 * B, D, D);
    for (int r = -1; r < rounds; r++) {
        int64_t n = r < 0 ? 2 : steps;
        stamp a = stamp_now();
        for (int64_t s = 0; s < n; s++) {
            check(hosm_trainer_step(t, data + pos * D, B, NULL), "hosm_trainer_step");
            pos = (pos + B) % N;
        }
        stamp b = stamp_now();
        if (r >= 0) {
            char extra[256];
            snprintf(extra, sizeof extra,
                     "\"peak_rss_mib\": %.1f, \"baseline_rss_mib\": %.1f, \"data_mib\": %.1f",
                     peak_rss_kib() / 1024.0, base / 1024.0,
                     (double)(N * D) * sizeof(float) / 1048576.0);
            emit("rss_d784", r, n, "step", a, b, flops, extra);
        }
    }
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(cfg);
    free(data);
}

/* The update half of a step alone: Adam and the EMA over all parameters of
 * the case-7 model, with a fixed random gradient. */
static void update_case(int rounds)
{
    const int64_t D = 784, updates = 40;
    hosm_config *cfg = config("objective=dsm_vr s2=diag s2_objective=d2sm_vr");
    hosm_model *m;
    hosm_trainer *t;
    check(hosm_model_new(&m, D, cfg), "hosm_model_new");
    check(hosm_trainer_new(&t, m, cfg), "hosm_trainer_new");
    int64_t P;
    check(hosm_model_num_params(m, &P), "hosm_model_num_params");
    float *grad = make_data(P, 1);
    for (int64_t i = 0; i < P; i++)
        grad[i] *= 1e-3f;
    char extra[64];
    snprintf(extra, sizeof extra, "\"params\": %lld", (long long)P);
    for (int r = -1; r < rounds; r++) {
        int64_t n = r < 0 ? 4 : updates;
        stamp a = stamp_now();
        for (int64_t s = 0; s < n; s++)
            check(hosm_trainer_apply_gradient(t, grad, P), "hosm_trainer_apply_gradient");
        stamp b = stamp_now();
        if (r >= 0)
            emit("update_d784", r, n, "update", a, b, 0, extra);
    }
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_config_free(cfg);
    free(grad);
}

/* ---- raw sgemm at the full_d32 step's shapes -------------------------------- */

typedef struct {
    int ta, tb;
    int64_t m, n, k;
} gemm_shape;

static int add_mlp_shapes(gemm_shape *g, int c, int64_t n, int64_t k0, int64_t o)
{
    /* forward: X W^T per layer */
    g[c++] = (gemm_shape){0, 1, n, H, k0};
    g[c++] = (gemm_shape){0, 1, n, H, H};
    g[c++] = (gemm_shape){0, 1, n, o, H};
    /* backward: dW = dY^T A, dA = dY W */
    g[c++] = (gemm_shape){1, 0, o, H, n};
    g[c++] = (gemm_shape){0, 0, n, H, o};
    g[c++] = (gemm_shape){1, 0, H, H, n};
    g[c++] = (gemm_shape){0, 0, n, H, H};
    g[c++] = (gemm_shape){1, 0, H, k0, n};
    return c;
}

static void sgemm_case(int rounds)
{
    const int64_t D = 32, B = 1024, O2 = D * (D + 1) / 2;
    gemm_shape g[16];
    int c = add_mlp_shapes(g, 0, B, D, D);
    c = add_mlp_shapes(g, c, B, D, O2);
    int64_t maxe = 0;
    double flops = 0;
    for (int i = 0; i < c; i++) {
        int64_t e[3] = {g[i].m * g[i].k, g[i].k * g[i].n, g[i].m * g[i].n};
        for (int j = 0; j < 3; j++)
            maxe = e[j] > maxe ? e[j] : maxe;
        flops += 2.0 * (double)g[i].m * (double)g[i].n * (double)g[i].k;
    }
    float *a = xmalloc((size_t)maxe * sizeof(float)), *b = xmalloc((size_t)maxe * sizeof(float)),
          *cc = xmalloc((size_t)maxe * sizeof(float));
    for (int64_t i = 0; i < maxe; i++) {
        a[i] = (float)(normal() * 0.1);
        b[i] = (float)(normal() * 0.1);
        cc[i] = 0.0f;
    }
    const hosmi_blas blas = {1, HOSM_GEMM_AUTO, NULL};
    const int64_t reps = 12;
    for (int r = -1; r < rounds; r++) {
        int64_t n = r < 0 ? 3 : reps;
        stamp s0 = stamp_now();
        for (int64_t it = 0; it < n; it++)
            for (int i = 0; i < c; i++) {
                int64_t lda = g[i].ta ? g[i].m : g[i].k, ldb = g[i].tb ? g[i].k : g[i].n;
                hosmi_sgemm(&blas, g[i].ta, g[i].tb, g[i].m, g[i].n, g[i].k, 1.0f, a, lda, b,
                            ldb, 0.0f, cc, g[i].n);
            }
        stamp s1 = stamp_now();
        if (r >= 0)
            emit("sgemm_d32", r, n, "pass", s0, s1, flops, "");
    }
    free(a);
    free(b);
    free(cc);
}

/* ---- queries and sampling ---------------------------------------------------- */

enum { QUERY_JACOBIAN, QUERY_HESSIAN, QUERY_AVERAGE };

static void query(int what, const hosm_model *m, const float *x, int64_t n, float *out)
{
    if (what == QUERY_HESSIAN)
        check(hosm_model_hessian(m, 0, x, n, out), "hosm_model_hessian");
    else if (what == QUERY_AVERAGE)
        check(hosm_model_hessian_estimate(m, 0, x, n, HOSM_HESSIAN_AVERAGE, out),
              "hosm_model_hessian_estimate");
    else
        check(hosm_model_score_jacobian(m, 0, x, n, 0, out), "hosm_model_score_jacobian");
}

static void query_case(const char *cas, int rounds, int what, int64_t calls)
{
    const int full_s2 = what != QUERY_JACOBIAN;
    const int64_t D = 64, n = 128;
    float *x = make_data(n, D);
    float *out = xmalloc((size_t)(n * D * D) * sizeof(float));
    hosm_config *cfg = config(full_s2 ? "s2=full" : "s2=none");
    hosm_model *m;
    check(hosm_model_new(&m, D, cfg), "hosm_model_new");
    /* The flops of the s2 forward pass; none are given with the Jacobian. */
    double flops = what == QUERY_HESSIAN ? mlp_fwd_flops(n, D, D * (D + 1) / 2) : 0.0;
    for (int r = -1; r < rounds; r++) {
        int64_t k = r < 0 ? 3 : calls;
        stamp a = stamp_now();
        for (int64_t i = 0; i < k; i++)
            query(what, m, x, n, out);
        stamp b = stamp_now();
        if (r >= 0)
            emit(cas, r, k, "call", a, b, flops, "\"points\": 128");
    }
    hosm_model_free(m);
    hosm_config_free(cfg);
    free(out);
    free(x);
}

static void langevin_case(int rounds)
{
    const int64_t D = 64, chains = 1000, steps = 20;
    float *x0 = make_data(chains, D), *x = xmalloc((size_t)(chains * D) * sizeof(float));
    hosm_config *cfg = config("sampler=langevin step_size=1e-3 sample_steps=20");
    hosm_model *m;
    hosm_sampler *s;
    check(hosm_model_new(&m, D, cfg), "hosm_model_new");
    check(hosm_sampler_new(&s, m, cfg), "hosm_sampler_new");
    /* Warm-up: one run of the measured sampler, which keeps its workspace
     * for the runs after it (as PyTorch's warm-up leaves its allocator's
     * memory mapped), so that first touches of fresh pages are not timed. */
    memcpy(x, x0, (size_t)(chains * D) * sizeof(float));
    check(hosm_sampler_run(s, x, chains, NULL, NULL), "hosm_sampler_run");
    for (int r = 0; r < rounds; r++) {
        memcpy(x, x0, (size_t)(chains * D) * sizeof(float));
        stamp a = stamp_now();
        check(hosm_sampler_run(s, x, chains, NULL, NULL), "hosm_sampler_run");
        stamp b = stamp_now();
        if (r >= 0)
            emit("langevin_d64", r, chains * steps, "chain-step", a, b,
                 mlp_fwd_flops(1, D, D), "\"chains\": 1000, \"steps\": 20");
    }
    hosm_sampler_free(s);
    hosm_model_free(m);
    hosm_config_free(cfg);
    free(x);
    free(x0);
}

/* lossref DIR: for the three training cases, write the initial parameters,
 * one batch x, its noise z and hosm_trainer_gradient()'s loss and gradient
 * into DIR/<case>.{params,x,z,grad} (raw float32) and print the loss, so that
 * speed_torch.py --check DIR can confirm that its loss and gradient are the
 * same function of the same weights (the same work, not a look-alike). */
static void write_floats(const char *dir, const char *cas, const char *ext, const float *v,
                         int64_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", dir, cas, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof(float), (size_t)n, f) != (size_t)n || fclose(f) != 0) {
        fprintf(stderr, "speed: cannot write %s\n", path);
        exit(2);
    }
}

static void lossref_case(const char *dir)
{
    static const struct {
        const char *cas, *keys;
        int64_t D, B;
    } t[] = {{"dsm_d2", "objective=dsm s2=none", 2, 128},
             {"vr_diag_d64", "objective=dsm_vr s2=diag s2_objective=d2sm_vr", 64, 128},
             {"full_d32", "objective=dsm s2=full s2_objective=d2sm", 32, 64}};
    for (int c = 0; c < 3; c++) {
        const int64_t D = t[c].D, B = t[c].B;
        hosm_config *cfg = config(t[c].keys);
        hosm_model *m;
        hosm_trainer *tr;
        check(hosm_model_new(&m, D, cfg), "hosm_model_new");
        check(hosm_trainer_new(&tr, m, cfg), "hosm_trainer_new");
        int64_t np;
        check(hosm_model_num_params(m, &np), "hosm_model_num_params");
        float *params = xmalloc((size_t)np * sizeof(float)), *grad = xmalloc((size_t)np * sizeof(float));
        float *x = make_data(B, D), *z = xmalloc((size_t)(B * D) * sizeof(float));
        for (int64_t i = 0; i < B * D; i++)
            z[i] = (float)normal();
        check(hosm_model_get_params(m, params, np), "hosm_model_get_params");
        double loss;
        check(hosm_trainer_gradient(tr, x, z, NULL, B, &loss, grad), "hosm_trainer_gradient");
        write_floats(dir, t[c].cas, "params", params, np);
        write_floats(dir, t[c].cas, "x", x, B * D);
        write_floats(dir, t[c].cas, "z", z, B * D);
        write_floats(dir, t[c].cas, "grad", grad, np);
        printf("{\"side\": \"libhosm\", \"case\": \"lossref\", \"of\": \"%s\", \"D\": %lld, "
               "\"batch\": %lld, \"params\": %lld, \"loss\": %.9g}\n",
               t[c].cas, (long long)D, (long long)B, (long long)np, loss);
        free(params);
        free(grad);
        free(x);
        free(z);
        hosm_trainer_free(tr);
        hosm_model_free(m);
        hosm_config_free(cfg);
    }
}

static void info_case(void)
{
    /* bli_init() first: with BLIS_ARCH_TYPE set, Debian's BLIS 0.9.0 aborts
     * in bli_arch_query_id() if the kernel structure is not initialised. */
    bli_init();
    arch_t id = bli_arch_query_id();
    const char *env = getenv("BLIS_ARCH_TYPE"), *kernels = NULL;
    hosm_gemm_kernels_name(HOSM_GEMM_AUTO, &kernels);
    printf("{\"side\": \"libhosm\", \"case\": \"info\", \"hosm_version\": \"%s\", "
           "\"blis_version\": \"%s\", \"blis_arch_id\": %d, \"blis_arch\": \"%s\", "
           "\"hosm_kernels\": \"%s\", \"BLIS_ARCH_TYPE\": \"%s\", \"threads\": 1}\n",
           hosm_version_string(), bli_info_get_version_str(), (int)id, bli_arch_string(id),
           kernels, env ? env : "unset");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: speed CASE [ROUNDS]\n"
                        "CASE: info dsm_d2 vr_diag_d64 full_d32 sgemm_d32 hessian_d64 "
                        "jacobian_d64 estimate_d64 langevin_d64 rss_d784 | lossref DIR\n");
        return 2;
    }
    const char *c = argv[1];
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (rounds < 1)
        rounds = 1;
    if (!strcmp(c, "info"))
        info_case();
    else if (!strcmp(c, "lossref"))
        lossref_case(argc > 2 ? argv[2] : ".");
    else if (!strcmp(c, "dsm_d2"))
        train_case(c, rounds, 2, 128, "objective=dsm s2=none", 150, 10,
                   mlp_step_flops(128, 2, 2));
    else if (!strcmp(c, "vr_diag_d64"))
        train_case(c, rounds, 64, 128, "objective=dsm_vr s2=diag s2_objective=d2sm_vr", 24, 3,
                   2.0 * mlp_step_flops(3 * 128, 64, 64));
    else if (!strcmp(c, "full_d32"))
        train_case(c, rounds, 32, 1024, "objective=dsm s2=full s2_objective=d2sm", 8, 1,
                   mlp_step_flops(1024, 32, 32) + mlp_step_flops(1024, 32, 32 * 33 / 2));
    else if (!strcmp(c, "sgemm_d32"))
        sgemm_case(rounds);
    else if (!strcmp(c, "hessian_d64"))
        query_case(c, rounds, QUERY_HESSIAN, 60);
    else if (!strcmp(c, "jacobian_d64"))
        query_case(c, rounds, QUERY_JACOBIAN, 12);
    else if (!strcmp(c, "estimate_d64"))
        query_case(c, rounds, QUERY_AVERAGE, 12);
    else if (!strcmp(c, "langevin_d64"))
        langevin_case(rounds);
    else if (!strcmp(c, "update_d784"))
        update_case(rounds);
    else if (!strcmp(c, "rss_d784"))
        rss_case(rounds);
    else {
        fprintf(stderr, "speed: unknown case %s\n", c);
        return 2;
    }
    return 0;
}
