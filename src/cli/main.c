/* main.c — the `cnn` command: dispatches to the subcommands in this folder. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *usage =
    "usage: cnn <command> [options]\n"
    "\n"
    "commands:\n"
    "  train     train a model on Fashion-MNIST (d2l's train_ch6)\n"
    "  eval      test accuracy of saved weights\n"
    "  predict   classify PNG images or IDX files with saved weights\n"
    "  summary   print a model's layer table (torchsummary style) or shape trace\n"
    "  data      fetch a dataset: cnn data fetch [--dataset fashion-mnist|mnist]\n"
    "\n"
    "Run 'cnn <command> --help' for the options of a command.\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("cnn %s\n", CNN_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "train")) return cnn_cli_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cnn_cli_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return cnn_cli_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "summary")) return cnn_cli_summary(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return cnn_cli_data(argc - 1, argv + 1);
    fprintf(stderr, "cnn: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
