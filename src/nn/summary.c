/* summary.c — text reports about a model: torchsummary's table and the
 * chapter's shape trace.
 *
 * cnn_model_summary prints two blocks:
 *  1. torchsummary's summary(net, input_size=(C, H, W), batch_size=batch),
 *     byte for byte: the same column formats ("{:>20}  {:>25} {:>15}"), the
 *     64-character rules, "{:,}" thousands separators and the size estimates
 *     computed as torchsummary computes them (4 bytes per number, MB = 2^20
 *     bytes, outputs counted twice for their gradients; the params size and
 *     the total are float32 there, because the parameter count is a torch
 *     tensor, so they are float32 here too).
 *  2. torchinfo's mult-adds: per layer (weight + bias elements) times the
 *     output elements per channel for Conv2d (N * H_out * W_out), times N
 *     for Linear and BatchNorm, zero for the rest; then "Total mult-adds
 *     (M): x.xx". Which parameters count how, the kernel shape, and the
 *     rows of a layer's submodules come from its table entry's summary.
 * cnn_model_trace prints what the chapter's commented loop prints for a
 * (1, C, H, W) input:
 *     print(layer.__class__.__name__, 'output shape: \t', X.shape)
 *
 * Counts are exact whatever their size, as Python's ints are: the input
 * alone can be 2^60 values times a batch of 2^24, and a layer's mult-adds
 * 2^86, so sizes, totals and mult-adds are 128-bit unsigned integers
 * (u128 below), turned into a double (correctly rounded, as Python's
 * int-to-float) only for the MB and "(M)" figures.
 *
 * Otherwise only the public model accessors are used.
 */
#include "nn/layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define RULE_DASH "----------------------------------------------------------------\n"
#define RULE_EQ "================================================================\n"
#define ROW_FMT "%20s  %25s %15s\n" /* torchsummary's "{:>20}  {:>25} {:>15}" */

/* ---- exact unsigned 128-bit counts ----------------------------------------- */

typedef struct {
    uint64_t hi, lo;
} u128;

static u128 u128_of(uint64_t v) { return (u128){0, v}; }

/* *acc += v; 1 on overflow. */
static int u128_add(u128 *acc, u128 v) {
    uint64_t lo = acc->lo + v.lo, carry = lo < v.lo;
    if (v.hi > UINT64_MAX - acc->hi || carry > UINT64_MAX - acc->hi - v.hi) return 1;
    acc->hi += v.hi + carry, acc->lo = lo;
    return 0;
}

/* The full 128-bit product of two 64-bit numbers. */
static u128 mul64(uint64_t a, uint64_t b) {
    const uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    return (u128){p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32), mid << 32 | (p00 & 0xffffffffu)};
}

/* *out = a * b for b >= 0; 1 on overflow. */
static int u128_mul(u128 a, int64_t b, u128 *out) {
    if (b < 0) return 1;
    u128 lo = mul64(a.lo, (uint64_t)b), hi = mul64(a.hi, (uint64_t)b);
    if (hi.hi != 0 || hi.lo > UINT64_MAX - lo.hi) return 1;
    *out = (u128){lo.hi + hi.lo, lo.lo};
    return 0;
}

/* The nearest double (ties to even): the top 64 bits with the bits shifted
 * out folded into the last one, so the one rounding is the right one. */
static double u128_to_double(u128 v) {
    if (v.hi == 0) return (double)v.lo;
    int s = 0;
    while (s < 64 && (v.hi >> s) != 0) s++; /* the top 64 bits start s bits into hi */
    uint64_t top = s == 64 ? v.hi : (v.hi << (64 - s)) | (v.lo >> s);
    if (s < 64 ? (v.lo & ((UINT64_C(1) << s) - 1)) != 0 : v.lo != 0) top |= 1;
    return ldexp((double)top, s);
}

/* Decimal digits of v, most significant first; returns their count. */
static int u128_digits(char *out, u128 v) {
    char rev[40];
    int n = 0;
    do { /* long division by 10 over 32-bit limbs */
        uint32_t limb[4] = {(uint32_t)(v.hi >> 32), (uint32_t)v.hi, (uint32_t)(v.lo >> 32), (uint32_t)v.lo};
        uint64_t rem = 0;
        for (int k = 0; k < 4; k++) {
            uint64_t cur = rem << 32 | limb[k];
            limb[k] = (uint32_t)(cur / 10), rem = cur % 10;
        }
        rev[n++] = (char)('0' + rem);
        v = (u128){(uint64_t)limb[0] << 32 | limb[1], (uint64_t)limb[2] << 32 | limb[3]};
    } while (v.hi || v.lo);
    for (int i = 0; i < n; i++) out[i] = rev[n - 1 - i];
    out[n] = 0;
    return n;
}

/* Python's "{:,}".format(v) for v >= 0. */
static void format_commas(char *out, size_t cap, u128 v) {
    char digits[48];
    int n = u128_digits(digits, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 1 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 1 < cap) out[o++] = ',';
        if (o + 1 < cap) out[o++] = digits[i];
    }
    out[o] = 0;
}

/* Python's str(list): "[1, 6, 28, 28]". */
static void format_list(char *out, size_t cap, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < ndim && o < cap; d++)
        o += (size_t)snprintf(out + o, cap - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < cap) snprintf(out + o, cap - o, "]");
}

/* Per-layer facts the two blocks need. */
typedef struct {
    int ndim;
    int64_t shape[CNN_MAX_DIMS]; /* output shape for batch 1 */
    int64_t params;              /* weight + bias elements */
    int has_params;
} layer_facts;

/* Parameters of layer i whose state_dict name continues with prefix after
 * "<i>." ("" for all of them). */
static int64_t layer_params_prefix(const cnn_model *m, int i, const char *prefix) {
    char head[48];
    int64_t total = 0;
    snprintf(head, sizeof head, "%d.%s", i, prefix);
    for (int t = 0; t < cnn_model_num_tensors(m); t++) {
        cnn_param_info info;
        if (cnn_model_tensor_info(m, t, &info) < 0 || info.layer != i) continue;
        if (strncmp(info.name, head, strlen(head)) == 0) total += (int64_t)info.numel;
    }
    return total;
}

/* The summary facts of layer l's table entry (all zero without a summary). */
static cnn__summary_info summary_info(const cnn_layer_desc *l) {
    cnn__summary_info si;
    memset(&si, 0, sizeof si);
    const cnn__layer_ops *ops = cnn__layer_ops_of(l->kind);
    if (ops && ops->summary) ops->summary(l, &si);
    return si;
}

static int layer_facts_get(layer_facts *lf, const cnn_model *m, int i) {
    memset(lf, 0, sizeof *lf);
    CNN_TRY(cnn_model_layer_shape(m, i, &lf->ndim, lf->shape));
    if (lf->ndim < 1 || lf->ndim > CNN_MAX_DIMS)
        return cnn__fail(CNN_EINVAL, "cnn_model_summary: layer %d has %d dimensions, expected 1..%d",
                         i, lf->ndim, CNN_MAX_DIMS);
    int nt = cnn_model_num_tensors(m);
    for (int t = 0; t < nt; t++) {
        cnn_param_info info;
        CNN_TRY(cnn_model_tensor_info(m, t, &info));
        if (info.layer != i) continue;
        lf->has_params = 1;
        /* a model has at most CNN_MAX_PARAMS parameters, so this cannot wrap */
        if ((uint64_t)info.numel > (uint64_t)CNN_MAX_PARAMS - (uint64_t)lf->params)
            return cnn__fail(CNN_ERANGE, "cnn_model_summary: layer %d has too many parameters", i);
        lf->params += (int64_t)info.numel;
    }
    return CNN_OK;
}

static int too_large(const char *what) {
    return cnn__fail(CNN_ERANGE, "cnn_model_summary: %s do not fit in 128 bits", what);
}

int cnn_model_summary(FILE *f, const cnn_model *m, int batch) {
    if (!f || !m) return cnn__fail(CNN_EINVAL, "cnn_model_summary: %s is NULL", f ? "model" : "file");
    if (batch != -1 && (batch < 1 || batch > (1 << 24)))
        return cnn__fail(CNN_EINVAL,
                         "cnn_model_summary: batch is %d, expected 1..%d or -1 (torchsummary's "
                         "default)", batch, 1 << 24);
    int n = cnn_model_num_layers(m);
    const int64_t nb = batch < 0 ? -batch : batch; /* torchsummary takes abs() of the sizes */
    int64_t in_chw[3];
    cnn_model_input_shape(m, in_chw);

    /* Block 1: torchsummary. */
    char name[48], shape[96], count[64];
    int64_t total_params = 0; /* at most CNN_MAX_PARAMS */
    u128 total_output = u128_of(0);
    int any_params = 0, row = 0;
    fprintf(f, RULE_DASH ROW_FMT RULE_EQ, "Layer (type)", "Output Shape", "Param #");
    for (int i = 0; i < n; i++) {
        layer_facts lf;
        const cnn_layer_desc *l = cnn_model_layer(m, i);
        CNN_TRY(layer_facts_get(&lf, m, i));
        int64_t shown[CNN_MAX_DIMS];
        u128 numel = u128_of((uint64_t)nb);
        memcpy(shown, lf.shape, sizeof shown);
        shown[0] = batch;
        for (int d = 1; d < lf.ndim; d++)
            if (u128_mul(numel, lf.shape[d], &numel)) return too_large("output sizes");
        format_list(shape, sizeof shape, lf.ndim, shown);
        /* A layer with submodules (Residual) shows them first, in the order
         * their forward hooks fire, each with the layer's output shape; its
         * own row has the parameters none of them holds. */
        const cnn__summary_info si = summary_info(l);
        int64_t own = lf.params;
        for (int k = 0; k < si.n_sub; k++) {
            int64_t pk = layer_params_prefix(m, i, si.sub[k].prefix);
            own -= pk;
            snprintf(name, sizeof name, "%s-%d", si.sub[k].type, ++row);
            format_commas(count, sizeof count, u128_of((uint64_t)pk));
            fprintf(f, ROW_FMT, name, shape, count);
            if (u128_add(&total_output, numel)) return too_large("output sizes");
        }
        snprintf(name, sizeof name, "%s-%d", cnn_layer_kind_name(l->kind), ++row);
        format_commas(count, sizeof count, u128_of((uint64_t)own));
        fprintf(f, ROW_FMT, name, shape, count);
        any_params |= lf.has_params;
        total_params += lf.params;
        if (u128_add(&total_output, numel)) return too_large("output sizes");
    }
    /* np.prod(input_size) * batch_size * 4. / (1024 ** 2.): the exact count,
     * rounded once to a double; the scalings by 4 and 2^-20 are exact. */
    const double mb = 1024.0 * 1024.0;
    u128 input = u128_of((uint64_t)nb);
    for (int d = 0; d < 3; d++)
        if (u128_mul(input, in_chw[d], &input)) return too_large("input sizes");
    double input_mb = u128_to_double(input) * 4.0 / mb;
    double output_mb = 2.0 * u128_to_double(total_output) * 4.0 / mb; /* x2 for gradients */
    double params_mb, total_mb;
    if (any_params) {
        /* torch.prod(...) sums to an int64 tensor; "* 4." makes it float32.
         * volatile: rounded to float even where float math runs wider. */
        volatile float p32 = (float)total_params * 4.0f;
        p32 = p32 / (float)mb;
        volatile float t32 = p32 + (float)output_mb;
        t32 = t32 + (float)input_mb;
        params_mb = p32, total_mb = t32;
    } else {
        params_mb = (double)total_params * 4.0 / mb;
        total_mb = params_mb + output_mb + input_mb;
    }
    fprintf(f, RULE_EQ);
    format_commas(count, sizeof count, u128_of((uint64_t)total_params));
    fprintf(f, "Total params: %s\n", count);
    fprintf(f, "Trainable params: %s\n", count); /* every parameter trains; buffers are not parameters */
    fprintf(f, "Non-trainable params: 0\n");
    fprintf(f, RULE_DASH);
    fprintf(f, "Input size (MB): %0.2f\n", input_mb);
    fprintf(f, "Forward/backward pass size (MB): %0.2f\n", output_mb);
    fprintf(f, "Params size (MB): %0.2f\n", params_mb);
    fprintf(f, "Estimated Total Size (MB): %0.2f\n", total_mb);
    fprintf(f, RULE_DASH);

    /* Block 2: torchinfo's mult-adds. */
    u128 total_macs = u128_of(0);
    fprintf(f, ROW_FMT RULE_EQ, "Layer (type)", "Kernel Shape", "Mult-Adds");
    for (int i = 0; i < n; i++) {
        layer_facts lf;
        const cnn_layer_desc *l = cnn_model_layer(m, i);
        CNN_TRY(layer_facts_get(&lf, m, i));
        const cnn__summary_info si = summary_info(l);
        u128 macs = u128_of(0), per = u128_of((uint64_t)nb), term;
        if (si.per_pixel) {
            for (int d = 2; d < lf.ndim; d++) /* N * H_out * W_out: channels left out */
                if (u128_mul(per, lf.shape[d], &per)) return too_large("mult-adds");
            if (u128_mul(per, layer_params_prefix(m, i, si.per_pixel), &macs)) return too_large("mult-adds");
        }
        if (si.per_example &&
            (u128_mul(u128_of((uint64_t)nb), layer_params_prefix(m, i, si.per_example), &term) ||
             u128_add(&macs, term)))
            return too_large("mult-adds");
        const int *kernel = si.kernel;
        if (u128_add(&total_macs, macs)) return too_large("mult-adds");
        snprintf(name, sizeof name, "%s-%d", cnn_layer_kind_name(l->kind), i + 1);
        if (kernel) snprintf(shape, sizeof shape, "[%d, %d]", kernel[0], kernel[1]);
        else snprintf(shape, sizeof shape, "--");
        if (macs.hi || macs.lo) format_commas(count, sizeof count, macs);
        else snprintf(count, sizeof count, "--");
        fprintf(f, ROW_FMT, name, shape, count);
    }
    fprintf(f, RULE_EQ);
    /* total_mult_adds / 1e6: Python rounds the int to a double, then divides */
    fprintf(f, "Total mult-adds (M): %0.2f\n", u128_to_double(total_macs) / 1e6);
    fprintf(f, RULE_DASH);
    if (ferror(f)) return cnn__fail(CNN_EIO, "cnn_model_summary: write failed");
    return CNN_OK;
}

int cnn_model_trace(FILE *f, const cnn_model *m) {
    if (!f || !m) return cnn__fail(CNN_EINVAL, "cnn_model_trace: %s is NULL", f ? "model" : "file");
    int n = cnn_model_num_layers(m);
    for (int i = 0; i < n; i++) {
        int ndim;
        int64_t shape[CNN_MAX_DIMS];
        char text[128];
        CNN_TRY(cnn_model_layer_shape(m, i, &ndim, shape));
        shape[0] = 1;
        CNN_TRY(cnn_shape_format(text, sizeof text, ndim, shape));
        /* print(a, b, c) joins with spaces: "Conv2d" " " "output shape: \t" " " shape */
        fprintf(f, "%s output shape: \t %s\n", cnn_layer_kind_name(cnn_model_layer(m, i)->kind), text);
    }
    if (ferror(f)) return cnn__fail(CNN_EIO, "cnn_model_trace: write failed");
    return CNN_OK;
}
