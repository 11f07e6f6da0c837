/* im2col.c (kernels) — the columns of a convolution's input for the GEMM
 * path (ops/conv2d.c), and their sum back into an input gradient:
 *
 *   col[(c, a, e), i*OW + j] = x[c, i*sh - pt + a*dh, j*sw - pl + e*dw]  (0 outside),
 *   dx[c, ih, iw] = sum over the columns that read it.
 *
 * Copies and adds only: compiled per instruction set for the width of its
 * loads and stores. */
#include "kernel.h"

#include <string.h>

/* Output columns j in [*lo, *hi) read input column j*s - pad + off in [0, in). */
static void valid_range(int64_t *lo, int64_t *hi, int64_t in, int64_t out, int s, int64_t pad,
                        int64_t off) {
    /* j*s + (off - pad) >= 0  <=>  j >= ceil((pad - off) / s) */
    int64_t start = pad - off, l, h;
    l = start <= 0 ? 0 : (start + s - 1) / s;
    /* j*s + (off - pad) <= in - 1  <=>  j <= floor((in - 1 + pad - off) / s) */
    int64_t top = in - 1 + pad - off;
    h = top < 0 ? 0 : top / s + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Patches of one sample x (C, H, W) into the columns of col: row r =
 * (c*kh + a)*kw + e holds OH*OW values at col + r*ld; zeros for padding. */
void cnn__im2col(float *col, int64_t ld, const float *x, const cnn__conv_geom *g) {
    for (int64_t c = 0; c < g->c; c++)
        for (int a = 0; a < g->kh; a++)
            for (int e = 0; e < g->kw; e++) {
                float *row = col + ((c * g->kh + a) * g->kw + e) * ld;
                int64_t jlo, jhi;
                valid_range(&jlo, &jhi, g->w, g->ow, g->sw, g->pad_left, (int64_t)e * g->dw);
                for (int64_t i = 0; i < g->oh; i++) {
                    float *r = row + i * g->ow;
                    int64_t ih = i * g->sh - g->pad_top + (int64_t)a * g->dh;
                    if (ih < 0 || ih >= g->h) {
                        memset(r, 0, sizeof(float) * (size_t)g->ow);
                        continue;
                    }
                    const float *xr = x + (c * g->h + ih) * g->w - g->pad_left + (int64_t)e * g->dw;
                    for (int64_t j = 0; j < jlo; j++) r[j] = 0.0f;
                    if (g->sw == 1) {
                        /* rows are short (OW floats): an inline loop beats a memcpy call */
                        for (int64_t j = jlo; j < jhi; j++) r[j] = xr[j];
                    } else {
                        for (int64_t j = jlo; j < jhi; j++) r[j] = xr[j * g->sw];
                    }
                    for (int64_t j = jhi; j < g->ow; j++) r[j] = 0.0f;
                }
            }
}

/* dx (C, H, W) <- sum of the patch columns of dcol (rows at dcol + r*ld), overwriting dx. */
void cnn__col2im(float *dx, const float *dcol, int64_t ld, const cnn__conv_geom *g) {
    memset(dx, 0, sizeof(float) * (size_t)(g->c * g->h * g->w));
    for (int64_t c = 0; c < g->c; c++)
        for (int a = 0; a < g->kh; a++)
            for (int e = 0; e < g->kw; e++) {
                const float *row = dcol + ((c * g->kh + a) * g->kw + e) * ld;
                int64_t jlo, jhi;
                valid_range(&jlo, &jhi, g->w, g->ow, g->sw, g->pad_left, (int64_t)e * g->dw);
                for (int64_t i = 0; i < g->oh; i++) {
                    int64_t ih = i * g->sh - g->pad_top + (int64_t)a * g->dh;
                    if (ih < 0 || ih >= g->h) continue;
                    const float *r = row + i * g->ow;
                    float *xr = dx + (c * g->h + ih) * g->w - g->pad_left + (int64_t)e * g->dw;
                    for (int64_t j = jlo; j < jhi; j++) xr[j * g->sw] += r[j];
                }
            }
}

