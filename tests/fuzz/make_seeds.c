/* Writes the seed corpora of tests/fuzz from files the library writes itself:
 *   DIR/model/<i>.hosm       a model of each architecture of fuzz_archs,
 *                            trained for three steps (hosm_model_save)
 *   DIR/checkpoint/<i>.hosm  the trainer's checkpoint after those steps
 *                            (hosm_trainer_save)
 *   DIR/config/<i>.txt       configuration texts
 * Usage: make_seeds DIR (the three subdirectories must exist). The committed
 * corpus in tests/fuzz/corpus was made this way. */
#include "fuzz_common.h"

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    for (int i = 0; i < FUZZ_NUM_ARCHS; i++) {
        char text[512];
        snprintf(text, sizeof text, "%s%s", fuzz_archs[i].config, FUZZ_TRAINER_CONFIG);
        hosm_config *cfg;
        hosm_model *m;
        hosm_trainer *t;
        int64_t D = fuzz_archs[i].dim;
        float batch[4 * 8];
        for (int k = 0; k < 4 * 8; k++)
            batch[k] = (float)((k * 5) % 7) * 0.2f - 0.6f;
        if (hosm_config_new(&cfg) || hosm_config_parse(cfg, text) || hosm_model_new(&m, D, cfg) ||
            hosm_trainer_new(&t, m, cfg)) {
            fprintf(stderr, "arch %d: %s\n", i, hosm_last_errmsg());
            return 1;
        }
        for (int s = 0; s < 3; s++)
            if (hosm_trainer_step(t, batch, 4, NULL)) {
                fprintf(stderr, "step: %s\n", hosm_last_errmsg());
                return 1;
            }
        snprintf(path, sizeof path, "%s/model/%d.hosm", argv[1], i);
        if (hosm_model_save(m, path))
            return fprintf(stderr, "%s\n", hosm_last_errmsg()), 1;
        snprintf(path, sizeof path, "%s/checkpoint/%d.hosm", argv[1], i);
        if (hosm_trainer_save(t, path))
            return fprintf(stderr, "%s\n", hosm_last_errmsg()), 1;
        snprintf(path, sizeof path, "%s/config/arch%d.txt", argv[1], i);
        put_text(path, text);
        hosm_trainer_free(t);
        hosm_model_free(m);
        hosm_config_free(cfg);
    }
    static const char *const texts[] = {
        "hidden=256 depth=2 act=softplus sigma=0.1",
        "levels=10 sigma_max=2.5e0 sigma_min=1e-3 sampler=annealed step_size=1e-4 sample_steps=50",
        ("objective=dsm_vr lr=3e-4 beta1=0.8 beta2=0.99 adam_eps=1e-6 weight_decay=0.01 clip=1 "
         "ema=0.99 batch=64 steps=100 epochs=2"),
        "s2=lowrank rank=8 s2_hidden=32 s2_depth=3 s2_objective=d2sm_vr w1=0.5 freeze_s1=1",
        "act=3 s2=2 seed=9223372036854775807 threads=4",
        "s2=lowrank rank=3 s2_head=logvar s2_objective=d2sm_res_nll nll_marginal=0.5 w1=2",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(path, sizeof path, "%s/config/text%zu.txt", argv[1], i);
        put_text(path, texts[i]);
    }
    return 0;
}
