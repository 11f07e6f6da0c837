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
 *     for Linear, zero for the rest; then "Total mult-adds (M): x.xx".
 * cnn_model_trace prints what the chapter's commented loop prints for a
 * (1, C, H, W) input:
 *     print(layer.__class__.__name__, 'output shape: \t', X.shape)
 *
 * Only the public model accessors are used.
 */
#include "cnn_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define RULE_DASH "----------------------------------------------------------------\n"
#define RULE_EQ "================================================================\n"
#define ROW_FMT "%20s  %25s %15s\n" /* torchsummary's "{:>20}  {:>25} {:>15}" */

/* Python's "{:,}".format(v). */
static void format_commas(char *out, size_t cap, int64_t v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < cap) out[o++] = '-';
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

static int add_checked(int64_t *acc, int64_t v) {
    if (v > INT64_MAX - *acc) return 1;
    *acc += v;
    return 0;
}

static int mul_checked(int64_t a, int64_t b, int64_t *out) {
    if (a != 0 && b > INT64_MAX / a) return 1;
    *out = a * b;
    return 0;
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

/* A Residual block appears in torchsummary as its submodules, in the order
 * their forward hooks fire, then the block itself (it has no own weight). */
static const char *const residual_rows[5][2] = {
    {"Conv2d", "conv1."}, {"BatchNorm2d", "bn1."}, {"Conv2d", "conv2."}, {"BatchNorm2d", "bn2."}, {"Conv2d", "conv3."}};

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
        if (add_checked(&lf->params, (int64_t)info.numel))
            return cnn__fail(CNN_ERANGE, "cnn_model_summary: layer %d has too many parameters", i);
    }
    return CNN_OK;
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
    char name[48], shape[96], count[32];
    int64_t total_params = 0, total_output = 0;
    int any_params = 0, row = 0;
    fprintf(f, RULE_DASH ROW_FMT RULE_EQ, "Layer (type)", "Output Shape", "Param #");
    for (int i = 0; i < n; i++) {
        layer_facts lf;
        const cnn_layer_desc *l = cnn_model_layer(m, i);
        CNN_TRY(layer_facts_get(&lf, m, i));
        int64_t shown[CNN_MAX_DIMS], numel = nb;
        memcpy(shown, lf.shape, sizeof shown);
        shown[0] = batch;
        for (int d = 1; d < lf.ndim; d++)
            if (mul_checked(numel, lf.shape[d], &numel))
                return cnn__fail(CNN_ERANGE, "cnn_model_summary: layer %d output too large", i);
        format_list(shape, sizeof shape, lf.ndim, shown);
        if (l->kind == CNN_LAYER_RESIDUAL) {
            /* Every submodule's output has the block's shape. */
            for (int k = 0; k < 5; k++) {
                if (k == 4 && !l->u.residual.use_1x1conv) continue;
                int64_t pk = layer_params_prefix(m, i, residual_rows[k][1]);
                snprintf(name, sizeof name, "%s-%d", residual_rows[k][0], ++row);
                format_commas(count, sizeof count, pk);
                fprintf(f, ROW_FMT, name, shape, count);
                if (add_checked(&total_output, numel))
                    return cnn__fail(CNN_ERANGE, "cnn_model_summary: totals too large to count");
            }
            lf.params = layer_params_prefix(m, i, "");
            any_params |= lf.has_params;
            if (add_checked(&total_params, lf.params) || add_checked(&total_output, numel))
                return cnn__fail(CNN_ERANGE, "cnn_model_summary: totals too large to count");
            snprintf(name, sizeof name, "%s-%d", cnn_layer_kind_name(l->kind), ++row);
            fprintf(f, ROW_FMT, name, shape, "0");
            continue;
        }
        snprintf(name, sizeof name, "%s-%d", cnn_layer_kind_name(l->kind), ++row);
        format_commas(count, sizeof count, lf.params);
        fprintf(f, ROW_FMT, name, shape, count);
        any_params |= lf.has_params;
        if (add_checked(&total_params, lf.params) || add_checked(&total_output, numel))
            return cnn__fail(CNN_ERANGE, "cnn_model_summary: totals too large to count");
    }
    const double mb = 1024.0 * 1024.0;
    double input_mb = (double)(in_chw[0] * in_chw[1] * in_chw[2] * nb) * 4.0 / mb;
    double output_mb = 2.0 * (double)total_output * 4.0 / mb; /* x2 for gradients */
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
    format_commas(count, sizeof count, total_params);
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
    int64_t total_macs = 0;
    fprintf(f, ROW_FMT RULE_EQ, "Layer (type)", "Kernel Shape", "Mult-Adds");
    for (int i = 0; i < n; i++) {
        layer_facts lf;
        const cnn_layer_desc *l = cnn_model_layer(m, i);
        CNN_TRY(layer_facts_get(&lf, m, i));
        int64_t macs = 0, per = nb;
        const int *kernel = NULL;
        if (l->kind == CNN_LAYER_CONV2D || l->kind == CNN_LAYER_RESIDUAL) {
            static const int k3[2] = {3, 3};
            kernel = l->kind == CNN_LAYER_CONV2D ? l->u.conv.kernel_size : k3;
            for (int d = 2; d < lf.ndim; d++) /* N * H_out * W_out: channels left out */
                if (mul_checked(per, lf.shape[d], &per)) per = -1;
        } else if (l->kind == CNN_LAYER_MAXPOOL2D || l->kind == CNN_LAYER_AVGPOOL2D) {
            kernel = l->u.pool.kernel_size;
        }
        if (l->kind == CNN_LAYER_RESIDUAL) {
            /* convolutions: params * N*H'*W'; batch norms: params * N */
            int64_t conv = layer_params_prefix(m, i, "conv"), bn = layer_params_prefix(m, i, "bn"), a, b;
            if (per < 0 || mul_checked(per, conv, &a) || mul_checked(nb, bn, &b) || add_checked(&a, b) ||
                add_checked(&total_macs, a))
                return cnn__fail(CNN_ERANGE, "cnn_model_summary: mult-adds too large to count");
            macs = a;
        }
        if (l->kind == CNN_LAYER_CONV2D || l->kind == CNN_LAYER_LINEAR || l->kind == CNN_LAYER_BATCHNORM2D ||
            l->kind == CNN_LAYER_BATCHNORM1D)
            if (per < 0 || mul_checked(per, lf.params, &macs) || add_checked(&total_macs, macs))
                return cnn__fail(CNN_ERANGE, "cnn_model_summary: mult-adds too large to count");
        snprintf(name, sizeof name, "%s-%d", cnn_layer_kind_name(l->kind), i + 1);
        if (kernel) snprintf(shape, sizeof shape, "[%d, %d]", kernel[0], kernel[1]);
        else snprintf(shape, sizeof shape, "--");
        if (macs > 0) format_commas(count, sizeof count, macs);
        else snprintf(count, sizeof count, "--");
        fprintf(f, ROW_FMT, name, shape, count);
    }
    fprintf(f, RULE_EQ);
    fprintf(f, "Total mult-adds (M): %0.2f\n", (double)total_macs / 1e6);
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
