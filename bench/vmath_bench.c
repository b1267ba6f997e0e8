/*
 * vmath_bench: nanoseconds per element of the element-wise kernels of
 * lib/nn/vmath.c against the scalar libm loops of lib/nn/mlp.c.
 *
 *   usage: vmath_bench [--n 32768] [--runs 9] [--min-ms 20]
 *
 * The input is n pre-activations drawn from N(0, 2^2) (fixed seed); n
 * defaults to 256 * 128, a batch of 256 rows of a hidden layer of width 128.
 * Each timing repeats one call over the n elements until at least --min-ms
 * of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID, so that time taken by
 * other processes on a shared machine is not counted) have passed, and
 * divides by the elements processed; --runs rounds of all the timings are
 * made, interleaved, and the median is printed (with the minimum and the
 * maximum).
 *
 * Per activation:
 *   scalar f           a[i] = act_f(z[i]), as lib/nn/mlp.c's forward pass;
 *   scalar f'          d[i] = act_df(z[i], a[i]), as its backward pass and
 *                      Jacobian (a computed beforehand, not timed);
 *   scalar f+f'        both loops, what a training step spends per element;
 *   <variant> f        hosmi_vact_isa(variant, act, z, a, NULL, NULL, n);
 *   <variant> f'       ... (z, NULL, d1, NULL, n);
 *   <variant> f,f',f'' ... (z, a, d1, d2, n): all three in one pass;
 * and e^x: expf() in a loop against hosmi_vexp_isa().
 * The speedup printed is the scalar median over the kernel's median, for
 * f, f' and f+f' (scalar) against f,f',f'' (one vectorised pass). A second
 * table compares the variants (generic, avx2, avx512; those the CPU lacks
 * are left out) kernel by kernel: each one's median, and in brackets its
 * speedup over the next narrower variant available.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hosm.h"
#include "nn/vmath.h"
#include "timing_util.h"

static const char *const act_names[4] = {"softplus", "silu", "tanh", "elu"};

/* lib/nn/mlp.c's scalar activations, verbatim. */
static float act_f(int act, float z)
{
    switch (act) {
    case HOSM_ACT_SILU: return z / (1.0f + expf(-z));
    case HOSM_ACT_TANH: return tanhf(z);
    case HOSM_ACT_ELU: return z > 0.0f ? z : expm1f(z);
    default: return fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z)));
    }
}

static float act_df(int act, float z, float a)
{
    switch (act) {
    case HOSM_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-z));
        return s + z * s * (1.0f - s);
    }
    case HOSM_ACT_TANH: return 1.0f - a * a;
    case HOSM_ACT_ELU: return z > 0.0f ? 1.0f : a + 1.0f;
    default: return 1.0f / (1.0f + expf(-z));
    }
}

enum { K_SCALAR_F, K_SCALAR_D, K_SCALAR_FD, K_VEC_F, K_VEC_D, K_VEC_FDD, K_EXP_SCALAR, K_EXP_VEC };

typedef struct {
    int kind, act, isa;
} job;

static int64_t g_n;
static float *g_z, *g_a, *g_d1, *g_d2, *g_ascalar;

static void run_once(const job *j)
{
    const int64_t n = g_n;
    const float *z = g_z;
    float *a = g_a, *d1 = g_d1, *d2 = g_d2;
    switch (j->kind) {
    case K_SCALAR_F:
        for (int64_t i = 0; i < n; i++)
            a[i] = act_f(j->act, z[i]);
        break;
    case K_SCALAR_D:
        for (int64_t i = 0; i < n; i++)
            d1[i] = act_df(j->act, z[i], g_ascalar[i]);
        break;
    case K_SCALAR_FD:
        for (int64_t i = 0; i < n; i++)
            a[i] = act_f(j->act, z[i]);
        for (int64_t i = 0; i < n; i++)
            d1[i] = act_df(j->act, z[i], a[i]);
        break;
    case K_VEC_F: hosmi_vact_isa(j->isa, j->act, z, a, NULL, NULL, n); break;
    case K_VEC_D: hosmi_vact_isa(j->isa, j->act, z, NULL, d1, NULL, n); break;
    case K_VEC_FDD: hosmi_vact_isa(j->isa, j->act, z, a, d1, d2, n); break;
    case K_EXP_SCALAR:
        for (int64_t i = 0; i < n; i++)
            a[i] = expf(z[i]);
        break;
    default: hosmi_vexp_isa(j->isa, z, a, n); break;
    }
}

/* ns per element of one timing. */
static double time_job(const job *j, double min_s)
{
    int64_t reps = 0;
    double t0 = now(), t;
    do {
        run_once(j);
        reps++;
        t = now() - t0;
    } while (t < min_s);
    return 1e9 * t / ((double)reps * (double)g_n);
}

static void print_cpu(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096], model[256] = "?";
    int avx2 = 0, avx512f = 0, fma = 0;
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "model name", 10) && model[0] == '?') {
                char *c = strchr(line, ':');
                if (c) {
                    snprintf(model, sizeof model, "%s", c + 2);
                    model[strcspn(model, "\n")] = 0;
                }
            }
            if (!strncmp(line, "flags", 5)) {
                avx2 = strstr(line, " avx2") != NULL;
                avx512f = strstr(line, " avx512f") != NULL;
                fma = strstr(line, " fma") != NULL;
                break;
            }
        }
        fclose(f);
    }
    printf("cpu: %s; avx2 %s, fma %s, avx512f %s\n", model, avx2 ? "yes" : "no",
           fma ? "yes" : "no", avx512f ? "yes" : "no");
}

int main(int argc, char **argv)
{
    int64_t n = 256 * 128;
    int runs = 9;
    double min_ms = 20;
    if (timing_options(argc, argv, &n, &runs, &min_ms))
        return 2;
    g_n = n;
    g_z = malloc((size_t)n * sizeof(float));
    g_a = malloc((size_t)n * sizeof(float));
    g_d1 = malloc((size_t)n * sizeof(float));
    g_d2 = malloc((size_t)n * sizeof(float));
    g_ascalar = malloc((size_t)n * sizeof(float));
    if (!g_z || !g_a || !g_d1 || !g_d2 || !g_ascalar)
        return 1;
    uint64_t s = 12345;
    for (int64_t i = 0; i < n; i++) { /* splitmix64 + Box-Muller, sd 2 */
        double u[2];
        for (int k = 0; k < 2; k++) {
            uint64_t x = (s += 0x9e3779b97f4a7c15ULL);
            x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
            x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
            x ^= x >> 31;
            u[k] = ((double)(x >> 11) + 0.5) * 0x1.0p-53;
        }
        g_z[i] = (float)(2.0 * sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
    }

    print_cpu();
    printf("n = %lld, %d runs of >= %g ms each, median (min-max) ns per element\n",
           (long long)n, runs, min_ms);
    printf("kernels compiled in: ");
    for (int isa = 0; isa < HOSMI_VISA_COUNT; isa++)
        printf("%s%s%s", isa ? ", " : "", hosmi_visa_name(isa),
               hosmi_visa_available(isa) ? "" : " (not on this CPU)");
    printf("; selected: %s\n\n", hosmi_visa_name(hosmi_visa_selected()));

    /* The jobs, per activation then e^x. */
    job jobs[64];
    int nj = 0;
    for (int act = 0; act < 4; act++) {
        jobs[nj++] = (job){K_SCALAR_F, act, 0};
        jobs[nj++] = (job){K_SCALAR_D, act, 0};
        jobs[nj++] = (job){K_SCALAR_FD, act, 0};
        for (int isa = 0; isa < HOSMI_VISA_COUNT; isa++) {
            if (!hosmi_visa_available(isa))
                continue;
            jobs[nj++] = (job){K_VEC_F, act, isa};
            jobs[nj++] = (job){K_VEC_D, act, isa};
            jobs[nj++] = (job){K_VEC_FDD, act, isa};
        }
    }
    jobs[nj++] = (job){K_EXP_SCALAR, 0, 0};
    for (int isa = 0; isa < HOSMI_VISA_COUNT; isa++)
        if (hosmi_visa_available(isa))
            jobs[nj++] = (job){K_EXP_VEC, 0, isa};

    double *t = malloc((size_t)nj * (size_t)runs * sizeof(double));
    if (!t)
        return 1;
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < nj; k++) {
            if (jobs[k].kind == K_SCALAR_D) /* the a that scalar f' reads */
                for (int64_t i = 0; i < n; i++)
                    g_ascalar[i] = act_f(jobs[k].act, g_z[i]);
            t[k * runs + r] = time_job(&jobs[k], 1e-3 * min_ms);
        }
    }

    double med[64];
    for (int k = 0; k < nj; k++) {
        qsort(t + k * runs, (size_t)runs, sizeof(double), cmp_double);
        med[k] = t[k * runs + runs / 2];
    }
    static const char *const kind_names[] = {"scalar f", "scalar f'", "scalar f+f'", "f",
                                             "f'", "f,f',f''", "expf loop", "vexp"};
    printf("%-9s %-20s %22s %s\n", "", "", "ns/element", "  speedup vs scalar");
    double base_f = 0, base_d = 0, base_fd = 0, base_exp = 0;
    for (int k = 0; k < nj; k++) {
        const job *j = &jobs[k];
        char name[64];
        if (j->kind >= K_VEC_F && j->kind <= K_VEC_FDD)
            snprintf(name, sizeof name, "%s %s", hosmi_visa_name(j->isa), kind_names[j->kind]);
        else if (j->kind == K_EXP_VEC)
            snprintf(name, sizeof name, "%s %s", hosmi_visa_name(j->isa), kind_names[j->kind]);
        else
            snprintf(name, sizeof name, "%s", kind_names[j->kind]);
        double base = 0;
        switch (j->kind) {
        case K_SCALAR_F: base_f = med[k]; break;
        case K_SCALAR_D: base_d = med[k]; break;
        case K_SCALAR_FD: base_fd = med[k]; break;
        case K_EXP_SCALAR: base_exp = med[k]; break;
        case K_VEC_F: base = base_f; break;
        case K_VEC_D: base = base_d; break;
        case K_VEC_FDD: base = base_fd; break;
        default: base = base_exp; break;
        }
        const char *group = j->kind >= K_EXP_SCALAR ? "exp" : act_names[j->act];
        printf("%-9s %-20s %7.3f (%6.3f-%6.3f)", group, name, med[k], t[k * runs],
               t[k * runs + runs - 1]);
        if (base > 0)
            printf("   %5.1fx%s", base / med[k], j->kind == K_VEC_FDD ? " (vs scalar f+f')" : "");
        printf("\n");
    }
    /* The variants side by side: the median of each, and its speedup over
     * the next narrower variant this CPU has. */
    printf("\nvariants, median ns per element (speedup over the previous column)\n");
    printf("%-9s %-9s", "", "");
    for (int isa = 0; isa < HOSMI_VISA_COUNT; isa++)
        if (hosmi_visa_available(isa))
            printf(" %-18s", hosmi_visa_name(isa));
    printf("\n");
    for (int act = 0; act <= 4; act++) {
        for (int kind = K_VEC_F; kind <= K_VEC_FDD; kind++) {
            if (act == 4 && kind != K_VEC_F)
                continue;
            const int want_kind = act == 4 ? K_EXP_VEC : kind;
            printf("%-9s %-9s", act == 4 ? "exp" : act_names[act],
                   act == 4 ? "vexp" : kind_names[kind]);
            double prev = 0;
            for (int k = 0; k < nj; k++) {
                if (jobs[k].kind != want_kind || (act < 4 && jobs[k].act != act))
                    continue;
                if (prev > 0)
                    printf(" %9.3f (%5.2fx)", med[k], prev / med[k]);
                else
                    printf(" %9.3f %8s", med[k], "");
                prev = med[k];
            }
            printf("\n");
        }
    }
    /* Keep the results alive. */
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)g_a[i] + (double)g_d1[i];
    printf("\n(checksum %.6g)\n", sum);
    free(t);
    free(g_z);
    free(g_a);
    free(g_d1);
    free(g_d2);
    free(g_ascalar);
    return 0;
}
