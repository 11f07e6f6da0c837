/* layer.h — the layer table: what one kind of layer provides; internal.
 *
 * Every layer kind of CNN_LAYER_MAP (include/cnn.h) is one cnn__layer_ops
 * in one file under src/nn/layers/, registered by the map's third column
 * (docs/ADDING_A_LAYER.md). Its entry says
 *
 *   args, finish  PyTorch's constructor parameters (names, order, types,
 *                 defaults), bound by parse.c's generic binder;
 *   plan          the output shape for an input shape, and the parameter
 *                 and buffer slots with their state_dict names;
 *   reserve       the workspace it needs beyond its output, per batch;
 *   forward,      the layer on a batch; backward overwrites the input
 *   backward      gradient and accumulates the parameter gradients;
 *   summary       torchinfo's kernel shape and mult-adds, torchsummary's rows;
 *   describe      its canonical text (nn/describe.h);
 *   kernel        what runs it, for cnn summary --plan;
 *   fuse, act     what the step planner (nn/plan.c) may run it with.
 *
 * The math lives in src/ops/; a layer file binds, plans and calls kernels.
 */
#ifndef CNN_NN_LAYER_H
#define CNN_NN_LAYER_H

#include "cnn_internal.h"
#include "ops/ops.h"

#include <stddef.h>

struct cnn__text;

/* Channels, features, kernel, stride, ... that a model text may give. */
#define CNN__MAX_SIZE ((int64_t)1 << 20)

/* ---- argument values and binding (parse.c) -------------------------------- */

enum { CNN__STR_CAP = 48 }; /* string contents kept (longer ones are cut) */

typedef enum { CNN__V_INT, CNN__V_FLOAT, CNN__V_BOOL, CNN__V_NONE, CNN__V_STR, CNN__V_TUPLE } cnn__vtype;

/* One evaluated argument of the model text. */
typedef struct cnn__value {
    cnn__vtype type;
    int line, col;          /* where it starts */
    int64_t i;              /* INT; BOOL as 0/1 */
    double f;               /* FLOAT */
    char s[CNN__STR_CAP];   /* STR, NUL-terminated */
    int s_cut;              /* STR: longer than CNN__STR_CAP - 1 bytes */
    int n;                  /* TUPLE: number of elements */
    cnn__vtype et[2];       /* TUPLE: type and value of the first two elements */
    int64_t ei[2];
    double ef[2];
} cnn__value;

typedef struct cnn__binder cnn__binder; /* the parser, while it binds one layer */

typedef enum {
    CNN__ARG_INT,          /* int in [lo, hi] -> int field */
    CNN__ARG_BOOL,         /* True or False -> int field */
    CNN__ARG_NUMBER,       /* finite int or float -> float field */
    CNN__ARG_PAIR,         /* int or (int, int), each in [lo, hi] -> int[2] field */
    CNN__ARG_IGNORED_BOOL, /* a bool PyTorch takes and cnn need not keep (inplace) */
    CNN__ARG_FALSE,        /* a bool that must be False (return_indices) */
    CNN__ARG_CUSTOM        /* .bind converts it */
} cnn__arg_type;

enum {
    CNN__ARG_REQUIRED = 1,   /* no default; required arguments come first */
    CNN__ARG_NONE_KEEPS = 2, /* None keeps the default (dim=None, divisor_override=None) */
    CNN__ARG_NO_1TUPLE = 4   /* PAIR: a 1-tuple is refused (Conv2d's kernel_size) */
};

/* Offset of a field of the layer's union member: CNN__AT(linear.bias). */
#define CNN__AT(member) offsetof(cnn_layer_desc, u.member)

/* One constructor parameter. Without a value, INT, BOOL, NUMBER and PAIR
 * fields get dflt (a float literal for floats, so that it converts exactly). */
typedef struct cnn__arg {
    const char *name;
    cnn__arg_type type;
    int flags;
    size_t at;              /* CNN__AT(...) of the field it sets */
    double dflt;
    int64_t lo, hi;         /* INT, PAIR */
    /* CUSTOM: v is the value, or NULL when the argument was not given. */
    int (*bind)(cnn__binder *b, const cnn__value *v, cnn_layer_desc *l);
} cnn__arg;

/* Helpers for .bind and .finish; each returns CNN_OK or a status with a
 * message "<source>:<line>:<col>: <layer>: ..." at v. */
int cnn__bind_int(cnn__binder *b, const cnn__value *v, const char *arg, int64_t lo, int64_t hi, int *out);
int cnn__bind_bool(cnn__binder *b, const cnn__value *v, const char *arg, int *out);
int cnn__bind_number(cnn__binder *b, const cnn__value *v, const char *arg, double *out); /* finite */
/* int or (int, int); a 1-tuple counts as an int when allow_1tuple. */
int cnn__bind_pair(cnn__binder *b, const cnn__value *v, const char *arg, int64_t lo, int64_t hi, int allow_1tuple,
                   int out[2]);
int cnn__bind_type_error(cnn__binder *b, const cnn__value *v, const char *arg, const char *expected);
int cnn__bind_range_error(cnn__binder *b, const cnn__value *v, const char *arg, int64_t lo, int64_t hi,
                          int64_t found);
/* CNN_EINVAL with "<what>" at v. */
int cnn__bind_error(cnn__binder *b, const cnn__value *v, const char *fmt, ...) CNN__PRINTF(3, 4);
/* "int 0", "float 2.5", "string 'a'", "2-tuple (2, 3)", ... for messages. */
void cnn__value_describe(char *out, size_t cap, const cnn__value *v);

/* ---- planning ------------------------------------------------------------- */

enum { CNN__MAX_PSLOTS = 10, CNN__MAX_BSLOTS = 6, CNN__MAX_REGIONS = 6 };

typedef enum { CNN__INIT_FAN_WEIGHT, CNN__INIT_FAN_BIAS, CNN__INIT_ONES, CNN__INIT_ZEROS } cnn__init_rule;

/* One parameter tensor of a layer. numel 0 means absent (bias=False, affine=False). */
typedef struct cnn__pslot {
    const char *name;             /* suffix after "<layer>.": "weight", "conv1.bias" */
    int ndim;
    int64_t shape[CNN_MAX_DIMS];
    size_t off, numel;            /* in the parameter buffer */
    cnn__init_rule init;
    double fan_in, fan_out;       /* INIT_FAN_*: of the weight this tensor belongs to */
} cnn__pslot;

/* One buffer of a layer: running stats (floats) or a counter (int64). */
typedef struct cnn__bslot {
    const char *name;
    int is_counter;
    size_t off, numel;            /* floats in the buffers, or index of the counter */
    float init;                   /* 0 for running_mean, 1 for running_var */
} cnn__bslot;

/* BatchNorm's settings and what its last forward used (norm.c; twice in a Residual). */
typedef struct cnn__bn_state {
    float eps, momentum;
    int cumulative, affine, track;  /* momentum=None, affine, track_running_stats */
    int64_t c, s;                   /* channels, values per channel per example */
    int used_batch_stats;           /* the last forward normalised with batch statistics */
} cnn__bn_state;

/* A layer of a built model: shapes, slots, workspace, and the state of its family. */
typedef struct cnn__layer_rt {
    int ndim;                       /* output ndim, batch dim included */
    int64_t shape[CNN_MAX_DIMS];    /* output shape for batch 1 */
    int64_t numel;                  /* output elements per example */
    int in_ndim;                    /* the same for the input */
    int64_t in_shape[CNN_MAX_DIMS];
    int64_t in_numel;
    cnn__pslot p[CNN__MAX_PSLOTS];
    int np;
    cnn__bslot b[CNN__MAX_BSLOTS];
    int nb;
    float *out;                     /* workspace output (batch, ...); NULL with ops->passes_input */
    float *region[CNN__MAX_REGIONS]; /* workspace asked for by reserve; NULL where empty */
    union { /* what plan works out for forward and backward; a family that needs more adds its member */
        struct { cnn__conv_geom g; int cols_valid; } conv;   /* Conv2d; region 0: kept im2col columns */
        cnn__pool_geom pool;                                  /* MaxPool2d, AvgPool2d (for batch 1) */
        struct { int64_t rows; } linear;                      /* rows per example (leading dims) */
        cnn__bn_state bn;                                     /* BatchNorm1d/2d; region 0: stats */
        struct { int64_t outer, len, inner; } softmax;        /* per-example view (outer, len, inner) */
        struct { int64_t h, w; } adaptive;                    /* input plane */
        struct { cnn__conv_geom g1, g2, g3; cnn__bn_state bn; } residual;
    } st;
} cnn__layer_rt;

/* A parameter slot; numel 0 (absent) unless present. */
cnn__pslot *cnn__pslot_add(cnn__layer_rt *rt, const char *name, int present, cnn__init_rule init, int ndim,
                           int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Conv2d weight and bias slots with their fans (conv.c). */
void cnn__conv_slots(cnn__layer_rt *rt, const char *wname, const char *bname, const cnn_conv2d_desc *d,
                     int present);
/* BatchNorm weight/bias slots and running_mean/running_var/num_batches_tracked
 * buffer slots for bn->c channels (norm.c). */
void cnn__bn_slots(cnn__layer_rt *rt, const char *const names[5], const cnn__bn_state *bn);
/* Elements per example: shape[1] * ... * shape[ndim-1], saturating at
 * INT64_MAX (the caller's CNN_MAX_NUMEL check then refuses it). */
int64_t cnn__shape_numel(int ndim, const int64_t *shape);
/* The input must be (N, C, H, W): else CNN_ESHAPE. */
int cnn__need_4d(int ndim);

/* Workspace a layer asks for beyond its output, for up to max_batch examples. */
typedef struct cnn__need {
    int n;                                  /* regions, placed at rt->region[0..n) in order */
    size_t per_example[CNN__MAX_REGIONS];   /* floats per example of each region */
    size_t fixed[CNN__MAX_REGIONS];         /* plus floats whatever the batch */
    size_t ws;                              /* kernel scratch (shared by all layers) for max_batch */
    size_t bscratch;                        /* backward scratch per example (shared by all layers) */
} cnn__need;

/* ---- running ---------------------------------------------------------------- */

/* What a forward or backward works with. */
typedef struct cnn__run {
    float *params, *grads, *bufs;
    int64_t *counters;
    float *ws;          /* kernel scratch */
    float *bscratch;    /* backward scratch, (batch, largest bscratch) */
    int batch, train;   /* train: training mode (dropout, batch statistics) */
    cnn_rng *rng;       /* may be NULL */
    const cnn__shard_sync *sync; /* batch-norm sums over the whole batch when it is sharded; may be NULL */
    int keep;           /* every layer's output kept for a backward */
} cnn__run;

static inline float *cnn__param(const cnn__run *r, const cnn__layer_rt *rt, int k) {
    return rt->p[k].numel ? r->params + rt->p[k].off : NULL;
}
static inline float *cnn__grad(const cnn__run *r, const cnn__layer_rt *rt, int k) {
    return rt->p[k].numel ? r->grads + rt->p[k].off : NULL;
}
static inline float *cnn__buffer(const cnn__run *r, const cnn__layer_rt *rt, int k) {
    return rt->b[k].numel ? r->bufs + rt->b[k].off : NULL;
}
static inline int64_t *cnn__counter(const cnn__run *r, const cnn__layer_rt *rt, int k) {
    return rt->b[k].numel ? r->counters + rt->b[k].off : NULL;
}

/* BatchNorm over x (batch, bn->c, bn->s) -> y with stats (mean, invstd,
 * unbiased variance; c each): batch statistics in training or without
 * running buffers (rm, rv, count; NULL without track_running_stats), the
 * running ones in eval (norm.c; Residual uses it too). */
int cnn__bn_forward(float *y, const float *x, float *stats, const float *gamma, const float *beta, float *rm,
                    float *rv, int64_t *count, cnn__bn_state *bn, int64_t n, int train,
                    const cnn__shard_sync *sync);
/* The same followed by act in the same pass (act NULL: none); blk: x and y
 * in blocks of 8 (ops.h). */
int cnn__bn_act_forward(float *y, const float *x, float *stats, const float *gamma, const float *beta, float *rm,
                        float *rv, int64_t *count, cnn__bn_state *bn, int64_t n, int train,
                        const cnn_activation *act, const cnn__shard_sync *sync, int blk);
/* A BatchNorm layer and the activation after it as one step (nn/plan.c):
 * y = act(bn(x)), and dx from the activation's dy, with bn's output never
 * stored. */
int cnn__batchnorm_act_forward(const cnn__run *r, cnn__layer_rt *rt, const float *x, float *y, cnn_activation act,
                               int blk);
/* The same, then pool <- the pooling pg of y, in the same pass (BN_ACT_POOL).
 * blk: every tensor in blocks of 8 (then pg's windows are 2 x 2 tiles). */
int cnn__batchnorm_act_pool_forward(const cnn__run *r, cnn__layer_rt *rt, const float *x, float *y, cnn_activation act,
                                    float *pool, const cnn__pool_geom *pg, int blk);
/* 1 when the batch norm's inference forward uses its running statistics */
int cnn__batchnorm_eval_fusable(const cnn__layer_rt *rt);
/* The inference forward of such a batch norm, applied by the Conv2d before
 * it (CONV_BN_ACT): region 0 gets the statistics the layer's own forward
 * would use, e the coefficients' sources. */
void cnn__batchnorm_eval_coef(const cnn__run *r, cnn__layer_rt *rt, cnn__bn_eval *e);
/* The same from a batch norm's parts (stats: 2*C floats for mean, invstd) */
void cnn__bn_eval_coef(cnn__bn_eval *e, float *stats, const float *gamma, const float *beta, const float *rm,
                       const float *rv, cnn__bn_state *bn);
void cnn__batchnorm_act_backward(const cnn__run *r, const cnn__layer_rt *rt, float *dx, const float *dy,
                                 const float *x, const float *y, cnn_activation act, int blk);
/* The batch norm layer's backward, its tensors in blocks of 8 with blk (BN_ACT_POOL's). */
void cnn__batchnorm_layer_backward(const cnn__run *r, const cnn__layer_rt *rt, float *dx, const float *dy,
                                   const float *x, int blk);

/* ---- summary ---------------------------------------------------------------- */

/* torchinfo's row of a layer, and the rows torchsummary shows for its submodules. */
typedef struct cnn__summary_info {
    const int *kernel;            /* "Kernel Shape" [k0, k1], or NULL for "--" */
    /* Mult-adds: the parameters whose names start with per_pixel ("" all)
     * times N x H_out x W_out, plus those under per_example times N; NULL: none. */
    const char *per_pixel, *per_example;
    int n_sub;                    /* submodule rows before the layer's own, each */
    struct { const char *type, *prefix; } sub[5]; /* with the layer's output shape */
} cnn__summary_info;

/* ---- the table --------------------------------------------------------------- */

/* What the step planner may fuse a layer into (nn/plan.c). */
typedef enum { CNN__FUSE_NONE = 0, CNN__FUSE_CONV, CNN__FUSE_ACT, CNN__FUSE_POOL, CNN__FUSE_BN } cnn__fuse_role;

typedef struct cnn__layer_ops {
    const cnn__arg *args;   /* PyTorch's parameters in order; NULL: none */
    int n_args;
    /* After every argument is bound: checks across arguments; given[k] is
     * the value of args[k] or NULL. May be NULL. */
    int (*finish)(cnn__binder *b, cnn_layer_desc *l, const cnn__value *const *given);
    /* rt->ndim, rt->shape hold the input shape (batch 1); make them the
     * output's, add slots, fill rt->st. */
    int (*plan)(cnn__layer_rt *rt, const cnn_layer_desc *l);
    /* Workspace beyond the output (may be NULL: none). */
    void (*reserve)(const cnn__layer_rt *rt, const cnn_layer_desc *l, int max_batch, cnn__need *need);
    /* *y is rt->out on entry; a layer that passes its input on sets *y = x. */
    int (*forward)(const cnn__run *r, cnn__layer_rt *rt, const cnn_layer_desc *l, const float *x, const float **y);
    /* dx (NULL for the first layer) from dy; x, y as in the forward (x is
     * NULL when a fused step did not keep it). Returns the input gradient:
     * dx, or dy for a layer that passes it on. */
    const float *(*backward)(const cnn__run *r, const cnn__layer_rt *rt, const cnn_layer_desc *l, float *dx,
                             const float *dy, const float *x, const float *y);
    void (*summary)(const cnn_layer_desc *l, cnn__summary_info *s); /* may be NULL: no kernel, no mult-adds */
    void (*describe)(struct cnn__text *t, const cnn_layer_desc *l); /* the arguments; NULL: none */
    const char *kernel;     /* what runs it, for cnn summary --plan ("elementwise", ...) */
    cnn__fuse_role fuse;
    cnn_activation act;     /* CNN__FUSE_ACT: the activation the fused kernels apply */
    int passes_input;       /* no output buffer: forward always passes its input on */
} cnn__layer_ops;

/* The entry of a kind, or NULL for a kind outside CNN_LAYER_MAP. */
const cnn__layer_ops *cnn__layer_ops_of(cnn_layer_kind kind);

#define CNN__LAYER_DECLARE(name, text, ops) extern const cnn__layer_ops cnn__##ops##_layer;
CNN_LAYER_MAP(CNN__LAYER_DECLARE)
#undef CNN__LAYER_DECLARE

#endif /* CNN_NN_LAYER_H */
