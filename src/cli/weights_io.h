/* weights_io.h — weights files and their metadata on the command line. */
#ifndef CNN_CLI_WEIGHTS_IO_H
#define CNN_CLI_WEIGHTS_IO_H

#include "cnn.h"

/* "H" or "H,W" (each 1..4096) -> *h, *w. Prints and returns -1 on bad input. */
int cli_parse_resize(const char *cmd, const char *opt, const char *s, int *h, int *w);
/* --normalize "MEAN,STD" (every channel) or "m1,..,mC,s1,..,sC" for c channels. */
int cli_parse_normalize(const char *cmd, const char *s, int64_t c, float *mean, float *std);
/* *m <- the model of the weights file: from its metadata (and then --model,
 * if given, must describe the same layers), or for a file without metadata
 * from --model (default lenet) built for fallback_chw. *info <- the metadata
 * (the caller frees it). Prints errors; returns 0 or -1. */
int cli_load_weights(const char *cmd, const char *weights, const char *model_name, const int64_t fallback_chw[3],
                     cnn_model **m, cnn_weights_info *info);
/* --classes FILE: one class name per line (empty lines skipped). */
int cli_read_classes(const char *cmd, const char *path, char ***names, int64_t *n);
void cli_free_classes(char **names, int64_t n);

#endif /* CNN_CLI_WEIGHTS_IO_H */
