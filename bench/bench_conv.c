/* bench_conv.c — one Conv2d alone: forward, input gradient and weight
 * gradient (+ bias gradient) through the kernels the model would use, best
 * of several repetitions on random data, in GFLOP/s of useful mult-adds.
 *
 *   build/bench/bench_conv [--batch N] [--in C] [--out OC] [--size HxW]
 *                          [--kernel K] [--stride S] [--padding P]
 *                          [--threads T] [--reps R]
 *
 * Defaults: a 3x3 convolution of 32 -> 32 channels on 28x28, batch 64,
 * padding 1 (vgg-small's second layer). The instruction set is the one in
 * use (CNN_ISA or the widest the CPU runs); it is printed. */
#include "cnn.h"
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int reps = 5;

/* the best time per call of reps rounds of 5 calls */
#define TIME(best, call)                                                     \
    do {                                                                     \
        best = 1e30;                                                         \
        for (int r = 0; r < reps; r++) {                                     \
            double t0 = now();                                               \
            for (int s = 0; s < 5; s++) { call; }                            \
            double t = (now() - t0) / 5;                                     \
            if (t < best) best = t;                                          \
        }                                                                    \
    } while (0)

int main(int argc, char **argv) {
    int n = 64, c = 32, oc = 32, h = 28, w = 28, k = 3, stride = 1, pad = 1, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--batch")) n = atoi(v);
        else if (!strcmp(a, "--in")) c = atoi(v);
        else if (!strcmp(a, "--out")) oc = atoi(v);
        else if (!strcmp(a, "--size")) { if (sscanf(v, "%dx%d", &h, &w) != 2) h = w = atoi(v); }
        else if (!strcmp(a, "--kernel")) k = atoi(v);
        else if (!strcmp(a, "--stride")) stride = atoi(v);
        else if (!strcmp(a, "--padding")) pad = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else {
            fprintf(stderr, "bench_conv: unknown option %s\n", a);
            return 2;
        }
    }
    if (n < 1 || c < 1 || oc < 1 || h < 1 || w < 1 || k < 1 || stride < 1 || pad < 0 || reps < 1) {
        fprintf(stderr, "bench_conv: every size must be positive\n");
        return 2;
    }
    cnn_set_threads(threads);
    cnn_conv2d_desc d = cnn_conv2d_desc_make(c, oc, k, k);
    d.stride[0] = d.stride[1] = stride;
    d.padding[0] = d.padding[1] = pad;
    cnn__conv_geom g;
    if (cnn__conv_geom_make(&g, &d, (int64_t[]){n, c, h, w}) < 0) {
        fprintf(stderr, "bench_conv: %s\n", cnn_last_error());
        return 1;
    }
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * oc * g.oh * g.ow, nw = (size_t)oc * c * k * k;
    size_t nws = cnn__conv2d_workspace(&g);
    float *x = malloc(nx * 4), *y = malloc(ny * 4), *dy = malloc(ny * 4), *dx = malloc(nx * 4);
    float *wt = malloc(nw * 4), *dw = calloc(nw, 4), *b = calloc((size_t)oc, 4), *db = calloc((size_t)oc, 4);
    float *ws = malloc((nws ? nws : 1) * 4);
    if (!x || !y || !dy || !dx || !wt || !dw || !b || !db || !ws) {
        fprintf(stderr, "bench_conv: out of memory\n");
        return 1;
    }
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    for (size_t i = 0; i < nx; i++) x[i] = cnn_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < ny; i++) dy[i] = cnn_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < nw; i++) wt[i] = cnn_rng_uniform(&rng) - 0.5f;
    double macs = (double)ny * (double)c * k * k, tf, tdx, tdw;
    TIME(tf, cnn__conv2d_forward(y, x, wt, b, &g, ws));
    TIME(tdx, cnn__conv2d_backward(dx, NULL, NULL, dy, x, wt, &g, ws));
    TIME(tdw, cnn__conv2d_backward(NULL, dw, db, dy, x, wt, &g, ws));
    printf("conv %dx%d, %d -> %d channels, %dx%d, stride %d, padding %d, batch %d, %d threads, isa %s, %s\n", k, k,
           c, oc, h, w, stride, pad, n, cnn_get_threads(), cnn_isa_name(cnn_get_isa()),
           cnn__conv2d_direct_ok(&g) ? "direct" : "im2col + GEMM");
    printf("forward  %8.3f ms %8.1f GFLOP/s\n", tf * 1e3, 2 * macs / tf / 1e9);
    printf("dx       %8.3f ms %8.1f GFLOP/s\n", tdx * 1e3, 2 * macs / tdx / 1e9);
    printf("dw + db  %8.3f ms %8.1f GFLOP/s\n", tdw * 1e3, 2 * macs / tdw / 1e9);
    free(x), free(y), free(dy), free(dx), free(wt), free(dw), free(b), free(db), free(ws);
    return 0;
}
