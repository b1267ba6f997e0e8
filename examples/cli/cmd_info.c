/*
 * hosm info: what a model file holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *const HELP_INFO =
    "usage: hosm info MODEL\n"
    "\n"
    "Print a model file's format version, dimension, parameter count, noise\n"
    "levels, s2 structure and rank, its architecture as settings that\n"
    "'hosm train' accepts, and the other settings it was made with (training and\n"
    "sampling; 'hosm sample' starts from them).\n";

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void print_double(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, stdout);
}

/* The settings the model was made with: the keys of its config that are not
 * architecture keys and differ from their defaults. */
static void print_settings(const hosm_config *cfg, const int *arch, size_t narch)
{
    int64_t len = 0;
    hosm_config_to_text(cfg, NULL, 0, &len);
    char *text = malloc((size_t)len + 1);
    printf("settings:       ");
    if (text && hosm_config_to_text(cfg, text, len + 1, NULL) == HOSM_OK) {
        for (char *tok = strtok(text, " "); tok; tok = strtok(NULL, " ")) {
            size_t i = 0;
            for (; i < narch; i++) {
                const char *name = hosm_config_key_name(arch[i]);
                const size_t n = strlen(name);
                if (!strncmp(tok, name, n) && tok[n] == '=')
                    break;
            }
            if (i == narch)
                printf(" %s", tok);
        }
    }
    putchar('\n');
    free(text);
}

int cmd_info(int argc, char **argv)
{
    const char *cmd = "info";
    const cli_option opts[] = {{NULL, NULL, NULL, NULL}};
    cli_args args;
    if (cli_parse(cmd, argc, argv, opts, &args) != CLI_OK)
        return CLI_USAGE;
    if (args.help) {
        fputs(HELP_INFO, stdout);
        return CLI_OK;
    }
    if (args.npairs)
        return cli_usage(cmd, "takes no settings ('%s')", args.pairs[0]);
    if (args.npos != 1)
        return cli_usage(cmd, args.npos ? "one model file expected, %d arguments given"
                                        : "no model file given", args.npos);
    const char *path = args.pos[0];
    hosm_model *model = NULL;
    hosm_config *cfg = NULL;
    int st;
    if (cli_load_model(path, &model) != CLI_OK)
        return CLI_ERROR;

    /* The container's header: magic (8 bytes), u32 format version, ... */
    unsigned char head[24];
    FILE *fp = fopen(path, "rb");
    size_t got = fp ? fread(head, 1, sizeof head, fp) : 0;
    if (fp)
        fclose(fp);
    if (got < sizeof head) {
        hosm_model_free(model);
        return cli_error("%s: cannot read the file header", path);
    }
    const uint32_t version = (uint32_t)head[8] | (uint32_t)head[9] << 8 |
                             (uint32_t)head[10] << 16 | (uint32_t)head[11] << 24;
    uint64_t bytes = 0;
    for (int i = 7; i >= 0; i--)
        bytes = bytes << 8 | head[16 + i];

    if ((st = hosm_config_new(&cfg)) < 0 || (st = hosm_model_get_config(model, cfg)) < 0) {
        hosm_model_free(model);
        hosm_config_free(cfg);
        return cli_hosm_error(st, path);
    }
    int64_t D, L, P, rank;
    int s2;
    hosm_model_dim(model, &D);
    hosm_model_num_levels(model, &L);
    hosm_model_num_params(model, &P);
    hosm_model_s2_structure(model, &s2, &rank);

    printf("file:            %s\n", path);
    printf("format version:  %u\n", (unsigned)version);
    printf("file size:       %llu bytes\n", (unsigned long long)bytes);
    printf("dimension:       %lld\n", (long long)D);
    printf("parameters:      %lld\n", (long long)P);
    printf("levels:          %lld\n", (long long)L);
    for (int64_t l = 0; l < L; l++) {
        double sigma;
        hosm_model_sigma(model, l, &sigma);
        printf("  sigma[%lld]%*s%.6g\n", (long long)l, l < 10 ? 7 : l < 100 ? 6 : 5, "", sigma);
    }
    int64_t param;
    hosm_config_get_int(cfg, HOSM_KEY_PARAMETERIZATION, &param);
    printf("s2:              %s", cli_enum_name(HOSM_KEY_S2, s2));
    if (s2 == HOSM_S2_LOWRANK)
        printf(", rank %lld", (long long)rank);
    if (param == HOSM_PARAM_ENERGY)
        printf(" (the exact Hessian of the energy)");
    putchar('\n');

    /* The architecture keys, as settings. s2_* and rank mean nothing
     * without s2. */
    static const int keys[] = {HOSM_KEY_HIDDEN,    HOSM_KEY_DEPTH,     HOSM_KEY_ACT,
                               HOSM_KEY_LEVELS,    HOSM_KEY_SIGMA,     HOSM_KEY_SIGMA_MAX,
                               HOSM_KEY_SIGMA_MIN, HOSM_KEY_SEED,      HOSM_KEY_THREADS,
                               HOSM_KEY_S2,        HOSM_KEY_RANK,      HOSM_KEY_S2_HIDDEN,
                               HOSM_KEY_S2_DEPTH,  HOSM_KEY_PARAMETERIZATION, HOSM_KEY_S2_HEAD};
    printf("architecture:   ");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const int key = keys[i];
        if ((s2 == HOSM_S2_NONE || param == HOSM_PARAM_ENERGY) && (key == HOSM_KEY_RANK || key == HOSM_KEY_S2_HIDDEN ||
                                   key == HOSM_KEY_S2_DEPTH || key == HOSM_KEY_S2_HEAD))
            continue;
        int type;
        hosm_config_key_type(key, &type);
        printf(" %s=", hosm_config_key_name(key));
        if (type == HOSM_TYPE_INT) {
            int64_t v;
            hosm_config_get_int(cfg, key, &v);
            const char *name = cli_enum_name(key, v);
            if (name)
                fputs(name, stdout);
            else
                printf("%lld", (long long)v);
        } else {
            double v;
            hosm_config_get_double(cfg, key, &v);
            print_double(v);
        }
    }
    putchar('\n');
    print_settings(cfg, keys, sizeof keys / sizeof *keys);
    hosm_config_free(cfg);
    hosm_model_free(model);
    if (fflush(stdout) != 0)
        return cli_error("cannot write the output: %s", strerror(errno));
    return CLI_OK;
}
