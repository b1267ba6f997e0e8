/* Allocation-failure injection across the public API (docs/reliability.md).
 *
 * For each scenario (one public call on handles made beforehand), and for
 * k = 1, 2, ... until the call runs without reaching its k-th allocation:
 * fresh handles are made, the call runs with the library's k-th allocation
 * failing (tests/reliability/fault.c), and then
 *   - the call returns HOSM_E_NOMEM, nothing else, with a message; a
 *     constructor leaves *out NULL;
 *   - the same call on the same handles then succeeds and gives the bytes of
 *     a clean run (outputs, and the saved state of the handles involved), so
 *     the failure left the handle usable and unchanged;
 *   - nothing leaks (run under AddressSanitizer with detect_leaks=1).
 * Usage: test_alloc_fail [SCENARIO...] (none: all); --list prints the names.
 * Each scenario runs in a child process, so that one crashing scenario
 * (a use after free under ASan) does not hide the others' results. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "hosm.h"

#define D 3
#define N 5

typedef struct {
    hosm_config *cfg;
    hosm_model *model, *model2;
    hosm_trainer *trainer;
    hosm_sampler *sampler;
    hosm_mixture *mix;
    hosm_model *out_model;
    hosm_config *out_cfg;
    hosm_trainer *out_trainer;
    hosm_sampler *out_sampler;
    hosm_mixture *out_mix;
    uint8_t *blob; /* a saved model or checkpoint */
    int64_t blob_size;
    float x[N * D], v[N * D], z[N * D];
    int64_t levels[N];
    double loss;
    float out[16384];
    float out2[16384];
    double dout[N];
    char path[256];
    char dir[128];
} ctx;

typedef struct scenario {
    const char *name;
    const char *config; /* settings parsed over the config of the name's suffix, or NULL */
    int needs;          /* bits: what setup makes */
    int (*call)(ctx *c);
} scenario;

enum { MODEL = 1, TRAINER = 2, SAMPLER = 4, MIX = 8, MODEL_FILE = 16, CKPT_FILE = 32 };

static const char *cfg_none = "hidden=8 depth=2 levels=3 sigma_max=1 sigma_min=0.1 seed=3 "
                              "lr=0.01 batch=2 steps=4 clip=1 weight_decay=0.01 objective=dsm_vr "
                              "sampler=annealed sample_steps=3";
static const char *cfg_diag = "hidden=6 depth=1 s2=diag seed=4 lr=0.01 batch=2 steps=3";
static const char *cfg_lowrank = "hidden=6 depth=2 s2=lowrank rank=2 s2_hidden=5 levels=2 "
                                 "sigma_max=1 sigma_min=0.2 seed=5 lr=0.01 batch=2 steps=3 "
                                 "s2_objective=d2sm_vr";
static const char *cfg_full = "hidden=5 depth=1 s2=full s2_depth=2 seed=6 lr=0.01 batch=3 "
                              "steps=3 freeze_s1=1";

#define STR_(x) #x

/* ---- calls ---------------------------------------------------------------- */
static int c_config_new(ctx *c) { return hosm_config_new(&c->out_cfg); }
static int c_config_parse(ctx *c) { return hosm_config_parse(c->cfg, "hidden=16 s2=diag lr=0.5"); }
static int c_model_new(ctx *c) { return hosm_model_new(&c->out_model, D, c->cfg); }
static int c_model_get_config(ctx *c) { return hosm_model_get_config(c->model, c->cfg); }
static int c_score(ctx *c) { return hosm_model_score(c->model, 1, c->x, N, c->out); }
static int c_denoise(ctx *c) { return hosm_model_denoise(c->model, 0, c->x, N, c->out); }
static int c_jac(ctx *c) { return hosm_model_score_jacobian(c->model, 0, c->x, N, 1, c->out); }
static int c_jac_diag(ctx *c) { return hosm_model_score_jacobian_diag(c->model, 0, c->x, N, c->out); }
static int c_hess(ctx *c) { return hosm_model_hessian(c->model, 0, c->x, N, c->out); }
static int c_estimate(ctx *c)
{
    return hosm_model_hessian_estimate(c->model, 0, c->x, N, HOSM_HESSIAN_AVERAGE, c->out);
}
static int c_hess_diag(ctx *c) { return hosm_model_hessian_diag(c->model, 0, c->x, N, c->out); }
static int c_factors(ctx *c) { return hosm_model_hessian_factors(c->model, 0, c->x, N, c->out, c->out2); }
static int c_hvp(ctx *c) { return hosm_model_hvp(c->model, 0, c->x, c->v, N, c->out); }
static int c_pcov(ctx *c) { return hosm_model_posterior_cov(c->model, 0, c->x, N, 1, c->out); }
static int c_pvar(ctx *c) { return hosm_model_posterior_var(c->model, 0, c->x, N, 1, c->out); }
static int c_topk(ctx *c) { return hosm_model_posterior_topk(c->model, 0, c->x, N, 2, 1, c->out, c->out2); }
static int c_model_save(ctx *c) { return hosm_model_save(c->model, c->path); }
static int c_model_load(ctx *c) { return hosm_model_load(&c->out_model, c->path); }
static int c_model_save_mem(ctx *c) { return hosm_model_save_mem(c->model, c->out, sizeof c->out, NULL); }
static int c_model_load_mem(ctx *c) { return hosm_model_load_mem(&c->out_model, c->blob, c->blob_size); }
static int c_trainer_new(ctx *c) { return hosm_trainer_new(&c->out_trainer, c->model, c->cfg); }
static int c_step(ctx *c) { return hosm_trainer_step(c->trainer, c->x, N, &c->loss); }
static int c_fit(ctx *c) { return hosm_trainer_fit(c->trainer, c->x, N, NULL, NULL); }
static int c_gradient(ctx *c)
{
    return hosm_trainer_gradient(c->trainer, c->x, c->z, c->levels, N, &c->loss, c->out);
}
static int c_copy_ema(ctx *c) { return hosm_trainer_copy_ema(c->trainer, c->model2); }
static int c_trainer_save(ctx *c) { return hosm_trainer_save(c->trainer, c->path); }
static int c_trainer_load(ctx *c) { return hosm_trainer_load(c->trainer, c->path); }
static int c_trainer_save_mem(ctx *c) { return hosm_trainer_save_mem(c->trainer, c->out, sizeof c->out, NULL); }
static int c_trainer_load_mem(ctx *c) { return hosm_trainer_load_mem(c->trainer, c->blob, c->blob_size); }
static int c_sampler_new(ctx *c) { return hosm_sampler_new(&c->out_sampler, c->model, c->cfg); }
static int c_sampler_run(ctx *c)
{
    memcpy(c->out, c->x, sizeof c->x);
    return hosm_sampler_run(c->sampler, c->out, N, NULL, NULL);
}
static const double mix_w[2] = {0.3, 0.7};
static const double mix_mu[2 * D] = {0, 0, 0, 1, -1, 0.5};
static const double mix_cov[2 * D * D] = {1, 0.2, 0, 0.2, 1, 0, 0, 0, 2, 0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5};
static int c_mix_new(ctx *c) { return hosm_mixture_new(&c->out_mix, 2, D, mix_w, mix_mu, mix_cov); }
static int c_mix_sample(ctx *c) { return hosm_mixture_sample(c->mix, 11, N, c->out); }
static int c_mix_logd(ctx *c) { return hosm_mixture_log_density(c->mix, 0.3, c->x, N, c->dout); }
static int c_mix_score(ctx *c) { return hosm_mixture_score(c->mix, 0.3, c->x, N, c->out); }
static int c_mix_hess(ctx *c) { return hosm_mixture_hessian(c->mix, 0.3, c->x, N, c->out); }
static int c_mix_pmean(ctx *c) { return hosm_mixture_posterior_mean(c->mix, 0.3, c->x, N, c->out); }
static int c_mix_pcov(ctx *c) { return hosm_mixture_posterior_cov(c->mix, 0.3, c->x, N, c->out); }

#define S(name, cfg, needs, fn) {name, cfg, needs, fn}
static const scenario scenarios[] = {
    S("config_new", NULL, 0, c_config_new),
    S("config_parse", NULL, 0, c_config_parse),
    S("model_new", NULL, 0, c_model_new),
    S("model_new_diag", NULL, 0, c_model_new),
    S("model_new_lowrank", NULL, 0, c_model_new),
    S("model_new_full", NULL, 0, c_model_new),
    S("model_get_config", NULL, MODEL, c_model_get_config),
    S("model_score", NULL, MODEL, c_score),
    S("model_denoise", NULL, MODEL, c_denoise),
    S("model_score_jacobian", NULL, MODEL, c_jac),
    S("model_score_jacobian_diag", NULL, MODEL, c_jac_diag),
    S("model_hessian_diag", NULL, MODEL, c_hess),
    S("model_hessian_lowrank", NULL, MODEL, c_hess),
    S("model_hessian_full", NULL, MODEL, c_hess),
    S("model_hessian_estimate_lowrank", NULL, MODEL, c_estimate),
    S("model_hessian_diag_lowrank", NULL, MODEL, c_hess_diag),
    S("model_hessian_factors_lowrank", NULL, MODEL, c_factors),
    S("model_hvp_lowrank", NULL, MODEL, c_hvp),
    S("model_hvp_full", NULL, MODEL, c_hvp),
    S("model_posterior_cov_full", NULL, MODEL, c_pcov),
    S("model_posterior_var_lowrank", NULL, MODEL, c_pvar),
    S("model_posterior_topk_diag", NULL, MODEL, c_topk),
    S("model_posterior_topk_lowrank", NULL, MODEL, c_topk),
    S("model_posterior_topk_full", NULL, MODEL, c_topk),
    S("model_save", NULL, MODEL, c_model_save),
    S("model_save_mem", NULL, MODEL, c_model_save_mem),
    S("model_load", NULL, MODEL_FILE, c_model_load),
    S("model_load_lowrank", NULL, MODEL_FILE, c_model_load),
    S("model_load_mem", NULL, MODEL_FILE, c_model_load_mem),
    S("trainer_new", NULL, MODEL, c_trainer_new),
    S("trainer_step", NULL, TRAINER, c_step),
    S("trainer_step_diag", NULL, TRAINER, c_step),
    S("trainer_step_lowrank", NULL, TRAINER, c_step),
    S("trainer_step_full", NULL, TRAINER, c_step),
    S("trainer_fit", NULL, TRAINER, c_fit),
    S("trainer_fit_lowrank", NULL, TRAINER, c_fit),
    S("trainer_gradient", NULL, TRAINER, c_gradient),
    S("trainer_gradient_lowrank", NULL, TRAINER, c_gradient),
    S("trainer_copy_ema", NULL, TRAINER, c_copy_ema),
    S("trainer_save", NULL, TRAINER, c_trainer_save),
    S("trainer_save_mem", NULL, TRAINER, c_trainer_save_mem),
    S("trainer_load", NULL, TRAINER | CKPT_FILE, c_trainer_load),
    S("trainer_load_lowrank", NULL, TRAINER | CKPT_FILE, c_trainer_load),
    S("trainer_load_mem", NULL, TRAINER | CKPT_FILE, c_trainer_load_mem),
    S("sampler_new", NULL, MODEL, c_sampler_new),
    S("sampler_run", NULL, SAMPLER, c_sampler_run),
    S("sampler_run_ozaki_average_lowrank", "sampler=ozaki hessian=average sample_steps=2",
      SAMPLER, c_sampler_run),
    S("mixture_new", NULL, 0, c_mix_new),
    S("mixture_sample", NULL, MIX, c_mix_sample),
    S("mixture_log_density", NULL, MIX, c_mix_logd),
    S("mixture_score", NULL, MIX, c_mix_score),
    S("mixture_hessian", NULL, MIX, c_mix_hess),
    S("mixture_posterior_mean", NULL, MIX, c_mix_pmean),
    S("mixture_posterior_cov", NULL, MIX, c_mix_pcov),
};
#define NUM_SCENARIOS ((int)(sizeof scenarios / sizeof scenarios[0]))

/* The config of a scenario follows from its name's structure suffix. */
static const char *config_of(const char *name)
{
    if (strstr(name, "lowrank"))
        return cfg_lowrank;
    if (strstr(name, "full"))
        return cfg_full;
    if (strstr(name, "diag") && strcmp(name, "model_score_jacobian_diag") != 0)
        return cfg_diag;
    return cfg_none;
}

static int failures;
static char base_dir[128]; /* made by main, removed by main */
#define FAILF(...)                                                                         \
    do {                                                                                   \
        printf("FAIL %s: ", sc->name);                                                     \
        printf(__VA_ARGS__);                                                               \
        printf("\n");                                                                      \
        failures++;                                                                        \
    } while (0)

static void must(int st, const char *what)
{
    if (st != HOSM_OK) {
        printf("FATAL setup %s: %d %s\n", what, st, hosm_last_errmsg());
        exit(1);
    }
}

static void setup(const scenario *sc, ctx *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N * D; i++) {
        c->x[i] = (float)((i * 7) % 11) * 0.2f - 1.0f;
        c->v[i] = (float)((i * 3) % 5) * 0.3f - 0.6f;
        c->z[i] = (float)((i * 5) % 9) * 0.25f - 1.0f;
    }
    for (int i = 0; i < N; i++)
        c->levels[i] = 0;
    snprintf(c->dir, sizeof c->dir, "%s", base_dir);
    snprintf(c->path, sizeof c->path, "%s/file.hosm", c->dir);
    must(hosm_config_new(&c->cfg), "config");
    must(hosm_config_parse(c->cfg, config_of(sc->name)), "parse");
    if (sc->config)
        must(hosm_config_parse(c->cfg, sc->config), "parse");
    if (sc->needs & (MODEL | TRAINER | SAMPLER | MODEL_FILE)) {
        must(hosm_model_new(&c->model, D, c->cfg), "model");
        must(hosm_model_new(&c->model2, D, c->cfg), "model2");
    }
    if (sc->needs & TRAINER) {
        must(hosm_trainer_new(&c->trainer, c->model, c->cfg), "trainer");
    }
    if (sc->needs & SAMPLER)
        must(hosm_sampler_new(&c->sampler, c->model, c->cfg), "sampler");
    if (sc->needs & MIX)
        must(hosm_mixture_new(&c->mix, 2, D, mix_w, mix_mu, mix_cov), "mixture");
    if (sc->needs & (MODEL_FILE | CKPT_FILE)) {
        if (sc->needs & CKPT_FILE) {
            must(hosm_trainer_step(c->trainer, c->x, N, NULL), "step");
            must(hosm_trainer_step(c->trainer, c->v, N, NULL), "step");
            must(hosm_trainer_save_size(c->trainer, &c->blob_size), "size");
        } else {
            must(hosm_model_save_size(c->model, &c->blob_size), "size");
        }
        c->blob = malloc((size_t)c->blob_size);
        if (!c->blob)
            exit(1);
        if (sc->needs & CKPT_FILE) {
            must(hosm_trainer_save_mem(c->trainer, c->blob, c->blob_size, NULL), "save");
            must(hosm_trainer_save(c->trainer, c->path), "save");
            /* The loads restore this; make the trainer differ from it first. */
            must(hosm_trainer_step(c->trainer, c->z, N, NULL), "step");
        } else {
            must(hosm_model_save_mem(c->model, c->blob, c->blob_size, NULL), "save");
            must(hosm_model_save(c->model, c->path), "save");
        }
    }
}

/* Everything observable after the call: outputs and saved handle states. */
static size_t digest(ctx *c, uint8_t **out)
{
    size_t cap = sizeof c->out + sizeof c->out2 + sizeof c->dout + sizeof c->loss + 262144, n = 0;
    uint8_t *d = malloc(cap);
    if (!d)
        exit(1);
#define PUT(p, len)                        \
    do {                                   \
        if (n + (len) > cap)               \
            exit(1);                       \
        memcpy(d + n, (p), (len));         \
        n += (len);                        \
    } while (0)
    PUT(c->out, sizeof c->out);
    PUT(c->out2, sizeof c->out2);
    PUT(c->dout, sizeof c->dout);
    PUT(&c->loss, sizeof c->loss);
    hosm_model *ms[3] = {c->model, c->model2, c->out_model};
    for (int i = 0; i < 3; i++) {
        int64_t b;
        if (ms[i] && hosm_model_save_size(ms[i], &b) == HOSM_OK && n + (size_t)b <= cap &&
            hosm_model_save_mem(ms[i], d + n, b, NULL) == HOSM_OK)
            n += (size_t)b;
    }
    hosm_trainer *ts[2] = {c->trainer, c->out_trainer};
    for (int i = 0; i < 2; i++) {
        int64_t b;
        if (ts[i] && hosm_trainer_save_size(ts[i], &b) == HOSM_OK && n + (size_t)b <= cap &&
            hosm_trainer_save_mem(ts[i], d + n, b, NULL) == HOSM_OK)
            n += (size_t)b;
    }
    if (c->cfg)
        for (int k = 1; k < 64; k++) {
            int type;
            int64_t iv = 0;
            double dv = 0;
            if (hosm_config_key_type(k, &type) != HOSM_OK)
                continue;
            if (type == HOSM_TYPE_INT)
                hosm_config_get_int(c->cfg, k, &iv);
            else
                hosm_config_get_double(c->cfg, k, &dv);
            PUT(&iv, sizeof iv);
            PUT(&dv, sizeof dv);
        }
    FILE *f = fopen(c->path, "rb");
    if (f) {
        n += fread(d + n, 1, cap - n, f);
        fclose(f);
    }
    if (c->mix) {
        int64_t dim;
        hosm_mixture_dim(c->mix, &dim);
        PUT(&dim, sizeof dim);
    }
    *out = d;
    return n;
}

static void teardown(ctx *c)
{
    hosm_sampler_free(c->sampler);
    hosm_sampler_free(c->out_sampler);
    hosm_trainer_free(c->trainer);
    hosm_trainer_free(c->out_trainer);
    hosm_model_free(c->model);
    hosm_model_free(c->model2);
    hosm_model_free(c->out_model);
    hosm_mixture_free(c->mix);
    hosm_mixture_free(c->out_mix);
    hosm_config_free(c->cfg);
    hosm_config_free(c->out_cfg);
    free(c->blob);
    unlink(c->path);
}

/* Constructors' outputs are freed before the re-run, which makes them anew. */
static void drop_outputs(ctx *c)
{
    hosm_model_free(c->out_model);
    hosm_config_free(c->out_cfg);
    hosm_trainer_free(c->out_trainer);
    hosm_sampler_free(c->out_sampler);
    hosm_mixture_free(c->out_mix);
    c->out_model = NULL;
    c->out_cfg = NULL;
    c->out_trainer = NULL;
    c->out_sampler = NULL;
    c->out_mix = NULL;
}

static int outputs_null(const ctx *c)
{
    return !c->out_model && !c->out_cfg && !c->out_trainer && !c->out_sampler && !c->out_mix;
}

/* Returns the number of allocation sites (k values that failed). */
static int64_t run_scenario(const scenario *sc)
{
    ctx *c = malloc(sizeof *c);
    if (!c)
        exit(1);
    /* The clean run. */
    setup(sc, c);
    fault_alloc_arm(0);
    int st = sc->call(c);
    if (st != HOSM_OK) {
        FAILF("the clean run returned %d (%s): %s", st, hosm_strerror(st), hosm_last_errmsg());
        teardown(c);
        free(c);
        return 0;
    }
    uint8_t *ref;
    size_t nref = digest(c, &ref);
    teardown(c);
    int64_t k;
    for (k = 1; k < 1000000; k++) {
        setup(sc, c);
        fault_alloc_arm(k);
        st = sc->call(c);
        int failed = fault_alloc_failed();
        fault_alloc_arm(0);
        if (!failed) { /* the call made fewer than k allocations: done */
            if (st != HOSM_OK)
                FAILF("k = %lld: no allocation failed, but the call returned %d", (long long)k,
                      st);
            teardown(c);
            break;
        }
        if (st != HOSM_E_NOMEM) {
            FAILF("k = %lld: the failing allocation gave status %d (%s), not HOSM_E_NOMEM: %s",
                  (long long)k, st, hosm_strerror(st), hosm_last_errmsg());
        } else if (!hosm_last_errmsg()[0]) {
            FAILF("k = %lld: HOSM_E_NOMEM without a message", (long long)k);
        }
        if (!outputs_null(c))
            FAILF("k = %lld: a failed constructor left its output set", (long long)k);
        drop_outputs(c);
        st = sc->call(c);
        if (st != HOSM_OK) {
            FAILF("k = %lld: the call after the failure returned %d: %s", (long long)k, st,
                  hosm_last_errmsg());
        } else {
            uint8_t *got;
            size_t ngot = digest(c, &got);
            if (ngot != nref || memcmp(got, ref, nref) != 0)
                FAILF("k = %lld: after the failure the call gives other results than a clean "
                      "run (the failure changed the handle's state)",
                      (long long)k);
            free(got);
        }
        teardown(c);
        if (failures > 20)
            break;
    }
    free(ref);
    free(c);
    return k - 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < NUM_SCENARIOS; i++)
            printf("%s\n", scenarios[i].name);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(base_dir, sizeof base_dir, "%s/hosm-allocfail-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base_dir)) {
        printf("FATAL mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    char leftover[256];
    snprintf(leftover, sizeof leftover, "%s/file.hosm", base_dir);
    int bad = 0, ran = 0;
    int64_t sites = 0;
    for (int i = 0; i < NUM_SCENARIOS; i++) {
        const scenario *sc = &scenarios[i];
        int wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], sc->name) == 0;
        if (!wanted)
            continue;
        ran++;
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            int64_t n = run_scenario(sc);
            if (write(fds[1], &n, sizeof n) != sizeof n)
                _exit(3);
            exit(failures ? 1 : 0); /* exit, not _exit: LeakSanitizer runs at exit */
        }
        close(fds[1]);
        int64_t n = -1;
        if (read(fds[0], &n, sizeof n) != sizeof n)
            n = -1;
        close(fds[0]);
        int ws;
        waitpid(pid, &ws, 0);
        int ok = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
        if (n >= 0)
            sites += n;
        printf("%-4s %-32s %lld allocation sites failed in turn%s\n", ok ? "ok" : "FAIL",
               sc->name, (long long)n,
               ok ? "" : WIFSIGNALED(ws) ? " (killed by a signal)" : " (see above)");
        bad += !ok;
    }
    unlink(leftover); /* a scenario that crashed did not clean up */
    rmdir(base_dir);
    if (!ran) {
        printf("no such scenario (--list)\n");
        return 2;
    }
    printf("%d scenarios, %d failed, %lld allocation failures injected in all\n", ran, bad,
           (long long)sites);
    return bad ? 1 : 0;
}
