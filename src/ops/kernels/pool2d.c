/* pool2d.c (kernels) — nn.MaxPool2d and nn.AvgPool2d, the fast forward and
 * backward (ops/pool2d.c has the geometry, the reference kernels and the
 * tensor functions; the semantics are described there).
 *
 * Each window's valid range is computed once instead of testing every
 * position, and OpenMP runs over the N*C planes (disjoint writes); 2 x 2
 * stride-2 windows (LeNet's pooling) have their own vector loops.
 */
#include "kernel.h"
#include "ops/vmath.h"

#include <math.h>
#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* Kernel offsets a in [*lo, *hi) with 0 <= start + a*dil < in (a < k). */
static void window_range(int *lo, int *hi, int64_t start, int64_t in, int k, int dil) {
    int64_t l = start >= 0 ? 0 : (-start + dil - 1) / dil;
    int64_t h = start > in - 1 ? 0 : (in - 1 - start) / dil + 1;
    if (h > k) h = k;
    if (l > h) l = h;
    *lo = (int)l;
    *hi = (int)h;
}

/* Max over window (i, j) of one plane; returns the routed index or -1. */
static inline int64_t max_window(float *out, const float *xp, const cnn__pool_geom *g, int64_t i,
                                 int64_t j) {
    int64_t h0 = i * g->sh - g->ph, w0 = j * g->sw - g->pw;
    int alo, ahi, elo, ehi;
    window_range(&alo, &ahi, h0, g->h, g->kh, g->dh);
    window_range(&elo, &ehi, w0, g->w, g->kw, g->dw);
    float m = -INFINITY;
    int64_t idx = -1;
    if (alo < ahi && elo < ehi) idx = (h0 + (int64_t)alo * g->dh) * g->w + w0 + (int64_t)elo * g->dw;
    for (int a = alo; a < ahi; a++) {
        const float *row = xp + (h0 + (int64_t)a * g->dh) * g->w + w0;
        for (int e = elo; e < ehi; e++) {
            float v = row[(int64_t)e * g->dw];
            if (v > m || isnan(v)) {
                m = v;
                idx = (h0 + (int64_t)a * g->dh) * g->w + w0 + (int64_t)e * g->dw;
            }
        }
    }
    *out = m;
    return idx;
}

/* Every window lies inside the input (no padding, no ceil-mode overhang, no
 * dilation): the windows need no clipping and an average divides by kh*kw.
 * LeNet's AvgPool2d(2, 2) and the usual MaxPool2d are of this kind. */
static int windows_inside(const cnn__pool_geom *g) {
    return g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
           (g->oh - 1) * g->sh + g->kh <= g->h && (g->ow - 1) * g->sw + g->kw <= g->w &&
           !(g->kind == CNN_POOL_AVG && g->divisor_override);
}

int cnn__pool_2x2_tiles(const cnn__pool_geom *g) {
    return windows_inside(g) && g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->h == 2 * g->oh &&
           g->w == 2 * g->ow;
}
static int avg2x2_tiles(const cnn__pool_geom *g) { return g->kind == CNN_POOL_AVG && cnn__pool_2x2_tiles(g); }

/* Average pooling of one plane with every window inside; sums in the same
 * order as the general loop (row by row), so the results are the same bits. */
static void avg_inside_plane_forward(float *yp, const float *xp, const cnn__pool_geom *g) {
    const int64_t w = g->w, oh = g->oh, ow = g->ow;
    const int kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2) {
        /* the loop below with its sizes known: 0 + x00 + x01 + x10 + x11, in that order */
        for (int64_t i = 0; i < oh; i++) {
            const float *r0 = xp + 2 * i * w, *r1 = r0 + w;
            float *yr = yp + i * ow;
            int64_t j = 0;
#if defined(__AVX2__)
            /* 4 windows at a time: each row's 8 inputs split into even and odd columns */
            const __m256i eo = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
            for (; j + 4 <= ow; j += 4) {
                __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(r0 + 2 * j), eo);
                __m256 b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(r1 + 2 * j), eo);
                __m128 t = _mm_add_ps(_mm_setzero_ps(), _mm256_castps256_ps128(a));
                t = _mm_add_ps(t, _mm256_extractf128_ps(a, 1));
                t = _mm_add_ps(t, _mm256_castps256_ps128(b));
                t = _mm_add_ps(t, _mm256_extractf128_ps(b, 1));
                _mm_storeu_ps(yr + j, _mm_div_ps(t, _mm_set1_ps(4.0f)));
            }
#endif
            for (; j < ow; j++)
                yr[j] = (0.0f + r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) / 4.0f;
        }
        return;
    }
    const float div = (float)(kh * kw);
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
            const float *win = xp + i * sh * w + j * sw;
            float sum = 0.0f;
            for (int a = 0; a < kh; a++)
                for (int e = 0; e < kw; e++) sum += win[a * w + e];
            yp[i * ow + j] = sum / div;
        }
}

static void avg_inside_plane_backward(float *dxp, const float *dyp, const cnn__pool_geom *g) {
    const int64_t h = g->h, w = g->w, oh = g->oh, ow = g->ow;
    const int kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
    if (avg2x2_tiles(g)) {
        /* disjoint windows that cover the plane: each dx is 0 + dy / 4 */
        for (int64_t i = 0; i < oh; i++) {
            float *r0 = dxp + 2 * i * w, *r1 = r0 + w;
            const float *dr = dyp + i * ow;
            for (int64_t j = 0; j < ow; j++) {
                float v = 0.0f + dr[j] / 4.0f;
                r0[2 * j] = r0[2 * j + 1] = r1[2 * j] = r1[2 * j + 1] = v;
            }
        }
        return;
    }
    const float div = (float)(kh * kw);
    memset(dxp, 0, sizeof(float) * (size_t)(h * w));
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
            float v = dyp[i * ow + j] / div, *win = dxp + i * sh * w + j * sw;
            for (int a = 0; a < kh; a++)
                for (int e = 0; e < kw; e++) win[a * w + e] += v;
        }
}

/* Max pooling 2 x 2, stride 2, every window inside (the usual
 * MaxPool2d(2)): the window's four values in the order of the general loop,
 * (0,0), (0,1), (1,0), (1,1), each taken when greater or NaN, so the value
 * and the routed position are those of max_window. 8 windows at a time: a
 * row's 16 inputs split into even and odd columns (in the order [0 1 4 5 2 3
 * 6 7] of the windows, which permute4x64 (3,1,2,0) turns into 0..7 and
 * back). */
static int max2x2(const cnn__pool_geom *g) {
    return g->kind == CNN_POOL_MAX && windows_inside(g) && g->kh == 2 && g->kw == 2 && g->sh == 2 &&
           g->sw == 2;
}
static inline int max_takes(float v, float m) { return v > m || isnan(v); }

/* k of the window starting at r0, r1: 0 (0,0), 1 (0,1), 2 (1,0), 3 (1,1); *m its maximum */
static inline int max2x2_scalar(float *m, const float *r0, const float *r1) {
    float v = r0[0];
    int k = 0;
    if (max_takes(r0[1], v)) v = r0[1], k = 1;
    if (max_takes(r1[0], v)) v = r1[0], k = 2;
    if (max_takes(r1[1], v)) v = r1[1], k = 3;
    *m = v;
    return k;
}

#if defined(__AVX2__)
/* the 8 windows of columns [2j, 2j+16) of rows r0, r1: maxima and k, windows in [0 1 4 5 2 3 6 7] order */
static inline __m256 max2x2_8(const float *r0, const float *r1, __m256 *k) {
    __m256 a = _mm256_loadu_ps(r0), b = _mm256_loadu_ps(r0 + 8);
    __m256 c = _mm256_loadu_ps(r1), d = _mm256_loadu_ps(r1 + 8);
    __m256 m = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    *k = _mm256_setzero_ps();
    m = cnn__max_step8(m, _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)), k, 1.0f);
    m = cnn__max_step8(m, _mm256_shuffle_ps(c, d, _MM_SHUFFLE(2, 0, 2, 0)), k, 2.0f);
    return cnn__max_step8(m, _mm256_shuffle_ps(c, d, _MM_SHUFFLE(3, 1, 3, 1)), k, 3.0f);
}
static inline __m256 swap_mid(__m256 v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}
#endif

static void max2x2_plane_forward(float *yp, const float *xp, const cnn__pool_geom *g) {
    for (int64_t i = 0; i < g->oh; i++) {
        const float *r0 = xp + 2 * i * g->w, *r1 = r0 + g->w;
        float *yr = yp + i * g->ow;
        int64_t j = 0;
#if defined(__AVX2__)
        for (__m256 k; j + 8 <= g->ow; j += 8)
            _mm256_storeu_ps(yr + j, swap_mid(max2x2_8(r0 + 2 * j, r1 + 2 * j, &k)));
#endif
        for (; j < g->ow; j++) max2x2_scalar(&yr[j], r0 + 2 * j, r1 + 2 * j);
    }
}

/* dx = 0 + dy at each window's routed position, 0 elsewhere */
static void max2x2_plane_backward(float *dxp, const float *dyp, const float *xp, const cnn__pool_geom *g) {
    if (g->h != 2 * g->oh || g->w != 2 * g->ow) memset(dxp, 0, sizeof(float) * (size_t)(g->h * g->w));
    for (int64_t i = 0; i < g->oh; i++) {
        const float *r0 = xp + 2 * i * g->w, *r1 = r0 + g->w, *dr = dyp + i * g->ow;
        float *d0 = dxp + 2 * i * g->w, *d1 = d0 + g->w;
        int64_t j = 0;
#if defined(__AVX2__)
        for (; j + 8 <= g->ow; j += 8) {
            __m256 k;
            max2x2_8(r0 + 2 * j, r1 + 2 * j, &k);
            __m256 v = swap_mid(_mm256_add_ps(_mm256_setzero_ps(), _mm256_loadu_ps(dr + j)));
            __m256 v00 = _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(0.0f), _CMP_EQ_OQ), v);
            __m256 v01 = _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(1.0f), _CMP_EQ_OQ), v);
            __m256 v10 = _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(2.0f), _CMP_EQ_OQ), v);
            __m256 v11 = _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(3.0f), _CMP_EQ_OQ), v);
            /* back to columns: unpack undoes the even/odd split */
            _mm256_storeu_ps(d0 + 2 * j, _mm256_unpacklo_ps(v00, v01));
            _mm256_storeu_ps(d0 + 2 * j + 8, _mm256_unpackhi_ps(v00, v01));
            _mm256_storeu_ps(d1 + 2 * j, _mm256_unpacklo_ps(v10, v11));
            _mm256_storeu_ps(d1 + 2 * j + 8, _mm256_unpackhi_ps(v10, v11));
        }
#endif
        for (; j < g->ow; j++) {
            float m, v = 0.0f + dr[j];
            int k = max2x2_scalar(&m, r0 + 2 * j, r1 + 2 * j);
            d0[2 * j] = k == 0 ? v : 0.0f, d0[2 * j + 1] = k == 1 ? v : 0.0f;
            d1[2 * j] = k == 2 ? v : 0.0f, d1[2 * j + 1] = k == 3 ? v : 0.0f;
        }
    }
}

/* One plane (h, w) -> (oh, ow). */
static void plane_forward(float *yp, const float *xp, const cnn__pool_geom *g) {
    if (max2x2(g)) {
        max2x2_plane_forward(yp, xp, g);
        return;
    }
    if (g->kind == CNN_POOL_AVG && windows_inside(g)) {
        avg_inside_plane_forward(yp, xp, g);
        return;
    }
    for (int64_t i = 0; i < g->oh; i++)
        for (int64_t j = 0; j < g->ow; j++) {
            if (g->kind == CNN_POOL_MAX) {
                max_window(&yp[i * g->ow + j], xp, g, i, j);
                continue;
            }
            int64_t h0 = i * g->sh - g->ph, w0 = j * g->sw - g->pw;
            int alo, ahi, elo, ehi;
            window_range(&alo, &ahi, h0, g->h, g->kh, 1);
            window_range(&elo, &ehi, w0, g->w, g->kw, 1);
            float sum = 0.0f;
            for (int a = alo; a < ahi; a++) {
                const float *row = xp + (h0 + a) * g->w + w0;
                for (int e = elo; e < ehi; e++) sum += row[e];
            }
            int64_t div = cnn__pool_avg_divisor(g, i, j);
            yp[i * g->ow + j] = div ? sum / (float)div : 0.0f;
        }
}

/* One plane: dxp (overwritten) from dyp; max pooling reads the input xp. */
static void plane_backward(float *dxp, const float *dyp, const float *xp, const cnn__pool_geom *g) {
    if (max2x2(g)) {
        max2x2_plane_backward(dxp, dyp, xp, g);
        return;
    }
    if (g->kind == CNN_POOL_AVG && windows_inside(g)) {
        avg_inside_plane_backward(dxp, dyp, g);
        return;
    }
    memset(dxp, 0, sizeof(float) * (size_t)(g->h * g->w));
    for (int64_t i = 0; i < g->oh; i++)
        for (int64_t j = 0; j < g->ow; j++) {
            float d = dyp[i * g->ow + j], m;
            if (g->kind == CNN_POOL_MAX) {
                int64_t idx = max_window(&m, xp, g, i, j);
                if (idx >= 0) dxp[idx] += d;
                continue;
            }
            int64_t div = cnn__pool_avg_divisor(g, i, j);
            if (!div) continue;
            float v = d / (float)div;
            int64_t h0 = i * g->sh - g->ph, w0 = j * g->sw - g->pw;
            int alo, ahi, elo, ehi;
            window_range(&alo, &ahi, h0, g->h, g->kh, 1);
            window_range(&elo, &ehi, w0, g->w, g->kw, 1);
            for (int a = alo; a < ahi; a++) {
                float *row = dxp + (h0 + a) * g->w + w0;
                for (int e = elo; e < ehi; e++) row[e] += v;
            }
        }
}

void cnn__pool2d_forward_serial(float *y, const float *x, const cnn__pool_geom *g) {
    for (int64_t p = 0; p < g->n * g->c; p++)
        plane_forward(y + p * g->oh * g->ow, x + p * g->h * g->w, g);
}

void cnn__pool2d_backward_serial(float *dx, const float *dy, const float *x, const cnn__pool_geom *g) {
    for (int64_t p = 0; p < g->n * g->c; p++)
        plane_backward(dx + p * g->h * g->w, dy + p * g->oh * g->ow, x ? x + p * g->h * g->w : NULL,
                       g);
}

/* The planes split across threads; each writes its own. */
void cnn__pool2d_forward(float *y, const float *x, const cnn__pool_geom *g) {
    #pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < g->n * g->c; p++)
        plane_forward(y + p * g->oh * g->ow, x + p * g->h * g->w, g);
}

void cnn__pool2d_backward(float *dx, const float *dy, const float *x, const cnn__pool_geom *g) {
    #pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < g->n * g->c; p++)
        plane_backward(dx + p * g->h * g->w, dy + p * g->oh * g->ow, x ? x + p * g->h * g->w : NULL,
                       g);
}

void cnn__pool_act_backward_serial(float *dz, const float *dp, const float *a,
                                   const cnn__pool_geom *g, cnn_activation act) {
    const int64_t h = g->h, w = g->w, oh = g->oh, ow = g->ow;
    if (act != CNN_ACT_SIGMOID || !avg2x2_tiles(g)) {
        cnn__pool2d_backward_serial(dz, dp, a, g);
        cnn__act_backward_serial(dz, dz, NULL, a, (size_t)(g->n * g->c * h * w), act);
        return;
    }
    /* 2x2 windows that tile the plane, then sigmoid: each dz is
     * ((0 + dp/4) * (1 - a)) * a, the same operations as the two passes */
    for (int64_t r = 0; r < g->n * g->c * oh; r++) { /* r: a row of windows */
        const float *dr = dp + r * ow, *a0 = a + 2 * r * w, *a1 = a0 + w;
        float *z0 = dz + 2 * r * w, *z1 = z0 + w;
        int64_t j = 0;
#if defined(__AVX2__)
        const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
        const __m256 one = _mm256_set1_ps(1.0f);
        for (; j + 4 <= ow; j += 4) {
            __m128 v4 = _mm_add_ps(_mm_setzero_ps(), _mm_div_ps(_mm_loadu_ps(dr + j), _mm_set1_ps(4.0f)));
            __m256 v = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v4), dup);
            __m256 y0 = _mm256_loadu_ps(a0 + 2 * j), y1 = _mm256_loadu_ps(a1 + 2 * j);
            _mm256_storeu_ps(z0 + 2 * j, _mm256_mul_ps(_mm256_mul_ps(v, _mm256_sub_ps(one, y0)), y0));
            _mm256_storeu_ps(z1 + 2 * j, _mm256_mul_ps(_mm256_mul_ps(v, _mm256_sub_ps(one, y1)), y1));
        }
#endif
        for (; j < ow; j++) {
            float v = 0.0f + dr[j] / 4.0f;
            for (int e = 0; e < 2; e++) {
                z0[2 * j + e] = v * (1.0f - a0[2 * j + e]) * a0[2 * j + e];
                z1[2 * j + e] = v * (1.0f - a1[2 * j + e]) * a1[2 * j + e];
            }
        }
    }
}

/* 2 x 2 tiles of one plane in blocks of 8, (h, w, 8) -> (oh, ow, 8): each
 * lane as plane_forward computes it (max: the window's values in the order
 * (0,0), (0,1), (1,0), (1,1), each taken when greater or NaN; average:
 * (0 + x00 + x01 + x10 + x11) / 4), a pixel's 8 lanes as one vector. */
void cnn__pool2d_forward_lanes(float *y, const float *x, const cnn__pool_geom *g) {
    CNN_ASSERT(cnn__pool_2x2_tiles(g));
    const int64_t w8 = g->w * 8;
    const int max = g->kind == CNN_POOL_MAX;
    for (int64_t i = 0; i < g->oh; i++)
        for (int64_t j = 0; j < g->ow; j++) {
            const float *x00 = x + 2 * i * w8 + 2 * j * 8, *x01 = x00 + 8, *x10 = x00 + w8, *x11 = x10 + 8;
            float *yr = y + (i * g->ow + j) * 8;
#if defined(__AVX2__)
            __m256 v00 = _mm256_loadu_ps(x00), v01 = _mm256_loadu_ps(x01);
            __m256 v10 = _mm256_loadu_ps(x10), v11 = _mm256_loadu_ps(x11);
            if (max) {
                __m256 m = cnn__max_step8(cnn__max_step8(v00, v01, NULL, 0), v10, NULL, 0);
                _mm256_storeu_ps(yr, cnn__max_step8(m, v11, NULL, 0));
            } else {
                __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_setzero_ps(), v00), v01), v10),
                                         v11);
                _mm256_storeu_ps(yr, _mm256_div_ps(t, _mm256_set1_ps(4.0f)));
            }
#else
            for (int l = 0; l < 8; l++) {
                if (max) {
                    float m = x00[l];
                    m = max_takes(x01[l], m) ? x01[l] : m;
                    m = max_takes(x10[l], m) ? x10[l] : m;
                    yr[l] = max_takes(x11[l], m) ? x11[l] : m;
                } else {
                    yr[l] = (0.0f + x00[l] + x01[l] + x10[l] + x11[l]) / 4.0f;
                }
            }
#endif
        }
}

/* Its backward, dz (h, w, 8) overwritten from dp (oh, ow, 8) and, for max,
 * the input a: each lane as plane_backward (0 + dp routed to the window's
 * maximum, or 0 + dp / 4 to all four). */
static void lanes_backward(float *dz, const float *dp, const float *a, const cnn__pool_geom *g) {
    const int64_t w8 = g->w * 8;
    const int max = g->kind == CNN_POOL_MAX;
    for (int64_t i = 0; i < g->oh; i++)
        for (int64_t j = 0; j < g->ow; j++) {
            const int64_t o = 2 * i * w8 + 2 * j * 8;
            const float *dr = dp + (i * g->ow + j) * 8;
            float *z00 = dz + o, *z01 = z00 + 8, *z10 = z00 + w8, *z11 = z10 + 8;
#if defined(__AVX2__)
            const __m256 zero = _mm256_setzero_ps();
            if (max) {
                const float *x00 = a + o;
                __m256 k = zero, v = _mm256_add_ps(zero, _mm256_loadu_ps(dr));
                __m256 m = cnn__max_step8(_mm256_loadu_ps(x00), _mm256_loadu_ps(x00 + 8), &k, 1.0f);
                m = cnn__max_step8(m, _mm256_loadu_ps(x00 + w8), &k, 2.0f);
                cnn__max_step8(m, _mm256_loadu_ps(x00 + w8 + 8), &k, 3.0f);
                _mm256_storeu_ps(z00, _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(0.0f), _CMP_EQ_OQ), v));
                _mm256_storeu_ps(z01, _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(1.0f), _CMP_EQ_OQ), v));
                _mm256_storeu_ps(z10, _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(2.0f), _CMP_EQ_OQ), v));
                _mm256_storeu_ps(z11, _mm256_and_ps(_mm256_cmp_ps(k, _mm256_set1_ps(3.0f), _CMP_EQ_OQ), v));
            } else {
                __m256 v = _mm256_add_ps(zero, _mm256_div_ps(_mm256_loadu_ps(dr), _mm256_set1_ps(4.0f)));
                _mm256_storeu_ps(z00, v), _mm256_storeu_ps(z01, v), _mm256_storeu_ps(z10, v), _mm256_storeu_ps(z11, v);
            }
#else
            for (int l = 0; l < 8; l++) {
                if (max) {
                    const float *x00 = a + o, *x01 = x00 + 8, *x10 = x00 + w8, *x11 = x10 + 8;
                    float m = x00[l], v = 0.0f + dr[l];
                    int k = 0;
                    if (max_takes(x01[l], m)) m = x01[l], k = 1;
                    if (max_takes(x10[l], m)) m = x10[l], k = 2;
                    if (max_takes(x11[l], m)) k = 3;
                    z00[l] = k == 0 ? v : 0.0f, z01[l] = k == 1 ? v : 0.0f;
                    z10[l] = k == 2 ? v : 0.0f, z11[l] = k == 3 ? v : 0.0f;
                } else {
                    z00[l] = z01[l] = z10[l] = z11[l] = 0.0f + dr[l] / 4.0f;
                }
            }
#endif
        }
}

void cnn__pool_act_backward(float *dz, const float *dp, const float *a, const cnn__pool_geom *g,
                            cnn_activation act, int blk) {
    cnn__pool_geom g1 = *g;
    g1.n = 1;
    const int64_t in = g->c * g->h * g->w, out = g->c * g->oh * g->ow;
    if (!blk) {
        #pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < g->n; n++) {
            cnn__pool_act_backward_serial(dz + n * in, dp + n * out, a + n * in, &g1, act);
        }
        return;
    }
    /* the full blocks' planes (of 8 lanes), then the last samples */
    CNN_ASSERT(cnn__pool_2x2_tiles(g));
    const int64_t full = g->n / 8, planes = full * g->c, hw = g->h * g->w, ohw = g->oh * g->ow;
    #pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes + g->n - 8 * full; q++) {
        if (q >= planes) {
            const int64_t n = 8 * full + q - planes;
            cnn__pool_act_backward_serial(dz + n * in, dp + n * out, a + n * in, &g1, act);
            continue;
        }
        const int64_t zo = (q / g->c) * 8 * in + (q % g->c) * hw * 8;
        lanes_backward(dz + zo, dp + (q / g->c) * 8 * out + (q % g->c) * ohw * 8, a + zo, g);
        cnn__act_backward_serial(dz + zo, dz + zo, NULL, a + zo, (size_t)(hw * 8), act);
    }
}
