/* args.h — strict parsing of command-line values and model/data lookup for
 * the cnn tool. Every parser prints "cnn <cmd>: --opt: expected ..., found ..."
 * to stderr and returns -1 on bad input. */
#ifndef CNN_CLI_ARGS_H
#define CNN_CLI_ARGS_H

#include "cnn.h"

int cli_parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* "C,H,W" -> chw[3] */
int cli_parse_shape(const char *cmd, const char *opt, const char *s, int64_t chw[3]);
/* The value of option argv[*i] (advancing *i), or NULL with a message if missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

/* The file of a model given by name or path. A name is looked up as NAME.txt
 * in $CNN_MODELS_DIR, ./models, the installed models beside the executable
 * (<bindir>/../share/cnn/models) and the source tree's models/, in that order;
 * *path_out points to static storage. Prints and returns -1 if none. */
int cli_find_model(const char *cmd, const char *name, const char **path_out);
/* Resolve a model given by name ("lenet") or path and read its text.
 * *text is cnn_malloc'ed; *path_out points to static storage. */
int cli_read_model(const char *cmd, const char *name, char **text, const char **path_out);
/* Build the model for inputs (C, H, W). Prints errors; returns 0 or -1. */
int cli_load_model(const char *cmd, const char *name, const int64_t chw[3], cnn_model **m);

/* Print "cnn <cmd>: <what>: <cnn_last_error()>" to stderr; returns 1. */
int cli_fail(const char *cmd, int status);

#endif /* CNN_CLI_ARGS_H */
