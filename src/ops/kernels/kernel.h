/* kernel.h — included first by every file of ops/kernels/, which is compiled
 * once per instruction set with CNN_ISA set to its name (generic, avx2,
 * avx512; see ops/isa.h). The entry points declared in ops.h are renamed here
 * with that suffix, so each build defines and calls its own. */
#ifndef CNN_OPS_KERNEL_H
#define CNN_OPS_KERNEL_H

#ifndef CNN_ISA
#error "ops/kernels/ is compiled once per instruction set, with -DCNN_ISA=generic|avx2|avx512"
#endif
#define CNN__ISA_CAT_(a, b) a##_##b
#define CNN__ISA_CAT(a, b) CNN__ISA_CAT_(a, b)
#define CNN__ISA_FN(f) CNN__ISA_CAT(f, CNN_ISA)

#define cnn__im2col CNN__ISA_FN(cnn__im2col)
#define cnn__col2im CNN__ISA_FN(cnn__col2im)
#define cnn__add_into CNN__ISA_FN(cnn__add_into)
#define cnn__add_relu CNN__ISA_FN(cnn__add_relu)
#define cnn__conv2d_direct_ok CNN__ISA_FN(cnn__conv2d_direct_ok)
#define cnn__conv2d_direct_workspace CNN__ISA_FN(cnn__conv2d_direct_workspace)
#define cnn__conv2d_direct_forward CNN__ISA_FN(cnn__conv2d_direct_forward)
#define cnn__conv2d_direct_blocks_ok CNN__ISA_FN(cnn__conv2d_direct_blocks_ok)
#define cnn__conv2d_direct_blocks CNN__ISA_FN(cnn__conv2d_direct_blocks)
#define cnn__conv2d_direct_forward_fused CNN__ISA_FN(cnn__conv2d_direct_forward_fused)
#define cnn__conv2d_direct_backward CNN__ISA_FN(cnn__conv2d_direct_backward)
#define cnn__conv2d_direct_backward_fused CNN__ISA_FN(cnn__conv2d_direct_backward_fused)
#define cnn__pool_2x2_tiles CNN__ISA_FN(cnn__pool_2x2_tiles)
#define cnn__pool2d_forward CNN__ISA_FN(cnn__pool2d_forward)
#define cnn__pool2d_backward CNN__ISA_FN(cnn__pool2d_backward)
#define cnn__pool2d_forward_serial CNN__ISA_FN(cnn__pool2d_forward_serial)
#define cnn__pool2d_backward_serial CNN__ISA_FN(cnn__pool2d_backward_serial)
#define cnn__pool_act_backward CNN__ISA_FN(cnn__pool_act_backward)
#define cnn__pool_act_backward_serial CNN__ISA_FN(cnn__pool_act_backward_serial)
#define cnn__pool2d_forward_lanes CNN__ISA_FN(cnn__pool2d_forward_lanes)
#define cnn__act_forward CNN__ISA_FN(cnn__act_forward)
#define cnn__act_forward_serial CNN__ISA_FN(cnn__act_forward_serial)
#define cnn__act_backward CNN__ISA_FN(cnn__act_backward)
#define cnn__act_backward_serial CNN__ISA_FN(cnn__act_backward_serial)
#define cnn__batchnorm_stats CNN__ISA_FN(cnn__batchnorm_stats)
#define cnn__batchnorm_apply CNN__ISA_FN(cnn__batchnorm_apply)
#define cnn__batchnorm_backward CNN__ISA_FN(cnn__batchnorm_backward)
#define cnn__batchnorm_apply_act CNN__ISA_FN(cnn__batchnorm_apply_act)
#define cnn__batchnorm_apply_act_pool CNN__ISA_FN(cnn__batchnorm_apply_act_pool)
#define cnn__batchnorm_backward_act CNN__ISA_FN(cnn__batchnorm_backward_act)

#include "cnn_internal.h"
#include "ops/isa.h"
#include "ops/ops.h"

/* Between the kernels of one set: the 2 x 2 pooling (tiles) of one plane in
 * blocks of 8, x (h, w, 8) -> y (oh, ow, 8), as cnn__pool2d_forward computes
 * each lane (pool2d.c). */
void cnn__pool2d_forward_lanes(float *y, const float *x, const cnn__pool_geom *g);

#endif /* CNN_OPS_KERNEL_H */
