/* Keyed, typed settings with ranges, defaults and a text form. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"

/* Bounds flags: the low or high bound itself is excluded. */
enum { OPEN_LO = 1, OPEN_HI = 2 };

typedef struct {
    const char *name;
    int type;
    double lo, hi, def; /* int keys: exact in double for every bound used here */
    int open;
    const char *const *names; /* enum keys: text names by value, NULL-terminated */
} key_info;

static const char *const act_names[] = {"softplus", "silu", "tanh", "elu", NULL};
static const char *const objective_names[] = {"dsm", "dsm_vr", "ssm", "ssm_vr", "exact_sm", NULL};
static const char *const projection_names[] = {"rademacher", "gaussian", NULL};
static const char *const sampler_names[] = {"langevin", "annealed", "ozaki", "mala",
                                            "mh_ozaki", "annealed_ozaki", NULL};
static const char *const hessian_names[] = {"s2", "jacobian", "average", NULL};
static const char *const ozaki_solver_names[] = {"auto", "eig", "lanczos", NULL};
static const char *const s2_names[] = {"none", "diag", "lowrank", "full", NULL};
static const char *const s2_objective_names[] = {"d2sm", "d2sm_vr", "d2sm_res", "d2sm_res_vr",
                                                   "d2sm_res_nll",
                                                   NULL};
static const char *const parameterization_names[] = {"score", "energy", "denoiser", NULL};
static const char *const gemm_kernels_names[] = {"auto", "blis", NULL};
static const char *const lr_schedule_names[] = {"constant", "cosine", NULL};
static const char *const s2_head_names[] = {"linear", "logvar", NULL};

#define I HOSM_TYPE_INT
#define D HOSM_TYPE_DOUBLE
static const key_info keys[HOSMI_NUM_KEYS] = {
    [HOSM_KEY_HIDDEN] = {"hidden", I, 1, 65536, 128, 0, NULL},
    [HOSM_KEY_DEPTH] = {"depth", I, 1, 64, 2, 0, NULL},
    [HOSM_KEY_ACT] = {"act", I, 0, 3, HOSM_ACT_SILU, 0, act_names},
    [HOSM_KEY_SIGMA] = {"sigma", D, 0, 1e6, 0.1, OPEN_LO, NULL},
    [HOSM_KEY_SIGMA_MAX] = {"sigma_max", D, 0, 1e6, 1.0, OPEN_LO, NULL},
    [HOSM_KEY_SIGMA_MIN] = {"sigma_min", D, 0, 1e6, 0.01, OPEN_LO, NULL},
    [HOSM_KEY_LEVELS] = {"levels", I, 1, 10000, 1, 0, NULL},
    [HOSM_KEY_SEED] = {"seed", I, 0, 9223372036854775807.0, 0, 0, NULL},
    [HOSM_KEY_THREADS] = {"threads", I, 1, 1024, 1, 0, NULL},
    [HOSM_KEY_OBJECTIVE] = {"objective", I, 0, 4, HOSM_OBJ_DSM, 0, objective_names},
    [HOSM_KEY_LR] = {"lr", D, 0, 10, 1e-3, OPEN_LO, NULL},
    [HOSM_KEY_BETA1] = {"beta1", D, 0, 1, 0.9, OPEN_HI, NULL},
    [HOSM_KEY_BETA2] = {"beta2", D, 0, 1, 0.999, OPEN_HI, NULL},
    [HOSM_KEY_ADAM_EPS] = {"adam_eps", D, 0, 1, 1e-8, OPEN_LO, NULL},
    [HOSM_KEY_WEIGHT_DECAY] = {"weight_decay", D, 0, 1, 0, 0, NULL},
    [HOSM_KEY_CLIP] = {"clip", D, 0, 1e12, 0, 0, NULL},
    [HOSM_KEY_EMA] = {"ema", D, 0, 1, 0.999, OPEN_HI, NULL},
    [HOSM_KEY_BATCH] = {"batch", I, 1, 16777216, 128, 0, NULL},
    [HOSM_KEY_STEPS] = {"steps", I, 0, 1099511627776.0, 1000, 0, NULL},
    [HOSM_KEY_EPOCHS] = {"epochs", I, 0, 1099511627776.0, 0, 0, NULL},
    [HOSM_KEY_SAMPLER] = {"sampler", I, 0, 5, HOSM_SAMPLER_LANGEVIN, 0, sampler_names},
    [HOSM_KEY_STEP_SIZE] = {"step_size", D, 0, 1e6, 1e-3, OPEN_LO, NULL},
    [HOSM_KEY_SAMPLE_STEPS] = {"sample_steps", I, 1, 1099511627776.0, 100, 0, NULL},
    [HOSM_KEY_S2] = {"s2", I, 0, 3, HOSM_S2_NONE, 0, s2_names},
    [HOSM_KEY_RANK] = {"rank", I, 1, 4096, 50, 0, NULL},
    [HOSM_KEY_S2_HIDDEN] = {"s2_hidden", I, 0, 65536, 0, 0, NULL},
    [HOSM_KEY_S2_DEPTH] = {"s2_depth", I, 0, 64, 0, 0, NULL},
    [HOSM_KEY_S2_OBJECTIVE] = {"s2_objective", I, 0, 4, HOSM_OBJ_D2SM_VR, 0, s2_objective_names},
    [HOSM_KEY_W1] = {"w1", D, 0, 1e6, 1.0, 0, NULL},
    [HOSM_KEY_FREEZE_S1] = {"freeze_s1", I, 0, 1, 0, 0, NULL},
    [HOSM_KEY_STREAM] = {"stream", I, 0, 524287, 0, 0, NULL},
    [HOSM_KEY_HESSIAN] = {"hessian", I, 0, 2, HOSM_HESSIAN_S2, 0, hessian_names},
    [HOSM_KEY_L_MAX] = {"l_max", D, 0, 1e30, 1e30, 0, NULL},
    [HOSM_KEY_OZAKI_SOLVER] = {"ozaki_solver", I, 0, 2, HOSM_OZAKI_AUTO, 0, ozaki_solver_names},
    [HOSM_KEY_LANCZOS_TOL] = {"lanczos_tol", D, 1e-12, 0.1, 1e-6, 0, NULL},
    [HOSM_KEY_INIT_NOISE] = {"init_noise", I, 0, 1, 0, 0, NULL},
    [HOSM_KEY_FINAL_DENOISE] = {"final_denoise", I, 0, 1, 0, 0, NULL},
    [HOSM_KEY_PROJECTIONS] = {"projections", I, 1, 64, 1, 0, NULL},
    [HOSM_KEY_PROJECTION] = {"projection", I, 0, 1, HOSM_PROJ_RADEMACHER, 0, projection_names},
    [HOSM_KEY_SSM_NOISE] = {"ssm_noise", I, 0, 1, 0, 0, NULL},
    [HOSM_KEY_RAW_HEAD] = {"raw_head", I, 0, 1, 1, 0, NULL},
    [HOSM_KEY_PARAMETERIZATION] = {"parameterization", I, 0, 2, HOSM_PARAM_SCORE, 0,
                                   parameterization_names},
    [HOSM_KEY_GEMM_KERNELS] = {"gemm_kernels", I, 0, 1, HOSM_GEMM_AUTO, 0, gemm_kernels_names},
    [HOSM_KEY_LR_SCHEDULE] = {"lr_schedule", I, 0, 1, HOSM_LR_CONSTANT, 0, lr_schedule_names},
    [HOSM_KEY_WARMUP] = {"warmup", I, 0, 1099511627776.0, 0, 0, NULL},
    [HOSM_KEY_S2_HEAD] = {"s2_head", I, 0, 1, HOSM_S2_HEAD_LINEAR, 0, s2_head_names},
    [HOSM_KEY_NLL_MARGINAL] = {"nll_marginal", D, 0, 1e6, 0, 0, NULL},
};
#undef I
#undef D

static const key_info *lookup(int key)
{
    if (key <= 0 || key >= HOSMI_NUM_KEYS || !keys[key].name)
        return NULL;
    return &keys[key];
}

int hosmi_check_config(const struct hosm_config *cfg, const char *fn)
{
    return hosmi_check_handle(cfg, HOSMI_HANDLE_CONFIG, fn, "config");
}

void hosmi_config_defaults(struct hosm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->magic = HOSMI_HANDLE_CONFIG;
    for (int k = 1; k < HOSMI_NUM_KEYS; k++) {
        if (!keys[k].name)
            continue;
        if (keys[k].type == HOSM_TYPE_INT)
            cfg->ival[k] = (int64_t)keys[k].def;
        else
            cfg->dval[k] = keys[k].def;
    }
}

/* Keys whose default changed after format version 3, with the old default. */
static const struct {
    int key;
    double value;
} file_base_changes[] = {
    {HOSM_KEY_RAW_HEAD, 0},
    {HOSM_KEY_S2_OBJECTIVE, HOSM_OBJ_D2SM},
};

void hosmi_config_file_base(struct hosm_config *cfg)
{
    hosmi_config_defaults(cfg);
    for (size_t i = 0; i < sizeof file_base_changes / sizeof file_base_changes[0]; i++) {
        const int k = file_base_changes[i].key;
        if (keys[k].type == HOSM_TYPE_INT)
            cfg->ival[k] = (int64_t)file_base_changes[i].value;
        else
            cfg->dval[k] = file_base_changes[i].value;
    }
}

int hosm_config_new(hosm_config **out)
{
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_config_new: out is NULL");
    *out = malloc(sizeof **out);
    if (!*out)
        return hosmi_fail(NULL, HOSM_E_NOMEM, "hosm_config_new: out of memory");
    hosmi_config_defaults(*out);
    return HOSM_OK;
}

void hosm_config_free(hosm_config *cfg)
{
    if (!hosmi_is_handle(cfg, HOSMI_HANDLE_CONFIG))
        return;
    cfg->magic = HOSMI_HANDLE_FREED;
    free(cfg);
}

/* Checks a key and its type; msg may be NULL (static queries). */
static int check_key(char *msg, const char *fn, int key, int type, const key_info **info)
{
    *info = lookup(key);
    if (!*info)
        return hosmi_fail(msg, HOSM_E_KEY, "%s: unknown key %d", fn, key);
    if ((*info)->type != type)
        return hosmi_fail(msg, HOSM_E_TYPE, "%s: key '%s' is of type %s", fn, (*info)->name,
                          (*info)->type == HOSM_TYPE_INT ? "int" : "double");
    return HOSM_OK;
}

static int in_range(const key_info *k, double v)
{
    if (!isfinite(v))
        return 0;
    if ((k->open & OPEN_LO) ? v <= k->lo : v < k->lo)
        return 0;
    if ((k->open & OPEN_HI) ? v >= k->hi : v > k->hi)
        return 0;
    return 1;
}

static void range_text(const key_info *k, char *buf, size_t cap)
{
    if (k->type == HOSM_TYPE_INT)
        snprintf(buf, cap, "[%.0f, %.0f]", k->lo, k->hi);
    else
        snprintf(buf, cap, "%c%g, %g%c", (k->open & OPEN_LO) ? '(' : '[', k->lo, k->hi,
                 (k->open & OPEN_HI) ? ')' : ']');
}

int hosm_config_set_int(hosm_config *cfg, int key, int64_t value)
{
    int st0 = hosmi_check_config(cfg, "hosm_config_set_int");
    if (st0)
        return st0;
    const key_info *k;
    int st = check_key(cfg->errmsg, "hosm_config_set_int", key, HOSM_TYPE_INT, &k);
    if (st)
        return st;
    /* Compare in integers: the int64 bounds used here are exact in double. */
    if (value < (int64_t)k->lo || (double)value > k->hi) {
        char r[80];
        range_text(k, r, sizeof r);
        return hosmi_fail(cfg->errmsg, HOSM_E_RANGE, "key '%s': %lld is outside %s", k->name,
                          (long long)value, r);
    }
    cfg->ival[key] = value;
    return HOSM_OK;
}

int hosm_config_set_double(hosm_config *cfg, int key, double value)
{
    int st0 = hosmi_check_config(cfg, "hosm_config_set_double");
    if (st0)
        return st0;
    const key_info *k;
    int st = check_key(cfg->errmsg, "hosm_config_set_double", key, HOSM_TYPE_DOUBLE, &k);
    if (st)
        return st;
    if (!in_range(k, value)) {
        char r[80];
        range_text(k, r, sizeof r);
        return hosmi_fail(cfg->errmsg, HOSM_E_RANGE, "key '%s': %g is outside %s", k->name, value,
                          r);
    }
    cfg->dval[key] = value;
    return HOSM_OK;
}

int hosm_config_get_int(const hosm_config *cfg, int key, int64_t *out)
{
    int st0 = hosmi_check_config(cfg, "hosm_config_get_int");
    if (st0)
        return st0;
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_config_get_int: out is NULL");
    const key_info *k;
    int st = check_key(NULL, "hosm_config_get_int", key, HOSM_TYPE_INT, &k);
    if (st)
        return st;
    *out = cfg->ival[key];
    return HOSM_OK;
}

int hosm_config_get_double(const hosm_config *cfg, int key, double *out)
{
    int st0 = hosmi_check_config(cfg, "hosm_config_get_double");
    if (st0)
        return st0;
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_config_get_double: out is NULL");
    const key_info *k;
    int st = check_key(NULL, "hosm_config_get_double", key, HOSM_TYPE_DOUBLE, &k);
    if (st)
        return st;
    *out = cfg->dval[key];
    return HOSM_OK;
}

/* Edit distance of two short strings (the first 63 characters of each). */
static int edit_distance(const char *a, const char *b)
{
    int prev[64], cur[64];
    const int la = (int)strnlen(a, 63), lb = (int)strnlen(b, 63);
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            best = best < prev[j] + 1 ? best : prev[j] + 1;
            cur[j] = best < cur[j - 1] + 1 ? best : cur[j - 1] + 1;
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

/* The key name closest to name, or NULL when none is close (at most a
 * third of its letters differ). */
static const char *nearest_key(const char *name)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int k = 1; k < HOSMI_NUM_KEYS; k++) {
        if (!keys[k].name)
            continue;
        int d = edit_distance(name, keys[k].name);
        if (d < best_d) {
            best_d = d;
            best = keys[k].name;
        }
    }
    return best && 3 * best_d <= (int)strlen(best) ? best : NULL;
}

/* "fn: unknown key 'name'" (fn may be NULL), with the nearest name when
 * there is one. */
static int unknown_key(char *msg, const char *fn, const char *name)
{
    const char *near = nearest_key(name);
    return hosmi_fail(msg, HOSM_E_KEY, "%s%sunknown key '%.64s'%s%s%s", fn ? fn : "",
                      fn ? ": " : "", name, near ? " (did you mean '" : "", near ? near : "",
                      near ? "'?)" : "");
}

int hosm_config_key_from_name(const char *name, int *key)
{
    if (!name || !key)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_config_key_from_name: name or key is NULL");
    for (int k = 1; k < HOSMI_NUM_KEYS; k++) {
        if (keys[k].name && strcmp(keys[k].name, name) == 0) {
            *key = k;
            return HOSM_OK;
        }
    }
    return unknown_key(NULL, "hosm_config_key_from_name", name);
}

const char *hosm_config_key_name(int key)
{
    const key_info *k = lookup(key);
    return k ? k->name : NULL;
}

int hosm_config_key_type(int key, int *type)
{
    if (!type)
        return hosmi_fail(NULL, HOSM_E_NULL, "hosm_config_key_type: type is NULL");
    const key_info *k = lookup(key);
    if (!k)
        return hosmi_fail(NULL, HOSM_E_KEY, "hosm_config_key_type: unknown key %d", key);
    *type = k->type;
    return HOSM_OK;
}

int hosm_config_int_bounds(int key, int64_t *lo, int64_t *hi, int64_t *def)
{
    const key_info *k;
    int st = check_key(NULL, "hosm_config_int_bounds", key, HOSM_TYPE_INT, &k);
    if (st)
        return st;
    if (lo)
        *lo = (int64_t)k->lo;
    if (hi)
        *hi = k->hi >= 9223372036854775807.0 ? INT64_MAX : (int64_t)k->hi;
    if (def)
        *def = (int64_t)k->def;
    return HOSM_OK;
}

int hosm_config_double_bounds(int key, double *lo, double *hi, double *def)
{
    const key_info *k;
    int st = check_key(NULL, "hosm_config_double_bounds", key, HOSM_TYPE_DOUBLE, &k);
    if (st)
        return st;
    if (lo)
        *lo = k->lo;
    if (hi)
        *hi = k->hi;
    if (def)
        *def = k->def;
    return HOSM_OK;
}

const char *hosm_config_errmsg(const hosm_config *cfg)
{
    return hosmi_is_handle(cfg, HOSMI_HANDLE_CONFIG) ? cfg->errmsg : "";
}

/* strtod in the "C" notation whatever the process locale: the text may hold
 * only digits, signs, 'e' and '.', and the '.' is handed to strtod as the
 * locale's decimal point; "nan" and "inf" are read too, for the range check
 * to reject like hosm_config_set_double(). Returns 0 and *out, or -1. */
static int parse_double(const char *text, double *out)
{
    const char *word = text + (*text == '+' || *text == '-');
    if (strcasecmp(word, "nan") == 0 || strcasecmp(word, "inf") == 0 ||
        strcasecmp(word, "infinity") == 0) {
        *out = (word[0] == 'n' || word[0] == 'N') ? NAN : *text == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    char buf[64];
    const char *point = localeconv()->decimal_point;
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof buf || !point || strlen(point) != 1)
        return -1;
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        if (c && !(c >= '0' && c <= '9') && !strchr("+-eE.", c))
            return -1;
        buf[i] = c == '.' ? point[0] : c;
    }
    char *end;
    *out = strtod(buf, &end);
    return *end ? -1 : 0;
}

/* Parses one "name=value" token into a scratch config. */
static int parse_pair(hosm_config *cfg, const char *tok, size_t len)
{
    char buf[128];
    if (len >= sizeof buf)
        return hosmi_fail(cfg->errmsg, HOSM_E_PARSE, "token too long: '%.40s...'", tok);
    memcpy(buf, tok, len);
    buf[len] = 0;
    char *eq = strchr(buf, '=');
    if (!eq || eq == buf || !eq[1])
        return hosmi_fail(cfg->errmsg, HOSM_E_PARSE, "expected name=value, got '%s'", buf);
    *eq = 0;
    const char *name = buf, *val = eq + 1;
    int key;
    if (hosm_config_key_from_name(name, &key) != HOSM_OK)
        return unknown_key(cfg->errmsg, NULL, name);
    const key_info *k = &keys[key];
    char *end;
    errno = 0;
    if (k->type == HOSM_TYPE_DOUBLE) {
        /* Overflow gives +-HUGE_VAL, which the range check rejects; underflow
         * to a subnormal is a valid value. */
        double v;
        if (parse_double(val, &v) != 0)
            return hosmi_fail(cfg->errmsg, HOSM_E_PARSE, "key '%s': '%s' is not a number", name,
                              val);
        return hosm_config_set_double(cfg, key, v);
    }
    if (k->names) {
        for (int i = 0; k->names[i]; i++)
            if (strcmp(k->names[i], val) == 0)
                return hosm_config_set_int(cfg, key, i);
    }
    long long v = strtoll(val, &end, 10);
    if (*end || errno == ERANGE)
        return hosmi_fail(cfg->errmsg, k->names ? HOSM_E_RANGE : HOSM_E_PARSE,
                          "key '%s': '%s' is not %s", name, val,
                          k->names ? "one of its names" : "an integer");
    return hosm_config_set_int(cfg, key, v);
}

int hosm_config_parse(hosm_config *cfg, const char *text)
{
    int st0 = hosmi_check_config(cfg, "hosm_config_parse");
    if (st0)
        return st0;
    if (!text)
        return hosmi_fail(cfg->errmsg, HOSM_E_NULL, "hosm_config_parse: text is NULL");
    /* Parse into a copy so that a failure changes nothing. */
    hosm_config tmp = *cfg;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        int st = parse_pair(&tmp, start, (size_t)(p - start));
        if (st)
            return hosmi_fail(cfg->errmsg, st, "hosm_config_parse: %s", tmp.errmsg);
    }
    memcpy(cfg->ival, tmp.ival, sizeof cfg->ival);
    memcpy(cfg->dval, tmp.dval, sizeof cfg->dval);
    return HOSM_OK;
}

/* A double in "C" notation whatever the locale (the counterpart of
 * parse_double). */
static void format_double(double v, char *buf, size_t cap)
{
    /* The shortest of 15, 16 and 17 digits that reads back exactly (strtod
     * and snprintf agree on the locale's decimal point). */
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    const char *point = localeconv()->decimal_point;
    if (point && point[0] && point[0] != '.')
        for (char *c = buf; *c; c++)
            if (*c == point[0])
                *c = '.';
}

int64_t hosmi_config_text(const struct hosm_config *cfg, const struct hosm_config *base,
                          const unsigned char *exclude, char *buf, int64_t cap)
{
    struct hosm_config defaults;
    if (!base) {
        hosmi_config_defaults(&defaults);
        base = &defaults;
    }
    int64_t len = 0;
    for (int k = 1; k < HOSMI_NUM_KEYS; k++) {
        const key_info *ki = &keys[k];
        if (!ki->name || (exclude && exclude[k]))
            continue;
        char val[40];
        if (ki->type == HOSM_TYPE_INT) {
            const int64_t v = cfg->ival[k];
            if (v == base->ival[k])
                continue;
            if (ki->names)
                snprintf(val, sizeof val, "%s", ki->names[v]);
            else
                snprintf(val, sizeof val, "%lld", (long long)v);
        } else {
            if (cfg->dval[k] == base->dval[k])
                continue;
            format_double(cfg->dval[k], val, sizeof val);
        }
        char pair[96];
        int n = snprintf(pair, sizeof pair, "%s%s=%s", len ? " " : "", ki->name, val);
        if (buf && len + n < cap)
            memcpy(buf + len, pair, (size_t)n + 1);
        len += n;
    }
    if (buf && cap > 0 && len < cap)
        buf[len] = 0;
    return len;
}

int hosm_config_to_text(const hosm_config *cfg, char *buf, int64_t cap, int64_t *len)
{
    static const char fn[] = "hosm_config_to_text";
    int st = hosmi_check_config(cfg, fn);
    if (st)
        return st;
    const int64_t n = hosmi_config_text(cfg, NULL, NULL, NULL, 0);
    if (len)
        *len = n;
    if (!buf)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: buf is NULL", fn);
    if (cap < n + 1)
        return hosmi_fail(NULL, HOSM_E_BUFFER, "%s: %lld bytes needed, %lld given", fn,
                          (long long)(n + 1), (long long)cap);
    hosmi_config_text(cfg, NULL, NULL, buf, cap);
    return HOSM_OK;
}
