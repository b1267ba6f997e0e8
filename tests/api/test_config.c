/* Config keys: defaults, bounds, typed access, the text form and its errors. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "hosm.h"

static int failures;
#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
            failures++;                                                 \
        }                                                               \
    } while (0)

int main(void)
{
    hosm_config *c;
    CHECK(hosm_config_new(&c) == HOSM_OK);

    /* Every named key round-trips its default and reports consistent bounds. */
    int named = 0;
    for (int key = 0; key < 64; key++) {
        const char *name = hosm_config_key_name(key);
        if (!name)
            continue;
        named++;
        int back, type;
        CHECK(hosm_config_key_from_name(name, &back) == HOSM_OK && back == key);
        CHECK(hosm_config_key_type(key, &type) == HOSM_OK);
        if (type == HOSM_TYPE_INT) {
            int64_t lo, hi, def, v;
            CHECK(hosm_config_int_bounds(key, &lo, &hi, &def) == HOSM_OK);
            CHECK(lo <= def && def <= hi);
            CHECK(hosm_config_get_int(c, key, &v) == HOSM_OK && v == def);
            CHECK(hosm_config_set_int(c, key, hi) == HOSM_OK);
            CHECK(hosm_config_get_int(c, key, &v) == HOSM_OK && v == hi);
            CHECK(hosm_config_set_int(c, key, lo) == HOSM_OK);
            CHECK(hosm_config_set_double(c, key, 1.0) == HOSM_E_TYPE);
        } else {
            double lo, hi, def, v;
            CHECK(hosm_config_double_bounds(key, &lo, &hi, &def) == HOSM_OK);
            CHECK(lo <= def && def <= hi);
            CHECK(hosm_config_get_double(c, key, &v) == HOSM_OK && v == def);
            CHECK(hosm_config_set_int(c, key, 1) == HOSM_E_TYPE);
        }
    }
    CHECK(named == HOSM_KEY_NLL_MARGINAL); /* keys 1..the last one, no gaps */

    /* The text form, with enum names and integers. */
    CHECK(hosm_config_parse(c, "hidden=256 depth=3\tact=tanh sigma=0.25 objective=dsm_vr "
                               "sampler=1 seed=9223372036854775807") == HOSM_OK);
    int64_t v;
    double d;
    CHECK(hosm_config_get_int(c, HOSM_KEY_HIDDEN, &v) == HOSM_OK && v == 256);
    CHECK(hosm_config_get_int(c, HOSM_KEY_DEPTH, &v) == HOSM_OK && v == 3);
    CHECK(hosm_config_get_int(c, HOSM_KEY_ACT, &v) == HOSM_OK && v == HOSM_ACT_TANH);
    CHECK(hosm_config_get_int(c, HOSM_KEY_OBJECTIVE, &v) == HOSM_OK && v == HOSM_OBJ_DSM_VR);
    CHECK(hosm_config_get_int(c, HOSM_KEY_SAMPLER, &v) == HOSM_OK && v == HOSM_SAMPLER_ANNEALED);
    CHECK(hosm_config_get_int(c, HOSM_KEY_SEED, &v) == HOSM_OK && v == INT64_MAX);
    CHECK(hosm_config_get_double(c, HOSM_KEY_SIGMA, &d) == HOSM_OK && d == 0.25);
    CHECK(hosm_config_parse(c, "") == HOSM_OK && hosm_config_parse(c, "  \n ") == HOSM_OK);

    /* A failed parse changes nothing, and the message names the key. */
    CHECK(hosm_config_parse(c, "hidden=64 depth=0") == HOSM_E_RANGE);
    CHECK(strstr(hosm_config_errmsg(c), "depth") != NULL);
    CHECK(strstr(hosm_last_errmsg(), "depth") != NULL);
    CHECK(hosm_config_get_int(c, HOSM_KEY_HIDDEN, &v) == HOSM_OK && v == 256);
    CHECK(hosm_config_parse(c, "widht=3") == HOSM_E_KEY);
    CHECK(strstr(hosm_config_errmsg(c), "widht") != NULL);
    /* An unknown key names the nearest one when it is close, and no other. */
    CHECK(hosm_config_parse(c, "hiden=3") == HOSM_E_KEY &&
          strstr(hosm_last_errmsg(), "did you mean 'hidden'?") != NULL &&
          strncmp(hosm_last_errmsg(), "hosm_config_parse: ", 19) == 0);
    CHECK(hosm_config_parse(c, "zzz=3") == HOSM_E_KEY &&
          strstr(hosm_last_errmsg(), "did you mean") == NULL);
    CHECK(hosm_config_parse(c, "act=relu") == HOSM_E_RANGE);
    CHECK(strstr(hosm_config_errmsg(c), "act") != NULL);
    CHECK(hosm_config_parse(c, "sigma=abc") == HOSM_E_PARSE);
    CHECK(hosm_config_parse(c, "sigma=0") == HOSM_E_RANGE);
    CHECK(hosm_config_parse(c, "lr=nan") == HOSM_E_RANGE);
    CHECK(hosm_config_parse(c, "lr=-inf") == HOSM_E_RANGE);
    CHECK(hosm_config_parse(c, "lr=1e-3x") == HOSM_E_PARSE);
    CHECK(hosm_config_parse(c, "hidden") == HOSM_E_PARSE);
    CHECK(hosm_config_parse(c, "=3") == HOSM_E_PARSE);
    CHECK(hosm_config_parse(c, "hidden=") == HOSM_E_PARSE);
    CHECK(hosm_config_parse(c, "seed=9223372036854775808") == HOSM_E_PARSE);
    CHECK(hosm_config_get_double(c, HOSM_KEY_SIGMA, &d) == HOSM_OK && d == 0.25);

    /* Open and closed bounds. */
    CHECK(hosm_config_set_double(c, HOSM_KEY_BETA1, 0.0) == HOSM_OK);
    CHECK(hosm_config_set_double(c, HOSM_KEY_BETA1, 1.0) == HOSM_E_RANGE);
    CHECK(hosm_config_set_double(c, HOSM_KEY_LR, 0.0) == HOSM_E_RANGE);
    CHECK(hosm_config_set_double(c, HOSM_KEY_LR, 10.0) == HOSM_OK);

    /* A model reports the keys it was built from. */
    hosm_config *m_cfg;
    hosm_model *m;
    CHECK(hosm_config_new(&m_cfg) == HOSM_OK);
    CHECK(hosm_config_parse(c, "hidden=7 depth=2 levels=3 sigma_max=2 sigma_min=0.5") == HOSM_OK);
    CHECK(hosm_model_new(&m, 3, c) == HOSM_OK);
    CHECK(hosm_model_get_config(m, m_cfg) == HOSM_OK);
    CHECK(hosm_config_get_int(m_cfg, HOSM_KEY_HIDDEN, &v) == HOSM_OK && v == 7);
    CHECK(hosm_config_get_int(m_cfg, HOSM_KEY_LEVELS, &v) == HOSM_OK && v == 3);
    double s0, s1, s2;
    CHECK(hosm_model_sigma(m, 0, &s0) == HOSM_OK && s0 == 2.0);
    CHECK(hosm_model_sigma(m, 1, &s1) == HOSM_OK && s1 > 0.999 && s1 < 1.001);
    CHECK(hosm_model_sigma(m, 2, &s2) == HOSM_OK && s2 > 0.4999999 && s2 < 0.5000001);
    int64_t np;
    /* 3 -> 7 -> 7 -> 3 plus a 3 x 7 level embedding. */
    CHECK(hosm_model_num_params(m, &np) == HOSM_OK && np == 7 * 4 + 7 * 8 + 3 * 8 + 3 * 7);
    /* A ladder needs sigma_max > sigma_min. */
    hosm_model *bad = NULL;
    CHECK(hosm_config_parse(c, "sigma_max=0.5 sigma_min=0.5") == HOSM_OK);
    CHECK(hosm_model_new(&bad, 3, c) == HOSM_E_RANGE && bad == NULL);
    CHECK(strstr(hosm_last_errmsg(), "sigma_max") != NULL);
    hosm_model_free(m);
    hosm_config_free(m_cfg);

    /* Numbers are read in "C" notation whatever the locale (where a locale
     * with a decimal comma is installed). */
    const char *comma[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    int tried = 0;
    for (size_t i = 0; i < sizeof comma / sizeof comma[0] && !tried; i++) {
        if (!setlocale(LC_NUMERIC, comma[i]))
            continue;
        tried = 1;
        CHECK(hosm_config_parse(c, "sigma=0.125") == HOSM_OK);
        CHECK(hosm_config_get_double(c, HOSM_KEY_SIGMA, &d) == HOSM_OK && d == 0.125);
        CHECK(hosm_config_parse(c, "sigma=0,5") == HOSM_E_PARSE);
        setlocale(LC_NUMERIC, "C");
    }
    printf("decimal-comma locale check: %s\n", tried ? "ran" : "no such locale installed");

    /* Version. */
    CHECK(hosm_version_number() == HOSM_VERSION_NUMBER);
    CHECK(strcmp(hosm_version_string(), HOSM_VERSION_STRING) == 0);

    /* The text form: every key away from its default (the highest value of
     * an int key, the midpoint of a double key's range), printed and parsed
     * back into a fresh config, gives the same values; a config of
     * defaults prints as "". */
    {
        hosm_config *a, *b2;
        CHECK(hosm_config_new(&a) == HOSM_OK && hosm_config_new(&b2) == HOSM_OK);
        char text[4096];
        int64_t len = -1;
        CHECK(hosm_config_to_text(a, text, sizeof text, &len) == HOSM_OK && len == 0 &&
              text[0] == 0);
        for (int key = 1; key <= HOSM_KEY_RAW_HEAD; key++) {
            int type;
            CHECK(hosm_config_key_type(key, &type) == HOSM_OK);
            if (type == HOSM_TYPE_INT) {
                int64_t hi;
                hosm_config_int_bounds(key, NULL, &hi, NULL);
                CHECK(hosm_config_set_int(a, key, hi) == HOSM_OK);
            } else {
                double lo, hi;
                hosm_config_double_bounds(key, &lo, &hi, NULL);
                CHECK(hosm_config_set_double(a, key, lo + (hi - lo) / 3.0) == HOSM_OK);
            }
        }
        CHECK(hosm_config_to_text(a, text, sizeof text, &len) == HOSM_OK && len > 0);
        CHECK(hosm_config_parse(b2, text) == HOSM_OK);
        for (int key = 1; key <= HOSM_KEY_RAW_HEAD; key++) {
            int64_t i1 = 0, i2 = 1;
            double d1 = 0, d2 = 1;
            if (hosm_config_get_int(a, key, &i1) == HOSM_OK) {
                hosm_config_get_int(b2, key, &i2);
                CHECK(i1 == i2);
            } else {
                hosm_config_get_double(a, key, &d1);
                hosm_config_get_double(b2, key, &d2);
                CHECK(d1 == d2);
            }
        }
        CHECK(hosm_config_to_text(a, text, len, NULL) == HOSM_E_BUFFER);
        CHECK(hosm_config_to_text(a, NULL, 0, &len) == HOSM_E_NULL && len > 0);
        hosm_config_free(a);
        hosm_config_free(b2);
    }

    hosm_config_free(c);
    printf("%s: %d failures\n", __FILE__, failures);
    return failures != 0;
}
