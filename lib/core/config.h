/* The config object's layout, shared with the handles that read it. */
#ifndef HOSM_CONFIG_H
#define HOSM_CONFIG_H

#include "core/internal.h"

#define HOSMI_NUM_KEYS 48 /* one past the largest key value */

struct hosm_config {
    uint32_t magic; /* HOSMI_HANDLE_CONFIG */
    int64_t ival[HOSMI_NUM_KEYS];
    double dval[HOSMI_NUM_KEYS];
    char errmsg[HOSMI_MSG_CAP];
};

/* Fill a config with every default (also used when a handle gets cfg = NULL). */
void hosmi_config_defaults(struct hosm_config *cfg);

/* Fill a config with the values a model file's settings are stored against:
 * the defaults as they were when files began to store settings (format
 * version 3), so that a file reads the same whatever today's defaults. */
void hosmi_config_file_base(struct hosm_config *cfg);

/* The text form ("name=value" pairs, space-separated, enum values by name,
 * doubles in "C" notation) of the keys of cfg that differ from base (NULL:
 * the defaults), leaving out keys k with exclude[k] set (exclude may be
 * NULL). Writes it into buf (NUL-terminated) when it fits in cap bytes;
 * returns its length either way. */
int64_t hosmi_config_text(const struct hosm_config *cfg, const struct hosm_config *base,
                          const unsigned char *exclude, char *buf, int64_t cap);

/* Validates a config handle argument (HOSM_E_NULL, HOSM_E_MISUSE). */
int hosmi_check_config(const struct hosm_config *cfg, const char *fn);

#endif
