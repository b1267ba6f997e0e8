/* Bad input to every public function: the exact status, a fresh non-empty
 * message (hosm_last_errmsg(); also in the handle for functions that take a
 * non-const handle; naming the key for configuration errors), and no change
 * of state where the documentation promises none. Every case is one row of a
 * table (function, input, result); the same table is docs/bad-input.md, and
 * when the path of that file is given as the first argument the test checks
 * that the two agree row for row. With --table it prints the rows.
 *
 * To tell a fresh message from an old one, every case is preceded by a
 * failure with a known "sentinel" message; after a failing case the message
 * must be non-empty and differ from the sentinel.
 *
 * The second-order queries and the Jacobians (one fault at a time on models
 * of D = 3 with every s2 structure) and the mixture oracle also require the
 * message to name the function (and, where given, the bad key, component,
 * point or problem), and a failed query to leave its outputs untouched.
 * The functions added with the split training step, the sampler sources
 * and kinds, and the wrong-kind handles (HOSM_E_MISUSE: every function that
 * takes a handle, given a real handle of another kind) name the function
 * too; a failed call changes no trainer (its checkpoint bytes, which hold
 * the RNG state, stay the same) and no handle given in the wrong place.
 * Besides the table: the second-order config keys (names, types, bounds,
 * defaults, text names), the capping of a low-rank rank above D, and the
 * threads' own messages. */
#include <float.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "../test_util.h"

/* The table covers the deprecated hosm_mixture_errmsg too. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define D 2
#define NPTS 4

/* ---- the table ----------------------------------------------------------- */

typedef struct {
    char fn[40];
    char input[160];
    char result[48];
} row;

static row *g_rows;
static int g_nrows, g_cap;

static void add_row(const char *fn, const char *input, const char *result)
{
    if (g_nrows == g_cap) {
        g_cap = g_cap ? 2 * g_cap : 256;
        g_rows = realloc(g_rows, (size_t)g_cap * sizeof *g_rows);
        if (!g_rows)
            exit(1);
    }
    row *r = &g_rows[g_nrows++];
    snprintf(r->fn, sizeof r->fn, "%s", fn);
    snprintf(r->input, sizeof r->input, "%s", input);
    snprintf(r->result, sizeof r->result, "%s", result);
}

static const char *status_name(int st)
{
    switch (st) {
    case HOSM_OK: return "HOSM_OK";
    case HOSM_STOPPED: return "HOSM_STOPPED";
    case HOSM_E_NULL: return "HOSM_E_NULL";
    case HOSM_E_ARG: return "HOSM_E_ARG";
    case HOSM_E_KEY: return "HOSM_E_KEY";
    case HOSM_E_RANGE: return "HOSM_E_RANGE";
    case HOSM_E_TYPE: return "HOSM_E_TYPE";
    case HOSM_E_NOMEM: return "HOSM_E_NOMEM";
    case HOSM_E_NONFINITE: return "HOSM_E_NONFINITE";
    case HOSM_E_IO: return "HOSM_E_IO";
    case HOSM_E_FORMAT: return "HOSM_E_FORMAT";
    case HOSM_E_VERSION: return "HOSM_E_VERSION";
    case HOSM_E_CORRUPT: return "HOSM_E_CORRUPT";
    case HOSM_E_TRUNCATED: return "HOSM_E_TRUNCATED";
    case HOSM_E_MISMATCH: return "HOSM_E_MISMATCH";
    case HOSM_E_BUFFER: return "HOSM_E_BUFFER";
    case HOSM_E_PARSE: return "HOSM_E_PARSE";
    case HOSM_E_UNSUPPORTED: return "HOSM_E_UNSUPPORTED";
    case HOSM_E_MISUSE: return "HOSM_E_MISUSE";
    case HOSM_E_CALLBACK: return "HOSM_E_CALLBACK";
    default: return "(unknown)";
    }
}

#define SENTINEL_NAME "sentinel-key-for-messages"

static void sentinel(void)
{
    int k;
    if (hosm_config_key_from_name(SENTINEL_NAME, &k) != HOSM_E_KEY ||
        !strstr(hosm_last_errmsg(), SENTINEL_NAME)) {
        printf("FATAL: the sentinel failure did not set its message\n");
        exit(1);
    }
}

/* Checks one status-returning case and records its row. handle_msg (may be
 * NULL) is the handle's message after the call; name (may be NULL) must
 * appear in the message. */
static void check_case2(const char *fn, const char *input, int want, int got,
                        const char *handle_msg, const char *name, const char *name2,
                        int names_fn, int line)
{
    int ok = got == want;
    if (!ok)
        printf("FAIL line %d: %s(%s): got %s, expected %s [%s]\n", line, fn, input,
               status_name(got), status_name(want), hosm_last_errmsg());
    if (want != HOSM_OK && got == want) {
        const char *m = hosm_last_errmsg();
        if (!m || !m[0] || strstr(m, SENTINEL_NAME)) {
            printf("FAIL line %d: %s(%s): no fresh message (\"%s\")\n", line, fn, input,
                   m ? m : "(null)");
            ok = 0;
        } else {
            if (handle_msg && strcmp(handle_msg, m) != 0) {
                printf("FAIL line %d: %s(%s): the handle's message \"%s\" differs from \"%s\"\n",
                       line, fn, input, handle_msg, m);
                ok = 0;
            }
            const char *names[3] = {name, name2, names_fn ? fn : NULL};
            for (int i = 0; i < 3; i++)
                if (names[i] && !strstr(m, names[i])) {
                    printf("FAIL line %d: %s(%s): the message \"%s\" does not name '%s'\n",
                           line, fn, input, m, names[i]);
                    ok = 0;
                }
        }
    }
    if (!ok)
        g_failures++;
    add_row(fn, input, status_name(want));
}

static void check_case(const char *fn, const char *input, int want, int got,
                       const char *handle_msg, const char *name, int line)
{
    check_case2(fn, input, want, got, handle_msg, name, NULL, 0, line);
}

/* A case: status and fresh message. */
#define CASE(fn, input, want, call)                                            \
    do {                                                                       \
        sentinel();                                                            \
        int got_ = (call);                                                     \
        check_case(fn, input, want, got_, NULL, NULL, __LINE__);               \
    } while (0)
/* ... and the handle's message equals the thread's. */
#define CASE_H(fn, input, want, call, hmsg)                                    \
    do {                                                                       \
        sentinel();                                                            \
        int got_ = (call);                                                     \
        check_case(fn, input, want, got_, (hmsg), NULL, __LINE__);             \
    } while (0)
/* ... and the message names `name`. */
#define CASE_K(fn, input, want, call, hmsg, name)                              \
    do {                                                                       \
        sentinel();                                                            \
        int got_ = (call);                                                     \
        check_case(fn, input, want, got_, (hmsg), (name), __LINE__);           \
    } while (0)
/* ... and the message names the function (and `name`, `name2` if not NULL). */
#define CASE_F(fn, input, want, call, name, name2)                             \
    do {                                                                       \
        sentinel();                                                            \
        int got_ = (call);                                                     \
        check_case2(fn, input, want, got_, NULL, (name), (name2), 1, __LINE__); \
    } while (0)
/* ... and the message names the function, and the handle's message equals
 * the thread's. */
#define CASE_FH(fn, input, want, call, hmsg)                                   \
    do {                                                                       \
        sentinel();                                                            \
        int got_ = (call);                                                     \
        check_case2(fn, input, want, got_, (hmsg), NULL, NULL, 1, __LINE__);   \
    } while (0)
/* A case whose result is not a status. */
#define ROW(fn, input, result, cond)                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            g_failures++;                                                      \
            printf("FAIL line %d: %s(%s): expected %s\n", __LINE__, fn, input, \
                   result);                                                    \
        }                                                                      \
        add_row(fn, input, result);                                            \
    } while (0)

/* ---- fixtures -------------------------------------------------------------- */

static hosm_config *g_cfg;
static hosm_model *g_m, *g_m2, *g_other; /* ladder of 3, s2 = lowrank, another arch */
static hosm_trainer *g_t;
static hosm_sampler *g_s;
static hosm_mixture *g_mix;
static int64_t g_P, g_L = 3;
static float g_x[NPTS * D], g_xnan[NPTS * D], g_xinf[NPTS * D], g_out[64 * NPTS * D];
static const int64_t HUGE_N = (int64_t)1 << 62;

static const char *int_key_fixed_name(int key)
{
    const char *n = hosm_config_key_name(key);
    return n ? n : "?";
}

/* A snapshot of every key of a config, to check that a failure changed
 * nothing. */
typedef struct {
    int64_t iv[1024];
    double dv[1024];
} snapshot;

static void take(const hosm_config *c, snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (int k = 1; k < 1024; k++) {
        int type;
        if (hosm_config_key_type(k, &type) != HOSM_OK)
            continue;
        if (type == HOSM_TYPE_INT)
            MUST(hosm_config_get_int(c, k, &s->iv[k]));
        else
            MUST(hosm_config_get_double(c, k, &s->dv[k]));
    }
}

static int same_snapshot(const snapshot *a, const snapshot *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Keys whose documented range excludes a bound. */
static int open_lo(int key)
{
    return key == HOSM_KEY_SIGMA || key == HOSM_KEY_SIGMA_MAX || key == HOSM_KEY_SIGMA_MIN ||
           key == HOSM_KEY_LR || key == HOSM_KEY_ADAM_EPS || key == HOSM_KEY_STEP_SIZE;
}

static int open_hi(int key)
{
    return key == HOSM_KEY_BETA1 || key == HOSM_KEY_BETA2 || key == HOSM_KEY_EMA;
}

/* ---- versions, messages, free ---------------------------------------------- */

static void *thread_main(void *arg)
{
    (void)arg;
    /* A new thread starts with an empty message, whatever other threads did. */
    int *res = malloc(2 * sizeof *res);
    res[0] = hosm_last_errmsg()[0] == '\0';
    int k;
    hosm_config_key_from_name("thread-only-key", &k);
    res[1] = strstr(hosm_last_errmsg(), "thread-only-key") != NULL;
    return res;
}

static void test_errors_and_free(void)
{
    const int known[] = {HOSM_OK,         HOSM_STOPPED,     HOSM_E_NULL,      HOSM_E_ARG,
                         HOSM_E_KEY,      HOSM_E_RANGE,     HOSM_E_TYPE,      HOSM_E_NOMEM,
                         HOSM_E_NONFINITE, HOSM_E_IO,       HOSM_E_FORMAT,    HOSM_E_VERSION,
                         HOSM_E_CORRUPT,  HOSM_E_TRUNCATED, HOSM_E_MISMATCH,  HOSM_E_BUFFER,
                         HOSM_E_PARSE,    HOSM_E_UNSUPPORTED, HOSM_E_MISUSE, HOSM_E_CALLBACK};
    const char *generic = hosm_strerror(INT_MIN);
    int distinct = generic && generic[0];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = hosm_strerror(known[i]);
        distinct &= s && s[0] && strcmp(s, generic) != 0;
        for (size_t j = 0; j < i; j++)
            distinct &= strcmp(s, hosm_strerror(known[j])) != 0;
    }
    ROW("hosm_strerror", "every code of enum hosm_status", "its own non-empty text", distinct);
    const int unknown[] = {2, -19, 100, -1000, INT_MIN, INT_MAX};
    int generic_ok = 1;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = hosm_strerror(unknown[i]);
        generic_ok &= s != NULL && strcmp(s, generic) == 0;
    }
    ROW("hosm_strerror", "unknown codes (2, -19, 100, -1000, INT_MIN, INT_MAX)",
        "\"unknown status code\"", generic_ok && strcmp(generic, "unknown status code") == 0);

    pthread_t th;
    void *res = NULL;
    sentinel();
    pthread_create(&th, NULL, thread_main, NULL);
    pthread_join(th, &res);
    const int *r = res;
    ROW("hosm_last_errmsg", "in a new thread, after failures in another", "\"\"", r && r[0]);
    CHECK(r && r[1], "a failure in a thread did not set that thread's message");
    CHECK(strstr(hosm_last_errmsg(), SENTINEL_NAME) != NULL,
          "a failure in another thread changed this thread's message");
    free(res);

    const char *kname = NULL;
    CASE("hosm_gemm_kernels_name", "kernels = 2", HOSM_E_ARG, hosm_gemm_kernels_name(2, &kname));
    CASE("hosm_gemm_kernels_name", "kernels = -1", HOSM_E_ARG, hosm_gemm_kernels_name(-1, &kname));
    CASE("hosm_gemm_kernels_name", "name = NULL", HOSM_E_NULL,
         hosm_gemm_kernels_name(HOSM_GEMM_AUTO, NULL));

    hosm_config_free(NULL);
    hosm_model_free(NULL);
    hosm_trainer_free(NULL);
    hosm_sampler_free(NULL);
    hosm_mixture_free(NULL);
    ROW("hosm_config_free", "NULL", "no-op", 1);
    ROW("hosm_model_free", "NULL", "no-op", 1);
    ROW("hosm_trainer_free", "NULL", "no-op", 1);
    ROW("hosm_sampler_free", "NULL", "no-op", 1);
    ROW("hosm_mixture_free", "NULL", "no-op", 1);
    ROW("hosm_config_errmsg", "NULL", "\"\"", hosm_config_errmsg(NULL)[0] == '\0');
    ROW("hosm_model_errmsg", "NULL", "\"\"", hosm_model_errmsg(NULL)[0] == '\0');
    ROW("hosm_trainer_errmsg", "NULL", "\"\"", hosm_trainer_errmsg(NULL)[0] == '\0');
    ROW("hosm_sampler_errmsg", "NULL", "\"\"", hosm_sampler_errmsg(NULL)[0] == '\0');
    ROW("hosm_mixture_errmsg", "NULL", "\"\"", hosm_mixture_errmsg(NULL)[0] == '\0');
}

/* ---- configuration ----------------------------------------------------------- */

static void test_config(void)
{
    hosm_config *c;
    MUST(hosm_config_new(&c));
    int64_t iv;
    double dv;
    int k, type;
    snapshot before, after;

    CASE("hosm_config_new", "out = NULL", HOSM_E_NULL, hosm_config_new(NULL));

    take(c, &before);
    CASE("hosm_config_set_int", "cfg = NULL", HOSM_E_NULL,
         hosm_config_set_int(NULL, HOSM_KEY_HIDDEN, 8));
    CASE_K("hosm_config_set_int", "key 0", HOSM_E_KEY, hosm_config_set_int(c, 0, 1),
           hosm_config_errmsg(c), "0");
    CASE_K("hosm_config_set_int", "key -1", HOSM_E_KEY, hosm_config_set_int(c, -1, 1),
           hosm_config_errmsg(c), "-1");
    CASE_K("hosm_config_set_int", "key 1000", HOSM_E_KEY, hosm_config_set_int(c, 1000, 1),
           hosm_config_errmsg(c), "1000");
    CASE_K("hosm_config_set_int", "key INT_MAX", HOSM_E_KEY, hosm_config_set_int(c, INT_MAX, 1),
           hosm_config_errmsg(c), "2147483647");
    CASE_K("hosm_config_set_int", "a double key (HOSM_KEY_SIGMA)", HOSM_E_TYPE,
           hosm_config_set_int(c, HOSM_KEY_SIGMA, 1), hosm_config_errmsg(c), "sigma");

    CASE("hosm_config_set_double", "cfg = NULL", HOSM_E_NULL,
         hosm_config_set_double(NULL, HOSM_KEY_SIGMA, 1.0));
    CASE_K("hosm_config_set_double", "key 0", HOSM_E_KEY, hosm_config_set_double(c, 0, 1.0),
           hosm_config_errmsg(c), "0");
    CASE_K("hosm_config_set_double", "key 1000", HOSM_E_KEY,
           hosm_config_set_double(c, 1000, 1.0), hosm_config_errmsg(c), "1000");
    CASE_K("hosm_config_set_double", "an int key (HOSM_KEY_HIDDEN)", HOSM_E_TYPE,
           hosm_config_set_double(c, HOSM_KEY_HIDDEN, 8.0), hosm_config_errmsg(c), "hidden");

    /* Every key just outside its range (bounds from the bounds queries). */
    char in[160];
    for (int key = 1; key < 1024; key++) {
        if (hosm_config_key_type(key, &type) != HOSM_OK)
            continue;
        const char *name = int_key_fixed_name(key);
        if (type == HOSM_TYPE_INT) {
            int64_t lo, hi;
            MUST(hosm_config_int_bounds(key, &lo, &hi, NULL));
            if (lo > INT64_MIN) {
                snprintf(in, sizeof in, "\"%s\" = %lld (lowest - 1)", name, (long long)lo - 1);
                CASE_K("hosm_config_set_int", in, HOSM_E_RANGE,
                       hosm_config_set_int(c, key, lo - 1), hosm_config_errmsg(c), name);
            }
            if (hi < INT64_MAX) {
                snprintf(in, sizeof in, "\"%s\" = %lld (highest + 1)", name, (long long)hi + 1);
                CASE_K("hosm_config_set_int", in, HOSM_E_RANGE,
                       hosm_config_set_int(c, key, hi + 1), hosm_config_errmsg(c), name);
            }
            snprintf(in, sizeof in, "\"%s\" = INT64_MIN", name);
            CASE_K("hosm_config_set_int", in, HOSM_E_RANGE,
                   hosm_config_set_int(c, key, INT64_MIN), hosm_config_errmsg(c), name);
            /* The bounds themselves are accepted (not table rows). */
            hosm_config *probe;
            MUST(hosm_config_new(&probe));
            CHECK(hosm_config_set_int(probe, key, lo) == HOSM_OK &&
                      hosm_config_set_int(probe, key, hi) == HOSM_OK,
                  "key %s: a bound of [%lld, %lld] is rejected", name, (long long)lo,
                  (long long)hi);
            hosm_config_free(probe);
        } else {
            double lo, hi;
            MUST(hosm_config_double_bounds(key, &lo, &hi, NULL));
            const double below = open_lo(key) ? lo : nextafter(lo, -INFINITY);
            const double above = open_hi(key) ? hi : nextafter(hi, INFINITY);
            snprintf(in, sizeof in, "\"%s\" = %.17g (%s)", name, below,
                     open_lo(key) ? "the excluded lower bound" : "just below the lowest");
            CASE_K("hosm_config_set_double", in, HOSM_E_RANGE,
                   hosm_config_set_double(c, key, below), hosm_config_errmsg(c), name);
            snprintf(in, sizeof in, "\"%s\" = %.17g (%s)", name, above,
                     open_hi(key) ? "the excluded upper bound" : "just above the highest");
            CASE_K("hosm_config_set_double", in, HOSM_E_RANGE,
                   hosm_config_set_double(c, key, above), hosm_config_errmsg(c), name);
            const double special[3] = {NAN, INFINITY, -INFINITY};
            const char *sname[3] = {"NaN", "+Inf", "-Inf"};
            for (int i = 0; i < 3; i++) {
                snprintf(in, sizeof in, "\"%s\" = %s", name, sname[i]);
                CASE_K("hosm_config_set_double", in, HOSM_E_RANGE,
                       hosm_config_set_double(c, key, special[i]), hosm_config_errmsg(c), name);
            }
            hosm_config *probe;
            MUST(hosm_config_new(&probe));
            const double in_lo = open_lo(key) ? nextafter(lo, INFINITY) : lo;
            const double in_hi = open_hi(key) ? nextafter(hi, -INFINITY) : hi;
            CHECK(hosm_config_set_double(probe, key, in_lo) == HOSM_OK &&
                      hosm_config_set_double(probe, key, in_hi) == HOSM_OK,
                  "key %s: %.17g or %.17g (inside its range) is rejected", name, in_lo, in_hi);
            hosm_config_free(probe);
        }
    }
    take(c, &after);
    CHECK(same_snapshot(&before, &after), "a failed hosm_config_set_* changed the config");

    CASE("hosm_config_get_int", "cfg = NULL", HOSM_E_NULL,
         hosm_config_get_int(NULL, HOSM_KEY_HIDDEN, &iv));
    CASE("hosm_config_get_int", "out = NULL", HOSM_E_NULL,
         hosm_config_get_int(c, HOSM_KEY_HIDDEN, NULL));
    CASE_K("hosm_config_get_int", "key 1000", HOSM_E_KEY, hosm_config_get_int(c, 1000, &iv),
           NULL, "1000");
    CASE_K("hosm_config_get_int", "a double key (HOSM_KEY_SIGMA)", HOSM_E_TYPE,
           hosm_config_get_int(c, HOSM_KEY_SIGMA, &iv), NULL, "sigma");
    CASE("hosm_config_get_double", "cfg = NULL", HOSM_E_NULL,
         hosm_config_get_double(NULL, HOSM_KEY_SIGMA, &dv));
    CASE("hosm_config_get_double", "out = NULL", HOSM_E_NULL,
         hosm_config_get_double(c, HOSM_KEY_SIGMA, NULL));
    CASE_K("hosm_config_get_double", "key 1000", HOSM_E_KEY,
           hosm_config_get_double(c, 1000, &dv), NULL, "1000");
    CASE_K("hosm_config_get_double", "an int key (HOSM_KEY_HIDDEN)", HOSM_E_TYPE,
           hosm_config_get_double(c, HOSM_KEY_HIDDEN, &dv), NULL, "hidden");

    /* Text form: nothing changes on failure, and the message names the key
     * (or the offending token). */
    MUST(hosm_config_set_int(c, HOSM_KEY_HIDDEN, 8));
    take(c, &before);
    CASE("hosm_config_parse", "cfg = NULL", HOSM_E_NULL, hosm_config_parse(NULL, "hidden=3"));
    CASE_H("hosm_config_parse", "text = NULL", HOSM_E_NULL, hosm_config_parse(c, NULL),
           hosm_config_errmsg(c));
    static const struct {
        const char *text, *name;
        int want;
    } parse_cases[] = {
        {"hidden", "hidden", HOSM_E_PARSE},
        {"=3", "=3", HOSM_E_PARSE},
        {"hidden=", "hidden", HOSM_E_PARSE},
        {"hidden==3", "hidden", HOSM_E_PARSE},
        {"hidden=abc", "hidden", HOSM_E_PARSE},
        {"hidden=3x", "hidden", HOSM_E_PARSE},
        {"hidden=1e3", "hidden", HOSM_E_PARSE},
        {"hidden=99999999999999999999", "hidden", HOSM_E_PARSE},
        {"hidden=0", "hidden", HOSM_E_RANGE},
        {"hidden=-1", "hidden", HOSM_E_RANGE},
        {"hidden=65537", "hidden", HOSM_E_RANGE},
        {"act=relu", "act", HOSM_E_RANGE},
        {"act=4", "act", HOSM_E_RANGE},
        {"act=", "act", HOSM_E_PARSE},
        {"sigma=abc", "sigma", HOSM_E_PARSE},
        {"sigma=0", "sigma", HOSM_E_RANGE},
        {"sigma=-0.1", "sigma", HOSM_E_RANGE},
        {"sigma=nan", "sigma", HOSM_E_RANGE},
        {"sigma=inf", "sigma", HOSM_E_RANGE},
        {"sigma=1e999", "sigma", HOSM_E_RANGE},
        {"sigma=1e-400", "sigma", HOSM_E_RANGE},
        {"nosuchkey=1", "nosuchkey", HOSM_E_KEY},
        {"HIDDEN=3", "HIDDEN", HOSM_E_KEY},
        {"hidden=16 depth=0", "depth", HOSM_E_RANGE},
        {"hidden=16 depth", "depth", HOSM_E_PARSE},
        {"hidden=16 nosuchkey=1 depth=3", "nosuchkey", HOSM_E_KEY},
        /* Second-order keys, after valid pairs that must not be applied. */
        {"s2=diag rank=2 s2=bogus", "s2", HOSM_E_RANGE},
        {"s2=diag rank=2 s2=Full", "s2", HOSM_E_RANGE},
        {"s2=diag rank=2 s2=4", "s2", HOSM_E_RANGE},
        {"s2=diag rank=2 s2=", "s2", HOSM_E_PARSE},
        {"s2=diag rank=2 s2_objective=dsm", "s2_objective", HOSM_E_RANGE},
        {"s2=diag rank=2 s2_objective=d2sm-vr", "s2_objective", HOSM_E_RANGE},
        {"s2=diag rank=2 s2_objective=5", "s2_objective", HOSM_E_RANGE},
        {"s2=diag rank=2 rank=0", "rank", HOSM_E_RANGE},
        {"s2=diag rank=2 rank=4097", "rank", HOSM_E_RANGE},
        {"s2=diag rank=2 rank=2.5", "rank", HOSM_E_PARSE},
        {"s2=diag rank=2 s2_hidden=-1", "s2_hidden", HOSM_E_RANGE},
        {"s2=diag rank=2 s2_depth=65", "s2_depth", HOSM_E_RANGE},
        {"s2=diag rank=2 w1=-1", "w1", HOSM_E_RANGE},
        {"s2=diag rank=2 w1=abc", "w1", HOSM_E_PARSE},
        {"s2=diag rank=2 w1=nan", "w1", HOSM_E_RANGE},
        {"s2=diag rank=2 freeze_s1=2", "freeze_s1", HOSM_E_RANGE},
        {"s2=diag rank=2 freeze_s1=yes", "freeze_s1", HOSM_E_PARSE},
        {"s2=diag rank=2 s2_rank=3", "s2_rank", HOSM_E_KEY},
    };
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        snprintf(in, sizeof in, "\"%s\"", parse_cases[i].text);
        CASE_K("hosm_config_parse", in, parse_cases[i].want,
               hosm_config_parse(c, parse_cases[i].text), hosm_config_errmsg(c),
               parse_cases[i].name);
    }
    char longtok[200];
    memset(longtok, '1', sizeof longtok);
    memcpy(longtok, "hidden=", 7);
    longtok[130] = '\0';
    CASE_K("hosm_config_parse", "a token of 130 characters (\"hidden=111...\")", HOSM_E_PARSE,
           hosm_config_parse(c, longtok), hosm_config_errmsg(c), "hidden");
    take(c, &after);
    CHECK(same_snapshot(&before, &after), "a failed hosm_config_parse changed the config");
    CASE("hosm_config_parse", "\"\" or only white space (nothing to do)", HOSM_OK,
         hosm_config_parse(c, "") | hosm_config_parse(c, " \t\n "));
    take(c, &after);
    CHECK(same_snapshot(&before, &after), "parsing empty text changed the config");

    CASE("hosm_config_key_from_name", "name = NULL", HOSM_E_NULL,
         hosm_config_key_from_name(NULL, &k));
    CASE("hosm_config_key_from_name", "key = NULL", HOSM_E_NULL,
         hosm_config_key_from_name("hidden", NULL));
    CASE_K("hosm_config_key_from_name", "\"nosuchkey\"", HOSM_E_KEY,
           hosm_config_key_from_name("nosuchkey", &k), NULL, "nosuchkey");
    CASE("hosm_config_key_from_name", "\"\"", HOSM_E_KEY, hosm_config_key_from_name("", &k));
    CASE_K("hosm_config_key_from_name", "\"Hidden\" (names are case-sensitive)", HOSM_E_KEY,
           hosm_config_key_from_name("Hidden", &k), NULL, "Hidden");
    ROW("hosm_config_key_name", "key 0, -1 or 1000", "NULL",
        !hosm_config_key_name(0) && !hosm_config_key_name(-1) && !hosm_config_key_name(1000));
    CASE("hosm_config_key_type", "key 0", HOSM_E_KEY, hosm_config_key_type(0, &type));
    CASE_K("hosm_config_key_type", "key 1000", HOSM_E_KEY, hosm_config_key_type(1000, &type),
           NULL, "1000");
    CASE("hosm_config_key_type", "type = NULL", HOSM_E_NULL,
         hosm_config_key_type(HOSM_KEY_HIDDEN, NULL));
    int64_t lo64, hi64, def64;
    double lod, hid, defd;
    CASE_K("hosm_config_int_bounds", "key 1000", HOSM_E_KEY,
           hosm_config_int_bounds(1000, &lo64, &hi64, &def64), NULL, "1000");
    CASE_K("hosm_config_int_bounds", "a double key (HOSM_KEY_SIGMA)", HOSM_E_TYPE,
           hosm_config_int_bounds(HOSM_KEY_SIGMA, &lo64, &hi64, &def64), NULL, "sigma");
    CASE("hosm_config_int_bounds", "lo = hi = def = NULL (allowed)", HOSM_OK,
         hosm_config_int_bounds(HOSM_KEY_HIDDEN, NULL, NULL, NULL));
    CASE_K("hosm_config_double_bounds", "key 1000", HOSM_E_KEY,
           hosm_config_double_bounds(1000, &lod, &hid, &defd), NULL, "1000");
    CASE_K("hosm_config_double_bounds", "an int key (HOSM_KEY_HIDDEN)", HOSM_E_TYPE,
           hosm_config_double_bounds(HOSM_KEY_HIDDEN, &lod, &hid, &defd), NULL, "hidden");
    CASE("hosm_config_double_bounds", "lo = hi = def = NULL (allowed)", HOSM_OK,
         hosm_config_double_bounds(HOSM_KEY_SIGMA, NULL, NULL, NULL));
    hosm_config_free(c);
}

/* The second-order config keys: names, types, bounds and defaults;
 * out-of-range, wrong-type and non-finite values; the text names
 * s2=none|diag|lowrank|full and s2_objective=d2sm|d2sm_vr (and their integer
 * values). Their unknown names and bad text are rows of hosm_config_parse. */

static void s2_config_keys(void)
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
        {HOSM_KEY_S2_OBJECTIVE, "s2_objective", HOSM_TYPE_INT, 0, 4, HOSM_OBJ_D2SM_VR},
        {HOSM_KEY_W1, "w1", HOSM_TYPE_DOUBLE, 0, 1e6, 1.0},
        {HOSM_KEY_FREEZE_S1, "freeze_s1", HOSM_TYPE_INT, 0, 1, 0},
        {HOSM_KEY_S2_HEAD, "s2_head", HOSM_TYPE_INT, 0, 1, HOSM_S2_HEAD_LINEAR},
        {HOSM_KEY_NLL_MARGINAL, "nll_marginal", HOSM_TYPE_DOUBLE, 0, 1e6, 0},
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
    }
    double w = 0.0;
    CHECK(hosm_config_parse(cfg, "w1=10") == HOSM_OK &&
              hosm_config_get_double(cfg, HOSM_KEY_W1, &w) == HOSM_OK && w == 10.0,
          "parse 'w1=10': %g", w);
    hosm_config_free(cfg);
}


/* ---- models ----------------------------------------------------------------- */

/* hosm_model_new must leave *out NULL on failure. */
static int model_new_checked(int64_t dim, const hosm_config *cfg)
{
    hosm_model *m = (hosm_model *)(uintptr_t)1;
    int st = hosm_model_new(&m, dim, cfg);
    if (st != HOSM_OK)
        CHECK(m == NULL, "failed hosm_model_new left *out = %p", (void *)m);
    else
        hosm_model_free(m);
    return st;
}

static int model_load_checked(const char *path)
{
    hosm_model *m = (hosm_model *)(uintptr_t)1;
    int st = hosm_model_load(&m, path);
    if (st != HOSM_OK)
        CHECK(m == NULL, "failed hosm_model_load left *out = %p", (void *)m);
    else
        hosm_model_free(m);
    return st;
}

static int model_load_mem_checked(const void *buf, int64_t n)
{
    hosm_model *m = (hosm_model *)(uintptr_t)1;
    int st = hosm_model_load_mem(&m, buf, n);
    if (st != HOSM_OK)
        CHECK(m == NULL, "failed hosm_model_load_mem left *out = %p", (void *)m);
    else
        hosm_model_free(m);
    return st;
}

/* The bad inputs shared by the point queries score and denoise. */
typedef int (*point_query)(const hosm_model *, int64_t, const float *, int64_t, float *);

static void point_query_cases(const char *fn, point_query q)
{
    CASE(fn, "model = NULL", HOSM_E_NULL, q(NULL, 0, g_x, NPTS, g_out));
    CASE(fn, "level = -1", HOSM_E_ARG, q(g_m, -1, g_x, NPTS, g_out));
    CASE(fn, "level = L (one past the last)", HOSM_E_ARG, q(g_m, g_L, g_x, NPTS, g_out));
    CASE(fn, "level = INT64_MAX", HOSM_E_ARG, q(g_m, INT64_MAX, g_x, NPTS, g_out));
    CASE(fn, "n = -1", HOSM_E_ARG, q(g_m, 0, g_x, -1, g_out));
    CASE(fn, "n = INT64_MIN", HOSM_E_ARG, q(g_m, 0, g_x, INT64_MIN, g_out));
    CASE(fn, "n = 2^62 (n D overflows)", HOSM_E_ARG, q(g_m, 0, g_x, HUGE_N, g_out));
    CASE(fn, "x = NULL, n > 0", HOSM_E_NULL, q(g_m, 0, NULL, NPTS, g_out));
    CASE(fn, "out = NULL, n > 0", HOSM_E_NULL, q(g_m, 0, g_x, NPTS, NULL));
    CASE(fn, "NaN in x", HOSM_E_NONFINITE, q(g_m, 0, g_xnan, NPTS, g_out));
    CASE(fn, "Inf in x", HOSM_E_NONFINITE, q(g_m, 0, g_xinf, NPTS, g_out));
    CASE(fn, "n = 0, x = out = NULL (nothing to do)", HOSM_OK, q(g_m, 0, NULL, 0, NULL));
}

/* The log density, on an energy model with the ladder of g_m. */
static void log_density_cases(void)
{
    static const char fn[] = "hosm_model_log_density_unnormalized";
    hosm_config *c;
    hosm_model *e;
    MUST(hosm_config_new(&c));
    MUST(hosm_config_parse(c, "parameterization=energy hidden=8 depth=1 levels=3 sigma_max=1 "
                              "sigma_min=0.1"));
    MUST(hosm_model_new(&e, D, c));
    hosm_config_free(c);
    double out[NPTS];
    CASE(fn, "model = NULL", HOSM_E_NULL, hosm_model_log_density_unnormalized(NULL, 0, g_x, NPTS, out));
    CASE(fn, "level = -1", HOSM_E_ARG, hosm_model_log_density_unnormalized(e, -1, g_x, NPTS, out));
    CASE(fn, "level = L (one past the last)", HOSM_E_ARG,
         hosm_model_log_density_unnormalized(e, g_L, g_x, NPTS, out));
    CASE(fn, "n = -1", HOSM_E_ARG, hosm_model_log_density_unnormalized(e, 0, g_x, -1, out));
    CASE(fn, "n = 2^62 (n D overflows)", HOSM_E_ARG,
         hosm_model_log_density_unnormalized(e, 0, g_x, HUGE_N, out));
    CASE(fn, "x = NULL, n > 0", HOSM_E_NULL,
         hosm_model_log_density_unnormalized(e, 0, NULL, NPTS, out));
    CASE(fn, "out = NULL, n > 0", HOSM_E_NULL,
         hosm_model_log_density_unnormalized(e, 0, g_x, NPTS, NULL));
    CASE(fn, "NaN in x", HOSM_E_NONFINITE,
         hosm_model_log_density_unnormalized(e, 0, g_xnan, NPTS, out));
    CASE(fn, "a score network (parameterization = score)", HOSM_E_UNSUPPORTED,
         hosm_model_log_density_unnormalized(g_m, 0, g_x, NPTS, out));
    CASE(fn, "n = 0, x = out = NULL (nothing to do)", HOSM_OK,
         hosm_model_log_density_unnormalized(e, 0, NULL, 0, NULL));
    hosm_model_free(e);
}

/* Second-order queries and the Jacobians, one fault at a time (every other
 * argument valid), on models of D = 3 with 3 levels: s2 = lowrank (rank 2)
 * for the faults, diag, full and none for the structures. Besides the status
 * and a fresh message, the message names the function and a failed call
 * leaves its outputs untouched. */
#define S2D 3
#define S2N 2
typedef enum {
    F_HESSIAN,
    F_HESSIAN_DIAG,
    F_FACTORS,
    F_HVP,
    F_COV,
    F_VAR,
    F_TOPK,
    F_JACOBIAN,
    F_JACOBIAN_DIAG,
    F_ESTIMATE,
    F_COUNT
} s2_fn_id;

static const char *const s2_fn[F_COUNT] = {
    "hosm_model_hessian",        "hosm_model_hessian_diag",   "hosm_model_hessian_factors",
    "hosm_model_hvp",            "hosm_model_posterior_cov",  "hosm_model_posterior_var",
    "hosm_model_posterior_topk", "hosm_model_score_jacobian", "hosm_model_score_jacobian_diag",
    "hosm_model_hessian_estimate"};

typedef struct {
    const hosm_model *model;
    int64_t level, n, k;
    int clamp, symmetrize;
    const float *x, *v;
    float *out, *out2;
    int source;
} s2_args;

static int s2_call(s2_fn_id f, const s2_args *a)
{
    switch (f) {
    case F_HESSIAN: return hosm_model_hessian(a->model, a->level, a->x, a->n, a->out);
    case F_HESSIAN_DIAG: return hosm_model_hessian_diag(a->model, a->level, a->x, a->n, a->out);
    case F_FACTORS:
        return hosm_model_hessian_factors(a->model, a->level, a->x, a->n, a->out, a->out2);
    case F_HVP: return hosm_model_hvp(a->model, a->level, a->x, a->v, a->n, a->out);
    case F_COV: return hosm_model_posterior_cov(a->model, a->level, a->x, a->n, a->clamp, a->out);
    case F_VAR: return hosm_model_posterior_var(a->model, a->level, a->x, a->n, a->clamp, a->out);
    case F_TOPK:
        return hosm_model_posterior_topk(a->model, a->level, a->x, a->n, a->k, a->clamp, a->out,
                                         a->out2);
    case F_JACOBIAN:
        return hosm_model_score_jacobian(a->model, a->level, a->x, a->n, a->symmetrize, a->out);
    case F_JACOBIAN_DIAG:
        return hosm_model_score_jacobian_diag(a->model, a->level, a->x, a->n, a->out);
    default:
        return hosm_model_hessian_estimate(a->model, a->level, a->x, a->n, a->source, a->out);
    }
}

/* Output buffers for every function at S2N points, filled with a sentinel
 * value so that writes on failure are seen. */
#define S2_OUT_FLOATS (S2N * S2D * S2D)
static float s2_out_a[S2_OUT_FLOATS], s2_out_b[S2_OUT_FLOATS];
static const float OUT_SENTINEL = 12345.0f;

static int s2_untouched(void)
{
    for (int i = 0; i < S2_OUT_FLOATS; i++)
        if (s2_out_a[i] != OUT_SENTINEL || s2_out_b[i] != OUT_SENTINEL)
            return 0;
    return 1;
}

static void s2_case(s2_fn_id f, const s2_args *a, int want, const char *input, int line)
{
    for (int i = 0; i < S2_OUT_FLOATS; i++)
        s2_out_a[i] = s2_out_b[i] = OUT_SENTINEL;
    sentinel();
    int got = s2_call(f, a);
    check_case2(s2_fn[f], input, want, got, NULL, NULL, NULL, 1, line);
    if (want != HOSM_OK)
        CHECK(s2_untouched(), "line %d: %s(%s): a failed call wrote to an output", line,
              s2_fn[f], input);
}

static hosm_model *s2_model(int s2, int64_t rank)
{
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=4 depth=2 levels=3 sigma_max=1 sigma_min=0.1"));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_S2, s2));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_RANK, rank));
    hosm_model *m;
    MUST(hosm_model_new(&m, S2D, cfg));
    hosm_config_free(cfg);
    return m;
}

static void s2_query_cases(void)
{
    hosm_model *lowrank = s2_model(HOSM_S2_LOWRANK, 2), *diag = s2_model(HOSM_S2_DIAG, 1);
    hosm_model *full = s2_model(HOSM_S2_FULL, 1), *none = s2_model(HOSM_S2_NONE, 1);
    static const float x_ok[S2N * S2D] = {0.1f, -0.2f, 0.3f, 1.0f, 0.5f, -0.7f};
    static const float v_ok[S2N * S2D] = {1.0f, 2.0f, -1.0f, 0.5f, 0.0f, 0.25f};
    const float bad_values[2] = {NAN, INFINITY};
    float x_bad[S2N * S2D], v_bad[S2N * S2D];
    const s2_args ok = {lowrank, 1,    S2N,      2,        1,
                        1,       x_ok, v_ok,     s2_out_a, s2_out_b,
                        HOSM_HESSIAN_AVERAGE};
    s2_args a;
#define S2CASE(input, want, ...)                                                \
    do {                                                                        \
        a = ok;                                                                 \
        __VA_ARGS__;                                                            \
        s2_case(f, &a, want, input, __LINE__);                                  \
    } while (0)
    for (s2_fn_id f = F_HESSIAN; f < F_COUNT; f++) {
        const int jac = f == F_JACOBIAN || f == F_JACOBIAN_DIAG;
        /* The valid call succeeds, so each fault below is the only one. */
        S2CASE("valid arguments (a lowrank s2 of rank 2)", HOSM_OK, (void)0);
        S2CASE("model = NULL", HOSM_E_NULL, a.model = NULL);
        S2CASE("level = -1", HOSM_E_ARG, a.level = -1);
        S2CASE("level = L", HOSM_E_ARG, a.level = 3);
        S2CASE("n = -1", HOSM_E_ARG, a.n = -1);
        S2CASE("n = 2^62", HOSM_E_ARG, a.n = HUGE_N);
        S2CASE("x = NULL, n > 0", HOSM_E_NULL, a.x = NULL);
        for (int b = 0; b < 2; b++) {
            memcpy(x_bad, x_ok, sizeof x_bad);
            x_bad[S2D + 1] = bad_values[b]; /* in the second point */
            S2CASE(b ? "Inf in x" : "NaN in x", HOSM_E_NONFINITE, a.x = x_bad);
        }
        S2CASE("out = NULL, n > 0", HOSM_E_NULL, a.out = NULL);
        if (f == F_FACTORS)
            S2CASE("d = NULL, n > 0", HOSM_E_NULL, a.out2 = NULL);
        if (f == F_TOPK)
            S2CASE("vecs = NULL, n > 0", HOSM_E_NULL, a.out2 = NULL);
        if (f == F_HVP) {
            S2CASE("v = NULL, n > 0", HOSM_E_NULL, a.v = NULL);
            for (int b = 0; b < 2; b++) {
                memcpy(v_bad, v_ok, sizeof v_bad);
                v_bad[2 * S2D - 1] = bad_values[b];
                S2CASE(b ? "Inf in v" : "NaN in v", HOSM_E_NONFINITE, a.v = v_bad);
            }
        }
        if (f == F_COV || f == F_VAR || f == F_TOPK) {
            S2CASE("clamp = 2", HOSM_E_ARG, a.clamp = 2);
            S2CASE("clamp = -1", HOSM_E_ARG, a.clamp = -1);
            S2CASE("clamp = 0", HOSM_OK, a.clamp = 0);
        }
        if (f == F_JACOBIAN) {
            S2CASE("symmetrize = 2", HOSM_E_ARG, a.symmetrize = 2);
            S2CASE("symmetrize = -1", HOSM_E_ARG, a.symmetrize = -1);
            S2CASE("symmetrize = 0", HOSM_OK, a.symmetrize = 0);
        }
        if (f == F_ESTIMATE) {
            S2CASE("source = 3", HOSM_E_ARG, a.source = 3);
            S2CASE("source = -1", HOSM_E_ARG, a.source = -1);
            S2CASE("source = s2", HOSM_OK, a.source = HOSM_HESSIAN_S2);
            S2CASE("source = jacobian, a model with s2 = none", HOSM_OK,
                   (a.source = HOSM_HESSIAN_JACOBIAN, a.model = none));
        }
        if (f == F_TOPK) {
            S2CASE("k = 0", HOSM_E_ARG, a.k = 0);
            S2CASE("k = -1", HOSM_E_ARG, a.k = -1);
            S2CASE("k = D + 1", HOSM_E_ARG, a.k = S2D + 1);
            S2CASE("k = D", HOSM_OK, a.k = S2D);
        }
        /* Structures. */
        S2CASE("a model with s2 = none", jac ? HOSM_OK : HOSM_E_UNSUPPORTED, a.model = none);
        if (f == F_FACTORS) {
            S2CASE("a model with s2 = diag (factors exist for lowrank only)", HOSM_E_UNSUPPORTED,
                   a.model = diag);
            S2CASE("a model with s2 = full", HOSM_E_UNSUPPORTED, a.model = full);
        } else {
            S2CASE("a model with s2 = diag", HOSM_OK, a.model = diag);
            S2CASE("a model with s2 = full", HOSM_OK, a.model = full);
        }
        /* Nothing to do. */
        S2CASE("n = 0, x = out = NULL (nothing to do)", HOSM_OK,
               (a.n = 0, a.x = a.v = NULL, a.out = a.out2 = NULL));
    }
#undef S2CASE
    hosm_model_free(lowrank);
    hosm_model_free(diag);
    hosm_model_free(full);
    hosm_model_free(none);
}

/* A rank above D is capped at D: the model is created, reports rank D, and
 * equals one created with rank = D; the other structures report rank 0. */
static void s2_structure_and_rank(void)
{
    hosm_model *m = s2_model(HOSM_S2_LOWRANK, 4096);
    int s2 = -1;
    int64_t r = -1;
    CHECK(hosm_model_s2_structure(m, &s2, &r) == HOSM_OK && s2 == HOSM_S2_LOWRANK && r == S2D,
          "rank 4096 > D: structure %d rank %lld, expected lowrank and %d", s2, (long long)r,
          S2D);
    hosm_model *m3 = s2_model(HOSM_S2_LOWRANK, S2D);
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
    float u[S2N * S2D * S2D], d[S2N * S2D];
    static const float x[S2N * S2D] = {0.1f, -0.2f, 0.3f, 1.0f, 0.5f, -0.7f};
    CHECK(hosm_model_hessian_factors(m, 0, x, S2N, u, d) == HOSM_OK,
          "factors with a capped rank failed: %s", hosm_last_errmsg());
    hosm_model_free(m3);
    hosm_model_free(m);
    /* Other structures report rank 0; NULL outputs are allowed. */
    const int structs[3] = {HOSM_S2_NONE, HOSM_S2_DIAG, HOSM_S2_FULL};
    for (int i = 0; i < 3; i++) {
        hosm_model *q = s2_model(structs[i], 2);
        CHECK(hosm_model_s2_structure(q, &s2, &r) == HOSM_OK && s2 == structs[i] && r == 0,
              "structure %d: reported %d rank %lld", structs[i], s2, (long long)r);
        CHECK(hosm_model_s2_structure(q, NULL, NULL) == HOSM_OK, "NULL outputs rejected");
        hosm_model_free(q);
    }
    /* Adding an s2 network leaves s1's initial weights as they were. */
    hosm_model *a = s2_model(HOSM_S2_NONE, 1), *b = s2_model(HOSM_S2_FULL, 1);
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

/* hosm_model_at_sigma, checking that a failure leaves *out NULL. */
static int at_sigma_checked(const hosm_model *model, double sigma)
{
    hosm_model *out = (hosm_model *)(uintptr_t)1;
    int st = hosm_model_at_sigma(&out, model, sigma);
    CHECK(st == HOSM_OK || out == NULL, "hosm_model_at_sigma failed and left *out set");
    hosm_model_free(out);
    return st;
}

static void test_model(const char *dir)
{
    hosm_model *m = g_m;
    int64_t v64;
    double vd;
    char path[512];

    CASE("hosm_model_new", "out = NULL", HOSM_E_NULL, hosm_model_new(NULL, D, g_cfg));
    CASE("hosm_model_new", "dim = 0", HOSM_E_ARG, model_new_checked(0, g_cfg));
    CASE("hosm_model_new", "dim = -1", HOSM_E_ARG, model_new_checked(-1, g_cfg));
    CASE("hosm_model_new", "dim = 2^20 + 1", HOSM_E_ARG, model_new_checked((1 << 20) + 1, g_cfg));
    CASE("hosm_model_new", "dim = 2^40", HOSM_E_ARG, model_new_checked((int64_t)1 << 40, g_cfg));
    CASE("hosm_model_new", "dim = INT64_MAX", HOSM_E_ARG, model_new_checked(INT64_MAX, g_cfg));
    {
        hosm_config *c;
        MUST(hosm_config_new(&c));
        MUST(hosm_config_parse(c, "s2=full hidden=8 depth=1"));
        CASE("hosm_model_new", "dim = 2^20 with s2 = full (more than 2^40 parameters)",
             HOSM_E_ARG, model_new_checked((int64_t)1 << 20, c));
        hosm_config_free(c);
    }
    {
        hosm_config *c;
        MUST(hosm_config_new(&c));
        MUST(hosm_config_parse(c, "parameterization=energy s2=diag"));
        sentinel();
        int st = model_new_checked(D, c);
        check_case("hosm_model_new", "parameterization = energy with s2 = diag", HOSM_E_UNSUPPORTED,
                   st, NULL, "s2", __LINE__);
        /* A full s2 has no diagonal part of its own. */
        MUST(hosm_config_parse(c, "parameterization=score s2=full s2_head=logvar"));
        sentinel();
        st = model_new_checked(D, c);
        check_case("hosm_model_new", "s2_head = logvar with s2 = full", HOSM_E_UNSUPPORTED, st,
                   NULL, "s2_head", __LINE__);
        hosm_config_free(c);
    }
    {
        hosm_config *c;
        MUST(hosm_config_new(&c));
        MUST(hosm_config_parse(c, "levels=3 sigma_max=0.1 sigma_min=0.1"));
        sentinel();
        int st = model_new_checked(D, c);
        check_case("hosm_model_new", "levels > 1 with sigma_max = sigma_min", HOSM_E_RANGE, st,
                   NULL, "sigma_max", __LINE__);
        MUST(hosm_config_parse(c, "sigma_max=0.05"));
        sentinel();
        st = model_new_checked(D, c);
        check_case("hosm_model_new", "levels > 1 with sigma_max < sigma_min", HOSM_E_RANGE, st,
                   NULL, "sigma_max", __LINE__);
        hosm_config_free(c);
    }

    CASE("hosm_model_dim", "model = NULL", HOSM_E_NULL, hosm_model_dim(NULL, &v64));
    CASE("hosm_model_dim", "out = NULL", HOSM_E_NULL, hosm_model_dim(m, NULL));
    CASE("hosm_model_num_levels", "model = NULL", HOSM_E_NULL, hosm_model_num_levels(NULL, &v64));
    CASE("hosm_model_num_levels", "out = NULL", HOSM_E_NULL, hosm_model_num_levels(m, NULL));
    CASE("hosm_model_num_params", "model = NULL", HOSM_E_NULL, hosm_model_num_params(NULL, &v64));
    CASE("hosm_model_num_params", "out = NULL", HOSM_E_NULL, hosm_model_num_params(m, NULL));
    CASE("hosm_model_sigma", "model = NULL", HOSM_E_NULL, hosm_model_sigma(NULL, 0, &vd));
    CASE("hosm_model_sigma", "out = NULL", HOSM_E_NULL, hosm_model_sigma(m, 0, NULL));
    CASE("hosm_model_sigma", "level = -1", HOSM_E_ARG, hosm_model_sigma(m, -1, &vd));
    CASE("hosm_model_sigma", "level = L", HOSM_E_ARG, hosm_model_sigma(m, g_L, &vd));
    CASE("hosm_model_sigma", "level = INT64_MAX", HOSM_E_ARG,
         hosm_model_sigma(m, INT64_MAX, &vd));

    float *p = xmalloc((size_t)(g_P + 1) * sizeof *p), *keep = xmalloc((size_t)g_P * sizeof *keep);
    MUST(hosm_model_get_params(m, keep, g_P));
    CASE("hosm_model_get_params", "model = NULL", HOSM_E_NULL,
         hosm_model_get_params(NULL, p, g_P));
    CASE("hosm_model_get_params", "out = NULL", HOSM_E_NULL, hosm_model_get_params(m, NULL, g_P));
    CASE("hosm_model_get_params", "count = P - 1", HOSM_E_MISMATCH,
         hosm_model_get_params(m, p, g_P - 1));
    CASE("hosm_model_get_params", "count = P + 1", HOSM_E_MISMATCH,
         hosm_model_get_params(m, p, g_P + 1));
    CASE("hosm_model_get_params", "count = 0", HOSM_E_MISMATCH, hosm_model_get_params(m, p, 0));
    CASE("hosm_model_get_params", "count = -1", HOSM_E_MISMATCH, hosm_model_get_params(m, p, -1));
    memcpy(p, keep, (size_t)g_P * sizeof *p);
    CASE("hosm_model_set_params", "model = NULL", HOSM_E_NULL,
         hosm_model_set_params(NULL, p, g_P));
    CASE_H("hosm_model_set_params", "params = NULL", HOSM_E_NULL,
           hosm_model_set_params(m, NULL, g_P), hosm_model_errmsg(m));
    CASE_H("hosm_model_set_params", "count = P - 1", HOSM_E_MISMATCH,
           hosm_model_set_params(m, p, g_P - 1), hosm_model_errmsg(m));
    CASE_H("hosm_model_set_params", "count = P + 1", HOSM_E_MISMATCH,
           hosm_model_set_params(m, p, g_P + 1), hosm_model_errmsg(m));
    CASE_H("hosm_model_set_params", "count = -1", HOSM_E_MISMATCH,
           hosm_model_set_params(m, p, -1), hosm_model_errmsg(m));
    p[g_P / 2] = NAN;
    CASE_H("hosm_model_set_params", "a NaN parameter", HOSM_E_NONFINITE,
           hosm_model_set_params(m, p, g_P), hosm_model_errmsg(m));
    p[g_P / 2] = INFINITY;
    CASE_H("hosm_model_set_params", "a +Inf parameter", HOSM_E_NONFINITE,
           hosm_model_set_params(m, p, g_P), hosm_model_errmsg(m));
    p[g_P / 2] = keep[g_P / 2];
    p[g_P - 1] = -INFINITY;
    CASE_H("hosm_model_set_params", "a -Inf parameter (the last)", HOSM_E_NONFINITE,
           hosm_model_set_params(m, p, g_P), hosm_model_errmsg(m));
    MUST(hosm_model_get_params(m, p, g_P));
    CHECK(memcmp(p, keep, (size_t)g_P * sizeof *p) == 0, "a failed set_params changed weights");

    hosm_config *c;
    MUST(hosm_config_new(&c));
    CASE("hosm_model_get_config", "model = NULL", HOSM_E_NULL, hosm_model_get_config(NULL, c));
    CASE("hosm_model_get_config", "cfg = NULL", HOSM_E_NULL, hosm_model_get_config(m, NULL));
    CASE("hosm_model_set_config", "model = NULL", HOSM_E_NULL, hosm_model_set_config(NULL, c));
    CASE("hosm_model_set_config", "cfg = NULL", HOSM_E_NULL, hosm_model_set_config(m, NULL));
    CASE("hosm_model_at_sigma", "out = NULL", HOSM_E_NULL, hosm_model_at_sigma(NULL, m, 0.5));
    CASE("hosm_model_at_sigma", "model = NULL", HOSM_E_NULL, at_sigma_checked(NULL, 0.5));
    CASE("hosm_model_at_sigma", "sigma above the largest level (1.0001 > 1)", HOSM_E_RANGE,
         at_sigma_checked(m, 1.0001));
    CASE("hosm_model_at_sigma", "sigma below the smallest level (0.0999 < 0.1)", HOSM_E_RANGE,
         at_sigma_checked(m, 0.0999));
    CASE("hosm_model_at_sigma", "sigma = 0", HOSM_E_RANGE, at_sigma_checked(m, 0.0));
    CASE("hosm_model_at_sigma", "sigma = NaN", HOSM_E_RANGE, at_sigma_checked(m, NAN));
    CASE("hosm_model_at_sigma", "sigma = Inf", HOSM_E_RANGE, at_sigma_checked(m, INFINITY));
    hosm_config_free(c);
    int s2kind;
    CASE_F("hosm_model_s2_structure", "model = NULL", HOSM_E_NULL,
           hosm_model_s2_structure(NULL, &s2kind, &v64), NULL, NULL);
    CASE("hosm_model_s2_structure", "structure = rank = NULL (allowed)", HOSM_OK,
         hosm_model_s2_structure(m, NULL, NULL));

    point_query_cases("hosm_model_score", hosm_model_score);
    point_query_cases("hosm_model_denoise", hosm_model_denoise);
    log_density_cases();
    s2_query_cases();
    s2_structure_and_rank();

    /* Files. */
    int64_t size;
    MUST(hosm_model_save_size(m, &size));
    uint8_t *buf = xmalloc((size_t)size);
    int64_t written;
    CASE("hosm_model_save_size", "model = NULL", HOSM_E_NULL, hosm_model_save_size(NULL, &v64));
    CASE("hosm_model_save_size", "bytes = NULL", HOSM_E_NULL, hosm_model_save_size(m, NULL));
    CASE("hosm_model_save_mem", "model = NULL", HOSM_E_NULL,
         hosm_model_save_mem(NULL, buf, size, &written));
    CASE("hosm_model_save_mem", "buf = NULL", HOSM_E_NULL,
         hosm_model_save_mem(m, NULL, size, &written));
    CASE("hosm_model_save_mem", "cap = size - 1", HOSM_E_BUFFER,
         hosm_model_save_mem(m, buf, size - 1, &written));
    CASE("hosm_model_save_mem", "cap = 0", HOSM_E_BUFFER, hosm_model_save_mem(m, buf, 0, &written));
    CASE("hosm_model_save_mem", "cap = -1", HOSM_E_BUFFER,
         hosm_model_save_mem(m, buf, -1, &written));
    MUST(hosm_model_save_mem(m, buf, size, NULL));
    snprintf(path, sizeof path, "%s/no-such-dir/m.hosm", dir);
    CASE("hosm_model_save", "model = NULL", HOSM_E_NULL, hosm_model_save(NULL, path));
    CASE("hosm_model_save", "path = NULL", HOSM_E_NULL, hosm_model_save(m, NULL));
    CASE("hosm_model_save", "a path in a missing directory", HOSM_E_IO, hosm_model_save(m, path));
    CASE("hosm_model_save", "a path that is a directory", HOSM_E_IO, hosm_model_save(m, dir));

    hosm_model *out;
    CASE("hosm_model_load", "out = NULL", HOSM_E_NULL, hosm_model_load(NULL, path));
    CASE("hosm_model_load", "path = NULL", HOSM_E_NULL, model_load_checked(NULL));
    CASE("hosm_model_load", "a nonexistent path", HOSM_E_IO, model_load_checked(path));
    CASE("hosm_model_load", "a directory", HOSM_E_IO, model_load_checked(dir));
    CASE("hosm_model_load", "\"\" (empty path)", HOSM_E_IO, model_load_checked(""));
    CASE("hosm_model_load_mem", "out = NULL", HOSM_E_NULL, hosm_model_load_mem(NULL, buf, size));
    CASE("hosm_model_load_mem", "buf = NULL", HOSM_E_NULL, model_load_mem_checked(NULL, size));
    CASE("hosm_model_load_mem", "size = -1", HOSM_E_ARG, model_load_mem_checked(buf, -1));
    CASE("hosm_model_load_mem", "size = 0", HOSM_E_TRUNCATED, model_load_mem_checked(buf, 0));
    CASE("hosm_model_load_mem", "size = size - 1", HOSM_E_TRUNCATED,
         model_load_mem_checked(buf, size - 1));
    uint8_t junk[100];
    for (int i = 0; i < 100; i++)
        junk[i] = (uint8_t)(37 * i + 11);
    CASE("hosm_model_load_mem", "100 bytes that are not a libhosm file", HOSM_E_FORMAT,
         model_load_mem_checked(junk, 100));
    int64_t csize;
    MUST(hosm_trainer_save_size(g_t, &csize));
    uint8_t *ck = xmalloc((size_t)csize);
    MUST(hosm_trainer_save_mem(g_t, ck, csize, NULL));
    CASE("hosm_model_load_mem", "a checkpoint", HOSM_E_FORMAT, model_load_mem_checked(ck, csize));
    (void)out;
    free(ck);
    free(buf);
    free(p);
    free(keep);
}

/* ---- trainers -------------------------------------------------------------- */

/* A checkpoint of t in memory (the weights, moments, step count, RNG state
 * and EMA): two equal ones mean that nothing of the trainer changed. */
static uint8_t *checkpoint_bytes(const hosm_trainer *t, int64_t *size)
{
    MUST(hosm_trainer_save_size(t, size));
    uint8_t *b = xmalloc((size_t)*size);
    MUST(hosm_trainer_save_mem(t, b, *size, NULL));
    return b;
}

static int same_checkpoint(const hosm_trainer *t, const uint8_t *before, int64_t size)
{
    int64_t now_size;
    uint8_t *now = checkpoint_bytes(t, &now_size);
    int same = now_size == size && memcmp(now, before, (size_t)size) == 0;
    free(now);
    return same;
}

/* Sets t's step count through its checkpoint (the u64 that opens the ADAM
 * section; docs/format.md), for the cases at the step count limit. */
static void set_step_count(hosm_trainer *t, int64_t step)
{
    int64_t size;
    uint8_t *b = checkpoint_bytes(t, &size);
    const uint64_t sections = get_le(b + 12, 4);
    int64_t pos = 24;
    for (uint64_t i = 0; i < sections; i++) {
        const uint64_t tag = get_le(b + pos, 4), len = get_le(b + pos + 8, 8);
        if (tag == ((uint64_t)'A' | 'D' << 8 | 'A' << 16 | (uint64_t)'M' << 24))
            put_le(b + pos + 16, (uint64_t)step, 8);
        pos += 16 + (int64_t)len;
    }
    fix_crc(b, size);
    MUST(hosm_trainer_load_mem(t, b, size));
    free(b);
}

static void test_trainer(const char *dir)
{
    hosm_trainer *t = g_t;
    const char *tm = NULL;
#define TMSG (tm = hosm_trainer_errmsg(t))
    hosm_trainer *tout = (hosm_trainer *)(uintptr_t)1;
    double loss;
    int64_t steps0, steps;
    char path[512];

    CASE("hosm_trainer_new", "out = NULL", HOSM_E_NULL, hosm_trainer_new(NULL, g_m, g_cfg));
    sentinel();
    int st = hosm_trainer_new(&tout, NULL, g_cfg);
    check_case("hosm_trainer_new", "model = NULL", HOSM_E_NULL, st, NULL, NULL, __LINE__);
    CHECK(tout == NULL, "failed hosm_trainer_new left *out non-NULL");
    {
        /* The cosine schedule needs its horizon in steps, past the warm-up. */
        hosm_config *c;
        MUST(hosm_config_new(&c));
        MUST(hosm_config_parse(c, "lr_schedule=cosine steps=100 epochs=3"));
        CASE("hosm_trainer_new", "lr_schedule = cosine with epochs > 0", HOSM_E_RANGE,
             hosm_trainer_new(&tout, g_m, c));
        MUST(hosm_config_parse(c, "epochs=0 warmup=100"));
        CASE("hosm_trainer_new", "lr_schedule = cosine with steps <= warmup", HOSM_E_RANGE,
             hosm_trainer_new(&tout, g_m, c));
        /* The likelihood needs positive variances, the log-variance head's. */
        MUST(hosm_config_parse(c, "lr_schedule=constant warmup=0 s2_objective=d2sm_res_nll"));
        CASE("hosm_trainer_new", "s2_objective = d2sm_res_nll with s2_head = linear",
             HOSM_E_UNSUPPORTED, hosm_trainer_new(&tout, g_m2, c));
        hosm_config_free(c);
    }

    float *keep = xmalloc((size_t)g_P * sizeof *keep), *now = xmalloc((size_t)g_P * sizeof *now);
    MUST(hosm_model_get_params(g_m, keep, g_P));
    MUST(hosm_trainer_step_count(t, &steps0));

    CASE("hosm_trainer_step", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_step(NULL, g_x, NPTS, &loss));
    CASE_H("hosm_trainer_step", "x = NULL, n > 0", HOSM_E_NULL,
           hosm_trainer_step(t, NULL, NPTS, &loss), TMSG);
    CASE_H("hosm_trainer_step", "n = 0", HOSM_E_ARG, hosm_trainer_step(t, g_x, 0, &loss), TMSG);
    CASE_H("hosm_trainer_step", "n = 0, x = NULL", HOSM_E_ARG,
           hosm_trainer_step(t, NULL, 0, &loss), TMSG);
    CASE_H("hosm_trainer_step", "n = -1", HOSM_E_ARG, hosm_trainer_step(t, g_x, -1, &loss), TMSG);
    CASE_H("hosm_trainer_step", "n = 2^62", HOSM_E_ARG,
           hosm_trainer_step(t, g_x, HUGE_N, &loss), TMSG);
    CASE_H("hosm_trainer_step", "NaN in x", HOSM_E_NONFINITE,
           hosm_trainer_step(t, g_xnan, NPTS, &loss), TMSG);
    CASE_H("hosm_trainer_step", "Inf in x", HOSM_E_NONFINITE,
           hosm_trainer_step(t, g_xinf, NPTS, &loss), TMSG);
    {
        /* All weights 1 and x = 3e38: the first layer's pre-activations
         * overflow to +Inf in float, so the loss is not finite. */
        hosm_model *m1;
        hosm_trainer *t1;
        MUST(hosm_model_new(&m1, D, g_cfg));
        MUST(hosm_trainer_new(&t1, m1, g_cfg));
        float *ones = xmalloc((size_t)g_P * sizeof *ones), *after = xmalloc((size_t)g_P * 4);
        for (int64_t i = 0; i < g_P; i++)
            ones[i] = 1.0f;
        MUST(hosm_model_set_params(m1, ones, g_P));
        float big[NPTS * D];
        for (int i = 0; i < NPTS * D; i++)
            big[i] = 3e38f;
        CASE_H("hosm_trainer_step", "finite x whose loss overflows (all weights 1, x = 3e38)",
               HOSM_E_NONFINITE, hosm_trainer_step(t1, big, NPTS, &loss),
               hosm_trainer_errmsg(t1));
        int64_t s1;
        MUST(hosm_model_get_params(m1, after, g_P));
        MUST(hosm_trainer_step_count(t1, &s1));
        CHECK(memcmp(after, ones, (size_t)g_P * sizeof *ones) == 0 && s1 == 0,
              "a step with a non-finite loss changed the weights or the step count");
        free(ones);
        free(after);
        hosm_trainer_free(t1);
        hosm_model_free(m1);
    }

    CASE("hosm_trainer_fit", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_fit(NULL, g_x, NPTS, NULL, NULL));
    CASE_H("hosm_trainer_fit", "data = NULL, n > 0", HOSM_E_NULL,
           hosm_trainer_fit(t, NULL, NPTS, NULL, NULL), TMSG);
    CASE_H("hosm_trainer_fit", "n = 0", HOSM_E_ARG, hosm_trainer_fit(t, g_x, 0, NULL, NULL), TMSG);
    CASE_H("hosm_trainer_fit", "n = -1", HOSM_E_ARG, hosm_trainer_fit(t, g_x, -1, NULL, NULL),
           TMSG);
    CASE_H("hosm_trainer_fit", "n = 2^62", HOSM_E_ARG,
           hosm_trainer_fit(t, g_x, HUGE_N, NULL, NULL), TMSG);
    CASE_H("hosm_trainer_fit", "NaN in the data", HOSM_E_NONFINITE,
           hosm_trainer_fit(t, g_xnan, NPTS, NULL, NULL), TMSG);
    {
        hosm_config *c;
        hosm_trainer *t2;
        MUST(hosm_config_new(&c));
        MUST(hosm_config_parse(c, "batch=1 epochs=1099511627776"));
        MUST(hosm_trainer_new(&t2, g_m, c));
        CASE_H("hosm_trainer_fit", "epochs = 2^40, 4 points, batch 1 (the step target overflows)",
               HOSM_E_ARG, hosm_trainer_fit(t2, g_x, NPTS, NULL, NULL),
               hosm_trainer_errmsg(t2));
        hosm_trainer_free(t2);
        hosm_config_free(c);
    }
    MUST(hosm_model_get_params(g_m, now, g_P));
    MUST(hosm_trainer_step_count(t, &steps));
    CHECK(memcmp(now, keep, (size_t)g_P * sizeof *now) == 0 && steps == steps0,
          "a failed step or fit changed the weights or the step count");

    float *grad = xmalloc((size_t)g_P * sizeof *grad);
    const int64_t lv_neg[NPTS] = {0, -1, 0, 0}, lv_big[NPTS] = {0, 0, 0, 3};
    CASE("hosm_trainer_gradient", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_gradient(NULL, g_x, g_x, NULL, NPTS, &loss, grad));
    CASE_H("hosm_trainer_gradient", "grad = NULL", HOSM_E_NULL,
           hosm_trainer_gradient(t, g_x, g_x, NULL, NPTS, &loss, NULL), TMSG);
    CASE_H("hosm_trainer_gradient", "x = NULL, n > 0", HOSM_E_NULL,
           hosm_trainer_gradient(t, NULL, g_x, NULL, NPTS, &loss, grad), TMSG);
    CASE_H("hosm_trainer_gradient", "noise = NULL, n > 0", HOSM_E_NULL,
           hosm_trainer_gradient(t, g_x, NULL, NULL, NPTS, &loss, grad), TMSG);
    CASE_H("hosm_trainer_gradient", "n = 0", HOSM_E_ARG,
           hosm_trainer_gradient(t, g_x, g_x, NULL, 0, &loss, grad), TMSG);
    CASE_H("hosm_trainer_gradient", "n = -1", HOSM_E_ARG,
           hosm_trainer_gradient(t, g_x, g_x, NULL, -1, &loss, grad), TMSG);
    CASE_H("hosm_trainer_gradient", "a level of -1", HOSM_E_ARG,
           hosm_trainer_gradient(t, g_x, g_x, lv_neg, NPTS, &loss, grad), TMSG);
    CASE_H("hosm_trainer_gradient", "a level of L", HOSM_E_ARG,
           hosm_trainer_gradient(t, g_x, g_x, lv_big, NPTS, &loss, grad), TMSG);
    CASE_H("hosm_trainer_gradient", "NaN in x", HOSM_E_NONFINITE,
           hosm_trainer_gradient(t, g_xnan, g_x, NULL, NPTS, &loss, grad), TMSG);
    CASE_H("hosm_trainer_gradient", "Inf in the noise", HOSM_E_NONFINITE,
           hosm_trainer_gradient(t, g_x, g_xinf, NULL, NPTS, &loss, grad), TMSG);
    free(grad);

    /* The step in parts: nothing of the trainer changes on failure (its
     * checkpoint, which holds the RNG state too, stays the same). */
    int64_t ck_size;
    uint8_t *ck = checkpoint_bytes(t, &ck_size);
    {
        const char *f = "hosm_trainer_apply_gradient";
        float *g = xmalloc((size_t)(g_P + 1) * sizeof *g);
        for (int64_t i = 0; i <= g_P; i++)
            g[i] = 0.01f;
        CASE_F(f, "trainer = NULL", HOSM_E_NULL, hosm_trainer_apply_gradient(NULL, g, g_P), NULL,
               NULL);
        CASE_FH(f, "grad = NULL", HOSM_E_NULL, hosm_trainer_apply_gradient(t, NULL, g_P), TMSG);
        CASE_FH(f, "count = P - 1", HOSM_E_MISMATCH, hosm_trainer_apply_gradient(t, g, g_P - 1),
                TMSG);
        CASE_FH(f, "count = P + 1", HOSM_E_MISMATCH, hosm_trainer_apply_gradient(t, g, g_P + 1),
                TMSG);
        CASE_FH(f, "count = -1", HOSM_E_MISMATCH, hosm_trainer_apply_gradient(t, g, -1), TMSG);
        g[g_P / 2] = NAN;
        CASE_FH(f, "NaN in grad", HOSM_E_NONFINITE, hosm_trainer_apply_gradient(t, g, g_P), TMSG);
        g[g_P / 2] = 0.01f;
        g[g_P - 1] = -INFINITY;
        CASE_FH(f, "-Inf in grad (the last entry)", HOSM_E_NONFINITE,
                hosm_trainer_apply_gradient(t, g, g_P), TMSG);
        /* g^2 overflows float in the second moment: the update would make v
         * infinite, so it is refused and nothing changes. */
        for (int64_t i = 0; i < g_P; i++)
            g[i] = 3e38f;
        CASE_H(f, "a finite grad whose update overflows (every entry 3e38)", HOSM_E_NONFINITE,
               hosm_trainer_apply_gradient(t, g, g_P), TMSG);
        CHECK(same_checkpoint(t, ck, ck_size),
              "a failed hosm_trainer_apply_gradient changed the trainer");
        /* At the step count limit 2^62 no step is taken. */
        hosm_model *m1;
        hosm_trainer *t1;
        MUST(hosm_model_new(&m1, D, g_cfg));
        MUST(hosm_trainer_new(&t1, m1, g_cfg));
        set_step_count(t1, (int64_t)1 << 62);
        int64_t size1;
        uint8_t *ck1 = checkpoint_bytes(t1, &size1);
        for (int64_t i = 0; i < g_P; i++)
            g[i] = 0.01f;
        CASE_H(f, "a trainer at the step count limit 2^62", HOSM_E_RANGE,
               hosm_trainer_apply_gradient(t1, g, g_P), hosm_trainer_errmsg(t1));
        CHECK(same_checkpoint(t1, ck1, size1),
              "hosm_trainer_apply_gradient at the step limit changed the trainer");
        CASE_H("hosm_trainer_step", "a trainer at the step count limit 2^62", HOSM_E_RANGE,
               hosm_trainer_step(t1, g_x, NPTS, &loss), hosm_trainer_errmsg(t1));
        set_step_count(t1, ((int64_t)1 << 62) - 1);
        CASE_F(f, "a trainer one step below the limit (allowed)", HOSM_OK,
               hosm_trainer_apply_gradient(t1, g, g_P), NULL, NULL);
        free(ck1);
        hosm_trainer_free(t1);
        hosm_model_free(m1);
        free(g);
    }
    {
        const char *f = "hosm_trainer_draw_noise";
        float z[NPTS * D];
        int64_t lv[NPTS];
        CASE_F(f, "trainer = NULL", HOSM_E_NULL, hosm_trainer_draw_noise(NULL, NPTS, z, lv), NULL,
               NULL);
        CASE_FH(f, "n = -1", HOSM_E_ARG, hosm_trainer_draw_noise(t, -1, z, lv), TMSG);
        CASE_FH(f, "n = 2^62 (n D overflows)", HOSM_E_ARG,
                hosm_trainer_draw_noise(t, HUGE_N, z, lv), TMSG);
        CASE_FH(f, "noise = NULL, n > 0", HOSM_E_NULL, hosm_trainer_draw_noise(t, NPTS, NULL, lv),
                TMSG);
        CASE_FH(f, "levels = NULL, n > 0, a model with L > 1 levels", HOSM_E_NULL,
                hosm_trainer_draw_noise(t, NPTS, z, NULL), TMSG);
        CASE_F(f, "n = 0, noise = levels = NULL (nothing to do)", HOSM_OK,
               hosm_trainer_draw_noise(t, 0, NULL, NULL), NULL, NULL);
        CHECK(same_checkpoint(t, ck, ck_size),
              "a failed hosm_trainer_draw_noise advanced the trainer's RNG");
        hosm_config *c1;
        hosm_model *m1;
        hosm_trainer *t1;
        MUST(hosm_config_new(&c1));
        MUST(hosm_config_parse(c1, "hidden=4 depth=1"));
        MUST(hosm_model_new(&m1, D, c1));
        MUST(hosm_trainer_new(&t1, m1, c1));
        CASE_F(f, "levels = NULL, a one-level model (allowed)", HOSM_OK,
               hosm_trainer_draw_noise(t1, NPTS, z, NULL), NULL, NULL);
        hosm_trainer_free(t1);
        hosm_model_free(m1);
        hosm_config_free(c1);
    }
    {
        const char *f = "hosm_trainer_batch_indices";
        int64_t idx[NPTS], cnt;
        CASE_F(f, "trainer = NULL", HOSM_E_NULL, hosm_trainer_batch_indices(NULL, NPTS, 0, idx, &cnt),
               NULL, NULL);
        CASE_FH(f, "indices = NULL", HOSM_E_NULL,
                hosm_trainer_batch_indices(t, NPTS, 0, NULL, &cnt), TMSG);
        CASE_FH(f, "count = NULL", HOSM_E_NULL, hosm_trainer_batch_indices(t, NPTS, 0, idx, NULL),
                TMSG);
        CASE_FH(f, "n = 0", HOSM_E_ARG, hosm_trainer_batch_indices(t, 0, 0, idx, &cnt), TMSG);
        CASE_FH(f, "n = -1", HOSM_E_ARG, hosm_trainer_batch_indices(t, -1, 0, idx, &cnt), TMSG);
        CASE_FH(f, "step = -1", HOSM_E_ARG, hosm_trainer_batch_indices(t, NPTS, -1, idx, &cnt),
                TMSG);
        cnt = -1;
        CASE_F(f, "n = 1, step = INT64_MAX (allowed)", HOSM_OK,
               hosm_trainer_batch_indices(t, 1, INT64_MAX, idx, &cnt), NULL, NULL);
        CHECK(cnt == 1 && idx[0] == 0, "batch_indices(n = 1): count %lld, index %lld",
              (long long)cnt, (long long)idx[0]);
        CHECK(same_checkpoint(t, ck, ck_size), "hosm_trainer_batch_indices changed the trainer");
    }
    free(ck);
    {
        const char *f = "hosm_shard";
        int64_t b = -7, e = -7;
        CASE_F(f, "begin = NULL", HOSM_E_NULL, hosm_shard(10, 3, 0, NULL, &e), NULL, NULL);
        CASE_F(f, "end = NULL", HOSM_E_NULL, hosm_shard(10, 3, 0, &b, NULL), NULL, NULL);
        CASE_F(f, "count = -1", HOSM_E_ARG, hosm_shard(-1, 3, 0, &b, &e), NULL, NULL);
        CASE_F(f, "parts = 0", HOSM_E_ARG, hosm_shard(10, 0, 0, &b, &e), NULL, NULL);
        CASE_F(f, "parts = -1", HOSM_E_ARG, hosm_shard(10, -1, 0, &b, &e), NULL, NULL);
        CASE_F(f, "part = -1", HOSM_E_ARG, hosm_shard(10, 3, -1, &b, &e), NULL, NULL);
        CASE_F(f, "part = parts", HOSM_E_ARG, hosm_shard(10, 3, 3, &b, &e), NULL, NULL);
        CHECK(b == -7 && e == -7, "a failed hosm_shard wrote begin or end");
        CASE_F(f, "count = 0 (every part empty)", HOSM_OK, hosm_shard(0, 3, 2, &b, &e), NULL, NULL);
        CHECK(b == 0 && e == 0, "hosm_shard(0, 3, 2): [%lld, %lld)", (long long)b, (long long)e);
        CASE_F(f, "count = INT64_MAX, parts = 3, part = 2 (no overflow)", HOSM_OK,
               hosm_shard(INT64_MAX, 3, 2, &b, &e), NULL, NULL);
        CHECK(e == INT64_MAX && e - b == INT64_MAX / 3,
              "hosm_shard(INT64_MAX, 3, 2): [%lld, %lld)", (long long)b, (long long)e);
    }

    CASE("hosm_trainer_step_count", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_step_count(NULL, &steps));
    CASE("hosm_trainer_step_count", "out = NULL", HOSM_E_NULL, hosm_trainer_step_count(t, NULL));
    CASE("hosm_trainer_copy_ema", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_copy_ema(NULL, g_m));
    CASE("hosm_trainer_copy_ema", "dst = NULL", HOSM_E_NULL, hosm_trainer_copy_ema(t, NULL));
    CASE_H("hosm_trainer_copy_ema", "dst of another architecture", HOSM_E_MISMATCH,
           hosm_trainer_copy_ema(t, g_other), hosm_model_errmsg(g_other));

    int64_t size, written;
    MUST(hosm_trainer_save_size(t, &size));
    uint8_t *buf = xmalloc((size_t)size);
    CASE("hosm_trainer_save_size", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_save_size(NULL, &size));
    CASE("hosm_trainer_save_size", "bytes = NULL", HOSM_E_NULL, hosm_trainer_save_size(t, NULL));
    CASE("hosm_trainer_save_mem", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_save_mem(NULL, buf, size, &written));
    CASE("hosm_trainer_save_mem", "buf = NULL", HOSM_E_NULL,
         hosm_trainer_save_mem(t, NULL, size, &written));
    CASE("hosm_trainer_save_mem", "cap = size - 1", HOSM_E_BUFFER,
         hosm_trainer_save_mem(t, buf, size - 1, &written));
    CASE("hosm_trainer_save_mem", "cap = -1", HOSM_E_BUFFER,
         hosm_trainer_save_mem(t, buf, -1, &written));
    MUST(hosm_trainer_save_mem(t, buf, size, NULL));
    snprintf(path, sizeof path, "%s/no-such-dir/t.ckpt", dir);
    CASE("hosm_trainer_save", "trainer = NULL", HOSM_E_NULL, hosm_trainer_save(NULL, path));
    CASE("hosm_trainer_save", "path = NULL", HOSM_E_NULL, hosm_trainer_save(t, NULL));
    CASE("hosm_trainer_save", "a path in a missing directory", HOSM_E_IO,
         hosm_trainer_save(t, path));

    CASE("hosm_trainer_load", "trainer = NULL", HOSM_E_NULL, hosm_trainer_load(NULL, path));
    CASE_H("hosm_trainer_load", "path = NULL", HOSM_E_NULL, hosm_trainer_load(t, NULL), TMSG);
    CASE_H("hosm_trainer_load", "a nonexistent path", HOSM_E_IO, hosm_trainer_load(t, path),
           TMSG);
    CASE_H("hosm_trainer_load", "a directory", HOSM_E_IO, hosm_trainer_load(t, dir), TMSG);
    CASE("hosm_trainer_load_mem", "trainer = NULL", HOSM_E_NULL,
         hosm_trainer_load_mem(NULL, buf, size));
    CASE_H("hosm_trainer_load_mem", "buf = NULL", HOSM_E_NULL,
           hosm_trainer_load_mem(t, NULL, size), TMSG);
    CASE_H("hosm_trainer_load_mem", "size = -1", HOSM_E_ARG, hosm_trainer_load_mem(t, buf, -1),
           TMSG);
    CASE_H("hosm_trainer_load_mem", "size = 0", HOSM_E_TRUNCATED,
           hosm_trainer_load_mem(t, buf, 0), TMSG);
    CASE_H("hosm_trainer_load_mem", "size = size - 1", HOSM_E_TRUNCATED,
           hosm_trainer_load_mem(t, buf, size - 1), TMSG);
    int64_t msize;
    MUST(hosm_model_save_size(g_m, &msize));
    uint8_t *mb = xmalloc((size_t)msize);
    MUST(hosm_model_save_mem(g_m, mb, msize, NULL));
    CASE_H("hosm_trainer_load_mem", "a model file", HOSM_E_FORMAT,
           hosm_trainer_load_mem(t, mb, msize), TMSG);
    free(mb);
    {
        hosm_trainer *to;
        MUST(hosm_trainer_new(&to, g_other, g_cfg));
        int64_t osize;
        MUST(hosm_trainer_save_size(to, &osize));
        uint8_t *ob = xmalloc((size_t)osize);
        MUST(hosm_trainer_save_mem(to, ob, osize, NULL));
        CASE_H("hosm_trainer_load_mem", "a checkpoint of another architecture", HOSM_E_MISMATCH,
               hosm_trainer_load_mem(t, ob, osize), TMSG);
        free(ob);
        hosm_trainer_free(to);
    }
    uint8_t *after = xmalloc((size_t)size);
    MUST(hosm_trainer_save_mem(t, after, size, NULL));
    CHECK(memcmp(after, buf, (size_t)size) == 0, "failed loads changed the trainer");
    free(after);
    free(buf);
    free(keep);
    free(now);
#undef TMSG
    (void)tm;
}

/* ---- samplers ---------------------------------------------------------------- */

static void test_sampler(void)
{
    hosm_sampler *s = g_s, *sout = (hosm_sampler *)(uintptr_t)1;
    float x[NPTS * D];
    memcpy(x, g_x, sizeof x);
    CASE("hosm_sampler_new", "out = NULL", HOSM_E_NULL, hosm_sampler_new(NULL, g_m, g_cfg));
    sentinel();
    int st = hosm_sampler_new(&sout, NULL, g_cfg);
    check_case("hosm_sampler_new", "model = NULL", HOSM_E_NULL, st, NULL, NULL, __LINE__);
    CHECK(sout == NULL, "failed hosm_sampler_new left *out non-NULL");
    CASE("hosm_sampler_run", "sampler = NULL", HOSM_E_NULL,
         hosm_sampler_run(NULL, x, NPTS, NULL, NULL));
    CASE_H("hosm_sampler_run", "x = NULL, n > 0", HOSM_E_NULL,
           hosm_sampler_run(s, NULL, NPTS, NULL, NULL), hosm_sampler_errmsg(s));
    CASE_H("hosm_sampler_run", "n = -1", HOSM_E_ARG, hosm_sampler_run(s, x, -1, NULL, NULL),
           hosm_sampler_errmsg(s));
    CASE_H("hosm_sampler_run", "n = 2^62", HOSM_E_ARG,
           hosm_sampler_run(s, x, HUGE_N, NULL, NULL), hosm_sampler_errmsg(s));
    memcpy(x, g_xnan, sizeof x);
    CASE_H("hosm_sampler_run", "NaN in x", HOSM_E_NONFINITE,
           hosm_sampler_run(s, x, NPTS, NULL, NULL), hosm_sampler_errmsg(s));
    CHECK(memcmp(x, g_xnan, sizeof x) == 0, "a rejected sampler run changed x");
    CASE("hosm_sampler_run", "n = 0, x = NULL (nothing to do)", HOSM_OK,
         hosm_sampler_run(s, NULL, 0, NULL, NULL));

    const char *f = "hosm_sampler_run_trace";
    float tr[8 * NPTS * D];
    memcpy(x, g_x, sizeof x);
    CASE_F(f, "sampler = NULL", HOSM_E_NULL, hosm_sampler_run_trace(NULL, x, NPTS, 1, tr, NULL, NULL),
           NULL, NULL);
    CASE_FH(f, "every = 0", HOSM_E_ARG, hosm_sampler_run_trace(s, x, NPTS, 0, tr, NULL, NULL),
            hosm_sampler_errmsg(s));
    CASE_FH(f, "every = -1", HOSM_E_ARG, hosm_sampler_run_trace(s, x, NPTS, -1, tr, NULL, NULL),
            hosm_sampler_errmsg(s));
    CASE_FH(f, "trace = NULL, n > 0", HOSM_E_NULL,
            hosm_sampler_run_trace(s, x, NPTS, 1, NULL, NULL, NULL), hosm_sampler_errmsg(s));
    CASE_FH(f, "x = NULL, n > 0", HOSM_E_NULL,
            hosm_sampler_run_trace(s, NULL, NPTS, 1, tr, NULL, NULL), hosm_sampler_errmsg(s));
    CASE_FH(f, "n = -1", HOSM_E_ARG, hosm_sampler_run_trace(s, x, -1, 1, tr, NULL, NULL),
            hosm_sampler_errmsg(s));
    CASE_FH(f, "n = 2^62", HOSM_E_ARG, hosm_sampler_run_trace(s, x, HUGE_N, 1, tr, NULL, NULL),
            hosm_sampler_errmsg(s));
    memcpy(x, g_xnan, sizeof x);
    CASE_FH(f, "NaN in x", HOSM_E_NONFINITE, hosm_sampler_run_trace(s, x, NPTS, 1, tr, NULL, NULL),
            hosm_sampler_errmsg(s));
    CHECK(memcmp(x, g_xnan, sizeof x) == 0, "a rejected traced run changed x");
    CASE_F(f, "n = 0, x = trace = NULL (nothing to do)", HOSM_OK,
           hosm_sampler_run_trace(s, NULL, 0, 1, NULL, NULL, NULL), NULL, NULL);

    int64_t count;
    double rate;
    CASE_F("hosm_sampler_diverged", "sampler = NULL", HOSM_E_NULL,
           hosm_sampler_diverged(NULL, &count), NULL, NULL);
    CASE_F("hosm_sampler_diverged", "count = NULL", HOSM_E_NULL, hosm_sampler_diverged(s, NULL),
           NULL, NULL);
    CASE_F("hosm_sampler_acceptance", "sampler = NULL", HOSM_E_NULL,
           hosm_sampler_acceptance(NULL, &rate), NULL, NULL);
    CASE_F("hosm_sampler_acceptance", "rate = NULL", HOSM_E_NULL,
           hosm_sampler_acceptance(s, NULL), NULL, NULL);
}

/* Callbacks of a standard normal target, and ones that fail. */
static int cb_logp(const float *x, int64_t n, int64_t dim, double *out, void *u)
{
    (void)u;
    for (int64_t i = 0; i < n; i++) {
        double q = 0.0;
        for (int64_t j = 0; j < dim; j++)
            q += (double)x[i * dim + j] * x[i * dim + j];
        out[i] = -0.5 * q;
    }
    return 0;
}

static int cb_score(const float *x, int64_t n, int64_t dim, float *out, void *u)
{
    (void)u;
    for (int64_t i = 0; i < n * dim; i++)
        out[i] = -x[i];
    return 0;
}

static int cb_hessian(const float *x, int64_t n, int64_t dim, float *out, void *u)
{
    (void)x, (void)u;
    memset(out, 0, (size_t)(n * dim * dim) * sizeof *out);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++)
            out[(i * dim + j) * dim + j] = -1.0f;
    return 0;
}

static int cb_logp_fail(const float *x, int64_t n, int64_t dim, double *out, void *u)
{
    (void)x, (void)n, (void)dim, (void)out, (void)u;
    return 7;
}

static int cb_score_fail(const float *x, int64_t n, int64_t dim, float *out, void *u)
{
    (void)x, (void)n, (void)dim, (void)out, (void)u;
    return 7;
}

static int cb_hessian_fail(const float *x, int64_t n, int64_t dim, float *out, void *u)
{
    (void)x, (void)n, (void)dim, (void)out, (void)u;
    return 7;
}

/* The sampler constructors must leave *out NULL on failure. cfg_text
 * configures the sampler (NULL: defaults). */
static hosm_config *sampler_cfg(const char *cfg_text)
{
    hosm_config *c;
    MUST(hosm_config_new(&c));
    MUST(hosm_config_parse(c, "sample_steps=2 step_size=0.01"));
    if (cfg_text)
        MUST(hosm_config_parse(c, cfg_text));
    return c;
}

static int sampler_new_checked(const hosm_model *m, const char *cfg_text)
{
    hosm_config *c = sampler_cfg(cfg_text);
    hosm_sampler *s = (hosm_sampler *)(uintptr_t)1;
    int st = hosm_sampler_new(&s, m, c);
    if (st != HOSM_OK)
        CHECK(s == NULL, "failed hosm_sampler_new left *out = %p", (void *)s);
    else
        hosm_sampler_free(s);
    hosm_config_free(c);
    return st;
}

static int sampler_mix_checked(const hosm_mixture *mix, double sigma, const char *cfg_text)
{
    hosm_config *c = sampler_cfg(cfg_text);
    hosm_sampler *s = (hosm_sampler *)(uintptr_t)1;
    int st = hosm_sampler_new_mixture(&s, mix, sigma, c);
    if (st != HOSM_OK)
        CHECK(s == NULL, "failed hosm_sampler_new_mixture left *out = %p", (void *)s);
    else
        hosm_sampler_free(s);
    hosm_config_free(c);
    return st;
}

static int sampler_fn_checked(int64_t dim, hosm_logp_fn lp, hosm_score_fn sc, hosm_hessian_fn h,
                              const char *cfg_text)
{
    hosm_config *c = sampler_cfg(cfg_text);
    hosm_sampler *s = (hosm_sampler *)(uintptr_t)1;
    int st = hosm_sampler_new_fn(&s, dim, lp, sc, h, NULL, c);
    if (st != HOSM_OK)
        CHECK(s == NULL, "failed hosm_sampler_new_fn left *out = %p", (void *)s);
    else
        hosm_sampler_free(s);
    hosm_config_free(c);
    return st;
}

/* A run of a sampler over callbacks that fails in a callback: the status,
 * the handle's message, and x as it was (the first evaluation fails). */
static void callback_case(const char *fn, const char *input, hosm_logp_fn lp, hosm_score_fn sc,
                          hosm_hessian_fn h, const char *cfg_text, const char *name, int trace,
                          int line)
{
    hosm_config *c = sampler_cfg(cfg_text);
    hosm_sampler *s;
    MUST(hosm_sampler_new_fn(&s, D, lp, sc, h, NULL, c));
    float x[NPTS * D], tr[2 * NPTS * D];
    memcpy(x, g_x, sizeof x);
    sentinel();
    int got = trace ? hosm_sampler_run_trace(s, x, NPTS, 1, tr, NULL, NULL)
                    : hosm_sampler_run(s, x, NPTS, NULL, NULL);
    check_case2(fn, input, HOSM_E_CALLBACK, got, hosm_sampler_errmsg(s), name, NULL, !trace,
                line);
    CHECK(memcmp(x, g_x, sizeof x) == 0, "line %d: a failed callback changed x", line);
    hosm_sampler_free(s);
    hosm_config_free(c);
}

/* The sources and kinds of the samplers: what each kind needs of its source
 * is checked at creation (HOSM_E_UNSUPPORTED, the message names the
 * function); a failing callback stops the run with HOSM_E_CALLBACK. */
static void test_sampler_sources(void)
{
    const char *f = "hosm_sampler_new";
    hosm_model *none;
    {
        hosm_config *c;
        MUST(hosm_config_new(&c));
        MUST(hosm_config_parse(c, "hidden=4 depth=1 levels=3 sigma_max=1 sigma_min=0.1"));
        MUST(hosm_model_new(&none, D, c));
        hosm_config_free(c);
    }
    CASE_F(f, "sampler = ozaki on a model without s2 (hessian = s2)", HOSM_E_UNSUPPORTED,
           sampler_new_checked(none, "sampler=ozaki"), NULL, NULL);
    CASE_F(f, "sampler = annealed_ozaki on a model without s2 (hessian = s2)", HOSM_E_UNSUPPORTED,
           sampler_new_checked(none, "sampler=annealed_ozaki"), NULL, NULL);
    CASE_F(f, "sampler = ozaki, hessian = jacobian on a model without s2 (allowed)", HOSM_OK,
           sampler_new_checked(none, "sampler=ozaki hessian=jacobian"), NULL, NULL);
    CASE_F(f, "sampler = mala on a score network (no log density)", HOSM_E_UNSUPPORTED,
           sampler_new_checked(none, "sampler=mala"), NULL, NULL);
    CASE_F(f, "sampler = mh_ozaki on a score network with s2 = lowrank (no log density)",
           HOSM_E_UNSUPPORTED, sampler_new_checked(g_m2, "sampler=mh_ozaki"), NULL, NULL);
    CASE_F(f, "sampler = ozaki on a model with s2 = lowrank (allowed)", HOSM_OK,
           sampler_new_checked(g_m2, "sampler=ozaki"), NULL, NULL);
    CASE_F(f, "init_noise = 1, final_denoise = 1 (allowed: a model has levels)", HOSM_OK,
           sampler_new_checked(none, "init_noise=1 final_denoise=1"), NULL, NULL);
    hosm_model_free(none);

    f = "hosm_sampler_new_mixture";
    hosm_sampler *s;
    CASE_F(f, "out = NULL", HOSM_E_NULL, hosm_sampler_new_mixture(NULL, g_mix, 0.5, NULL), NULL,
           NULL);
    CASE_F(f, "mix = NULL", HOSM_E_NULL, sampler_mix_checked(NULL, 0.5, NULL), NULL, NULL);
    CASE_F(f, "sigma = -1", HOSM_E_ARG, sampler_mix_checked(g_mix, -1.0, NULL), "sigma", NULL);
    CASE_F(f, "sigma = NaN", HOSM_E_ARG, sampler_mix_checked(g_mix, NAN, NULL), "sigma", NULL);
    CASE_F(f, "sigma = +Inf", HOSM_E_ARG, sampler_mix_checked(g_mix, INFINITY, NULL), "sigma",
           NULL);
    CASE_F(f, "sigma = 2e6 (above 1e6)", HOSM_E_ARG, sampler_mix_checked(g_mix, 2e6, NULL),
           "sigma", NULL);
    CASE_F(f, "sampler = annealed (one noise level)", HOSM_E_UNSUPPORTED,
           sampler_mix_checked(g_mix, 0.5, "sampler=annealed"), NULL, NULL);
    CASE_F(f, "sampler = annealed_ozaki (one noise level)", HOSM_E_UNSUPPORTED,
           sampler_mix_checked(g_mix, 0.5, "sampler=annealed_ozaki"), NULL, NULL);
    CASE_F(f, "sampler = mh_ozaki, init_noise = 1, final_denoise = 1, sigma = 0 (allowed)",
           HOSM_OK, sampler_mix_checked(g_mix, 0.0, "sampler=mh_ozaki init_noise=1 final_denoise=1"),
           NULL, NULL);

    f = "hosm_sampler_new_fn";
    CASE_F(f, "out = NULL", HOSM_E_NULL,
           hosm_sampler_new_fn(NULL, D, NULL, cb_score, NULL, NULL, NULL), NULL, NULL);
    CASE_F(f, "score = NULL", HOSM_E_NULL, sampler_fn_checked(D, cb_logp, NULL, cb_hessian, NULL),
           "score", NULL);
    CASE_F(f, "dim = 0", HOSM_E_ARG, sampler_fn_checked(0, NULL, cb_score, NULL, NULL), NULL,
           NULL);
    CASE_F(f, "dim = -1", HOSM_E_ARG, sampler_fn_checked(-1, NULL, cb_score, NULL, NULL), NULL,
           NULL);
    CASE_F(f, "dim = 2^20 + 1", HOSM_E_ARG,
           sampler_fn_checked(((int64_t)1 << 20) + 1, NULL, cb_score, NULL, NULL), NULL, NULL);
    CASE_F(f, "sampler = ozaki without a Hessian callback", HOSM_E_UNSUPPORTED,
           sampler_fn_checked(D, cb_logp, cb_score, NULL, "sampler=ozaki"), NULL, NULL);
    CASE_F(f, "sampler = mala without a log-density callback", HOSM_E_UNSUPPORTED,
           sampler_fn_checked(D, NULL, cb_score, cb_hessian, "sampler=mala"), NULL, NULL);
    CASE_F(f, "sampler = mh_ozaki without a log-density callback", HOSM_E_UNSUPPORTED,
           sampler_fn_checked(D, NULL, cb_score, cb_hessian, "sampler=mh_ozaki"), NULL, NULL);
    CASE_F(f, "sampler = annealed (no noise levels)", HOSM_E_UNSUPPORTED,
           sampler_fn_checked(D, cb_logp, cb_score, cb_hessian, "sampler=annealed"), NULL, NULL);
    CASE_F(f, "sampler = annealed_ozaki (no noise levels)", HOSM_E_UNSUPPORTED,
           sampler_fn_checked(D, cb_logp, cb_score, cb_hessian, "sampler=annealed_ozaki"), NULL,
           NULL);
    CASE_F(f, "init_noise = 1 (no noise level)", HOSM_E_UNSUPPORTED,
           sampler_fn_checked(D, cb_logp, cb_score, cb_hessian, "init_noise=1"), "init_noise",
           NULL);
    CASE_F(f, "final_denoise = 1 (no noise level)", HOSM_E_UNSUPPORTED,
           sampler_fn_checked(D, cb_logp, cb_score, cb_hessian, "final_denoise=1"),
           "final_denoise", NULL);
    CASE_F(f, "sampler = mh_ozaki with all three callbacks (allowed)", HOSM_OK,
           sampler_fn_checked(D, cb_logp, cb_score, cb_hessian, "sampler=mh_ozaki"), NULL, NULL);
    CASE_F(f, "score only, logp = hessian = NULL (allowed)", HOSM_OK,
           sampler_fn_checked(D, NULL, cb_score, NULL, NULL), NULL, NULL);
    (void)s;

    callback_case("hosm_sampler_run", "callbacks: the score callback returns 7", NULL,
                  cb_score_fail, NULL, NULL, "score", 0, __LINE__);
    callback_case("hosm_sampler_run", "callbacks, sampler = mala: the log-density callback returns 7",
                  cb_logp_fail, cb_score, NULL, "sampler=mala", "log density", 0, __LINE__);
    callback_case("hosm_sampler_run", "callbacks, sampler = ozaki: the Hessian callback returns 7",
                  NULL, cb_score, cb_hessian_fail, "sampler=ozaki", "Hessian", 0, __LINE__);
    callback_case("hosm_sampler_run_trace", "callbacks: the score callback returns 7", NULL,
                  cb_score_fail, NULL, NULL, "score", 1, __LINE__);
}

/* ---- mixtures ---------------------------------------------------------------- */

static int mix_new_checked(int64_t k, int64_t dim, const double *w, const double *mu,
                           const double *cov)
{
    hosm_mixture *m = (hosm_mixture *)(uintptr_t)1;
    int st = hosm_mixture_new(&m, k, dim, w, mu, cov);
    if (st != HOSM_OK)
        CHECK(m == NULL, "failed hosm_mixture_new left *out = %p", (void *)m);
    else
        hosm_mixture_free(m);
    return st;
}

typedef int (*mix_query_f)(const hosm_mixture *, double, const float *, int64_t, float *);

static int mix_logdens(const hosm_mixture *m, double s, const float *x, int64_t n, float *out)
{
    return hosm_mixture_log_density(m, s, x, n, (double *)(void *)out);
}

/* Non-zero when every byte of buf still holds the fill pattern 0xab. */
static int untouched_bytes(const void *buf, size_t n)
{
    const unsigned char *b = buf;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0xab)
            return 0;
    return 1;
}

/* A valid two-component mixture (D = 2) for the cases of one bad component. */
static const double good_w[2] = {1.0, 2.0};
static const double good_mu[4] = {0.0, 1.0, -1.0, 0.5};
static const double good_cov[8] = {1.0, 0.3, 0.3, 2.0, 0.5, -0.1, -0.1, 0.4};

static void test_mixture(void)
{
    const double w2[2] = {1.0, 2.0}, mu2[4] = {0, 0, 1, 1};
    const double cov2[8] = {1, 0.2, 0.2, 1, 2, 0, 0, 0.5};
    const char *fn = "hosm_mixture_new";
    CASE_F(fn, "out = NULL", HOSM_E_NULL, hosm_mixture_new(NULL, 2, D, w2, mu2, cov2), NULL, NULL);
    CASE_F(fn, "weights = NULL", HOSM_E_NULL, mix_new_checked(2, D, NULL, mu2, cov2), "weights", NULL);
    CASE_F(fn, "means = NULL", HOSM_E_NULL, mix_new_checked(2, D, w2, NULL, cov2), "means", NULL);
    CASE_F(fn, "covs = NULL", HOSM_E_NULL, mix_new_checked(2, D, w2, mu2, NULL), "covs", NULL);
    CASE_F(fn, "k = 0", HOSM_E_ARG, mix_new_checked(0, D, w2, mu2, cov2), NULL, NULL);
    CASE_F(fn, "k = -1", HOSM_E_ARG, mix_new_checked(-1, D, w2, mu2, cov2), NULL, NULL);
    CASE_F(fn, "k = 2^62 (k D overflows)", HOSM_E_ARG, mix_new_checked(HUGE_N, D, w2, mu2, cov2), NULL, NULL);
    CASE_F(fn, "dim = 0", HOSM_E_ARG, mix_new_checked(2, 0, w2, mu2, cov2), NULL, NULL);
    CASE_F(fn, "dim = -1", HOSM_E_ARG, mix_new_checked(2, -1, w2, mu2, cov2), NULL, NULL);
    CASE_F(fn, "dim = 2^40", HOSM_E_ARG, mix_new_checked(2, (int64_t)1 << 40, w2, mu2, cov2), NULL, NULL);
    CASE_F(fn, "k = 2, dim = 2^20 (k D^2 above 2^40)", HOSM_E_ARG, mix_new_checked(2, (int64_t)1 << 20, w2, mu2, cov2), NULL, NULL);
    double w[2], mu[4], cov[8];
#define RESET() (memcpy(w, w2, sizeof w), memcpy(mu, mu2, sizeof mu), memcpy(cov, cov2, sizeof cov))
    RESET();
    w[1] = 0.0;
    CASE_F(fn, "a weight of 0", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    w[1] = -1.0;
    CASE_F(fn, "a negative weight", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    w[1] = NAN;
    CASE_F(fn, "a NaN weight", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    w[1] = INFINITY;
    CASE_F(fn, "an Inf weight", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    w[0] = w[1] = 1e308;
    CASE_F(fn, "weights whose sum overflows (1e308 + 1e308)", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), NULL, NULL);
    RESET();
    mu[3] = NAN;
    CASE_F(fn, "a NaN mean entry", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    mu[3] = -INFINITY;
    CASE_F(fn, "an Inf mean entry", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    mu[3] = INFINITY;
    CASE_F(fn, "a +Inf mean entry", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    RESET();
    cov[5] = NAN;
    CASE_F(fn, "a NaN covariance entry", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), "component 1", NULL);
    RESET();
    cov[1] = 0.3; /* cov[2] stays 0.2 */
    CASE_F(fn, "a covariance that is not symmetric", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), NULL, NULL);
    RESET();
    cov[0] = cov[1] = cov[2] = cov[3] = 1.0;
    CASE_F(fn, "a singular covariance", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), NULL, NULL);
    RESET();
    cov[4] = -2.0;
    CASE_F(fn, "a covariance with a negative eigenvalue", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), NULL, NULL);
    RESET();
    memset(cov + 4, 0, 4 * sizeof *cov);
    CASE_F(fn, "a zero covariance", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov), NULL, NULL);
#undef RESET
    /* The cases of a two-component mixture whose component 1 is bad (and
     * component 0 once): the message names the component and the problem. */
    CASE_F(fn, "k = -3", HOSM_E_ARG, mix_new_checked(-3, D, good_w, good_mu, good_cov), NULL,
           NULL);
    CASE_F(fn, "dim = 2^20 + 1", HOSM_E_ARG,
           mix_new_checked(2, ((int64_t)1 << 20) + 1, good_w, good_mu, good_cov), NULL, NULL);
    CASE_F(fn, "dim = INT64_MAX", HOSM_E_ARG,
           mix_new_checked(2, INT64_MAX, good_w, good_mu, good_cov), NULL, NULL);
    {
        const double wneg[2] = {-2.0, 1.0}, wbig[2] = {DBL_MAX, DBL_MAX};
        CASE_F(fn, "a weight of -2 in component 0", HOSM_E_ARG,
               mix_new_checked(2, D, wneg, good_mu, good_cov), "component 0", NULL);
        CASE_F(fn, "weights whose sum overflows (DBL_MAX + DBL_MAX)", HOSM_E_ARG,
               mix_new_checked(2, D, wbig, good_mu, good_cov), NULL, NULL);
    }
    static const struct {
        double c[4];
        const char *what, *detail;
    } bad_covs[] = {
        {{0.5, 0.2, 0.2 + 1e-6, 0.4}, "not symmetric (relative 5e-6)", "symmetric"},
        {{0.5, 0.2, -0.2, 0.4}, "antisymmetric off-diagonal", "symmetric"},
        {{1.0, 2.0, 2.0, 1.0}, "indefinite", "positive definite"},
        {{1.0, 1.0, 1.0, 1.0}, "singular", "positive definite"},
        {{0.0, 0.0, 0.0, 0.0}, "zero", "positive definite"},
        {{-1.0, 0.0, 0.0, 1.0}, "negative diagonal", "positive definite"},
        {{NAN, 0.0, 0.0, 1.0}, "a NaN entry", "NaN"},
        {{1.0, INFINITY, INFINITY, 1.0}, "Inf entries", "NaN or Inf"},
    };
    for (size_t i = 0; i < sizeof bad_covs / sizeof bad_covs[0]; i++) {
        double c[8];
        memcpy(c, good_cov, sizeof c);
        memcpy(c + 4, bad_covs[i].c, sizeof bad_covs[i].c);
        char in[96];
        snprintf(in, sizeof in, "the covariance of component 1: %s", bad_covs[i].what);
        CASE_F(fn, in, HOSM_E_ARG, mix_new_checked(2, D, good_w, good_mu, c), "component 1",
               bad_covs[i].detail);
    }
    {
        /* Asymmetry far below the tolerance (1e-9 relative) is accepted. */
        double c[8];
        memcpy(c, good_cov, sizeof c);
        c[6] = c[5] * (1.0 + 1e-12);
        CASE_F(fn, "a covariance asymmetric by 1e-12 relative (accepted)", HOSM_OK,
               mix_new_checked(2, D, good_w, good_mu, c), NULL, NULL);
        CASE_F(fn, "valid input (nothing wrong)", HOSM_OK,
               mix_new_checked(2, D, good_w, good_mu, good_cov), NULL, NULL);
    }

    hosm_mixture *mix = g_mix, *mix2;
    MUST(hosm_mixture_new(&mix2, 2, D, good_w, good_mu, good_cov));
    int64_t d;
    float out[NPTS * D];
    CASE_F("hosm_mixture_dim", "mix = NULL", HOSM_E_NULL, hosm_mixture_dim(NULL, &d), "mix", NULL);
    CASE_F("hosm_mixture_dim", "out = NULL", HOSM_E_NULL, hosm_mixture_dim(mix, NULL), "out", NULL);
    CHECK(hosm_mixture_dim(mix, &d) == HOSM_OK && d == D, "hosm_mixture_dim gives %lld", (long long)d);
    CASE_F("hosm_mixture_sample", "mix = NULL", HOSM_E_NULL, hosm_mixture_sample(NULL, 1, NPTS, out), NULL, NULL);
    CASE_F("hosm_mixture_sample", "n = -1", HOSM_E_ARG, hosm_mixture_sample(mix, 1, -1, out), NULL, NULL);
    CASE_F("hosm_mixture_sample", "n = 2^62", HOSM_E_ARG, hosm_mixture_sample(mix, 1, HUGE_N, out), NULL, NULL);
    CASE_F("hosm_mixture_sample", "n = INT64_MAX (size overflow)", HOSM_E_ARG,
           hosm_mixture_sample(mix, 1, INT64_MAX, out), NULL, NULL);
    CASE_F("hosm_mixture_sample", "out = NULL, n > 0", HOSM_E_NULL, hosm_mixture_sample(mix, 1, NPTS, NULL), NULL, NULL);
    CASE_F("hosm_mixture_sample", "n = 0, out = NULL (nothing to do)", HOSM_OK, hosm_mixture_sample(mix, 1, 0, NULL), NULL, NULL);

    static float big[64 * NPTS * D * D];
    const struct {
        const char *fn;
        mix_query_f f;
    } qs[] = {
        {"hosm_mixture_log_density", mix_logdens},
        {"hosm_mixture_score", hosm_mixture_score},
        {"hosm_mixture_hessian", hosm_mixture_hessian},
        {"hosm_mixture_posterior_mean", hosm_mixture_posterior_mean},
        {"hosm_mixture_posterior_cov", hosm_mixture_posterior_cov},
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        const char *f = qs[i].fn;
        mix_query_f q = qs[i].f;
        CASE_F(f, "mix = NULL", HOSM_E_NULL, q(NULL, 0.5, g_x, NPTS, big), NULL, NULL);
        CASE_F(f, "sigma = -1", HOSM_E_ARG, q(mix, -1.0, g_x, NPTS, big), "sigma", NULL);
        CASE_F(f, "sigma = NaN", HOSM_E_ARG, q(mix, NAN, g_x, NPTS, big), "sigma", NULL);
        CASE_F(f, "sigma = +Inf", HOSM_E_ARG, q(mix, INFINITY, g_x, NPTS, big), "sigma", NULL);
        CASE_F(f, "sigma = 1e200 (sigma^2 overflows)", HOSM_E_ARG, q(mix, 1e200, g_x, NPTS, big),
               "sigma", NULL);
        CASE_F(f, "n = -1", HOSM_E_ARG, q(mix, 0.5, g_x, -1, big), NULL, NULL);
        CASE_F(f, "n = 2^62", HOSM_E_ARG, q(mix, 0.5, g_x, HUGE_N, big), NULL, NULL);
        CASE_F(f, "x = NULL, n > 0", HOSM_E_NULL, q(mix, 0.5, NULL, NPTS, big), NULL, NULL);
        CASE_F(f, "out = NULL, n > 0", HOSM_E_NULL, q(mix, 0.5, g_x, NPTS, NULL), NULL, NULL);
        memset(big, 0xab, sizeof big);
        CASE_F(f, "NaN in x", HOSM_E_NONFINITE, q(mix, 0.5, g_xnan, NPTS, big), "point 3", NULL);
        CHECK(untouched_bytes(big, sizeof big), "%s: a rejected NaN wrote to the output", f);
        CASE_F(f, "Inf in x", HOSM_E_NONFINITE, q(mix, 0.5, g_xinf, NPTS, big), "point 0", NULL);
        CHECK(untouched_bytes(big, sizeof big), "%s: a rejected Inf wrote to the output", f);
        CASE_F(f, "n = 0, x = out = NULL (nothing to do)", HOSM_OK, q(mix, 0.5, NULL, 0, NULL),
               NULL, NULL);
        /* On a mixture of two correlated components. */
        CASE_F(f, "n = INT64_MAX (size overflow)", HOSM_E_ARG, q(mix2, 0.5, g_x, INT64_MAX, big),
               NULL, NULL);
        CASE_F(f, "sigma = -0.1", HOSM_E_ARG, q(mix2, -0.1, g_x, NPTS, big), "sigma", NULL);
        CASE_F(f, "sigma = -Inf", HOSM_E_ARG, q(mix2, -INFINITY, g_x, NPTS, big), "sigma", NULL);
        float xm[NPTS * D];
        memcpy(xm, g_x, sizeof xm);
        xm[3] = -INFINITY;
        memset(big, 0xab, sizeof big);
        CASE_F(f, "-Inf in x", HOSM_E_NONFINITE, q(mix2, 0.5, xm, NPTS, big), "point 1", NULL);
        CHECK(untouched_bytes(big, sizeof big), "%s: a rejected -Inf wrote to the output", f);
        CASE_F(f, "n = 0 with valid buffers (nothing written)", HOSM_OK,
               q(mix2, 0.5, g_x, 0, big), NULL, NULL);
        CHECK(untouched_bytes(big, sizeof big), "%s: n = 0 wrote to the output", f);
        CASE_F(f, "sigma = 0 (no noise), valid points", HOSM_OK, q(mix2, 0.0, g_x, NPTS, big),
               NULL, NULL);
        CHECK(hosm_mixture_errmsg(mix)[0] == '\0' && hosm_mixture_errmsg(mix2)[0] == '\0',
              "%s: a query (const) set the handle's message", f);
    }
    {
        const char *f = "hosm_mixture_assign";
        int64_t comp[NPTS];
        CASE_F(f, "mix = NULL", HOSM_E_NULL, hosm_mixture_assign(NULL, g_x, NPTS, comp), NULL, NULL);
        CASE_F(f, "n = -1", HOSM_E_ARG, hosm_mixture_assign(mix2, g_x, -1, comp), NULL, NULL);
        CASE_F(f, "n = 2^62", HOSM_E_ARG, hosm_mixture_assign(mix2, g_x, HUGE_N, comp), NULL, NULL);
        CASE_F(f, "x = NULL, n > 0", HOSM_E_NULL, hosm_mixture_assign(mix2, NULL, NPTS, comp), "x",
               NULL);
        CASE_F(f, "component = NULL, n > 0", HOSM_E_NULL,
               hosm_mixture_assign(mix2, g_x, NPTS, NULL), "component", NULL);
        memset(comp, 0xab, sizeof comp);
        CASE_F(f, "NaN in x", HOSM_E_NONFINITE, hosm_mixture_assign(mix2, g_xnan, NPTS, comp),
               "point 3", NULL);
        CASE_F(f, "Inf in x", HOSM_E_NONFINITE, hosm_mixture_assign(mix2, g_xinf, NPTS, comp),
               "point 0", NULL);
        CHECK(untouched_bytes(comp, sizeof comp), "%s: rejected input wrote to the output", f);
        CASE_F(f, "n = 0, x = component = NULL (nothing to do)", HOSM_OK,
               hosm_mixture_assign(mix2, NULL, 0, NULL), NULL, NULL);
        CASE_F(f, "valid points", HOSM_OK, hosm_mixture_assign(mix2, g_x, NPTS, comp), NULL, NULL);
        int in_range = 1;
        for (int i = 0; i < NPTS; i++)
            in_range &= comp[i] == 0 || comp[i] == 1;
        CHECK(in_range, "%s: a component index outside 0..1", f);
    }
    hosm_mixture_free(mix2);
}

/* ---- diagnostics ------------------------------------------------------------------ */

typedef int (*trace_diag_f)(const float *, int64_t, int64_t, int64_t, double *);

static void test_diagnostics(void)
{
    /* A trace of t = 4 draws of n = 2 chains in D = 2 (16 floats), with a
     * NaN at draw 3, chain 1, coordinate 1 and an Inf at draw 0, chain 0,
     * coordinate 1. */
    enum { T = 4, NC = 2 };
    float tr[T * NC * D], tnan[T * NC * D], tinf[T * NC * D];
    for (int i = 0; i < T * NC * D; i++)
        tr[i] = tnan[i] = tinf[i] = (float)(0.37 * i - 1.0 + 0.11 * (i % 3));
    tnan[T * NC * D - 1] = NAN;
    tinf[1] = INFINITY;
    double out[64];
    const struct {
        const char *fn, *outname;
        trace_diag_f f;
    } ts[] = {{"hosm_diag_ess", "ess", hosm_diag_ess}, {"hosm_diag_rhat", "rhat", hosm_diag_rhat}};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        const char *f = ts[i].fn;
        trace_diag_f q = ts[i].f;
        CASE_F(f, "trace = NULL", HOSM_E_NULL, q(NULL, T, NC, D, out), "trace", NULL);
        CASE_F(f, "out = NULL", HOSM_E_NULL, q(tr, T, NC, D, NULL), ts[i].outname, NULL);
        CASE_F(f, "t = 3 (fewer than 4 draws)", HOSM_E_ARG, q(tr, 3, NC, D, out), "t = 3", NULL);
        CASE_F(f, "t = 0", HOSM_E_ARG, q(tr, 0, NC, D, out), NULL, NULL);
        CASE_F(f, "t = -1", HOSM_E_ARG, q(tr, -1, NC, D, out), NULL, NULL);
        CASE_F(f, "n = 0 (no chains)", HOSM_E_ARG, q(tr, T, 0, D, out), "n = 0", NULL);
        CASE_F(f, "n = -1", HOSM_E_ARG, q(tr, T, -1, D, out), NULL, NULL);
        CASE_F(f, "dim = 0", HOSM_E_ARG, q(tr, T, NC, 0, out), "dim", NULL);
        CASE_F(f, "dim = 2^20 + 1", HOSM_E_ARG, q(tr, T, NC, ((int64_t)1 << 20) + 1, out), "dim",
               NULL);
        CASE_F(f, "t = 2^62 (size overflow)", HOSM_E_ARG, q(tr, HUGE_N, NC, D, out), NULL, NULL);
        CASE_F(f, "t = n = 2^31, dim = 2^20 (size overflow)", HOSM_E_ARG,
               q(tr, (int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 20, out), NULL, NULL);
        memset(out, 0xab, sizeof out);
        CASE_F(f, "NaN in trace", HOSM_E_NONFINITE, q(tnan, T, NC, D, out),
               "draw 3, chain 1, coordinate 1", NULL);
        CASE_F(f, "Inf in trace", HOSM_E_NONFINITE, q(tinf, T, NC, D, out),
               "draw 0, chain 0, coordinate 1", NULL);
        CHECK(untouched_bytes(out, sizeof out), "%s: rejected input wrote to the output", f);
        CASE_F(f, "t = 4, n = 1 (the smallest trace)", HOSM_OK, q(tr, T, 1, D, out), NULL, NULL);
    }

    const char *f = "hosm_diag_ksd";
    double v;
    const float *s = g_x + 1; /* any finite "scores" */
    float snan[NPTS * D];
    memcpy(snan, g_x, sizeof snan);
    snan[2] = NAN;
    CASE_F(f, "x = NULL", HOSM_E_NULL, hosm_diag_ksd(NULL, s, NPTS - 1, D, &v), "x", NULL);
    CASE_F(f, "score = NULL", HOSM_E_NULL, hosm_diag_ksd(g_x, NULL, NPTS, D, &v), "score", NULL);
    CASE_F(f, "ksd = NULL", HOSM_E_NULL, hosm_diag_ksd(g_x, s, NPTS - 1, D, NULL), "ksd", NULL);
    CASE_F(f, "n = 0", HOSM_E_ARG, hosm_diag_ksd(g_x, s, 0, D, &v), "n = 0", NULL);
    CASE_F(f, "n = -1", HOSM_E_ARG, hosm_diag_ksd(g_x, s, -1, D, &v), NULL, NULL);
    CASE_F(f, "dim = 0", HOSM_E_ARG, hosm_diag_ksd(g_x, s, NPTS - 1, 0, &v), "dim", NULL);
    CASE_F(f, "n = 2^62 (size overflow)", HOSM_E_ARG, hosm_diag_ksd(g_x, s, HUGE_N, D, &v), NULL,
           NULL);
    CASE_F(f, "NaN in x", HOSM_E_NONFINITE, hosm_diag_ksd(g_xnan, g_x, NPTS, D, &v), "point 3",
           NULL);
    CASE_F(f, "NaN in score", HOSM_E_NONFINITE, hosm_diag_ksd(g_x, snan, NPTS, D, &v), "score",
           "point 1");
    CASE_F(f, "Inf in x", HOSM_E_NONFINITE, hosm_diag_ksd(g_xinf, g_x, NPTS, D, &v), "point 0",
           NULL);
    CASE_F(f, "n = 1 (one point)", HOSM_OK, hosm_diag_ksd(g_x, s, 1, D, &v), NULL, NULL);

    f = "hosm_diag_energy_distance";
    const float *y = g_x + D; /* the last NPTS - 1 points */
    CASE_F(f, "x = NULL", HOSM_E_NULL, hosm_diag_energy_distance(NULL, NPTS, y, 3, D, &v), "x",
           NULL);
    CASE_F(f, "y = NULL", HOSM_E_NULL, hosm_diag_energy_distance(g_x, NPTS, NULL, 3, D, &v), "y",
           NULL);
    CASE_F(f, "out = NULL", HOSM_E_NULL, hosm_diag_energy_distance(g_x, NPTS, y, 3, D, NULL),
           "out", NULL);
    CASE_F(f, "n = 1 (no pair within x)", HOSM_E_ARG,
           hosm_diag_energy_distance(g_x, 1, y, 3, D, &v), "n = 1", NULL);
    CASE_F(f, "m = 1 (no pair within y)", HOSM_E_ARG,
           hosm_diag_energy_distance(g_x, NPTS, y, 1, D, &v), "m = 1", NULL);
    CASE_F(f, "n = -1", HOSM_E_ARG, hosm_diag_energy_distance(g_x, -1, y, 3, D, &v), NULL, NULL);
    CASE_F(f, "dim = 0", HOSM_E_ARG, hosm_diag_energy_distance(g_x, NPTS, y, 3, 0, &v), "dim",
           NULL);
    CASE_F(f, "m = 2^62 (size overflow)", HOSM_E_ARG,
           hosm_diag_energy_distance(g_x, NPTS, y, HUGE_N, D, &v), NULL, NULL);
    CASE_F(f, "NaN in x", HOSM_E_NONFINITE, hosm_diag_energy_distance(g_xnan, NPTS, y, 3, D, &v),
           "point 3", NULL);
    CASE_F(f, "Inf in y", HOSM_E_NONFINITE,
           hosm_diag_energy_distance(g_x, NPTS, g_xinf, NPTS, D, &v), "y", "point 0");
    CASE_F(f, "n = m = 2 (the smallest sets)", HOSM_OK,
           hosm_diag_energy_distance(g_x, 2, y, 2, D, &v), NULL, NULL);
}

/* ---- handles of the wrong kind ---------------------------------------------------- */

/* Every function that takes a handle checks its kind (the magic number that
 * opens every handle) and returns HOSM_E_MISUSE, naming the function, for a
 * handle of another kind, without touching it; the void free functions
 * ignore it and the errmsg functions return "". (A freed handle is caught
 * the same way while its memory is still mapped, which no public call can
 * arrange without undefined behaviour, so only wrong kinds are rows.) */
static void test_misuse(const char *dir)
{
    /* Handles of the wrong kind: real handles of other kinds, cast. */
    hosm_config *cfg_m = (hosm_config *)(void *)g_m;       /* a model as a config */
    hosm_model *mod_c = (hosm_model *)(void *)g_cfg;       /* a config as a model */
    hosm_trainer *tr_c = (hosm_trainer *)(void *)g_cfg;    /* a config as a trainer */
    hosm_sampler *sa_t = (hosm_sampler *)(void *)g_t;      /* a trainer as a sampler */
    hosm_mixture *mx_m = (hosm_mixture *)(void *)g_m;      /* a model as a mixture */
    const char *as_cfg = "a handle of another kind (a model as cfg)";
    const char *as_model = "a handle of another kind (a config as model)";
    const char *as_trainer = "a handle of another kind (a config as trainer)";
    const char *as_sampler = "a handle of another kind (a trainer as sampler)";
    const char *as_mix = "a handle of another kind (a model as mix)";
    const int W = HOSM_E_MISUSE;

    /* What must not change: the victims' contents and messages. */
    snapshot cfg_before, cfg_after;
    take(g_cfg, &cfg_before);
    int64_t ck_size;
    uint8_t *ck = checkpoint_bytes(g_t, &ck_size);
    char msg_m[256], msg_t[256], msg_c[256], msg_s[256];
    snprintf(msg_m, sizeof msg_m, "%s", hosm_model_errmsg(g_m));
    snprintf(msg_t, sizeof msg_t, "%s", hosm_trainer_errmsg(g_t));
    snprintf(msg_c, sizeof msg_c, "%s", hosm_config_errmsg(g_cfg));
    snprintf(msg_s, sizeof msg_s, "%s", hosm_sampler_errmsg(g_s));

    int64_t v64, cnt, idx[NPTS];
    double vd;
    int vi;
    float out[64 * NPTS * D], out2[64 * NPTS * D], x[NPTS * D];
    float *params = xmalloc((size_t)g_P * sizeof *params);
    MUST(hosm_model_get_params(g_m, params, g_P));
    memcpy(x, g_x, sizeof x);
    uint8_t buf[64];
    char path[512];
    snprintf(path, sizeof path, "%s/misuse.hosm", dir);

    /* Configuration. */
    CASE_F("hosm_config_set_int", as_cfg, W, hosm_config_set_int(cfg_m, HOSM_KEY_HIDDEN, 8), NULL,
           NULL);
    CASE_F("hosm_config_set_double", as_cfg, W,
           hosm_config_set_double(cfg_m, HOSM_KEY_SIGMA, 0.5), NULL, NULL);
    CASE_F("hosm_config_get_int", as_cfg, W, hosm_config_get_int(cfg_m, HOSM_KEY_HIDDEN, &v64),
           NULL, NULL);
    CASE_F("hosm_config_get_double", as_cfg, W,
           hosm_config_get_double(cfg_m, HOSM_KEY_SIGMA, &vd), NULL, NULL);
    CASE_F("hosm_config_parse", as_cfg, W, hosm_config_parse(cfg_m, "hidden=8"), NULL, NULL);

    /* Models. */
    hosm_model *mout = (hosm_model *)(uintptr_t)1;
    CASE_F("hosm_model_new", as_cfg, W, hosm_model_new(&mout, D, cfg_m), NULL, NULL);
    CHECK(mout == NULL, "hosm_model_new with a wrong-kind cfg left *out non-NULL");
    CASE_F("hosm_model_dim", as_model, W, hosm_model_dim(mod_c, &v64), NULL, NULL);
    CASE_F("hosm_model_num_levels", as_model, W, hosm_model_num_levels(mod_c, &v64), NULL, NULL);
    CASE_F("hosm_model_sigma", as_model, W, hosm_model_sigma(mod_c, 0, &vd), NULL, NULL);
    CASE_F("hosm_model_num_params", as_model, W, hosm_model_num_params(mod_c, &v64), NULL, NULL);
    CASE_F("hosm_model_get_params", as_model, W, hosm_model_get_params(mod_c, params, g_P), NULL,
           NULL);
    CASE_F("hosm_model_set_params", as_model, W, hosm_model_set_params(mod_c, params, g_P), NULL,
           NULL);
    hosm_config *c2;
    MUST(hosm_config_new(&c2));
    CASE_F("hosm_model_get_config", as_model, W, hosm_model_get_config(mod_c, c2), NULL, NULL);
    CASE_F("hosm_model_get_config", as_cfg, W, hosm_model_get_config(g_m, cfg_m), NULL, NULL);
    CASE_F("hosm_model_set_config", as_model, W, hosm_model_set_config(mod_c, c2), NULL, NULL);
    CASE_F("hosm_model_set_config", as_cfg, W, hosm_model_set_config(g_m, cfg_m), NULL, NULL);
    CASE_F("hosm_model_at_sigma", as_model, W, at_sigma_checked(mod_c, 0.5), NULL, NULL);
    hosm_config_free(c2);
    CASE_F("hosm_model_score", as_model, W, hosm_model_score(mod_c, 0, g_x, NPTS, out), NULL,
           NULL);
    CASE_F("hosm_model_denoise", as_model, W, hosm_model_denoise(mod_c, 0, g_x, NPTS, out), NULL,
           NULL);
    double lp[NPTS];
    CASE_F("hosm_model_log_density_unnormalized", as_model, W,
           hosm_model_log_density_unnormalized(mod_c, 0, g_x, NPTS, lp), NULL, NULL);
    CASE_F("hosm_model_s2_structure", as_model, W, hosm_model_s2_structure(mod_c, &vi, &v64),
           NULL, NULL);
    CASE_F("hosm_model_hessian", as_model, W, hosm_model_hessian(mod_c, 0, g_x, NPTS, out), NULL,
           NULL);
    CASE_F("hosm_model_hessian_diag", as_model, W,
           hosm_model_hessian_diag(mod_c, 0, g_x, NPTS, out), NULL, NULL);
    CASE_F("hosm_model_hessian_factors", as_model, W,
           hosm_model_hessian_factors(mod_c, 0, g_x, NPTS, out, out2), NULL, NULL);
    CASE_F("hosm_model_hvp", as_model, W, hosm_model_hvp(mod_c, 0, g_x, g_x, NPTS, out), NULL,
           NULL);
    CASE_F("hosm_model_score_jacobian", as_model, W,
           hosm_model_score_jacobian(mod_c, 0, g_x, NPTS, 0, out), NULL, NULL);
    CASE_F("hosm_model_score_jacobian_diag", as_model, W,
           hosm_model_score_jacobian_diag(mod_c, 0, g_x, NPTS, out), NULL, NULL);
    CASE_F("hosm_model_hessian_estimate", as_model, W,
           hosm_model_hessian_estimate(mod_c, 0, g_x, NPTS, HOSM_HESSIAN_AVERAGE, out), NULL,
           NULL);
    CASE_F("hosm_model_posterior_cov", as_model, W,
           hosm_model_posterior_cov(mod_c, 0, g_x, NPTS, 0, out), NULL, NULL);
    CASE_F("hosm_model_posterior_var", as_model, W,
           hosm_model_posterior_var(mod_c, 0, g_x, NPTS, 0, out), NULL, NULL);
    CASE_F("hosm_model_posterior_topk", as_model, W,
           hosm_model_posterior_topk(mod_c, 0, g_x, NPTS, 1, 0, out, out2), NULL, NULL);
    CASE_F("hosm_model_save", as_model, W, hosm_model_save(mod_c, path), NULL, NULL);
    CHECK(access(path, F_OK) != 0, "hosm_model_save of a wrong-kind handle wrote a file");
    CASE_F("hosm_model_save_size", as_model, W, hosm_model_save_size(mod_c, &v64), NULL, NULL);
    CASE_F("hosm_model_save_mem", as_model, W, hosm_model_save_mem(mod_c, buf, sizeof buf, &v64),
           NULL, NULL);

    /* Trainers. */
    hosm_trainer *tout = (hosm_trainer *)(uintptr_t)1;
    CASE_F("hosm_trainer_new", as_model, W, hosm_trainer_new(&tout, mod_c, g_cfg), NULL, NULL);
    CHECK(tout == NULL, "hosm_trainer_new with a wrong-kind model left *out non-NULL");
    CASE_F("hosm_trainer_new", as_cfg, W, hosm_trainer_new(&tout, g_m, cfg_m), NULL, NULL);
    CASE_F("hosm_trainer_step", as_trainer, W, hosm_trainer_step(tr_c, g_x, NPTS, &vd), NULL,
           NULL);
    CASE_F("hosm_trainer_fit", as_trainer, W, hosm_trainer_fit(tr_c, g_x, NPTS, NULL, NULL), NULL,
           NULL);
    float *grad = xmalloc((size_t)g_P * sizeof *grad);
    memset(grad, 0, (size_t)g_P * sizeof *grad);
    CASE_F("hosm_trainer_gradient", as_trainer, W,
           hosm_trainer_gradient(tr_c, g_x, g_x, NULL, NPTS, &vd, grad), NULL, NULL);
    CASE_F("hosm_trainer_apply_gradient", as_trainer, W,
           hosm_trainer_apply_gradient(tr_c, grad, g_P), NULL, NULL);
    free(grad);
    CASE_F("hosm_trainer_draw_noise", as_trainer, W, hosm_trainer_draw_noise(tr_c, NPTS, out, idx),
           NULL, NULL);
    CASE_F("hosm_trainer_batch_indices", as_trainer, W,
           hosm_trainer_batch_indices(tr_c, NPTS, 0, idx, &cnt), NULL, NULL);
    CASE_F("hosm_trainer_step_count", as_trainer, W, hosm_trainer_step_count(tr_c, &v64), NULL,
           NULL);
    CASE_F("hosm_trainer_copy_ema", as_trainer, W, hosm_trainer_copy_ema(tr_c, g_m), NULL, NULL);
    CASE_F("hosm_trainer_copy_ema", "a handle of another kind (a config as dst)", W,
           hosm_trainer_copy_ema(g_t, mod_c), NULL, NULL);
    snprintf(path, sizeof path, "%s/misuse.ckpt", dir);
    CASE_F("hosm_trainer_save", as_trainer, W, hosm_trainer_save(tr_c, path), NULL, NULL);
    CHECK(access(path, F_OK) != 0, "hosm_trainer_save of a wrong-kind handle wrote a file");
    CASE_F("hosm_trainer_load", as_trainer, W, hosm_trainer_load(tr_c, path), NULL, NULL);
    CASE_F("hosm_trainer_save_size", as_trainer, W, hosm_trainer_save_size(tr_c, &v64), NULL,
           NULL);
    CASE_F("hosm_trainer_save_mem", as_trainer, W,
           hosm_trainer_save_mem(tr_c, buf, sizeof buf, &v64), NULL, NULL);
    CASE_F("hosm_trainer_load_mem", as_trainer, W, hosm_trainer_load_mem(tr_c, ck, ck_size), NULL,
           NULL);

    /* Samplers. */
    hosm_sampler *sout = (hosm_sampler *)(uintptr_t)1;
    CASE_F("hosm_sampler_new", as_model, W, hosm_sampler_new(&sout, mod_c, g_cfg), NULL, NULL);
    CHECK(sout == NULL, "hosm_sampler_new with a wrong-kind model left *out non-NULL");
    CASE_F("hosm_sampler_new", as_cfg, W, hosm_sampler_new(&sout, g_m, cfg_m), NULL, NULL);
    CASE_F("hosm_sampler_new_mixture", as_mix, W, hosm_sampler_new_mixture(&sout, mx_m, 0.5, NULL),
           NULL, NULL);
    CASE_F("hosm_sampler_new_mixture", as_cfg, W,
           hosm_sampler_new_mixture(&sout, g_mix, 0.5, cfg_m), NULL, NULL);
    CASE_F("hosm_sampler_new_fn", as_cfg, W,
           hosm_sampler_new_fn(&sout, D, NULL, cb_score, NULL, NULL, cfg_m), NULL, NULL);
    CHECK(sout == NULL, "a sampler constructor with a wrong-kind handle left *out non-NULL");
    CASE_F("hosm_sampler_run", as_sampler, W, hosm_sampler_run(sa_t, x, NPTS, NULL, NULL), NULL,
           NULL);
    CASE_F("hosm_sampler_run_trace", as_sampler, W,
           hosm_sampler_run_trace(sa_t, x, NPTS, 1, out, NULL, NULL), NULL, NULL);
    CHECK(memcmp(x, g_x, sizeof x) == 0, "a run of a wrong-kind sampler changed x");
    CASE_F("hosm_sampler_diverged", as_sampler, W, hosm_sampler_diverged(sa_t, &v64), NULL, NULL);
    CASE_F("hosm_sampler_acceptance", as_sampler, W, hosm_sampler_acceptance(sa_t, &vd), NULL,
           NULL);

    /* Mixtures. */
    CASE_F("hosm_mixture_dim", as_mix, W, hosm_mixture_dim(mx_m, &v64), NULL, NULL);
    CASE_F("hosm_mixture_sample", as_mix, W, hosm_mixture_sample(mx_m, 1, NPTS, out), NULL, NULL);
    double dens[NPTS];
    CASE_F("hosm_mixture_log_density", as_mix, W,
           hosm_mixture_log_density(mx_m, 0.5, g_x, NPTS, dens), NULL, NULL);
    CASE_F("hosm_mixture_score", as_mix, W, hosm_mixture_score(mx_m, 0.5, g_x, NPTS, out), NULL,
           NULL);
    CASE_F("hosm_mixture_hessian", as_mix, W, hosm_mixture_hessian(mx_m, 0.5, g_x, NPTS, out),
           NULL, NULL);
    CASE_F("hosm_mixture_posterior_mean", as_mix, W,
           hosm_mixture_posterior_mean(mx_m, 0.5, g_x, NPTS, out), NULL, NULL);
    CASE_F("hosm_mixture_posterior_cov", as_mix, W,
           hosm_mixture_posterior_cov(mx_m, 0.5, g_x, NPTS, out), NULL, NULL);
    CASE_F("hosm_mixture_assign", as_mix, W, hosm_mixture_assign(mx_m, g_x, NPTS, idx), NULL,
           NULL);

    /* The messages of a wrong kind are "", and freeing one does nothing. */
    ROW("hosm_config_errmsg", as_cfg, "\"\"", hosm_config_errmsg(cfg_m)[0] == '\0');
    ROW("hosm_model_errmsg", as_model, "\"\"", hosm_model_errmsg(mod_c)[0] == '\0');
    ROW("hosm_trainer_errmsg", as_trainer, "\"\"", hosm_trainer_errmsg(tr_c)[0] == '\0');
    ROW("hosm_sampler_errmsg", as_sampler, "\"\"", hosm_sampler_errmsg(sa_t)[0] == '\0');
    ROW("hosm_mixture_errmsg", as_mix, "\"\"", hosm_mixture_errmsg(mx_m)[0] == '\0');
    hosm_config_free(cfg_m);
    hosm_model_free(mod_c);
    hosm_trainer_free(tr_c);
    hosm_sampler_free(sa_t);
    hosm_mixture_free(mx_m);
    int64_t d_mix = 0, d_m = 0;
    int alive = hosm_model_dim(g_m, &d_m) == HOSM_OK && d_m == D &&
                hosm_mixture_dim(g_mix, &d_mix) == HOSM_OK && d_mix == D &&
                hosm_config_get_int(g_cfg, HOSM_KEY_HIDDEN, &v64) == HOSM_OK &&
                hosm_trainer_step_count(g_t, &v64) == HOSM_OK;
    ROW("hosm_config_free", as_cfg, "no-op", alive);
    ROW("hosm_model_free", as_model, "no-op", alive);
    ROW("hosm_trainer_free", as_trainer, "no-op", alive);
    ROW("hosm_sampler_free", as_sampler, "no-op", alive);
    ROW("hosm_mixture_free", as_mix, "no-op", alive);

    take(g_cfg, &cfg_after);
    CHECK(same_snapshot(&cfg_before, &cfg_after), "a call with a wrong-kind handle changed a config");
    CHECK(same_checkpoint(g_t, ck, ck_size),
          "a call with a wrong-kind handle changed a trainer or its model");
    CHECK(strcmp(msg_m, hosm_model_errmsg(g_m)) == 0 &&
              strcmp(msg_t, hosm_trainer_errmsg(g_t)) == 0 &&
              strcmp(msg_c, hosm_config_errmsg(g_cfg)) == 0 &&
              strcmp(msg_s, hosm_sampler_errmsg(g_s)) == 0,
          "a call with a wrong-kind handle wrote into that handle's message");
    free(ck);
    free(params);
}

/* ---- the table and the document ----------------------------------------------- */

static void format_row(const row *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "| `%s` | %s | %s%s%s |", r->fn, r->input,
             strncmp(r->result, "HOSM_", 5) == 0 ? "`" : "", r->result,
             strncmp(r->result, "HOSM_", 5) == 0 ? "`" : "");
}

static void check_document(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("FAIL: cannot open %s\n", path);
        g_failures++;
        return;
    }
    char line[1024], want[1024];
    int i = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "| `hosm_", 8) != 0)
            continue;
        if (i >= g_nrows) {
            if (bad++ < 5)
                printf("FAIL: %s has an extra row: %s\n", path, line);
            i++;
            continue;
        }
        format_row(&g_rows[i], want, sizeof want);
        if (strcmp(line, want) != 0 && bad++ < 5)
            printf("FAIL: %s row %d is\n  %s\nbut the test gives\n  %s\n", path, i + 1, line,
                   want);
        i++;
    }
    fclose(f);
    if (i < g_nrows) {
        bad++;
        format_row(&g_rows[i], want, sizeof want);
        printf("FAIL: %s has %d rows, the test %d; first missing: %s\n", path, i, g_nrows, want);
    }
    if (bad)
        g_failures++;
    printf("%-4s %s: %d table rows against the test's %d\n", bad ? "FAIL" : "ok", path, i,
           g_nrows);
}

int main(int argc, char **argv)
{
    /* Before any failure, the thread's message is empty. */
    CHECK(hosm_last_errmsg() && hosm_last_errmsg()[0] == '\0',
          "hosm_last_errmsg() is \"%s\" before any failure", hosm_last_errmsg());
    CHECK(hosm_version_string() && strcmp(hosm_version_string(), HOSM_VERSION_STRING) == 0 &&
              hosm_version_number() == HOSM_VERSION_NUMBER,
          "version %s / %d vs header %s / %d", hosm_version_string(), hosm_version_number(),
          HOSM_VERSION_STRING, HOSM_VERSION_NUMBER);

    const char *tmp = getenv("TMPDIR");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/hosm-bad-input-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("FATAL: mkdtemp failed\n");
        return 1;
    }

    MUST(hosm_config_new(&g_cfg));
    MUST(hosm_config_parse(g_cfg, "hidden=4 depth=1 levels=3 sigma_max=1 sigma_min=0.1 "
                                  "sample_steps=2 step_size=0.01"));
    MUST(hosm_model_new(&g_m, D, g_cfg));
    MUST(hosm_model_num_params(g_m, &g_P));
    {
        hosm_config *c;
        MUST(hosm_config_new(&c));
        MUST(hosm_config_parse(c, "hidden=4 depth=1 levels=2 sigma_max=1 sigma_min=0.1 "
                                  "s2=lowrank rank=1"));
        MUST(hosm_model_new(&g_m2, D, c));
        MUST(hosm_config_parse(c, "hidden=5 levels=3 s2=none"));
        MUST(hosm_model_new(&g_other, D, c));
        hosm_config_free(c);
    }
    MUST(hosm_trainer_new(&g_t, g_m, g_cfg));
    MUST(hosm_sampler_new(&g_s, g_m, g_cfg));
    {
        const double w = 1.0, mu[D] = {0, 0}, cov[D * D] = {1, 0, 0, 1};
        MUST(hosm_mixture_new(&g_mix, 1, D, &w, mu, cov));
    }
    for (int i = 0; i < NPTS * D; i++)
        g_x[i] = g_xnan[i] = g_xinf[i] = (float)(0.25 * i - 0.5);
    g_xnan[NPTS * D - 1] = NAN;
    g_xinf[1] = INFINITY;

    test_errors_and_free();
    test_config();
    s2_config_keys();
    test_model(dir);
    test_trainer(dir);
    test_sampler();
    test_sampler_sources();
    test_mixture();
    test_diagnostics();
    test_misuse(dir);

    hosm_sampler_free(g_s);
    hosm_trainer_free(g_t);
    hosm_model_free(g_m);
    hosm_model_free(g_m2);
    hosm_model_free(g_other);
    hosm_mixture_free(g_mix);
    hosm_config_free(g_cfg);
    rmdir(dir);

    int print = 0;
    const char *doc = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--table") == 0)
            print = 1;
        else
            doc = argv[i];
    }
    if (print) {
        char buf[1024];
        for (int i = 0; i < g_nrows; i++) {
            format_row(&g_rows[i], buf, sizeof buf);
            printf("%s\n", buf);
        }
    }
    printf("%d cases\n", g_nrows);
    if (doc)
        check_document(doc);
    free(g_rows);
    return finish("test_bad_input");
}
