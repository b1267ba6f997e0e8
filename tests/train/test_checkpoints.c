/* Checkpoints: a run stopped, saved and restored continues exactly as the
 * uninterrupted run (docs/format.md; the loader's answer to damaged
 * checkpoints is in tests/model/test_files.c).
 *
 *  First order: fit to N steps uninterrupted vs. fit stopped by the callback
 *  at step k, checkpoint, new model + trainer from the same config, load, fit
 *  to N: weights, EMA and the final checkpoints are bit-identical (ladder,
 *  DSM-VR, weight decay and clipping on; through a path and through memory;
 *  k inside an epoch and k on an epoch boundary; and once with a low-rank s2
 *  network trained by D2SM-VR); the checkpoint size follows docs/format.md.
 *
 *  Second order (full joint D2SM-VR; lowrank frozen D2SM, D = 3): 10 steps,
 *  checkpoint (to memory and to a path), restore into a fresh trainer on a
 *  fresh model, 10 more steps equal 20 uninterrupted steps in weights, EMA,
 *  step count, the next gradient and the step after; the version field of
 *  the checkpoint is 2.
 *
 * All comparisons are exact (bitwise). No file is left in the temporary
 * directory. */
#include <unistd.h>

#include "../test_util.h"
#include "../common/model_util.h"

#define D2 3 /* the data dimension of the second-order cases */

static char g_dir[256];

static const char *path_in(const char *name)
{
    static char buf[8][512];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* ---- first order (and one low-rank s2 network) ------------------------------ */

#define RESUME_CFG                                                                          \
    "hidden=16 depth=2 act=silu levels=3 sigma_max=1 sigma_min=0.1 objective=dsm_vr "       \
    "steps=60 batch=32 lr=3e-3 weight_decay=0.01 clip=5 ema=0.9 seed=9"
#define RESUME_N 60
#define RESUME_DATA 200 /* 7 batches an epoch: 6 x 32 + 8 */

static int stop_at(int64_t step, double loss, void *user)
{
    (void)loss;
    int64_t *k = user;
    return step >= *k;
}

static int count_steps(int64_t step, double loss, void *user)
{
    (void)step;
    (void)loss;
    ++*(int64_t *)user;
    return 0;
}

/* The bytes of a CNFG section for the model's settings (format.md): 16 and
 * the text of its keys that are not architecture keys and differ from the
 * file base (FILE_BASE: the defaults but raw_head=0 s2_objective=d2sm), or 0. */
static int64_t settings_bytes(const hosm_model *m)
{
    /* architecture keys, and the keys measured from the file base above */
    static const char *const skipped[] = {"hidden",    "depth",     "act",      "levels",
                                          "seed",      "threads",   "sigma",    "sigma_max",
                                          "sigma_min", "s2",        "rank",     "s2_hidden",
                                          "s2_depth",  "raw_head",  "s2_objective"};
    static const char *const s2_objectives[] = {"d2sm", "d2sm_vr", "d2sm_res", "d2sm_res_vr",
                                                "d2sm_res_nll"};
    hosm_config *c;
    char text[4096];
    int64_t raw_head, s2_objective;
    MUST(hosm_config_new(&c));
    MUST(hosm_model_get_config(m, c));
    MUST(hosm_config_get_int(c, HOSM_KEY_RAW_HEAD, &raw_head));
    MUST(hosm_config_get_int(c, HOSM_KEY_S2_OBJECTIVE, &s2_objective));
    MUST(hosm_config_to_text(c, text, sizeof text, NULL));
    hosm_config_free(c);
    int64_t len = raw_head != 0 ? (int64_t)strlen("raw_head=1") : 0;
    if (s2_objective != HOSM_OBJ_D2SM)
        len += (len ? 1 : 0) + (int64_t)strlen("s2_objective=") +
               (int64_t)strlen(s2_objectives[s2_objective]);
    for (char *tok = strtok(text, " "); tok; tok = strtok(NULL, " ")) {
        int skip = 0;
        for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++)
            skip |= strncmp(tok, skipped[i], strlen(skipped[i])) == 0 &&
                    tok[strlen(skipped[i])] == '=';
        if (!skip)
            len += (len ? 1 : 0) + (int64_t)strlen(tok);
    }
    return len ? 16 + len : 0;
}

static void test_resume(const char *cfg_text, const float *data, int64_t k, int via_path)
{
    char tag[160];
    snprintf(tag, sizeof tag, "resume at %lld via %s (%.40s...)", (long long)k,
             via_path ? "path" : "memory", cfg_text);
    hosm_config *cfg = config(cfg_text);
    hosm_model *ma, *mb, *mc;
    hosm_trainer *ta, *tb, *tc;

    /* Uninterrupted. */
    MUST(hosm_model_new(&ma, 2, cfg));
    MUST(hosm_trainer_new(&ta, ma, cfg));
    int64_t calls = 0;
    MUST(hosm_trainer_fit(ta, data, RESUME_DATA, count_steps, &calls));
    CHECK(calls == RESUME_N, "%s: callback called %lld times, expected %d", tag,
          (long long)calls, RESUME_N);

    /* Stopped at k and checkpointed. */
    MUST(hosm_model_new(&mb, 2, cfg));
    MUST(hosm_trainer_new(&tb, mb, cfg));
    int st = hosm_trainer_fit(tb, data, RESUME_DATA, stop_at, &k);
    CHECK(st == HOSM_STOPPED, "%s: fit returned %d, expected HOSM_STOPPED", tag, st);
    int64_t steps;
    MUST(hosm_trainer_step_count(tb, &steps));
    CHECK(steps == k, "%s: stopped at step %lld, expected %lld", tag, (long long)steps,
          (long long)k);
    int64_t csize;
    MUST(hosm_trainer_save_size(tb, &csize));
    const int64_t P = nparams(mb);
    int s2;
    MUST(hosm_model_s2_structure(mb, &s2, NULL));
    const int64_t cnfg = settings_bytes(mb), want = 236 + 8 * 3 + 16 * P + cnfg;
    if (s2 == HOSM_S2_NONE)
        CHECK(csize == want, "%s: checkpoint size %lld, format.md gives %lld", tag,
              (long long)csize, (long long)want);
    uint8_t *ck = xmalloc((size_t)csize);
    const char *path = path_in("resume.ckpt");
    if (via_path)
        MUST(hosm_trainer_save(tb, path));
    else
        MUST(hosm_trainer_save_mem(tb, ck, csize, NULL));
    hosm_trainer_free(tb);
    hosm_model_free(mb);

    /* A new model and trainer from the same config, restored. */
    MUST(hosm_model_new(&mc, 2, cfg));
    MUST(hosm_trainer_new(&tc, mc, cfg));
    if (via_path)
        MUST(hosm_trainer_load(tc, path));
    else
        MUST(hosm_trainer_load_mem(tc, ck, csize));
    MUST(hosm_trainer_step_count(tc, &steps));
    CHECK(steps == k, "%s: restored step count %lld", tag, (long long)steps);
    MUST(hosm_trainer_fit(tc, data, RESUME_DATA, NULL, NULL));
    MUST(hosm_trainer_step_count(tc, &steps));
    CHECK(steps == RESUME_N, "%s: final step count %lld", tag, (long long)steps);

    CHECK(same_params(ma, mc), "%s: final weights differ from the uninterrupted run", tag);
    hosm_model *ea, *ec;
    MUST(hosm_model_new(&ea, 2, cfg));
    MUST(hosm_model_new(&ec, 2, cfg));
    MUST(hosm_trainer_copy_ema(ta, ea));
    MUST(hosm_trainer_copy_ema(tc, ec));
    CHECK(same_params(ea, ec), "%s: final EMA differs from the uninterrupted run", tag);
    CHECK(!same_params(ea, ma), "%s: the EMA equals the weights (EMA not exercised)", tag);
    /* The whole optimiser state (moments, RNG) agrees: equal checkpoints. */
    uint8_t *fa = xmalloc((size_t)csize), *fc = xmalloc((size_t)csize);
    MUST(hosm_trainer_save_mem(ta, fa, csize, NULL));
    MUST(hosm_trainer_save_mem(tc, fc, csize, NULL));
    CHECK(memcmp(fa, fc, (size_t)csize) == 0, "%s: final checkpoints differ", tag);
    free(fa);
    free(fc);

    free(ck);
    hosm_model_free(ea);
    hosm_model_free(ec);
    hosm_trainer_free(ta);
    hosm_trainer_free(tc);
    hosm_model_free(ma);
    hosm_model_free(mc);
    hosm_config_free(cfg);
    if (via_path)
        unlink(path);
}

/* ---- second order ------------------------------------------------------------ */

static hosm_config *base_config(int s2, int64_t rank)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=5 depth=2 act=silu levels=2 sigma_max=1 sigma_min=0.3 "
                                "s2_hidden=4 s2_depth=3 seed=17"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_RANK, rank));
    return cfg;
}


static hosm_trainer *make_trainer(hosm_model **m, const char *extra, int64_t steps)
{
    hosm_config *cfg = base_config(HOSM_S2_NONE, 1);
    MUST(hosm_config_parse(cfg, extra));
    MUST(hosm_config_parse(cfg, "batch=16 lr=3e-3 ema=0.9"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_STEPS, steps));
    MUST(hosm_model_new(m, D2, cfg));
    hosm_trainer *t;
    MUST(hosm_trainer_new(&t, *m, cfg));
    hosm_config_free(cfg);
    return t;
}

static void check_resume_s2(const char *extra, int via_path)
{
    enum { NDATA = 40 };
    float data[NDATA * D2];
    trng r = {55};
    for (int i = 0; i < NDATA * D2; i++)
        data[i] = (float)trng_normal(&r);
    hosm_model *ma, *mb, *mc;
    hosm_trainer *ta = make_trainer(&ma, extra, 20), *tb = make_trainer(&mb, extra, 10);
    MUST(hosm_trainer_fit(ta, data, NDATA, NULL, NULL));
    MUST(hosm_trainer_fit(tb, data, NDATA, NULL, NULL));
    int64_t size;
    MUST(hosm_trainer_save_size(tb, &size));
    uint8_t *buf = xmalloc((size_t)size);
    MUST(hosm_trainer_save_mem(tb, buf, size, NULL));
    /* s2 and settings (the trainer's config): version 3. */
    CHECK(get_le(buf + 8, 4) == 3, "%s: checkpoint version %u, expected 3", extra,
          (unsigned)get_le(buf + 8, 4));
    hosm_trainer *tc = make_trainer(&mc, extra, 20);
    if (via_path) {
        const char *path = path_in("s2_resume.ckpt");
        MUST(hosm_trainer_save(tb, path));
        MUST(hosm_trainer_load(tc, path));
        remove(path);
    } else {
        MUST(hosm_trainer_load_mem(tc, buf, size));
    }
    MUST(hosm_trainer_fit(tc, data, NDATA, NULL, NULL));
    int64_t sa, sc;
    MUST(hosm_trainer_step_count(ta, &sa));
    MUST(hosm_trainer_step_count(tc, &sc));
    char tag[160];
    snprintf(tag, sizeof tag, "resume [%s] via %s", extra, via_path ? "path" : "memory");
    CHECK(sa == 20 && sc == 20, "%s: step counts %lld and %lld", tag, (long long)sa,
          (long long)sc);
    CHECK(same_model(ma, mc, tag), "%s: weights differ from the uninterrupted run", tag);
    /* EMA and the next gradient (same RNG-independent inputs). */
    hosm_model *ea, *ec;
    hosm_config *cfg = base_config(HOSM_S2_NONE, 1);
    MUST(hosm_config_parse(cfg, extra));
    MUST(hosm_model_new(&ea, D2, cfg));
    MUST(hosm_model_new(&ec, D2, cfg));
    hosm_config_free(cfg);
    MUST(hosm_trainer_copy_ema(ta, ea));
    MUST(hosm_trainer_copy_ema(tc, ec));
    CHECK(same_model(ea, ec, tag), "%s: EMA differs", tag);
    int64_t P;
    MUST(hosm_model_num_params(ma, &P));
    float *ga = xmalloc((size_t)P * sizeof *ga), *gc = xmalloc((size_t)P * sizeof *gc);
    float z[NDATA * D2];
    for (int i = 0; i < NDATA * D2; i++)
        z[i] = (float)trng_normal(&r);
    double la, lc;
    MUST(hosm_trainer_gradient(ta, data, z, NULL, NDATA, &la, ga));
    MUST(hosm_trainer_gradient(tc, data, z, NULL, NDATA, &lc, gc));
    CHECK(la == lc && memcmp(ga, gc, (size_t)P * sizeof *ga) == 0, "%s: next gradient differs",
          tag);
    /* One more step each (uses the restored RNG): still identical. */
    MUST(hosm_trainer_step(ta, data, NDATA, &la));
    MUST(hosm_trainer_step(tc, data, NDATA, &lc));
    CHECK(la == lc && same_model(ma, mc, tag), "%s: the step after resuming differs", tag);
    printf("ok   %s: bit-identical (%lld-byte checkpoint)\n", tag, (long long)size);
    free(ga);
    free(gc);
    free(buf);
    hosm_model_free(ea);
    hosm_model_free(ec);
    hosm_trainer_free(ta);
    hosm_trainer_free(tb);
    hosm_trainer_free(tc);
    hosm_model_free(ma);
    hosm_model_free(mb);
    hosm_model_free(mc);
}

int main(void)
{
    const double t0 = now_seconds();
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/hosm-test-checkpoints-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        printf("FATAL: mkdtemp failed\n");
        return 1;
    }

    float *data = xmalloc(RESUME_DATA * 2 * sizeof *data);
    trng r = {8};
    for (int i = 0; i < RESUME_DATA * 2; i++)
        data[i] = (float)trng_normal(&r);
    test_resume(RESUME_CFG, data, 23, 1); /* inside the 4th epoch, via a file */
    test_resume(RESUME_CFG, data, 23, 0); /* the same via memory */
    test_resume(RESUME_CFG, data, 21, 1); /* exactly at the end of the 3rd epoch */
    test_resume(RESUME_CFG, data, 21, 0);
    test_resume(RESUME_CFG " s2=lowrank rank=1 s2_objective=d2sm_vr", data, 23, 0);
    free(data);

    for (int via_path = 0; via_path <= 1; via_path++) {
        check_resume_s2("s2=full objective=dsm_vr s2_objective=d2sm_vr freeze_s1=0 w1=3", via_path);
        check_resume_s2("s2=lowrank rank=2 s2_objective=d2sm freeze_s1=1", via_path);
    }

    CHECK(rmdir(g_dir) == 0, "files left in %s", g_dir);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_checkpoints");
}
