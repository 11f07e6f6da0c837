/* softmax.c — nn.Softmax(dim) kernels.
 *
 * Softmax views its input as (outer, len, inner) and normalises along len,
 * subtracting the maximum first (as PyTorch does) and summing in double.
 */
#include "ops/ops.h"

#include <math.h>

void cnn__softmax_forward(float *y, const float *x, int64_t outer, int64_t len, int64_t inner) {
    #pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t k = 0; k < inner; k++) {
            const float *xp = x + o * len * inner + k;
            float *yp = y + o * len * inner + k;
            float mx = -INFINITY;
            for (int64_t i = 0; i < len; i++)
                if (xp[i * inner] > mx || isnan(xp[i * inner])) mx = xp[i * inner];
            double sum = 0.0;
            for (int64_t i = 0; i < len; i++) {
                float e = expf(xp[i * inner] - mx);
                yp[i * inner] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < len; i++) yp[i * inner] *= inv;
        }
    }
}

void cnn__softmax_backward(float *dx, const float *dy, const float *y, int64_t outer, int64_t len,
                           int64_t inner) {
    #pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t k = 0; k < inner; k++) {
            const int64_t base = o * len * inner + k;
            double dot = 0.0;
            for (int64_t i = 0; i < len; i++) dot += (double)dy[base + i * inner] * y[base + i * inner];
            for (int64_t i = 0; i < len; i++)
                dx[base + i * inner] = y[base + i * inner] * (dy[base + i * inner] - (float)dot);
        }
    }
}
