/*
 * The hosm command-line tool: what its subcommands share (cli.c).
 */
#ifndef HOSM_CLI_H
#define HOSM_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hosm.h>

/* Exit statuses: 0 success, 1 an error, 2 a usage error, 128 + signal when
 * interrupted (130 for SIGINT). */
enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

/* ---- messages ----------------------------------------------------------- */

/* One line on stderr, "hosm: " + the message; returns CLI_ERROR. */
int cli_error(const char *fmt, ...);
/* One line on stderr, "hosm: CMD: " + the message + a pointer to --help;
 * returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...);
/* A failed libhosm call: "hosm: WHAT: <status text>: <detail>"; returns
 * CLI_ERROR. */
int cli_hosm_error(int status, const char *what);
/* libhosm's last detailed message, without a function-name prefix. */
const char *cli_detail(void);
/* Progress and notes on stderr (suppressed by --quiet). */
extern int cli_quiet;
void cli_note(const char *fmt, ...);

/* ---- command lines ------------------------------------------------------ */

/* One option of a subcommand: names such as "-o" and "--output" (either may
 * be NULL); a value option stores its text in *value, a flag sets *flag. */
typedef struct {
    const char *short_name, *long_name;
    const char **value; /* value option */
    int *flag;          /* or flag */
} cli_option;

#define CLI_MAX_ARGS 64

typedef struct {
    const char *pos[CLI_MAX_ARGS];   /* positional arguments */
    int npos;
    const char *pairs[CLI_MAX_ARGS]; /* key=value settings */
    int npairs;
    int help;                        /* -h or --help was given */
} cli_args;

/* Parse argv[1..argc-1] of subcommand cmd (options anywhere; "--" ends
 * them; an argument of the form name=value with a lower-case name is a
 * setting). Returns CLI_OK, or CLI_USAGE after a message. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_option *opts, cli_args *out);

/* Strict conversions of option values; CLI_USAGE after a message. */
int cli_int(const char *cmd, const char *opt, const char *text, int64_t lo, int64_t hi,
            int64_t *out);
int cli_double(const char *cmd, const char *opt, const char *text, double *out);
/* A comma-separated list of exactly n (or, if n < 0, 1..-n) numbers. */
int cli_doubles(const char *cmd, const char *opt, const char *text, int n, double *out,
                int *count);

/* Apply the settings of a config file (if file is not NULL; '#' starts a
 * comment) and then the command line's key=value settings to cfg. With
 * `allowed` (a list ending in 0) a command-line key outside it is a usage
 * error: it would have no effect on this subcommand. */
int cli_config(const char *cmd, hosm_config *cfg, const char *file, const cli_args *args,
               const int *allowed);

/* Fail early, before any work, when an output's directory is missing or
 * not writable (path may be NULL). */
int cli_check_output(const char *path);

/* ---- models ------------------------------------------------------------- */

/* Load a model file, with a clear message for files of another kind. */
int cli_load_model(const char *path, hosm_model **out);
/* A level index: 0..L-1, or -L..-1 counting from the smallest (-1). */
int cli_level(const char *cmd, const char *text, const hosm_model *model, int64_t *level);
/* The text name of an enum value of a key, or NULL. */
const char *cli_enum_name(int key, int64_t value);

/* ---- signals and progress ----------------------------------------------- */

/* The signal (SIGINT or SIGTERM) that asked to stop, or 0. */
extern volatile sig_atomic_t cli_stop_signal;
/* Catch SIGINT and SIGTERM (unless ignored at start-up): the handler only
 * records the signal; a second one ends the process. */
void cli_catch_signals(void);

typedef struct {
    const char *what;     /* "train", "sample" */
    int64_t first, total; /* steps: the run goes from first to total */
    int tty;              /* draw a bar (stderr is a terminal) */
    double t0, last;      /* start and last report (seconds) */
    int64_t last_step;
    double sum;           /* values since the last report */
    int64_t count;
    const char *label;    /* the value's name: "loss", "sigma" */
} cli_progress;

void cli_progress_start(cli_progress *p, const char *what, const char *label, int64_t first,
                        int64_t total);
void cli_progress_step(cli_progress *p, int64_t step, double value);
void cli_progress_end(cli_progress *p);
double cli_now(void);

/* ---- subcommands -------------------------------------------------------- */

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_denoise(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_plot(int argc, char **argv);

extern const char *const HELP_TRAIN, *const HELP_SAMPLE, *const HELP_DENOISE, *const HELP_INFO,
    *const HELP_PLOT;

#endif
