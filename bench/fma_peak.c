/* fma_peak.c — the FP32 FMA throughput this machine reaches now, measured:
 * each of T threads runs ten independent chains of 8-lane FMAs (enough to
 * hide the FMA latency on both FMA pipes), best of several rounds.
 *
 *   build/bench/fma_peak [--threads T]
 *
 * Prints "fma peak: G GFLOP/s, T threads" (2 FLOP per lane per FMA). This is
 * the ceiling that bench/run.sh divides by: the clock /proc/cpuinfo reports
 * is the nominal one, and a core under load often runs faster (turbo). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* iters x 10 FMAs of 8 lanes; returns a value that depends on all chains */
static float chains(long iters) {
    /* distinct starting values: with equal ones the compiler computes one
     * chain and doubles it (one FMA per iteration, bound by its latency) */
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f),
           a3 = _mm256_set1_ps(1.3f), a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f),
           a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f), a8 = _mm256_set1_ps(1.8f),
           a9 = _mm256_set1_ps(1.9f);
    const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (long k = 0; k < iters; k++) {
        a0 = _mm256_fmadd_ps(a0, b, c), a1 = _mm256_fmadd_ps(a1, b, c);
        a2 = _mm256_fmadd_ps(a2, b, c), a3 = _mm256_fmadd_ps(a3, b, c);
        a4 = _mm256_fmadd_ps(a4, b, c), a5 = _mm256_fmadd_ps(a5, b, c);
        a6 = _mm256_fmadd_ps(a6, b, c), a7 = _mm256_fmadd_ps(a7, b, c);
        a8 = _mm256_fmadd_ps(a8, b, c), a9 = _mm256_fmadd_ps(a9, b, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(a8, a9));
    return _mm256_cvtss_f32(s);
}

int main(int argc, char **argv) {
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    if (threads < 1) {
        fprintf(stderr, "usage: fma_peak [--threads T]\n");
        return 2;
    }
    const long iters = 20000000; /* 3.2 GFLOP per thread per round: about 35 ms */
    double best = 0.0;
    float sink = 0.0f;
    for (int r = 0; r < 15; r++) { /* best of 15: the host is shared */
        double t0 = now();
        #pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += chains(iters);
        double g = (double)threads * iters * 10 * 16 / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    printf("fma peak: %.1f GFLOP/s, %d threads%s\n", best, threads, sink == 0.0f ? " " : "");
    return 0;
}

#else

int main(void) {
    fprintf(stderr, "fma_peak: built without AVX2 + FMA\n");
    return 1;
}

#endif
