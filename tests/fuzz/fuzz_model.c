/* libFuzzer target: model loading from memory (hosm_model_load_mem) or, built
 * with -DFUZZ_VIA_FILE, from a file (hosm_model_load).
 *
 * Expectations (a violation aborts): no crash, leak or undefined behaviour; a
 * load returns one of the statuses of fuzz_load_status_ok() and leaves *out
 * NULL on failure; a model that loads saves again, and that file loads and
 * saves to the same bytes; queries on a small loaded model return OK, the
 * status of their structure, or HOSM_E_NONFINITE (weights that overflow
 * float); an OK query gives finite values. */
#include <math.h>

#include "fuzz_common.h"

static void check_finite(const char *what, int st, const float *v, int64_t n)
{
    if (st != HOSM_OK)
        return;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            FUZZ_FAIL("%s returned HOSM_OK with a non-finite value", what);
}

static void exercise(hosm_model *m)
{
    int64_t D, L, P, bytes;
    if (hosm_model_dim(m, &D) || hosm_model_num_levels(m, &L) || hosm_model_num_params(m, &P) ||
        hosm_model_save_size(m, &bytes))
        FUZZ_FAIL("a getter failed on a loaded model");
    uint8_t *a = malloc((size_t)bytes), *b = malloc((size_t)bytes);
    int64_t wa = 0, wb = 0;
    hosm_model *m2 = NULL;
    if (!a || !b)
        abort();
    if (hosm_model_save_mem(m, a, bytes, &wa) != HOSM_OK || wa != bytes)
        FUZZ_FAIL("save_mem of a loaded model failed");
    if (hosm_model_load_mem(&m2, a, wa) != HOSM_OK)
        FUZZ_FAIL("a model file written by the library does not load");
    if (hosm_model_save_mem(m2, b, bytes, &wb) != HOSM_OK || wb != wa || memcmp(a, b, (size_t)wa))
        FUZZ_FAIL("save -> load -> save is not stable");
    hosm_model_free(m2);
    free(a);
    free(b);
    if (D > 16 || P > 100000)
        return; /* queries on large models would slow the fuzzer down */
    const int64_t n = 2;
    float x[2 * 16], v[2 * 16], out[2 * 16 * 16], out2[2 * 16 * 16];
    for (int64_t i = 0; i < n * D; i++) {
        x[i] = (float)(i % 3) - 1.0f;
        v[i] = 0.5f;
    }
    int s2;
    int64_t r, param;
    hosm_config *cfg = NULL;
    if (hosm_model_s2_structure(m, &s2, &r) != HOSM_OK || hosm_config_new(&cfg) != HOSM_OK ||
        hosm_model_get_config(m, cfg) != HOSM_OK ||
        hosm_config_get_int(cfg, HOSM_KEY_PARAMETERIZATION, &param) != HOSM_OK)
        FUZZ_FAIL("s2_structure or get_config failed");
    hosm_config_free(cfg);
    for (int64_t level = 0; level < L; level += (L > 1 ? L - 1 : 1)) {
        int st = hosm_model_score(m, level, x, n, out);
        if (st != HOSM_OK && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("score: status %d", st);
        check_finite("score", st, out, n * D);
        st = hosm_model_denoise(m, level, x, n, out);
        if (st != HOSM_OK && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("denoise: status %d", st);
        check_finite("denoise", st, out, n * D);
        double lp[2];
        st = hosm_model_log_density_unnormalized(m, level, x, n, lp);
        if (st != (param == HOSM_PARAM_ENERGY ? HOSM_OK : HOSM_E_UNSUPPORTED) &&
            st != HOSM_E_NONFINITE)
            FUZZ_FAIL("log_density_unnormalized: status %d", st);
        if (st == HOSM_OK && !(isfinite(lp[0]) && isfinite(lp[1])))
            FUZZ_FAIL("log_density_unnormalized returned HOSM_OK with a non-finite value");
        st = hosm_model_score_jacobian_diag(m, level, x, n, out);
        if (st != HOSM_OK && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("score_jacobian_diag: status %d", st);
        check_finite("score_jacobian_diag", st, out, n * D);
        const int want = s2 == HOSM_S2_NONE ? HOSM_E_UNSUPPORTED : HOSM_OK;
        st = hosm_model_hessian_diag(m, level, x, n, out);
        if (st != want && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("hessian_diag: status %d, expected %d", st, want);
        check_finite("hessian_diag", st, out, n * D);
        st = hosm_model_hvp(m, level, x, v, n, out);
        if (st != want && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("hvp: status %d, expected %d", st, want);
        st = hosm_model_posterior_var(m, level, x, n, 1, out);
        if (st != want && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("posterior_var: status %d, expected %d", st, want);
        check_finite("posterior_var", st, out, n * D);
        st = hosm_model_posterior_topk(m, level, x, n, 1, 1, out, out2);
        if (st != want && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("posterior_topk: status %d, expected %d", st, want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_patched_copy(data, size);
    hosm_model *m = (hosm_model *)(uintptr_t)1; /* must become NULL on failure */
#ifdef FUZZ_VIA_FILE
    fuzz_write_file(buf, size);
    int st = hosm_model_load(&m, fuzz_file_path());
#else
    int st = hosm_model_load_mem(&m, buf, (int64_t)size);
#endif
    free(buf);
    if (!fuzz_load_status_ok(st))
        FUZZ_FAIL("load returned %d (%s)", st, hosm_strerror(st));
    if (st != HOSM_OK) {
        if (m != NULL)
            FUZZ_FAIL("a failed load left *out set");
        return 0;
    }
    exercise(m);
    hosm_model_free(m);
    return 0;
}
