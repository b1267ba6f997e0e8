/* Checkpoints: the model's sections plus the optimiser state (ADAM), the
 * EMA (EMA1) and the noise RNG (RNG1) (docs/format.md). Hyper-parameters
 * are not stored: they come from the restoring trainer's config. */
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "train/trainer.h"

#define TAG_ADAM HOSMI_TAG('A', 'D', 'A', 'M')
#define TAG_EMA1 HOSMI_TAG('E', 'M', 'A', '1')
#define TAG_RNG1 HOSMI_TAG('R', 'N', 'G', '1')

static void write_checkpoint(hosmi_writer *w, const void *obj)
{
    const hosm_trainer *t = obj;
    const int64_t P = t->model->nparams;
    hosmi_model_write(w, t->model);
    hosmi_w_section(w, TAG_ADAM);
    hosmi_w_u64(w, (uint64_t)t->state.step);
    hosmi_w_f32s(w, t->state.m, P);
    hosmi_w_f32s(w, t->state.v, P);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_EMA1);
    hosmi_w_f32s(w, t->state.ema, P);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_RNG1);
    for (int i = 0; i < 4; i++)
        hosmi_w_u64(w, t->rng.s[i]);
    hosmi_w_section_end(w);
}

int hosm_trainer_save_size(const hosm_trainer *t, int64_t *bytes)
{
    int st = hosmi_check_trainer(t, "hosm_trainer_save_size");
    if (st)
        return st;
    if (!bytes)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_trainer_save_size: bytes is NULL");
    *bytes = hosmi_encoded_size(HOSMI_MAGIC_CHECKPOINT, write_checkpoint, t);
    return HOSM_OK;
}

int hosm_trainer_save_mem(const hosm_trainer *t, void *buf, int64_t cap, int64_t *written)
{
    int st = hosmi_check_trainer(t, "hosm_trainer_save_mem");
    if (st)
        return st;
    return hosmi_encode("hosm_trainer_save_mem", HOSMI_MAGIC_CHECKPOINT, write_checkpoint, t, buf,
                        cap, written);
}

int hosm_trainer_save(const hosm_trainer *t, const char *path)
{
    int st = hosmi_check_trainer(t, "hosm_trainer_save");
    if (st)
        return st;
    return hosmi_save("hosm_trainer_save", HOSMI_MAGIC_CHECKPOINT, write_checkpoint, t, path);
}

/* Where the trainer sections of a checkpoint are read to, before commit. */
typedef struct {
    int64_t nparams, step;
    float *m, *v, *ema;
    uint64_t rng[4];
    int seen; /* bit per section */
} ckpt_state;

static int read_trainer_section(uint32_t tag, hosmi_reader *p, void *ctx, char *msg)
{
    ckpt_state *c = ctx;
    const int64_t P = c->nparams;
    int bit = tag == TAG_ADAM ? 1 : tag == TAG_EMA1 ? 2 : tag == TAG_RNG1 ? 4 : 0;
    if (!bit || (c->seen & bit))
        return hosmi_fail(msg, HOSM_E_CORRUPT, "unexpected section (tag 0x%08x)", tag);
    c->seen |= bit;
    int64_t expect = tag == TAG_ADAM ? 8 + 8 * P : tag == TAG_EMA1 ? 4 * P : 32;
    if (p->size != expect && tag == TAG_RNG1)
        return hosmi_fail(msg, HOSM_E_MISMATCH, "the checkpoint's RNG state has %lld bytes, not 32",
                          (long long)p->size);
    if (p->size != expect)
        return hosmi_fail(msg, HOSM_E_MISMATCH,
                          "the checkpoint's optimiser state holds %lld parameters, this trainer's "
                          "model has %lld", (long long)((p->size - (tag == TAG_ADAM ? 8 : 0)) /
                                                        (tag == TAG_ADAM ? 8 : 4)),
                          (long long)P);
    if (tag == TAG_ADAM) {
        c->step = (int64_t)hosmi_r_u64(p);
        hosmi_r_f32s(p, c->m, P);
        hosmi_r_f32s(p, c->v, P);
    } else if (tag == TAG_EMA1) {
        hosmi_r_f32s(p, c->ema, P);
    } else {
        for (int i = 0; i < 4; i++)
            c->rng[i] = hosmi_r_u64(p);
    }
    if (p->bad || c->step < 0 || c->step > HOSMI_MAX_STEP)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed trainer section");
    if (tag == TAG_RNG1 && !(c->rng[0] | c->rng[1] | c->rng[2] | c->rng[3]))
        return hosmi_fail(msg, HOSM_E_CORRUPT, "an all-zero RNG state");
    return HOSM_OK;
}

int hosm_trainer_load_mem(hosm_trainer *t, const void *buf, int64_t size)
{
    int st = hosmi_check_trainer(t, "hosm_trainer_load_mem");
    if (st)
        return st;
    if (!buf)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "hosm_trainer_load_mem: buf is NULL");
    if (size < 0)
        return hosmi_fail(t->errmsg, HOSM_E_ARG, "hosm_trainer_load_mem: size is negative");
    const int64_t P = t->model->nparams;
    ckpt_state c = {.nparams = P};
    c.m = hosmi_alloc(P, sizeof(float));
    c.v = hosmi_alloc(P, sizeof(float));
    c.ema = hosmi_alloc(P, sizeof(float));
    char msg[HOSMI_MSG_CAP];
    hosm_model *saved = NULL;
    hosmi_reader r;
    uint32_t sections;
    st = (!c.m || !c.v || !c.ema) ? hosmi_fail(msg, HOSM_E_NOMEM, "out of memory")
                                  : hosmi_r_open(&r, buf, size, HOSMI_MAGIC_CHECKPOINT,
                                                 &sections, msg);
    if (!st)
        st = hosmi_model_read(&r, sections, &saved, read_trainer_section, &c, msg);
    if (!st && c.seen != 7)
        st = hosmi_fail(msg, HOSM_E_CORRUPT, "a trainer section is missing");
    if (!st && !hosmi_same_arch(saved, t->model))
        st = hosmi_fail(msg, HOSM_E_MISMATCH, "the checkpoint is of another architecture");
    if (!st && (!hosmi_all_finite(c.m, P) || !hosmi_all_finite(c.v, P) ||
                !hosmi_all_finite(c.ema, P)))
        st = hosmi_fail(msg, HOSM_E_CORRUPT, "non-finite optimiser state");
    for (int64_t i = 0; !st && i < P; i++)
        if (c.v[i] < 0.0f)
            st = hosmi_fail(msg, HOSM_E_CORRUPT, "negative second moment in the optimiser state");
    if (!st) {
        memcpy(t->model->params, saved->params, (size_t)P * sizeof(float));
        memcpy(t->state.m, c.m, (size_t)P * sizeof(float));
        memcpy(t->state.v, c.v, (size_t)P * sizeof(float));
        memcpy(t->state.ema, c.ema, (size_t)P * sizeof(float));
        memcpy(t->rng.s, c.rng, sizeof c.rng);
        t->state.step = c.step;
    }
    hosm_model_free(saved);
    free(c.m);
    free(c.v);
    free(c.ema);
    if (st)
        return hosmi_fail(t->errmsg, st, "hosm_trainer_load: %s", msg);
    return HOSM_OK;
}

int hosm_trainer_load(hosm_trainer *t, const char *path)
{
    int st = hosmi_check_trainer(t, "hosm_trainer_load");
    if (st)
        return st;
    if (!path)
        return hosmi_fail(t->errmsg, HOSM_E_NULL, "hosm_trainer_load: path is NULL");
    void *buf;
    int64_t size;
    char msg[HOSMI_MSG_CAP];
    st = hosmi_read_file(path, &buf, &size, msg);
    if (st)
        return hosmi_fail(t->errmsg, st, "hosm_trainer_load: %s", msg);
    st = hosm_trainer_load_mem(t, buf, size);
    free(buf);
    return st;
}
