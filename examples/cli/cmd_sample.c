/*
 * hosm sample: chains of any sampler kind from N(0, sigma_max^2 I).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataio.h"

const char *const HELP_SAMPLE =
    "usage: hosm sample MODEL -n N -o OUT.npy [key=value...] [options]\n"
    "\n"
    "Run N chains of the model's sampler and write their final states (float32\n"
    ".npy of shape (N, D), or CSV if OUT ends in .csv). The chains start from\n"
    "N(0, sigma_max^2 I), sigma_max the model's largest noise level, drawn from\n"
    "the seed. Settings: sampler=KIND step_size=EPS sample_steps=K seed=S\n"
    "threads=T gemm_kernels=auto|blis, and for the Ozaki kinds hessian, l_max, ozaki_solver and\n"
    "lanczos_tol; each defaults to the model file's setting (what it was trained\n"
    "with, see hosm info), else to the library's default.\n"
    "\n"
    "options:\n"
    "  -n, --count N       number of chains (required)\n"
    "  -o, --output OUT    the file to write (required)\n"
    "  --init FILE         start from the states in FILE (.npy or CSV, N x D) instead\n"
    "  --denoise           finish with one Tweedie denoising step at the smallest\n"
    "                      level (removes the blur of the last noise level)\n"
    "  --config FILE       settings from a file, before those of the command line\n"
    "  -q, --quiet         no progress output\n";

/* splitmix64: the initial states' own random stream. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Standard normal draws by Box-Muller. */
static void normals(uint64_t seed, float *out, int64_t count, double scale)
{
    uint64_t s = seed ^ 0x686f736d2d636c69u; /* not the sampler's stream */
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < count; i += 2) {
        const double u1 = ((double)(next(&s) >> 11) + 1.0) * 0x1p-53; /* (0, 1] */
        const double u2 = (double)(next(&s) >> 11) * 0x1p-53;
        const double r = sqrt(-2.0 * log(u1));
        out[i] = (float)(scale * r * cos(two_pi * u2));
        if (i + 1 < count)
            out[i + 1] = (float)(scale * r * sin(two_pi * u2));
    }
}

static int on_step(int64_t step, double sigma, void *user)
{
    cli_progress_step(user, step, sigma);
    return cli_stop_signal != 0;
}

int cmd_sample(int argc, char **argv)
{
    const char *cmd = "sample";
    const char *count_text = NULL, *output = NULL, *init = NULL, *config = NULL;
    int denoise = 0, quiet = 0;
    const cli_option opts[] = {
        {"-n", "--count", &count_text, NULL}, {"-o", "--output", &output, NULL},
        {NULL, "--init", &init, NULL}, {NULL, "--denoise", NULL, &denoise},
        {NULL, "--config", &config, NULL}, {"-q", "--quiet", NULL, &quiet},
        {NULL, NULL, NULL, NULL},
    };
    cli_args args;
    if (cli_parse(cmd, argc, argv, opts, &args) != CLI_OK)
        return CLI_USAGE;
    if (args.help) {
        fputs(HELP_SAMPLE, stdout);
        return CLI_OK;
    }
    if (args.npos != 1)
        return cli_usage(cmd, args.npos ? "one model file expected, %d arguments given"
                                        : "no model file given", args.npos);
    if (!output)
        return cli_usage(cmd, "no output file given (-o OUT.npy)");
    if (!count_text && !init)
        return cli_usage(cmd, "the number of chains is missing (-n N)");
    int64_t n = 0;
    if (count_text && cli_int(cmd, "-n", count_text, 1, (int64_t)1 << 31, &n) != CLI_OK)
        return CLI_USAGE;
    cli_quiet = quiet;

    int rc = CLI_ERROR, st;
    char err[1024];
    hosm_config *cfg = NULL;
    hosm_model *model = NULL;
    hosm_sampler *sampler = NULL;
    dataio_matrix start = {NULL, 0, 0};
    float *x = NULL;

    if (cli_check_output(output))
        return CLI_ERROR;
    if ((st = hosm_config_new(&cfg)) < 0)
        return cli_hosm_error(st, "config");
    if (cli_load_model(args.pos[0], &model) != CLI_OK)
        goto done;
    /* The model file's settings, then the config file's, then the command line's. */
    if ((st = hosm_model_get_config(model, cfg)) < 0) {
        cli_hosm_error(st, args.pos[0]);
        goto done;
    }
    static const int allowed[] = {HOSM_KEY_SAMPLER, HOSM_KEY_STEP_SIZE, HOSM_KEY_SAMPLE_STEPS,
                                  HOSM_KEY_SEED, HOSM_KEY_THREADS, HOSM_KEY_GEMM_KERNELS,
                                  HOSM_KEY_HESSIAN,
                                  HOSM_KEY_L_MAX, HOSM_KEY_OZAKI_SOLVER, HOSM_KEY_LANCZOS_TOL, 0};
    if ((rc = cli_config(cmd, cfg, config, &args, allowed)) != CLI_OK)
        goto done;
    rc = CLI_ERROR;
    int64_t D, L, seed, kind, steps;
    double sigma_max;
    hosm_model_dim(model, &D);
    hosm_model_num_levels(model, &L);
    hosm_model_sigma(model, 0, &sigma_max);
    hosm_config_get_int(cfg, HOSM_KEY_SEED, &seed);
    hosm_config_get_int(cfg, HOSM_KEY_SAMPLER, &kind);
    hosm_config_get_int(cfg, HOSM_KEY_SAMPLE_STEPS, &steps);

    if (init) {
        if (dataio_load(init, &start, err, sizeof err) != 0) {
            cli_error("%s", err);
            goto done;
        }
        if (start.cols != D) {
            cli_error("%s: %lld columns, the model has dimension %lld", init,
                      (long long)start.cols, (long long)D);
            goto done;
        }
        if (count_text && start.rows != n) {
            cli_error("%s: %lld rows, but -n %lld", init, (long long)start.rows, (long long)n);
            goto done;
        }
        n = start.rows;
        x = start.data;
        start.data = NULL;
    } else {
        if (n > ((int64_t)1 << 31) / D) {
            cli_error("-n %lld chains of dimension %lld: too many values", (long long)n,
                      (long long)D);
            goto done;
        }
        x = malloc((size_t)(n * D) * sizeof(float));
        if (!x) {
            cli_error("out of memory for %lld chains", (long long)n);
            goto done;
        }
        normals((uint64_t)seed, x, n * D, sigma_max);
    }

    if ((st = hosm_sampler_new(&sampler, model, cfg)) < 0) {
        cli_hosm_error(st, "sampler");
        goto done;
    }
    const int annealed = kind == HOSM_SAMPLER_ANNEALED || kind == HOSM_SAMPLER_ANNEALED_OZAKI;
    const int64_t total = steps * (annealed ? L : 1);
    cli_note("sample: %lld chains, %s, %lld steps", (long long)n,
             cli_enum_name(HOSM_KEY_SAMPLER, kind), (long long)total);
    cli_catch_signals();
    cli_progress progress;
    cli_progress_start(&progress, "sample", "sigma", 0, total);
    st = hosm_sampler_run(sampler, x, n, on_step, &progress);
    cli_progress_end(&progress);
    if (st < 0) {
        cli_hosm_error(st, "sampling");
        goto done;
    }
    if (cli_stop_signal) {
        cli_note("sample: stopped by signal %d; nothing written", (int)cli_stop_signal);
        rc = 128 + cli_stop_signal;
        goto done;
    }
    if (denoise && (st = hosm_model_denoise(model, L - 1, x, n, x)) < 0) {
        cli_hosm_error(st, "denoise");
        goto done;
    }
    const int64_t shape[2] = {n, D};
    if (dataio_save(output, x, 2, shape, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto done;
    }
    cli_note("sample: wrote %s (%lld x %lld)", output, (long long)n, (long long)D);
    rc = CLI_OK;
done:
    free(x);
    dataio_free(&start);
    hosm_sampler_free(sampler);
    hosm_model_free(model);
    hosm_config_free(cfg);
    return rc;
}
