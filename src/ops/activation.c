/* activation.c — elementwise activations, forward and backward, as
 * nn.Sigmoid, nn.ReLU, nn.Tanh, nn.LeakyReLU, nn.GELU, nn.SiLU and
 * nn.Hardswish compute them.
 *
 * Sigmoid is evaluated as e = exp(-|x|), 1/(1+e) or e/(1+e) depending on the
 * sign (a vectorized exp from vmath.h), so it never overflows and keeps full relative accuracy for large
 * negative x. Backward uses the same formulas as PyTorch's sigmoid_backward,
 * threshold_backward and tanh_backward: dy*(1-y)*y, (y <= 0 ? 0 : dy) and
 * dy*(1-y*y) (1-y*y rounded once), with y = f(x). The ReLU gradient at 0 is 0.
 *
 * The kernels work on flat buffers of n floats; the tensor functions at the
 * bottom validate their arguments and allocate the outputs.
 */
#include "ops/dense.h"
#include "ops/ops.h"
#include "ops/vmath.h"

#include <math.h>
#include <string.h>

/* Elementwise loops are split across threads only when they are long enough
 * to pay for it; each thread writes its own range. */
#define ACT_PARALLEL_MIN 65536
/* ---- LeakyReLU, GELU, SiLU, Hardswish ------------------------------------- */

/* The formulas of PyTorch's scalar CPU kernels (aten/src/ATen/native/cpu/
 * Activation.cpp), in float; its vectorized erf and exp round differently
 * in the last bits. */

void cnn__leaky_relu_forward(float *y, const float *x, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

void cnn__leaky_relu_backward(float *dx, const float *dy, const float *x, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * slope;
}

#define GELU_BETA 0.7978845608028654f   /* sqrt(2/pi) */
#define GELU_KAPPA 0.044715f
#define GELU_ALPHA 0.70710678118654752f /* 1/sqrt(2) */
#define GELU_PDF 0.39894228040143268f   /* 1/sqrt(2 pi) */

static void gelu_fwd(float *y, const float *dy, const float *x, size_t n, int tanh_approx) {
    (void)dy;
    if (tanh_approx) {
        for (size_t i = 0; i < n; i++) {
            const float v = x[i], inner = GELU_BETA * (v + GELU_KAPPA * (v * v * v));
            y[i] = 0.5f * v * (1.0f + tanhf(inner));
        }
    } else {
        for (size_t i = 0; i < n; i++) y[i] = x[i] * 0.5f * (1.0f + erff(x[i] * GELU_ALPHA));
    }
}

static void gelu_bwd(float *dx, const float *dy, const float *x, size_t n, int tanh_approx) {
    if (tanh_approx) {
        for (size_t i = 0; i < n; i++) {
            const float v = x[i], v2 = v * v, inner = GELU_BETA * (v + GELU_KAPPA * (v2 * v));
            const float t = tanhf(inner);
            const float left = 0.5f * v, right = 1.0f + t;
            const float dleft = 0.5f * right, dtanh = 1.0f - t * t;
            const float dinner = GELU_BETA * (1.0f + 3.0f * GELU_KAPPA * v2);
            dx[i] = dy[i] * (dleft + left * dtanh * dinner);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            const float v = x[i];
            const float cdf = 0.5f * (1.0f + erff(v * GELU_ALPHA)), pdf = GELU_PDF * expf(v * v * -0.5f);
            dx[i] = dy[i] * (cdf + v * pdf);
        }
    }
}

static void silu_fwd(float *y, const float *dy, const float *x, size_t n, int unused) {
    (void)dy, (void)unused;
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

static void silu_bwd(float *dx, const float *dy, const float *x, size_t n, int unused) {
    (void)unused;
    for (size_t i = 0; i < n; i++) {
        const float s = 1.0f / (1.0f + expf(-x[i]));
        dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

static void hardswish_fwd(float *y, const float *dy, const float *x, size_t n, int unused) {
    (void)dy, (void)unused;
    for (size_t i = 0; i < n; i++) {
        float r = x[i] + 3.0f;
        r = r < 0.0f ? 0.0f : r; /* std::max and std::min: NaN stays */
        r = 6.0f < r ? 6.0f : r;
        y[i] = x[i] * r / 6.0f;
    }
}

static void hardswish_bwd(float *dx, const float *dy, const float *x, size_t n, int unused) {
    (void)unused;
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] < -3.0f ? 0.0f : x[i] < 3.0f ? dy[i] * (x[i] / 3.0f + 0.5f) : dy[i]; /* as its vector path */
}

/* out (n) = f(dy, x) in blocks of ACT_PARALLEL_MIN / 4 across threads. */
static void elementwise(void (*f)(float *, const float *, const float *, size_t, int), float *out, const float *dy,
                        const float *x, size_t n, int arg) {
    const int64_t len = (int64_t)n, blk = ACT_PARALLEL_MIN / 4;
#pragma omp parallel for schedule(static) if (len >= ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < len; i += blk)
        f(out + i, dy ? dy + i : NULL, x + i, (size_t)(len - i < blk ? len - i : blk), arg);
}

void cnn__gelu_forward(float *y, const float *x, size_t n, int tanh_approx) {
    elementwise(gelu_fwd, y, NULL, x, n, tanh_approx);
}
void cnn__gelu_backward(float *dx, const float *dy, const float *x, size_t n, int tanh_approx) {
    elementwise(gelu_bwd, dx, dy, x, n, tanh_approx);
}
void cnn__silu_forward(float *y, const float *x, size_t n) { elementwise(silu_fwd, y, NULL, x, n, 0); }
void cnn__silu_backward(float *dx, const float *dy, const float *x, size_t n) {
    elementwise(silu_bwd, dx, dy, x, n, 0);
}
void cnn__hardswish_forward(float *y, const float *x, size_t n) { elementwise(hardswish_fwd, y, NULL, x, n, 0); }
void cnn__hardswish_backward(float *dx, const float *dy, const float *x, size_t n) {
    elementwise(hardswish_bwd, dx, dy, x, n, 0);
}

/* ---- tensor functions ---------------------------------------------------- */

static int check_act(const char *fn, cnn_activation act) {
    if (act != CNN_ACT_SIGMOID && act != CNN_ACT_RELU && act != CNN_ACT_TANH)
        return cnn__fail(CNN_EINVAL, "%s: act is %d; expected CNN_ACT_SIGMOID, CNN_ACT_RELU or CNN_ACT_TANH",
                         fn, (int)act);
    return CNN_OK;
}

int cnn_activation_forward(cnn_tensor *out, const cnn_tensor *x, cnn_activation act) {
    static const char fn[] = "cnn_activation_forward";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    CNN_TRY(check_act(fn, act));
    CNN_TRY(cnn__dense_check_input(fn, "x", x));
    CNN_TRY(cnn_tensor_zeros(out, x->ndim, x->shape));
    cnn__act_forward(out->data, x->data, (size_t)cnn_tensor_numel(x), act);
    return CNN_OK;
}

int cnn_activation_grad(cnn_tensor *dx, const cnn_tensor *dout, const cnn_tensor *x,
                        cnn_activation act) {
    static const char fn[] = "cnn_activation_grad";
    if (!dx) return cnn__fail(CNN_EINVAL, "%s: dx is NULL", fn);
    *dx = (cnn_tensor)CNN_TENSOR_EMPTY;
    CNN_TRY(check_act(fn, act));
    CNN_TRY(cnn__dense_check_input(fn, "dout", dout));
    CNN_TRY(cnn__dense_check_input(fn, "x", x));
    CNN_TRY(cnn__dense_check_same(fn, "dout", dout, "x", x));
    CNN_TRY(cnn_tensor_zeros(dx, x->ndim, x->shape));
    cnn__act_backward(dx->data, dout->data, x->data, NULL, (size_t)cnn_tensor_numel(x), act);
    return CNN_OK;
}
