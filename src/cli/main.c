/* main.c — the `cnn` command: dispatches to the subcommands in this folder. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
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
    "Run 'cnn <command> --help' for the options of a command.\n"
    "\n"
    "global options (before or after the command):\n"
    "  --isa generic|avx2|avx512   the kernels' instruction set (default: the widest\n"
    "                              this CPU runs, or the environment's CNN_ISA)\n"
    "  --version                   print the version and the instruction sets\n";

/* CNN_ISA and --isa NAME / --isa=NAME (taken out of argv, anywhere before a
 * "--"): the kernels' instruction set. A set this CPU does not run is an
 * error, not a silent fallback. Returns 0, or 2 with a message. */
static int select_isa(int *argc, char **argv) {
    const char *name = getenv("CNN_ISA"), *from = "CNN_ISA";
    if (name && !*name) name = NULL;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--")) {
            while (i < *argc) argv[out++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--isa") || !strncmp(argv[i], "--isa=", 6)) {
            from = "--isa";
            if (argv[i][5] == '=') name = argv[i] + 6;
            else if (i + 1 < *argc) name = argv[++i];
            else {
                fprintf(stderr, "cnn: --isa: expected generic, avx2 or avx512 after it\n");
                return 2;
            }
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    if (!name) return 0;
    cnn_isa isa;
    if (cnn_isa_from_name(name, &isa) < 0) {
        fprintf(stderr, "cnn: %s: expected generic, avx2 or avx512, found '%s'\n", from, name);
        return 2;
    }
    if (cnn_set_isa(isa) < 0) {
        fprintf(stderr, "cnn: %s=%s: this CPU does not run %s (the widest it runs is %s)\n", from, name, name,
                cnn_isa_name(cnn_isa_best()));
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (select_isa(&argc, argv)) return 2;
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
        printf("cnn %s\nisa: %s (this CPU runs:", CNN_VERSION, cnn_isa_name(cnn_get_isa()));
        for (int i = CNN_ISA_AVX512; i >= CNN_ISA_GENERIC; i--)
            if (cnn_isa_supported((cnn_isa)i)) printf(" %s", cnn_isa_name((cnn_isa)i));
        printf(")\n");
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
