/* dist.c — see dist.h. Every exchange is a blocking MPI call on
 * MPI_COMM_WORLD, whose errors are fatal: a process that dies or loses its
 * connection ends the job (mpirun reports it) instead of leaving the others
 * waiting. Messages over 1 GiB go in pieces (MPI counts are ints). */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CNN_HAVE_MPI
#include <mpi.h>
#endif

static cnn_comm comm;
static int active;
#ifdef CNN_HAVE_MPI
static MPI_Comm grad_comm; /* the overlap thread's channel */
#endif

/* The launcher's process count, if this process was started by one. */
static int launcher_size(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}

int cli_dist_default_threads(void) {
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int local = active && v ? atoi(v) : 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (local <= 1 || cores <= 0) return 0;
    return cores / local > 1 ? (int)(cores / local) : 1;
}

const cnn_comm *cli_dist_comm(void) { return active ? &comm : NULL; }

int cli_dist_quiet(int rc) {
    return active && comm.rank != 0 && (rc == CNN_EPEER || rc == CNN_EINTR || rc == CNN_EDIVERGED);
}

#ifdef CNN_HAVE_MPI

#define PIECE ((size_t)1 << 30)

/* ctx: NULL for MPI_COMM_WORLD, or the gradients' own communicator */
static MPI_Comm world(void *ctx) { return ctx ? *(MPI_Comm *)ctx : MPI_COMM_WORLD; }

static int mpi_rc(int err, const char *what) {
    if (err == MPI_SUCCESS) return CNN_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(err, text, &len);
    fprintf(stderr, "cnn: MPI_%s: %.*s\n", what, len, text);
    return CNN_EIO;
}

static int mpi_allgather(void *ctx, const void *send, size_t bytes, void *recv) {
    (void)ctx;
    if (bytes > INT_MAX) return CNN_ERANGE;
    return mpi_rc(MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, world(ctx)), "Allgather");
}

static int mpi_send(void *ctx, const void *buf, size_t bytes, int to) {
    (void)ctx;
    for (size_t o = 0; o < bytes || o == 0; o += PIECE) {
        size_t n = bytes - o < PIECE ? bytes - o : PIECE;
        int rc = mpi_rc(MPI_Send((const char *)buf + o, (int)n, MPI_BYTE, to, 0, world(ctx)), "Send");
        if (rc < 0 || bytes == 0) return rc;
    }
    return CNN_OK;
}

static int mpi_recv(void *ctx, void *buf, size_t bytes, int from) {
    (void)ctx;
    for (size_t o = 0; o < bytes || o == 0; o += PIECE) {
        size_t n = bytes - o < PIECE ? bytes - o : PIECE;
        int rc = mpi_rc(MPI_Recv((char *)buf + o, (int)n, MPI_BYTE, from, 0, world(ctx), MPI_STATUS_IGNORE),
                        "Recv");
        if (rc < 0 || bytes == 0) return rc;
    }
    return CNN_OK;
}

static int mpi_bcast(void *ctx, void *buf, size_t bytes, int root) {
    (void)ctx;
    for (size_t o = 0; o < bytes; o += PIECE) {
        size_t n = bytes - o < PIECE ? bytes - o : PIECE;
        int rc = mpi_rc(MPI_Bcast((char *)buf + o, (int)n, MPI_BYTE, root, world(ctx)), "Bcast");
        if (rc < 0) return rc;
    }
    return CNN_OK;
}

int cli_dist_init(int threads) {
    if (launcher_size() < 1) return 0;
    int rank = 0, size = 1, got = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(NULL, NULL, threads ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED, &got) != MPI_SUCCESS) {
        fprintf(stderr, "cnn: MPI_Init_thread failed\n");
        return 2;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    active = 1;
    comm = (cnn_comm){rank, size, NULL, mpi_allgather, mpi_send, mpi_recv, mpi_bcast, NULL};
    /* --overlap: the gradients on a communicator of their own, from another thread */
    if (threads && got == MPI_THREAD_MULTIPLE && MPI_Comm_dup(MPI_COMM_WORLD, &grad_comm) == MPI_SUCCESS)
        comm.grad_ctx = &grad_comm;
    else if (threads && rank == 0)
        fprintf(stderr, "cnn train: --overlap: this MPI does not give MPI_THREAD_MULTIPLE; the gradients go after "
                        "the backward\n");
    /* One process speaks: the others' figures are the same. */
    if (rank != 0 && !freopen("/dev/null", "w", stdout)) return 2;
    return 0;
}

int cli_dist_finish(int status, int shared) {
    if (!active) return status;
    fflush(stdout);
    fflush(stderr);
    if (status != 0 && !shared) MPI_Abort(MPI_COMM_WORLD, status); /* the others may wait for this one */
    if (comm.grad_ctx) MPI_Comm_free(&grad_comm);
    MPI_Finalize();
    return status;
}

#else /* a cnn without MPI */

int cli_dist_init(int threads) {
    (void)threads;
    int n = launcher_size();
    if (n > 1) {
        fprintf(stderr, "cnn: this cnn was built without MPI (-DCNN_MPI=OFF), so its %d processes would each train "
                        "alone; build it with libopenmpi-dev installed to train on more than one process\n", n);
        return 2;
    }
    return 0;
}

int cli_dist_finish(int status, int shared) {
    (void)shared;
    return status;
}

#endif
