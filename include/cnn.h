/* cnn.h — a small C11 library for convolutional neural networks.
 *
 * Overview
 * --------
 * cnn computes what PyTorch's nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Linear,
 * the usual activations and nn.CrossEntropyLoss compute, forward and backward,
 * with the same semantics, defaults, parameter names and memory layouts.
 *
 *   tensors   float32, up to 4 dimensions, PyTorch order (N, C, H, W), row-major.
 *   ops       conv2d / pool2d / linear / activations / losses on tensors.
 *   models    an nn.Sequential written as PyTorch text, one parameter buffer and
 *             one gradient buffer, state_dict names ("0.weight", "3.bias", ...).
 *   data      IDX files (MNIST, Fashion-MNIST), gzipped or not; PNG images.
 *   io        safetensors weights that PyTorch reads and writes.
 *   training  SGD (momentum, weight decay), cross-entropy, accuracy.
 *
 * Conventions
 * -----------
 * - Every function that can fail returns an int: CNN_OK (0) or a negative
 *   cnn_status. cnn_last_error() then holds a message with context (which
 *   argument, file, field or layer; expected vs found). The library never
 *   prints unasked and never exits.
 * - Outputs come first in argument lists, then inputs, then sizes.
 * - Functions that fill a cnn_tensor* output allocate it; the caller frees it
 *   with cnn_tensor_free(). On failure an output tensor is left empty.
 * - Backward functions accumulate (+=) into parameter gradients and overwrite
 *   input gradients.
 * - All allocation goes through hooks that cnn_set_allocator() replaces.
 */
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header (CMakeLists.txt reads it from here). The
 * library's own is cnn_version(): a program may check that both agree. */
#define CNN_VERSION_MAJOR 0
#define CNN_VERSION_MINOR 1
#define CNN_VERSION_PATCH 0
#define CNN_VERSION "0.1.0"
/* One number for comparisons: CNN_VERSION_NUMBER >= CNN_MAKE_VERSION(0, 1, 0). */
#define CNN_MAKE_VERSION(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define CNN_VERSION_NUMBER CNN_MAKE_VERSION(CNN_VERSION_MAJOR, CNN_VERSION_MINOR, CNN_VERSION_PATCH)

/* Marks the public API: libcnn is built with -fvisibility=hidden, so only
 * what this header declares with CNN_API is exported from libcnn.so. */
#if defined(__GNUC__) || defined(__clang__)
#define CNN_API __attribute__((visibility("default")))
#else
#define CNN_API
#endif

/* ------------------------------------------------------------------------ */
/* Status codes: one table generates the enum, cnn_status_name, cnn_strerror. */

#define CNN_STATUS_MAP(X)                                   \
    X(OK, 0, "success")                                     \
    X(EINVAL, -1, "invalid argument")                       \
    X(ESHAPE, -2, "shape mismatch")                         \
    X(ENOMEM, -3, "out of memory")                          \
    X(EIO, -4, "input/output error")                        \
    X(EFORMAT, -5, "malformed file")                        \
    X(EPARSE, -6, "syntax error")                           \
    X(ERANGE, -7, "value out of range")                     \
    X(EDIVERGED, -8, "training diverged")                   \
    X(EINTR, -9, "interrupted")                             \
    X(ENOTFOUND, -10, "not found")                        \
    X(EPEER, -11, "processes disagree")

typedef enum {
#define CNN__STATUS_ENUM(name, value, text) CNN_##name = value,
    CNN_STATUS_MAP(CNN__STATUS_ENUM)
#undef CNN__STATUS_ENUM
} cnn_status;

/* The library's version, "MAJOR.MINOR.PATCH" (CNN_VERSION of the header it
 * was built with). */
CNN_API const char *cnn_version(void);

CNN_API const char *cnn_strerror(int status);    /* "shape mismatch" */
CNN_API const char *cnn_status_name(int status); /* "CNN_ESHAPE" */
/* Message of the last failure in this thread, with context; "" if none.
 * The string belongs to the library: don't free() it. */
CNN_API const char *cnn_last_error(void);
CNN_API void cnn_clear_error(void);

/* Replace the allocator (libuv style). Any NULL argument restores the
 * default for all four. Returns CNN_OK. */
CNN_API int cnn_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                      void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *));
CNN_API void *cnn_malloc(size_t size);
CNN_API void *cnn_calloc(size_t count, size_t size);
CNN_API void *cnn_realloc(void *ptr, size_t size);
CNN_API void cnn_free(void *ptr);

/* Threads used by kernels (OpenMP). n <= 0 means all available cores. The
 * count is capped by what OpenMP can give (OMP_THREAD_LIMIT, 1 where
 * OMP_MAX_ACTIVE_LEVELS allows no further level), dynamic adjustment
 * (OMP_DYNAMIC) is turned off, and cnn_get_threads() is the team's real size.
 * Results do not depend on the thread count. */
CNN_API void cnn_set_threads(int n);
CNN_API int cnn_get_threads(void);


/* The instruction set the kernels use, chosen at run time: the widest the
 * CPU runs (AVX-512 F/VL/BW/DQ: 16 float lanes; AVX2 + FMA: 8; generic: plain
 * C), or the one the environment variable CNN_ISA names (generic, avx2,
 * avx512) when the CPU runs it. For one set, results do not depend on the
 * thread count; different sets may differ in the last bits
 * (docs/PERFORMANCE.md). cnn_set_isa() fails (CNN_EINVAL) for a set the CPU
 * does not run; a model re-plans its workspace when next run under another
 * set. */
typedef enum { CNN_ISA_GENERIC = 0, CNN_ISA_AVX2, CNN_ISA_AVX512 } cnn_isa;
CNN_API cnn_isa cnn_isa_best(void);
CNN_API int cnn_isa_supported(cnn_isa isa);
CNN_API int cnn_set_isa(cnn_isa isa);
CNN_API cnn_isa cnn_get_isa(void);
/* "generic", "avx2", "avx512" */
CNN_API const char *cnn_isa_name(cnn_isa isa);
/* The set named name; CNN_EINVAL (with a message) if none is. */
CNN_API int cnn_isa_from_name(const char *name, cnn_isa *isa);
/* ------------------------------------------------------------------------ */
/* Random numbers: xoshiro256**, seeded by splitmix64. The state is four
 * words, so it can be saved and restored exactly. */

typedef struct cnn_rng {
    uint64_t s[4];
} cnn_rng;

CNN_API void cnn_rng_seed(cnn_rng *rng, uint64_t seed);
CNN_API uint64_t cnn_rng_next(cnn_rng *rng);
CNN_API float cnn_rng_uniform(cnn_rng *rng);              /* U[0, 1), 24 random bits */
CNN_API float cnn_rng_normal(cnn_rng *rng);               /* N(0, 1), Box-Muller */
CNN_API uint64_t cnn_rng_below(cnn_rng *rng, uint64_t n); /* uniform in [0, n), unbiased; 0 if n == 0 */
/* perm <- a uniformly random permutation of 0..n-1 (Fisher-Yates). */
CNN_API void cnn_rng_permutation(cnn_rng *rng, uint32_t *perm, uint32_t n);

/* ------------------------------------------------------------------------ */
/* Tensors */

#define CNN_MAX_DIMS 4

typedef struct cnn_tensor {
    int ndim;                      /* 0..4; 0 means empty */
    int64_t shape[CNN_MAX_DIMS];   /* PyTorch order: (N, C, H, W) for 4-D */
    float *data;                   /* row-major, contiguous */
    int owner;                     /* 1 if data is freed by cnn_tensor_free */
} cnn_tensor;

#define CNN_TENSOR_EMPTY {0, {0, 0, 0, 0}, NULL, 0}

CNN_API int64_t cnn_tensor_numel(const cnn_tensor *t); /* product of shape; 0 if empty */
/* t <- zeros(shape). Sizes must be >= 0 and the product must not overflow. */
CNN_API int cnn_tensor_zeros(cnn_tensor *t, int ndim, const int64_t *shape);
CNN_API int cnn_tensor_full(cnn_tensor *t, int ndim, const int64_t *shape, float value);
CNN_API int cnn_tensor_ones(cnn_tensor *t, int ndim, const int64_t *shape);
CNN_API int cnn_tensor_arange(cnn_tensor *t, int64_t n); /* t <- [0, 1, ..., n-1], 1-D */
CNN_API int cnn_tensor_from_data(cnn_tensor *t, int ndim, const int64_t *shape, const float *data); /* copies */
CNN_API int cnn_tensor_uniform(cnn_tensor *t, int ndim, const int64_t *shape, float lo, float hi, cnn_rng *rng);
CNN_API int cnn_tensor_normal(cnn_tensor *t, int ndim, const int64_t *shape, float mean, float std, cnn_rng *rng);
CNN_API int cnn_tensor_clone(cnn_tensor *out, const cnn_tensor *in);
CNN_API void cnn_tensor_free(cnn_tensor *t); /* frees owned data; leaves t empty; NULL is fine */

/* In-place reshape (a view: data unchanged). One size may be -1 (inferred). */
CNN_API int cnn_tensor_reshape(cnn_tensor *t, int ndim, const int64_t *shape);
/* out <- in^T for a 2-D tensor (a copy, like X.t().contiguous()). */
CNN_API int cnn_tensor_transpose(cnn_tensor *out, const cnn_tensor *in);
/* out <- torch.cat(ins[0..n-1], dim); all inputs have the same ndim and agree
 * on every other dimension. dim may be negative (counts from the end). */
CNN_API int cnn_tensor_cat(cnn_tensor *out, const cnn_tensor *const *ins, int n, int dim);
/* out <- torch.stack(ins[0..n-1], dim); all inputs have the same shape. */
CNN_API int cnn_tensor_stack(cnn_tensor *out, const cnn_tensor *const *ins, int n, int dim);
/* Element access; index has t->ndim entries, each may be negative. */
CNN_API int cnn_tensor_get(const cnn_tensor *t, const int64_t *index, float *value);
CNN_API int cnn_tensor_set(cnn_tensor *t, const int64_t *index, float value);
/* Elementwise: out <- a + alpha * b (same shape), out <- in + s, out <- in * s.
 * out may alias an input. */
CNN_API int cnn_tensor_add(cnn_tensor *out, const cnn_tensor *a, const cnn_tensor *b, float alpha);
CNN_API int cnn_tensor_add_scalar(cnn_tensor *out, const cnn_tensor *in, float s);
CNN_API int cnn_tensor_mul_scalar(cnn_tensor *out, const cnn_tensor *in, float s);
CNN_API float cnn_tensor_sum(const cnn_tensor *t); /* summed in double */
/* out <- a @ b for 2-D a (m, k) and b (k, n). */
CNN_API int cnn_matmul(cnn_tensor *out, const cnn_tensor *a, const cnn_tensor *b);

/* Text as PyTorch's print(t) shows it: "tensor([[19., 25.],\n        [37., 43.]])".
 * Writes at most cap bytes (NUL included) into buf and returns the full
 * length (like snprintf), or a negative status. */
CNN_API int cnn_tensor_format(char *buf, size_t cap, const cnn_tensor *t);
CNN_API int cnn_tensor_print(FILE *f, const cnn_tensor *t); /* format + "\n" */
/* "torch.Size([1, 2, 4, 4])"; same return convention as cnn_tensor_format. */
CNN_API int cnn_shape_format(char *buf, size_t cap, int ndim, const int64_t *shape);

/* ------------------------------------------------------------------------ */
/* Output size of a convolution or pooling window along one dimension.
 *   out = floor((in + pad_lo + pad_hi - dilation*(k-1) - 1) / stride) + 1
 * With ceil_mode the division rounds up, and (as PyTorch does) a last window
 * that would start inside the right padding is dropped. Every conv/pool shape
 * goes through this function. Fails if the window does not fit. */
CNN_API int cnn_out_size(int64_t *out, int64_t in, int kernel, int stride, int pad_lo, int pad_hi,
                 int dilation, int ceil_mode);

/* ------------------------------------------------------------------------ */
/* Conv2d: nn.Conv2d semantics. Weight (C_out, C_in/groups, kH, kW), bias (C_out). */

typedef enum {
    CNN_PADDING_EXPLICIT = 0, /* padding[2] as given */
    CNN_PADDING_VALID,        /* padding='valid': no padding */
    CNN_PADDING_SAME          /* padding='same': output size = input size (stride 1);
                                 total d*(k-1), the odd one extra on the bottom/right */
} cnn_padding_kind;

typedef struct cnn_conv2d_desc {
    int in_channels, out_channels;
    int kernel_size[2]; /* (kH, kW) */
    int stride[2];      /* default (1, 1) */
    int padding[2];     /* default (0, 0); used when padding_kind is EXPLICIT */
    int dilation[2];    /* default (1, 1) */
    int groups;         /* default 1 */
    int bias;           /* default 1 */
    cnn_padding_kind padding_kind;
} cnn_conv2d_desc;

/* nn.Conv2d(in, out, kernel_size=(kh, kw)) with every other argument default. */
CNN_API cnn_conv2d_desc cnn_conv2d_desc_make(int in_channels, int out_channels, int kh, int kw);
/* out[4] <- output shape for an input of shape in[4] (N, C, H, W). */
CNN_API int cnn_conv2d_output_shape(int64_t out[4], const cnn_conv2d_desc *d, const int64_t in[4]);
/* Padding actually applied: pad[4] = {top, bottom, left, right}. */
CNN_API int cnn_conv2d_resolve_padding(int pad[4], const cnn_conv2d_desc *d);

/* out = conv2d(x, weight, bias). x is (N, C, H, W) or (C, H, W); bias may be NULL
 * (or an empty tensor) when d->bias is 0. */
CNN_API int cnn_conv2d(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *weight,
               const cnn_tensor *bias, const cnn_conv2d_desc *d);
/* Gradients of sum(out * dout): dx (like x), dweight (like weight), dbias (C_out)
 * are allocated here; any of them may be NULL to skip it. */
CNN_API int cnn_conv2d_grad(cnn_tensor *dx, cnn_tensor *dweight, cnn_tensor *dbias,
                    const cnn_tensor *dout, const cnn_tensor *x, const cnn_tensor *weight,
                    const cnn_conv2d_desc *d);

/* The chapter's functions, on single images. */
/* Y[i,j] = sum_{a,b} X[i+a, j+b] K[a,b];  X (H, W), K (kh, kw) -> Y (H-kh+1, W-kw+1) */
CNN_API int cnn_corr2d(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k);
/* sum over c of corr2d(X[c], K[c]);  X (C, H, W), K (C, kh, kw) -> (H', W') */
CNN_API int cnn_corr2d_multi_in(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k);
/* stack over o of corr2d_multi_in(X, K[o]);  K (C_o, C, kh, kw) -> (C_o, H', W') */
CNN_API int cnn_corr2d_multi_in_out(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k);
/* The same for 1x1 kernels as one matrix multiply: (C_o, C) @ (C, H*W). */
CNN_API int cnn_corr2d_multi_in_out_1x1(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *k);

/* ------------------------------------------------------------------------ */
/* Pooling: nn.MaxPool2d / nn.AvgPool2d semantics. */

typedef enum { CNN_POOL_MAX = 0, CNN_POOL_AVG } cnn_pool_kind;

typedef struct cnn_pool2d_desc {
    cnn_pool_kind kind;
    int kernel_size[2];
    int stride[2];       /* default = kernel_size */
    int padding[2];      /* default 0; must be <= kernel/2 (PyTorch's rule) */
    int dilation[2];     /* default 1; max pooling only */
    int ceil_mode;       /* default 0 */
    int count_include_pad; /* default 1; avg pooling only */
    int divisor_override;  /* default 0 (none); avg pooling only */
} cnn_pool2d_desc;

CNN_API cnn_pool2d_desc cnn_pool2d_desc_make(cnn_pool_kind kind, int kh, int kw);
CNN_API int cnn_pool2d_output_shape(int64_t out[4], const cnn_pool2d_desc *d, const int64_t in[4]);
/* x is (N, C, H, W) or (C, H, W); padding is -inf for max, zeros for avg. */
CNN_API int cnn_pool2d(cnn_tensor *out, const cnn_tensor *x, const cnn_pool2d_desc *d);
CNN_API int cnn_pool2d_grad(cnn_tensor *dx, const cnn_tensor *dout, const cnn_tensor *x,
                    const cnn_pool2d_desc *d);
/* The chapter's pool2d(X, (ph, pw), mode): stride 1, no padding, X (H, W). */
CNN_API int cnn_pool2d_simple(cnn_tensor *out, const cnn_tensor *x, int ph, int pw, cnn_pool_kind kind);

/* ------------------------------------------------------------------------ */
/* Activations, linear, losses on tensors. */

typedef enum { CNN_ACT_SIGMOID = 0, CNN_ACT_RELU, CNN_ACT_TANH } cnn_activation;

/* sigmoid: 1/(1+e^-x); relu: max{0,x}; tanh. */
CNN_API int cnn_activation_forward(cnn_tensor *out, const cnn_tensor *x, cnn_activation act);
/* dx = dout * f'(x) */
CNN_API int cnn_activation_grad(cnn_tensor *dx, const cnn_tensor *dout, const cnn_tensor *x, cnn_activation act);
/* y = x @ W^T + b;  x (N, in), W (out, in), b (out) or NULL -> y (N, out) */
CNN_API int cnn_linear(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *w, const cnn_tensor *b);
CNN_API int cnn_linear_grad(cnn_tensor *dx, cnn_tensor *dw, cnn_tensor *db, const cnn_tensor *dout,
                    const cnn_tensor *x, const cnn_tensor *w);
/* nn.Flatten(start_dim, end_dim) shape rule; returns the new ndim in *out_ndim. */
CNN_API int cnn_flatten_shape(int64_t *out_shape, int *out_ndim, int ndim, const int64_t *shape,
                      int start_dim, int end_dim);
/* loss = mean_n( logsumexp(z_n) - z_n[y_n] );  logits (N, C), labels in [0, C).
 * dlogits (may be NULL) <- d loss / d logits = (softmax(z) - onehot(y)) / N. */
CNN_API int cnn_cross_entropy(float *loss, cnn_tensor *dlogits, const cnn_tensor *logits,
                      const int32_t *labels);
/* loss = mean((a - b)^2); dA (may be NULL) <- 2 (a - b) / numel. */
CNN_API int cnn_mse_loss(float *loss, cnn_tensor *da, const cnn_tensor *a, const cnn_tensor *b);
/* loss = sum((a - b)^2), the chapter's l.sum(); dA (may be NULL) <- 2 (a - b). */
CNN_API int cnn_sse_loss(float *loss, cnn_tensor *da, const cnn_tensor *a, const cnn_tensor *b);
/* Number of rows n where argmax(logits[n]) == labels[n] (first max wins). */
CNN_API int cnn_count_correct(int64_t *correct, const cnn_tensor *logits, const int32_t *labels);

/* ------------------------------------------------------------------------ */
/* Layers and models (nn.Sequential). */

/* One line per layer kind: its enum value (CNN_LAYER_<NAME>), PyTorch's
 * class name, and the table entry that implements it (cnn__<ops>_layer in
 * src/nn/layers/; docs/ADDING_A_LAYER.md). New kinds go at the end, so
 * that the values of the others never change. */
#define CNN_LAYER_MAP(X)                                  \
    X(CONV2D, "Conv2d", conv2d)                           \
    X(MAXPOOL2D, "MaxPool2d", maxpool2d)                  \
    X(AVGPOOL2D, "AvgPool2d", avgpool2d)                  \
    X(SIGMOID, "Sigmoid", sigmoid)                        \
    X(RELU, "ReLU", relu)                                 \
    X(TANH, "Tanh", tanh)                                 \
    X(FLATTEN, "Flatten", flatten)                        \
    X(LINEAR, "Linear", linear)                           \
    X(DROPOUT, "Dropout", dropout)                        \
    X(BATCHNORM2D, "BatchNorm2d", batchnorm)              \
    X(BATCHNORM1D, "BatchNorm1d", batchnorm)              \
    X(LEAKYRELU, "LeakyReLU", leaky_relu)                 \
    X(SOFTMAX, "Softmax", softmax)                        \
    X(DROPOUT2D, "Dropout2d", dropout2d)                  \
    X(ADAPTIVEAVGPOOL2D, "AdaptiveAvgPool2d", adaptive_avgpool2d) \
    X(ADAPTIVEMAXPOOL2D, "AdaptiveMaxPool2d", adaptive_maxpool2d) \
    X(RESIDUAL, "Residual", residual)                     \
    X(GELU, "GELU", gelu)                                 \
    X(SILU, "SiLU", silu)                                 \
    X(HARDSWISH, "Hardswish", hardswish)                  \
    X(IDENTITY, "Identity", identity)

typedef enum {
#define CNN__LAYER_ENUM(name, text, ops) CNN_LAYER_##name,
    CNN_LAYER_MAP(CNN__LAYER_ENUM)
#undef CNN__LAYER_ENUM
    CNN_LAYER_COUNT
} cnn_layer_kind;

CNN_API const char *cnn_layer_kind_name(cnn_layer_kind kind); /* "Conv2d"; "?" if unknown */

typedef struct cnn_linear_desc {
    int in_features, out_features;
    int bias; /* default 1 */
} cnn_linear_desc;

typedef struct cnn_layer_desc {
    cnn_layer_kind kind;
    union {
        cnn_conv2d_desc conv;   /* CONV2D */
        cnn_pool2d_desc pool;   /* MAXPOOL2D, AVGPOOL2D */
        cnn_linear_desc linear; /* LINEAR */
        struct { int start_dim, end_dim; } flatten; /* FLATTEN: default 1, -1 */
        struct { float p; } dropout;                /* DROPOUT, DROPOUT2D: default 0.5 */
        /* BATCHNORM2D / BATCHNORM1D: eps 1e-5, momentum 0.1 (cumulative = 1 for
         * momentum=None: a cumulative moving average), affine 1, track_running_stats 1. */
        struct { int num_features; float eps, momentum; int cumulative, affine, track_running_stats; } batchnorm;
        struct { float negative_slope; } leaky_relu; /* LEAKYRELU: default 0.01 */
        struct { int dim; } softmax;                 /* SOFTMAX: dim=None is stored as CNN_SOFTMAX_DIM_NONE */
        struct { int output_size[2]; } adaptive;     /* ADAPTIVE*POOL2D: (oh, ow); 0 = None (input size) */
        /* RESIDUAL: d2l's block, see docs/MODELS.md; use_1x1conv 0, strides 1. */
        struct { int input_channels, num_channels, use_1x1conv, strides; } residual;
        struct { int tanh; } gelu;                   /* GELU: approximate='tanh' (1) or 'none' (0, default) */
    } u;
    int line, column; /* where the layer starts in the model text; 0 if not parsed */
} cnn_layer_desc;

#define CNN_SOFTMAX_DIM_NONE (-100) /* Softmax(dim=None): PyTorch's implicit dim rule */

/* Parse the text of a PyTorch nn.Sequential(...) expression (see README,
 * "Model syntax"). *layers is allocated with cnn_malloc; free it with
 * cnn_free. source names the text in error messages ("models/lenet.txt"). */
CNN_API int cnn_model_parse(cnn_layer_desc **layers, int *n_layers, const char *text, const char *source);

typedef struct cnn_model cnn_model; /* opaque */

typedef enum {
    CNN_INIT_DEFAULT = 0, /* PyTorch's reset_parameters(): kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)) */
    CNN_INIT_XAVIER       /* d2l: xavier_uniform_ on Conv2d/Linear weights, biases as DEFAULT */
} cnn_init_kind;

/* Build a model for inputs of shape (C, H, W); checks that the shapes chain.
 * Parameters are zero until cnn_model_init_params or a load. */
CNN_API int cnn_model_create(cnn_model **model, const cnn_layer_desc *layers, int n_layers,
                     const int64_t input_chw[3]);
CNN_API int cnn_model_create_from_text(cnn_model **model, const char *text, const char *source,
                               const int64_t input_chw[3]);
CNN_API void cnn_model_free(cnn_model *model);

CNN_API int cnn_model_num_layers(const cnn_model *m);
CNN_API const cnn_layer_desc *cnn_model_layer(const cnn_model *m, int i);
/* Output shape of layer i for batch size 1: ndim and shape (with the batch dim). */
CNN_API int cnn_model_layer_shape(const cnn_model *m, int i, int *ndim, int64_t shape[CNN_MAX_DIMS]);
CNN_API void cnn_model_input_shape(const cnn_model *m, int64_t chw[3]);
CNN_API int64_t cnn_model_num_outputs(const cnn_model *m); /* features of the last layer */

/* One parameter buffer and one gradient buffer, same layout: tensors in
 * state_dict order ("0.weight", "0.bias", "3.weight", ...). */
CNN_API size_t cnn_model_num_params(const cnn_model *m);
CNN_API float *cnn_model_params(cnn_model *m);
CNN_API float *cnn_model_grads(cnn_model *m);
/* The same buffers, read-only, from a const model. */
CNN_API const float *cnn_model_params_const(const cnn_model *m);
CNN_API const float *cnn_model_grads_const(const cnn_model *m);

typedef struct cnn_param_info {
    char name[32];                /* state_dict key, e.g. "0.weight" */
    int layer;                    /* index in the Sequential */
    int ndim;
    int64_t shape[CNN_MAX_DIMS];
    size_t offset, numel;         /* into the parameter buffer, in floats */
} cnn_param_info;
CNN_API int cnn_model_num_tensors(const cnn_model *m);
CNN_API int cnn_model_tensor_info(const cnn_model *m, int i, cnn_param_info *info);

CNN_API int cnn_model_init_params(cnn_model *m, cnn_init_kind kind, cnn_rng *rng);

/* Buffers: BatchNorm's running_mean and running_var (F32, in
 * cnn_model_buffers()) and num_batches_tracked (int64 scalars, shape (), in
 * cnn_model_counters()). Forward in training updates them; no optimizer
 * touches them; they are saved and loaded with the parameters under their
 * state_dict names ("1.running_mean", "3.bn1.num_batches_tracked"). They are
 * not parameters: cnn_model_num_params and the tensor list leave them out. */
typedef struct cnn_buffer_info {
    char name[32];                /* state_dict key */
    int layer;                    /* index in the Sequential */
    int is_counter;               /* 1: int64 at cnn_model_counters()[offset] */
    int ndim;                     /* 1 for running stats, 0 for counters */
    int64_t shape[CNN_MAX_DIMS];
    size_t offset, numel;         /* into the buffers (floats) or the counters */
} cnn_buffer_info;
CNN_API int cnn_model_num_buffers(const cnn_model *m);
CNN_API int cnn_model_buffer_info(const cnn_model *m, int i, cnn_buffer_info *info);
CNN_API float *cnn_model_buffers(cnn_model *m);
CNN_API int64_t *cnn_model_counters(cnn_model *m);
CNN_API const float *cnn_model_buffers_const(const cnn_model *m);
CNN_API const int64_t *cnn_model_counters_const(const cnn_model *m);
/* Reset running_mean to 0, running_var to 1, num_batches_tracked to 0. */
CNN_API void cnn_model_reset_buffers(cnn_model *m);
CNN_API void cnn_model_zero_grad(cnn_model *m);
/* Plan the workspace for batches of up to max_batch examples. Forward and
 * backward then allocate nothing. */
CNN_API int cnn_model_reserve(cnn_model *m, int max_batch);
/* x (batch, C, H, W) -> *logits (batch, num_outputs), owned by the model and
 * valid until the next forward. train is the mode:
 *   CNN_TRAIN (1; any value but 0 and 2): model.train(): Dropout (drawn from
 *     rng), batch statistics in batch norms, every layer's output kept for
 *     cnn_model_backward;
 *   CNN_EVAL (0): model.eval() under torch.no_grad(): the model may keep only
 *     what inference needs (backward then fails) and fuses more layers;
 *   CNN_EVAL_GRAD (2): model.eval() with gradients: every output kept. */
#define CNN_EVAL 0
#define CNN_TRAIN 1
#define CNN_EVAL_GRAD 2
CNN_API int cnn_model_forward(cnn_model *m, const float **logits, const float *x, int batch, int train,
                      cnn_rng *rng);
/* Accumulate parameter gradients of sum(logits * dlogits) for the last forward. */
CNN_API int cnn_model_backward(cnn_model *m, const float *dlogits);
/* *layer <- index of the first layer whose output in the last forward holds a
 * NaN or an infinity, or -1 if every output is finite (divergence reports).
 * Outputs the forward did not keep (a Conv2d followed by an activation, and
 * in inference the activation and pooling after it) are judged by the next
 * kept output. Fails if there was no complete forward. */
CNN_API int cnn_model_first_nonfinite_layer(const cnn_model *m, int *layer);

/* torchsummary's table (as the chapter prints it) plus torchinfo's mult-adds
 * and memory estimates, for the given batch size. */
CNN_API int cnn_model_summary(FILE *f, const cnn_model *m, int batch);
/* The chapter's loop: "Conv2d output shape: \t torch.Size([1, 6, 28, 28])". */
CNN_API int cnn_model_trace(FILE *f, const cnn_model *m);
/* The step plan for batches of batch examples (cnn summary --plan): each
 * step's layers (a Conv2d with the activation and pooling after it can run
 * as one), its kernel, its memory layout and its workspace bytes. */
CNN_API int cnn_model_plan_print(FILE *f, const cnn_model *m, int batch);

/* ------------------------------------------------------------------------ */
/* Data: IDX files and datasets (docs/DATA.md). */

#define CNN_MAX_CLASSES 65535 /* labels are 0..65534 */
#define CNN_MAX_NORM_CHANNELS 16

typedef struct cnn_dataset {
    int64_t n;        /* number of examples */
    int64_t h, w;     /* image size; images are (n, c, h, w) */
    uint8_t *images;  /* n*c*h*w pixels, divided by 255 in batches; NULL when fimages holds them */
    uint16_t *labels; /* n labels, each < CNN_MAX_CLASSES */
    int64_t c;        /* channels; 0 is read as 1 */
    float *fimages;   /* n*c*h*w float32 pixels used as they are (float IDX, CSV of floats), or NULL */
    int64_t num_classes; /* classes the data declares (names from a meta file or folders); 0: none */
    char **class_names;  /* num_classes names (cnn_malloc'ed), or NULL */
    char *source;        /* the file or folder the labels came from, for messages (cnn_malloc'ed), or NULL */
} cnn_dataset;

/* Read an images file, IDX (n, h, w) or (n, c, h, w) of unsigned bytes
 * (dtype 0x08) or big-endian float32 (0x0D), and a labels file (n) of
 * unsigned bytes, int16 (0x0B) or int32 (0x0C) with values 0..65534; each
 * plain or gzip (detected by content). Validates magic, dtype, dimensions,
 * counts, label range and file length. */
CNN_API int cnn_dataset_load(cnn_dataset *ds, const char *images_path, const char *labels_path);
/* split is "train" or "t10k": DIR/<split>-images-idx3-ubyte[.gz] (or idx4)
 * and DIR/<split>-labels-idx1-ubyte[.gz]. */
CNN_API int cnn_dataset_load_split(cnn_dataset *ds, const char *dir, const char *split);
CNN_API void cnn_dataset_free(cnn_dataset *ds);
/* Channels of ds (1 when ds->c is 0). */
CNN_API int64_t cnn_dataset_channels(const cnn_dataset *ds);
/* Where the data sets of cnn_data_load come from, and how. */
typedef struct cnn_data_options {
    int resize_h, resize_w; /* image folders: resize every image to this (0: sizes must agree) */
    int channels;           /* image folders: 1 (gray) or 3 (RGB); 0: 3 if any image has colour, else 1 */
    int coarse;             /* CIFAR-100: the 20 coarse labels instead of the 100 fine ones */
    int no_cache;           /* image folders: neither read nor write the cache file */
} cnn_data_options;

/* The format of the data set at path: "idx", "cifar10", "cifar100", "csv",
 * "folder", or NULL if none is recognised (docs/DATA.md). */
CNN_API const char *cnn_data_format(const char *path);
/* train (may be NULL) and test <- the two splits of the data set at path,
 * in whichever format it is; opt may be NULL (defaults). Class names come
 * from the format (CIFAR meta files, folder names) or DIR/classes.txt. */
CNN_API int cnn_data_load(cnn_dataset *train, cnn_dataset *test, const char *path, const cnn_data_options *opt);

/* x (count, c, h, w) <- pixels / 255 (or the float pixels); y <- labels;
 * examples order[start..start+count) (order NULL means file order). */
CNN_API int cnn_dataset_batch(float *x, int32_t *y, const cnn_dataset *ds, const uint32_t *order,
                      int64_t start, int count);

/* Read an IDX images file (0x00000803, n x h x w), plain or gzip, with the same
 * validation; *pixels (n*h*w bytes) is allocated with cnn_malloc. */
CNN_API int cnn_idx_read_images(uint8_t **pixels, int64_t *n, int64_t *h, int64_t *w, const char *path);
/* Read any IDX images file that cnn_dataset_load takes into ds (labels NULL). */
CNN_API int cnn_idx_read_images_any(cnn_dataset *ds, const char *path);

/* Write an IDX file atomically (temp file + rename); gzip if path ends in ".gz". */
CNN_API int cnn_idx_write_u8(const char *path, int ndim, const int64_t *dims, const uint8_t *data);
/* Write n labels as an IDX labels file: unsigned bytes when every label is
 * below 256, else int32 (dtype 0x0C); atomically, gzip if path ends in ".gz". */
CNN_API int cnn_idx_write_labels(const char *path, int64_t n, const uint16_t *labels);
/* CRC-32 (zlib's polynomial) of the IDX file that cnn_idx_write_u8 would
 * write for (ndim, dims, data) before compression: header + data bytes. */
CNN_API uint32_t cnn_idx_crc32(int ndim, const int64_t *dims, const uint8_t *data);

/* Build Fashion-MNIST style train and test sets from DIR/0.json .. DIR/9.json
 * (images of h x w). In each class file, after empty rows are dropped, the
 * first test_per_class rows go to the test set and the next train_per_class
 * rows to the training set; a class with another row count is an error.
 * Within each set, examples are put in a fixed order: a Fisher-Yates
 * permutation of (class-major) example indices drawn from splitmix64(seed)
 * (docs/DATA.md).
 * On failure both sets are left empty. */
CNN_API int cnn_fmnist_from_json(cnn_dataset *train, cnn_dataset *test, const char *dir, int64_t h,
                          int64_t w, int64_t test_per_class, int64_t train_per_class,
                          uint64_t seed);


/* Read a PNG and convert it to a (h, w) grayscale float image in [0, 1] as
 * torchvision's read_image(..., ImageReadMode.GRAY) / 255 would. Gray, RGB,
 * palette, with or without alpha, 8 or 16 bits are accepted; the size must be
 * want_h x want_w. */
CNN_API int cnn_png_read_gray(float *out, const char *path, int64_t want_h, int64_t want_w);

/* Decode a PNG or JPEG file (detected by content) into *pixels, (c, h, w)
 * bytes allocated with cnn_malloc, as torchvision's read_image decodes it:
 * channels 0 keeps the file's colour (1 gray, 3 colour; alpha dropped), 1
 * is ImageReadMode.GRAY, 3 is ImageReadMode.RGB. PNG through libpng (16-bit
 * samples scaled to 8), JPEG through libjpeg-turbo (baseline, progressive;
 * CMYK refused). docs/DATA.md gives the exact conversions. */
CNN_API int cnn_image_read(uint8_t **pixels, int64_t *c, int64_t *h, int64_t *w, const char *path, int channels);
/* The same for a file in memory; name is used in messages. */
CNN_API int cnn_image_decode(uint8_t **pixels, int64_t *c, int64_t *h, int64_t *w, const void *bytes, size_t len,
                             int channels, const char *name);
/* out (planes, oh, ow) <- in (planes, h, w) bytes resized as torchvision's
 * Resize on a uint8 tensor (antialias=False): converted to float,
 * F.interpolate(mode='bilinear', align_corners=False), torch.round, uint8. */
CNN_API int cnn_resize_u8(uint8_t *out, const uint8_t *in, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow);

/* out (planes, oh, ow) <- in (planes, h, w) resized bilinearly, as torchvision's
 * Resize on tensors with antialias=False (F.interpolate, align_corners=False). */
CNN_API int cnn_resize_bilinear(float *out, const float *in, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow);

/* ------------------------------------------------------------------------ */
/* Weights: safetensors (F32, little-endian, state_dict names). */

/* Save every parameter of the model, written atomically. */
CNN_API int cnn_model_save(const cnn_model *m, const char *path);
/* Load weights; names, shapes and dtype must match the model exactly. */
CNN_API int cnn_model_load(cnn_model *m, const char *path); /* CNN_ENOTFOUND: no such file */

/* What a weights file says about itself: the safetensors "__metadata__"
 * entries that cnn writes (docs/WEIGHTS.md lists the keys). A file without
 * them (PyTorch's) reads as an info with model_text NULL and zero shapes. */
typedef struct cnn_weights_info {
    char *version;           /* "cnn.version": the cnn that wrote it, or NULL */
    char *model_text;        /* "cnn.model": the nn.Sequential text, or NULL */
    int64_t input_chw[3];    /* "cnn.input_shape" "C,H,W"; zeros if absent */
    int resize_h, resize_w;  /* "cnn.resize" "H,W": images were resized to this; 0 if not */
    int normalize;           /* "cnn.normalize" "m1,...,mC/s1,...,sC" present */
    float mean[CNN_MAX_NORM_CHANNELS], std[CNN_MAX_NORM_CHANNELS];
    int64_t num_classes;     /* "cnn.classes": a JSON array of the class names */
    char **class_names;      /* num_classes names, or NULL */
} cnn_weights_info;

/* Read (and validate) the metadata of the weights file at path. */
CNN_API int cnn_weights_info_read(cnn_weights_info *info, const char *path);
CNN_API void cnn_weights_info_free(cnn_weights_info *info);
/* cnn_model_save, with info's entries (and "cnn.version") in the metadata;
 * info may be NULL. input_chw is always the model's. */
CNN_API int cnn_model_save_info(const cnn_model *m, const char *path, const cnn_weights_info *info);
/* *m <- the model the metadata of path describes, with its weights loaded.
 * Fails (CNN_ENOTFOUND) naming the missing key for a file without them. */
CNN_API int cnn_model_create_from_weights(cnn_model **m, cnn_weights_info *info, const char *path);
/* The canonical text of a model: every layer with every argument spelled
 * out, joined by ';' (two models compute the same function exactly when
 * their texts are equal). snprintf's conventions. */
CNN_API int cnn_model_describe(char *buf, size_t cap, const cnn_model *m);

/* ------------------------------------------------------------------------ */
/* Files and pictures. Every reader takes regular files only (a FIFO or a
 * directory is an error, never a hang); every file is written atomically (a
 * temporary file beside it, renamed over it: complete or absent) and through
 * a symbolic link; see docs/RELIABILITY.md. */

/* *bytes <- the whole regular file at path (at most max bytes), NUL-terminated,
 * allocated with cnn_malloc; *len (may be NULL) its length. */
CNN_API int cnn_file_read(const char *path, size_t max, char **bytes, size_t *len);
/* Replace path atomically with len bytes of data. */
CNN_API int cnn_file_write(const char *path, const void *data, size_t len);
/* CNN_OK if path could be written now: its directory takes a new file, and an
 * existing path is a regular file that may be replaced; else CNN_EIO naming why. */
CNN_API int cnn_file_check_output(const char *path);

/* d2l's Animator picture (train loss, train acc, test acc against epochs) as
 * SVG, as d2l.train_ch6 draws it with matplotlib. One point is one call of
 * animator.add(x, (train_loss, train_acc, test_acc)); a NAN value is absent
 * (d2l's None) and that series skips the point. num_epochs >= 1. */
typedef struct cnn_plot_point {
    double x;
    double train_loss, train_acc, test_acc;
} cnn_plot_point;
CNN_API int cnn_plot_svg(const char *path, const cnn_plot_point *pts, int n, int num_epochs);
/* A confusion matrix cm (c x c, rows: true class, columns: predicted) as an
 * SVG heat map, cells shaded by the fraction of their row; names (may be
 * NULL) label the classes. */
CNN_API int cnn_confusion_svg(const char *path, const int64_t *cm, int c, const char *const *names);

/* ------------------------------------------------------------------------ */
/* Training. */

/* Optimizers over the flat parameter buffer, as torch.optim computes them.
 *   SGD:   g = grad + wd * p;  b = mu * b + g (b = g on the first step);
 *          p -= lr * d with d = b, or d = g + mu * b (nesterov); dampening 0
 *   Adam:  g = grad + wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   AdamW: p *= 1 - lr * wd (decoupled), then Adam's update with g = grad.
 * Fill the fields (cnn_optim_make gives PyTorch's defaults), then call
 * cnn_optim_init. lr, momentum and beta1 may change between steps (schedules). */
typedef enum { CNN_OPTIM_SGD = 0, CNN_OPTIM_ADAM, CNN_OPTIM_ADAMW } cnn_optim_kind;
typedef struct cnn_optim {
    cnn_optim_kind kind;
    float lr;
    float momentum;      /* SGD: default 0 */
    int nesterov;        /* SGD: default 0 */
    float weight_decay;  /* default 0; AdamW 0.01 */
    float beta1, beta2, eps; /* Adam/AdamW: 0.9, 0.999, 1e-8 */
    float *buf1, *buf2;  /* SGD: momentum buffer; Adam: exp_avg, exp_avg_sq */
    int buf_live;        /* SGD: the momentum buffer holds a value (torch: "buf is not None") */
    int64_t steps;
    size_t n;
} cnn_optim;
CNN_API cnn_optim cnn_optim_make(cnn_optim_kind kind, float lr);
CNN_API int cnn_optim_init(cnn_optim *opt, size_t num_params); /* validates, allocates buffers */
CNN_API void cnn_optim_step(cnn_optim *opt, float *params, const float *grads);
CNN_API void cnn_optim_free(cnn_optim *opt);
CNN_API const char *cnn_optim_name(cnn_optim_kind kind); /* "sgd", "adam", "adamw" */

/* torch.nn.utils.clip_grad_norm_: total = ||grads||_2 over all values; grads
 * *= min(1, max_norm / (total + 1e-6)). Returns total (computed in double). */
CNN_API double cnn_clip_grad_norm(float *grads, size_t n, double max_norm);

/* Learning-rate schedules with PyTorch's formulas. step and cosine change the
 * rate once per epoch (scheduler.step() after each epoch), one-cycle after
 * every batch, as these schedulers are normally used.
 *   step:     lr = lr0 * gamma^floor(epoch / step_size)                  (StepLR)
 *   cosine:   lr = lr0 * (1 + cos(pi * epoch / epochs)) / 2              (CosineAnnealingLR, T_max = epochs)
 *   onecycle: OneCycleLR(max_lr, total_steps, pct_start 0.3, cos, div_factor 25,
 *             final_div_factor 1e4), with cycle_momentum 0.85..0.95 on SGD's
 *             momentum or Adam's beta1, as PyTorch does. */
typedef enum { CNN_SCHEDULE_NONE = 0, CNN_SCHEDULE_STEP, CNN_SCHEDULE_COSINE, CNN_SCHEDULE_ONECYCLE } cnn_schedule_kind;
typedef struct cnn_schedule {
    cnn_schedule_kind kind;
    float base_lr;       /* lr0 (step, cosine) */
    int step_size;       /* step: epochs per decay */
    float gamma;         /* step: default 0.1 */
    int epochs;          /* cosine: T_max */
    float max_lr;        /* onecycle */
    int64_t total_steps; /* onecycle */
} cnn_schedule;
/* The rate for epoch (0-based) and optimizer step (0-based, within the whole
 * run); *momentum (may be NULL) gets one-cycle's momentum, else is unchanged. */
CNN_API float cnn_schedule_lr(const cnn_schedule *s, int epoch, int64_t step, float *momentum);

typedef struct cnn_train_config {
    int epochs;          /* default 10 */
    int batch_size;      /* default 256 */
    float lr;            /* default 0.9 */
    float momentum;      /* default 0 */
    float weight_decay;  /* default 0 */
    uint64_t seed;       /* default 0 */
    int shuffle;         /* default 1 */
    int64_t max_steps;   /* default 0 = no limit */
    /* Added options; cnn_train_config_default sets them to: */
    cnn_optim_kind optimizer; /* default CNN_OPTIM_SGD */
    int nesterov;             /* default 0 */
    float beta1, beta2, eps;  /* default 0.9, 0.999, 1e-8 (Adam, AdamW) */
    cnn_schedule_kind schedule; /* default none */
    int step_size;            /* step schedule: default 1 */
    float gamma;              /* step schedule: default 0.1 */
    float max_lr;             /* one-cycle: default 0 = lr */
    float clip_grad_norm;     /* default 0 = no clipping */
    int random_flip;          /* horizontal flip with p = 0.5; default 0 */
    int random_crop;          /* zero padding of a random crop of the image size; default 0 = off */
    int resize;               /* resize images to resize x resize (bilinear) first; default 0 = off */
    /* Checkpoints (docs/CHECKPOINTS.md). With checkpoint set, the whole
     * training state is written there atomically every checkpoint_every
     * optimizer steps (0: at the end of each epoch) and when the callback or
     * max_steps stops training. resume continues a run bit-exactly from such
     * a file; the settings, model and data must be the same. */
    const char *checkpoint;   /* default NULL = none */
    int64_t checkpoint_every; /* default 0 = each epoch */
    const char *resume;       /* default NULL = start fresh */
    /* Preprocessing, in torchvision's order: Resize, RandomCrop / RandomHorizontalFlip
     * (training only), ToTensor (/ 255), Normalize. */
    int resize_w;             /* width when resizing; default 0 = resize (a square) */
    int normalize;            /* 1: x = (x - mean[c]) / std[c] per channel; default 0 */
    float mean[CNN_MAX_NORM_CHANNELS], std[CNN_MAX_NORM_CHANNELS];
    /* Data-parallel training (docs/SCALING.md). Each batch is cut into shards
     * of shard_size examples (the last may be smaller); each shard's gradient
     * is computed on its own and the shards' are added in shard order, batch
     * norms taking their statistics over the whole batch. The result depends
     * on shard_size, never on how many processes or threads share the
     * shards. shard_size 0: the batch is one shard. comm: the processes
     * (NULL: this one alone). Defaults 128 and NULL. */
    int shard_size;
    const struct cnn_comm *comm;
    /* The gradients go from process to process in buckets of bucket_bytes
     * (0: one message per tensor), the last layers' first; with overlap (and
     * comm->grad_ctx), a thread sends each bucket as soon as the backward has
     * made it, while the earlier layers still compute. The result is the same
     * either way. Defaults 1 MiB and 0. */
    size_t bucket_bytes;
    int overlap;
} cnn_train_config;

CNN_API void cnn_train_config_default(cnn_train_config *cfg);

/* The processes of a data-parallel run as cnn_train sees them. The tool
 * fills it from MPI (`mpirun -np N cnn train ...`); a program may fill it
 * from any transport. Each call returns CNN_OK or a negative status.
 *   allgather  recv (size x bytes) <- every process's send (bytes), in rank order
 *   send/recv  bytes to / from one process, in order, blocking
 *   bcast      buf (bytes) <- root's buf
 * cnn_train checks at its start that every process has the same model,
 * weights, settings and data (CNN_EPEER names the first that differs), and
 * only rank 0 writes the checkpoint. */
typedef struct cnn_comm {
    int rank, size;
    void *ctx;
    int (*allgather)(void *ctx, const void *send, size_t bytes, void *recv);
    int (*send)(void *ctx, const void *buf, size_t bytes, int to);
    int (*recv)(void *ctx, void *buf, size_t bytes, int from);
    int (*bcast)(void *ctx, void *buf, size_t bytes, int root);
    /* A second channel for the gradients' send, recv and bcast, which another
     * thread may use while this one calls the first (MPI: a duplicated
     * communicator under MPI_THREAD_MULTIPLE); NULL: none, no overlap. */
    void *grad_ctx;
} cnn_comm;

/* Progress of training, given to the callback: after every optimizer step
 * (BATCH) and after each epoch's evaluation (EPOCH). */
typedef enum { CNN_EVENT_BATCH = 0, CNN_EVENT_EPOCH } cnn_train_event_kind;
typedef struct cnn_train_event {
    cnn_train_event_kind kind;
    int epoch;            /* 0-based */
    int64_t step;         /* optimizer steps done in total */
    int64_t batch, num_batches; /* batch index within the epoch (1-based), batches per epoch */
    double train_loss;    /* running mean over the epoch */
    double train_acc;     /* running accuracy over the epoch */
    double test_acc;      /* CNN_EVENT_EPOCH only; -1 if not evaluated */
    int64_t examples;     /* examples seen this epoch */
    double compute_seconds; /* time inside forward/backward/step, whole run */
    double lr;            /* the learning rate of the last step (a schedule changes it) */
    double comm_seconds;  /* of compute_seconds, the time spent exchanging with other processes */
    double grad_seconds;  /* of comm_seconds, the time spent adding up the gradients */
} cnn_train_event;
/* Return non-zero to stop training (cnn_train then returns CNN_EINTR). */
typedef int (*cnn_train_callback)(const cnn_train_event *ev, void *user);

/* d2l's train_ch6 without the init: SGD + cross-entropy over epochs, test
 * accuracy after each epoch (test may be NULL). */
CNN_API int cnn_train(cnn_model *m, const cnn_dataset *train, const cnn_dataset *test,
              const cnn_train_config *cfg, cnn_train_callback cb, void *user);
/* Accuracy of the model on a dataset, in eval mode, without gradients. */
CNN_API int cnn_evaluate(cnn_model *m, const cnn_dataset *ds, int batch_size, double *accuracy);
/* The same with every image resized to resize x resize first (0: as is). */
CNN_API int cnn_evaluate_resized(cnn_model *m, const cnn_dataset *ds, int batch_size, int resize, double *accuracy);
/* x (count, c, resize, resize) <- examples of ds resized (as cnn_dataset_batch,
 * then cnn_resize_bilinear); tmp holds count*c*h*w floats. resize 0 = as is. */
CNN_API int cnn_dataset_batch_resized(float *x, float *tmp, int32_t *y, const cnn_dataset *ds, const uint32_t *order,
                              int64_t start, int count, int resize);
/* The same with cfg's resize (resize x resize_w) and normalization: what
 * training and evaluation feed the model, without the random transforms. */
CNN_API int cnn_dataset_batch_prep(float *x, float *tmp, int32_t *y, const cnn_dataset *ds, const uint32_t *order,
                           int64_t start, int count, const cnn_train_config *cfg);
/* Accuracy with cfg's preprocessing and batch size. */
CNN_API int cnn_evaluate_config(cnn_model *m, const cnn_dataset *ds, const cnn_train_config *cfg, double *accuracy);
/* mean[c], std[c] <- per-channel mean and standard deviation (population,
 * as torch.std(unbiased=False)) of every pixel of ds after / 255, computed in
 * double; at most CNN_MAX_NORM_CHANNELS channels. */
CNN_API int cnn_dataset_mean_std(const cnn_dataset *ds, float *mean, float *std);

#ifdef __cplusplus
}
#endif
#endif /* CNN_H */
