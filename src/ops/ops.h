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
/* The same forward, leaving the im2col columns of the whole batch in cols
 * (cnn__conv2d_cols_size floats; 0 means none are needed), and the backward
 * that uses them instead of computing them again. Same results. */
size_t cnn__conv2d_cols_size(const cnn__conv_geom *g);
void cnn__conv2d_forward_keep(float *y, const float *x, const float *w, const float *b,
                              const cnn__conv_geom *g, float *cols);
void cnn__conv2d_backward_kept(float *dx, float *dw, float *db, const float *dy, const float *x,
                               const float *w, const cnn__conv_geom *g, float *ws, const float *cols);
/* dx = conv_transpose(dy, w) (overwritten; may be NULL); dw += corr(x, dy); db += sum dy (may be NULL) */
void cnn__conv2d_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, const cnn__conv_geom *g);
void cnn__conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const cnn__conv_geom *g, float *ws);

/* kernels/im2col.c: the GEMM path's columns of one sample x (C, H, W): row
 * r = (c*kh + a)*kw + e holds OH*OW values at col + r*ld (zeros for padding);
 * col2im overwrites dx (C, H, W) with the sum of the columns that read each
 * position. */
void cnn__im2col(float *col, int64_t ld, const float *x, const cnn__conv_geom *g);
void cnn__col2im(float *dx, const float *dcol, int64_t ld, const cnn__conv_geom *g);

/* conv2d_direct.c: stride-1 and stride-2 convolutions without im2col, used by
 * cnn__conv2d_forward/backward when cnn__conv2d_direct_ok(g); dx is
 * overwritten, dw accumulated (either may be NULL); ws holds
 * cnn__conv2d_direct_workspace(g) floats. */
struct cnn__pool_geom;
int cnn__conv2d_direct_ok(const cnn__conv_geom *g);
size_t cnn__conv2d_direct_workspace(const cnn__conv_geom *g);
void cnn__conv2d_direct_forward(float *y, const float *x, const float *w, const float *b,
                                const cnn__conv_geom *g, int blk, float *ws);
/* Tensors "in blocks of 8": each full block of 8 samples n0 .. n0+7 holds
 * (C, H, W, 8) at n0*C*H*W, the sample the fastest index; a last block of
 * fewer than 8 samples stays NCHW. The lanes layout of the fused direct
 * convolution reads and writes such blocks without transposing them, so the
 * model keeps a fused Conv2d -> activation -> pooling's tensors in blocks
 * between its forward and its backward, and between two such fused layers:
 * x the input, a the activation's output, p the pooled output (forward) or
 * its gradient (backward), dx the input gradient; and a Conv2d's alone
 * between batch norms: y its output, dy that output's gradient. */
enum { CNN__BLK_X = 1, CNN__BLK_A = 2, CNN__BLK_P = 4, CNN__BLK_DX = 8, CNN__BLK_Y = 16, CNN__BLK_DY = 32 };
/* The CNN__BLK_* flags cnn__conv2d_direct_forward (x: _X, y: _Y) and
 * cnn__conv2d_direct_backward (x: _X, dy: _DY, dx: _DX) honor for this
 * convolution (a Conv2d alone, the lanes layout); 0: none. A Conv2d
 * between batch norms keeps its tensors in blocks of 8 so (nn/plan.c). */
int cnn__conv2d_direct_blocks(const cnn__conv_geom *g);
/* 1 when the fused forward and backward below honor CNN__BLK_* flags for
 * this convolution, activation and pooling (else the flags must be 0). */
int cnn__conv2d_direct_blocks_ok(const cnn__conv_geom *g, cnn_activation act,
                                 const struct cnn__pool_geom *pg);
/* The same, then the activation and the pooling layers that follow it,
 * sample by sample while the sample is in cache: a = act(y), p = pool(a)
 * (p and pg may be NULL; pg->n is ignored). Same results as the layers one
 * after another. With p given, y and a may be NULL: they are then not kept.
 * blk: which of x, a, p are in blocks of 8 (CNN__BLK_X | _A | _P). */
/* An eval-mode BatchNorm2d (running statistics) between the convolution and
 * its activation: z = y * scale + shift per channel, scale = invstd * gamma,
 * shift = beta - mean * scale (gamma, beta may be NULL: 1 and 0), computed
 * as cnn__batchnorm_apply computes them, so the same bits. */
typedef struct cnn__bn_eval {
    const float *mean, *invstd, *gamma, *beta;
} cnn__bn_eval;
/* bn (may be NULL): the batch norm above, applied before the activation;
 * with bn, a y given (then a and p are NULL) gets bn(conv(x) + b). */
void cnn__conv2d_direct_forward_fused(float *y, float *a, cnn_activation act, float *p,
                                      const struct cnn__pool_geom *pg, const float *x, const float *w,
                                      const float *b, const cnn__bn_eval *bn, const cnn__conv_geom *g, int blk,
                                      float *ws);
/* db (may be NULL) += sum of dy, per chunk of samples and the chunks in order */
void cnn__conv2d_direct_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const cnn__conv_geom *g, int blk, float *ws);
/* The same with dy = act'(z) * pool_backward(dp) made sample by sample and
 * never stored (a = act(z), the pooling's input; pg->n is ignored): the
 * backward of Conv2d -> activation -> pooling, same results as
 * cnn__pool_act_backward followed by cnn__conv2d_backward. blk: which of
 * x, a, dp (CNN__BLK_P), dx are in blocks of 8. */
void cnn__conv2d_direct_backward_fused(float *dx, float *dw, float *db, const float *dp,
                                       const float *a, cnn_activation act,
                                       const struct cnn__pool_geom *pg, const float *x,
                                       const float *w, const cnn__conv_geom *g, int blk, float *ws);

/* ---- pool2d ------------------------------------------------------------ */
typedef struct cnn__pool_geom {
    int64_t n, c, h, w, oh, ow;   /* n*c planes of h x w -> oh x ow */
    int kh, kw, sh, sw, ph, pw, dh, dw;
    cnn_pool_kind kind;
    int count_include_pad, divisor_override;
} cnn__pool_geom;

/* PyTorch's average-pooling divisor for window (i, j); 0 if the window holds
 * no input position (the output is then 0). */
static inline int64_t cnn__pool_avg_divisor(const cnn__pool_geom *g, int64_t i, int64_t j) {
    int64_t h0 = i * g->sh - g->ph, w0 = j * g->sw - g->pw;
    int64_t h1 = h0 + g->kh < g->h + g->ph ? h0 + g->kh : g->h + g->ph;
    int64_t w1 = w0 + g->kw < g->w + g->pw ? w0 + g->kw : g->w + g->pw;
    int64_t padded = (h1 - h0) * (w1 - w0); /* window clipped to the padded input */
    if (h0 < 0) h0 = 0;
    if (w0 < 0) w0 = 0;
    if (h1 > g->h) h1 = g->h;
    if (w1 > g->w) w1 = g->w;
    if (h0 >= h1 || w0 >= w1) return 0;
    if (g->divisor_override) return g->divisor_override;
    return g->count_include_pad ? padded : (h1 - h0) * (w1 - w0);
}

int cnn__pool_geom_make(cnn__pool_geom *g, const cnn_pool2d_desc *d, const int64_t in[4]);
/* max: y = max over window (padding = -inf, NaN propagates, first max wins);
 * avg: y = sum over window / divisor (PyTorch's divisor rules). */
void cnn__pool2d_forward_ref(float *y, const float *x, const cnn__pool_geom *g);
void cnn__pool2d_forward(float *y, const float *x, const cnn__pool_geom *g);
/* dx (overwritten) from dy; max pooling routes each dy to its window's argmax in x. */
void cnn__pool2d_backward_ref(float *dx, const float *dy, const float *x, const cnn__pool_geom *g);
void cnn__pool2d_backward(float *dx, const float *dy, const float *x, const cnn__pool_geom *g);
/* 2 x 2, stride-2 windows (max, or average without a divisor override) that
 * tile the plane exactly (LeNet's, and its modern form's). */
int cnn__pool_2x2_tiles(const cnn__pool_geom *g);
/* The same on the calling thread only (for fused kernels); same results. */
void cnn__pool2d_forward_serial(float *y, const float *x, const cnn__pool_geom *g);
void cnn__pool2d_backward_serial(float *dx, const float *dy, const float *x, const cnn__pool_geom *g);
/* dz = act'(z) * pool_backward(dp): the input gradient of an activation that
 * is followed by pooling, one sample at a time (a = act(z), the pooling's
 * input; g->n samples). Same results as the two backward passes in turn.
 * blk: dz, dp and a in blocks of 8, the windows 2 x 2 tiles. */
void cnn__pool_act_backward(float *dz, const float *dp, const float *a, const cnn__pool_geom *g,
                            cnn_activation act, int blk);
/* The same on the calling thread only (for fused kernels). */
void cnn__pool_act_backward_serial(float *dz, const float *dp, const float *a,
                                   const cnn__pool_geom *g, cnn_activation act);

/* ---- activations ------------------------------------------------------- */
void cnn__act_forward(float *y, const float *x, size_t n, cnn_activation act);
/* The same on the calling thread only (for kernels that fuse an activation). */
void cnn__act_forward_serial(float *y, const float *x, size_t n, cnn_activation act);
/* dx = dy * f'(x), computed from x or from y = f(x), whichever the function needs. */
void cnn__act_backward(float *dx, const float *dy, const float *x, const float *y, size_t n,
                       cnn_activation act);
void cnn__act_backward_serial(float *dx, const float *dy, const float *x, const float *y, size_t n,
                              cnn_activation act);
/* y (n) += x (n), split across threads when long (a residual connection) */
void cnn__add_into(float *y, const float *x, size_t n);
/* y = relu(y + x) */
void cnn__add_relu(float *y, const float *x, size_t n);
/* The activations the fused kernels do not take, as PyTorch's CPU kernels
 * compute them (backward: dx = dy * f'(x), overwritten). */
/* y = x > 0 ? x : slope * x;  dx = dy * (x > 0 ? 1 : slope) */
void cnn__leaky_relu_forward(float *y, const float *x, size_t n, float slope);
void cnn__leaky_relu_backward(float *dx, const float *dy, const float *x, size_t n, float slope);
/* GELU: y = x/2 (1 + erf(x/sqrt(2))); with tanh_approx
 * y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void cnn__gelu_forward(float *y, const float *x, size_t n, int tanh_approx);
void cnn__gelu_backward(float *dx, const float *dy, const float *x, size_t n, int tanh_approx);
/* SiLU: y = x / (1 + e^-x);  dx = dy * s (1 + x (1 - s)), s = sigmoid(x) */
void cnn__silu_forward(float *y, const float *x, size_t n);
void cnn__silu_backward(float *dx, const float *dy, const float *x, size_t n);
/* Hardswish: y = x * min(max(x + 3, 0), 6) / 6;
 * dx = 0 for x < -3, dy (x/3 + 1/2) for x < 3, dy from 3 on */
void cnn__hardswish_forward(float *y, const float *x, size_t n);
void cnn__hardswish_backward(float *dx, const float *dy, const float *x, size_t n);

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

/* ---- batch normalization (batchnorm.c) ----------------------------------- */
/* Sums over a batch cut into shards (data-parallel training, src/train/shard.c):
 * fn(ctx, v, n) replaces v[0..n), this shard's partial sums, by the sums over
 * all the batch's shards added in shard order, the same bits on every shard
 * and process. total: the examples in the whole batch; buf: room for 4c + 1
 * doubles, c the widest batch norm. NULL everywhere: the batch is one shard. */
typedef struct cnn__shard_sync {
    void (*fn)(void *ctx, double *v, int64_t n);
    void *ctx;
    double *buf;
    int64_t total;
} cnn__shard_sync;

/* x is (n, c, s): s = H*W for BatchNorm2d, 1 or L for BatchNorm1d; with blk,
 * every tensor of the call is in blocks of 8 (CNN__BLK_* above; BatchNorm2d
 * only), and a pooling's windows are 2 x 2 tiles. Per channel,
 * over the n*s values: mean[c]; invstd[c] = 1/sqrt(var_biased + eps);
 * var_unbiased[c] = var_biased * m/(m-1) (may be NULL; m = n*s >= 2). */
void cnn__batchnorm_stats(float *mean, float *invstd, float *var_unbiased, const float *x,
                          int64_t n, int64_t c, int64_t s, float eps, const cnn__shard_sync *sync, int blk);
/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]; gamma, beta NULL mean 1, 0. */
void cnn__batchnorm_apply(float *y, const float *x, const float *mean, const float *invstd,
                          const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s, int blk);
/* xhat = (x - mean) * invstd. dgamma += sum dy*xhat, dbeta += sum dy (either may be NULL).
 * dx (may be NULL) with batch statistics:
 *   dx = gamma * invstd / m * (m * dy - sum dy - xhat * sum(dy * xhat))
 * (with sync, m and the sums are the whole batch's, dgamma and dbeta the shard's)
 * with fixed (running) statistics: dx = gamma * invstd * dy. */
void cnn__batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                             const float *mean, const float *invstd, const float *gamma, int64_t n,
                             int64_t c, int64_t s, int batch_stats, const cnn__shard_sync *sync, int blk);

/* The same, then y = act(y): a batch norm and the activation after it in one
 * pass, the same bits as the two in turn. */
void cnn__batchnorm_apply_act(float *y, const float *x, const float *mean, const float *invstd,
                              const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s,
                              cnn_activation act, int blk);
/* The same, then pool <- the pooling pg (pg->n ignored) of each plane of y
 * while it is in cache: batch norm, activation and pooling in one pass. */
void cnn__batchnorm_apply_act_pool(float *y, float *pool, const float *x, const float *mean, const float *invstd,
                                   const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s,
                                   cnn_activation act, const struct cnn__pool_geom *pg, int blk);
/* The backward of both: cnn__batchnorm_backward of act'(.) * dy, made from
 * the activation's output y as it is read, never stored. */
void cnn__batchnorm_backward_act(float *dx, float *dgamma, float *dbeta, const float *dy, const float *y,
                                 cnn_activation act, const float *x, const float *mean, const float *invstd,
                                 const float *gamma, int64_t n, int64_t c, int64_t s, int batch_stats,
                                 const cnn__shard_sync *sync, int blk);

/* ---- adaptive pooling (adaptive_pool.c) ------------------------------------ */
/* planes of h x w -> oh x ow; window i covers [floor(i*h/oh), ceil((i+1)*h/oh)).
 * max: NaN propagates, first max wins; avg: mean over the window. */
void cnn__adaptive_pool_forward(float *y, const float *x, int64_t planes, int64_t h, int64_t w,
                                int64_t oh, int64_t ow, int is_max);
/* dx (overwritten) from dy; max routes each dy to its window's argmax in x. */
void cnn__adaptive_pool_backward(float *dx, const float *dy, const float *x, int64_t planes, int64_t h,
                                 int64_t w, int64_t oh, int64_t ow, int is_max);

/* ---- softmax (softmax.c) ------------------------------------------------------ */
/* x viewed as (outer, len, inner): y = softmax over the len axis. */
void cnn__softmax_forward(float *y, const float *x, int64_t outer, int64_t len, int64_t inner);
/* dx = y * (dy - sum_len(dy * y)) */
void cnn__softmax_backward(float *dx, const float *dy, const float *y, int64_t outer, int64_t len,
                           int64_t inner);

#endif /* CNN_OPS_H */
