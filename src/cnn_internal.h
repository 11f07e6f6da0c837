/* cnn_internal.h — helpers shared by the library's sources; not installed.
 *
 * Error reporting: cnn__fail() records a message for cnn_last_error() and
 * returns the status, so a failing check reads
 *     if (k > h) return cnn__fail(CNN_ESHAPE, "kernel height %d > input height %lld", k, h);
 * Broken internal invariants (never bad input) go through CNN_ASSERT.
 */
#ifndef CNN_INTERNAL_H
#define CNN_INTERNAL_H

#include "cnn.h"

#include <stdlib.h>

#if defined(__GNUC__)
#define CNN__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CNN__PRINTF(a, b)
#endif

/* Record "message" for cnn_last_error() and return status. */
int cnn__fail(int status, const char *fmt, ...) CNN__PRINTF(2, 3);
/* Prefix the current message with "context: " (e.g. a file name) and return status. */
int cnn__fail_context(int status, const char *fmt, ...) CNN__PRINTF(2, 3);

#define CNN_ASSERT(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) cnn__assert_failed(#cond, __FILE__, __LINE__);                       \
    } while (0)
void cnn__assert_failed(const char *cond, const char *file, int line);

/* Propagate a failure: CNN_TRY(cnn_tensor_zeros(...)); */
#define CNN_TRY(expr)                                                                     \
    do {                                                                                  \
        int cnn__rc = (expr);                                                             \
        if (cnn__rc < 0) return cnn__rc;                                                  \
    } while (0)

/* *out = a * b; returns 1 on overflow (stb style checked size arithmetic). */
static inline int cnn__mul_overflow(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}
static inline int cnn__add_overflow(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 1;
    *out = a + b;
    return 0;
}

/* OpenMP thread index and team size inside a parallel region, and the
 * processors available (0, 1 and 1 without OpenMP). */
#ifdef _OPENMP
#include <omp.h>
static inline int cnn__thread_num(void) { return omp_get_thread_num(); }
static inline int cnn__num_threads(void) { return omp_get_num_threads(); }
static inline int cnn__num_procs(void) { return omp_get_num_procs(); }
#else
static inline int cnn__thread_num(void) { return 0; }
static inline int cnn__num_threads(void) { return 1; }
static inline int cnn__num_procs(void) { return 1; }
#endif

/* cnn parallelizes with OpenMP itself; OpenBLAS must never thread on its
 * own, or results would depend on the thread count. So every cblas_ call is
 * made from inside an OpenMP parallel region, right after cnn__blas_serial(),
 * and the pthread build is told to use one thread (cnn__blas_single_threaded).
 *
 * OpenBLAS's OpenMP build (preferred by CMakeLists.txt) runs a call on one
 * thread only when omp_in_parallel() or omp_get_max_threads() == 1. A region
 * whose team has one thread (OMP_THREAD_LIMIT=1, OMP_MAX_ACTIVE_LEVELS=0,
 * OMP_DYNAMIC under load, a caller's region around cnn's) is not "in
 * parallel", so it would thread the GEMM, and its threaded GEMM spins forever
 * when its own region gets fewer threads than it planned for, which those
 * same settings cause. cnn__blas_serial() then sets the calling task's
 * thread count to 1: that setting belongs to the region's implicit task and
 * ends with it. Cheap: two calls into libgomp per GEMM. */
void cnn__blas_single_threaded(void);
static inline void cnn__blas_serial(void) {
#ifdef _OPENMP
    if (!omp_in_parallel() && omp_get_max_threads() != 1) omp_set_num_threads(1);
#endif
}

/* Largest tensor the library agrees to allocate, in elements (4 Gi floats). */
#define CNN_MAX_NUMEL ((int64_t)1 << 32)
/* Most parameters a model may have (1 Gi floats: 4 GiB, and as much again
 * for the gradients); larger models are refused before any allocation. */
#define CNN_MAX_PARAMS ((int64_t)1 << 30)


/* "[6, 1, 5, 5]" for messages (up to 8 dimensions; cnn_shape_format adds
 * "torch.Size(...)"); the struct lives until the end of the full expression. */
typedef struct {
    char s[200];
} cnn__shape_text;
cnn__shape_text cnn__shape_str(int ndim, const int64_t *shape);

/* splitmix64: *x advances by the golden gamma; returns the mixed value
 * (seeds cnn_rng, and orders the Fashion-MNIST conversion). */
uint64_t cnn__splitmix64(uint64_t *x);

/* ---- files (src/core/file.c; the rules are in docs/RELIABILITY.md) ------ */
#include <stdint.h>
#include <stdio.h>

/* "a directory", "a FIFO", ... for a st_mode that is not a regular file. */
const char *cnn__file_kind(unsigned mode);
/* Open path for reading only if it is a regular file (opened non-blocking
 * first, so a FIFO cannot hang); *size its length. CNN_ENOTFOUND, CNN_EIO. */
int cnn__open_regular(FILE **f, const char *path, uint64_t *size);
/* *bytes <- the whole regular file at path (opened as above), cnn_malloc'ed,
 * NUL-terminated; *size its length. CNN_EFORMAT when it has more than max
 * bytes, CNN_EIO when it changes while it is read, CNN_ENOMEM; messages
 * start with the path (cnn_file_read is this for the public API). */
int cnn__read_all(const char *path, size_t max, uint8_t **bytes, size_t *size);
/* zlib's crc32 of n bytes at p, continuing crc (0 to start), for any n. */
uint32_t cnn__crc32(uint32_t crc, const void *p, uint64_t n);

/* Atomic output: write to af->f, then commit (flush, fsync, rename over the
 * target) or abort (remove the temporary file). A symbolic link at path is
 * written through; an existing target must be a regular file. */
typedef struct cnn__atomic_file {
    FILE *f;        /* write with fwrite/fprintf; errors are caught at commit */
    int fd, err;    /* the temporary file; the first write error (errno) */
    char *path;     /* the file replaced (a link resolved), owned */
    char *tmp_path; /* owned */
} cnn__atomic_file;

int cnn__atomic_open(cnn__atomic_file *af, const char *path);
int cnn__atomic_commit(cnn__atomic_file *af);
void cnn__atomic_abort(cnn__atomic_file *af);

#endif /* CNN_INTERNAL_H */
