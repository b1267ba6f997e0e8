/* xoshiro256** (Blackman and Vigna) seeded through splitmix64: small state,
 * fast, and the same stream on every platform for a given seed. */
#include <math.h>

#include "core/internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void hosmi_rng_seed(hosmi_rng *rng, uint64_t seed, uint64_t stream)
{
    /* Distinct streams of one seed start from well-separated splitmix states. */
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hosmi_rng_next(hosmi_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hosmi_rng_uniform(hosmi_rng *rng)
{
    return ((hosmi_rng_next(rng) >> 11) + 1) * 0x1.0p-53;
}

uint64_t hosmi_rng_below(hosmi_rng *rng, uint64_t n)
{
    /* Rejection sampling: unbiased for every n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = hosmi_rng_next(rng);
    while (r >= limit);
    return r % n;
}

void hosmi_rng_normal(hosmi_rng *rng, float *out, int64_t n)
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
