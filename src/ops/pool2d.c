/* pool2d.c — nn.MaxPool2d and nn.AvgPool2d forward and backward.
 *
 * Window (i, j) of a plane covers rows i*sh - ph + a*dh (a < kh) and columns
 * j*sw - pw + e*dw (e < kw); positions outside the input are padding.
 *   max: y = max over the window's input positions (padding is -inf). As in
 *        PyTorch's CPU kernel a NaN wins (the last NaN of the window), else the
 *        first maximum; the backward routes dy to that position.
 *   avg: y = sum over the window's input positions / divisor, where
 *        divisor = divisor_override if set, else with count_include_pad the
 *        window clipped to the padded input (not to ceil_mode's overhang),
 *        else the window clipped to the input.
 * Output sizes come from cnn_out_size (ceil_mode drops a last window that
 * starts in the right padding). Padding must be <= kernel/2 per axis, as
 * PyTorch requires for both kinds.
 *
 * The fast kernels are in ops/kernels/pool2d.c, compiled once per
 * instruction set (ops/isa.h).
 */
#include "cnn_internal.h"
#include "conv_util.h"
#include "ops.h"
#include "vmath.h"

#include <math.h>
#include <string.h>


/* ---- descriptors ------------------------------------------------------- */

cnn_pool2d_desc cnn_pool2d_desc_make(cnn_pool_kind kind, int kh, int kw) {
    cnn_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.kernel_size[0] = kh;
    d.kernel_size[1] = kw;
    d.stride[0] = kh;
    d.stride[1] = kw;
    d.dilation[0] = d.dilation[1] = 1;
    d.ceil_mode = 0;
    d.count_include_pad = 1;
    d.divisor_override = 0;
    return d;
}

static const char *pool_name(cnn_pool_kind kind) {
    return kind == CNN_POOL_AVG ? "AvgPool2d" : "MaxPool2d";
}

int cnn__pool_geom_make(cnn__pool_geom *g, const cnn_pool2d_desc *d, const int64_t in[4]) {
    if (!g) return cnn__fail(CNN_EINVAL, "pool2d: geometry is NULL");
    memset(g, 0, sizeof *g);
    if (!d) return cnn__fail(CNN_EINVAL, "pool2d: descriptor is NULL");
    if (!in) return cnn__fail(CNN_EINVAL, "pool2d: input shape is NULL");
    if (d->kind != CNN_POOL_MAX && d->kind != CNN_POOL_AVG)
        return cnn__fail(CNN_EINVAL, "pool2d: kind=%d is not a cnn_pool_kind", (int)d->kind);
    const char *name = pool_name(d->kind);
    const int *k = d->kernel_size, *s = d->stride, *p = d->padding, *dl = d->dilation;
    if (k[0] < 1 || k[1] < 1)
        return cnn__fail(CNN_EINVAL, "%s: kernel_size=(%d, %d); expected sizes >= 1", name, k[0],
                         k[1]);
    if (s[0] < 1 || s[1] < 1)
        return cnn__fail(CNN_EINVAL, "%s: stride=(%d, %d); expected values >= 1", name, s[0],
                         s[1]);
    if (p[0] < 0 || p[1] < 0)
        return cnn__fail(CNN_EINVAL, "%s: padding=(%d, %d); expected values >= 0", name, p[0],
                         p[1]);
    if (p[0] > k[0] / 2 || p[1] > k[1] / 2)
        return cnn__fail(CNN_EINVAL,
                         "%s: pad should be at most half of kernel size, but got "
                         "padding=(%d, %d) and kernel_size=(%d, %d)",
                         name, p[0], p[1], k[0], k[1]);
    if (dl[0] < 1 || dl[1] < 1)
        return cnn__fail(CNN_EINVAL, "%s: dilation=(%d, %d); expected values >= 1", name, dl[0],
                         dl[1]);
    if (d->kind == CNN_POOL_AVG && (dl[0] != 1 || dl[1] != 1))
        return cnn__fail(CNN_EINVAL, "AvgPool2d: dilation=(%d, %d); average pooling has no "
                         "dilation (expected (1, 1))", dl[0], dl[1]);
    if (d->kind == CNN_POOL_MAX && d->divisor_override != 0)
        return cnn__fail(CNN_EINVAL, "MaxPool2d: divisor_override=%d; only AvgPool2d has one "
                         "(expected 0)", d->divisor_override);
    if (in[0] < 0 || in[0] > CNN_MAX_NUMEL || in[1] < 1 || in[1] > CNN_MAX_NUMEL)
        return cnn__fail(CNN_ESHAPE,
                         "%s: input [%lld, %lld, %lld, %lld]; expected batch >= 0 and "
                         "channels >= 1",
                         name, (long long)in[0], (long long)in[1], (long long)in[2],
                         (long long)in[3]);
    int64_t oh, ow;
    int rc = cnn_out_size(&oh, in[2], k[0], s[0], p[0], p[0], dl[0], d->ceil_mode);
    if (rc < 0) return cnn__fail_context(rc, "%s: height", name);
    rc = cnn_out_size(&ow, in[3], k[1], s[1], p[1], p[1], dl[1], d->ceil_mode);
    if (rc < 0) return cnn__fail_context(rc, "%s: width", name);
    int64_t planes_max = CNN_MAX_NUMEL / (in[2] * in[3]);
    if (in[1] > planes_max || (in[0] > 0 && in[0] * in[1] > planes_max))
        return cnn__fail(CNN_ERANGE, "%s: input [%lld, %lld, %lld, %lld] has more than %lld "
                         "elements", name, (long long)in[0], (long long)in[1], (long long)in[2],
                         (long long)in[3], (long long)CNN_MAX_NUMEL);
    g->n = in[0];
    g->c = in[1];
    g->h = in[2];
    g->w = in[3];
    g->oh = oh;
    g->ow = ow;
    g->kh = k[0];
    g->kw = k[1];
    g->sh = s[0];
    g->sw = s[1];
    g->ph = p[0];
    g->pw = p[1];
    g->dh = dl[0];
    g->dw = dl[1];
    g->kind = d->kind;
    g->count_include_pad = d->count_include_pad != 0;
    g->divisor_override = d->divisor_override;
    return CNN_OK;
}

int cnn_pool2d_output_shape(int64_t out[4], const cnn_pool2d_desc *d, const int64_t in[4]) {
    if (!out) return cnn__fail(CNN_EINVAL, "cnn_pool2d_output_shape: out is NULL");
    cnn__pool_geom g;
    CNN_TRY(cnn__pool_geom_make(&g, d, in));
    out[0] = g.n;
    out[1] = g.c;
    out[2] = g.oh;
    out[3] = g.ow;
    return CNN_OK;
}

/* ---- reference kernels ------------------------------------------------- */

/* Index in the plane of window (i, j)'s routed element (max pooling), or -1
 * if the window holds no input position; *out gets the maximum. */
static int64_t max_ref(float *out, const float *x, const cnn__pool_geom *g, int64_t i, int64_t j) {
    float m = -INFINITY;
    int64_t idx = -1;
    for (int a = 0; a < g->kh; a++)
        for (int e = 0; e < g->kw; e++) {
            int64_t ih = i * g->sh - g->ph + (int64_t)a * g->dh;
            int64_t iw = j * g->sw - g->pw + (int64_t)e * g->dw;
            if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
            float v = x[ih * g->w + iw];
            if (idx < 0 || v > m || isnan(v)) {
                m = v;
                idx = ih * g->w + iw;
            }
        }
    *out = m;
    return idx;
}

void cnn__pool2d_forward_ref(float *y, const float *x, const cnn__pool_geom *g) {
    for (int64_t p = 0; p < g->n * g->c; p++) {
        const float *xp = x + p * g->h * g->w;
        float *yp = y + p * g->oh * g->ow;
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                if (g->kind == CNN_POOL_MAX) {
                    max_ref(&yp[i * g->ow + j], xp, g, i, j);
                    continue;
                }
                double sum = 0.0;
                for (int a = 0; a < g->kh; a++)
                    for (int e = 0; e < g->kw; e++) {
                        int64_t ih = i * g->sh - g->ph + a, iw = j * g->sw - g->pw + e;
                        if (ih >= 0 && ih < g->h && iw >= 0 && iw < g->w) sum += xp[ih * g->w + iw];
                    }
                int64_t div = cnn__pool_avg_divisor(g, i, j);
                yp[i * g->ow + j] = div ? (float)(sum / (double)div) : 0.0f;
            }
    }
}

void cnn__pool2d_backward_ref(float *dx, const float *dy, const float *x, const cnn__pool_geom *g) {
    memset(dx, 0, sizeof(float) * (size_t)(g->n * g->c * g->h * g->w));
    for (int64_t p = 0; p < g->n * g->c; p++) {
        const float *xp = x + p * g->h * g->w, *dyp = dy + p * g->oh * g->ow;
        float *dxp = dx + p * g->h * g->w;
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                float d = dyp[i * g->ow + j], m;
                if (g->kind == CNN_POOL_MAX) {
                    int64_t idx = max_ref(&m, xp, g, i, j);
                    if (idx >= 0) dxp[idx] += d;
                    continue;
                }
                int64_t div = cnn__pool_avg_divisor(g, i, j);
                if (!div) continue;
                for (int a = 0; a < g->kh; a++)
                    for (int e = 0; e < g->kw; e++) {
                        int64_t ih = i * g->sh - g->ph + a, iw = j * g->sw - g->pw + e;
                        if (ih >= 0 && ih < g->h && iw >= 0 && iw < g->w)
                            dxp[ih * g->w + iw] += d / (float)div;
                    }
            }
    }
}

/* ---- tensor functions -------------------------------------------------- */

int cnn_pool2d(cnn_tensor *out, const cnn_tensor *x, const cnn_pool2d_desc *d) {
    static const char fn[] = "cnn_pool2d";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    int64_t in[4];
    CNN_TRY(cnn__input_nchw(fn, "x", x, in));
    cnn__pool_geom g;
    int rc = cnn__pool_geom_make(&g, d, in);
    if (rc < 0) return cnn__fail_context(rc, "%s", fn);
    int64_t oshape[4] = {g.n, g.c, g.oh, g.ow};
    CNN_TRY(cnn__alloc_like_input(out, x->ndim, oshape));
    if (g.n > 0) cnn__pool2d_forward(out->data, x->data, &g);
    return CNN_OK;
}

int cnn_pool2d_grad(cnn_tensor *dx, const cnn_tensor *dout, const cnn_tensor *x,
                    const cnn_pool2d_desc *d) {
    static const char fn[] = "cnn_pool2d_grad";
    if (!dx) return cnn__fail(CNN_EINVAL, "%s: dx is NULL", fn);
    *dx = (cnn_tensor)CNN_TENSOR_EMPTY;
    int64_t in[4];
    CNN_TRY(cnn__input_nchw(fn, "x", x, in));
    cnn__pool_geom g;
    int rc = cnn__pool_geom_make(&g, d, in);
    if (rc < 0) return cnn__fail_context(rc, "%s", fn);
    CNN_TRY(cnn__tensor_check_ndim(fn, "dout", dout, 1, 4, NULL));
    int64_t oshape[4] = {g.n, g.c, g.oh, g.ow};
    const int64_t *want = x->ndim == 4 ? oshape : oshape + 1;
    if (!cnn__shape_is(dout, x->ndim, want))
        return cnn__fail(CNN_ESHAPE, "%s: dout has shape %s; expected %s (the output's shape)", fn,
                         cnn__shape_str(dout->ndim, dout->shape).s,
                         cnn__shape_str(x->ndim, want).s);
    CNN_TRY(cnn__alloc_like_input(dx, x->ndim, in));
    if (g.n > 0) cnn__pool2d_backward(dx->data, dout->data, x->data, &g);
    return CNN_OK;
}
