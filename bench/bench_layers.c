/* bench_layers.c — time of each kernel of a LeNet training step, alone:
 * LeNet's two convolutions (fused with sigmoid and pooling as the model runs
 * them, and alone), their gradients, pooling, sigmoid and the linear layers,
 * best of several repetitions, on random data.
 *
 *   build/bench/bench_layers [--batch N] [--threads T] [--reps R]
 *
 * Prints milliseconds per call and, for the convolutions, GFLOP/s counted on
 * the useful mult-adds (2 FLOP each). */
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

static int reps = 7;

/* Best time of reps runs of 10 calls, per call. */
#define TIME(name, macs, call)                                                               \
    do {                                                                                     \
        double best = 1e30;                                                                  \
        for (int r = 0; r < reps; r++) {                                                     \
            double t0 = now();                                                               \
            for (int s = 0; s < 10; s++) { call; }                                           \
            double t = (now() - t0) / 10;                                                    \
            if (t < best) best = t;                                                          \
        }                                                                                    \
        if (macs > 0)                                                                        \
            printf("%-34s %8.3f ms %8.1f GFLOP/s\n", name, best * 1e3, 2.0 * (macs) / best / 1e9); \
        else                                                                                 \
            printf("%-34s %8.3f ms\n", name, best * 1e3);                                   \
    } while (0)

static float *buf(size_t n, cnn_rng *rng) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; p && i < n; i++) p[i] = cnn_rng_uniform(rng) - 0.5f;
    return p;
}

int main(int argc, char **argv) {
    int n = 256, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    }
    if (n < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_layers [--batch N] [--threads T] [--reps R]\n");
        return 2;
    }
    cnn_set_threads(threads);
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    cnn_conv2d_desc d1 = cnn_conv2d_desc_make(1, 6, 5, 5), d2 = cnn_conv2d_desc_make(6, 16, 5, 5);
    d1.padding[0] = d1.padding[1] = 2;
    cnn_pool2d_desc pd = cnn_pool2d_desc_make(CNN_POOL_AVG, 2, 2);
    cnn__conv_geom g1, g2;
    cnn__pool_geom p1, p2;
    if (cnn__conv_geom_make(&g1, &d1, (int64_t[]){n, 1, 28, 28}) ||
        cnn__conv_geom_make(&g2, &d2, (int64_t[]){n, 6, 14, 14}) ||
        cnn__pool_geom_make(&p1, &pd, (int64_t[]){n, 6, 28, 28}) ||
        cnn__pool_geom_make(&p2, &pd, (int64_t[]){n, 16, 10, 10})) {
        fprintf(stderr, "bench_layers: %s\n", cnn_last_error());
        return 1;
    }
    size_t ws1 = cnn__conv2d_workspace(&g1), ws2 = cnn__conv2d_workspace(&g2);
    size_t N = (size_t)n;
    float *ws = malloc((ws1 > ws2 ? ws1 : ws2) * sizeof(float));
    float *x = buf(N * 784, &rng), *z1 = buf(N * 4704, &rng), *a1 = buf(N * 4704, &rng),
          *q1 = buf(N * 1176, &rng), *z2 = buf(N * 1600, &rng), *a2 = buf(N * 1600, &rng),
          *q2 = buf(N * 400, &rng), *h1 = buf(N * 120, &rng), *h2 = buf(N * 84, &rng),
          *o = buf(N * 10, &rng);
    float *w1 = buf(150, &rng), *b1 = buf(6, &rng), *w2 = buf(2400, &rng), *b2 = buf(16, &rng),
          *l1 = buf(48000, &rng), *l2 = buf(10080, &rng), *l3 = buf(840, &rng), *lb = buf(120, &rng),
          *gw = buf(48000, &rng), *gb = buf(120, &rng), *dq1 = buf(N * 1176, &rng),
          *dq2 = buf(N * 400, &rng);
    if (!ws || !x || !z1 || !a1 || !q1 || !z2 || !a2 || !q2 || !h1 || !h2 || !o || !w1 || !b1 ||
        !w2 || !b2 || !l1 || !l2 || !l3 || !lb || !gw || !gb || !dq1 || !dq2) {
        fprintf(stderr, "bench_layers: out of memory\n");
        return 1;
    }
    double c1 = (double)n * 6 * 784 * 25, c2 = (double)n * 16 * 100 * 150;
    printf("LeNet kernels, batch %d, %d threads (best of %d x 10 calls)\n", n, cnn_get_threads(),
           reps);
    printf("forward\n");
    TIME("  conv1 + sigmoid + avgpool (fused)", c1,
         cnn__conv2d_direct_forward_fused(NULL, a1, CNN_ACT_SIGMOID, q1, &p1, x, w1, b1, NULL, &g1, CNN__BLK_A | CNN__BLK_P, ws));
    TIME("  conv1 fused, inference (a not kept)", c1,
         cnn__conv2d_direct_forward_fused(NULL, NULL, CNN_ACT_SIGMOID, q1, &p1, x, w1, b1, NULL, &g1, CNN__BLK_P, ws));
    TIME("  conv1 alone", c1, cnn__conv2d_forward(z1, x, w1, b1, &g1, ws));
    TIME("  sigmoid (6x28x28)", 0, cnn__act_forward(a1, z1, N * 4704, CNN_ACT_SIGMOID));
    TIME("  avgpool 2x2 (6x28x28)", 0, cnn__pool2d_forward(q1, a1, &p1));
    TIME("  conv2 + sigmoid + avgpool (fused)", c2,
         cnn__conv2d_direct_forward_fused(NULL, a2, CNN_ACT_SIGMOID, q2, &p2, q1, w2, b2, NULL, &g2, CNN__BLK_X | CNN__BLK_A, ws));
    TIME("  conv2 fused, inference (a not kept)", c2,
         cnn__conv2d_direct_forward_fused(NULL, NULL, CNN_ACT_SIGMOID, q2, &p2, q1, w2, b2, NULL, &g2, CNN__BLK_X, ws));
    TIME("  conv2 alone", c2, cnn__conv2d_forward(z2, q1, w2, b2, &g2, ws));
    TIME("  linear 400->120", (double)n * 48000,
         cnn__linear_forward(h1, q2, l1, lb, n, 400, 120));
    TIME("  linear 120->84", (double)n * 10080, cnn__linear_forward(h2, h1, l2, lb, n, 120, 84));
    TIME("  linear 84->10", (double)n * 840, cnn__linear_forward(o, h2, l3, lb, n, 84, 10));
    printf("backward\n");
    TIME("  linear 400->120 (dx, dw, db)", 2.0 * n * 48000,
         cnn__linear_backward(dq2, gw, gb, h1, q2, l1, n, 400, 120));
    TIME("  avgpool + sigmoid (16x10x10)", 0, cnn__pool_act_backward(z2, dq2, a2, &p2, CNN_ACT_SIGMOID, 0));
    TIME("  conv2 dx + dw + db", 2 * c2, cnn__conv2d_backward(dq1, gw, gb, z2, q1, w2, &g2, ws));
    TIME("  conv2 dw", c2, cnn__conv2d_backward(NULL, gw, NULL, z2, q1, w2, &g2, ws));
    TIME("  conv2 dx", c2, cnn__conv2d_backward(dq1, NULL, NULL, z2, q1, w2, &g2, ws));
    TIME("  avgpool + sigmoid (6x28x28)", 0, cnn__pool_act_backward(z1, dq1, a1, &p1, CNN_ACT_SIGMOID, 0));
    TIME("  conv1 dw + db", c1, cnn__conv2d_backward(NULL, gw, gb, z1, x, w1, &g1, ws));
    TIME("  conv2 + sigmoid + avgpool (fused)", 2 * c2,
         cnn__conv2d_direct_backward_fused(dq1, gw, gb, dq2, a2, CNN_ACT_SIGMOID, &p2, q1, w2, &g2,
                                           CNN__BLK_X | CNN__BLK_A | CNN__BLK_DX, ws));
    TIME("  conv1 + sigmoid + avgpool (fused)", c1,
         cnn__conv2d_direct_backward_fused(NULL, gw, gb, dq1, a1, CNN_ACT_SIGMOID, &p1, x, w1, &g1,
                                           CNN__BLK_A | CNN__BLK_P, ws));
    free(ws), free(x), free(z1), free(a1), free(q1), free(z2), free(a2), free(q2), free(h1);
    free(h2), free(o), free(w1), free(b1), free(w2), free(b2), free(l1), free(l2), free(l3);
    free(lb), free(gw), free(gb), free(dq1), free(dq2);
    return 0;
}
