/*
 * A C application built against an installed libhosm with nothing but
 * `pkg-config --cflags --libs hosm` (see install_test.py).
 *
 * usage: consumer-c VERSION [LIBDIR]
 * Checks the version, a config round trip, a model's score and denoise, and,
 * when LIBDIR is given, that the libhosm loaded at run time is the one in
 * LIBDIR (not another copy on the system).
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include <hosm.h>

#include <link.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond,      \
                    hosm_last_errmsg());                                                         \
            failures++;                                                                          \
        }                                                                                        \
    } while (0)

static char loaded_from[4096];

static int find_hosm(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name && strstr(info->dlpi_name, "libhosm.so")) {
        snprintf(loaded_from, sizeof loaded_from, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

enum { DIM = 3, N = 4 };

int main(int argc, char **argv)
{
    hosm_config *cfg = NULL;
    hosm_model *model = NULL, *twin = NULL;
    int64_t v = 0, dim = 0, levels = 0, nparams = 0;
    double d = 0.0;
    float x[N * DIM], s[N * DIM], s2[N * DIM], den[N * DIM];
    float *params = NULL;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s VERSION [LIBDIR]\n", argv[0]);
        return 2;
    }

    /* version */
    CHECK(strcmp(hosm_version_string(), argv[1]) == 0);
    CHECK(strcmp(hosm_version_string(), HOSM_VERSION_STRING) == 0);
    CHECK(hosm_version_number() == HOSM_VERSION_NUMBER);
    CHECK(strlen(hosm_strerror(HOSM_E_KEY)) > 0);

    /* config */
    CHECK(hosm_config_new(&cfg) == HOSM_OK);
    if (!cfg)
        return 1;
    CHECK(hosm_config_parse(cfg, "hidden=16 depth=2 act=tanh sigma=0.5 seed=7") == HOSM_OK);
    CHECK(hosm_config_get_int(cfg, HOSM_KEY_HIDDEN, &v) == HOSM_OK && v == 16);
    CHECK(hosm_config_get_int(cfg, HOSM_KEY_ACT, &v) == HOSM_OK && v == HOSM_ACT_TANH);
    CHECK(hosm_config_get_double(cfg, HOSM_KEY_SIGMA, &d) == HOSM_OK && d == 0.5);
    CHECK(hosm_config_parse(cfg, "hidden=8 no_such_key=1") == HOSM_E_KEY);
    CHECK(strlen(hosm_config_errmsg(cfg)) > 0);
    CHECK(hosm_config_get_int(cfg, HOSM_KEY_HIDDEN, &v) == HOSM_OK && v == 16);

    /* model: finite, reproducible scores; zero weights give a zero score */
    CHECK(hosm_model_new(&model, DIM, cfg) == HOSM_OK);
    CHECK(hosm_model_new(&twin, DIM, cfg) == HOSM_OK);
    if (!model || !twin)
        return 1;
    CHECK(hosm_model_dim(model, &dim) == HOSM_OK && dim == DIM);
    CHECK(hosm_model_num_levels(model, &levels) == HOSM_OK && levels == 1);
    CHECK(hosm_model_sigma(model, 0, &d) == HOSM_OK && d == 0.5);
    CHECK(hosm_model_num_params(model, &nparams) == HOSM_OK && nparams > 0);
    for (i = 0; i < N * DIM; i++)
        x[i] = (float)(i % 5) * 0.25f - 0.5f;
    CHECK(hosm_model_score(model, 0, x, N, s) == HOSM_OK);
    CHECK(hosm_model_score(twin, 0, x, N, s2) == HOSM_OK);
    for (i = 0; i < N * DIM; i++)
        CHECK(isfinite(s[i]) && s[i] == s2[i]);

    params = calloc((size_t)nparams, sizeof *params);
    CHECK(params != NULL);
    if (params) {
        CHECK(hosm_model_set_params(model, params, nparams) == HOSM_OK);
        CHECK(hosm_model_score(model, 0, x, N, s) == HOSM_OK);
        CHECK(hosm_model_denoise(model, 0, x, N, den) == HOSM_OK);
        for (i = 0; i < N * DIM; i++)
            CHECK(s[i] == 0.0f && den[i] == x[i]);
    }
    CHECK(hosm_model_score(model, 0, x, -1, s) == HOSM_E_ARG);

    free(params);
    hosm_model_free(twin);
    hosm_model_free(model);
    hosm_config_free(cfg);
    hosm_model_free(NULL);

    /* the library came from LIBDIR */
    dl_iterate_phdr(find_hosm, NULL);
    printf("libhosm %s loaded from %s\n", hosm_version_string(), loaded_from);
    if (argc > 2) {
        size_t len = strlen(argv[2]);
        CHECK(strncmp(loaded_from, argv[2], len) == 0 && loaded_from[len] == '/');
    }

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("OK: C consumer\n");
    return 0;
}
