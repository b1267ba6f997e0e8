/* Every bad argument of the second-order API, with its exact status and a
 * detailed message, and the second-order config keys.
 *
 * Functions: hosm_model_hessian, _hessian_diag, _hessian_factors, _hvp,
 * _score_jacobian, _score_jacobian_diag, _posterior_cov, _posterior_var,
 * _posterior_topk, _s2_structure. For each one and one fault at a time (every
 * other argument valid): NULL model, NULL x, NULL outputs (each), NULL v,
 * level -1 and L, n = -1 and 2^62, NaN and +Inf in x and in v, k = 0, -1,
 * D + 1, clamp = 2 and -1, symmetrize = 2 and -1, a model with s2 = none
 * (HOSM_E_UNSUPPORTED for every s2 query, HOSM_OK for the Jacobians), the
 * factors of a diag or full s2 (HOSM_E_UNSUPPORTED). Each failure must
 * return the exact status, leave the outputs untouched and leave a message
 * in hosm_last_errmsg() that names the function (so it is this call's).
 * n = 0 with NULL buffers is HOSM_OK. A rank above D is capped at D: the
 * model is created (HOSM_OK), hosm_model_s2_structure reports D, and the
 * model equals one created with rank = D.
 *
 * Config keys: names, types, bounds and defaults of s2, rank, s2_hidden,
 * s2_depth, s2_objective, w1, freeze_s1; out-of-range, wrong-type and
 * non-finite values; the text names s2=none|diag|lowrank|full and
 * s2_objective=d2sm|d2sm_vr (and their integer values), unknown names. */
#include <limits.h>

#include "../test_util.h"

#define D 3
#define NPT 2

typedef enum {
    F_HESSIAN,
    F_HESSIAN_DIAG,
    F_FACTORS,
    F_HVP,
    F_JACOBIAN,
    F_JACOBIAN_DIAG,
    F_COV,
    F_VAR,
    F_TOPK,
    F_COUNT
} fn_id;

static const char *const fn_name[F_COUNT] = {
    "hosm_model_hessian",        "hosm_model_hessian_diag", "hosm_model_hessian_factors",
    "hosm_model_hvp",            "hosm_model_score_jacobian", "hosm_model_score_jacobian_diag",
    "hosm_model_posterior_cov",  "hosm_model_posterior_var", "hosm_model_posterior_topk"};

typedef struct {
    const hosm_model *model;
    int64_t level, n, k;
    int clamp, symmetrize;
    const float *x, *v;
    float *out, *out2;
} call_args;

static int call(fn_id f, const call_args *a)
{
    switch (f) {
    case F_HESSIAN: return hosm_model_hessian(a->model, a->level, a->x, a->n, a->out);
    case F_HESSIAN_DIAG: return hosm_model_hessian_diag(a->model, a->level, a->x, a->n, a->out);
    case F_FACTORS:
        return hosm_model_hessian_factors(a->model, a->level, a->x, a->n, a->out, a->out2);
    case F_HVP: return hosm_model_hvp(a->model, a->level, a->x, a->v, a->n, a->out);
    case F_JACOBIAN:
        return hosm_model_score_jacobian(a->model, a->level, a->x, a->n, a->symmetrize, a->out);
    case F_JACOBIAN_DIAG:
        return hosm_model_score_jacobian_diag(a->model, a->level, a->x, a->n, a->out);
    case F_COV: return hosm_model_posterior_cov(a->model, a->level, a->x, a->n, a->clamp, a->out);
    case F_VAR: return hosm_model_posterior_var(a->model, a->level, a->x, a->n, a->clamp, a->out);
    case F_TOPK:
        return hosm_model_posterior_topk(a->model, a->level, a->x, a->n, a->k, a->clamp, a->out,
                                         a->out2);
    default: return 1000;
    }
}

/* Output buffers, large enough for every function at NPT points, filled with
 * a sentinel so that writes on failure are seen. */
#define OUT_FLOATS (NPT * D * D)
static float out_a[OUT_FLOATS], out_b[OUT_FLOATS];
static const float SENTINEL = 12345.0f;

static void fill_sentinel(void)
{
    for (int i = 0; i < OUT_FLOATS; i++)
        out_a[i] = out_b[i] = SENTINEL;
}

static int untouched(void)
{
    for (int i = 0; i < OUT_FLOATS; i++)
        if (out_a[i] != SENTINEL || out_b[i] != SENTINEL)
            return 0;
    return 1;
}

static int n_cases = 0;

/* One call with one fault: exact status; on failure a message naming the
 * function and untouched outputs. */
static void expect(fn_id f, const call_args *a, int want, const char *fault)
{
    fill_sentinel();
    n_cases++;
    int st = call(f, a);
    const char *msg = hosm_last_errmsg();
    if (want == HOSM_OK) {
        CHECK(st == HOSM_OK, "%s, %s: status %d (%s: %s), expected HOSM_OK", fn_name[f], fault, st,
              hosm_strerror(st), msg);
        return;
    }
    CHECK(st == want, "%s, %s: status %d (%s), expected %d (%s); message '%s'", fn_name[f], fault,
          st, hosm_strerror(st), want, hosm_strerror(want), msg);
    CHECK(msg[0] != 0 && strstr(msg, fn_name[f]) != NULL,
          "%s, %s: the message '%s' does not name the function", fn_name[f], fault, msg);
    CHECK(untouched(), "%s, %s: a failed call wrote to an output", fn_name[f], fault);
}

static hosm_model *new_model(int s2, int64_t rank)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=4 depth=2 levels=3 sigma_max=1 sigma_min=0.1"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_RANK, rank));
    hosm_model *m;
    MUST(hosm_model_new(&m, D, cfg));
    hosm_config_free(cfg);
    return m;
}

static int is_s2_query(fn_id f)
{
    return f != F_JACOBIAN && f != F_JACOBIAN_DIAG;
}

static void check_function(fn_id f, const hosm_model *lowrank, const hosm_model *diag,
                           const hosm_model *full, const hosm_model *none)
{
    static const float x_ok[NPT * D] = {0.1f, -0.2f, 0.3f, 1.0f, 0.5f, -0.7f};
    static const float v_ok[NPT * D] = {1.0f, 2.0f, -1.0f, 0.5f, 0.0f, 0.25f};
    float x_bad[NPT * D], v_bad[NPT * D];
    const call_args ok = {lowrank, 1, NPT, 2, 1, 1, x_ok, v_ok, out_a, out_b};
    call_args a;

    /* The valid call succeeds (so each fault below is the only one). */
    expect(f, &ok, HOSM_OK, "valid arguments");
    a = ok;
    a.model = NULL;
    expect(f, &a, HOSM_E_NULL, "model = NULL");
    a = ok;
    a.x = NULL;
    expect(f, &a, HOSM_E_NULL, "x = NULL");
    a = ok;
    a.out = NULL;
    expect(f, &a, HOSM_E_NULL, "out = NULL");
    if (f == F_FACTORS || f == F_TOPK) {
        a = ok;
        a.out2 = NULL;
        expect(f, &a, HOSM_E_NULL, "second output = NULL");
    }
    a = ok;
    a.level = -1;
    expect(f, &a, HOSM_E_ARG, "level = -1");
    a = ok;
    a.level = 3;
    expect(f, &a, HOSM_E_ARG, "level = L");
    a = ok;
    a.n = -1;
    expect(f, &a, HOSM_E_ARG, "n = -1");
    a = ok;
    a.n = (int64_t)1 << 62;
    expect(f, &a, HOSM_E_ARG, "n = 2^62");
    const float bad_values[2] = {NAN, INFINITY};
    const char *const bad_names[2] = {"NaN in x", "+Inf in x"};
    for (int b = 0; b < 2; b++) {
        memcpy(x_bad, x_ok, sizeof x_bad);
        x_bad[D + 1] = bad_values[b]; /* in the second point */
        a = ok;
        a.x = x_bad;
        expect(f, &a, HOSM_E_NONFINITE, bad_names[b]);
    }
    if (f == F_HVP) {
        a = ok;
        a.v = NULL;
        expect(f, &a, HOSM_E_NULL, "v = NULL");
        const char *const vnames[2] = {"NaN in v", "+Inf in v"};
        for (int b = 0; b < 2; b++) {
            memcpy(v_bad, v_ok, sizeof v_bad);
            v_bad[2 * D - 1] = bad_values[b];
            a = ok;
            a.v = v_bad;
            expect(f, &a, HOSM_E_NONFINITE, vnames[b]);
        }
    }
    if (f == F_TOPK) {
        const int64_t ks[3] = {0, -1, D + 1};
        const char *const kn[3] = {"k = 0", "k = -1", "k = D + 1"};
        for (int j = 0; j < 3; j++) {
            a = ok;
            a.k = ks[j];
            expect(f, &a, HOSM_E_ARG, kn[j]);
        }
        a = ok;
        a.k = D;
        expect(f, &a, HOSM_OK, "k = D");
    }
    if (f == F_COV || f == F_VAR || f == F_TOPK) {
        a = ok;
        a.clamp = 2;
        expect(f, &a, HOSM_E_ARG, "clamp = 2");
        a = ok;
        a.clamp = -1;
        expect(f, &a, HOSM_E_ARG, "clamp = -1");
        a = ok;
        a.clamp = 0;
        expect(f, &a, HOSM_OK, "clamp = 0");
    }
    if (f == F_JACOBIAN) {
        a = ok;
        a.symmetrize = 2;
        expect(f, &a, HOSM_E_ARG, "symmetrize = 2");
        a = ok;
        a.symmetrize = -1;
        expect(f, &a, HOSM_E_ARG, "symmetrize = -1");
        a = ok;
        a.symmetrize = 0;
        expect(f, &a, HOSM_OK, "symmetrize = 0");
    }
    /* Structures. */
    a = ok;
    a.model = none;
    expect(f, &a, is_s2_query(f) ? HOSM_E_UNSUPPORTED : HOSM_OK, "a model with s2 = none");
    a.model = diag;
    expect(f, &a, f == F_FACTORS ? HOSM_E_UNSUPPORTED : HOSM_OK, "a model with s2 = diag");
    a.model = full;
    expect(f, &a, f == F_FACTORS ? HOSM_E_UNSUPPORTED : HOSM_OK, "a model with s2 = full");
    /* Nothing to do. */
    a = ok;
    a.n = 0;
    a.x = a.v = NULL;
    a.out = a.out2 = NULL;
    expect(f, &a, HOSM_OK, "n = 0, every buffer NULL");
}

static void check_structure_and_rank(void)
{
    hosm_model *m = new_model(HOSM_S2_LOWRANK, 4096);
    int s2 = -1;
    int64_t r = -1;
    CHECK(hosm_model_s2_structure(m, &s2, &r) == HOSM_OK && s2 == HOSM_S2_LOWRANK && r == D,
          "rank 4096 > D: structure %d rank %lld, expected lowrank and %d", s2, (long long)r, D);
    hosm_model *m3 = new_model(HOSM_S2_LOWRANK, D);
    int64_t p, p3;
    MUST(hosm_model_num_params(m, &p));
    MUST(hosm_model_num_params(m3, &p3));
    CHECK(p == p3, "rank 4096 capped: %lld parameters, rank D gives %lld", (long long)p,
          (long long)p3);
    /* Same initial weights too (capping happens before the network is built). */
    if (p == p3) {
        float *a = xmalloc((size_t)p * sizeof *a), *b = xmalloc((size_t)p * sizeof *b);
        MUST(hosm_model_get_params(m, a, p));
        MUST(hosm_model_get_params(m3, b, p3));
        CHECK(memcmp(a, b, (size_t)p * sizeof *a) == 0, "rank 4096 capped: weights differ");
        free(a);
        free(b);
    }
    float u[NPT * D * D], d[NPT * D];
    static const float x[NPT * D] = {0.1f, -0.2f, 0.3f, 1.0f, 0.5f, -0.7f};
    CHECK(hosm_model_hessian_factors(m, 0, x, NPT, u, d) == HOSM_OK,
          "factors with a capped rank failed: %s", hosm_last_errmsg());
    hosm_model_free(m3);
    hosm_model_free(m);
    /* Other structures report rank 0; NULL outputs are allowed. */
    const int structs[3] = {HOSM_S2_NONE, HOSM_S2_DIAG, HOSM_S2_FULL};
    for (int i = 0; i < 3; i++) {
        hosm_model *q = new_model(structs[i], 2);
        CHECK(hosm_model_s2_structure(q, &s2, &r) == HOSM_OK && s2 == structs[i] && r == 0,
              "structure %d: reported %d rank %lld", structs[i], s2, (long long)r);
        CHECK(hosm_model_s2_structure(q, NULL, NULL) == HOSM_OK, "NULL outputs rejected");
        hosm_model_free(q);
    }
    /* Adding an s2 network leaves s1's initial weights as they were. */
    {
        hosm_model *a = new_model(HOSM_S2_NONE, 1), *b = new_model(HOSM_S2_FULL, 1);
        int64_t pa, pb;
        MUST(hosm_model_num_params(a, &pa));
        MUST(hosm_model_num_params(b, &pb));
        float *wa = xmalloc((size_t)pa * sizeof *wa), *wb = xmalloc((size_t)pb * sizeof *wb);
        MUST(hosm_model_get_params(a, wa, pa));
        MUST(hosm_model_get_params(b, wb, pb));
        CHECK(pb > pa && memcmp(wa, wb, (size_t)pa * sizeof *wa) == 0,
              "the s1 block of a model with s2 differs from the same model without s2");
        free(wa);
        free(wb);
        hosm_model_free(a);
        hosm_model_free(b);
    }
    int st = hosm_model_s2_structure(NULL, &s2, &r);
    CHECK(st == HOSM_E_NULL && strstr(hosm_last_errmsg(), "hosm_model_s2_structure"),
          "s2_structure(NULL): %d '%s'", st, hosm_last_errmsg());
    n_cases += 6;
}

/* ---- config keys ---- */

static void check_keys(void)
{
    struct {
        int key;
        const char *name;
        int type;
        double lo, hi, def;
    } k[] = {
        {HOSM_KEY_S2, "s2", HOSM_TYPE_INT, 0, 3, HOSM_S2_NONE},
        {HOSM_KEY_RANK, "rank", HOSM_TYPE_INT, 1, 4096, 50},
        {HOSM_KEY_S2_HIDDEN, "s2_hidden", HOSM_TYPE_INT, 0, 65536, 0},
        {HOSM_KEY_S2_DEPTH, "s2_depth", HOSM_TYPE_INT, 0, 64, 0},
        {HOSM_KEY_S2_OBJECTIVE, "s2_objective", HOSM_TYPE_INT, 0, 1, HOSM_OBJ_D2SM},
        {HOSM_KEY_W1, "w1", HOSM_TYPE_DOUBLE, 0, 1e6, 1.0},
        {HOSM_KEY_FREEZE_S1, "freeze_s1", HOSM_TYPE_INT, 0, 1, 0},
    };
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        int key = -1, type = -1;
        const char *nm = hosm_config_key_name(k[i].key);
        CHECK(nm && strcmp(nm, k[i].name) == 0, "key %d: name '%s', expected '%s'", k[i].key,
              nm ? nm : "(null)", k[i].name);
        CHECK(hosm_config_key_from_name(k[i].name, &key) == HOSM_OK && key == k[i].key,
              "name '%s': key %d, expected %d", k[i].name, key, k[i].key);
        CHECK(hosm_config_key_type(k[i].key, &type) == HOSM_OK && type == k[i].type,
              "'%s': type %d", k[i].name, type);
        if (k[i].type == HOSM_TYPE_INT) {
            int64_t lo, hi, def, v;
            CHECK(hosm_config_int_bounds(k[i].key, &lo, &hi, &def) == HOSM_OK &&
                      lo == (int64_t)k[i].lo && hi == (int64_t)k[i].hi &&
                      def == (int64_t)k[i].def,
                  "'%s': bounds [%lld, %lld] default %lld", k[i].name, (long long)lo,
                  (long long)hi, (long long)def);
            CHECK(hosm_config_get_int(cfg, k[i].key, &v) == HOSM_OK && v == (int64_t)k[i].def,
                  "'%s': a new config holds %lld", k[i].name, (long long)v);
            const int64_t bad[3] = {(int64_t)k[i].lo - 1, (int64_t)k[i].hi + 1, INT64_MIN};
            for (int b = 0; b < 3; b++) {
                int st = hosm_config_set_int(cfg, k[i].key, bad[b]);
                CHECK(st == HOSM_E_RANGE && strstr(hosm_last_errmsg(), k[i].name),
                      "'%s' = %lld: status %d, message '%s'", k[i].name, (long long)bad[b], st,
                      hosm_last_errmsg());
            }
            CHECK(hosm_config_get_int(cfg, k[i].key, &v) == HOSM_OK && v == (int64_t)k[i].def,
                  "'%s': a rejected value changed the key", k[i].name);
            CHECK(hosm_config_set_int(cfg, k[i].key, (int64_t)k[i].lo) == HOSM_OK &&
                      hosm_config_set_int(cfg, k[i].key, (int64_t)k[i].hi) == HOSM_OK &&
                      hosm_config_set_int(cfg, k[i].key, (int64_t)k[i].def) == HOSM_OK,
                  "'%s': a bound was rejected", k[i].name);
            int st = hosm_config_set_double(cfg, k[i].key, 1.0);
            CHECK(st == HOSM_E_TYPE, "'%s' set as double: status %d", k[i].name, st);
            n_cases += 5;
        } else {
            double lo, hi, def, v;
            CHECK(hosm_config_double_bounds(k[i].key, &lo, &hi, &def) == HOSM_OK &&
                      lo == k[i].lo && hi == k[i].hi && def == k[i].def,
                  "'%s': bounds [%g, %g] default %g", k[i].name, lo, hi, def);
            CHECK(hosm_config_get_double(cfg, k[i].key, &v) == HOSM_OK && v == k[i].def,
                  "'%s': a new config holds %g", k[i].name, v);
            const double bad[5] = {-1e-300, nextafter(k[i].hi, INFINITY), NAN, INFINITY,
                                   -INFINITY};
            for (int b = 0; b < 5; b++) {
                int st = hosm_config_set_double(cfg, k[i].key, bad[b]);
                CHECK(st == HOSM_E_RANGE && strstr(hosm_last_errmsg(), k[i].name),
                      "'%s' = %g: status %d, message '%s'", k[i].name, bad[b], st,
                      hosm_last_errmsg());
            }
            CHECK(hosm_config_set_double(cfg, k[i].key, 0.0) == HOSM_OK &&
                      hosm_config_set_double(cfg, k[i].key, k[i].hi) == HOSM_OK &&
                      hosm_config_set_double(cfg, k[i].key, k[i].def) == HOSM_OK,
                  "'%s': a bound was rejected", k[i].name);
            int st = hosm_config_set_int(cfg, k[i].key, 1);
            CHECK(st == HOSM_E_TYPE, "'%s' set as int: status %d", k[i].name, st);
            n_cases += 7;
        }
    }
    /* Text names. */
    struct {
        const char *text;
        int key;
        int64_t value;
    } names[] = {
        {"s2=none", HOSM_KEY_S2, HOSM_S2_NONE},
        {"s2=diag", HOSM_KEY_S2, HOSM_S2_DIAG},
        {"s2=lowrank", HOSM_KEY_S2, HOSM_S2_LOWRANK},
        {"s2=full", HOSM_KEY_S2, HOSM_S2_FULL},
        {"s2=2", HOSM_KEY_S2, HOSM_S2_LOWRANK},
        {"s2_objective=d2sm", HOSM_KEY_S2_OBJECTIVE, HOSM_OBJ_D2SM},
        {"s2_objective=d2sm_vr", HOSM_KEY_S2_OBJECTIVE, HOSM_OBJ_D2SM_VR},
        {"s2_objective=1", HOSM_KEY_S2_OBJECTIVE, HOSM_OBJ_D2SM_VR},
        {"rank=7", HOSM_KEY_RANK, 7},
        {"s2_hidden=9", HOSM_KEY_S2_HIDDEN, 9},
        {"s2_depth=3", HOSM_KEY_S2_DEPTH, 3},
        {"freeze_s1=1", HOSM_KEY_FREEZE_S1, 1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int64_t v = -1;
        int st = hosm_config_parse(cfg, names[i].text);
        CHECK(st == HOSM_OK && hosm_config_get_int(cfg, names[i].key, &v) == HOSM_OK &&
                  v == names[i].value,
              "parse '%s': status %d, value %lld, expected %lld", names[i].text, st, (long long)v,
              (long long)names[i].value);
        n_cases++;
    }
    double w = 0.0;
    CHECK(hosm_config_parse(cfg, "w1=10") == HOSM_OK &&
              hosm_config_get_double(cfg, HOSM_KEY_W1, &w) == HOSM_OK && w == 10.0,
          "parse 'w1=10': %g", w);
    struct {
        const char *text;
        int want;
        const char *name;
    } bad[] = {
        {"s2=bogus", HOSM_E_RANGE, "s2"},
        {"s2=Full", HOSM_E_RANGE, "s2"},
        {"s2=4", HOSM_E_RANGE, "s2"},
        {"s2=", HOSM_E_PARSE, "s2"},
        {"s2_objective=dsm", HOSM_E_RANGE, "s2_objective"},
        {"s2_objective=d2sm-vr", HOSM_E_RANGE, "s2_objective"},
        {"s2_objective=2", HOSM_E_RANGE, "s2_objective"},
        {"rank=0", HOSM_E_RANGE, "rank"},
        {"rank=4097", HOSM_E_RANGE, "rank"},
        {"rank=2.5", HOSM_E_PARSE, "rank"},
        {"s2_hidden=-1", HOSM_E_RANGE, "s2_hidden"},
        {"s2_depth=65", HOSM_E_RANGE, "s2_depth"},
        {"w1=-1", HOSM_E_RANGE, "w1"},
        {"w1=abc", HOSM_E_PARSE, "w1"},
        {"w1=nan", HOSM_E_RANGE, "w1"},
        {"freeze_s1=2", HOSM_E_RANGE, "freeze_s1"},
        {"freeze_s1=yes", HOSM_E_PARSE, "freeze_s1"},
        {"s2_rank=3", HOSM_E_KEY, "s2_rank"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        MUST(hosm_config_parse(cfg, "s2=full rank=5"));
        /* Valid pairs first: a failure must not apply them. */
        char text[128];
        snprintf(text, sizeof text, "s2=diag rank=2 %s", bad[i].text);
        int st = hosm_config_parse(cfg, text);
        int64_t s2v = -1, rv = -1;
        hosm_config_get_int(cfg, HOSM_KEY_S2, &s2v);
        hosm_config_get_int(cfg, HOSM_KEY_RANK, &rv);
        CHECK(st == bad[i].want && strstr(hosm_last_errmsg(), bad[i].name) != NULL,
              "parse '%s': status %d (%s), expected %d; message '%s'", text, st,
              hosm_strerror(st), bad[i].want, hosm_last_errmsg());
        CHECK(s2v == HOSM_S2_FULL && rv == 5, "parse '%s' failed but changed the config", text);
        n_cases++;
    }
    hosm_config_free(cfg);
}

int main(void)
{
    hosm_model *lowrank = new_model(HOSM_S2_LOWRANK, 2), *diag = new_model(HOSM_S2_DIAG, 1);
    hosm_model *full = new_model(HOSM_S2_FULL, 1), *none = new_model(HOSM_S2_NONE, 1);
    for (int f = 0; f < F_COUNT; f++)
        check_function((fn_id)f, lowrank, diag, full, none);
    check_structure_and_rank();
    check_keys();
    hosm_model_free(lowrank);
    hosm_model_free(diag);
    hosm_model_free(full);
    hosm_model_free(none);
    printf("%d cases\n", n_cases);
    return finish("test_s2_bad_input");
}
