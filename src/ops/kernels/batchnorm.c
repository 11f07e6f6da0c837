/* batchnorm.c — nn.BatchNorm1d / nn.BatchNorm2d kernels on (n, c, s) buffers,
 * NCHW or in blocks of 8 (blk: each full block of 8 samples holds (c, s, 8),
 * the sample the fastest index, and a last block of fewer stays NCHW; see
 * ops.h). A channel's values are read as rows: NCHW, each sample's s values;
 * in blocks, each full block's s pixels of 8 lanes, then the last samples'.
 *
 * Statistics are accumulated in double, per channel, in a fixed order that
 * both layouts give, so the result does not depend on the thread count
 * (threads split the channels) nor on the layout: each sum runs in 64 lanes,
 * value (sample i, position k) into lane (i % 8, k % 8), each lane in the
 * order of i, then k; at the end the lanes of each i % 8 are added as
 * ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)) over k % 8, and those 8 sums the
 * same way. The lanes are AVX2 vectors where the CPU has them and a plain
 * array where it does not, with the same operations in the same order
 * either way.
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

/* 64 double lanes, l[i % 8].v[k % 8] (above) */
typedef struct {
    lanes8 l[8];
} lanes64;

static double lanes64_total(const lanes64 *a) {
    lanes8 t;
    for (int i = 0; i < 8; i++) t.v[i] = lanes_total(&a->l[i]);
    return lanes_total(&t);
}

/* lanes (0..7, j) as one lanes8 over the samples, and back */
static void cols_get(lanes8 *t, const lanes64 *a, int64_t j) {
    for (int i = 0; i < 8; i++) t->v[i] = a->l[i].v[j];
}
static void cols_put(lanes64 *a, const lanes8 *t, int64_t j) {
    for (int i = 0; i < 8; i++) a->l[i].v[j] = t->v[i];
}

/* Rows of a channel: a full block's (blk), then one per sample. */
static int64_t n_rows(int64_t n, int blk) { return blk ? n / 8 + n % 8 : n; }

/* Where row r of channel ch starts in an (n, c, s) tensor; *lane: the
 * sample's i % 8, or -1 for a block (8 * s floats). */
static int64_t row_at(int *lane, int64_t r, int64_t n, int64_t c, int64_t s, int64_t ch, int blk) {
    const int64_t full = blk ? n / 8 : 0;
    if (r < full) {
        *lane = -1;
        return (r * 8 * c + ch * 8) * s;
    }
    const int64_t i = r - full + 8 * full;
    *lane = (int)(i % 8);
    return (i * c + ch) * s;
}

/* Channel ch's sum of x (mu NULL) or of (x - *mu)^2, in the 64 lanes */
static double channel_sum(const float *x, int64_t n, int64_t c, int64_t s, int64_t ch, int blk, const double *mu) {
    lanes64 acc;
    memset(&acc, 0, sizeof acc);
    for (int64_t r = 0; r < n_rows(n, blk); r++) {
        int lane;
        const float *p = x + row_at(&lane, r, n, c, s, ch, blk);
        if (lane >= 0) {
            if (mu) sum_sq_rows(&acc.l[lane], p, 1, 0, s, *mu);
            else sum_rows(&acc.l[lane], p, 1, 0, s);
            continue;
        }
        /* a block: pixels k = j, j + 8, ... (rows of 8 lanes, 64 floats apart) into lanes (., j) */
        for (int64_t j = 0; j < 8 && j < s; j++) {
            lanes8 t;
            cols_get(&t, &acc, j);
            if (mu) sum_sq_rows(&t, p + j * 8, (s - j + 7) / 8, 64, 8, *mu);
            else sum_rows(&t, p + j * 8, (s - j + 7) / 8, 64, 8);
            cols_put(&acc, &t, j);
        }
    }
    return lanes64_total(&acc);
}

/* With sync (a batch cut into shards), each sum is the shard's own, made as
 * above, and the shards' sums are added in shard order: one shard gives the
 * bits of no sync. Two rounds: the mean, then the squared deviations. */
void cnn__batchnorm_stats(float *mean, float *invstd, float *var_unbiased, const float *x,
                          int64_t n, int64_t c, int64_t s, float eps, const cnn__shard_sync *sync, int blk) {
    if (sync) {
        double *sum = sync->buf, *sq = sync->buf + c + 1;
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++) sum[ch] = channel_sum(x, n, c, s, ch, blk, NULL);
        sync->fn(sync->ctx, sum, c);
        const double m = (double)sync->total * (double)s;
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++) {
            const double mu = sum[ch] / m;
            sq[ch] = channel_sum(x, n, c, s, ch, blk, &mu);
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
        const double mu = channel_sum(x, n, c, s, ch, blk, NULL) / (double)m;
        const double ss = channel_sum(x, n, c, s, ch, blk, &mu), var = ss / (double)m; /* two passes */
        mean[ch] = (float)mu;
        invstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
        if (var_unbiased) var_unbiased[ch] = m > 1 ? (float)(ss / (double)(m - 1)) : NAN;
    }
}

/* y = x * a + b per channel, a = invstd * gamma, b = beta - mean * a; then,
 * with act given, y = act(y) row by row while the row is in cache (the same
 * bits as the activation as a pass of its own), and with a pooling pg given,
 * pool <- the pooling of each plane of y, while it is in cache (in blocks:
 * a block's plane of 8 lanes, cnn__pool2d_forward_lanes). */
static void apply(float *y, const float *x, const float *mean, const float *invstd, const float *gamma,
                  const float *beta, int64_t n, int64_t c, int64_t s, const cnn_activation *act, float *pool,
                  const cnn__pool_geom *pg, int blk) {
    cnn__pool_geom plane;
    if (pg) plane = *pg, plane.n = 1, plane.c = 1;
    const int64_t ps = pg ? pg->oh * pg->ow : 0;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        const float a = invstd[ch] * (gamma ? gamma[ch] : 1.0f);
        const float b = (beta ? beta[ch] : 0.0f) - mean[ch] * a;
        for (int64_t r = 0; r < n_rows(n, blk); r++) {
            int lane;
            const int64_t off = row_at(&lane, r, n, c, s, ch, blk), len = lane < 0 ? 8 * s : s;
            const float *p = x + off;
            float *q = y + off;
            for (int64_t k = 0; k < len; k++) q[k] = p[k] * a + b;
            if (act) cnn__act_forward_serial(q, q, (size_t)len, *act);
            if (!pg) continue;
            float *pr = pool + row_at(&lane, r, n, c, ps, ch, blk);
            if (lane < 0) cnn__pool2d_forward_lanes(pr, q, &plane);
            else cnn__pool2d_forward_serial(pr, q, &plane);
        }
    }
}

void cnn__batchnorm_apply(float *y, const float *x, const float *mean, const float *invstd,
                          const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s, int blk) {
    apply(y, x, mean, invstd, gamma, beta, n, c, s, NULL, NULL, NULL, blk);
}

void cnn__batchnorm_apply_act(float *y, const float *x, const float *mean, const float *invstd,
                              const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s,
                              cnn_activation act, int blk) {
    apply(y, x, mean, invstd, gamma, beta, n, c, s, &act, NULL, NULL, blk);
}

void cnn__batchnorm_apply_act_pool(float *y, float *pool, const float *x, const float *mean, const float *invstd,
                                   const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s,
                                   cnn_activation act, const cnn__pool_geom *pg, int blk) {
    CNN_ASSERT(pg->c == c && pg->h * pg->w == s);
    CNN_ASSERT(!blk || cnn__pool_2x2_tiles(pg));
    apply(y, x, mean, invstd, gamma, beta, n, c, s, &act, pool, pg, blk);
}

/* The gradient reaching the batch norm, a piece of a row at a time: dy
 * itself, or act'(.) * dy made from the activation's output y into t. The
 * pieces are whole multiples of 8 floats (of 8 pixels in a block's row), so
 * each element keeps its lane. */
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
                              int64_t s, int64_t ch, int blk) {
    float t[BN_PIECE];
    lanes64 sg, sx;
    memset(&sg, 0, sizeof sg), memset(&sx, 0, sizeof sx);
    for (int64_t r = 0; r < n_rows(n, blk); r++) {
        int lane;
        const int64_t row = row_at(&lane, r, n, c, s, ch, blk), len = lane < 0 ? 8 * s : s;
        for (int64_t k0 = 0; k0 < len; k0 += BN_PIECE) {
            const int64_t pl = len - k0 < BN_PIECE ? len - k0 : BN_PIECE;
            const float *g = grad_piece(t, dy + row + k0, y ? y + row + k0 : NULL, act, pl), *p = x + row + k0;
            if (lane >= 0) {
                sum_grad_rows(&sg.l[lane], &sx.l[lane], g, p, 1, 0, pl, mu, is);
                continue;
            }
            const int64_t px = pl / 8; /* pixels of the piece, from pixel k0 / 8 (a multiple of 8) */
            for (int64_t j = 0; j < 8 && j < px; j++) {
                lanes8 tg, tx;
                cols_get(&tg, &sg, j), cols_get(&tx, &sx, j);
                sum_grad_rows(&tg, &tx, g + j * 8, p + j * 8, (px - j + 7) / 8, 64, 8, mu, is);
                cols_put(&sg, &tg, j), cols_put(&sx, &tx, j);
            }
        }
    }
    *sg_out = lanes64_total(&sg), *sx_out = lanes64_total(&sx);
}

/* dx of channel ch from the sums over m values */
static void grad_input(float *dx, const float *dy, const float *y, const cnn_activation *act, const float *x,
                       double mu, double is, double w, double mean_dy, double mean_dy_xhat, int64_t n, int64_t c,
                       int64_t s, int64_t ch, int batch_stats, int blk) {
    float t[BN_PIECE];
    const float a = (float)(w * is);
    for (int64_t r = 0; r < n_rows(n, blk); r++) {
        int lane;
        const int64_t row = row_at(&lane, r, n, c, s, ch, blk), len = lane < 0 ? 8 * s : s;
        for (int64_t k0 = 0; k0 < len; k0 += BN_PIECE) {
            const int64_t pl = len - k0 < BN_PIECE ? len - k0 : BN_PIECE;
            const float *p = x + row + k0, *g = grad_piece(t, dy + row + k0, y ? y + row + k0 : NULL, act, pl);
            float *q = dx + row + k0;
            if (batch_stats) {
                for (int64_t k = 0; k < pl; k++) {
                    double xhat = (p[k] - mu) * is;
                    q[k] = (float)(w * is * (g[k] - mean_dy - xhat * mean_dy_xhat));
                }
            } else {
                for (int64_t k = 0; k < pl; k++) q[k] = g[k] * a;
            }
        }
    }
}

/* Without sync: one pass per channel, sums then dx. With sync: every
 * channel's sums, the round that adds the shards' ones, then dx. */
static void backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *y,
                     const cnn_activation *act, const float *x, const float *mean, const float *invstd,
                     const float *gamma, int64_t n, int64_t c, int64_t s, int batch_stats,
                     const cnn__shard_sync *sync, int blk) {
    if (sync) {
        double *sum = sync->buf, *own = sync->buf + 2 * c; /* (sum dy, sum dy*xhat) x c: the batch's, the shard's */
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++)
            grad_sums_channel(&own[ch], &own[c + ch], dy, y, act, x, mean[ch], invstd[ch], n, c, s, ch, blk);
        memcpy(sum, own, 2 * (size_t)c * sizeof *sum);
        if (batch_stats) sync->fn(sync->ctx, sum, 2 * c);
        const double m = (double)sync->total * (double)s;
        #pragma omp parallel for schedule(static)
        for (int64_t ch = 0; ch < c; ch++) {
            if (dgamma) dgamma[ch] += (float)own[c + ch];
            if (dbeta) dbeta[ch] += (float)own[ch];
            if (dx)
                grad_input(dx, dy, y, act, x, mean[ch], invstd[ch], gamma ? gamma[ch] : 1.0, sum[ch] / m,
                           sum[c + ch] / m, n, c, s, ch, batch_stats, blk);
        }
        return;
    }
    const int64_t m = n * s;
    #pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double sg, sx;
        grad_sums_channel(&sg, &sx, dy, y, act, x, mean[ch], invstd[ch], n, c, s, ch, blk);
        if (dgamma) dgamma[ch] += (float)sx;
        if (dbeta) dbeta[ch] += (float)sg;
        if (dx)
            grad_input(dx, dy, y, act, x, mean[ch], invstd[ch], gamma ? gamma[ch] : 1.0, sg / (double)m,
                       sx / (double)m, n, c, s, ch, batch_stats, blk);
    }
}

void cnn__batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                             const float *mean, const float *invstd, const float *gamma, int64_t n,
                             int64_t c, int64_t s, int batch_stats, const cnn__shard_sync *sync, int blk) {
    backward(dx, dgamma, dbeta, dy, NULL, NULL, x, mean, invstd, gamma, n, c, s, batch_stats, sync, blk);
}

void cnn__batchnorm_backward_act(float *dx, float *dgamma, float *dbeta, const float *dy, const float *y,
                                 cnn_activation act, const float *x, const float *mean, const float *invstd,
                                 const float *gamma, int64_t n, int64_t c, int64_t s, int batch_stats,
                                 const cnn__shard_sync *sync, int blk) {
    backward(dx, dgamma, dbeta, dy, y, &act, x, mean, invstd, gamma, n, c, s, batch_stats, sync, blk);
}
