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
 * must be non-empty and differ from the sentinel. */
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "../test_util.h"

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
static void check_case(const char *fn, const char *input, int want, int got,
                       const char *handle_msg, const char *name, int line)
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
            if (name && !strstr(m, name)) {
                printf("FAIL line %d: %s(%s): the message \"%s\" does not name '%s'\n", line, fn,
                       input, m, name);
                ok = 0;
            }
        }
    }
    if (!ok)
        g_failures++;
    add_row(fn, input, status_name(want));
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
                         HOSM_E_PARSE,    HOSM_E_UNSUPPORTED};
    const char *generic = hosm_strerror(INT_MIN);
    int distinct = generic && generic[0];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = hosm_strerror(known[i]);
        distinct &= s && s[0] && strcmp(s, generic) != 0;
        for (size_t j = 0; j < i; j++)
            distinct &= strcmp(s, hosm_strerror(known[j])) != 0;
    }
    ROW("hosm_strerror", "every code of enum hosm_status", "its own non-empty text", distinct);
    const int unknown[] = {2, -17, 100, -1000, INT_MIN, INT_MAX};
    int generic_ok = 1;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = hosm_strerror(unknown[i]);
        generic_ok &= s != NULL && strcmp(s, generic) == 0;
    }
    ROW("hosm_strerror", "unknown codes (2, -17, 100, -1000, INT_MIN, INT_MAX)",
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

/* Second-order queries: which of them, with their extra arguments. */
enum { S2_HESS, S2_DIAG, S2_FACT, S2_HVP, S2_COV, S2_VAR, S2_TOPK, S2_JAC, S2_JACD };
static const char *const s2_fn[] = {
    "hosm_model_hessian",       "hosm_model_hessian_diag",  "hosm_model_hessian_factors",
    "hosm_model_hvp",           "hosm_model_posterior_cov", "hosm_model_posterior_var",
    "hosm_model_posterior_topk", "hosm_model_score_jacobian", "hosm_model_score_jacobian_diag"};

static int s2_call(int q, const hosm_model *m, int64_t level, const float *x, int64_t n,
                   float *out, float *out2, const float *v, int64_t k, int flag)
{
    switch (q) {
    case S2_HESS: return hosm_model_hessian(m, level, x, n, out);
    case S2_DIAG: return hosm_model_hessian_diag(m, level, x, n, out);
    case S2_FACT: return hosm_model_hessian_factors(m, level, x, n, out, out2);
    case S2_HVP: return hosm_model_hvp(m, level, x, v, n, out);
    case S2_COV: return hosm_model_posterior_cov(m, level, x, n, flag, out);
    case S2_VAR: return hosm_model_posterior_var(m, level, x, n, flag, out);
    case S2_TOPK: return hosm_model_posterior_topk(m, level, x, n, k, flag, out, out2);
    case S2_JAC: return hosm_model_score_jacobian(m, level, x, n, flag, out);
    default: return hosm_model_score_jacobian_diag(m, level, x, n, out);
    }
}

static void s2_query_cases(void)
{
    static float o1[64 * NPTS * D * D], o2[64 * NPTS * D * D];
    for (int q = S2_HESS; q <= S2_JACD; q++) {
        const char *fn = s2_fn[q];
        const int jac = q == S2_JAC || q == S2_JACD;
        hosm_model *m = g_m2; /* lowrank s2 (rank 1) */
        CASE(fn, "model = NULL", HOSM_E_NULL, s2_call(q, NULL, 0, g_x, NPTS, o1, o2, g_x, 1, 0));
        CASE(fn, "level = -1", HOSM_E_ARG, s2_call(q, m, -1, g_x, NPTS, o1, o2, g_x, 1, 0));
        CASE(fn, "level = L", HOSM_E_ARG, s2_call(q, m, 2, g_x, NPTS, o1, o2, g_x, 1, 0));
        CASE(fn, "n = -1", HOSM_E_ARG, s2_call(q, m, 0, g_x, -1, o1, o2, g_x, 1, 0));
        CASE(fn, "n = 2^62", HOSM_E_ARG, s2_call(q, m, 0, g_x, HUGE_N, o1, o2, g_x, 1, 0));
        CASE(fn, "x = NULL, n > 0", HOSM_E_NULL, s2_call(q, m, 0, NULL, NPTS, o1, o2, g_x, 1, 0));
        CASE(fn, "NaN in x", HOSM_E_NONFINITE,
             s2_call(q, m, 0, g_xnan, NPTS, o1, o2, g_x, 1, 0));
        CASE(fn, "out = NULL, n > 0", HOSM_E_NULL,
             s2_call(q, m, 0, g_x, NPTS, NULL, o2, g_x, 1, 0));
        if (q == S2_FACT || q == S2_TOPK)
            CASE(fn, q == S2_FACT ? "d = NULL, n > 0" : "vecs = NULL, n > 0", HOSM_E_NULL,
                 s2_call(q, m, 0, g_x, NPTS, o1, NULL, g_x, 1, 0));
        if (q == S2_HVP) {
            CASE(fn, "v = NULL, n > 0", HOSM_E_NULL,
                 s2_call(q, m, 0, g_x, NPTS, o1, o2, NULL, 1, 0));
            CASE(fn, "NaN in v", HOSM_E_NONFINITE,
                 s2_call(q, m, 0, g_x, NPTS, o1, o2, g_xnan, 1, 0));
        }
        if (q == S2_COV || q == S2_VAR || q == S2_TOPK) {
            CASE(fn, "clamp = 2", HOSM_E_ARG, s2_call(q, m, 0, g_x, NPTS, o1, o2, g_x, 1, 2));
            CASE(fn, "clamp = -1", HOSM_E_ARG, s2_call(q, m, 0, g_x, NPTS, o1, o2, g_x, 1, -1));
        }
        if (q == S2_JAC)
            CASE(fn, "symmetrize = 2", HOSM_E_ARG,
                 s2_call(q, m, 0, g_x, NPTS, o1, o2, g_x, 1, 2));
        if (q == S2_TOPK) {
            CASE(fn, "k = 0", HOSM_E_ARG, s2_call(q, m, 0, g_x, NPTS, o1, o2, g_x, 0, 0));
            CASE(fn, "k = D + 1", HOSM_E_ARG, s2_call(q, m, 0, g_x, NPTS, o1, o2, g_x, D + 1, 0));
        }
        if (!jac)
            CASE(fn, "a model with s2 = none", HOSM_E_UNSUPPORTED,
                 s2_call(q, g_m, 0, g_x, NPTS, o1, o2, g_x, 1, 0));
        if (q == S2_FACT) {
            hosm_config *c;
            hosm_model *md;
            MUST(hosm_config_new(&c));
            MUST(hosm_config_parse(c, "hidden=4 depth=1 s2=diag"));
            MUST(hosm_model_new(&md, D, c));
            CASE(fn, "a model with s2 = diag (factors exist for lowrank only)",
                 HOSM_E_UNSUPPORTED, s2_call(q, md, 0, g_x, NPTS, o1, o2, g_x, 1, 0));
            hosm_model_free(md);
            hosm_config_free(c);
        }
        CASE(fn, "n = 0, x = out = NULL (nothing to do)", HOSM_OK,
             s2_call(q, m, 0, NULL, 0, NULL, NULL, NULL, 1, 0));
    }
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
    hosm_config_free(c);
    int s2kind;
    CASE("hosm_model_s2_structure", "model = NULL", HOSM_E_NULL,
         hosm_model_s2_structure(NULL, &s2kind, &v64));
    CASE("hosm_model_s2_structure", "structure = rank = NULL (allowed)", HOSM_OK,
         hosm_model_s2_structure(m, NULL, NULL));

    point_query_cases("hosm_model_score", hosm_model_score);
    point_query_cases("hosm_model_denoise", hosm_model_denoise);
    s2_query_cases();

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

static void test_mixture(void)
{
    const double w2[2] = {1.0, 2.0}, mu2[4] = {0, 0, 1, 1};
    const double cov2[8] = {1, 0.2, 0.2, 1, 2, 0, 0, 0.5};
    const char *fn = "hosm_mixture_new";
    CASE(fn, "out = NULL", HOSM_E_NULL, hosm_mixture_new(NULL, 2, D, w2, mu2, cov2));
    CASE(fn, "weights = NULL", HOSM_E_NULL, mix_new_checked(2, D, NULL, mu2, cov2));
    CASE(fn, "means = NULL", HOSM_E_NULL, mix_new_checked(2, D, w2, NULL, cov2));
    CASE(fn, "covs = NULL", HOSM_E_NULL, mix_new_checked(2, D, w2, mu2, NULL));
    CASE(fn, "k = 0", HOSM_E_ARG, mix_new_checked(0, D, w2, mu2, cov2));
    CASE(fn, "k = -1", HOSM_E_ARG, mix_new_checked(-1, D, w2, mu2, cov2));
    CASE(fn, "k = 2^62 (k D overflows)", HOSM_E_ARG, mix_new_checked(HUGE_N, D, w2, mu2, cov2));
    CASE(fn, "dim = 0", HOSM_E_ARG, mix_new_checked(2, 0, w2, mu2, cov2));
    CASE(fn, "dim = -1", HOSM_E_ARG, mix_new_checked(2, -1, w2, mu2, cov2));
    CASE(fn, "dim = 2^40", HOSM_E_ARG, mix_new_checked(2, (int64_t)1 << 40, w2, mu2, cov2));
    CASE(fn, "k = 2, dim = 2^20 (k D^2 above 2^40)", HOSM_E_ARG,
         mix_new_checked(2, (int64_t)1 << 20, w2, mu2, cov2));
    double w[2], mu[4], cov[8];
#define RESET() (memcpy(w, w2, sizeof w), memcpy(mu, mu2, sizeof mu), memcpy(cov, cov2, sizeof cov))
    RESET();
    w[1] = 0.0;
    CASE(fn, "a weight of 0", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    w[1] = -1.0;
    CASE(fn, "a negative weight", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    w[1] = NAN;
    CASE(fn, "a NaN weight", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    w[1] = INFINITY;
    CASE(fn, "an Inf weight", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    w[0] = w[1] = 1e308;
    CASE(fn, "weights whose sum overflows (1e308 + 1e308)", HOSM_E_ARG,
         mix_new_checked(2, D, w, mu, cov));
    RESET();
    mu[3] = NAN;
    CASE(fn, "a NaN mean entry", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    mu[3] = -INFINITY;
    CASE(fn, "an Inf mean entry", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    RESET();
    cov[5] = NAN;
    CASE(fn, "a NaN covariance entry", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    RESET();
    cov[1] = 0.3; /* cov[2] stays 0.2 */
    CASE(fn, "a covariance that is not symmetric", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    RESET();
    cov[0] = cov[1] = cov[2] = cov[3] = 1.0;
    CASE(fn, "a singular covariance", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
    RESET();
    cov[4] = -2.0;
    CASE(fn, "a covariance with a negative eigenvalue", HOSM_E_ARG,
         mix_new_checked(2, D, w, mu, cov));
    RESET();
    memset(cov + 4, 0, 4 * sizeof *cov);
    CASE(fn, "a zero covariance", HOSM_E_ARG, mix_new_checked(2, D, w, mu, cov));
#undef RESET

    hosm_mixture *mix = g_mix;
    int64_t d;
    float out[NPTS * D];
    CASE("hosm_mixture_dim", "mix = NULL", HOSM_E_NULL, hosm_mixture_dim(NULL, &d));
    CASE("hosm_mixture_dim", "out = NULL", HOSM_E_NULL, hosm_mixture_dim(mix, NULL));
    CASE("hosm_mixture_sample", "mix = NULL", HOSM_E_NULL, hosm_mixture_sample(NULL, 1, NPTS, out));
    CASE("hosm_mixture_sample", "n = -1", HOSM_E_ARG, hosm_mixture_sample(mix, 1, -1, out));
    CASE("hosm_mixture_sample", "n = 2^62", HOSM_E_ARG, hosm_mixture_sample(mix, 1, HUGE_N, out));
    CASE("hosm_mixture_sample", "out = NULL, n > 0", HOSM_E_NULL,
         hosm_mixture_sample(mix, 1, NPTS, NULL));
    CASE("hosm_mixture_sample", "n = 0, out = NULL (nothing to do)", HOSM_OK,
         hosm_mixture_sample(mix, 1, 0, NULL));

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
        CASE(f, "mix = NULL", HOSM_E_NULL, q(NULL, 0.5, g_x, NPTS, big));
        CASE(f, "sigma = -1", HOSM_E_ARG, q(mix, -1.0, g_x, NPTS, big));
        CASE(f, "sigma = NaN", HOSM_E_ARG, q(mix, NAN, g_x, NPTS, big));
        CASE(f, "sigma = +Inf", HOSM_E_ARG, q(mix, INFINITY, g_x, NPTS, big));
        CASE(f, "sigma = 1e200 (sigma^2 overflows)", HOSM_E_ARG, q(mix, 1e200, g_x, NPTS, big));
        CASE(f, "n = -1", HOSM_E_ARG, q(mix, 0.5, g_x, -1, big));
        CASE(f, "n = 2^62", HOSM_E_ARG, q(mix, 0.5, g_x, HUGE_N, big));
        CASE(f, "x = NULL, n > 0", HOSM_E_NULL, q(mix, 0.5, NULL, NPTS, big));
        CASE(f, "out = NULL, n > 0", HOSM_E_NULL, q(mix, 0.5, g_x, NPTS, NULL));
        CASE(f, "NaN in x", HOSM_E_NONFINITE, q(mix, 0.5, g_xnan, NPTS, big));
        CASE(f, "Inf in x", HOSM_E_NONFINITE, q(mix, 0.5, g_xinf, NPTS, big));
        CASE(f, "n = 0, x = out = NULL (nothing to do)", HOSM_OK, q(mix, 0.5, NULL, 0, NULL));
    }
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
    test_model(dir);
    test_trainer(dir);
    test_sampler();
    test_mixture();

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
