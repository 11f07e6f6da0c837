/* dense.h — the argument checks of activation.c, by their old names: thin
 * wrappers of core's (core/core.h), which linear.c and loss.c call directly. */
#ifndef CNN_OPS_DENSE_H
#define CNN_OPS_DENSE_H

#include "core/core.h"

/* t must be a valid, non-empty (ndim >= 1) tensor. */
static inline int cnn__dense_check_input(const char *fn, const char *arg, const cnn_tensor *t) {
    return cnn__tensor_check_nonempty(fn, arg, t);
}

/* b must have the shape of a; the message names both arguments. */
static inline int cnn__dense_check_same(const char *fn, const char *arg_b, const cnn_tensor *b,
                                        const char *arg_a, const cnn_tensor *a) {
    return cnn__tensor_check_same(fn, arg_b, b, arg_a, a);
}

#endif /* CNN_OPS_DENSE_H */
