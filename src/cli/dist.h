/* dist.h — `mpirun -np N cnn train ...`: the processes of an MPI job as the
 * library's cnn_comm (docs/SCALING.md). MPI lives here alone: the library
 * knows only cnn_comm, and a cnn built without MPI (-DCNN_MPI=OFF) refuses
 * to run as more than one process rather than train N times alone. */
#ifndef CNN_CLI_DIST_H
#define CNN_CLI_DIST_H

#include "cnn.h"

/* Under an MPI launcher: MPI_Init_thread (threads: MPI_THREAD_MULTIPLE and
 * a communicator for the gradients, for --overlap); rank 0 keeps stdout, the
 * others print only errors. 0 on success (alone or not), 2 when this cnn
 * cannot join the job (a message says why). */
int cli_dist_init(int threads);
/* The job's processes, or NULL when this process runs alone. */
const cnn_comm *cli_dist_comm(void);
/* The default thread count: the cores shared among this host's processes (0: all). */
int cli_dist_default_threads(void);
/* status: the command's exit status. shared: every process failed in the
 * same way at the same point (the library said so), so each may just exit;
 * any other failure may leave the others waiting for this process, so it
 * ends the whole job. Returns the status to exit with. */
int cli_dist_finish(int status, int shared);
/* 1 when a shared failure is reported by process 0 alone (this is another). */
int cli_dist_quiet(int rc);

#endif /* CNN_CLI_DIST_H */
