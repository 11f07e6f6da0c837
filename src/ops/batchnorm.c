/* batchnorm.c — nn.BatchNorm1d / nn.BatchNorm2d kernels on (n, c, s) buffers.
 *
 * Statistics are accumulated in double, per channel, in a fixed order, so the
 * result does not depend on the thread count (threads split the channels).
 * The model runtime (src/nn/model.c) decides between batch statistics
 * (training, or track_running_stats=False) and running statistics (eval), and
 * updates the running buffers; these kernels only compute.
 */
#include "ops/ops.h"

#include <math.h>

void cnn__batchnorm_stats(float *mean, float *invstd, float *var_unbiased, const float *x,
                          int64_t n, int64_t c, int64_t s, float eps) {
    const int64_t m = n * s;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * s;
            for (int64_t k = 0; k < s; k++) sum += p[k];
        }
        const double mu = sum / (double)m;
        double ss = 0.0; /* two passes: sum of squared deviations */
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * s;
            for (int64_t k = 0; k < s; k++) {
                double d = p[k] - mu;
                ss += d * d;
            }
        }
        const double var = ss / (double)m;
        mean[ch] = (float)mu;
        invstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
        if (var_unbiased) var_unbiased[ch] = m > 1 ? (float)(ss / (double)(m - 1)) : NAN;
    }
}

void cnn__batchnorm_apply(float *y, const float *x, const float *mean, const float *invstd,
                          const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s) {
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        /* y = x * a + b with a = invstd * gamma, b = beta - mean * a */
        const float a = invstd[ch] * (gamma ? gamma[ch] : 1.0f);
        const float b = (beta ? beta[ch] : 0.0f) - mean[ch] * a;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * s;
            float *q = y + (i * c + ch) * s;
            for (int64_t k = 0; k < s; k++) q[k] = p[k] * a + b;
        }
    }
}

void cnn__batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                             const float *mean, const float *invstd, const float *gamma, int64_t n,
                             int64_t c, int64_t s, int batch_stats) {
    const int64_t m = n * s;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        const double mu = mean[ch], is = invstd[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * s, *g = dy + (i * c + ch) * s;
            for (int64_t k = 0; k < s; k++) {
                sum_dy += g[k];
                sum_dy_xhat += g[k] * ((p[k] - mu) * is);
            }
        }
        if (dgamma) dgamma[ch] += (float)sum_dy_xhat;
        if (dbeta) dbeta[ch] += (float)sum_dy;
        if (!dx) continue;
        const double w = gamma ? gamma[ch] : 1.0;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * s, *g = dy + (i * c + ch) * s;
            float *q = dx + (i * c + ch) * s;
            if (batch_stats) {
                const double mean_dy = sum_dy / (double)m, mean_dy_xhat = sum_dy_xhat / (double)m;
                for (int64_t k = 0; k < s; k++) {
                    double xhat = (p[k] - mu) * is;
                    q[k] = (float)(w * is * (g[k] - mean_dy - xhat * mean_dy_xhat));
                }
            } else {
                const float a = (float)(w * is);
                for (int64_t k = 0; k < s; k++) q[k] = g[k] * a;
            }
        }
    }
}
