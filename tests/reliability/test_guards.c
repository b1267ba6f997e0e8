/* The guards of the library's state (docs/reliability.md): each check fails
 * without its fix.
 *   - a file declaring a huge architecture is rejected as CORRUPT, under a
 *     1 GiB address-space limit, before anything of that size is allocated;
 *   - an optimiser update that would overflow float returns
 *     HOSM_E_NONFINITE and changes nothing, and every checkpoint written
 *     before it loads again;
 *   - a checkpoint whose step count is out of range is CORRUPT;
 *   - noise levels whose powers leave the float range are refused;
 *   - a handle of the wrong kind is HOSM_E_MISUSE, and freeing one is a
 *     no-op. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hosm.h"
#include "../test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static hosm_model *model_from(const char *text, int64_t dim)
{
    hosm_config *cfg;
    hosm_model *m;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, text));
    MUST(hosm_model_new(&m, dim, cfg));
    hosm_config_free(cfg);
    return m;
}

/* Offset of the first byte of a section's payload (0 if absent). */
static int64_t section(const uint8_t *buf, int64_t size, const char *tag)
{
    int64_t pos = 24;
    while (pos + 16 <= size - 4) {
        uint64_t len = get_le(buf + pos + 8, 8);
        if (memcmp(buf + pos, tag, 4) == 0)
            return pos + 16;
        pos += 16 + (int64_t)len;
    }
    return 0;
}

static void huge_declared_architecture(void)
{
    hosm_model *m = model_from("hidden=4 depth=1 s2=full", 3);
    int64_t size;
    MUST(hosm_model_save_size(m, &size));
    uint8_t *buf = malloc((size_t)size);
    MUST(hosm_model_save_mem(m, buf, size, NULL));
    const int64_t arch = section(buf, size, "ARCH");
    CHECK(arch > 0, "the model file has an ARCH section");
    put_le(buf + arch, 50690, 8); /* D = 50690: a full s2 of ~1.3e9 outputs */
    fix_crc(buf, size);
    /* AddressSanitizer reserves terabytes of address space for its shadow
     * memory, so the limit is set only without it (there a huge allocation
     * fails and the status would be NOMEM, which fails the check too). */
    struct rlimit old, lim = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    getrlimit(RLIMIT_AS, &old);
    const int limited = !UNDER_ASAN && setrlimit(RLIMIT_AS, &lim) == 0 &&
                        old.rlim_cur > lim.rlim_cur;
    hosm_model *out = NULL;
    int st = hosm_model_load_mem(&out, buf, size);
    if (limited)
        setrlimit(RLIMIT_AS, &old);
    CHECK(st == HOSM_E_CORRUPT && out == NULL,
          "a %lld-byte file declaring D = 50690 with a full s2: status %d (%s)%s", (long long)size,
          st, hosm_last_errmsg(), limited ? "" : " [address space not limited]");
    free(buf);
    hosm_model_free(m);
}

static void adam_overflow(void)
{
    /* raw_head=0: the output layers too learn at lr = 10 */
    hosm_model *m = model_from("hidden=16 depth=2 s2=diag sigma=0.1 seed=3 raw_head=0", 4);
    hosm_config *cfg;
    hosm_trainer *t;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "lr=10 ema=0.5 seed=1 w1=1 raw_head=0"));
    MUST(hosm_trainer_new(&t, m, cfg));
    float x[4 * 32];
    for (int i = 0; i < 4 * 32; i++)
        x[i] = (float)(3.0 * sin(1.3 * i));
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    float *before = malloc(sizeof(float) * P), *after = malloc(sizeof(float) * P);
    int st = HOSM_OK, steps = 0;
    int64_t ck_size = 0, ck_before = 0, ck_after = 0;
    uint8_t *ck = NULL, *ck2 = NULL;
    for (; steps < 200 && st == HOSM_OK; steps++) {
        MUST(hosm_trainer_save_size(t, &ck_size));
        free(ck);
        ck = malloc((size_t)ck_size);
        MUST(hosm_trainer_save_mem(t, ck, ck_size, NULL));
        MUST(hosm_model_get_params(m, before, P));
        MUST(hosm_trainer_step_count(t, &ck_before));
        st = hosm_trainer_step(t, x, 32, NULL);
    }
    CHECK(st == HOSM_E_NONFINITE, "lr = 10 on a diagonal s2 ends in HOSM_E_NONFINITE (got %d "
          "after %d steps)", st, steps);
    MUST(hosm_model_get_params(m, after, P));
    MUST(hosm_trainer_step_count(t, &ck_after));
    CHECK(memcmp(before, after, sizeof(float) * P) == 0 && ck_before == ck_after,
          "the failing step changed neither the weights nor the step count");
    ck2 = malloc((size_t)ck_size);
    MUST(hosm_trainer_save_mem(t, ck2, ck_size, NULL));
    CHECK(memcmp(ck, ck2, (size_t)ck_size) == 0,
          "the failing step changed no optimiser state (the checkpoint bytes are the same)");
    CHECK(hosm_trainer_load_mem(t, ck2, ck_size) == HOSM_OK,
          "the last checkpoint before the failure loads again");
    /* Step counts out of range. */
    const int64_t adam = section(ck2, ck_size, "ADAM");
    put_le(ck2 + adam, (uint64_t)INT64_MAX, 8);
    fix_crc(ck2, ck_size);
    CHECK(hosm_trainer_load_mem(t, ck2, ck_size) == HOSM_E_CORRUPT,
          "a checkpoint with step = INT64_MAX is CORRUPT");
    put_le(ck2 + adam, (uint64_t)1 << 62, 8);
    fix_crc(ck2, ck_size);
    MUST(hosm_trainer_load_mem(t, ck2, ck_size));
    MUST(hosm_config_parse(cfg, "lr=1e-4"));
    hosm_trainer *t2;
    MUST(hosm_trainer_new(&t2, m, cfg));
    MUST(hosm_trainer_load_mem(t2, ck2, ck_size));
    CHECK(hosm_trainer_step(t2, x, 32, NULL) == HOSM_E_RANGE,
          "at the step-count limit 2^62 a step is HOSM_E_RANGE, not an overflow");
    hosm_trainer_free(t2);
    free(ck);
    free(ck2);
    free(before);
    free(after);
    hosm_trainer_free(t);
    hosm_config_free(cfg);
    hosm_model_free(m);
}

static void noise_levels(void)
{
    hosm_config *cfg;
    hosm_model *m = NULL;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "sigma=1e-30 s2=diag"));
    CHECK(hosm_model_new(&m, 2, cfg) == HOSM_E_RANGE && m == NULL,
          "sigma = 1e-30 is refused at creation (sigma^4 underflows)");
    MUST(hosm_config_parse(cfg, "levels=4 sigma_max=1 sigma_min=1e-12"));
    CHECK(hosm_model_new(&m, 2, cfg) == HOSM_E_RANGE, "a ladder down to 1e-12 is refused");
    MUST(hosm_config_parse(cfg, "levels=1 sigma=1e-9"));
    MUST(hosm_model_new(&m, 2, cfg));
    float x[4] = {0.1f, 0.2f, -0.3f, 0.4f}, h[8];
    int st = hosm_model_hessian(m, 0, x, 2, h);
    int finite = 1;
    for (int i = 0; i < 8; i++)
        finite &= isfinite(h[i]) != 0;
    CHECK(st == HOSM_E_NONFINITE || (st == HOSM_OK && finite),
          "at sigma = 1e-9 a Hessian query is finite or HOSM_E_NONFINITE (got %d)", st);
    hosm_model_free(m);
    hosm_config_free(cfg);
}

static void wrong_kind(void)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    int64_t v = 0;
    hosm_trainer *as_trainer = (hosm_trainer *)(void *)cfg;
    CHECK(hosm_trainer_step_count(as_trainer, &v) == HOSM_E_MISUSE,
          "a config passed as a trainer: HOSM_E_MISUSE");
    CHECK(strstr(hosm_last_errmsg(), "trainer") != NULL, "the message names the expected kind: %s",
          hosm_last_errmsg());
    hosm_trainer_free(as_trainer); /* a no-op: not a trainer */
    hosm_model_free((hosm_model *)(void *)cfg);
    hosm_sampler_free((hosm_sampler *)(void *)cfg);
    CHECK(hosm_config_set_int(cfg, HOSM_KEY_HIDDEN, 8) == HOSM_OK,
          "the config survives frees of the wrong kind");
    hosm_model *m = model_from("hidden=4", 2);
    CHECK(hosm_config_parse((hosm_config *)(void *)m, "hidden=3") == HOSM_E_MISUSE,
          "a model passed as a config: HOSM_E_MISUSE");
    hosm_config_free((hosm_config *)(void *)m);
    int64_t d;
    CHECK(hosm_model_dim(m, &d) == HOSM_OK && d == 2, "the model survives a config free");
    hosm_model_free(m);
    hosm_config_free(cfg);
}

int main(void)
{
    huge_declared_architecture();
    adam_overflow();
    noise_levels();
    wrong_kind();
    return finish("test_guards");
}
