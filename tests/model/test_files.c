/* Model files and checkpoints (docs/format.md): round trips, and the
 * loader's answer to every kind of damage (to either kind of file: one
 * format, one predictor of the status of each damaged byte).
 *
 *  1. Round trip: save/load through a path and through memory gives
 *     bit-identical parameters, noise levels, config keys and scores; the
 *     saved size equals hosm_model_save_size() and the documented formula;
 *     the file equals the in-memory form byte for byte; no temporary file is
 *     left behind; save_mem into a buffer one byte short fails with
 *     HOSM_E_BUFFER and writes nothing.
 *  2. Resume from a checkpoint: tests/train/test_checkpoints.c. A model with
 *     an s2 network round-trips as well (tests/model/test_s2_files.c).
 *  3. Damage, for a model file (with and without s2) and a checkpoint:
 *     a. every byte flipped (x ^= 0xFF), checksum left as is: magic ->
 *        HOSM_E_FORMAT, version -> HOSM_E_VERSION, size field ->
 *        HOSM_E_TRUNCATED when it grows / HOSM_E_CORRUPT when it shrinks,
 *        every other byte (section count, sections, checksum) ->
 *        HOSM_E_CORRUPT;
 *     b. every truncation to 0 .. size-1 bytes -> HOSM_E_TRUNCATED (the header
 *        holds the size, so every short file is recognised as such; lengths
 *        below 8 are prefixes of the magic); a few lengths also through files;
 *     c. every byte flipped with the checksum recomputed, so that the section
 *        parser sees it: the status predicted from docs/format.md's list of
 *        checks for the field that byte belongs to (e.g. an unknown tag or a
 *        wrong section length or a nonzero reserved field -> HOSM_E_CORRUPT, an
 *        optimiser section of the wrong length -> HOSM_E_MISMATCH, a parameter
 *        that became NaN or a second moment that became negative ->
 *        HOSM_E_CORRUPT, a seed that is still a valid seed -> HOSM_OK, a
 *        checkpoint whose noise levels changed -> HOSM_E_MISMATCH);
 *     d. targeted structural damage with a valid checksum;
 *     e. a model file to hosm_trainer_load -> HOSM_E_FORMAT and vice versa; a
 *        checkpoint of another architecture -> HOSM_E_MISMATCH; a nonexistent
 *        path or a directory -> HOSM_E_IO; random bytes -> HOSM_E_FORMAT.
 *     After every failed load the trainer's state and its model's weights are
 *     unchanged, and a failed hosm_model_load leaves *out NULL.
 * All comparisons are exact (bitwise): the format stores the float bits, and
 * training is deterministic for a given seed and step count. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test_util.h"
#include "../common/model_util.h"

/* ---- test-side helpers: files (CRC-32 and byte access: test_util.h) ---- */

static char g_dir[256];

static const char *path_in_dir(const char *name)
{
    static char buf[8][512];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, int64_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, (size_t)n, f) != (size_t)n) {
        printf("FATAL: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static uint8_t *read_bytes(const char *path, int64_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FATAL: cannot read %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = xmalloc((size_t)*n);
    if (fread(p, 1, (size_t)*n, f) != (size_t)*n) {
        printf("FATAL: short read of %s\n", path);
        exit(1);
    }
    fclose(f);
    return p;
}

static const char *st_name(int st)
{
    switch (st) {
    case HOSM_OK: return "OK";
    case HOSM_E_NULL: return "E_NULL";
    case HOSM_E_ARG: return "E_ARG";
    case HOSM_E_NOMEM: return "E_NOMEM";
    case HOSM_E_IO: return "E_IO";
    case HOSM_E_FORMAT: return "E_FORMAT";
    case HOSM_E_VERSION: return "E_VERSION";
    case HOSM_E_CORRUPT: return "E_CORRUPT";
    case HOSM_E_TRUNCATED: return "E_TRUNCATED";
    case HOSM_E_MISMATCH: return "E_MISMATCH";
    case HOSM_E_BUFFER: return "E_BUFFER";
    default: return "other";
    }
}

#define EXPECT_ST(got, want, ...)                                                           \
    do {                                                                                    \
        int g_ = (got), w_ = (want);                                                        \
        if (g_ != w_) {                                                                     \
            g_failures++;                                                                   \
            printf("FAIL %s:%d: got %s, expected %s: ", __FILE__, __LINE__, st_name(g_),    \
                   st_name(w_));                                                            \
            printf(__VA_ARGS__);                                                            \
            printf(" [%s]\n", hosm_last_errmsg());                                          \
        }                                                                                   \
    } while (0)

/* ---- models ------------------------------------------------------------------ */

/* Everything observable of a model is bit-identical. */
static void check_same_model(const char *tag, const hosm_model *a, const hosm_model *b)
{
    CHECK(same_params(a, b), "%s: parameters differ", tag);
    int64_t da, db, la, lb;
    MUST(hosm_model_dim(a, &da));
    MUST(hosm_model_dim(b, &db));
    MUST(hosm_model_num_levels(a, &la));
    MUST(hosm_model_num_levels(b, &lb));
    CHECK(da == db && la == lb, "%s: dim/levels differ", tag);
    if (da != db || la != lb)
        return;
    hosm_config *ca, *cb;
    MUST(hosm_config_new(&ca));
    MUST(hosm_config_new(&cb));
    MUST(hosm_model_get_config(a, ca));
    MUST(hosm_model_get_config(b, cb));
    const int ikeys[] = {HOSM_KEY_HIDDEN, HOSM_KEY_DEPTH, HOSM_KEY_ACT, HOSM_KEY_LEVELS,
                         HOSM_KEY_SEED, HOSM_KEY_THREADS};
    for (size_t i = 0; i < sizeof ikeys / sizeof ikeys[0]; i++) {
        int64_t va, vb;
        MUST(hosm_config_get_int(ca, ikeys[i], &va));
        MUST(hosm_config_get_int(cb, ikeys[i], &vb));
        CHECK(va == vb, "%s: key %s: %lld vs %lld", tag, hosm_config_key_name(ikeys[i]),
              (long long)va, (long long)vb);
    }
    const int dkeys[] = {HOSM_KEY_SIGMA, HOSM_KEY_SIGMA_MAX, HOSM_KEY_SIGMA_MIN};
    for (size_t i = 0; i < 3; i++) {
        double va, vb;
        MUST(hosm_config_get_double(ca, dkeys[i], &va));
        MUST(hosm_config_get_double(cb, dkeys[i], &vb));
        CHECK(memcmp(&va, &vb, sizeof va) == 0, "%s: key %s: %.17g vs %.17g", tag,
              hosm_config_key_name(dkeys[i]), va, vb);
    }
    hosm_config_free(ca);
    hosm_config_free(cb);
    enum { NP = 64 };
    float *x = xmalloc(NP * (size_t)da * sizeof *x), *sa = xmalloc(NP * (size_t)da * sizeof *sa);
    float *sb = xmalloc(NP * (size_t)da * sizeof *sb);
    trng r = {31};
    for (int64_t i = 0; i < NP * da; i++)
        x[i] = (float)trng_normal(&r);
    for (int64_t l = 0; l < la; l++) {
        double sga, sgb;
        MUST(hosm_model_sigma(a, l, &sga));
        MUST(hosm_model_sigma(b, l, &sgb));
        CHECK(memcmp(&sga, &sgb, sizeof sga) == 0, "%s: sigma of level %lld differs", tag,
              (long long)l);
        MUST(hosm_model_score(a, l, x, NP, sa));
        MUST(hosm_model_score(b, l, x, NP, sb));
        CHECK(memcmp(sa, sb, NP * (size_t)da * sizeof *sa) == 0,
              "%s: scores at level %lld differ", tag, (long long)l);
    }
    free(x);
    free(sa);
    free(sb);
}

static int count_dir_entries(void)
{
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* ---- 1. model round trip ------------------------------------------------- */

static void test_round_trip(void)
{
    /* the file base's settings: none to store (format.md's size) */
    hosm_config *cfg = config("hidden=8 depth=2 act=tanh levels=3 sigma_max=2 sigma_min=0.05 "
                              "seed=12345 threads=2 sigma=0.7 " FILE_BASE);
    hosm_model *m;
    MUST(hosm_model_new(&m, 3, cfg));
    randomise(m, 17);
    const int64_t P = nparams(m);

    int64_t size;
    MUST(hosm_model_save_size(m, &size));
    CHECK(size == 148 + 8 * 3 + 4 * P, "save_size %lld, format.md gives %lld", (long long)size,
          (long long)(148 + 8 * 3 + 4 * P));

    /* Through a path. */
    const int before = count_dir_entries();
    const char *path = path_in_dir("model.hosm");
    MUST(hosm_model_save(m, path));
    MUST(hosm_model_save(m, path)); /* overwriting is fine */
    CHECK(count_dir_entries() == before + 1, "save left %d extra entries in the directory",
          count_dir_entries() - before - 1);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (int64_t)sb.st_size == size,
          "file size %lld, save_size %lld", (long long)sb.st_size, (long long)size);
    hosm_model *loaded = NULL;
    MUST(hosm_model_load(&loaded, path));
    check_same_model("path round trip", m, loaded);
    hosm_model_free(loaded);

    /* Through memory: exact capacity, written == size, same bytes as the file. */
    uint8_t *buf = xmalloc((size_t)size + 16);
    memset(buf, 0xAB, (size_t)size + 16);
    int64_t written = -1;
    MUST(hosm_model_save_mem(m, buf, size, &written));
    CHECK(written == size, "save_mem wrote %lld, size %lld", (long long)written, (long long)size);
    int untouched = 1;
    for (int i = 0; i < 16; i++)
        untouched &= buf[size + i] == 0xAB;
    CHECK(untouched, "save_mem wrote past the size it reported");
    int64_t fsize;
    uint8_t *file = read_bytes(path, &fsize);
    CHECK(fsize == size && memcmp(file, buf, (size_t)size) == 0,
          "the file and the in-memory form differ");
    free(file);
    MUST(hosm_model_save_mem(m, buf, size, NULL)); /* written may be NULL */
    MUST(hosm_model_load_mem(&loaded, buf, size));
    check_same_model("memory round trip", m, loaded);

    /* A loaded model saves to the same bytes. */
    uint8_t *again = xmalloc((size_t)size);
    MUST(hosm_model_save_mem(loaded, again, size, NULL));
    CHECK(memcmp(again, buf, (size_t)size) == 0, "re-saving a loaded model changes the bytes");
    free(again);
    hosm_model_free(loaded);

    /* One byte short: HOSM_E_BUFFER, nothing written. */
    memset(buf, 0xCD, (size_t)size);
    written = -7;
    EXPECT_ST(hosm_model_save_mem(m, buf, size - 1, &written), HOSM_E_BUFFER, "cap = size - 1");
    int clean = written == -7;
    for (int64_t i = 0; i < size; i++)
        clean &= buf[i] == 0xCD;
    CHECK(clean, "a failed save_mem touched the buffer or *written");

    free(buf);
    hosm_model_free(m);
    hosm_config_free(cfg);
    unlink(path);

    /* A model with an s2 network (its own section): the same guarantees,
     * and the learned s2 is reproduced exactly. */
    cfg = config("hidden=6 depth=2 act=softplus levels=2 sigma_max=1 sigma_min=0.2 s2=lowrank "
                 "rank=2 s2_hidden=5 s2_depth=1 seed=3");
    MUST(hosm_model_new(&m, 3, cfg));
    randomise(m, 18);
    MUST(hosm_model_save_size(m, &size));
    buf = xmalloc((size_t)size);
    MUST(hosm_model_save_mem(m, buf, size, &written));
    CHECK(written == size, "s2 model: save_mem wrote %lld of %lld", (long long)written,
          (long long)size);
    MUST(hosm_model_save(m, path));
    file = read_bytes(path, &fsize);
    CHECK(fsize == size && memcmp(file, buf, (size_t)size) == 0,
          "s2 model: the file and the in-memory form differ");
    free(file);
    for (int via = 0; via < 2; via++) {
        if (via)
            MUST(hosm_model_load(&loaded, path));
        else
            MUST(hosm_model_load_mem(&loaded, buf, size));
        check_same_model(via ? "s2 model, path" : "s2 model, memory", m, loaded);
        int sa, sb;
        int64_t ra, rb;
        MUST(hosm_model_s2_structure(m, &sa, &ra));
        MUST(hosm_model_s2_structure(loaded, &sb, &rb));
        CHECK(sa == sb && ra == rb, "s2 model: structure %d/%lld vs %d/%lld", sa, (long long)ra,
              sb, (long long)rb);
        float x[3 * 5], ha[3 * 5], hb[3 * 5];
        for (int i = 0; i < 15; i++)
            x[i] = (float)(0.3 * i - 2.0);
        for (int64_t l = 0; l < 2; l++) {
            MUST(hosm_model_hessian_diag(m, l, x, 5, ha));
            MUST(hosm_model_hessian_diag(loaded, l, x, 5, hb));
            CHECK(memcmp(ha, hb, sizeof ha) == 0, "s2 model: learned s2 differs at level %lld",
                  (long long)l);
        }
        hosm_model_free(loaded);
    }
    free(buf);
    hosm_model_free(m);
    hosm_config_free(cfg);
    unlink(path);
}

/* A setting whose default changed reads back as it was saved, whichever
 * value it has: files store settings against a fixed base, not against
 * today's defaults (format.md, CNFG). */
static void test_settings_round_trip(void)
{
    for (int raw = 0; raw < 2; raw++) {
        char text[128];
        snprintf(text, sizeof text, "hidden=4 depth=1 sigma=0.3 raw_head=%d", raw);
        hosm_config *cfg = config(text);
        hosm_model *m, *loaded;
        MUST(hosm_model_new(&m, 2, cfg));
        int64_t size;
        MUST(hosm_model_save_size(m, &size));
        uint8_t *buf = xmalloc((size_t)size);
        MUST(hosm_model_save_mem(m, buf, size, NULL));
        MUST(hosm_model_load_mem(&loaded, buf, size));
        hosm_config *got = config("");
        MUST(hosm_model_get_config(loaded, got));
        int64_t v = -1;
        MUST(hosm_config_get_int(got, HOSM_KEY_RAW_HEAD, &v));
        CHECK(v == raw, "raw_head=%d saved, %lld loaded", raw, (long long)v);
        hosm_config_free(got);
        hosm_model_free(loaded);
        hosm_model_free(m);
        free(buf);
        hosm_config_free(cfg);
    }
}

/* ---- 3. damage ------------------------------------------------------------ */

/* A small trainer whose state we can snapshot to check "a failed load changes
 * nothing". */
typedef struct {
    hosm_model *m;
    hosm_trainer *t;
    uint8_t *state; /* its checkpoint bytes */
    int64_t size;
} victim;

static void victim_snapshot(victim *v)
{
    MUST(hosm_trainer_save_size(v->t, &v->size));
    free(v->state);
    v->state = xmalloc((size_t)v->size);
    MUST(hosm_trainer_save_mem(v->t, v->state, v->size, NULL));
}

static int victim_unchanged(const victim *v)
{
    int64_t size;
    MUST(hosm_trainer_save_size(v->t, &size));
    if (size != v->size)
        return 0;
    uint8_t *now = xmalloc((size_t)size);
    MUST(hosm_trainer_save_mem(v->t, now, size, NULL));
    int same = memcmp(now, v->state, (size_t)size) == 0;
    free(now);
    return same;
}

/* Loads a model from memory; checks *out is NULL after a failure. */
static int load_model_mem(const uint8_t *p, int64_t n)
{
    hosm_model *m = (hosm_model *)(uintptr_t)1; /* must be overwritten */
    int st = hosm_model_load_mem(&m, p, n);
    if (st != HOSM_OK) {
        CHECK(m == NULL, "failed hosm_model_load_mem left *out = %p", (void *)m);
        CHECK(hosm_last_errmsg()[0] != '\0', "failed load without a message");
    } else {
        hosm_model_free(m);
    }
    return st;
}

static int load_model_path(const char *path)
{
    hosm_model *m = (hosm_model *)(uintptr_t)1;
    int st = hosm_model_load(&m, path);
    if (st != HOSM_OK)
        CHECK(m == NULL, "failed hosm_model_load left *out = %p", (void *)m);
    else
        hosm_model_free(m);
    return st;
}

/* Loads a checkpoint into the victim; a failure must leave it unchanged
 * and put a message into the trainer. */
static int load_ckpt_mem(victim *v, const uint8_t *p, int64_t n)
{
    int st = hosm_trainer_load_mem(v->t, p, n);
    if (st != HOSM_OK) {
        CHECK(victim_unchanged(v), "a failed checkpoint load (status %d) changed the trainer",
              st);
        CHECK(hosm_trainer_errmsg(v->t)[0] != '\0', "failed load without a trainer message");
    } else {
        MUST(hosm_trainer_load_mem(v->t, v->state, v->size)); /* restore */
    }
    return st;
}

/* 3a: every byte flipped, checksum not fixed. */
static void flip_all(const char *kind, const uint8_t *orig, int64_t size, victim *v)
{
    uint8_t *p = xmalloc((size_t)size);
    int bad = 0;
    for (int64_t i = 0; i < size; i++) {
        memcpy(p, orig, (size_t)size);
        p[i] ^= 0xFF;
        int want;
        if (i < 8)
            want = HOSM_E_FORMAT;
        else if (i < 12)
            want = HOSM_E_VERSION;
        else if (i >= 16 && i < 24)
            want = get_le(p + 16, 8) > (uint64_t)size ? HOSM_E_TRUNCATED : HOSM_E_CORRUPT;
        else
            want = HOSM_E_CORRUPT; /* section count, sections, checksum: CRC */
        int st = v ? load_ckpt_mem(v, p, size) : load_model_mem(p, size);
        if (st != want && bad++ < 10)
            EXPECT_ST(st, want, "%s: byte %lld flipped", kind, (long long)i);
        else if (st != want)
            g_failures++;
    }
    printf("%-4s %s: %lld single-byte flips without checksum fix, %d wrong statuses\n",
           bad ? "FAIL" : "ok", kind, (long long)size, bad);
    free(p);
}

/* 3b: every truncation. */
static void truncate_all(const char *kind, const uint8_t *orig, int64_t size, victim *v)
{
    int bad = 0;
    for (int64_t n = 0; n < size; n++) {
        /* A private copy of exactly n bytes, so that reading past n is an
         * error a memory checker sees. */
        uint8_t *p = xmalloc((size_t)n);
        memcpy(p, orig, (size_t)n);
        int st = v ? load_ckpt_mem(v, p, n) : load_model_mem(p, n);
        if (st != HOSM_E_TRUNCATED && bad++ < 10)
            EXPECT_ST(st, HOSM_E_TRUNCATED, "%s: truncated to %lld bytes", kind, (long long)n);
        else if (st != HOSM_E_TRUNCATED)
            g_failures++;
        free(p);
    }
    printf("%-4s %s: %lld truncations (0 .. %lld bytes), %d wrong statuses\n",
           bad ? "FAIL" : "ok", kind, (long long)size, (long long)(size - 1), bad);
    /* A few through files as well. */
    const int64_t lens[] = {0, 1, 7, 8, 27, 28, size / 2, size - 4, size - 1};
    const char *path = path_in_dir("short.bin");
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        write_bytes(path, orig, lens[i]);
        int st = v ? hosm_trainer_load(v->t, path) : load_model_path(path);
        EXPECT_ST(st, HOSM_E_TRUNCATED, "%s: file truncated to %lld bytes", kind,
                  (long long)lens[i]);
        if (v)
            CHECK(victim_unchanged(v), "a failed load from a file changed the trainer");
    }
    unlink(path);
}

/* 3c: the status docs/format.md predicts for byte i flipped (x ^= 0xFF) with
 * the checksum recomputed. p is the damaged copy, orig the original. */
static int in_ladder_ok(const uint8_t *arch, int64_t L)
{
    double prev = INFINITY;
    for (int64_t l = 0; l < L; l++) {
        double s;
        uint64_t u = get_le(arch + 88 + 8 * l, 8);
        memcpy(&s, &u, 8);
        if (!(s > 0.0) || !isfinite(s) || !(s < prev))
            return 0;
        prev = s;
    }
    return 1;
}

static double f64_at(const uint8_t *p)
{
    uint64_t u = get_le(p, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static int f32_finite_at(const uint8_t *p)
{
    uint32_t u = (uint32_t)get_le(p, 4);
    float f;
    memcpy(&f, &u, 4);
    return isfinite(f);
}

static float f32_at(const uint8_t *p)
{
    uint32_t u = (uint32_t)get_le(p, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int predict(const uint8_t *p, int64_t size, int64_t i, int checkpoint)
{
    if (i < 8)
        return HOSM_E_FORMAT;
    if (i < 12)
        return HOSM_E_VERSION;
    if (i < 16)
        return HOSM_E_CORRUPT; /* section count no longer matches */
    if (i < 24)
        return get_le(p + 16, 8) > (uint64_t)size ? HOSM_E_TRUNCATED : HOSM_E_CORRUPT;
    /* Walk the (intact) section headers before i to find i's section. */
    int64_t pos = 24;
    int sec = 0;
    for (;;) {
        const int64_t len = (int64_t)get_le(p + pos + 8, 8);
        /* CNFG (settings text): a flipped byte is not printable, a flipped
         * length misaligns the sections or takes in binary bytes. */
        const int cnfg = memcmp(p + pos, "CNFG", 4) == 0;
        if (i < pos + 16) {
            const int64_t off = i - pos;
            if (off < 4)
                return HOSM_E_CORRUPT; /* unknown or misplaced tag */
            if (off < 8 || cnfg)
                return HOSM_E_CORRUPT; /* reserved u32: must be 0 */
            /* The length changed. */
            if (sec < 2)
                return HOSM_E_CORRUPT; /* ARCH / PRM1 of a wrong size or overrunning */
            return get_le(p + pos + 8, 8) > (uint64_t)(size - 4 - (pos + 16)) ? HOSM_E_CORRUPT
                                                                           : HOSM_E_MISMATCH;
        }
        if (i < pos + 16 + len) {
            const uint8_t *pl = p + pos + 16;
            const int64_t off = i - (pos + 16);
            if (cnfg)
                return HOSM_E_CORRUPT;
            if (sec == 0) { /* ARCH */
                if (off < 40) /* dim, hidden, depth, act, reserved, levels: out of */
                    return HOSM_E_CORRUPT; /* range, or P no longer equals nparams */
                if (off < 64) {            /* sigma, sigma_max, sigma_min */
                    const double s = f64_at(pl + (off / 8) * 8);
                    if (!(s > 0.0) || !isfinite(s) || s > 1e6)
                        return HOSM_E_CORRUPT; /* outside the config range (0, 1e6] */
                    const int64_t L = (int64_t)get_le(pl + 32, 8);
                    if (L > 1 && !(f64_at(pl + 48) > f64_at(pl + 56)))
                        return HOSM_E_CORRUPT;
                    return HOSM_OK;
                }
                if (off < 72) /* seed in [0, 2^63 - 1] */
                    return get_le(pl + 64, 8) >> 63 ? HOSM_E_CORRUPT : HOSM_OK;
                if (off < 80) { /* threads in [1, 1024] */
                    const uint64_t t = get_le(pl + 72, 8);
                    return t >= 1 && t <= 1024 ? HOSM_OK : HOSM_E_CORRUPT;
                }
                if (off < 88)
                    return HOSM_E_CORRUPT; /* nparams */
                /* A noise level: a valid ladder loads as a model file, but
                 * it is another architecture for the restoring trainer. */
                if (!in_ladder_ok(pl, (int64_t)get_le(pl + 32, 8)))
                    return HOSM_E_CORRUPT;
                return checkpoint ? HOSM_E_MISMATCH : HOSM_OK;
            }
            if (sec == 1) /* PRM1 */
                return f32_finite_at(pl + (off / 4) * 4) ? HOSM_OK : HOSM_E_CORRUPT;
            if (!checkpoint)
                return HOSM_E_CORRUPT;
            if (sec == 2) { /* ADAM: step, m, v (v >= 0) */
                if (off < 8)
                    return get_le(pl, 8) >> 63 ? HOSM_E_CORRUPT : HOSM_OK;
                const uint8_t *f = pl + 8 + ((off - 8) / 4) * 4;
                if (!f32_finite_at(f))
                    return HOSM_E_CORRUPT;
                const int64_t P = (len - 8) / 8;
                return off >= 8 + 4 * P && f32_at(f) < 0.0f ? HOSM_E_CORRUPT : HOSM_OK;
            }
            if (sec == 3) /* EMA1 */
                return f32_finite_at(pl + (off / 4) * 4) ? HOSM_OK : HOSM_E_CORRUPT;
            return HOSM_OK; /* RNG1: any state but all zero (one flip cannot make it) */
        }
        pos += 16 + len;
        sec += !cnfg;
    }
}

static void flip_all_fixed(const char *kind, const uint8_t *orig, int64_t size, victim *v)
{
    uint8_t *p = xmalloc((size_t)size);
    int bad = 0, counts[3] = {0, 0, 0};
    for (int64_t i = 0; i < size - 4; i++) {
        memcpy(p, orig, (size_t)size);
        p[i] ^= 0xFF;
        fix_crc(p, size);
        /* Predict from the original layout, with the damaged value. */
        uint8_t *q = xmalloc((size_t)size);
        memcpy(q, orig, (size_t)size);
        q[i] ^= 0xFF;
        int want = predict(q, size, i, v != NULL);
        free(q);
        int st = v ? load_ckpt_mem(v, p, size) : load_model_mem(p, size);
        counts[st == HOSM_OK ? 0 : st == HOSM_E_CORRUPT ? 1 : 2]++;
        if (st != want && bad++ < 10)
            EXPECT_ST(st, want, "%s: byte %lld flipped, checksum fixed", kind, (long long)i);
        else if (st != want)
            g_failures++;
    }
    printf("%-4s %s: %lld flips with checksum fixed (%d OK, %d CORRUPT, %d other), %d "
           "differ from format.md\n",
           bad ? "FAIL" : "ok", kind, (long long)(size - 4), counts[0], counts[1], counts[2], bad);
    free(p);
}

/* 3d: targeted structural damage with a valid checksum. Offsets follow
 * format.md: ARCH header at 24, ARCH payload at 40, PRM1 header at
 * 40 + 88 + 8L. */
static void targeted(const uint8_t *model, int64_t msize, const uint8_t *ckpt, int64_t csize,
                     victim *v, int64_t L)
{
    const int64_t arch = 40, prm = 40 + 88 + 8 * L;
    uint8_t *p = xmalloc(2 * (size_t)(csize > msize ? csize : msize) + 64);
#define MODEL_CASE(what, want, ...)                                                       \
    do {                                                                                   \
        memcpy(p, model, (size_t)msize);                                                   \
        int64_t n_ = msize;                                                                \
        __VA_ARGS__;                                                                       \
        put_le(p + 16, (uint64_t)n_, 8);                                                   \
        fix_crc(p, n_);                                                                    \
        EXPECT_ST(load_model_mem(p, n_), want, "model: %s", what);                         \
    } while (0)
    MODEL_CASE("section count + 1", HOSM_E_CORRUPT, put_le(p + 12, 3, 4));
    MODEL_CASE("section count - 1", HOSM_E_CORRUPT, put_le(p + 12, 1, 4));
    MODEL_CASE("section count 0", HOSM_E_CORRUPT, put_le(p + 12, 0, 4));
    MODEL_CASE("format version 0", HOSM_E_VERSION, put_le(p + 8, 0, 4));
    MODEL_CASE("format version 1000", HOSM_E_VERSION, put_le(p + 8, 1000, 4));
    MODEL_CASE("dim 0", HOSM_E_CORRUPT, put_le(p + arch, 0, 8));
    MODEL_CASE("dim 2^20 + 1", HOSM_E_CORRUPT, put_le(p + arch, (1u << 20) + 1, 8));
    MODEL_CASE("hidden 0", HOSM_E_CORRUPT, put_le(p + arch + 8, 0, 8));
    MODEL_CASE("depth 65", HOSM_E_CORRUPT, put_le(p + arch + 16, 65, 8));
    MODEL_CASE("act 4", HOSM_E_CORRUPT, put_le(p + arch + 24, 4, 4));
    MODEL_CASE("ARCH reserved 1", HOSM_E_CORRUPT, put_le(p + arch + 28, 1, 4));
    MODEL_CASE("levels 0", HOSM_E_CORRUPT, put_le(p + arch + 32, 0, 8));
    /* format.md: an architecture with "a key outside its config range" is
     * HOSM_E_CORRUPT; sigma_max's range is (0, 1e6]. */
    MODEL_CASE("sigma_max 2e6 (config range (0, 1e6])", HOSM_E_CORRUPT,
               { double d = 2e6; uint64_t u; memcpy(&u, &d, 8); put_le(p + arch + 48, u, 8); });
    MODEL_CASE("sigma NaN", HOSM_E_CORRUPT,
               { double d = NAN; uint64_t u; memcpy(&u, &d, 8); put_le(p + arch + 40, u, 8); });
    MODEL_CASE("seed 2^63", HOSM_E_CORRUPT, put_le(p + arch + 64, (uint64_t)1 << 63, 8));
    MODEL_CASE("threads 0", HOSM_E_CORRUPT, put_le(p + arch + 72, 0, 8));
    MODEL_CASE("nparams + 1", HOSM_E_CORRUPT,
               put_le(p + arch + 80, get_le(p + arch + 80, 8) + 1, 8));
    MODEL_CASE("level 1 equal to level 0", HOSM_E_CORRUPT,
               memcpy(p + arch + 96, p + arch + 88, 8));
    MODEL_CASE("a noise level negative", HOSM_E_CORRUPT, p[arch + 88 + 7] |= 0x80);
    MODEL_CASE("a parameter NaN", HOSM_E_CORRUPT, put_le(p + prm + 16 + 8, 0x7FC00000u, 4));
    MODEL_CASE("a parameter +Inf", HOSM_E_CORRUPT, put_le(p + prm + 16, 0x7F800000u, 4));
    MODEL_CASE("PRM1 tag unknown", HOSM_E_CORRUPT, p[prm] = 'X');
    MODEL_CASE("ARCH tag unknown", HOSM_E_CORRUPT, p[24] = 'X');
    MODEL_CASE("PRM1 before ARCH (tags swapped)", HOSM_E_CORRUPT,
               { memcpy(p + 24, "PRM1", 4); memcpy(p + prm, "ARCH", 4); });
    MODEL_CASE("sections reordered: PRM1, then ARCH (allowed)", HOSM_OK, {
        const int64_t alen = prm - 24, plen = n_ - 4 - prm;
        uint8_t *tmp = xmalloc((size_t)(alen + plen));
        memcpy(tmp, p + prm, (size_t)plen);
        memcpy(tmp + plen, p + 24, (size_t)alen);
        memcpy(p + 24, tmp, (size_t)(alen + plen));
        free(tmp);
    });
    MODEL_CASE("section header reserved field 1", HOSM_E_CORRUPT, put_le(p + prm + 4, 1, 4));
    MODEL_CASE("ARCH length + 8 (overlaps PRM1)", HOSM_E_CORRUPT,
               put_le(p + 32, get_le(p + 32, 8) + 8, 8));
    MODEL_CASE("PRM1 length - 4", HOSM_E_CORRUPT,
               put_le(p + prm + 8, get_le(p + prm + 8, 8) - 4, 8));
    MODEL_CASE("PRM1 length 2^64 - 1", HOSM_E_CORRUPT, put_le(p + prm + 8, UINT64_MAX, 8));
    MODEL_CASE("4 trailing bytes inside the size", HOSM_E_CORRUPT,
               { memmove(p + n_, p + n_ - 4, 4); put_le(p + n_ - 4, 0, 4); n_ += 4; });
    MODEL_CASE("a third, unknown section", HOSM_E_CORRUPT, {
        memcpy(p + n_ - 4, "XTRA", 4);
        put_le(p + n_, 0, 4);
        put_le(p + n_ + 4, 0, 8);
        n_ += 16;
        put_le(p + 12, 3, 4);
    });
    MODEL_CASE("PRM1 repeated", HOSM_E_CORRUPT, {
        const int64_t plen = 16 + (int64_t)get_le(p + prm + 8, 8);
        memcpy(p + n_ - 4, p + prm, (size_t)plen);
        n_ += plen;
        put_le(p + 12, 3, 4);
    });
#undef MODEL_CASE
    /* The size field itself (the macro above rewrites it). */
    memcpy(p, model, (size_t)msize);
    put_le(p + 16, (uint64_t)msize + 1, 8);
    fix_crc(p, msize);
    EXPECT_ST(load_model_mem(p, msize), HOSM_E_TRUNCATED, "model: size field + 1");
    put_le(p + 16, (uint64_t)msize - 1, 8);
    fix_crc(p, msize);
    EXPECT_ST(load_model_mem(p, msize), HOSM_E_CORRUPT, "model: size field - 1");

    /* Checkpoint sections: ADAM, EMA1, RNG1 after PRM1. */
    const int64_t adam = prm + 16 + (int64_t)get_le(ckpt + prm + 8, 8);
    const int64_t ema = adam + 16 + (int64_t)get_le(ckpt + adam + 8, 8);
    const int64_t rng = ema + 16 + (int64_t)get_le(ckpt + ema + 8, 8);
#define CKPT_CASE(what, want, ...)                                                        \
    do {                                                                                   \
        memcpy(p, ckpt, (size_t)csize);                                                    \
        int64_t n_ = csize;                                                                \
        __VA_ARGS__;                                                                       \
        put_le(p + 16, (uint64_t)n_, 8);                                                   \
        fix_crc(p, n_);                                                                    \
        EXPECT_ST(load_ckpt_mem(v, p, n_), want, "checkpoint: %s", what);                  \
    } while (0)
    CKPT_CASE("unchanged (sanity)", HOSM_OK, (void)0);
    CKPT_CASE("step 2^63", HOSM_E_CORRUPT, put_le(p + adam + 16, (uint64_t)1 << 63, 8));
    CKPT_CASE("a first moment NaN", HOSM_E_CORRUPT, put_le(p + adam + 24, 0x7FC00000u, 4));
    CKPT_CASE("an EMA entry -Inf", HOSM_E_CORRUPT, put_le(p + ema + 16, 0xFF800000u, 4));
    CKPT_CASE("RNG1 repeated", HOSM_E_CORRUPT, {
        memcpy(p + n_ - 4, p + rng, 48);
        n_ += 48;
        put_le(p + 12, 6, 4);
    });
    CKPT_CASE("RNG1 missing", HOSM_E_CORRUPT, { n_ = rng + 4; put_le(p + 12, 4, 4); });
    CKPT_CASE("ARCH repeated in place of ADAM", HOSM_E_CORRUPT, memcpy(p + adam, "ARCH", 4));
    CKPT_CASE("a second moment negative", HOSM_E_CORRUPT,
              put_le(p + adam + 24 + 4 * ((int64_t)get_le(p + adam + 8, 8) - 8) / 8,
                     0xBF800000u, 4));
    CKPT_CASE("RNG1 state all zero", HOSM_E_CORRUPT, memset(p + rng + 16, 0, 32));
    CKPT_CASE("ADAM header reserved field 1", HOSM_E_CORRUPT, put_le(p + adam + 4, 1, 4));
    CKPT_CASE("ADAM length - 8", HOSM_E_MISMATCH,
              put_le(p + adam + 8, get_le(p + adam + 8, 8) - 8, 8));
    CKPT_CASE("RNG1 length 24", HOSM_E_MISMATCH, put_le(p + rng + 8, 24, 8));
    CKPT_CASE("magic of a model file", HOSM_E_FORMAT, memcpy(p, "HOSMMODL", 8));
#undef CKPT_CASE
    free(p);
}

/* 3e: kinds, architectures, paths, random bytes. */
static void wrong_inputs(const uint8_t *model, int64_t msize, const uint8_t *ckpt, int64_t csize,
                         victim *v, const float *data)
{
    const char *mpath = path_in_dir("m.hosm"), *cpath = path_in_dir("c.ckpt");
    write_bytes(mpath, model, msize);
    write_bytes(cpath, ckpt, csize);
    EXPECT_ST(hosm_trainer_load(v->t, mpath), HOSM_E_FORMAT, "model file to hosm_trainer_load");
    CHECK(victim_unchanged(v), "hosm_trainer_load of a model file changed the trainer");
    EXPECT_ST(load_ckpt_mem(v, model, msize), HOSM_E_FORMAT, "model bytes to trainer_load_mem");
    EXPECT_ST(load_model_path(cpath), HOSM_E_FORMAT, "checkpoint to hosm_model_load");
    EXPECT_ST(load_model_mem(ckpt, csize), HOSM_E_FORMAT, "checkpoint to hosm_model_load_mem");
    MUST(hosm_trainer_load(v->t, cpath)); /* the real thing loads */

    /* Checkpoints of other architectures (same D). Each differs from the
     * victim's "hidden=4 depth=1 act=softplus levels=2 sigma_max=1
     * sigma_min=0.1" in one respect. */
    const char *others[] = {
        "hidden=5 depth=1 act=softplus levels=2 sigma_max=1 sigma_min=0.1",  /* P differs */
        "hidden=4 depth=2 act=softplus levels=2 sigma_max=1 sigma_min=0.1",  /* P differs */
        "hidden=4 depth=1 act=tanh levels=2 sigma_max=1 sigma_min=0.1",      /* same P */
        "hidden=4 depth=1 act=softplus levels=2 sigma_max=1 sigma_min=0.2",  /* same P */
        "hidden=4 depth=1 act=softplus levels=3 sigma_max=1 sigma_min=0.1",  /* P differs */
        "hidden=4 depth=1 act=softplus levels=1 sigma=1",                    /* no E */
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        hosm_config *cfg = config(others[i]);
        MUST(hosm_config_parse(cfg, "batch=16 steps=3"));
        hosm_model *m;
        hosm_trainer *t;
        MUST(hosm_model_new(&m, 2, cfg));
        MUST(hosm_trainer_new(&t, m, cfg));
        MUST(hosm_trainer_fit(t, data, 40, NULL, NULL));
        int64_t n;
        MUST(hosm_trainer_save_size(t, &n));
        uint8_t *b = xmalloc((size_t)n);
        MUST(hosm_trainer_save_mem(t, b, n, NULL));
        EXPECT_ST(load_ckpt_mem(v, b, n), HOSM_E_MISMATCH, "checkpoint of '%s'", others[i]);
        MUST(hosm_trainer_save(t, cpath));
        EXPECT_ST(hosm_trainer_load(v->t, cpath), HOSM_E_MISMATCH, "file checkpoint of '%s'",
                  others[i]);
        CHECK(victim_unchanged(v), "a mismatched checkpoint changed the trainer");
        free(b);
        hosm_trainer_free(t);
        hosm_model_free(m);
        hosm_config_free(cfg);
    }
    /* Same architecture, different seed and threads: allowed (format.md). */
    {
        hosm_config *cfg = config("hidden=4 depth=1 act=softplus levels=2 sigma_max=1 "
                                  "sigma_min=0.1 seed=99 threads=2 sigma=0.5");
        hosm_model *m;
        hosm_trainer *t;
        MUST(hosm_model_new(&m, 2, cfg));
        MUST(hosm_trainer_new(&t, m, cfg));
        int64_t n;
        MUST(hosm_trainer_save_size(t, &n));
        uint8_t *b = xmalloc((size_t)n);
        MUST(hosm_trainer_save_mem(t, b, n, NULL));
        EXPECT_ST(load_ckpt_mem(v, b, n), HOSM_OK, "checkpoint with another seed/threads/sigma");
        free(b);
        hosm_trainer_free(t);
        hosm_model_free(m);
        hosm_config_free(cfg);
    }

    /* Paths. */
    const char *missing = path_in_dir("does-not-exist.hosm");
    EXPECT_ST(load_model_path(missing), HOSM_E_IO, "hosm_model_load of a nonexistent path");
    EXPECT_ST(hosm_trainer_load(v->t, missing), HOSM_E_IO,
              "hosm_trainer_load of a nonexistent path");
    EXPECT_ST(load_model_path(g_dir), HOSM_E_IO, "hosm_model_load of a directory");
    EXPECT_ST(hosm_trainer_load(v->t, g_dir), HOSM_E_IO, "hosm_trainer_load of a directory");
    const char *nodir = path_in_dir("no-such-dir/x.hosm");
    EXPECT_ST(hosm_model_save(v->m, nodir), HOSM_E_IO, "hosm_model_save into a missing directory");
    EXPECT_ST(hosm_trainer_save(v->t, nodir), HOSM_E_IO,
              "hosm_trainer_save into a missing directory");
    CHECK(victim_unchanged(v), "failed path operations changed the trainer");

    /* Random bytes (not starting with "HOSM"), of several lengths. */
    trng r = {2024};
    const int64_t lens[] = {1, 8, 28, 100, 5000};
    const char *rpath = path_in_dir("random.bin");
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *b = xmalloc((size_t)lens[i]);
        for (int64_t j = 0; j < lens[i]; j++)
            b[j] = (uint8_t)trng_next(&r);
        b[0] = 'X'; /* not a prefix of any magic */
        write_bytes(rpath, b, lens[i]);
        EXPECT_ST(load_model_path(rpath), HOSM_E_FORMAT, "model: %lld random bytes",
                  (long long)lens[i]);
        EXPECT_ST(hosm_trainer_load(v->t, rpath), HOSM_E_FORMAT, "checkpoint: %lld random bytes",
                  (long long)lens[i]);
        EXPECT_ST(load_model_mem(b, lens[i]), HOSM_E_FORMAT, "model mem: %lld random bytes",
                  (long long)lens[i]);
        EXPECT_ST(load_ckpt_mem(v, b, lens[i]), HOSM_E_FORMAT, "ckpt mem: %lld random bytes",
                  (long long)lens[i]);
        free(b);
    }
    CHECK(victim_unchanged(v), "failed loads changed the trainer");
    unlink(mpath);
    unlink(cpath);
    unlink(rpath);
}

#define DATA_N 200

int main(void)
{
    const double t0 = now_seconds();
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/hosm-test-files-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        printf("FATAL: mkdtemp failed\n");
        return 1;
    }

    test_round_trip();
    test_settings_round_trip();

    /* The data the checkpoint tests used to draw first (same seed, same
     * points), so that the damaged trainer is the one it always was. */
    float *data = xmalloc(DATA_N * 2 * sizeof *data);
    trng r = {8};
    for (int i = 0; i < DATA_N * 2; i++)
        data[i] = (float)trng_normal(&r);

    /* A small model and a trained trainer to damage. */
    hosm_config *cfg = config("hidden=4 depth=1 act=softplus levels=2 sigma_max=1 "
                              "sigma_min=0.1 batch=16 steps=5 seed=4");
    victim v = {0};
    MUST(hosm_model_new(&v.m, 2, cfg));
    MUST(hosm_trainer_new(&v.t, v.m, cfg));
    {
        /* The file base's settings, so that
         * the files hold no CNFG section and the targeted damage below finds
         * ADAM right after PRM1; the damage to CNFG is in "model with
         * settings" and tests/model/test_s2_files.c. */
        hosm_config *defaults = config(FILE_BASE);
        MUST(hosm_model_set_config(v.m, defaults));
        hosm_config_free(defaults);
    }
    MUST(hosm_trainer_fit(v.t, data, 40, NULL, NULL));
    victim_snapshot(&v);
    int64_t msize;
    MUST(hosm_model_save_size(v.m, &msize));
    uint8_t *model = xmalloc((size_t)msize);
    MUST(hosm_model_save_mem(v.m, model, msize, NULL));
    printf("     damage tests: model file %lld bytes, checkpoint %lld bytes\n", (long long)msize,
           (long long)v.size);

    {
        hosm_config *c2 = config("hidden=3 depth=1 levels=2 sigma_max=1 sigma_min=0.1 s2=diag");
        hosm_model *m2;
        MUST(hosm_model_new(&m2, 2, c2));
        int64_t n2;
        MUST(hosm_model_save_size(m2, &n2));
        uint8_t *b2 = xmalloc((size_t)n2);
        MUST(hosm_model_save_mem(m2, b2, n2, NULL));
        flip_all("model with s2", b2, n2, NULL);
        truncate_all("model with s2", b2, n2, NULL);
        free(b2);
        /* A model with settings (a CNFG section, format version 3). */
        hosm_config *c3 = config("hidden=3 depth=1 levels=2 sigma_max=1 sigma_min=0.1 "
                                 "lr=0.003 sampler=ozaki step_size=0.02");
        hosm_model *m3;
        MUST(hosm_model_new(&m3, 2, c3));
        MUST(hosm_model_save_size(m3, &n2));
        b2 = xmalloc((size_t)n2);
        MUST(hosm_model_save_mem(m3, b2, n2, NULL));
        flip_all("model with settings", b2, n2, NULL);
        truncate_all("model with settings", b2, n2, NULL);
        flip_all_fixed("model with settings", b2, n2, NULL);
        free(b2);
        hosm_model_free(m3);
        hosm_config_free(c3);
        hosm_model_free(m2);
        hosm_config_free(c2);
    }
    flip_all("model", model, msize, NULL);
    flip_all("checkpoint", v.state, v.size, &v);
    truncate_all("model", model, msize, NULL);
    truncate_all("checkpoint", v.state, v.size, &v);
    flip_all_fixed("model", model, msize, NULL);
    flip_all_fixed("checkpoint", v.state, v.size, &v);
    targeted(model, msize, v.state, v.size, &v, 2);
    wrong_inputs(model, msize, v.state, v.size, &v, data);

    free(model);
    free(v.state);
    hosm_trainer_free(v.t);
    hosm_model_free(v.m);
    hosm_config_free(cfg);
    free(data);
    CHECK(count_dir_entries() == 0, "%d files left in %s", count_dir_entries(), g_dir);
    rmdir(g_dir);
    printf("time %.2f s\n", now_seconds() - t0);
    return finish("test_files");
}
