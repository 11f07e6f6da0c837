/* fma_peak.c — the FP32 FMA throughput this machine reaches now, measured:
 * each of T threads runs ten independent chains of FMAs on the widest vector
 * unit the CPU has (16 lanes with AVX-512, 8 with AVX2 + FMA; chosen at run
 * time with CPUID, so the same binary runs on both), best of several rounds.
 *
 *   build/bench/fma_peak [--threads T] [--isa avx512|avx2]
 *
 * Prints "fma peak: G GFLOP/s, T threads, L lanes (ISA)" (2 FLOP per lane per
 * FMA). --isa measures a narrower unit than the widest (the CPU must have it;
 * exit status 77 when it has no unit asked for, or no FMA unit at all).
 * This is the ceiling that bench/run.sh divides by: the clock /proc/cpuinfo
 * reports is the nominal one, and a core under load often runs faster (turbo),
 * or slower with 16-lane FMAs on some CPUs. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FMA_X86 1
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#ifdef FMA_X86
/* One body, instantiated per vector width: iters x 10 FMAs of LANES lanes;
 * returns a value that depends on all chains. Distinct starting values: with
 * equal ones the compiler computes one chain and doubles it (one FMA per
 * iteration, bound by its latency). */
#define CHAINS_BODY(V, SET1, FMADD, ADD, FIRST)                                        \
    V a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f), a4 = SET1(1.4f), \
      a5 = SET1(1.5f), a6 = SET1(1.6f), a7 = SET1(1.7f), a8 = SET1(1.8f), a9 = SET1(1.9f); \
    const V b = SET1(0.9999f), c = SET1(1e-4f);                                          \
    for (long k = 0; k < iters; k++) {                                                   \
        a0 = FMADD(a0, b, c), a1 = FMADD(a1, b, c), a2 = FMADD(a2, b, c);               \
        a3 = FMADD(a3, b, c), a4 = FMADD(a4, b, c), a5 = FMADD(a5, b, c);               \
        a6 = FMADD(a6, b, c), a7 = FMADD(a7, b, c), a8 = FMADD(a8, b, c);               \
        a9 = FMADD(a9, b, c);                                                            \
    }                                                                                    \
    V s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));            \
    return FIRST(ADD(s, ADD(a8, a9)));

__attribute__((target("avx512f"))) static float chains16(long iters) {
    CHAINS_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_cvtss_f32)
}

__attribute__((target("avx2,fma"))) static float chains8(long iters) {
    CHAINS_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_cvtss_f32)
}
#endif

int main(int argc, char **argv) {
    int threads = 1;
    const char *isa = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) isa = argv[++i];
        else threads = 0;
    }
    if (threads < 1 || (isa && strcmp(isa, "avx512") && strcmp(isa, "avx2"))) {
        fprintf(stderr, "usage: fma_peak [--threads T] [--isa avx512|avx2]\n");
        return 2;
    }
#ifdef FMA_X86
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f");
    const int has256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!isa) isa = has512 ? "avx512" : "avx2";
    const int lanes = !strcmp(isa, "avx512") ? 16 : 8;
    if ((lanes == 16 && !has512) || (lanes == 8 && !has256)) {
        fprintf(stderr, "fma_peak: this CPU has no %s\n", lanes == 16 ? "AVX-512F" : "AVX2 + FMA");
        return 77; /* nothing to measure (the tests skip) */
    }
    float (*chains)(long) = lanes == 16 ? chains16 : chains8;
    const long iters = 20000000 / (lanes / 8); /* 3.2 GFLOP per thread per round: about 20-35 ms */
    double best = 0.0;
    float sink = 0.0f;
    for (int r = 0; r < 15; r++) { /* best of 15: the host is shared */
        double t0 = now();
        #pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += chains(iters);
        double g = (double)threads * iters * 10 * lanes * 2 / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    printf("fma peak: %.1f GFLOP/s, %d threads, %d lanes (%s)%s\n", best, threads, lanes,
           lanes == 16 ? "avx512f" : "avx2+fma", sink == 0.0f ? " " : "");
    return 0;
#else
    fprintf(stderr, "fma_peak: not an x86 CPU\n");
    return 77;
#endif
}
