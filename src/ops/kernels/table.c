/* table.c — this instruction set's kernels (ops/isa.h), as ops/isa.c finds them. */
#include "kernel.h"

#define CNN__ISA_ID_generic CNN_ISA_GENERIC
#define CNN__ISA_ID_avx2 CNN_ISA_AVX2
#define CNN__ISA_ID_avx512 CNN_ISA_AVX512
#define CNN__ISA_ID_(s) CNN__ISA_ID_##s
#define CNN__ISA_ID(s) CNN__ISA_ID_(s)

#define CNN__KERNEL_INIT(type, name, params, args) .name = cnn__##name,
const cnn__kernels CNN__ISA_FN(cnn__kernels) = {
    .isa = CNN__ISA_ID(CNN_ISA),
    CNN__KERNELS(CNN__KERNEL_INIT, CNN__KERNEL_INIT)
};
