/* ops.h — raw kernels on float buffers, used by the tensor API and the model.
 *
 * Each operation has a plain reference kernel (*_ref: loops that read like the
 * math) and a fast kernel; tests check them against each other. Kernels do not
 * validate: callers build a geometry with the *_geom_make functions, which do.
 * Outputs first, then inputs, then sizes. Parameter gradients are accumulated
 * (+=); input gradients are overwritten.
 */
#ifndef CNN_OPS_H
#define CNN_OPS_H

#include "cnn_internal.h"

/* ---- conv2d ------------------------------------------------------------ */
typedef struct cnn__conv_geom {
    int64_t n, c, h, w;      /* input (N, C, H, W) */
    int64_t oc, oh, ow;      /* output (N, OC, OH, OW) */
    int kh, kw, sh, sw, dh, dw;
    int pad_top, pad_left;   /* bottom/right padding is implied by oh, ow */
    int groups;
} cnn__conv_geom;

/* Validate d against input shape in[4] and fill g (PyTorch's errors). */
int cnn__conv_geom_make(cnn__conv_geom *g, const cnn_conv2d_desc *d, const int64_t in[4]);
/* Floats of scratch the fast kernels need for this geometry. */
size_t cnn__conv2d_workspace(const cnn__conv_geom *g);
/* y (N, OC, OH, OW) = conv(x (N, C, H, W), w (OC, C/groups, kh, kw)) + b (OC) (b may be NULL) */
void cnn__conv2d_forward_ref(float *y, const float *x, const float *w, const float *b,
                             const cnn__conv_geom *g);
void cnn__conv2d_forward(float *y, const float *x, const float *w, const float *b,
                         const cnn__conv_geom *g, float *ws);
/* dx = conv_transpose(dy, w) (overwritten; may be NULL); dw += corr(x, dy); db += sum dy (may be NULL) */
void cnn__conv2d_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, const cnn__conv_geom *g);
void cnn__conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const cnn__conv_geom *g, float *ws);

/* ---- pool2d ------------------------------------------------------------ */
typedef struct cnn__pool_geom {
    int64_t n, c, h, w, oh, ow;   /* n*c planes of h x w -> oh x ow */
    int kh, kw, sh, sw, ph, pw, dh, dw;
    cnn_pool_kind kind;
    int count_include_pad, divisor_override;
} cnn__pool_geom;

int cnn__pool_geom_make(cnn__pool_geom *g, const cnn_pool2d_desc *d, const int64_t in[4]);
/* max: y = max over window (padding = -inf, NaN propagates, first max wins);
 * avg: y = sum over window / divisor (PyTorch's divisor rules). */
void cnn__pool2d_forward_ref(float *y, const float *x, const cnn__pool_geom *g);
void cnn__pool2d_forward(float *y, const float *x, const cnn__pool_geom *g);
/* dx (overwritten) from dy; max pooling routes each dy to its window's argmax in x. */
void cnn__pool2d_backward_ref(float *dx, const float *dy, const float *x, const cnn__pool_geom *g);
void cnn__pool2d_backward(float *dx, const float *dy, const float *x, const cnn__pool_geom *g);

/* ---- activations ------------------------------------------------------- */
void cnn__act_forward(float *y, const float *x, size_t n, cnn_activation act);
/* dx = dy * f'(x), computed from x or from y = f(x), whichever the function needs. */
void cnn__act_backward(float *dx, const float *dy, const float *x, const float *y, size_t n,
                       cnn_activation act);

/* ---- linear ------------------------------------------------------------ */
/* y (n, out) = x (n, in) @ w (out, in)^T + b (out) (b may be NULL) */
void cnn__linear_forward_ref(float *y, const float *x, const float *w, const float *b,
                             int64_t n, int64_t in, int64_t out);
void cnn__linear_forward(float *y, const float *x, const float *w, const float *b,
                         int64_t n, int64_t in, int64_t out);
/* dx = dy @ w (overwritten; may be NULL); dw += dy^T @ x; db += sum_n dy (may be NULL) */
void cnn__linear_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, int64_t n, int64_t in, int64_t out);
void cnn__linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, int64_t n, int64_t in, int64_t out);

/* ---- losses ------------------------------------------------------------ */
/* Returns mean_n(logsumexp(z_n) - z_n[y_n]) computed stably (in double);
 * probs (n, c) <- softmax(z). Labels must be in [0, c) (caller checks). */
double cnn__cross_entropy_forward(float *probs, const float *logits, const int32_t *y,
                                  int64_t n, int64_t c);
/* dlogits (overwritten) = (probs - onehot(y)) * scale; scale is 1/n for the mean. */
void cnn__cross_entropy_backward(float *dlogits, const float *probs, const int32_t *y,
                                 int64_t n, int64_t c, float scale);

#endif /* CNN_OPS_H */
