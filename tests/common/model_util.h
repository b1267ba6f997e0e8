/* Model helpers shared by the tests of files and checkpoints
 * (tests/model/test_files.c, tests/model/test_s2_files.c,
 * tests/train/test_checkpoints.c): a config from text, parameter access, and
 * bit-exact comparison of two models. Header-only; include after
 * tests/test_util.h. */
#ifndef HOSM_TEST_MODEL_UTIL_H
#define HOSM_TEST_MODEL_UTIL_H

#include "../test_util.h"

static inline hosm_config *config(const char *text)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, text));
    return cfg;
}

static inline int64_t nparams(const hosm_model *m)
{
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    return P;
}

static inline float *params_of(const hosm_model *m)
{
    const int64_t P = nparams(m);
    float *p = xmalloc((size_t)P * sizeof *p);
    MUST(hosm_model_get_params(m, p, P));
    return p;
}

static inline void randomise(hosm_model *m, uint64_t seed)
{
    const int64_t P = nparams(m);
    float *p = xmalloc((size_t)P * sizeof *p);
    trng r = {seed};
    for (int64_t i = 0; i < P; i++)
        p[i] = (float)(0.5 * trng_normal(&r));
    MUST(hosm_model_set_params(m, p, P));
    free(p);
}

static inline int same_params(const hosm_model *a, const hosm_model *b)
{
    const int64_t P = nparams(a);
    if (nparams(b) != P)
        return 0;
    float *pa = params_of(a), *pb = params_of(b);
    int same = memcmp(pa, pb, (size_t)P * sizeof *pa) == 0;
    free(pa);
    free(pb);
    return same;
}

/* Everything observable of a model is bit-identical: parameters, s2
 * structure and rank, config keys, and the scores and (with s2) Hessians of
 * five points at every level. Prints each difference; returns 1 when none. */
static inline int same_model(const hosm_model *a, const hosm_model *b, const char *tag)
{
    int ok = 1;
    int64_t pa, pb, ra, rb;
    int sa, sb;
    MUST(hosm_model_num_params(a, &pa));
    MUST(hosm_model_num_params(b, &pb));
    MUST(hosm_model_s2_structure(a, &sa, &ra));
    MUST(hosm_model_s2_structure(b, &sb, &rb));
    if (pa != pb || sa != sb || ra != rb) {
        printf("FAIL %s: params %lld/%lld, structure %d/%d, rank %lld/%lld\n", tag,
               (long long)pa, (long long)pb, sa, sb, (long long)ra, (long long)rb);
        return 0;
    }
    float *x = xmalloc((size_t)pa * sizeof(float)), *y = xmalloc((size_t)pa * sizeof(float));
    MUST(hosm_model_get_params(a, x, pa));
    MUST(hosm_model_get_params(b, y, pb));
    if (memcmp(x, y, (size_t)pa * sizeof(float)) != 0) {
        printf("FAIL %s: parameters differ\n", tag);
        ok = 0;
    }
    free(x);
    free(y);
    hosm_config *ca, *cb;
    MUST(hosm_config_new(&ca));
    MUST(hosm_config_new(&cb));
    MUST(hosm_model_get_config(a, ca));
    MUST(hosm_model_get_config(b, cb));
    const int ikeys[] = {HOSM_KEY_HIDDEN, HOSM_KEY_DEPTH, HOSM_KEY_ACT, HOSM_KEY_LEVELS,
                         HOSM_KEY_SEED, HOSM_KEY_THREADS, HOSM_KEY_S2, HOSM_KEY_RANK,
                         HOSM_KEY_S2_HIDDEN, HOSM_KEY_S2_DEPTH};
    for (size_t i = 0; i < sizeof ikeys / sizeof ikeys[0]; i++) {
        int64_t va, vb;
        MUST(hosm_config_get_int(ca, ikeys[i], &va));
        MUST(hosm_config_get_int(cb, ikeys[i], &vb));
        if (va != vb) {
            printf("FAIL %s: key '%s' %lld vs %lld\n", tag, hosm_config_key_name(ikeys[i]),
                   (long long)va, (long long)vb);
            ok = 0;
        }
    }
    const int dkeys[] = {HOSM_KEY_SIGMA, HOSM_KEY_SIGMA_MAX, HOSM_KEY_SIGMA_MIN};
    for (size_t i = 0; i < 3; i++) {
        double va, vb;
        MUST(hosm_config_get_double(ca, dkeys[i], &va));
        MUST(hosm_config_get_double(cb, dkeys[i], &vb));
        if (va != vb) {
            printf("FAIL %s: key '%s' differs\n", tag, hosm_config_key_name(dkeys[i]));
            ok = 0;
        }
    }
    /* The whole config, settings included, in its text form. */
    char ta[4096], tb[4096];
    MUST(hosm_config_to_text(ca, ta, sizeof ta, NULL));
    MUST(hosm_config_to_text(cb, tb, sizeof tb, NULL));
    if (strcmp(ta, tb) != 0) {
        printf("FAIL %s: configs differ: '%s' vs '%s'\n", tag, ta, tb);
        ok = 0;
    }
    hosm_config_free(ca);
    hosm_config_free(cb);
    enum { NP = 5 };
    int64_t dim;
    MUST(hosm_model_dim(a, &dim));
    const size_t ns = (size_t)(NP * dim) * sizeof(float), nh = ns * (size_t)dim;
    float *pts = xmalloc(ns), *s1a = xmalloc(ns), *s1b = xmalloc(ns);
    float *ha = xmalloc(nh), *hb = xmalloc(nh);
    trng r = {404};
    for (int i = 0; i < NP * dim; i++)
        pts[i] = (float)trng_normal(&r);
    int64_t L;
    MUST(hosm_model_num_levels(a, &L));
    for (int64_t l = 0; l < L; l++) {
        MUST(hosm_model_score(a, l, pts, NP, s1a));
        MUST(hosm_model_score(b, l, pts, NP, s1b));
        if (memcmp(s1a, s1b, ns) != 0) {
            printf("FAIL %s: scores differ at level %lld\n", tag, (long long)l);
            ok = 0;
        }
        if (sa != HOSM_S2_NONE) {
            MUST(hosm_model_hessian(a, l, pts, NP, ha));
            MUST(hosm_model_hessian(b, l, pts, NP, hb));
            if (memcmp(ha, hb, nh) != 0) {
                printf("FAIL %s: hessians differ at level %lld\n", tag, (long long)l);
                ok = 0;
            }
        }
    }
    free(pts);
    free(s1a);
    free(s1b);
    free(ha);
    free(hb);
    return ok;
}

#endif
