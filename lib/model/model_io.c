/* Model files: the ARCH, PRM1, S2NT and CNFG sections (docs/format.md),
 * shared with checkpoints, and the public save and load functions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "model/model.h"

#define TAG_ARCH HOSMI_TAG('A', 'R', 'C', 'H')
#define TAG_PRM1 HOSMI_TAG('P', 'R', 'M', '1')
#define TAG_S2NT HOSMI_TAG('S', '2', 'N', 'T')
#define TAG_CNFG HOSMI_TAG('C', 'N', 'F', 'G')

/* The settings' text is short (under 2 KiB with every key set): written
 * from a buffer of TEXT_CAP bytes; a section of SETTINGS_CAP or more is
 * corrupt. */
#define TEXT_CAP 4096
#define SETTINGS_CAP 65536

/* The CNFG section: the text form of the settings that differ from the file
 * base (hosmi_config_file_base). Written only when there is one, which needs
 * version 3. */
static void write_settings(hosmi_writer *w, const hosm_model *m)
{
    unsigned char arch[HOSMI_NUM_KEYS];
    for (int k = 0; k < HOSMI_NUM_KEYS; k++)
        arch[k] = (unsigned char)hosmi_is_arch_key(k);
    struct hosm_config base;
    hosmi_config_file_base(&base);
    char text[TEXT_CAP];
    const int64_t len = hosmi_config_text(&m->settings, &base, arch, text, sizeof text);
    if (len <= 0 || len >= (int64_t)sizeof text)
        return;
    hosmi_w_need_version(w, 3);
    hosmi_w_section(w, TAG_CNFG);
    hosmi_w_bytes(w, text, len);
    hosmi_w_section_end(w);
}

static void write_s2(hosmi_writer *w, const hosm_model *m);

void hosmi_model_write(hosmi_writer *w, const hosm_model *m)
{
    const hosmi_arch *a = &m->arch;
    hosmi_w_section(w, TAG_ARCH);
    hosmi_w_u64(w, (uint64_t)a->dim);
    hosmi_w_u64(w, (uint64_t)a->hidden);
    hosmi_w_u64(w, (uint64_t)a->depth);
    hosmi_w_u32(w, (uint32_t)a->act);
    /* Once a reserved zero: the parameterization, which needs version 4 for
     * an energy and 5 for a denoiser. */
    hosmi_w_u32(w, (uint32_t)a->param);
    if (a->param != HOSM_PARAM_SCORE)
        hosmi_w_need_version(w, a->param == HOSM_PARAM_DENOISER ? 5 : 4);
    hosmi_w_u64(w, (uint64_t)a->levels);
    hosmi_w_f64(w, a->sigma);
    hosmi_w_f64(w, a->sigma_max);
    hosmi_w_f64(w, a->sigma_min);
    hosmi_w_u64(w, (uint64_t)a->seed);
    hosmi_w_u64(w, (uint64_t)a->threads);
    hosmi_w_u64(w, (uint64_t)m->net.nparams);
    for (int64_t l = 0; l < a->levels; l++)
        hosmi_w_f64(w, m->sigmas[l]);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_PRM1);
    hosmi_w_f32s(w, m->params, m->net.nparams);
    hosmi_w_section_end(w);
    if (a->s2 != HOSM_S2_NONE)
        write_s2(w, m);
    write_settings(w, m);
}

static void write_s2(hosmi_writer *w, const hosm_model *m)
{
    const hosmi_arch *a = &m->arch;
    /* Files with an s2 network need a version 2 reader; others stay version 1. */
    hosmi_w_need_version(w, 2);
    hosmi_w_section(w, TAG_S2NT);
    hosmi_w_u32(w, (uint32_t)a->s2);
    /* Once a reserved zero: the s2 head, which needs version 6 for logvar. */
    hosmi_w_u32(w, (uint32_t)a->s2_head);
    if (a->s2_head != HOSM_S2_HEAD_LINEAR)
        hosmi_w_need_version(w, 6);
    hosmi_w_u64(w, (uint64_t)a->rank);
    hosmi_w_u64(w, (uint64_t)a->s2_hidden);
    hosmi_w_u64(w, (uint64_t)a->s2_depth);
    hosmi_w_u64(w, (uint64_t)m->net2.nparams);
    hosmi_w_f32s(w, hosmi_params2(m), m->net2.nparams);
    hosmi_w_section_end(w);
}

/* Reads the ARCH payload into a and the ladder into sigmas (L doubles,
 * checked against the payload size before the caller allocates). */
static int read_arch(hosmi_reader *r, hosmi_arch *a, uint64_t *nparams, char *msg)
{
    a->dim = (int64_t)hosmi_r_u64(r);
    a->hidden = (int64_t)hosmi_r_u64(r);
    a->depth = (int64_t)hosmi_r_u64(r);
    a->act = (int)hosmi_r_u32(r);
    uint32_t param = hosmi_r_u32(r);
    a->levels = (int64_t)hosmi_r_u64(r);
    a->sigma = hosmi_r_f64(r);
    a->sigma_max = hosmi_r_f64(r);
    a->sigma_min = hosmi_r_f64(r);
    a->seed = (int64_t)hosmi_r_u64(r);
    a->threads = (int64_t)hosmi_r_u64(r);
    *nparams = hosmi_r_u64(r);
    a->param = (int)(param <= HOSM_PARAM_DENOISER ? param : HOSM_PARAM_DENOISER + 1);
    a->s2 = HOSM_S2_NONE; /* until an S2NT section says otherwise */
    a->s2_head = HOSM_S2_HEAD_LINEAR;
    a->rank = 1;
    a->s2_hidden = a->s2_depth = 0;
    const int too_old = (param != 0 && r->version < 4) ||
                        (param == HOSM_PARAM_DENOISER && r->version < 5);
    if (r->bad || too_old || a->levels < 1 || a->levels != (r->size - r->pos) / 8 ||
        (r->size - r->pos) % 8 != 0)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed architecture section");
    return HOSM_OK;
}

static int read_sigmas(hosmi_reader *r, int64_t L, double *sigmas, char *msg)
{
    for (int64_t l = 0; l < L; l++) {
        double s = sigmas[l] = hosmi_r_f64(r);
        if (!(s > 0.0) || !isfinite(s) || (l > 0 && !(s < sigmas[l - 1])))
            r->bad = 1;
    }
    if (r->bad || r->pos != r->size)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed noise levels");
    return HOSM_OK;
}

static int read_s2_header(hosmi_reader *r, hosmi_arch *a, uint64_t *nparams2, char *msg)
{
    a->s2 = (int)hosmi_r_u32(r);
    uint32_t head = hosmi_r_u32(r);
    a->s2_head = head == HOSM_S2_HEAD_LOGVAR ? HOSM_S2_HEAD_LOGVAR : HOSM_S2_HEAD_LINEAR;
    a->rank = (int64_t)hosmi_r_u64(r);
    a->s2_hidden = (int64_t)hosmi_r_u64(r);
    a->s2_depth = (int64_t)hosmi_r_u64(r);
    *nparams2 = hosmi_r_u64(r);
    const int bad_head = head > HOSM_S2_HEAD_LOGVAR ||
                         (head == HOSM_S2_HEAD_LOGVAR && (r->version < 6 || a->s2 == HOSM_S2_FULL));
    if (r->bad || bad_head || a->s2 == HOSM_S2_NONE)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "malformed s2 section");
    return HOSM_OK;
}

/* The settings of a CNFG payload on top of m->settings (the file base):
 * printable text that parses as a config and sets no architecture key. */
static int read_settings(hosmi_reader *r, hosm_model *m, char *msg)
{
    const int64_t n = r->size - r->pos;
    if (n < 1 || n >= SETTINGS_CAP)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "a settings section of %lld bytes", (long long)n);
    char *text = malloc((size_t)n + 1);
    if (!text)
        return hosmi_fail(msg, HOSM_E_NOMEM, "out of memory");
    memcpy(text, r->p + r->pos, (size_t)n);
    text[n] = 0;
    int st = HOSM_OK;
    for (int64_t i = 0; i < n && !st; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            st = hosmi_fail(msg, HOSM_E_CORRUPT, "a settings section with byte 0x%02x",
                            (unsigned)(unsigned char)text[i]);
    const struct hosm_config *base = &m->settings;
    struct hosm_config cfg = *base;
    if (!st && hosm_config_parse(&cfg, text) != HOSM_OK)
        st = hosmi_fail(msg, HOSM_E_CORRUPT, "malformed settings: %s", cfg.errmsg);
    for (int k = 1; k < HOSMI_NUM_KEYS && !st; k++)
        if (hosmi_is_arch_key(k) && (cfg.ival[k] != base->ival[k] || cfg.dval[k] != base->dval[k]))
            st = hosmi_fail(msg, HOSM_E_CORRUPT, "an architecture key in the settings");
    free(text);
    if (!st)
        hosmi_model_set_settings(m, &cfg);
    return st;
}

typedef struct {
    hosmi_reader arch, prm1, s2, cnfg;
    int have; /* bits: 1 ARCH, 2 PRM1, 4 S2NT, 8 CNFG */
} model_sections;

/* Locates the model's sections; other sections go to extra. */
static int find_sections(hosmi_reader *r, uint32_t sections, model_sections *ms,
                         hosmi_section_fn extra, void *ctx, char *msg)
{
    memset(ms, 0, sizeof *ms);
    for (uint32_t s = 0; s < sections; s++) {
        uint32_t tag;
        hosmi_reader p;
        int bad = hosmi_r_section(r, &tag, &p);
        if (bad)
            return hosmi_fail(msg, HOSM_E_CORRUPT, "section %u %s", s,
                              bad == -2 ? "has a nonzero reserved field" : "overruns the data");
        int bit = tag == TAG_ARCH   ? 1
                  : tag == TAG_PRM1 ? 2
                  : tag == TAG_S2NT ? 4
                  : tag == TAG_CNFG ? 8
                                    : 0;
        if ((bit == 4 && r->version < 2) || (bit == 8 && r->version < 3))
            return hosmi_fail(msg, HOSM_E_CORRUPT, "a%s section in a version %u file",
                              bit == 4 ? "n s2" : " settings", r->version);
        if (bit && !(ms->have & bit)) {
            ms->have |= bit;
            *(bit == 1 ? &ms->arch : bit == 2 ? &ms->prm1 : bit == 4 ? &ms->s2 : &ms->cnfg) = p;
            continue;
        }
        int st = extra && !bit ? extra(tag, &p, ctx, msg)
                               : hosmi_fail(msg, HOSM_E_CORRUPT,
                                            "unexpected section %u (tag 0x%08x)", s, tag);
        if (st)
            return st;
    }
    if ((ms->have & 3) != 3 || r->pos != r->size)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "missing or trailing sections");
    return HOSM_OK;
}

/* The declared architecture as a checked shape whose parameter counts match
 * the declared ones and the section sizes: nothing is allocated before the
 * file is known to hold what it declares. */
static int read_shape(model_sections *ms, hosm_model *shape, char *msg)
{
    hosmi_arch a;
    uint64_t n1, n2 = 0;
    int st = read_arch(&ms->arch, &a, &n1, msg);
    if (!st && (ms->have & 4))
        st = read_s2_header(&ms->s2, &a, &n2, msg);
    if (st)
        return st;
    char detail[HOSMI_MSG_CAP];
    if ((st = hosmi_model_shape(shape, &a, detail)) != HOSM_OK)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "invalid architecture: %s", detail);
    if (n1 != (uint64_t)shape->net.nparams || n2 != (uint64_t)shape->net2.nparams)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "parameter count does not match the architecture");
    if (ms->prm1.size != 4 * shape->net.nparams ||
        ((ms->have & 4) && ms->s2.size - ms->s2.pos != 4 * shape->net2.nparams))
        return hosmi_fail(msg, HOSM_E_CORRUPT,
                          "a parameter section's size does not match the architecture");
    return HOSM_OK;
}

int hosmi_model_read(hosmi_reader *r, uint32_t sections, hosm_model **out, hosmi_section_fn extra,
                     void *ctx, char *msg)
{
    model_sections ms;
    hosm_model shape, *m = NULL;
    int st = find_sections(r, sections, &ms, extra, ctx, msg);
    if (!st)
        st = read_shape(&ms, &shape, msg);
    if (!st)
        st = hosmi_model_alloc(&m, &shape, msg);
    if (!st)
        st = read_sigmas(&ms.arch, shape.arch.levels, m->sigmas, msg);
    if (!st) {
        hosmi_r_f32s(&ms.prm1, m->params, m->net.nparams);
        if (ms.have & 4)
            hosmi_r_f32s(&ms.s2, hosmi_params2(m), m->net2.nparams);
        if (!hosmi_all_finite(m->params, m->nparams))
            st = hosmi_fail(msg, HOSM_E_CORRUPT, "malformed parameter section");
    }
    if (!st) {
        struct hosm_config base;
        hosmi_config_file_base(&base);
        hosmi_model_set_settings(m, &base);
    }
    if (!st && (ms.have & 8))
        st = read_settings(&ms.cnfg, m, msg);
    if (st) {
        hosm_model_free(m);
        return st;
    }
    *out = m;
    return HOSM_OK;
}

static void encode_model(hosmi_writer *w, const void *model)
{
    hosmi_model_write(w, model);
}

int hosm_model_save_size(const hosm_model *model, int64_t *bytes)
{
    HOSMI_NEED_MODEL("hosm_model_save_size");
    if (!bytes)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_save_size: bytes is NULL");
    *bytes = hosmi_encoded_size(HOSMI_MAGIC_MODEL, encode_model, model);
    return HOSM_OK;
}

int hosm_model_save_mem(const hosm_model *model, void *buf, int64_t cap, int64_t *written)
{
    HOSMI_NEED_MODEL("hosm_model_save_mem");
    return hosmi_encode("hosm_model_save_mem", HOSMI_MAGIC_MODEL, encode_model, model, buf, cap,
                        written);
}

int hosm_model_save(const hosm_model *model, const char *path)
{
    HOSMI_NEED_MODEL("hosm_model_save");
    return hosmi_save("hosm_model_save", HOSMI_MAGIC_MODEL, encode_model, model, path);
}

int hosm_model_load_mem(hosm_model **out, const void *buf, int64_t size)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load_mem: out is NULL");
    *out = NULL;
    if (!buf)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load_mem: buf is NULL");
    if (size < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "hosm_model_load_mem: size %lld is negative",
                          (long long)size);
    char msg[HOSMI_MSG_CAP];
    hosmi_reader r;
    uint32_t sections;
    int st = hosmi_r_open(&r, buf, size, HOSMI_MAGIC_MODEL, &sections, msg);
    if (!st)
        st = hosmi_model_read(&r, sections, out, NULL, NULL, msg);
    if (st)
        return hosmi_fail(NULL, st, "hosm_model_load: %s", msg);
    return HOSM_OK;
}

int hosm_model_load(hosm_model **out, const char *path)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_model_load: path is NULL");
    void *buf;
    int64_t size;
    char msg[HOSMI_MSG_CAP];
    int st = hosmi_read_file(path, &buf, &size, msg);
    if (st)
        return hosmi_fail(NULL, st, "hosm_model_load: %s", msg);
    st = hosm_model_load_mem(out, buf, size);
    free(buf);
    return st;
}

const char *hosm_model_errmsg(const hosm_model *model)
{
    return hosmi_is_handle(model, HOSMI_HANDLE_MODEL) ? model->errmsg : "";
}
