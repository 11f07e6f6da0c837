/* threads.c — the thread count: OpenMP's team for cnn's regions, and BLAS
 * kept from threading on its own (see cnn__blas_serial in cnn_internal.h).
 * Results never depend on the count: every kernel shares fixed chunks out
 * and reduces them in a fixed order. */
#include "cnn_internal.h"

#include <cblas.h>

/* OpenBLAS's pthread build threads a call unless told one thread. Its OpenMP
 * build ignores that count (0.3.21 decides from omp_get_max_threads() and
 * omp_in_parallel() alone, see cnn__blas_serial) and its
 * openblas_set_num_threads() also calls omp_set_num_threads(), which would
 * change the caller's OpenMP thread count: it is left alone. */
void cnn__blas_single_threaded(void) {
    static int done;
    if (!done) {
        if (openblas_get_parallel() != OPENBLAS_OPENMP) openblas_set_num_threads(1);
        done = 1;
    }
}

#ifdef _OPENMP
/* The team a parallel region opened by the caller gets when it asks for n:
 * at most the thread limit (OMP_THREAD_LIMIT), and 1 when no further level
 * may be active (OMP_MAX_ACTIVE_LEVELS=0, or called that deep in regions). */
static int cnn__team_for(int n) {
    if (omp_get_active_level() >= omp_get_max_active_levels()) return 1;
    int limit = omp_get_thread_limit();
    return n < limit ? n : limit;
}
#endif

void cnn_set_threads(int n) {
    cnn__blas_single_threaded();
#ifdef _OPENMP
    /* No dynamic adjustment (OMP_DYNAMIC): a region gets the threads it asks
     * for, and the count asked is one OpenMP can give, so cnn_get_threads()
     * is the team's real size. */
    omp_set_dynamic(0);
    omp_set_num_threads(cnn__team_for(n > 0 ? n : omp_get_num_procs()));
#else
    (void)n;
#endif
}

int cnn_get_threads(void) {
#ifdef _OPENMP
    /* (with dynamic adjustment still on, a region may get fewer) */
    return cnn__team_for(omp_get_max_threads());
#else
    return 1;
#endif
}
