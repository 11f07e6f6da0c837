/* dense.h — argument checks shared by activation.c, linear.c and loss.c. */
#ifndef CNN_OPS_DENSE_H
#define CNN_OPS_DENSE_H

#include "core/core.h"

/* "torch.Size([2, 3])" for messages; the struct lives until the end of the call. */
typedef struct {
    char s[112];
} cnn__dense_shape_text;

static inline cnn__dense_shape_text cnn__dense_shape(const cnn_tensor *t) {
    cnn__dense_shape_text r;
    if (cnn_shape_format(r.s, sizeof r.s, t->ndim, t->shape) < 0) r.s[0] = '\0';
    return r;
}

/* t must be a valid, non-empty (ndim >= 1) tensor. */
static inline int cnn__dense_check_input(const char *fn, const char *arg, const cnn_tensor *t) {
    CNN_TRY(cnn__tensor_check(fn, arg, t));
    if (t->ndim == 0) return cnn__fail(CNN_EINVAL, "%s: %s is an empty tensor (ndim 0)", fn, arg);
    return CNN_OK;
}

static inline int cnn__dense_same_shape(const cnn_tensor *a, const cnn_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* b must have the shape of a; the message names both arguments. */
static inline int cnn__dense_check_same(const char *fn, const char *arg_b, const cnn_tensor *b,
                                        const char *arg_a, const cnn_tensor *a) {
    if (cnn__dense_same_shape(a, b)) return CNN_OK;
    return cnn__fail(CNN_ESHAPE, "%s: %s has shape %s; expected the shape of %s, %s", fn, arg_b,
                     cnn__dense_shape(b).s, arg_a, cnn__dense_shape(a).s);
}

#endif /* CNN_OPS_DENSE_H */
