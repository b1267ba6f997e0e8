/*
 * normal_bench: standard normal floats per second from hosmi_rng_normal
 * (lib/core/rng.c, the ziggurat) against the Box-Muller loop it replaced.
 *
 *   usage: normal_bench [--n 64000] [--runs 9] [--min-ms 20]
 *
 * n defaults to 64000, the normals of one step of the Langevin case of
 * bench/speed.c (1000 chains, D = 64). Each timing repeats one call filling
 * n floats (for small n, as many calls as make 2^16 values between two
 * readings of the clock) until at least --min-ms of the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: time taken by other processes on a shared
 * machine is not counted) have passed, and divides by the values made;
 * --runs rounds of all the timings are made, interleaved, and the median is
 * printed with the minimum and the maximum.
 *
 *   box-muller   the former hosmi_rng_normal, verbatim: two uniforms per
 *                pair, sqrt(-2 log u1) (cos, sin)(2 pi u2) in double (libm)
 *   ziggurat     hosmi_rng_normal
 *   xoshiro      hosmi_rng_next into a uint64 array: the generator alone,
 *                one 64-bit draw per value (the ziggurat's floor)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "timing_util.h"

/* The former hosmi_rng_normal (libhosm up to the ziggurat), verbatim. */
static void box_muller(hosmi_rng *rng, float *out, int64_t n)
{
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(hosmi_rng_uniform(rng)));
        double t = two_pi * hosmi_rng_uniform(rng);
        out[i] = (float)(r * cos(t));
        if (i + 1 < n)
            out[i + 1] = (float)(r * sin(t));
    }
}

static void draws(hosmi_rng *rng, uint64_t *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = hosmi_rng_next(rng);
}

enum { K_BOX, K_ZIG, K_NEXT, K_COUNT };
static const char *const names[K_COUNT] = {"box-muller", "ziggurat", "xoshiro"};

int main(int argc, char **argv)
{
    int64_t n = 64000;
    int runs = 9;
    double min_ms = 20;
    if (timing_options(argc, argv, &n, &runs, &min_ms))
        return 2;
    float *out = malloc((size_t)n * sizeof(float));
    uint64_t *u = malloc((size_t)n * sizeof(uint64_t));
    double *ns = malloc((size_t)(K_COUNT * runs) * sizeof(double));
    if (!out || !u || !ns)
        return 1;
    hosmi_rng rng;
    hosmi_rng_seed(&rng, 12345, 0);
    /* calls between readings of the clock: at least 2^16 values */
    const int64_t batch = n >= 65536 ? 1 : (65536 + n - 1) / n;
    double sink = 0;
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < K_COUNT; k++) {
            int64_t calls = 0;
            const double t0 = now();
            double t1;
            do {
                for (int64_t c = 0; c < batch; c++, calls++) {
                    if (k == K_BOX)
                        box_muller(&rng, out, n);
                    else if (k == K_ZIG)
                        hosmi_rng_normal(&rng, out, n);
                    else
                        draws(&rng, u, n);
                    sink += k == K_NEXT ? (double)(u[calls % n] >> 60) : out[calls % n];
                }
                t1 = now();
            } while (t1 - t0 < 1e-3 * min_ms);
            ns[k * runs + r] = 1e9 * (t1 - t0) / ((double)calls * (double)n);
        }
    }
    printf("n = %lld, %d runs, >= %g ms of thread CPU time per timing (sink %g)\n", (long long)n,
           runs, min_ms, sink);
    printf("%-12s %10s %10s %10s %12s %8s\n", "", "ns/value", "min", "max", "Mvalues/s", "speedup");
    double med[K_COUNT];
    for (int k = 0; k < K_COUNT; k++) {
        double *v = ns + k * runs;
        qsort(v, (size_t)runs, sizeof(double), cmp_double);
        med[k] = runs % 2 ? v[runs / 2] : 0.5 * (v[runs / 2 - 1] + v[runs / 2]);
        printf("%-12s %10.3f %10.3f %10.3f %12.1f", names[k], med[k], v[0], v[runs - 1],
               1e3 / med[k]);
        if (k == K_ZIG)
            printf(" %7.2fx", med[K_BOX] / med[k]);
        printf("\n");
    }
    free(out);
    free(u);
    free(ns);
    return 0;
}
