/* main.c — the `cnn` command: dispatches to the subcommands in this folder. */
#include "cli.h"
#include "opts.h"

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
    "  data      fetch a dataset (cnn data fetch [--dataset NAME]) or check one (cnn data check DIR)\n"
    "  help      cnn help <command> prints the options of a command\n"
    "\n"
    "Run 'cnn <command> --help' (or 'cnn help <command>') for the options of a command.\n"
    "\n"
    "global options (--isa before or after the command):\n"
    "  --isa generic|avx2|avx512   the kernels' instruction set (default: the widest\n"
    "                              this CPU runs, or the environment's CNN_ISA)\n"
    "  -V, --version               print the version and the instruction sets\n"
    "  -h, --help                  print this help and exit\n";

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


typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"train", cnn_cli_train}, {"eval", cnn_cli_eval}, {"predict", cnn_cli_predict},
    {"summary", cnn_cli_summary}, {"data", cnn_cli_data},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static const command *find_command(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}

static int unknown_command(const char *name) {
    const char *names[N_COMMANDS + 1];
    for (int i = 0; i < N_COMMANDS; i++) names[i] = commands[i].name;
    names[N_COMMANDS] = "help";
    const char *near = cli_nearest(name, names, N_COMMANDS + 1);
    fprintf(stderr, "cnn: unknown command '%s'", name);
    if (near) fprintf(stderr, "; did you mean '%s'?", near);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

int main(int argc, char **argv) {
    if (select_isa(&argc, argv)) return 2;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || (!strcmp(cmd, "help") && (argc == 2 || !strcmp(argv[2], "help")))) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("cnn %s\nisa: %s (this CPU runs:", cnn_version(), cnn_isa_name(cnn_get_isa()));
        for (int i = CNN_ISA_AVX512; i >= CNN_ISA_GENERIC; i--)
            if (cnn_isa_supported((cnn_isa)i)) printf(" %s", cnn_isa_name((cnn_isa)i));
        printf(")\n");
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        /* cnn help CMD is cnn CMD --help. */
        const command *c = find_command(argv[2]);
        if (!c) return unknown_command(argv[2]);
        char *args[] = {argv[2], "--help", NULL};
        return c->run(2, args);
    }
    const command *c = find_command(cmd);
    if (c) return c->run(argc - 1, argv + 1);
    if (cmd[0] == '-') {
        fprintf(stderr, "cnn: unknown option '%s' before the command\n\n%s", cmd, usage);
        return 2;
    }
    return unknown_command(cmd);
}
