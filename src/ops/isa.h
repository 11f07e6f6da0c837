/* isa.h — the fast kernels, one set per instruction set, chosen at run time.
 *
 * The files of ops/kernels/ are compiled three times (CMakeLists.txt):
 *   generic  the x86-64 baseline (SSE2), or any other CPU: plain C loops;
 *   avx2     AVX2 + FMA: 8 float lanes;
 *   avx512   AVX-512 F/VL/BW/DQ: 16 float lanes.
 * Each build renames its entry points with the set's suffix
 * (cnn__act_forward -> cnn__act_forward_avx2, ops/kernels/kernel.h) and fills
 * a table of them (ops/kernels/table.c). The plain names, declared in ops.h,
 * are defined in ops/isa.c: each calls the entry of the table in use, which
 * is the widest set the CPU runs, or CNN_ISA / cnn_set_isa()'s choice.
 *
 * CNN__KERNELS(R, V) lists the entry points once: R for those that return a
 * value, V for void ones; each as (type, name, (parameters), (arguments)). */
#ifndef CNN_OPS_ISA_H
#define CNN_OPS_ISA_H

#include "ops/ops.h"

#define CNN__KERNELS(R, V)                                                                          \
    V(void, im2col, (float *col, int64_t ld, const float *x, const cnn__conv_geom *g), (col, ld, x, g)) \
    V(void, col2im, (float *dx, const float *dcol, int64_t ld, const cnn__conv_geom *g), (dx, dcol, ld, g)) \
    V(void, add_into, (float *y, const float *x, size_t n), (y, x, n))                             \
    V(void, add_relu, (float *y, const float *x, size_t n), (y, x, n))                             \
    R(int, conv2d_direct_ok, (const cnn__conv_geom *g), (g))                                       \
    R(size_t, conv2d_direct_workspace, (const cnn__conv_geom *g), (g))                             \
    V(void, conv2d_direct_forward,                                                                 \
      (float *y, const float *x, const float *w, const float *b, const cnn__conv_geom *g, int blk, \
       float *ws),                                                                                 \
      (y, x, w, b, g, blk, ws))                                                                    \
    R(int, conv2d_direct_blocks, (const cnn__conv_geom *g), (g))                                   \
    R(int, conv2d_direct_blocks_ok,                                                                \
      (const cnn__conv_geom *g, cnn_activation act, const struct cnn__pool_geom *pg), (g, act, pg)) \
    V(void, conv2d_direct_forward_fused,                                                           \
      (float *y, float *a, cnn_activation act, float *p, const struct cnn__pool_geom *pg,          \
       const float *x, const float *w, const float *b, const struct cnn__bn_eval *bn,              \
       const cnn__conv_geom *g, int blk, float *ws),                                               \
      (y, a, act, p, pg, x, w, b, bn, g, blk, ws))                                                 \
    V(void, conv2d_direct_backward,                                                                \
      (float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,           \
       const cnn__conv_geom *g, int blk, float *ws),                                               \
      (dx, dw, db, dy, x, w, g, blk, ws))                                                          \
    V(void, conv2d_direct_backward_fused,                                                          \
      (float *dx, float *dw, float *db, const float *dp, const float *a, cnn_activation act,       \
       const struct cnn__pool_geom *pg, const float *x, const float *w, const cnn__conv_geom *g,   \
       int blk, float *ws),                                                                        \
      (dx, dw, db, dp, a, act, pg, x, w, g, blk, ws))                                              \
    R(int, pool_2x2_tiles, (const cnn__pool_geom *g), (g))                                         \
    V(void, pool2d_forward, (float *y, const float *x, const cnn__pool_geom *g), (y, x, g))        \
    V(void, pool2d_backward, (float *dx, const float *dy, const float *x, const cnn__pool_geom *g), \
      (dx, dy, x, g))                                                                              \
    V(void, pool2d_forward_serial, (float *y, const float *x, const cnn__pool_geom *g), (y, x, g)) \
    V(void, pool2d_backward_serial,                                                                \
      (float *dx, const float *dy, const float *x, const cnn__pool_geom *g), (dx, dy, x, g))       \
    V(void, pool_act_backward,                                                                     \
      (float *dz, const float *dp, const float *a, const cnn__pool_geom *g, cnn_activation act,    \
       int blk),                                                                                   \
      (dz, dp, a, g, act, blk))                                                                    \
    V(void, pool_act_backward_serial,                                                              \
      (float *dz, const float *dp, const float *a, const cnn__pool_geom *g, cnn_activation act),   \
      (dz, dp, a, g, act))                                                                         \
    V(void, act_forward, (float *y, const float *x, size_t n, cnn_activation act), (y, x, n, act)) \
    V(void, act_forward_serial, (float *y, const float *x, size_t n, cnn_activation act),          \
      (y, x, n, act))                                                                              \
    V(void, act_backward,                                                                          \
      (float *dx, const float *dy, const float *x, const float *y, size_t n, cnn_activation act),  \
      (dx, dy, x, y, n, act))                                                                      \
    V(void, act_backward_serial,                                                                   \
      (float *dx, const float *dy, const float *x, const float *y, size_t n, cnn_activation act),  \
      (dx, dy, x, y, n, act))                                                                      \
    V(void, batchnorm_stats,                                                                       \
      (float *mean, float *invstd, float *var_unbiased, const float *x, int64_t n, int64_t c,     \
       int64_t s, float eps, const cnn__shard_sync *sync, int blk),                                \
      (mean, invstd, var_unbiased, x, n, c, s, eps, sync, blk))                                               \
    V(void, batchnorm_apply,                                                                       \
      (float *y, const float *x, const float *mean, const float *invstd, const float *gamma,       \
       const float *beta, int64_t n, int64_t c, int64_t s, int blk),                               \
      (y, x, mean, invstd, gamma, beta, n, c, s, blk))                                                  \
    V(void, batchnorm_backward,                                                                    \
      (float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean, \
       const float *invstd, const float *gamma, int64_t n, int64_t c, int64_t s, int batch_stats,  \
       const cnn__shard_sync *sync, int blk),                                                      \
      (dx, dgamma, dbeta, dy, x, mean, invstd, gamma, n, c, s, batch_stats, sync, blk))                       \
    V(void, batchnorm_apply_act,                                                                   \
      (float *y, const float *x, const float *mean, const float *invstd, const float *gamma,       \
       const float *beta, int64_t n, int64_t c, int64_t s, cnn_activation act, int blk),           \
      (y, x, mean, invstd, gamma, beta, n, c, s, act, blk))                                             \
    V(void, batchnorm_apply_act_pool,                                                              \
      (float *y, float *pool, const float *x, const float *mean, const float *invstd,              \
       const float *gamma, const float *beta, int64_t n, int64_t c, int64_t s, cnn_activation act,  \
       const struct cnn__pool_geom *pg, int blk),                                                  \
      (y, pool, x, mean, invstd, gamma, beta, n, c, s, act, pg, blk))                                   \
    V(void, batchnorm_backward_act,                                                                \
      (float *dx, float *dgamma, float *dbeta, const float *dy, const float *y, cnn_activation act, \
       const float *x, const float *mean, const float *invstd, const float *gamma, int64_t n,      \
       int64_t c, int64_t s, int batch_stats, const cnn__shard_sync *sync, int blk),               \
      (dx, dgamma, dbeta, dy, y, act, x, mean, invstd, gamma, n, c, s, batch_stats, sync, blk))

/* One instruction set's kernels. */
typedef struct cnn__kernels {
    cnn_isa isa;
#define CNN__KERNEL_FIELD(type, name, params, args) type(*name) params;
    CNN__KERNELS(CNN__KERNEL_FIELD, CNN__KERNEL_FIELD)
#undef CNN__KERNEL_FIELD
} cnn__kernels;

extern const cnn__kernels cnn__kernels_generic;
#if CNN_HAVE_X86_ISAS
extern const cnn__kernels cnn__kernels_avx2, cnn__kernels_avx512;
#endif

#endif /* CNN_OPS_ISA_H */
