/* isa.c — which instruction set's kernels run (ops/isa.h), and the plain
 * names of the kernels, each a call through the table in use.
 *
 * The default is the widest set the CPU runs (CPUID, which also says whether
 * the OS saves the wider registers), or the one named by the environment
 * variable CNN_ISA when the CPU runs it. cnn_set_isa() changes it; a model
 * re-plans its workspace when it next runs under another set. */
#include "ops/isa.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const isa_names[] = {"generic", "avx2", "avx512"};

static const cnn__kernels *table_of(cnn_isa isa) {
    switch (isa) {
    case CNN_ISA_GENERIC: return &cnn__kernels_generic;
#if CNN_HAVE_X86_ISAS
    case CNN_ISA_AVX2: return &cnn__kernels_avx2;
    case CNN_ISA_AVX512: return &cnn__kernels_avx512;
#endif
    default: return NULL;
    }
}

int cnn_isa_supported(cnn_isa isa) {
    if (isa == CNN_ISA_GENERIC) return 1;
#if CNN_HAVE_X86_ISAS
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == CNN_ISA_AVX2) return avx2;
    if (isa == CNN_ISA_AVX512)
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
    return 0;
}

cnn_isa cnn_isa_best(void) {
    return cnn_isa_supported(CNN_ISA_AVX512) ? CNN_ISA_AVX512
           : cnn_isa_supported(CNN_ISA_AVX2) ? CNN_ISA_AVX2
                                              : CNN_ISA_GENERIC;
}

const char *cnn_isa_name(cnn_isa isa) {
    return (unsigned)isa < sizeof isa_names / sizeof *isa_names ? isa_names[isa] : "unknown";
}

int cnn_isa_from_name(const char *name, cnn_isa *isa) {
    for (int i = 0; i < (int)(sizeof isa_names / sizeof *isa_names); i++)
        if (name && !strcmp(name, isa_names[i])) {
            if (isa) *isa = (cnn_isa)i;
            return CNN_OK;
        }
    return cnn__fail(CNN_EINVAL, "instruction set '%s': expected generic, avx2 or avx512", name ? name : "(null)");
}

static _Atomic(const cnn__kernels *) current;

/* The default: CNN_ISA if it names a set this CPU runs, else the widest. */
static const cnn__kernels *kernels(void) {
    const cnn__kernels *k = atomic_load_explicit(&current, memory_order_acquire);
    if (k) return k;
    cnn_isa isa = cnn_isa_best(), env;
    const char *s = getenv("CNN_ISA");
    if (s && *s && cnn_isa_from_name(s, &env) == CNN_OK && cnn_isa_supported(env)) isa = env;
    k = table_of(isa);
    atomic_store_explicit(&current, k, memory_order_release);
    return k;
}

int cnn_set_isa(cnn_isa isa) {
    const cnn__kernels *k = table_of(isa);
    if (!k) return cnn__fail(CNN_EINVAL, "cnn_set_isa: %d is not a cnn_isa", (int)isa);
    if (!cnn_isa_supported(isa))
        return cnn__fail(CNN_EINVAL, "cnn_set_isa: this CPU does not run %s (the widest it runs is %s)",
                         cnn_isa_name(isa), cnn_isa_name(cnn_isa_best()));
    atomic_store_explicit(&current, k, memory_order_release);
    return CNN_OK;
}

cnn_isa cnn_get_isa(void) { return kernels()->isa; }

/* The plain names (ops.h): calls through the table in use. */
#define CNN__KERNEL_R(type, name, params, args) \
    type cnn__##name params { return kernels()->name args; }
#define CNN__KERNEL_V(type, name, params, args) \
    void cnn__##name params { kernels()->name args; }
CNN__KERNELS(CNN__KERNEL_R, CNN__KERNEL_V)
