/* adaptive_pool.c — nn.AdaptiveAvgPool2d / nn.AdaptiveMaxPool2d kernels.
 *
 * Output cell (i, j) of an h x w plane pooled to oh x ow covers rows
 * [floor(i*h/oh), ceil((i+1)*h/oh)) and columns [floor(j*w/ow), ceil((j+1)*w/ow)),
 * as PyTorch's start_index / end_index. Windows may overlap, so the backward
 * pass accumulates. Threads split the planes (disjoint writes).
 */
#include "ops/ops.h"

#include <math.h>

static int64_t ap_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
static int64_t ap_end(int64_t i, int64_t out, int64_t in) { return ((i + 1) * in + out - 1) / out; }

void cnn__adaptive_pool_forward(float *y, const float *x, int64_t planes, int64_t h, int64_t w,
                                int64_t oh, int64_t ow, int is_max) {
    #pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        for (int64_t i = 0; i < oh; i++) {
            const int64_t h0 = ap_start(i, oh, h), h1 = ap_end(i, oh, h);
            for (int64_t j = 0; j < ow; j++) {
                const int64_t w0 = ap_start(j, ow, w), w1 = ap_end(j, ow, w);
                if (is_max) {
                    float best = -INFINITY;
                    for (int64_t a = h0; a < h1; a++)
                        for (int64_t b = w0; b < w1; b++) {
                            float v = xp[a * w + b];
                            if (v > best || isnan(v)) best = v;
                            if (isnan(best)) goto done;
                        }
                done:
                    yp[i * ow + j] = best;
                } else {
                    double sum = 0.0;
                    for (int64_t a = h0; a < h1; a++)
                        for (int64_t b = w0; b < w1; b++) sum += xp[a * w + b];
                    yp[i * ow + j] = (float)(sum / (double)((h1 - h0) * (w1 - w0)));
                }
            }
        }
    }
}

void cnn__adaptive_pool_backward(float *dx, const float *dy, const float *x, int64_t planes, int64_t h,
                                 int64_t w, int64_t oh, int64_t ow, int is_max) {
    #pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w, *gp = dy + p * oh * ow;
        float *dp = dx + p * h * w;
        for (int64_t k = 0; k < h * w; k++) dp[k] = 0.0f;
        for (int64_t i = 0; i < oh; i++) {
            const int64_t h0 = ap_start(i, oh, h), h1 = ap_end(i, oh, h);
            for (int64_t j = 0; j < ow; j++) {
                const int64_t w0 = ap_start(j, ow, w), w1 = ap_end(j, ow, w);
                const float g = gp[i * ow + j];
                if (is_max) {
                    int64_t arg = h0 * w + w0;
                    float best = -INFINITY;
                    for (int64_t a = h0; a < h1; a++)
                        for (int64_t b = w0; b < w1; b++) {
                            float v = xp[a * w + b];
                            if (v > best || isnan(v)) best = v, arg = a * w + b;
                            if (isnan(best)) goto found;
                        }
                found:
                    dp[arg] += g;
                } else {
                    const float share = g / (float)((h1 - h0) * (w1 - w0));
                    for (int64_t a = h0; a < h1; a++)
                        for (int64_t b = w0; b < w1; b++) dp[a * w + b] += share;
                }
            }
        }
    }
}
