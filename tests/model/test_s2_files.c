/* Model files of models with an s2 network, and the version-1 fixture.
 *
 * Usage: test_s2_files FIXTURE1 FIXTURE2 WORKDIR
 *   FIXTURE1 tests/model/data/model-v1.hosm, a model file written by libhosm at
 *            commit 50bcf99 (before s2 existed; see data/gen_model_v1.c),
 *            whose parameters, points and scores are in
 *            data/model_v1_expected.h
 *   FIXTURE2 tests/model/data/model-v2.hosm, a model with a diagonal s2
 *            written at commit 1d66e3b (before settings; data/gen_model_v2.c),
 *            with data/model_v2_expected.h
 *   WORKDIR  a writable directory for temporary files
 *
 * Checks (all exact: files hold the float parameters bit for bit, and a
 * loaded model runs the same code on the same weights):
 *  - for diag, lowrank (r = 2), lowrank (rank 9 > D, capped) and full, on a
 *    ladder of 2 levels with an s2 network shaped unlike s1: save to a path
 *    and to memory give the same bytes (and hosm_model_save_size); loading
 *    either gives bit-identical parameters, structure, rank, config keys and
 *    bit-identical hessian and score outputs at both levels; format version
 *    (bytes 8..11) 2, and 1 for the same model without s2;
 *  - (the resume of a trainer checkpoint with s2 is in
 *    tests/train/test_checkpoints.c);
 *  - the version-1 fixture loads with this library: version field 1, no s2,
 *    the stored parameters, and exactly the scores the old library computed
 *    (the s1 code path is unchanged since then, so this holds on one machine
 *    and BLIS build; data/gen_model_v1.c regenerates the fixture elsewhere);
 *    saving it again reproduces the fixture byte for byte;
 *  - corrupting the S2NT section gives HOSM_E_CORRUPT: a changed parameter
 *    byte (CRC left stale), and with the CRC-32 recomputed: an unknown
 *    structure (7), structure 0 (none), a head of 2 (unknown), a wrong
 *    parameter count, a wrong rank, a wrong s2 width, a NaN parameter; the
 *    same S2NT section in a file whose version field says 1 -> HOSM_E_CORRUPT;
 *    version 7 -> HOSM_E_VERSION; a diagonal s2 with the log-variance head
 *    round-trips as version 6, and is HOSM_E_CORRUPT in a version-5 file or
 *    on a full s2. Every failure leaves *out NULL and a
 *    non-empty hosm_last_errmsg();
 *  - the version-2 fixture loads with default settings (but raw_head=0 and
 *    s2_objective=d2sm, the file base's values of keys whose default
 *    changed): its parameters,
 *    scores and Hessian diagonals as the old library computed them, and
 *    re-saving reproduces it byte for byte;
 *  - settings: a model's settings (the config keys other than the
 *    architecture) survive save and load exactly, make the file version 3
 *    (with or without s2), follow the config of a trainer created on the
 *    model and hosm_model_set_config (which leaves the architecture alone);
 *  - corrupting the CNFG section gives HOSM_E_CORRUPT: a CNFG section in a
 *    version-2 file, an architecture key, an unknown key, a value out of
 *    range, a non-number, a control byte. */
#include "../test_util.h"
#include "../common/model_util.h"

#include "data/model_v1_expected.h"
#include "data/model_v2_expected.h"

#define D 3

static const char *workdir = ".";

static char *path_in(const char *name)
{
    static char buf[4][1024];
    static int next = 0;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", workdir, name);
    return p;
}

static hosm_config *base_config(int s2, int64_t rank)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    /* the settings of the file base, so that there are none to store */
    MUST(hosm_config_parse(cfg, "hidden=5 depth=2 act=silu levels=2 sigma_max=1 sigma_min=0.3 "
                                "s2_hidden=4 s2_depth=3 seed=17 " FILE_BASE));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_RANK, rank));
    return cfg;
}

static hosm_model *random_model(int s2, int64_t rank, int head, uint64_t seed)
{
    hosm_config *cfg = base_config(s2, rank);
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2_HEAD, head));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    int64_t P;
    MUST(hosm_model_num_params(m, &P));
    float *p = xmalloc((size_t)P * sizeof *p);
    trng r = {seed};
    for (int64_t i = 0; i < P; i++)
        p[i] = (float)trng_sym(&r, 0.8);
    MUST(hosm_model_set_params(m, p, P));
    free(p);
    return m;
}

static void check_roundtrip(int s2, int64_t rank, int head, const char *name)
{
    hosm_model *m = random_model(s2, rank, head, 1234u + (uint64_t)(s2 * 10 + rank));
    int64_t size, written;
    MUST(hosm_model_save_size(m, &size));
    uint8_t *buf = xmalloc((size_t)size);
    MUST(hosm_model_save_mem(m, buf, size, &written));
    CHECK(written == size, "%s: save_mem wrote %lld, save_size %lld", name, (long long)written,
          (long long)size);
    const char *path = path_in("s2_files_model.hosm");
    MUST(hosm_model_save(m, path));
    int64_t fsize;
    uint8_t *fbuf = read_all(path, &fsize);
    CHECK(fsize == size && memcmp(fbuf, buf, (size_t)size) == 0,
          "%s: the file differs from the memory image", name);
    const uint32_t version = (uint32_t)get_le(buf + 8, 4);
    const uint32_t expect = s2 == HOSM_S2_NONE ? 1u : head == HOSM_S2_HEAD_LOGVAR ? 6u : 2u;
    CHECK(version == expect, "%s: format version %u, expected %u", name, version, expect);
    hosm_model *a, *b;
    MUST(hosm_model_load(&a, path));
    MUST(hosm_model_load_mem(&b, buf, size));
    char tag[96];
    snprintf(tag, sizeof tag, "%s (via path)", name);
    CHECK(same_model(m, a, tag), "%s: round trip through a file is not exact", name);
    snprintf(tag, sizeof tag, "%s (via memory)", name);
    CHECK(same_model(m, b, tag), "%s: round trip through memory is not exact", name);
    /* A loaded model saves to the same bytes. */
    uint8_t *buf2 = xmalloc((size_t)size);
    MUST(hosm_model_save_mem(b, buf2, size, NULL));
    CHECK(memcmp(buf, buf2, (size_t)size) == 0, "%s: re-saving changes the bytes", name);
    printf("ok   %-12s %lld bytes, version %u: path and memory round trips exact\n", name,
           (long long)size, version);
    remove(path);
    free(buf);
    free(buf2);
    free(fbuf);
    hosm_model_free(m);
    hosm_model_free(a);
    hosm_model_free(b);
}

/* --- the version-1 fixture --- */

static void check_v1(const char *fixture)
{
    int64_t size;
    uint8_t *buf = read_all(fixture, &size);
    CHECK(get_le(buf + 8, 4) == 1, "fixture: version field %u, expected 1",
          (unsigned)get_le(buf + 8, 4));
    CHECK(get_le(buf + size - 4, 4) == crc32_ieee(buf, (size_t)(size - 4)),
          "fixture: the test's CRC-32 disagrees with the file's");
    hosm_model *m = NULL;
    int st = hosm_model_load(&m, fixture);
    CHECK(st == HOSM_OK, "fixture: load returned %d (%s)", st, hosm_last_errmsg());
    if (st != HOSM_OK) {
        free(buf);
        return;
    }
    int s2;
    int64_t r, P, L, dim;
    MUST(hosm_model_s2_structure(m, &s2, &r));
    MUST(hosm_model_num_params(m, &P));
    MUST(hosm_model_num_levels(m, &L));
    MUST(hosm_model_dim(m, &dim));
    CHECK(s2 == HOSM_S2_NONE && r == 0, "fixture: structure %d rank %lld", s2, (long long)r);
    CHECK(P == V1_NPARAMS && L == V1_LEVELS && dim == V1_DIM,
          "fixture: P %lld L %lld D %lld, expected %d %d %d", (long long)P, (long long)L,
          (long long)dim, V1_NPARAMS, V1_LEVELS, V1_DIM);
    if (P == V1_NPARAMS && L == V1_LEVELS && dim == V1_DIM) {
        float p[V1_NPARAMS], s[V1_NPTS * V1_DIM];
        MUST(hosm_model_get_params(m, p, P));
        CHECK(memcmp(p, v1_params, sizeof p) == 0, "fixture: parameters differ");
        /* The parameters are bit-identical (above); the scores agree with the
         * old library's to the activations' float rounding: since the
         * vectorised kernels (docs/performance.md, a few ulps from libm)
         * they are no longer computed by the same operations. */
        int64_t mism = 0;
        for (int64_t l = 0; l < L; l++) {
            MUST(hosm_model_score(m, l, v1_points, V1_NPTS, s));
            for (int i = 0; i < V1_NPTS * V1_DIM; i++)
                mism += !(fabsf(s[i] - v1_scores[l][i]) <= 1e-5f * (1.0f + fabsf(v1_scores[l][i])));
        }
        CHECK(mism == 0, "fixture: %lld of %d scores differ from the old library's by more than "
              "1e-5 relative", (long long)mism, (int)(L * V1_NPTS * V1_DIM));
        int fails_before = g_failures;
        /* Save again: the same bytes (still version 1). */
        int64_t size2;
        MUST(hosm_model_save_size(m, &size2));
        uint8_t *b2 = xmalloc((size_t)size2);
        MUST(hosm_model_save_mem(m, b2, size2, NULL));
        CHECK(size2 == size && memcmp(b2, buf, (size_t)size) == 0,
              "fixture: re-saving does not reproduce the version-1 file");
        free(b2);
        if (g_failures == fails_before)
            printf("ok   v1 fixture: loads, parameters and %lld scores exact, re-save identical\n",
                   (long long)(L * V1_NPTS * V1_DIM));
    }
    hosm_model_free(m);
    free(buf);
}

/* --- corrupting the s2 section --- */

/* Offset of the payload of the section with the given tag, or -1. */
static int64_t find_section(const uint8_t *buf, int64_t size, const char *tag, uint64_t *len)
{
    int64_t pos = 24;
    uint32_t count = (uint32_t)get_le(buf + 12, 4);
    for (uint32_t s = 0; s < count && pos + 16 <= size; s++) {
        uint64_t n = get_le(buf + pos + 8, 8);
        if (memcmp(buf + pos, tag, 4) == 0) {
            *len = n;
            return pos + 16;
        }
        pos += 16 + (int64_t)n;
    }
    return -1;
}

static void expect_load(const uint8_t *buf, int64_t size, int want, const char *what)
{
    hosm_model *m = (hosm_model *)&m; /* not NULL: the loader must reset it */
    int st = hosm_model_load_mem(&m, buf, size);
    const char *msg = hosm_last_errmsg();
    const int out_ok = want == HOSM_OK ? m != NULL : m == NULL && msg[0] != 0;
    CHECK(st == want && out_ok, "%s: status %d (%s), expected %d; out %s; message '%s'", what, st,
          hosm_strerror(st), want, m ? "not NULL" : "NULL", msg);
    if (st == want)
        printf("ok   %-58s -> %s: %s\n", what, hosm_strerror(st), msg);
    if (st == HOSM_OK)
        hosm_model_free(m);
}

/* The saved bytes of m into *good, a buffer of the same size into *b, and
 * the offset of the S2NT payload (its length into *len). */
static int64_t saved_s2(const hosm_model *m, int64_t *size, uint8_t **good, uint8_t **b,
                        uint64_t *len)
{
    MUST(hosm_model_save_size(m, size));
    *good = xmalloc((size_t)*size);
    *b = xmalloc((size_t)*size);
    MUST(hosm_model_save_mem(m, *good, *size, NULL));
    return find_section(*good, *size, "S2NT", len);
}

static void check_corrupt(void)
{
    hosm_model *m = random_model(HOSM_S2_LOWRANK, 2, HOSM_S2_HEAD_LINEAR, 999);
    int64_t size;
    uint8_t *good, *b;
    uint64_t len;
    const int64_t s2 = saved_s2(m, &size, &good, &b, &len);
    CHECK(s2 > 0 && len > 40, "no S2NT section found");
    if (!(s2 > 0 && len > 40))
        return;
    /* Unchanged: loads (the test's CRC agrees with the library's). */
    memcpy(b, good, (size_t)size);
    fix_crc(b, size);
    CHECK(memcmp(b, good, (size_t)size) == 0, "the test's CRC-32 differs from the library's");
    expect_load(b, size, HOSM_OK, "unchanged file");

    memcpy(b, good, (size_t)size);
    b[s2 + 40 + 5] ^= 0x10; /* a parameter byte, CRC stale */
    expect_load(b, size, HOSM_E_CORRUPT, "S2NT parameter byte changed, CRC not updated");

    struct {
        int64_t off;
        int bytes;
        uint64_t value;
        const char *what;
    } edits[] = {
        {0, 4, 7, "S2NT structure 7 (unknown), CRC fixed"},
        {0, 4, 0, "S2NT structure 0 (none), CRC fixed"},
        {4, 4, 2, "S2NT head 2 (unknown), CRC fixed"},
        {8, 8, 1, "S2NT rank 1 instead of 2, CRC fixed"},
        {16, 8, 5, "S2NT s2_hidden 5 instead of 4, CRC fixed"},
        {32, 8, 0, "S2NT parameter count 0, CRC fixed"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(b, good, (size_t)size);
        put_le(b + s2 + edits[i].off, edits[i].value, edits[i].bytes);
        fix_crc(b, size);
        expect_load(b, size, HOSM_E_CORRUPT, edits[i].what);
    }
    memcpy(b, good, (size_t)size);
    put_le(b + s2 + 32, get_le(b + s2 + 32, 8) + 1, 8);
    fix_crc(b, size);
    expect_load(b, size, HOSM_E_CORRUPT, "S2NT parameter count + 1, CRC fixed");
    memcpy(b, good, (size_t)size);
    put_le(b + s2 + 40 + 4 * 3, 0x7fc00000u, 4); /* NaN */
    fix_crc(b, size);
    expect_load(b, size, HOSM_E_CORRUPT, "S2NT NaN parameter, CRC fixed");
    /* An s2 section in a file that says version 1. */
    memcpy(b, good, (size_t)size);
    put_le(b + 8, 1, 4);
    fix_crc(b, size);
    expect_load(b, size, HOSM_E_CORRUPT, "S2NT in a version-1 file, CRC fixed");
    memcpy(b, good, (size_t)size);
    put_le(b + 8, 7, 4);
    fix_crc(b, size);
    expect_load(b, size, HOSM_E_VERSION, "version 7, CRC fixed");
    free(good);
    free(b);
    hosm_model_free(m);
}

/* A log-variance head needs a version-6 reader and a diagonal s2. */
static void check_logvar_corrupt(void)
{
    hosm_model *m = random_model(HOSM_S2_DIAG, 1, HOSM_S2_HEAD_LOGVAR, 77);
    int64_t size;
    uint8_t *good, *b;
    uint64_t len;
    const int64_t s2 = saved_s2(m, &size, &good, &b, &len);
    CHECK(s2 > 0 && get_le(good + s2 + 4, 4) == 1, "logvar: the S2NT head field is not 1");
    memcpy(b, good, (size_t)size);
    put_le(b + 8, 5, 4);
    fix_crc(b, size);
    expect_load(b, size, HOSM_E_CORRUPT, "logvar head in a version-5 file, CRC fixed");
    memcpy(b, good, (size_t)size);
    put_le(b + s2, HOSM_S2_FULL, 4);
    fix_crc(b, size);
    expect_load(b, size, HOSM_E_CORRUPT, "logvar head on a full s2, CRC fixed");
    /* With the head field cleared it is a valid linear-head model of other outputs. */
    memcpy(b, good, (size_t)size);
    put_le(b + s2 + 4, 0, 4);
    fix_crc(b, size);
    hosm_model *lin;
    MUST(hosm_model_load_mem(&lin, b, size));
    float x[D] = {0.3f, -0.2f, 0.5f}, h1[D * D], h2[D * D];
    MUST(hosm_model_hessian(m, 0, x, 1, h1));
    MUST(hosm_model_hessian(lin, 0, x, 1, h2));
    CHECK(h1[0] != h2[0], "logvar: the head does not change the Hessian (%g)", h1[0]);
    hosm_model_free(lin);
    free(good);
    free(b);
    hosm_model_free(m);
}

/* --- the version-2 fixture --- */

static void check_v2(const char *fixture)
{
    int64_t size;
    uint8_t *buf = read_all(fixture, &size);
    CHECK(get_le(buf + 8, 4) == 2, "v2 fixture: version field %u",
          (unsigned)get_le(buf + 8, 4));
    hosm_model *m = NULL;
    int st = hosm_model_load(&m, fixture);
    CHECK(st == HOSM_OK, "v2 fixture: load returned %d (%s)", st, hosm_last_errmsg());
    int64_t P = 0, L = 0;
    if (st == HOSM_OK) {
        MUST(hosm_model_num_params(m, &P));
        MUST(hosm_model_num_levels(m, &L));
    }
    CHECK(P == V2_NPARAMS && L == V2_LEVELS, "v2 fixture: P %lld, L %lld", (long long)P,
          (long long)L);
    if (P != V2_NPARAMS || L != V2_LEVELS) {
        hosm_model_free(m);
        free(buf);
        return;
    }
    float p[V2_NPARAMS], s[V2_NPTS * V2_DIM], h[V2_NPTS * V2_DIM];
    MUST(hosm_model_get_params(m, p, P));
    CHECK(memcmp(p, v2_params, sizeof p) == 0, "v2 fixture: parameters differ");
    /* The fixture's outputs came from BLIS's own kernels: a second copy of
     * the model uses them too (a setting of its own, so that m keeps none). */
    int64_t mism = 0;
    hosm_model *mb;
    hosm_config *kc;
    MUST(hosm_model_load(&mb, fixture));
    MUST(hosm_config_new(&kc));
    MUST(hosm_config_parse(kc, "gemm_kernels=blis"));
    MUST(hosm_model_set_config(mb, kc));
    hosm_config_free(kc);
    for (int64_t l = 0; l < L; l++) {
        MUST(hosm_model_score(mb, l, v2_points, V2_NPTS, s));
        MUST(hosm_model_hessian_diag(mb, l, v2_points, V2_NPTS, h));
        for (int i = 0; i < V2_NPTS * V2_DIM; i++)
            mism += (s[i] != v2_scores[l][i]) + (h[i] != v2_hessian_diag[l][i]);
    }
    hosm_model_free(mb);
    CHECK(mism == 0, "v2 fixture: %lld scores or Hessian diagonals differ", (long long)mism);
    /* No settings: the defaults, and re-saving gives the same version-2 bytes. */
    hosm_config *c, *d;
    MUST(hosm_config_new(&c));
    MUST(hosm_config_new(&d));
    MUST(hosm_model_get_config(m, c));
    double lr, lr0;
    MUST(hosm_config_get_double(c, HOSM_KEY_LR, &lr));
    MUST(hosm_config_get_double(d, HOSM_KEY_LR, &lr0));
    CHECK(lr == lr0, "v2 fixture: lr %g, not the default", lr);
    /* raw_head's and s2_objective's defaults changed after version 3; a
     * file without settings keeps the values it was made with (format.md,
     * the file base). */
    int64_t raw_head, s2_objective;
    MUST(hosm_config_get_int(c, HOSM_KEY_RAW_HEAD, &raw_head));
    MUST(hosm_config_get_int(c, HOSM_KEY_S2_OBJECTIVE, &s2_objective));
    CHECK(raw_head == 0 && s2_objective == HOSM_OBJ_D2SM,
          "v2 fixture: raw_head %lld, s2_objective %lld, not the file base's 0 and d2sm",
          (long long)raw_head, (long long)s2_objective);
    hosm_config_free(c);
    hosm_config_free(d);
    int64_t size2;
    MUST(hosm_model_save_size(m, &size2));
    uint8_t *b2 = xmalloc((size_t)size2);
    MUST(hosm_model_save_mem(m, b2, size2, NULL));
    CHECK(size2 == size && memcmp(b2, buf, (size_t)size) == 0,
          "v2 fixture: re-saving does not reproduce the file");
    printf("ok   v2 fixture: loads, %lld scores and Hessian diagonals exact, re-save identical\n",
           (long long)(2 * L * V2_NPTS * V2_DIM));
    free(b2);
    hosm_model_free(m);
    free(buf);
}

/* --- settings --- */

#define SETTINGS "objective=dsm_vr lr=0.003 ema=0.99 sampler=ozaki step_size=0.02 l_max=50"

static hosm_model *model_with_settings(int s2, const char *settings)
{
    hosm_config *cfg = base_config(s2, 2);
    MUST(hosm_config_parse(cfg, settings));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    return m;
}

static uint8_t *save_to_mem(const hosm_model *m, int64_t *size)
{
    MUST(hosm_model_save_size(m, size));
    uint8_t *buf = xmalloc((size_t)*size);
    MUST(hosm_model_save_mem(m, buf, *size, NULL));
    return buf;
}

/* The value of one key of the model's config, as text. */
static const char *model_key(const hosm_model *m, const char *name)
{
    static char text[4096];
    hosm_config *c;
    MUST(hosm_config_new(&c));
    MUST(hosm_model_get_config(m, c));
    MUST(hosm_config_to_text(c, text, sizeof text, NULL));
    hosm_config_free(c);
    const char *hit = strstr(text, name);
    return hit ? hit : "";
}

static void check_settings(void)
{
    for (int s2 = HOSM_S2_NONE; s2 <= HOSM_S2_DIAG; s2++) {
        hosm_model *m = model_with_settings(s2, SETTINGS), *back;
        int64_t size;
        uint8_t *buf = save_to_mem(m, &size);
        uint64_t len;
        CHECK(get_le(buf + 8, 4) == 3, "settings (s2 %d): version %u, expected 3", s2,
              (unsigned)get_le(buf + 8, 4));
        CHECK(find_section(buf, size, "CNFG", &len) > 0, "settings (s2 %d): no CNFG section", s2);
        MUST(hosm_model_load_mem(&back, buf, size));
        CHECK(same_model(m, back, "settings"), "settings (s2 %d): the round trip is not exact",
              s2);
        CHECK(strncmp(model_key(back, "lr="), "lr=0.003 ", 9) == 0 &&
                  strncmp(model_key(back, "sampler="), "sampler=ozaki ", 14) == 0,
              "settings (s2 %d): loaded '%s'", s2, model_key(back, "objective="));
        hosm_model_free(back);
        free(buf);
        hosm_model_free(m);
    }
    /* A trainer's config replaces the settings; NULL leaves them. */
    hosm_model *m = model_with_settings(HOSM_S2_DIAG, SETTINGS);
    hosm_trainer *t;
    MUST(hosm_trainer_new(&t, m, NULL));
    hosm_trainer_free(t);
    CHECK(strncmp(model_key(m, "lr="), "lr=0.003 ", 9) == 0, "a NULL trainer config changed "
          "the settings: '%s'", model_key(m, "lr="));
    hosm_config *cfg = base_config(HOSM_S2_DIAG, 2);
    MUST(hosm_config_parse(cfg, "lr=0.01 steps=77"));
    MUST(hosm_trainer_new(&t, m, cfg));
    hosm_trainer_free(t);
    CHECK(strncmp(model_key(m, "lr="), "lr=0.01 ", 8) == 0 &&
              strncmp(model_key(m, "steps="), "steps=77", 8) == 0 && !*model_key(m, "sampler="),
          "after a trainer: '%s'", model_key(m, "hidden="));
    /* hosm_model_set_config stores the settings, never the architecture. */
    MUST(hosm_config_parse(cfg, "hidden=99 step_size=0.5"));
    MUST(hosm_model_set_config(m, cfg));
    CHECK(strncmp(model_key(m, "hidden="), "hidden=5 ", 9) == 0 &&
              strncmp(model_key(m, "step_size="), "step_size=0.5", 13) == 0,
          "after set_config: '%s'", model_key(m, "hidden="));
    hosm_config_free(cfg);
    hosm_model_free(m);
    printf("ok   settings: exact round trips (version 3), trainer and set_config\n");
}

/* Same-length edits of the CNFG text "lr=0.003 ..." (its first 8 bytes). */
static void check_settings_corrupt(void)
{
    hosm_model *m = model_with_settings(HOSM_S2_DIAG, "lr=0.003 sampler=ozaki");
    int64_t size;
    uint8_t *good = save_to_mem(m, &size), *b = xmalloc((size_t)size);
    uint64_t len;
    const int64_t at = find_section(good, size, "CNFG", &len);
    CHECK(at > 0 && len == 22 && memcmp(good + at, "lr=0.003 sampler=ozaki", 22) == 0,
          "CNFG section not as expected");
    if (!(at > 0 && len == 22)) {
        free(good), free(b);
        hosm_model_free(m);
        return;
    }
    static const struct {
        const char *text, *what;
    } edits[] = {
        {"hidden=9", "CNFG with an architecture key, CRC fixed"},
        {"zz=0.003", "CNFG with an unknown key, CRC fixed"},
        {"lr=-0.03", "CNFG with a value out of range, CRC fixed"},
        {"lr=0.0x3", "CNFG with a non-number, CRC fixed"},
        {"lr=0.0\0013", "CNFG with a control byte, CRC fixed"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(b, good, (size_t)size);
        memcpy(b + at, edits[i].text, 8);
        fix_crc(b, size);
        expect_load(b, size, HOSM_E_CORRUPT, edits[i].what);
    }
    memcpy(b, good, (size_t)size);
    put_le(b + 8, 2, 4);
    fix_crc(b, size);
    expect_load(b, size, HOSM_E_CORRUPT, "CNFG in a version-2 file, CRC fixed");
    free(good);
    free(b);
    hosm_model_free(m);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        printf("usage: %s FIXTURE1 FIXTURE2 WORKDIR\n", argv[0]);
        return 1;
    }
    workdir = argv[3];
    const double t0 = now_seconds();
    check_roundtrip(HOSM_S2_NONE, 1, HOSM_S2_HEAD_LINEAR, "none");
    check_roundtrip(HOSM_S2_DIAG, 1, HOSM_S2_HEAD_LINEAR, "diag");
    check_roundtrip(HOSM_S2_DIAG, 1, HOSM_S2_HEAD_LOGVAR, "diag logvar");
    check_roundtrip(HOSM_S2_LOWRANK, 2, HOSM_S2_HEAD_LINEAR, "lowrank r=2");
    check_roundtrip(HOSM_S2_LOWRANK, 9, HOSM_S2_HEAD_LINEAR, "lowrank r=9>D");
    check_roundtrip(HOSM_S2_LOWRANK, 2, HOSM_S2_HEAD_LOGVAR, "lowrank logvar");
    check_roundtrip(HOSM_S2_FULL, 1, HOSM_S2_HEAD_LINEAR, "full");
    check_v1(argv[1]);
    check_corrupt();
    check_logvar_corrupt();
    check_v2(argv[2]);
    check_settings();
    check_settings_corrupt();
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_s2_files");
}
