/*
 * hosm: the command-line tool of libhosm (docs/cli.md).
 *
 *   hosm train | sample | denoise | info | plot ...
 *
 * Every error is one line on stderr starting with "hosm: " and a nonzero exit
 * status: 1 for errors, 2 for usage errors, 128 + the signal after SIGINT or
 * SIGTERM.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const HELP =
    "usage: hosm COMMAND [ARGS...]\n"
    "\n"
    "Learn and use high-order score models (libhosm %s).\n"
    "\n"
    "commands:\n"
    "  train DATA -o MODEL [key=value...]   train a model on .npy or CSV data\n"
    "  sample MODEL -n N -o OUT.npy         draw samples with Langevin dynamics\n"
    "  denoise MODEL IN -o OUT.npy          posterior means, variances, top-k directions\n"
    "  info MODEL                           architecture, levels, parameters, format\n"
    "  plot MODEL -o OUT.svg                density, score field, samples, covariances\n"
    "  plot --loss LOG.csv -o OUT.svg       a training loss curve\n"
    "\n"
    "options:\n"
    "  -h, --help      this text ('hosm COMMAND --help' for a command)\n"
    "  --version       the versions of the tool and of libhosm\n"
    "\n"
    "Settings are key=value pairs of libhosm's config keys (docs/api.md#hosm_key).\n"
    "Exit status: 0 success, 1 error, 2 usage error, 130 interrupted (SIGINT).\n";

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"train", cmd_train}, {"sample", cmd_sample}, {"denoise", cmd_denoise},
        {"info", cmd_info},   {"plot", cmd_plot},
    };
    if (argc < 2)
        return cli_usage(NULL, "no command given");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) { /* hosm help COMMAND */
            char *sub[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].run(2, sub);
            return cli_usage(NULL, "unknown command '%s'", argv[2]);
        }
        printf(HELP, hosm_version_string());
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("hosm %s (libhosm %s)\n", HOSM_VERSION_STRING, hosm_version_string());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return cli_usage(NULL, "unknown option '%s'", cmd);
    return cli_usage(NULL, "unknown command '%s'", cmd);
}
