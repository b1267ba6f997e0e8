/*
 * hosm train: fit a model to a data set, with checkpoints, a loss log and a
 * clean stop on SIGINT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataio.h"

const char *const HELP_TRAIN =
    "usage: hosm train DATA -o MODEL [key=value...] [options]\n"
    "\n"
    "Train a score model on DATA, a .npy file (float32 or float64, shape (n, D))\n"
    "or a CSV/whitespace table (optional header line), and save it to MODEL.\n"
    "Settings are libhosm's model and trainer keys, e.g. hidden=64 depth=2\n"
    "levels=8 sigma_max=3 sigma_min=0.05 s2=full steps=2000 batch=128 lr=1e-3 seed=1.\n"
    "\n"
    "options:\n"
    "  -o, --output MODEL    the model file to write (required)\n"
    "  --config FILE         settings from a file (key=value, '#' comments), applied\n"
    "                        before those of the command line\n"
    "  --checkpoint CKPT     the checkpoint to write (default MODEL.ckpt)\n"
    "  --resume CKPT         continue from a checkpoint; give the same settings and\n"
    "                        data as the run that wrote it, and a larger steps=\n"
    "  --log LOG.csv         write step,loss for every step (appended on --resume)\n"
    "  --raw                 save the last weights, not their moving average (EMA)\n"
    "  -q, --quiet           no progress output\n"
    "\n"
    "Ctrl-C (SIGINT) stops after the current step, saves the model and the\n"
    "checkpoint, and exits with status 130.\n";

typedef struct {
    cli_progress progress;
    FILE *log;
    int log_failed;
} train_state;

static int on_step(int64_t step, double loss, void *user)
{
    train_state *s = user;
    if (s->log && fprintf(s->log, "%lld,%.9g\n", (long long)step, loss) < 0)
        s->log_failed = 1;
    cli_progress_step(&s->progress, step, loss);
    return cli_stop_signal != 0;
}

int cmd_train(int argc, char **argv)
{
    const char *cmd = "train";
    const char *output = NULL, *config = NULL, *ckpt = NULL, *resume = NULL, *log_path = NULL;
    int raw = 0, quiet = 0;
    const cli_option opts[] = {
        {"-o", "--output", &output, NULL}, {NULL, "--config", &config, NULL},
        {NULL, "--checkpoint", &ckpt, NULL}, {NULL, "--resume", &resume, NULL},
        {NULL, "--log", &log_path, NULL}, {NULL, "--raw", NULL, &raw},
        {"-q", "--quiet", NULL, &quiet}, {NULL, NULL, NULL, NULL},
    };
    cli_args args;
    if (cli_parse(cmd, argc, argv, opts, &args) != CLI_OK)
        return CLI_USAGE;
    if (args.help) {
        fputs(HELP_TRAIN, stdout);
        return CLI_OK;
    }
    if (args.npos != 1)
        return cli_usage(cmd, args.npos ? "one data file expected, %d arguments given"
                                        : "no data file given", args.npos);
    if (!output)
        return cli_usage(cmd, "no model file given (-o MODEL)");
    cli_quiet = quiet;
    const char *data_path = args.pos[0];

    int rc = CLI_ERROR, st;
    char err[1024];
    char *default_ckpt = NULL;
    hosm_config *cfg = NULL;
    hosm_model *model = NULL;
    hosm_trainer *trainer = NULL;
    dataio_matrix data = {NULL, 0, 0};
    train_state state;
    memset(&state, 0, sizeof state);

    if (!ckpt) {
        default_ckpt = malloc(strlen(output) + 6);
        if (!default_ckpt)
            return cli_error("out of memory");
        strcpy(default_ckpt, output);
        strcat(default_ckpt, ".ckpt");
        ckpt = default_ckpt;
    }
    if (strcmp(ckpt, output) == 0) {
        rc = cli_usage(cmd, "the checkpoint and the model must be different files");
        goto done;
    }
    if (cli_check_output(output) || cli_check_output(ckpt) || cli_check_output(log_path))
        goto done;
    if ((st = hosm_config_new(&cfg)) < 0) {
        rc = cli_hosm_error(st, "config");
        goto done;
    }
    static const int allowed[] = {
        HOSM_KEY_HIDDEN, HOSM_KEY_DEPTH, HOSM_KEY_ACT, HOSM_KEY_SIGMA, HOSM_KEY_SIGMA_MAX,
        HOSM_KEY_SIGMA_MIN, HOSM_KEY_LEVELS, HOSM_KEY_SEED, HOSM_KEY_THREADS, HOSM_KEY_OBJECTIVE,
        HOSM_KEY_LR, HOSM_KEY_BETA1, HOSM_KEY_BETA2, HOSM_KEY_ADAM_EPS, HOSM_KEY_WEIGHT_DECAY,
        HOSM_KEY_CLIP, HOSM_KEY_EMA, HOSM_KEY_BATCH, HOSM_KEY_STEPS, HOSM_KEY_EPOCHS,
        HOSM_KEY_S2, HOSM_KEY_RANK, HOSM_KEY_S2_HIDDEN, HOSM_KEY_S2_DEPTH, HOSM_KEY_S2_OBJECTIVE,
        HOSM_KEY_W1, HOSM_KEY_FREEZE_S1, HOSM_KEY_STREAM, HOSM_KEY_PROJECTIONS,
        HOSM_KEY_PROJECTION, HOSM_KEY_SSM_NOISE, HOSM_KEY_RAW_HEAD, HOSM_KEY_PARAMETERIZATION,
        HOSM_KEY_GEMM_KERNELS, HOSM_KEY_LR_SCHEDULE, HOSM_KEY_WARMUP, HOSM_KEY_S2_HEAD,
        HOSM_KEY_NLL_MARGINAL,
        /* sampling settings, stored in the model file for 'hosm sample' */
        HOSM_KEY_SAMPLER, HOSM_KEY_STEP_SIZE, HOSM_KEY_SAMPLE_STEPS, HOSM_KEY_HESSIAN,
        HOSM_KEY_L_MAX, HOSM_KEY_OZAKI_SOLVER, HOSM_KEY_LANCZOS_TOL, 0};
    if ((rc = cli_config(cmd, cfg, config, &args, allowed)) != CLI_OK)
        goto done;
    rc = CLI_ERROR;

    if (dataio_load(data_path, &data, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto done;
    }
    if ((st = hosm_model_new(&model, data.cols, cfg)) < 0) {
        cli_hosm_error(st, "model");
        goto done;
    }
    if ((st = hosm_trainer_new(&trainer, model, cfg)) < 0) {
        cli_hosm_error(st, "trainer");
        goto done;
    }
    if (resume && (st = hosm_trainer_load(trainer, resume)) < 0) {
        if (st == HOSM_E_MISMATCH)
            cli_error("%s: %s: %s (resume with the data and model settings of the run that "
                      "wrote it)", resume, hosm_strerror(st), cli_detail());
        else
            cli_hosm_error(st, resume);
        goto done;
    }

    /* The step target of fit. */
    int64_t steps, epochs, batch, first;
    hosm_config_get_int(cfg, HOSM_KEY_STEPS, &steps);
    hosm_config_get_int(cfg, HOSM_KEY_EPOCHS, &epochs);
    hosm_config_get_int(cfg, HOSM_KEY_BATCH, &batch);
    hosm_trainer_step_count(trainer, &first);
    const int64_t target = epochs > 0 ? epochs * ((data.rows + batch - 1) / batch) : steps;

    if (log_path) {
        state.log = fopen(log_path, resume ? "a" : "w");
        if (!state.log) {
            cli_error("%s: cannot write: %s", log_path, strerror(errno));
            goto done;
        }
        if (ftell(state.log) == 0)
            fputs("step,loss\n", state.log);
    }

    int64_t nparams;
    hosm_model_num_params(model, &nparams);
    if (first >= target)
        cli_note("train: the checkpoint is at step %lld, the target is %lld: nothing to do "
                 "(raise steps=)", (long long)first, (long long)target);
    else
        cli_note("train: %lld points of dimension %lld, %lld parameters, steps %lld to %lld",
                 (long long)data.rows, (long long)data.cols, (long long)nparams,
                 (long long)first, (long long)target);

    cli_catch_signals();
    cli_progress_start(&state.progress, "train", "loss", first, target);
    st = hosm_trainer_fit(trainer, data.data, data.rows, on_step, &state);
    cli_progress_end(&state.progress);
    if (st < 0) {
        cli_hosm_error(st, "training");
        goto done;
    }
    if (state.log) {
        const int bad = fclose(state.log) != 0 || state.log_failed;
        state.log = NULL;
        if (bad) {
            cli_error("%s: cannot write the log", log_path);
            goto done;
        }
    }

    /* The checkpoint holds the last weights; the model file their EMA. */
    int64_t last;
    hosm_trainer_step_count(trainer, &last);
    if ((st = hosm_trainer_save(trainer, ckpt)) < 0) {
        cli_hosm_error(st, ckpt);
        goto done;
    }
    if (!raw && last > 0 && (st = hosm_trainer_copy_ema(trainer, model)) < 0) {
        cli_hosm_error(st, "EMA");
        goto done;
    }
    if ((st = hosm_model_save(model, output)) < 0) {
        cli_hosm_error(st, output);
        goto done;
    }
    if (cli_stop_signal) {
        cli_note("train: stopped by signal %d at step %lld; saved %s and %s",
                 (int)cli_stop_signal, (long long)last, output, ckpt);
        rc = 128 + cli_stop_signal;
        goto done;
    }
    cli_note("train: step %lld; saved %s (%s weights) and %s", (long long)last, output,
             raw ? "last" : "EMA", ckpt);
    rc = CLI_OK;
done:
    if (state.log)
        fclose(state.log);
    dataio_free(&data);
    hosm_trainer_free(trainer);
    hosm_model_free(model);
    hosm_config_free(cfg);
    free(default_ckpt);
    return rc;
}
