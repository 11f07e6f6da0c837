/* paths.h — the one rule for the files a subcommand reads and writes
 * (docs/RELIABILITY.md, "Outputs and inputs").
 *
 * A subcommand lists every file it will read and every file it will write,
 * then calls cli_paths_check() once, before any work:
 *   - every output is probed: its directory must take a new file, and an
 *     existing output must be a regular file that may be replaced (not a
 *     directory, a FIFO, a device or an immutable file);
 *   - no output may be the same file as an input or as another output, however
 *     it is spelled (./x and x, hard links and symbolic links included); a pair
 *     may be allowed explicitly (cnn train --resume ck --checkpoint ck).
 * Outputs are then written atomically (complete or absent), and every
 * write error ends the command with exit 1, the path and the system's reason. */
#ifndef CNN_CLI_PATHS_H
#define CNN_CLI_PATHS_H

#define CLI_MAX_PATHS 16

typedef struct cli_path {
    const char *opt;     /* "--save", "the data set", ... (for messages) */
    const char *path;
    const char *may_be;  /* outputs: the option of an input this output may replace, or NULL */
} cli_path;

typedef struct cli_paths {
    cli_path in[CLI_MAX_PATHS], out[CLI_MAX_PATHS];
    int n_in, n_out;
} cli_paths;

/* Add a file to read / to write; a NULL path is ignored. */
void cli_paths_input(cli_paths *ps, const char *opt, const char *path);
void cli_paths_output(cli_paths *ps, const char *opt, const char *path, const char *may_be);
/* The data set's files in dir, as inputs: the test split's (and the training
 * split's), plain or gzipped. */
void cli_paths_data(cli_paths *ps, const char *dir, int with_train);
/* The rule above; prints "cnn <cmd>: error: ..." and returns -1 on a violation. */
int cli_paths_check(const char *cmd, const cli_paths *ps);

#endif /* CNN_CLI_PATHS_H */
