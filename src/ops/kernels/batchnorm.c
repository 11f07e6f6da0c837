/* batchnorm.c — nn.BatchNorm1d / nn.BatchNorm2d kernels on (n, c, s) buffers.
 *
 * Statistics are accumulated in double, per channel, in a fixed order, so the
 * result does not depend on the thread count (threads split the channels):
 * each sum runs in 8 lanes (element k of a sample's row of s into lane k % 8,
 * the samples one after the other), and the lanes are added as
 * ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)) at the end. The lanes are AVX2
 * vectors where the CPU has them and a plain array where it does not, with
 * the same operations in the same order either way.
 * The model runtime (src/nn/model.c) decides between batch statistics
 * (training, or track_running_stats=False) and running statistics (eval), and
 * updates the running buffers; these kernels only compute.
 */
#include "kernel.h"

#include <math.h>
#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* 8 double lanes */
typedef struct {
    double v[8];
} lanes8;

static double lanes_total(const lanes8 *a) {
    const double *v = a->v;
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

#if defined(__AVX2__)
/* 8 floats of p from k, those at or past s as 0 (adding 0.0 leaves a lane as
 * it is; a masked load reads nothing there), as two vectors of 4 doubles */
static inline void load8(__m256d *lo, __m256d *hi, const float *p, int64_t k, int64_t s) {
    if (k + 8 <= s) {
        *lo = _mm256_cvtps_pd(_mm_loadu_ps(p + k)), *hi = _mm256_cvtps_pd(_mm_loadu_ps(p + k + 4));
        return;
    }
    const __m128i r = _mm_set1_epi32((int)(s - k));
    __m128i m0 = _mm_cmpgt_epi32(r, _mm_setr_epi32(0, 1, 2, 3)), m1 = _mm_cmpgt_epi32(r, _mm_setr_epi32(4, 5, 6, 7));
    *lo = _mm256_cvtps_pd(_mm_maskload_ps(p + k, m0)), *hi = _mm256_cvtps_pd(_mm_maskload_ps(p + k + 4, m1));
}
#endif

/* Over the n rows p + i*stride of s floats: acc[l] += p[k] for k % 8 == l */
static void sum_rows(lanes8 *acc, const float *p, int64_t n, int64_t stride, int64_t s) {
#if defined(__AVX2__)
    __m256d a0 = _mm256_loadu_pd(acc->v), a1 = _mm256_loadu_pd(acc->v + 4), x0, x1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k += 8) {
            load8(&x0, &x1, p + i * stride, k, s);
            a0 = _mm256_add_pd(a0, x0), a1 = _mm256_add_pd(a1, x1);
        }
    _mm256_storeu_pd(acc->v, a0), _mm256_storeu_pd(acc->v + 4, a1);
#else
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) acc->v[k % 8] += p[i * stride + k];
#endif
}

/* The same of (p[k] - mu)^2 (multiply, then add) */
static void sum_sq_rows(lanes8 *acc, const float *p, int64_t n, int64_t stride, int64_t s, double mu) {
#if defined(__AVX2__)
    const __m256d m = _mm256_set1_pd(mu);
    __m256d a0 = _mm256_loadu_pd(acc->v), a1 = _mm256_loadu_pd(acc->v + 4), x0, x1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k += 8) {
            load8(&x0, &x1, p + i * stride, k, s);
            /* a lane past s: (0 - mu)^2 would not be 0; the mask keeps it out */
            __m256d d0 = _mm256_sub_pd(x0, m), d1 = _mm256_sub_pd(x1, m);
            if (k + 8 > s) {
                const __m256d l0 = _mm256_setr_pd(0, 1, 2, 3), l1 = _mm256_setr_pd(4, 5, 6, 7);
                const __m256d r = _mm256_set1_pd((double)(s - k));
                d0 = _mm256_and_pd(d0, _mm256_cmp_pd(l0, r, _CMP_LT_OQ));
                d1 = _mm256_and_pd(d1, _mm256_cmp_pd(l1, r, _CMP_LT_OQ));
            }
            a0 = _mm256_add_pd(a0, _mm256_mul_pd(d0, d0)), a1 = _mm256_add_pd(a1, _mm256_mul_pd(d1, d1));
        }
    _mm256_storeu_pd(acc->v, a0), _mm256_storeu_pd(acc->v + 4, a1);
#else
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) {
            double d = p[i * stride + k] - mu;
            acc->v[k % 8] += d * d;
        }
#endif
}

/* sg[l] += g[k], sx[l] += g[k] * ((p[k] - mu) * is) for k % 8 == l, over the n rows of g and p */
static void sum_grad_rows(lanes8 *sg, lanes8 *sx, const float *g, const float *p, int64_t n, int64_t stride,
                          int64_t s, double mu, double is) {
#if defined(__AVX2__)
    const __m256d m = _mm256_set1_pd(mu), iv = _mm256_set1_pd(is);
    __m256d g0 = _mm256_loadu_pd(sg->v), g1 = _mm256_loadu_pd(sg->v + 4), d0, d1, x0, x1;
    __m256d s0 = _mm256_loadu_pd(sx->v), s1 = _mm256_loadu_pd(sx->v + 4);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k += 8) {
            load8(&d0, &d1, g + i * stride, k, s); /* 0 past s: adds 0, and 0 * finite */
            load8(&x0, &x1, p + i * stride, k, s);
            __m256d h0 = _mm256_mul_pd(_mm256_sub_pd(x0, m), iv), h1 = _mm256_mul_pd(_mm256_sub_pd(x1, m), iv);
            g0 = _mm256_add_pd(g0, d0), g1 = _mm256_add_pd(g1, d1);
            s0 = _mm256_add_pd(s0, _mm256_mul_pd(d0, h0)), s1 = _mm256_add_pd(s1, _mm256_mul_pd(d1, h1));
        }
    _mm256_storeu_pd(sg->v, g0), _mm256_storeu_pd(sg->v + 4, g1);
    _mm256_storeu_pd(sx->v, s0), _mm256_storeu_pd(sx->v + 4, s1);
#else
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) {
            float gk = g[i * stride + k];
            sg->v[k % 8] += gk;
            sx->v[k % 8] += gk * ((p[i * stride + k] - mu) * is);
        }
#endif
}

/* With sync (a batch cut into shards), each sum is the shard's own, made as
 * above, and the shards' sums are added in shard order: one shard gives the
 * bits of no sync. Two rounds: the mean, then the squared deviations. */
void cnn__batchnorm_stats(float *mean, float *invstd, float *var_unbiased, const float *x,
                          int64_t n, int64_t c, int64_t s, float eps, const cnn__shard_sync *sync) {
    if (sync) {
        double *sum = sync->buf, *sq = sync->buf + c + 1;
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++) {
            lanes8 acc = {{0}};
            sum_rows(&acc, x + ch * s, n, c * s, s);
            sum[ch] = lanes_total(&acc);
        }
        sync->fn(sync->ctx, sum, c);
        const double m = (double)sync->total * (double)s;
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++) {
            lanes8 acc = {{0}};
            sum_sq_rows(&acc, x + ch * s, n, c * s, s, sum[ch] / m);
            sq[ch] = lanes_total(&acc);
        }
        sync->fn(sync->ctx, sq, c);
        for (int64_t ch = 0; ch < c; ch++) {
            const double mu = sum[ch] / m, var = sq[ch] / m;
            mean[ch] = (float)mu;
            invstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
            if (var_unbiased) var_unbiased[ch] = m > 1 ? (float)(sq[ch] / (m - 1)) : NAN;
        }
        return;
    }
    const int64_t m = n * s;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        lanes8 acc = {{0}};
        sum_rows(&acc, x + ch * s, n, c * s, s);
        const double mu = lanes_total(&acc) / (double)m;
        lanes8 sq = {{0}}; /* two passes: sum of squared deviations */
        sum_sq_rows(&sq, x + ch * s, n, c * s, s, mu);
        const double ss = lanes_total(&sq), var = ss / (double)m;
        mean[ch] = (float)mu;
        invstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
        if (var_unbiased) var_unbiased[ch] = m > 1 ? (float)(ss / (double)(m - 1)) : NAN;
    }
}

/* y = x * a + b per channel, a = invstd * gamma, b = beta - mean * a; then,
 * with act given, y = act(y) row by row while the row is in cache (the same
 * bits as the activation as a pass of its own), and with a pooling pg given,
 * pool <- the pooling of each plane of y, while it is in cache. */
static void apply(float *y, const float *x, const float *mean, const float *invstd, const float *gamma,
                  const float *beta, int64_t n, int64_t c, int64_t s, const cnn_activation *act, float *pool,
                  const cnn__pool_geom *pg) {
    cnn__pool_geom plane;
    if (pg) plane = *pg, plane.n = 1, plane.c = 1;
    const int64_t ps = pg ? pg->oh * pg->ow : 0;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        const float a = invstd[ch] * (gamma ? gamma[ch] : 1.0f);
        const float b = (beta ? beta[ch] : 0.0f) - mean[ch] * a;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x + (i * c + ch) * s;
            float *q = y + (i * c + ch) * s;
            for (int64_t k = 0; k < s; k++) q[k] = p[k] * a + b;
            if (act) cnn__act_forward_serial(q, q, (size_t)s, *act);
            if (pg) cnn__pool2d_forward_serial(pool + (i * c + ch) * ps, q, &plane);
        }
    }
}

void cnn__batchnorm_apply(float *y, const float *x, const float *mean, const float *invstd,
                          const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s) {
    apply(y, x, mean, invstd, gamma, beta, n, c, s, NULL, NULL, NULL);
}

void cnn__batchnorm_apply_act(float *y, const float *x, const float *mean, const float *invstd,
                              const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s,
                              cnn_activation act) {
    apply(y, x, mean, invstd, gamma, beta, n, c, s, &act, NULL, NULL);
}

void cnn__batchnorm_apply_act_pool(float *y, float *pool, const float *x, const float *mean, const float *invstd,
                                   const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s,
                                   cnn_activation act, const cnn__pool_geom *pg) {
    CNN_ASSERT(pg->c == c && pg->h * pg->w == s);
    apply(y, x, mean, invstd, gamma, beta, n, c, s, &act, pool, pg);
}

/* The gradient reaching the batch norm, a piece of a row at a time: dy
 * itself, or act'(.) * dy made from the activation's output y into t. The
 * pieces are whole multiples of 8 floats, so each element keeps its lane. */
#define BN_PIECE 1024
static const float *grad_piece(float *t, const float *dy, const float *y, const cnn_activation *act,
                               int64_t len) {
    if (!act) return dy;
    cnn__act_backward_serial(t, dy, NULL, y, (size_t)len, *act);
    return t;
}

/* *sg, *sx <- sum dy, sum dy * xhat over channel ch's rows (this shard's) */
static void grad_sums_channel(double *sg_out, double *sx_out, const float *dy, const float *y,
                              const cnn_activation *act, const float *x, double mu, double is, int64_t n, int64_t c,
                              int64_t s, int64_t ch) {
    float t[BN_PIECE];
    lanes8 sg = {{0}}, sx = {{0}};
    for (int64_t i = 0; i < n; i++) {
        const int64_t row = (i * c + ch) * s;
        for (int64_t k0 = 0; k0 < s; k0 += BN_PIECE) {
            const int64_t len = s - k0 < BN_PIECE ? s - k0 : BN_PIECE;
            const float *g = grad_piece(t, dy + row + k0, y ? y + row + k0 : NULL, act, len);
            sum_grad_rows(&sg, &sx, g, x + row + k0, 1, 0, len, mu, is);
        }
    }
    *sg_out = lanes_total(&sg), *sx_out = lanes_total(&sx);
}

/* dx of channel ch from the sums over m values */
static void grad_input(float *dx, const float *dy, const float *y, const cnn_activation *act, const float *x,
                       double mu, double is, double w, double mean_dy, double mean_dy_xhat, int64_t n, int64_t c,
                       int64_t s, int64_t ch, int batch_stats) {
    float t[BN_PIECE];
    const float a = (float)(w * is);
    for (int64_t i = 0; i < n; i++) {
        const int64_t row = (i * c + ch) * s;
        for (int64_t k0 = 0; k0 < s; k0 += BN_PIECE) {
            const int64_t len = s - k0 < BN_PIECE ? s - k0 : BN_PIECE;
            const float *p = x + row + k0, *g = grad_piece(t, dy + row + k0, y ? y + row + k0 : NULL, act, len);
            float *q = dx + row + k0;
            if (batch_stats) {
                for (int64_t k = 0; k < len; k++) {
                    double xhat = (p[k] - mu) * is;
                    q[k] = (float)(w * is * (g[k] - mean_dy - xhat * mean_dy_xhat));
                }
            } else {
                for (int64_t k = 0; k < len; k++) q[k] = g[k] * a;
            }
        }
    }
}

/* Without sync: one pass per channel, sums then dx. With sync: every
 * channel's sums, the round that adds the shards' ones, then dx. */
static void backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *y,
                     const cnn_activation *act, const float *x, const float *mean, const float *invstd,
                     const float *gamma, int64_t n, int64_t c, int64_t s, int batch_stats,
                     const cnn__shard_sync *sync) {
    if (sync) {
        double *sum = sync->buf, *own = sync->buf + 2 * c; /* (sum dy, sum dy*xhat) x c: the batch's, the shard's */
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++)
            grad_sums_channel(&own[ch], &own[c + ch], dy, y, act, x, mean[ch], invstd[ch], n, c, s, ch);
        memcpy(sum, own, 2 * (size_t)c * sizeof *sum);
        if (batch_stats) sync->fn(sync->ctx, sum, 2 * c);
        const double m = (double)sync->total * (double)s;
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++) {
            if (dgamma) dgamma[ch] += (float)own[c + ch];
            if (dbeta) dbeta[ch] += (float)own[ch];
            if (dx)
                grad_input(dx, dy, y, act, x, mean[ch], invstd[ch], gamma ? gamma[ch] : 1.0, sum[ch] / m,
                           sum[c + ch] / m, n, c, s, ch, batch_stats);
        }
        return;
    }
    const int64_t m = n * s;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double sg, sx;
        grad_sums_channel(&sg, &sx, dy, y, act, x, mean[ch], invstd[ch], n, c, s, ch);
        if (dgamma) dgamma[ch] += (float)sx;
        if (dbeta) dbeta[ch] += (float)sg;
        if (dx)
            grad_input(dx, dy, y, act, x, mean[ch], invstd[ch], gamma ? gamma[ch] : 1.0, sg / (double)m,
                       sx / (double)m, n, c, s, ch, batch_stats);
    }
}

void cnn__batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                             const float *mean, const float *invstd, const float *gamma, int64_t n,
                             int64_t c, int64_t s, int batch_stats, const cnn__shard_sync *sync) {
    backward(dx, dgamma, dbeta, dy, NULL, NULL, x, mean, invstd, gamma, n, c, s, batch_stats, sync);
}

void cnn__batchnorm_backward_act(float *dx, float *dgamma, float *dbeta, const float *dy, const float *y,
                                 cnn_activation act, const float *x, const float *mean, const float *invstd,
                                 const float *gamma, int64_t n, int64_t c, int64_t s, int batch_stats,
                                 const cnn__shard_sync *sync) {
    backward(dx, dgamma, dbeta, dy, y, &act, x, mean, invstd, gamma, n, c, s, batch_stats, sync);
}
