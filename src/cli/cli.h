/* cli.h — the subcommands of the `cnn` tool. Each takes the arguments after
 * its name (argv[0] is the subcommand name) and returns the process exit code:
 * 0 on success, 1 on a runtime error, 2 on a usage error. Messages go to stderr. */
#ifndef CNN_CLI_H
#define CNN_CLI_H

#include "cnn.h"

int cnn_cli_data(int argc, char **argv);    /* cnn data fetch [--dataset NAME] [--dir DIR] */
int cnn_cli_summary(int argc, char **argv); /* cnn summary [MODEL] [--input-shape C,H,W] [--trace] */
int cnn_cli_train(int argc, char **argv);   /* cnn train [options] */
int cnn_cli_eval(int argc, char **argv);    /* cnn eval --weights FILE */
int cnn_cli_predict(int argc, char **argv); /* cnn predict --weights FILE INPUT... */

/* Default data directory of a dataset ("fashion-mnist" -> "data/fashion-mnist"). */
#define CNN_DEFAULT_DATA_DIR "data/fashion-mnist"

#endif /* CNN_CLI_H */
