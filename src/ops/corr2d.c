/* corr2d.c — the chapter's building blocks, on single images:
 *
 *   corr2d(X, K)[i,j]        = sum_{a,b} X[i+a, j+b] K[a,b]
 *   corr2d_multi_in(X, K)    = sum_c corr2d(X[c], K[c])
 *   corr2d_multi_in_out(X, K) = stack_o corr2d_multi_in(X, K[o])
 *   corr2d_multi_in_out_1x1  = the same for 1x1 kernels as (C_o, C) @ (C, H*W)
 *   pool2d(X, (ph, pw), mode) = max or mean over each ph x pw window, stride 1
 *
 * These are the plain loops of the text (no padding, stride 1); nn.Conv2d
 * and the pooling layers with all their options live in conv2d.c and pool2d.c.
 */
#include "cnn_internal.h"
#include "core/core.h"

#include <limits.h>
#include <math.h>

/* y (H-kh+1, W-kw+1) += corr2d(x (H, W), k (kh, kw)) */
static void corr2d_add(float *y, const float *x, const float *k, int64_t h, int64_t w, int64_t kh,
                       int64_t kw) {
    int64_t oh = h - kh + 1, ow = w - kw + 1;
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
            float sum = 0.0f;
            for (int64_t a = 0; a < kh; a++)
                for (int64_t b = 0; b < kw; b++) sum += x[(i + a) * w + j + b] * k[a * kw + b];
            y[i * ow + j] += sum;
        }
}

/* The kernel's last two sizes (kh, kw) must fit in the input's (h, w). */
static int check_fit(const char *fn, int64_t h, int64_t w, int64_t kh, int64_t kw) {
    if (kh < 1 || kw < 1 || kh > h || kw > w)
        return cnn__fail(CNN_ESHAPE,
                         "%s: kernel %lld x %lld does not fit in input %lld x %lld "
                         "(expected 1 <= kernel <= input on each axis)",
                         fn, (long long)kh, (long long)kw, (long long)h, (long long)w);
    return CNN_OK;
}

int cnn_corr2d(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k) {
    static const char fn[] = "cnn_corr2d";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    CNN_TRY(cnn__tensor_check_ndim(fn, "X", x, 2, 2, NULL));
    CNN_TRY(cnn__tensor_check_ndim(fn, "K", k, 2, 2, NULL));
    int64_t h = x->shape[0], w = x->shape[1], kh = k->shape[0], kw = k->shape[1];
    CNN_TRY(check_fit(fn, h, w, kh, kw));
    int64_t shape[2] = {h - kh + 1, w - kw + 1};
    CNN_TRY(cnn_tensor_zeros(out, 2, shape));
    corr2d_add(out->data, x->data, k->data, h, w, kh, kw);
    return CNN_OK;
}

int cnn_corr2d_multi_in(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k) {
    static const char fn[] = "cnn_corr2d_multi_in";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    CNN_TRY(cnn__tensor_check_ndim(fn, "X", x, 3, 3, NULL));
    CNN_TRY(cnn__tensor_check_ndim(fn, "K", k, 3, 3, NULL));
    int64_t c = x->shape[0], h = x->shape[1], w = x->shape[2], kh = k->shape[1], kw = k->shape[2];
    if (k->shape[0] != c)
        return cnn__fail(CNN_ESHAPE, "%s: K has %lld channels; expected %lld (X's channels)", fn,
                         (long long)k->shape[0], (long long)c);
    CNN_TRY(check_fit(fn, h, w, kh, kw));
    int64_t shape[2] = {h - kh + 1, w - kw + 1};
    CNN_TRY(cnn_tensor_zeros(out, 2, shape));
    for (int64_t ci = 0; ci < c; ci++)
        corr2d_add(out->data, x->data + ci * h * w, k->data + ci * kh * kw, h, w, kh, kw);
    return CNN_OK;
}

int cnn_corr2d_multi_in_out(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k) {
    static const char fn[] = "cnn_corr2d_multi_in_out";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    CNN_TRY(cnn__tensor_check_ndim(fn, "X", x, 3, 3, NULL));
    CNN_TRY(cnn__tensor_check_ndim(fn, "K", k, 4, 4, NULL));
    int64_t c = x->shape[0], h = x->shape[1], w = x->shape[2];
    int64_t co = k->shape[0], kh = k->shape[2], kw = k->shape[3];
    if (k->shape[1] != c)
        return cnn__fail(CNN_ESHAPE,
                         "%s: K has shape %s; expected (C_o, %lld, kh, kw) to match X's %lld "
                         "channels",
                         fn, cnn__shape_str(4, k->shape).s, (long long)c, (long long)c);
    CNN_TRY(check_fit(fn, h, w, kh, kw));
    int64_t oh = h - kh + 1, ow = w - kw + 1;
    int64_t shape[3] = {co, oh, ow};
    CNN_TRY(cnn_tensor_zeros(out, 3, shape));
    for (int64_t o = 0; o < co; o++)
        for (int64_t ci = 0; ci < c; ci++)
            corr2d_add(out->data + o * oh * ow, x->data + ci * h * w,
                       k->data + (o * c + ci) * kh * kw, h, w, kh, kw);
    return CNN_OK;
}

int cnn_corr2d_multi_in_out_1x1(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k) {
    static const char fn[] = "cnn_corr2d_multi_in_out_1x1";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    CNN_TRY(cnn__tensor_check_ndim(fn, "X", x, 3, 3, NULL));
    /* K is (C_o, C, 1, 1) as in the chapter, or already (C_o, C). */
    CNN_TRY(cnn__tensor_check_ndim(fn, "K", k, 2, 4, NULL));
    int64_t c = x->shape[0], hw = x->shape[1] * x->shape[2], co = k->shape[0];
    int ok = (k->ndim == 2 && k->shape[1] == c) ||
             (k->ndim == 4 && k->shape[1] == c && k->shape[2] == 1 && k->shape[3] == 1);
    if (!ok)
        return cnn__fail(CNN_ESHAPE, "%s: K has shape %s; expected [C_o, %lld, 1, 1] or [C_o, %lld]",
                         fn, cnn__shape_str(k->ndim, k->shape).s, (long long)c, (long long)c);
    int64_t shape[3] = {co, x->shape[1], x->shape[2]};
    CNN_TRY(cnn_tensor_zeros(out, 3, shape));
    /* Y (C_o, H*W) = K (C_o, C) @ X (C, H*W), summed over c in order with
     * separate multiply and add, so that it gives the same bits as the
     * cross-correlation (the chapter prints Y1 - Y2 as exact zeros). */
    for (int64_t o = 0; o < co; o++)
        for (int64_t ci = 0; ci < c; ci++) {
            float kv = k->data[o * c + ci];
            for (int64_t p = 0; p < hw; p++) out->data[o * hw + p] += kv * x->data[ci * hw + p];
        }
    return CNN_OK;
}

int cnn_pool2d_simple(cnn_tensor *out, const cnn_tensor *x, int ph, int pw, cnn_pool_kind kind) {
    static const char fn[] = "cnn_pool2d_simple";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    CNN_TRY(cnn__tensor_check_ndim(fn, "X", x, 2, 2, NULL));
    if (kind != CNN_POOL_MAX && kind != CNN_POOL_AVG)
        return cnn__fail(CNN_EINVAL, "%s: mode=%d; expected CNN_POOL_MAX or CNN_POOL_AVG", fn,
                         (int)kind);
    int64_t h = x->shape[0], w = x->shape[1];
    CNN_TRY(check_fit(fn, h, w, ph, pw));
    int64_t oh = h - ph + 1, ow = w - pw + 1;
    int64_t shape[2] = {oh, ow};
    CNN_TRY(cnn_tensor_zeros(out, 2, shape));
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
            float m = -INFINITY, sum = 0.0f;
            for (int a = 0; a < ph; a++)
                for (int b = 0; b < pw; b++) {
                    float v = x->data[(i + a) * w + j + b];
                    if (v > m || isnan(v)) m = v;
                    sum += v;
                }
            out->data[i * ow + j] = kind == CNN_POOL_MAX ? m : (float)(sum / ((double)ph * pw));
        }
    return CNN_OK;
}
