/* libFuzzer target: checkpoint loading from memory (hosm_trainer_load_mem)
 * or, built with -DFUZZ_VIA_FILE, from a file (hosm_trainer_load).
 *
 * Each input is loaded into one trainer per architecture of fuzz_archs (the
 * seed corpus holds a checkpoint of each). Expectations (a violation aborts):
 * no crash, leak or undefined behaviour; a load returns one of the statuses
 * of fuzz_load_status_ok(); a failed load leaves the trainer's checkpoint
 * (weights, moments, step, RNG, EMA) byte for byte as it was; after a
 * successful load a training step returns HOSM_OK or HOSM_E_NONFINITE, and
 * the checkpoint the trainer then writes loads again. */
#include "fuzz_common.h"

typedef struct {
    hosm_model *model;
    hosm_trainer *trainer;
    uint8_t *snapshot; /* the trainer's checkpoint before each input */
    int64_t bytes;
    float batch[4 * 8];
} slot;

static slot slots[FUZZ_NUM_ARCHS];

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (int i = 0; i < FUZZ_NUM_ARCHS; i++) {
        slot *s = &slots[i];
        char text[512];
        snprintf(text, sizeof text, "%s%s", fuzz_archs[i].config, FUZZ_TRAINER_CONFIG);
        hosm_config *cfg;
        if (hosm_config_new(&cfg) || hosm_config_parse(cfg, text) ||
            hosm_model_new(&s->model, fuzz_archs[i].dim, cfg) ||
            hosm_trainer_new(&s->trainer, s->model, cfg))
            FUZZ_FAIL("setup of architecture %d", i);
        hosm_config_free(cfg);
        for (int k = 0; k < 4 * 8; k++)
            s->batch[k] = (float)((k * 7) % 5) * 0.25f - 0.5f;
        if (hosm_trainer_save_size(s->trainer, &s->bytes))
            FUZZ_FAIL("save_size");
        s->snapshot = malloc((size_t)s->bytes);
        if (!s->snapshot || hosm_trainer_save_mem(s->trainer, s->snapshot, s->bytes, NULL))
            FUZZ_FAIL("save_mem");
    }
}

static void check_unchanged(slot *s, int arch)
{
    uint8_t *now = malloc((size_t)s->bytes);
    if (!now || hosm_trainer_save_mem(s->trainer, now, s->bytes, NULL))
        FUZZ_FAIL("save_mem after a failed load");
    if (memcmp(now, s->snapshot, (size_t)s->bytes) != 0)
        FUZZ_FAIL("a failed load changed the state of trainer %d", arch);
    free(now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    uint8_t *buf = fuzz_patched_copy(data, size);
#ifdef FUZZ_VIA_FILE
    fuzz_write_file(buf, size);
#endif
    for (int i = 0; i < FUZZ_NUM_ARCHS; i++) {
        slot *s = &slots[i];
#ifdef FUZZ_VIA_FILE
        int st = hosm_trainer_load(s->trainer, fuzz_file_path());
#else
        int st = hosm_trainer_load_mem(s->trainer, buf, (int64_t)size);
#endif
        if (!fuzz_load_status_ok(st))
            FUZZ_FAIL("trainer %d: load returned %d (%s)", i, st, hosm_strerror(st));
        if (st != HOSM_OK) {
            check_unchanged(s, i);
            continue;
        }
        double loss;
        st = hosm_trainer_step(s->trainer, s->batch, 4, &loss);
        if (st != HOSM_OK && st != HOSM_E_NONFINITE)
            FUZZ_FAIL("trainer %d: a step after a successful load returned %d", i, st);
        int64_t bytes;
        if (hosm_trainer_save_size(s->trainer, &bytes) || bytes != s->bytes)
            FUZZ_FAIL("trainer %d: checkpoint size changed", i);
        uint8_t *ck = malloc((size_t)bytes);
        if (!ck || hosm_trainer_save_mem(s->trainer, ck, bytes, NULL))
            FUZZ_FAIL("trainer %d: save_mem after a step", i);
        st = hosm_trainer_load_mem(s->trainer, ck, bytes);
        if (st != HOSM_OK)
            FUZZ_FAIL("trainer %d: a checkpoint the library wrote after a step is rejected (%d)",
                      i, st);
        free(ck);
        /* Back to the reference state for the next input. */
        if (hosm_trainer_load_mem(s->trainer, s->snapshot, s->bytes))
            FUZZ_FAIL("trainer %d: restoring the reference checkpoint", i);
    }
    free(buf);
    return 0;
}
