/* opts.h — the options of a subcommand: one table gives getopt_long its
 * options, prints --help, and names the options in messages.
 *
 * Conventions (getopt_long from the C library): --opt=value and --opt value,
 * -x value and -xvalue for the short forms, a unique prefix of a long name
 * (--epo for --epochs), "--" ends the options; options and arguments may come
 * in any order. An unknown option gets "did you mean --epochs?" (a unique
 * prefix, or the nearest name by edit distance). */
#ifndef CNN_CLI_OPTS_H
#define CNN_CLI_OPTS_H

#include <getopt.h>
#include <stdio.h>

typedef struct cli_option {
    const char *name; /* long name, without "--" */
    int key;          /* short option letter, or CLI_LONG(n) for a long-only option */
    int has_arg;      /* 1: takes a value */
    const char *arg;  /* the value's name in --help ("N", "FILE") */
    const char *help; /* --help text; '\n' starts a continuation line */
} cli_option;

#define CLI_LONG(n) (256 + (n))
#define CLI_MAX_OPTIONS 64

typedef struct cli_parser {
    const char *cmd;        /* "train", "data fetch": for messages */
    const cli_option *opts; /* ends with {NULL} */
    int argc;
    char **argv;
    const char *value;      /* the current option's value */
    char name[64];          /* the current option as "--name" (for messages) */
    struct option longopts[CLI_MAX_OPTIONS + 1];
    char shortopts[3 * CLI_MAX_OPTIONS + 2];
} cli_parser;

/* argv[0] is the subcommand's name. */
void cli_parser_init(cli_parser *p, const char *cmd, const cli_option *opts, int argc, char **argv);
/* The next option's key (its value in p->value, its name in p->name); -1
 * when the options end (the other arguments are then argv[optind..argc)); '?'
 * after printing a usage error for an unknown option or a missing value. */
int cli_next(cli_parser *p);
/* optind after the last cli_next: the first argument that is no option. */
int cli_first_arg(void);

/* --help: "usage: cnn <synopsis>", about, then the table. */
void cli_usage(FILE *f, const char *synopsis, const char *about, const cli_option *opts);

/* The name in names[0..n) nearest to s (a unique prefix, else the smallest
 * edit distance if small for its length), or NULL. */
const char *cli_nearest(const char *s, const char *const *names, int n);

#endif /* CNN_CLI_OPTS_H */
