/* train_signal.h — checkpoint options and clean stops of `cnn train`.
 *
 * SIGINT and SIGTERM set a flag (the library installs no handlers); the
 * training callback asks cli_train_should_stop() after every step, so
 * training stops at the end of the current step, writes its checkpoint and
 * the command exits with 128 + the signal number (130, 143).
 *
 * A step that does not end (a hang, or one far longer than expected) never
 * reads the flag, so the first signal also starts a grace timer of
 * CLI_STOP_GRACE_SECONDS (alarm()); cli_train_should_stop() stops it once it
 * sees the flag, before the checkpoint is written. If the step is still
 * running when the timer expires, the signal is raised again with its default
 * action: the process ends as if it had not caught it (killed by SIGTERM, or
 * by SIGINT), and no checkpoint is written. A second SIGINT or SIGTERM ends
 * the process at once. */
#ifndef CNN_CLI_TRAIN_SIGNAL_H
#define CNN_CLI_TRAIN_SIGNAL_H

#include "cnn.h"

/* Seconds a step may still run after the first SIGINT / SIGTERM. */
#define CLI_STOP_GRACE_SECONDS 10

/* Catch SIGINT and SIGTERM (once: a second one ends the process at once),
 * and SIGALRM for the grace timer; nothing else in the command uses alarm(). */
void cli_train_signals_install(void);
/* Record where training is; non-zero once a signal arrived (the grace
 * timer is then stopped). */
int cli_train_should_stop(const cnn_train_event *ev);
/* Options shared by the checks below: usage errors print and return 2. */
int cli_train_check_checkpoint_options(const cnn_train_config *cfg);
/* The signal that arrived (its grace timer then stopped), or 0: training
 * that ended anyway (the last step done, the weights being saved) still
 * exits 128 + the signal. */
int cli_train_stop_signal(void);
/* After cnn_train returned CNN_EINTR: say where it stopped and how to resume
 * (under mpirun, procs > 1: with mpirun, on any number of processes);
 * returns the exit status (130 for SIGINT, 143 for SIGTERM, else 1). */
int cli_train_interrupted(int argc, char **argv, const cnn_train_config *cfg, int procs);

#endif /* CNN_CLI_TRAIN_SIGNAL_H */
