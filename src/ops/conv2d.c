/* conv2d.c — nn.Conv2d forward and backward.
 *
 *   y[n,o,i,j] = b[o] + sum_{c,a,e} x[n, g*Cg + c, i*sh - pt + a*dh, j*sw - pl + e*dw] * w[o,c,a,e]
 *
 * with g = o / OCg the group of output channel o, Cg = C/groups input channels
 * per group, OCg = OC/groups, zeros outside the input (padding_mode='zeros').
 *
 * Three layers:
 *   - descriptors and geometry: PyTorch's argument checks and shape rules
 *     (every size comes from cnn_out_size);
 *   - raw kernels: *_ref are plain loops. Stride-1 convolutions with one
 *     group, and stride-2 ones larger than 1x1 on batches of 8 or more, go
 *     to conv2d_direct.c (AVX2 / AVX-512 kernels without im2col). The others
 *     lower each sample to a matrix (im2col, (C*kh*kw, OH*OW)) and call
 *     cblas_sgemm per group, with a direct path for 1x1 stride-1 unpadded
 *     convolutions. Batches are processed in chunks whose size depends
 *     only on the geometry, so the workspace and the results never depend
 *     on the thread count. OpenMP
 *     runs over the samples of a chunk (im2col, forward GEMM, input-gradient
 *     GEMM, col2im: disjoint writes); the weight gradient is one GEMM per
 *     fixed-width block of its columns over the whole chunk, chunks added in
 *     order. The *_keep / *_kept pair keeps the forward's columns of the
 *     whole batch for the backward instead of computing them twice;
 *   - tensor functions: validate tensors, allocate outputs and workspace.
 */
#include "cnn_internal.h"
#include "conv_util.h"
#include "ops.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* Width of the column blocks of the weight gradient (see cnn__conv2d_backward). */
#define CONV_DW_BLOCK 16

/* Scratch (floats) per chunk the fast kernels aim for: 64 Ki floats (256 KiB),
 * small enough that a chunk's columns stay in L2 between im2col and GEMM; and
 * the fewest samples per chunk, so that threads share every chunk. */
#define CONV_WS_TARGET ((int64_t)1 << 16)
#define CONV_MIN_CHUNK 8

/* ---- descriptors ------------------------------------------------------- */

cnn_conv2d_desc cnn_conv2d_desc_make(int in_channels, int out_channels, int kh, int kw) {
    cnn_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.in_channels = in_channels;
    d.out_channels = out_channels;
    d.kernel_size[0] = kh;
    d.kernel_size[1] = kw;
    d.stride[0] = d.stride[1] = 1;
    d.padding[0] = d.padding[1] = 0;
    d.dilation[0] = d.dilation[1] = 1;
    d.groups = 1;
    d.bias = 1;
    d.padding_kind = CNN_PADDING_EXPLICIT;
    return d;
}

/* Checks everything about d that does not depend on the input. */
static int check_desc(const cnn_conv2d_desc *d) {
    if (!d) return cnn__fail(CNN_EINVAL, "Conv2d: descriptor is NULL");
    if (d->in_channels < 1 || d->out_channels < 1)
        return cnn__fail(CNN_EINVAL, "Conv2d: in_channels=%d, out_channels=%d; expected >= 1",
                         d->in_channels, d->out_channels);
    if (d->groups < 1) return cnn__fail(CNN_EINVAL, "Conv2d: groups=%d; expected >= 1", d->groups);
    if (d->in_channels % d->groups != 0)
        return cnn__fail(CNN_EINVAL, "Conv2d: in_channels must be divisible by groups, got %d and %d",
                         d->in_channels, d->groups);
    if (d->out_channels % d->groups != 0)
        return cnn__fail(CNN_EINVAL,
                         "Conv2d: out_channels must be divisible by groups, got %d and %d",
                         d->out_channels, d->groups);
    if (d->kernel_size[0] < 1 || d->kernel_size[1] < 1)
        return cnn__fail(CNN_EINVAL, "Conv2d: kernel_size=(%d, %d); expected sizes >= 1",
                         d->kernel_size[0], d->kernel_size[1]);
    if (d->stride[0] < 1 || d->stride[1] < 1)
        return cnn__fail(CNN_EINVAL, "Conv2d: stride=(%d, %d); expected values >= 1", d->stride[0],
                         d->stride[1]);
    if (d->dilation[0] < 1 || d->dilation[1] < 1)
        return cnn__fail(CNN_EINVAL, "Conv2d: dilation=(%d, %d); expected values >= 1",
                         d->dilation[0], d->dilation[1]);
    switch (d->padding_kind) {
    case CNN_PADDING_EXPLICIT:
        if (d->padding[0] < 0 || d->padding[1] < 0)
            return cnn__fail(CNN_EINVAL, "Conv2d: padding=(%d, %d); expected values >= 0",
                             d->padding[0], d->padding[1]);
        break;
    case CNN_PADDING_VALID:
        break;
    case CNN_PADDING_SAME:
        if (d->stride[0] != 1 || d->stride[1] != 1)
            return cnn__fail(CNN_EINVAL,
                             "Conv2d: padding='same' is not supported for strided convolutions "
                             "(stride=(%d, %d))",
                             d->stride[0], d->stride[1]);
        break;
    default:
        return cnn__fail(CNN_EINVAL, "Conv2d: padding_kind=%d is not a cnn_padding_kind",
                         (int)d->padding_kind);
    }
    return CNN_OK;
}

int cnn_conv2d_resolve_padding(int pad[4], const cnn_conv2d_desc *d) {
    if (!pad) return cnn__fail(CNN_EINVAL, "cnn_conv2d_resolve_padding: pad is NULL");
    CNN_TRY(check_desc(d));
    for (int axis = 0; axis < 2; axis++) {
        int lo = 0, hi = 0;
        if (d->padding_kind == CNN_PADDING_EXPLICIT) {
            lo = hi = d->padding[axis];
        } else if (d->padding_kind == CNN_PADDING_SAME) {
            /* total = d*(k-1); the odd one goes to the bottom/right. */
            int64_t total = (int64_t)d->dilation[axis] * (d->kernel_size[axis] - 1);
            if (total > 0x3fffffff)
                return cnn__fail(CNN_ERANGE, "Conv2d: 'same' padding %lld is too large",
                                 (long long)total);
            lo = (int)(total / 2);
            hi = (int)total - lo;
        }
        pad[2 * axis] = lo;
        pad[2 * axis + 1] = hi;
    }
    return CNN_OK;
}

int cnn__conv_geom_make(cnn__conv_geom *g, const cnn_conv2d_desc *d, const int64_t in[4]) {
    if (!g) return cnn__fail(CNN_EINVAL, "Conv2d: geometry is NULL");
    memset(g, 0, sizeof *g);
    if (!in) return cnn__fail(CNN_EINVAL, "Conv2d: input shape is NULL");
    int pad[4];
    CNN_TRY(cnn_conv2d_resolve_padding(pad, d));
    if (in[0] < 0 || in[0] > CNN_MAX_NUMEL)
        return cnn__fail(CNN_ESHAPE, "Conv2d: batch size %lld; expected 0 to %lld",
                         (long long)in[0], (long long)CNN_MAX_NUMEL);
    if (in[1] != d->in_channels)
        return cnn__fail(CNN_ESHAPE,
                         "Conv2d: expected input [%lld, %lld, %lld, %lld] to have %d channels "
                         "(in_channels), but got %lld channels",
                         (long long)in[0], (long long)in[1], (long long)in[2], (long long)in[3],
                         d->in_channels, (long long)in[1]);
    int64_t oh, ow;
    int rc = cnn_out_size(&oh, in[2], d->kernel_size[0], d->stride[0], pad[0], pad[1],
                          d->dilation[0], 0);
    if (rc < 0) return cnn__fail_context(rc, "Conv2d: height");
    rc = cnn_out_size(&ow, in[3], d->kernel_size[1], d->stride[1], pad[2], pad[3],
                      d->dilation[1], 0);
    if (rc < 0) return cnn__fail_context(rc, "Conv2d: width");
    /* Element counts of x, y, w and the per-sample im2col matrix must fit, and
     * matrix sizes must fit the int arguments of cblas_sgemm. */
    int64_t kk = (int64_t)d->kernel_size[0] * d->kernel_size[1];
    int64_t plane_in = in[2] * in[3], plane_out = oh * ow;
    if (plane_in > CNN_MAX_NUMEL / d->in_channels ||
        plane_out > CNN_MAX_NUMEL / d->out_channels ||
        kk > CNN_MAX_NUMEL / d->in_channels ||
        plane_out > CNN_MAX_NUMEL / (kk * d->in_channels) || plane_in > INT_MAX ||
        plane_out > INT_MAX || kk * d->in_channels > INT_MAX ||
        (in[0] > 0 && (plane_in * d->in_channels > CNN_MAX_NUMEL / in[0] ||
                       plane_out * d->out_channels > CNN_MAX_NUMEL / in[0])))
        return cnn__fail(CNN_ERANGE,
                         "Conv2d: input [%lld, %lld, %lld, %lld] gives more than %lld elements",
                         (long long)in[0], (long long)in[1], (long long)in[2], (long long)in[3],
                         (long long)CNN_MAX_NUMEL);
    g->n = in[0];
    g->c = in[1];
    g->h = in[2];
    g->w = in[3];
    g->oc = d->out_channels;
    g->oh = oh;
    g->ow = ow;
    g->kh = d->kernel_size[0];
    g->kw = d->kernel_size[1];
    g->sh = d->stride[0];
    g->sw = d->stride[1];
    g->dh = d->dilation[0];
    g->dw = d->dilation[1];
    g->pad_top = pad[0];
    g->pad_left = pad[2];
    g->groups = d->groups;
    return CNN_OK;
}

int cnn_conv2d_output_shape(int64_t out[4], const cnn_conv2d_desc *d, const int64_t in[4]) {
    if (!out) return cnn__fail(CNN_EINVAL, "cnn_conv2d_output_shape: out is NULL");
    cnn__conv_geom g;
    CNN_TRY(cnn__conv_geom_make(&g, d, in));
    out[0] = g.n;
    out[1] = g.oc;
    out[2] = g.oh;
    out[3] = g.ow;
    return CNN_OK;
}

/* ---- workspace plan ---------------------------------------------------- */

/* 1x1 kernel, stride 1, no padding: the input plane is already the im2col matrix. */
static int is_pointwise(const cnn__conv_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_top == 0 &&
           g->pad_left == 0 && g->oh == g->h && g->ow == g->w;
}

/* Floats of scratch per sample: its im2col columns (C*kh*kw rows of OH*OW)
 * and its gathered output gradient (OC rows of OH*OW). */
static int64_t ws_per_sample(const cnn__conv_geom *g) {
    return (g->c * g->kh * g->kw + g->oc) * g->oh * g->ow;
}

/* Samples per chunk: as many as fit in CONV_WS_TARGET floats (the columns
 * then stay in the caches between im2col and the GEMMs), but at least
 * CONV_MIN_CHUNK so that the threads share every chunk. Results do not
 * depend on the chunk size: every GEMM works on one sample. */
static int64_t chunk_samples(const cnn__conv_geom *g) {
    int64_t per = ws_per_sample(g);
    int64_t chunk = per > 0 ? CONV_WS_TARGET / per : g->n;
    if (chunk < CONV_MIN_CHUNK) chunk = CONV_MIN_CHUNK;
    if (chunk > g->n) chunk = g->n;
    return chunk;
}

size_t cnn__conv2d_workspace(const cnn__conv_geom *g) {
    if (g->n == 0 || is_pointwise(g)) return 0;
    if (cnn__conv2d_direct_ok(g)) return cnn__conv2d_direct_workspace(g);
    return (size_t)(chunk_samples(g) * ws_per_sample(g));
}

/* ---- reference kernels ------------------------------------------------- */

void cnn__conv2d_forward_ref(float *y, const float *x, const float *w, const float *b,
                             const cnn__conv_geom *g) {
    int64_t cg = g->c / g->groups, ocg = g->oc / g->groups;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->oc; o++) {
            int64_t c0 = (o / ocg) * cg; /* first input channel of o's group */
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++) {
                    double sum = b ? b[o] : 0.0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int a = 0; a < g->kh; a++)
                            for (int e = 0; e < g->kw; e++) {
                                int64_t ih = i * g->sh - g->pad_top + (int64_t)a * g->dh;
                                int64_t iw = j * g->sw - g->pad_left + (int64_t)e * g->dw;
                                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                                sum += (double)x[((n * g->c + c0 + c) * g->h + ih) * g->w + iw] *
                                       w[((o * cg + c) * g->kh + a) * g->kw + e];
                            }
                    y[((n * g->oc + o) * g->oh + i) * g->ow + j] = (float)sum;
                }
        }
}

void cnn__conv2d_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, const cnn__conv_geom *g) {
    int64_t cg = g->c / g->groups, ocg = g->oc / g->groups;
    if (dx) memset(dx, 0, sizeof(float) * (size_t)(g->n * g->c * g->h * g->w));
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->oc; o++) {
            int64_t c0 = (o / ocg) * cg;
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++) {
                    float d = dy[((n * g->oc + o) * g->oh + i) * g->ow + j];
                    if (db) db[o] += d;
                    for (int64_t c = 0; c < cg; c++)
                        for (int a = 0; a < g->kh; a++)
                            for (int e = 0; e < g->kw; e++) {
                                int64_t ih = i * g->sh - g->pad_top + (int64_t)a * g->dh;
                                int64_t iw = j * g->sw - g->pad_left + (int64_t)e * g->dw;
                                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                                int64_t xi = ((n * g->c + c0 + c) * g->h + ih) * g->w + iw;
                                int64_t wi = ((o * cg + c) * g->kh + a) * g->kw + e;
                                if (dx) dx[xi] += d * w[wi];
                                if (dw) dw[wi] += d * x[xi];
                            }
                }
        }
}

/* ---- fast kernels ------------------------------------------------------ */

/* Scratch layout for a chunk of m samples: col (C*kh*kw, m*OH*OW), sample s
 * in columns [s*OH*OW, (s+1)*OH*OW). */

size_t cnn__conv2d_cols_size(const cnn__conv_geom *g) {
    if (g->n == 0 || is_pointwise(g) || cnn__conv2d_direct_ok(g)) return 0;
    return (size_t)(g->n * g->c * g->kh * g->kw * g->oh * g->ow);
}

/* The forward; with keep, buf holds the columns of the whole batch (chunk at
 * n0 at buf + n0*C*kh*kw*OH*OW) and they stay there for the backward. */
static void conv2d_forward(float *y, const float *x, const float *w, const float *b,
                           const cnn__conv_geom *g, float *buf, int keep) {
    if (cnn__conv2d_direct_ok(g)) {
        cnn__conv2d_direct_forward(y, x, w, b, g, 0, buf);
        return;
    }
    int64_t groups = g->groups, cg = g->c / groups, ocg = g->oc / groups;
    int64_t hw = g->h * g->w, ohw = g->oh * g->ow, kdim = cg * g->kh * g->kw;
    int pointwise = is_pointwise(g);
    int64_t chunk = pointwise ? g->n : chunk_samples(g);
    for (int64_t n0 = 0; n0 < g->n; n0 += chunk) {
        int64_t m = g->n - n0 < chunk ? g->n - n0 : chunk, ld = pointwise ? hw : m * ohw;
        float *ws = keep ? buf + n0 * g->c * g->kh * g->kw * ohw : buf;
        /* Per sample: y[n] <- bias, then per group
         * y[n, group] (OCg, OH*OW) += W_g (OCg, kdim) @ col[group rows, sample s columns]. */
        #pragma omp parallel for schedule(static)
        for (int64_t s = 0; s < m; s++) {
            const float *xn = x + (n0 + s) * g->c * hw, *col = xn;
            float *yn = y + (n0 + s) * g->oc * ohw;
            if (!pointwise) {
                cnn__im2col(ws + s * ohw, ld, xn, g);
                col = ws + s * ohw;
            }
            for (int64_t o = 0; o < g->oc; o++) {
                float v = b ? b[o] : 0.0f;
                for (int64_t p = 0; p < ohw; p++) yn[o * ohw + p] = v;
            }
            cnn__blas_serial();
            for (int64_t gi = 0; gi < groups; gi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ocg, (int)ohw,
                            (int)kdim, 1.0f, w + gi * ocg * kdim, (int)kdim,
                            col + gi * kdim * ld, (int)ld, 1.0f, yn + gi * ocg * ohw, (int)ohw);
        }
    }
}

void cnn__conv2d_forward(float *y, const float *x, const float *w, const float *b,
                         const cnn__conv_geom *g, float *ws) {
    conv2d_forward(y, x, w, b, g, ws, 0);
}

void cnn__conv2d_forward_keep(float *y, const float *x, const float *w, const float *b,
                              const cnn__conv_geom *g, float *cols) {
    conv2d_forward(y, x, w, b, g, cols, 1);
}

/* The backward; kept (or NULL) holds the forward's columns of the whole batch. */
static void conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const cnn__conv_geom *g, float *ws, const float *kept) {
    int64_t groups = g->groups, cg = g->c / groups, ocg = g->oc / groups;
    int64_t hw = g->h * g->w, ohw = g->oh * g->ow, kdim = cg * g->kh * g->kw;
    int pointwise = is_pointwise(g);
    int64_t chunk = pointwise ? g->n : chunk_samples(g);

    if (cnn__conv2d_direct_ok(g)) { /* db too */
        cnn__conv2d_direct_backward(dx, dw, db, dy, x, w, g, 0, ws);
        return;
    }
    /* db[o] += sum over n, i, j of dy[n, o, i, j], in a fixed order per o:
     * each plane in 8 float lanes (vectorized), the planes in double. */
    if (db) {
        #pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < g->oc; o++) {
            double sum = 0.0;
            for (int64_t n = 0; n < g->n; n++) {
                const float *p = dy + (n * g->oc + o) * ohw;
                float lane[8] = {0};
                int64_t q = 0;
                for (; q + 8 <= ohw; q += 8)
                    for (int l = 0; l < 8; l++) lane[l] += p[q + l];
                for (; q < ohw; q++) lane[0] += p[q];
                for (int l = 0; l < 8; l++) sum += lane[l];
            }
            db[o] += (float)sum;
        }
    }
    if (!dw && !dx) return;
    if (pointwise) {
        /* dW_g (OCg, Cg) += dy[n, group] (OCg, HW) @ x[n, group]^T, sample by sample;
         * the groups in parallel (BLAS is only called from a parallel region). */
        #pragma omp parallel for schedule(static)
        for (int64_t gi = 0; gi < groups; gi++) {
            cnn__blas_serial();
            for (int64_t n = 0; dw && n < g->n; n++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ocg, (int)kdim, (int)hw,
                            1.0f, dy + (n * g->oc + gi * ocg) * hw, (int)hw,
                            x + (n * g->c + gi * cg) * hw, (int)hw, 1.0f, dw + gi * ocg * kdim,
                            (int)kdim);
        }
        /* dx[n, group] (Cg, HW) = W_g^T (Cg, OCg) @ dy[n, group] (OCg, HW) */
        if (dx) {
            #pragma omp parallel for schedule(static)
            for (int64_t n = 0; n < g->n; n++) {
                cnn__blas_serial();
                for (int64_t gi = 0; gi < groups; gi++)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, (int)hw,
                                (int)ocg, 1.0f, w + gi * ocg * kdim, (int)kdim,
                                dy + (n * g->oc + gi * ocg) * hw, (int)hw, 0.0f,
                                dx + (n * g->c + gi * cg) * hw, (int)hw);
            }
        }
        return;
    }
    for (int64_t n0 = 0; n0 < g->n; n0 += chunk) {
        int64_t m = g->n - n0 < chunk ? g->n - n0 : chunk, ld = m * ohw;
        /* The chunk's columns: kept from the forward, or made here in ws. */
        const float *col = kept ? kept + n0 * g->c * g->kh * g->kw * ohw : ws;
        if (dw) {
            /* col <- im2col of each sample of the chunk; gdy[o, s*OH*OW + p] <- dy[n0 + s, o, p]. */
            float *gdy = kept ? ws : ws + g->c * g->kh * g->kw * ld;
            #pragma omp parallel for schedule(static)
            for (int64_t s = 0; s < m; s++) {
                if (!kept) cnn__im2col(ws + s * ohw, ld, x + (n0 + s) * g->c * hw, g);
                const float *dyn = dy + (n0 + s) * g->oc * ohw;
                for (int64_t o = 0; o < g->oc; o++)
                    memcpy(gdy + o * ld + s * ohw, dyn + o * ohw, sizeof(float) * (size_t)ohw);
            }
            /* dW_g[:, k0:k1] (OCg, kb) += gdy_g (OCg, m*OH*OW) @ col_g[k0:k1]^T: one GEMM
             * per block of dW's columns and chunk. The blocks have a fixed width and the
             * chunks a fixed size, so the GEMM calls, and the sums, are the same for
             * any thread count. */
            const int64_t nblk = (kdim + CONV_DW_BLOCK - 1) / CONV_DW_BLOCK;
            #pragma omp parallel for schedule(static)
            for (int64_t bi = 0; bi < groups * nblk; bi++) {
                int64_t gi = bi / nblk, k0 = (bi % nblk) * CONV_DW_BLOCK;
                int64_t kb = kdim - k0 < CONV_DW_BLOCK ? kdim - k0 : CONV_DW_BLOCK;
                cnn__blas_serial();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ocg, (int)kb, (int)ld, 1.0f,
                            gdy + gi * ocg * ld, (int)ld, col + (gi * kdim + k0) * ld, (int)ld, 1.0f,
                            dw + gi * ocg * kdim + k0, (int)kdim);
            }
        }
        if (dx) {
            /* Per sample: dcol[group] (kdim, OH*OW) = W_g^T (kdim, OCg) @ dy[n, group]
             * (OCg, OH*OW) into the sample's columns of ws, then col2im. */
            #pragma omp parallel for schedule(static)
            for (int64_t s = 0; s < m; s++) {
                float *dcol = ws + s * ohw;
                const float *dyn = dy + (n0 + s) * g->oc * ohw;
                cnn__blas_serial();
                for (int64_t gi = 0; gi < groups; gi++)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, (int)ohw,
                                (int)ocg, 1.0f, w + gi * ocg * kdim, (int)kdim,
                                dyn + gi * ocg * ohw, (int)ohw, 0.0f, dcol + gi * kdim * ld,
                                (int)ld);
                cnn__col2im(dx + (n0 + s) * g->c * hw, dcol, ld, g);
            }
        }
    }
}

void cnn__conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const cnn__conv_geom *g, float *ws) {
    conv2d_backward(dx, dw, db, dy, x, w, g, ws, NULL);
}

void cnn__conv2d_backward_kept(float *dx, float *dw, float *db, const float *dy, const float *x,
                               const float *w, const cnn__conv_geom *g, float *ws, const float *cols) {
    conv2d_backward(dx, dw, db, dy, x, w, g, ws, cols);
}

/* ---- tensor functions -------------------------------------------------- */

/* Validates x, weight (and bias when given) against d; fills g. */
static int check_args(const char *fn, cnn__conv_geom *g, const cnn_tensor *x,
                      const cnn_tensor *weight, const cnn_conv2d_desc *d) {
    int64_t in[4];
    CNN_TRY(check_desc(d));
    CNN_TRY(cnn__input_nchw(fn, "x", x, in));
    CNN_TRY(cnn__tensor_check_ndim(fn, "weight", weight, 4, 4, NULL));
    int64_t want[4] = {d->out_channels, d->in_channels / d->groups, d->kernel_size[0],
                       d->kernel_size[1]};
    if (!cnn__shape_is(weight, 4, want))
        return cnn__fail(CNN_ESHAPE,
                         "%s: weight has shape %s; expected %s (out_channels, "
                         "in_channels/groups, kH, kW) for groups=%d",
                         fn, cnn__shape_str(4, weight->shape).s, cnn__shape_str(4, want).s,
                         d->groups);
    if (in[1] != d->in_channels)
        return cnn__fail(CNN_ESHAPE,
                         "%s: given groups=%d, weight of size %s, expected input %s to have %d "
                         "channels, but got %lld channels instead",
                         fn, d->groups, cnn__shape_str(4, weight->shape).s,
                         cnn__shape_str(x->ndim, x->shape).s, d->in_channels, (long long)in[1]);
    int rc = cnn__conv_geom_make(g, d, in);
    if (rc < 0) return cnn__fail_context(rc, "%s", fn);
    return CNN_OK;
}

/* Workspace for the fast kernels; *ws is NULL when none is needed. */
static int alloc_ws(const char *fn, float **ws, const cnn__conv_geom *g) {
    size_t n = cnn__conv2d_workspace(g), bytes;
    *ws = NULL;
    if (n == 0) return CNN_OK;
    if (cnn__mul_overflow(n, sizeof(float), &bytes))
        return cnn__fail(CNN_ERANGE, "%s: workspace of %zu floats overflows", fn, n);
    *ws = cnn_malloc(bytes);
    if (!*ws) return cnn__fail(CNN_ENOMEM, "%s: cannot allocate %zu bytes of workspace", fn, bytes);
    return CNN_OK;
}

int cnn_conv2d(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *weight,
               const cnn_tensor *bias, const cnn_conv2d_desc *d) {
    static const char fn[] = "cnn_conv2d";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    cnn__conv_geom g;
    CNN_TRY(check_args(fn, &g, x, weight, d));
    int has_bias = bias && bias->ndim != 0;
    if (d->bias) {
        if (!bias) return cnn__fail(CNN_EINVAL, "%s: bias is NULL but d->bias is 1", fn);
        CNN_TRY(cnn__tensor_check_ndim(fn, "bias", bias, 1, 1, NULL));
        if (bias->shape[0] != d->out_channels)
            return cnn__fail(CNN_ESHAPE, "%s: bias has shape %s; expected [%d] (out_channels)", fn,
                             cnn__shape_str(1, bias->shape).s, d->out_channels);
    } else if (has_bias) {
        return cnn__fail(CNN_EINVAL, "%s: bias given (shape %s) but d->bias is 0", fn,
                         cnn__shape_str(bias->ndim, bias->shape).s);
    }
    int64_t oshape[4] = {g.n, g.oc, g.oh, g.ow};
    float *ws;
    CNN_TRY(alloc_ws(fn, &ws, &g));
    int rc = cnn__alloc_like_input(out, x->ndim, oshape);
    if (rc < 0) {
        cnn_free(ws);
        return rc;
    }
    if (g.n > 0) cnn__conv2d_forward(out->data, x->data, weight->data, d->bias ? bias->data : NULL,
                                     &g, ws);
    cnn_free(ws);
    return CNN_OK;
}

int cnn_conv2d_grad(cnn_tensor *dx, cnn_tensor *dweight, cnn_tensor *dbias,
                    const cnn_tensor *dout, const cnn_tensor *x, const cnn_tensor *weight,
                    const cnn_conv2d_desc *d) {
    static const char fn[] = "cnn_conv2d_grad";
    if (dx) *dx = (cnn_tensor)CNN_TENSOR_EMPTY;
    if (dweight) *dweight = (cnn_tensor)CNN_TENSOR_EMPTY;
    if (dbias) *dbias = (cnn_tensor)CNN_TENSOR_EMPTY;
    cnn__conv_geom g;
    CNN_TRY(check_args(fn, &g, x, weight, d));
    if (dbias && !d->bias)
        return cnn__fail(CNN_EINVAL, "%s: dbias requested but d->bias is 0 (no bias)", fn);
    CNN_TRY(cnn__tensor_check_ndim(fn, "dout", dout, 1, 4, NULL));
    int64_t oshape[4] = {g.n, g.oc, g.oh, g.ow};
    const int64_t *want = x->ndim == 4 ? oshape : oshape + 1;
    if (!cnn__shape_is(dout, x->ndim, want))
        return cnn__fail(CNN_ESHAPE, "%s: dout has shape %s; expected %s (the output's shape)", fn,
                         cnn__shape_str(dout->ndim, dout->shape).s,
                         cnn__shape_str(x->ndim, want).s);
    float *ws;
    CNN_TRY(alloc_ws(fn, &ws, &g));
    int64_t in[4] = {g.n, g.c, g.h, g.w};
    int rc = CNN_OK;
    if (dx) rc = cnn__alloc_like_input(dx, x->ndim, in);
    if (rc == CNN_OK && dweight) rc = cnn_tensor_zeros(dweight, 4, weight->shape);
    if (rc == CNN_OK && dbias) {
        int64_t bshape[1] = {g.oc};
        rc = cnn_tensor_zeros(dbias, 1, bshape);
    }
    if (rc < 0) {
        cnn_free(ws);
        cnn_tensor_free(dx);
        cnn_tensor_free(dweight);
        cnn_tensor_free(dbias);
        return rc;
    }
    if (g.n > 0)
        cnn__conv2d_backward(dx ? dx->data : NULL, dweight ? dweight->data : NULL,
                             dbias ? dbias->data : NULL, dout->data, x->data, weight->data, &g,
                             ws);
    cnn_free(ws);
    return CNN_OK;
}
