/* libFuzzer target: configuration text (hosm_config_parse).
 *
 * Expectations (a violation aborts): no crash or undefined behaviour; the
 * status is HOSM_OK, HOSM_E_KEY, HOSM_E_RANGE or HOSM_E_PARSE; a failed parse
 * changes no key; after a successful one every key is inside its documented
 * range, and printing every key as name=value and parsing that text into a
 * fresh config gives the same values bit for bit. */
#include <math.h>

#include "fuzz_common.h"

#define MAX_KEY 64

typedef struct {
    int64_t i[MAX_KEY];
    double d[MAX_KEY];
} snapshot;

static void take(const hosm_config *cfg, snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (int k = 0; k < MAX_KEY; k++) {
        int type;
        if (hosm_config_key_type(k, &type) != HOSM_OK)
            continue;
        if (type == HOSM_TYPE_INT ? hosm_config_get_int(cfg, k, &s->i[k])
                                  : hosm_config_get_double(cfg, k, &s->d[k]))
            FUZZ_FAIL("reading key %d", k);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    hosm_config *cfg;
    if (hosm_config_new(&cfg))
        FUZZ_FAIL("config_new");
    snapshot before, after;
    take(cfg, &before);
    int st = hosm_config_parse(cfg, text);
    free(text);
    if (st != HOSM_OK && st != HOSM_E_KEY && st != HOSM_E_RANGE && st != HOSM_E_PARSE)
        FUZZ_FAIL("parse returned %d", st);
    if (strlen(hosm_config_errmsg(cfg)) >= 256)
        FUZZ_FAIL("message not terminated");
    take(cfg, &after);
    if (st != HOSM_OK) {
        if (memcmp(&before, &after, sizeof before) != 0)
            FUZZ_FAIL("a failed parse changed a key");
        hosm_config_free(cfg);
        return 0;
    }
    char out[64 * 64];
    size_t pos = 0;
    for (int k = 0; k < MAX_KEY; k++) {
        int type;
        if (hosm_config_key_type(k, &type) != HOSM_OK)
            continue;
        const char *name = hosm_config_key_name(k);
        if (type == HOSM_TYPE_INT) {
            int64_t lo, hi;
            hosm_config_int_bounds(k, &lo, &hi, NULL);
            if (after.i[k] < lo || after.i[k] > hi)
                FUZZ_FAIL("key %s = %lld outside [%lld, %lld]", name, (long long)after.i[k],
                          (long long)lo, (long long)hi);
            pos += (size_t)snprintf(out + pos, sizeof out - pos, "%s=%lld ", name,
                                    (long long)after.i[k]);
        } else {
            double lo, hi;
            hosm_config_double_bounds(k, &lo, &hi, NULL);
            if (!(after.d[k] >= lo && after.d[k] <= hi))
                FUZZ_FAIL("key %s = %.17g outside [%.17g, %.17g]", name, after.d[k], lo, hi);
            pos += (size_t)snprintf(out + pos, sizeof out - pos, "%s=%.17g ", name, after.d[k]);
        }
    }
    hosm_config *again;
    if (hosm_config_new(&again))
        FUZZ_FAIL("config_new");
    if (hosm_config_parse(again, out) != HOSM_OK)
        FUZZ_FAIL("the printed config '%s' does not parse", out);
    snapshot round;
    take(again, &round);
    if (memcmp(&after, &round, sizeof after) != 0)
        FUZZ_FAIL("printing and parsing the config changed a value");
    hosm_config_free(again);
    hosm_config_free(cfg);
    return 0;
}
