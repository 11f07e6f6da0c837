/* activation.c (kernels) — Sigmoid, ReLU and Tanh forward and backward on
 * flat buffers (the formulas are described in ops/activation.c), and the
 * sum of a residual connection. */
#include "kernel.h"
#include "ops/vmath.h"

#include <math.h>
#include <string.h>

/* Elementwise loops are split across threads only when they are long enough
 * to pay for it; each thread writes its own range, so results never depend on
 * the thread count. */
#define ACT_PARALLEL_MIN 65536

/* sigma(x) = 1/(1+e^-x), computed without overflow and vectorized (vmath.h). */
static inline float sigmoid1(float x) { return cnn__sigmoidf(x); }

/* y (n) = f(x (n)) on the calling thread. */
void cnn__act_forward_serial(float *y, const float *x, size_t n, cnn_activation act) {
    switch (act) {
    case CNN_ACT_SIGMOID: {
#ifdef CNN_HAVE_SIGMOID8
        /* 8 lanes at a time; the tail through a padded copy, so that every
         * element takes the same path wherever a block or sample ends */
        size_t i = 0;
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, cnn__sigmoid8(_mm256_loadu_ps(x + i)));
        if (i < n) {
            float t[8] = {0};
            memcpy(t, x + i, (n - i) * sizeof(float));
            _mm256_storeu_ps(t, cnn__sigmoid8(_mm256_loadu_ps(t)));
            memcpy(y + i, t, (n - i) * sizeof(float));
        }
#else
        for (size_t i = 0; i < n; i++) y[i] = sigmoid1(x[i]);
#endif
        break;
    }
    case CNN_ACT_RELU:
        /* max{0, x}; NaN stays NaN as in torch.relu. */
        for (size_t i = 0; i < n; i++) y[i] = x[i] <= 0.0f ? 0.0f : x[i];
        break;
    case CNN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    }
}

/* y (n) = f(x (n)), in blocks of ACT_PARALLEL_MIN / 4 across threads. */
void cnn__act_forward(float *y, const float *x, size_t n, cnn_activation act) {
    const int64_t len = (int64_t)n, blk = ACT_PARALLEL_MIN / 4;
#pragma omp parallel for schedule(static) if (len >= ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < len; i += blk)
        cnn__act_forward_serial(y + i, x + i, (size_t)(len - i < blk ? len - i : blk), act);
}

/* dx (n) = dy (n) * f'(x) on the calling thread (dx may be dy). Sigmoid and
 * tanh use y = f(x) when y is given and recompute it from x otherwise; ReLU
 * uses x (or y: both are > 0 together). */
void cnn__act_backward_serial(float *dx, const float *dy, const float *x, const float *y, size_t n,
                              cnn_activation act) {
    switch (act) {
    case CNN_ACT_SIGMOID:
        if (y) {
            for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i]) * y[i];
        } else {
            for (size_t i = 0; i < n; i++) {
                float s = sigmoid1(x[i]);
                dx[i] = dy[i] * (1.0f - s) * s;
            }
        }
        break;
    case CNN_ACT_RELU: {
        const float *v = x ? x : y;
        for (size_t i = 0; i < n; i++) dx[i] = v[i] <= 0.0f ? 0.0f : dy[i];
        break;
    }
    case CNN_ACT_TANH:
        /* 1 - t*t with one rounding, as PyTorch's fused multiply-add. */
        if (y) {
            for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (float)(1.0 - (double)y[i] * y[i]);
        } else {
            for (size_t i = 0; i < n; i++) {
                float t = tanhf(x[i]);
                dx[i] = dy[i] * (float)(1.0 - (double)t * t);
            }
        }
        break;
    }
}

/* The same in blocks of ACT_PARALLEL_MIN / 4 across threads. */
void cnn__act_backward(float *dx, const float *dy, const float *x, const float *y, size_t n,
                       cnn_activation act) {
    const int64_t len = (int64_t)n, blk = ACT_PARALLEL_MIN / 4;
#pragma omp parallel for schedule(static) if (len >= ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < len; i += blk)
        cnn__act_backward_serial(dx + i, dy + i, x ? x + i : NULL, y ? y + i : NULL,
                                 (size_t)(len - i < blk ? len - i : blk), act);
}


/* y = relu(y + x) in one pass: the residual block's sum and its ReLU (NaN stays NaN) */
void cnn__add_relu(float *y, const float *x, size_t n) {
    const int64_t len = (int64_t)n, blk = ACT_PARALLEL_MIN;
    #pragma omp parallel for schedule(static) if (len >= 2 * ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < len; i += blk) {
        int64_t end = len - i < blk ? len : i + blk;
        for (int64_t k = i; k < end; k++) {
            float v = y[k] + x[k];
            y[k] = v <= 0.0f ? 0.0f : v;
        }
    }
}

void cnn__add_into(float *y, const float *x, size_t n) {
    const int64_t len = (int64_t)n, blk = ACT_PARALLEL_MIN;
    #pragma omp parallel for schedule(static) if (len >= 2 * ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < len; i += blk) {
        int64_t end = len - i < blk ? len : i + blk;
        for (int64_t k = i; k < end; k++) y[k] += x[k];
    }
}
