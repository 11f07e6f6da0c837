/* layer.c — the layer table, generated from CNN_LAYER_MAP (one entry per
 * kind, cnn__<ops>_layer from its file under src/nn/layers/), and the
 * helpers every layer's planning shares. */
#include "nn/layer.h"

#include <string.h>

static const cnn__layer_ops *const table[CNN_LAYER_COUNT] = {
#define CNN__LAYER_ENTRY(name, text, ops) [CNN_LAYER_##name] = &cnn__##ops##_layer,
    CNN_LAYER_MAP(CNN__LAYER_ENTRY)
#undef CNN__LAYER_ENTRY
};

static const char *const names[CNN_LAYER_COUNT] = {
#define CNN__LAYER_NAME(name, text, ops) [CNN_LAYER_##name] = text,
    CNN_LAYER_MAP(CNN__LAYER_NAME)
#undef CNN__LAYER_NAME
};

const cnn__layer_ops *cnn__layer_ops_of(cnn_layer_kind kind) {
    return (int)kind >= 0 && kind < CNN_LAYER_COUNT ? table[kind] : NULL;
}

const char *cnn_layer_kind_name(cnn_layer_kind kind) {
    return (int)kind >= 0 && kind < CNN_LAYER_COUNT ? names[kind] : "?";
}

cnn__pslot *cnn__pslot_add(cnn__layer_rt *rt, const char *name, int present, cnn__init_rule init, int ndim,
                           int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    CNN_ASSERT(rt->np < CNN__MAX_PSLOTS);
    cnn__pslot *s = &rt->p[rt->np++];
    const int64_t dims[CNN_MAX_DIMS] = {d0, d1, d2, d3};
    memset(s, 0, sizeof *s);
    s->name = name, s->ndim = ndim, s->init = init;
    memcpy(s->shape, dims, sizeof dims);
    if (present) {
        size_t n = 1;
        for (int d = 0; d < ndim; d++) n *= (size_t)dims[d];
        s->numel = n;
    }
    return s;
}

/* Sizes are >= 1: a layer built through the API (Linear(out_features=2^31-1)
 * on a 2^20 x 2^20 input) can claim more than INT64_MAX. */
int64_t cnn__shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 1; d < ndim; d++) n = shape[d] > 0 && n > INT64_MAX / shape[d] ? INT64_MAX : n * shape[d];
    return n;
}

int cnn__need_4d(int ndim) {
    if (ndim != 4) return cnn__fail(CNN_ESHAPE, "expected a 4-D input (N, C, H, W), found %d-D", ndim);
    return CNN_OK;
}
