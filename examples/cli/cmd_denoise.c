/*
 * hosm denoise: Tweedie posterior means, and the posterior's variances or
 * leading directions from the learned s2.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataio.h"

const char *const HELP_DENOISE =
    "usage: hosm denoise MODEL IN -o OUT.npy [options]\n"
    "\n"
    "Denoise the points of IN (.npy or CSV, n x D): OUT receives the posterior\n"
    "means E[x | y] = y + sigma^2 s1(y) (Tweedie), float32 (n, D). With a model\n"
    "that has an s2 network, --var and --topk add the posterior covariance\n"
    "sigma^4 s2 + sigma^2 I: its diagonal, or its k leading eigenpairs.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT    the posterior means (required; .npy, or CSV for .csv)\n"
    "  --level L           the noise level index of IN: 0 is the largest, -1 (the\n"
    "                      default) the smallest\n"
    "  --sigma S           or the noise level itself, anywhere between the model's\n"
    "                      smallest and largest (hosm_model_at_sigma)\n"
    "  --var VAR           posterior variances, (n, D)\n"
    "  --topk K            with --vals and/or --vecs: the K leading eigenpairs\n"
    "  --vals V            eigenvalues, (n, K), largest first\n"
    "  --vecs W            unit eigenvectors, (n, K, D) (.npy only)\n"
    "  --clamp 0|1         raise s2's eigenvalues below -1/sigma^2 so that the\n"
    "                      covariance is positive semidefinite (default 1)\n";

int cmd_denoise(int argc, char **argv)
{
    const char *cmd = "denoise";
    const char *output = NULL, *level_text = NULL, *var_path = NULL, *topk_text = NULL;
    const char *sigma_text = NULL;
    const char *vals_path = NULL, *vecs_path = NULL, *clamp_text = NULL;
    const cli_option opts[] = {
        {"-o", "--output", &output, NULL}, {NULL, "--level", &level_text, NULL},
        {NULL, "--var", &var_path, NULL},  {NULL, "--topk", &topk_text, NULL},
        {NULL, "--vals", &vals_path, NULL}, {NULL, "--vecs", &vecs_path, NULL},
        {NULL, "--clamp", &clamp_text, NULL}, {NULL, "--sigma", &sigma_text, NULL},
        {NULL, NULL, NULL, NULL},
    };
    cli_args args;
    if (cli_parse(cmd, argc, argv, opts, &args) != CLI_OK)
        return CLI_USAGE;
    if (args.help) {
        fputs(HELP_DENOISE, stdout);
        return CLI_OK;
    }
    if (args.npairs)
        return cli_usage(cmd, "takes no settings ('%s')", args.pairs[0]);
    if (args.npos != 2)
        return cli_usage(cmd, "a model file and an input file expected, %d argument%s given",
                         args.npos, args.npos == 1 ? "" : "s");
    if (!output)
        return cli_usage(cmd, "no output file given (-o OUT.npy)");
    int64_t clamp = 1, k = 0;
    double sigma = 0.0;
    if (level_text && sigma_text)
        return cli_usage(cmd, "--level and --sigma are alternatives");
    if (sigma_text && cli_double(cmd, "--sigma", sigma_text, &sigma) != CLI_OK)
        return CLI_USAGE;
    if (clamp_text && cli_int(cmd, "--clamp", clamp_text, 0, 1, &clamp) != CLI_OK)
        return CLI_USAGE;
    if (topk_text && cli_int(cmd, "--topk", topk_text, 1, (int64_t)1 << 20, &k) != CLI_OK)
        return CLI_USAGE;
    if (topk_text && !vals_path && !vecs_path)
        return cli_usage(cmd, "--topk needs --vals V.npy and/or --vecs W.npy");
    if (!topk_text && (vals_path || vecs_path))
        return cli_usage(cmd, "--vals and --vecs need --topk K");
    const size_t vl = vecs_path ? strlen(vecs_path) : 0;
    if (vl >= 4 && strcmp(vecs_path + vl - 4, ".csv") == 0)
        return cli_usage(cmd, "--vecs: the eigenvectors are 3-D, which CSV cannot hold (use .npy)");

    int rc = CLI_ERROR, st;
    char err[1024];
    hosm_model *model = NULL;
    dataio_matrix in = {NULL, 0, 0};
    float *mean = NULL, *var = NULL, *vals = NULL, *vecs = NULL;
    int64_t level, D;

    if (cli_check_output(output) || cli_check_output(var_path) || cli_check_output(vals_path) ||
        cli_check_output(vecs_path))
        goto done;
    if (cli_load_model(args.pos[0], &model) != CLI_OK)
        goto done;
    if (sigma_text) { /* the model at sigma, whose level 0 is sigma */
        hosm_model *at;
        if ((st = hosm_model_at_sigma(&at, model, sigma)) < 0) {
            rc = st == HOSM_E_RANGE ? cli_usage(cmd, "--sigma: %s", cli_detail())
                                    : cli_hosm_error(st, args.pos[0]);
            goto done;
        }
        hosm_model_free(model);
        model = at;
    }
    if ((rc = cli_level(cmd, level_text, model, &level)) != CLI_OK)
        goto done;
    rc = CLI_ERROR;
    hosm_model_dim(model, &D);
    if (k > D) {
        rc = cli_usage(cmd, "--topk %lld is larger than the dimension %lld", (long long)k,
                       (long long)D);
        goto done;
    }
    int s2;
    hosm_model_s2_structure(model, &s2, NULL);
    if ((var_path || k) && s2 == HOSM_S2_NONE) {
        cli_error("%s: the model has no s2 network (s2=none): --var and --topk need one "
                  "(train with s2=diag, lowrank or full)", args.pos[0]);
        goto done;
    }
    if (dataio_load(args.pos[1], &in, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto done;
    }
    if (in.cols != D) {
        cli_error("%s: %lld columns, the model has dimension %lld", args.pos[1],
                  (long long)in.cols, (long long)D);
        goto done;
    }
    const int64_t n = in.rows;
    if (k && n > ((int64_t)1 << 31) / (k * D)) {
        cli_error("--topk %lld on %lld points: the eigenvectors are too large", (long long)k,
                  (long long)n);
        goto done;
    }
    mean = malloc((size_t)(n * D) * sizeof(float));
    if (var_path)
        var = malloc((size_t)(n * D) * sizeof(float));
    if (k) {
        vals = malloc((size_t)(n * k) * sizeof(float));
        vecs = malloc((size_t)(n * k * D) * sizeof(float));
    }
    if (!mean || (var_path && !var) || (k && (!vals || !vecs))) {
        cli_error("out of memory for %lld points", (long long)n);
        goto done;
    }
    if ((st = hosm_model_denoise(model, level, in.data, n, mean)) < 0) {
        cli_hosm_error(st, "denoise");
        goto done;
    }
    if (var && (st = hosm_model_posterior_var(model, level, in.data, n, (int)clamp, var)) < 0) {
        cli_hosm_error(st, "posterior variances");
        goto done;
    }
    if (k && (st = hosm_model_posterior_topk(model, level, in.data, n, k, (int)clamp, vals,
                                             vecs)) < 0) {
        cli_hosm_error(st, "posterior top-k");
        goto done;
    }
    const int64_t shape2[2] = {n, D}, shapek[2] = {n, k}, shape3[3] = {n, k, D};
    if (dataio_save(output, mean, 2, shape2, err, sizeof err) != 0 ||
        (var && dataio_save(var_path, var, 2, shape2, err, sizeof err) != 0) ||
        (vals_path && dataio_save(vals_path, vals, 2, shapek, err, sizeof err) != 0) ||
        (vecs_path && dataio_save(vecs_path, vecs, 3, shape3, err, sizeof err) != 0)) {
        cli_error("%s", err);
        goto done;
    }
    rc = CLI_OK;
done:
    free(mean);
    free(var);
    free(vals);
    free(vecs);
    dataio_free(&in);
    hosm_model_free(model);
    return rc;
}
