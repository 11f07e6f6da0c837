/* plan.c — the step plan: which consecutive layers run as one step, with
 * which kernel and memory layout; running a step forward and backward; and
 * cnn_model_plan_print (cnn summary --plan). The step kinds are in
 * nn/model.h.
 *
 * A Conv2d followed by an activation the direct kernels apply (Sigmoid,
 * ReLU, Tanh: CNN__FUSE_ACT) runs fused with it, and with the pooling
 * after it (CNN__FUSE_POOL), when cnn__conv2d_direct_ok holds for its
 * geometry at the batch size; an activation followed by a pooling that is
 * not fused so (and is not the first layer, which needs no input gradient)
 * has a one-pass backward. A BatchNorm2d followed by such an activation
 * is one step too: one pass forward, one backward, the batch norm's output
 * never stored; with a pooling after them, the pooling is in the forward's
 * pass, and the backward is the activation and pooling's, then the batch
 * norm's. In inference (running statistics), a
 * Conv2d -> BatchNorm2d -> activation (-> pooling) is one step as well: the
 * direct kernels apply the batch norm to each output before its activation,
 * with the same operations as the layers, so the same bits (CONV_BN_ACT).
 * Between two fused steps, and between a fused
 * step's forward and its backward, tensors stay in blocks of 8 samples
 * (CNN__BLK_*) where cnn__conv2d_direct_blocks_ok allows it. So do those of
 * a Conv2d -> BatchNorm2d -> activation (-> 2 x 2 pooling) -> Conv2d chain
 * on the direct kernels' lanes layout (CONV steps, cnn__conv2d_direct_blocks):
 * the batch norm's kernels read and write blocks as they are, with the same
 * bits as NCHW (ops/kernels/batchnorm.c).
 *
 * The plan depends on whether the outputs are kept for a backward and on
 * the batch size: the direct kernels take the lanes
 * layout (and so blocks of 8) only for batches of 8 or more, and a
 * convolution that fits the direct path only in the lanes layout is direct
 * for such batches alone. So cnn_model_reserve plans for its max_batch,
 * and a forward with another batch size plans again for that one (no
 * allocation: the steps fit in n_layers entries).
 */
#include "nn/model.h"

#include <string.h>

/* The fused batch norm + activation applies the activation plane by plane:
 * planes of H*W values. BatchNorm1d's planes are single values (and a call
 * each costs more than the pass it saves), so it is not fused. */
#define BN_ACT_MIN_PLANE 16

static const cnn__layer_ops *ops_at(const cnn_model *m, int i) {
    return i < m->n_layers ? cnn__layer_ops_of(m->layers[i].kind) : NULL;
}

static int has_role(const cnn_model *m, int i, cnn__fuse_role role) {
    const cnn__layer_ops *ops = ops_at(m, i);
    return ops && ops->fuse == role;
}

/* Layer i is a Conv2d that runs fused with the activation after it. */
static int fuses_conv(const cnn_model *m, int i, int batch) {
    if (!has_role(m, i, CNN__FUSE_CONV) || !has_role(m, i + 1, CNN__FUSE_ACT)) return 0;
    cnn__conv_geom g = m->rt[i].st.conv.g;
    g.n = batch;
    return cnn__conv2d_direct_ok(&g);
}

/* Inference: layers i, i+1, i+2 are a Conv2d, a BatchNorm2d with running
 * statistics and an activation that run as one step. */
static int fuses_conv_bn(const cnn_model *m, int i, int batch, int keep) {
    if (keep || !has_role(m, i, CNN__FUSE_CONV) || !has_role(m, i + 1, CNN__FUSE_BN) ||
        !has_role(m, i + 2, CNN__FUSE_ACT) || !cnn__batchnorm_eval_fusable(&m->rt[i + 1]))
        return 0;
    cnn__conv_geom g = m->rt[i].st.conv.g;
    g.n = batch;
    return cnn__conv2d_direct_ok(&g);
}

/* Layers i, i+1, i+2 are a Conv2d, an activation and a pooling that the
 * direct path fuses with its tensors in blocks of 8. */
static int fused_blocks(const cnn_model *m, int i, int batch) {
    if (!has_role(m, i, CNN__FUSE_CONV) || !has_role(m, i + 1, CNN__FUSE_ACT) || !has_role(m, i + 2, CNN__FUSE_POOL))
        return 0;
    cnn__conv_geom g = m->rt[i].st.conv.g;
    cnn__pool_geom pg = m->rt[i + 2].st.pool;
    g.n = pg.n = batch;
    return cnn__conv2d_direct_blocks_ok(&g, ops_at(m, i + 1)->act, &pg);
}

/* Layer i is a Conv2d that runs alone (neither CONV_ACT nor CONV_BN_ACT):
 * the CNN__BLK_* flags the direct kernels take for it at this batch size. */
static int conv_alone_blocks(const cnn_model *m, int i, int batch, int keep) {
    if (!has_role(m, i, CNN__FUSE_CONV) || fuses_conv(m, i, batch) || fuses_conv_bn(m, i, batch, keep)) return 0;
    cnn__conv_geom g = m->rt[i].st.conv.g;
    g.n = batch;
    return cnn__conv2d_direct_blocks(&g);
}

static int bn_fuses(const cnn_model *m, int i);

/* The step that starts at layer j takes its input in blocks of 8. */
static int takes_blocks(const cnn_model *m, int j, int batch, int keep) {
    if (fuses_conv(m, j, batch) && !fuses_conv_bn(m, j, batch, keep)) return fused_blocks(m, j, batch);
    return (conv_alone_blocks(m, j, batch, keep) & CNN__BLK_X) != 0;
}

/* Layer i is a Conv2d alone whose output goes in blocks of 8 to a BN_ACT or
 * BN_ACT_POOL step (2 x 2 tiles) whose output the next step takes so. */
static int conv_out_blocks(const cnn_model *m, int i, int batch, int keep) {
    if (!(conv_alone_blocks(m, i, batch, keep) & CNN__BLK_Y)) return 0;
    const int k = bn_fuses(m, i + 1);
    if (k == 0 || (k == 2 && !cnn__pool_2x2_tiles(&m->rt[i + 3].st.pool))) return 0;
    return takes_blocks(m, i + 1 + (k == 2 ? 3 : 2), batch, keep);
}

/* Layer i is a batch norm that runs with the activation after it (1:
 * BN_ACT), and the pooling after that, over its planes (2: BN_ACT_POOL); 0: neither */
static int bn_fuses(const cnn_model *m, int i) {
    if (!has_role(m, i, CNN__FUSE_BN) || m->rt[i].st.bn.s < BN_ACT_MIN_PLANE || !has_role(m, i + 1, CNN__FUSE_ACT))
        return 0;
    if (!has_role(m, i + 2, CNN__FUSE_POOL)) return 1;
    const cnn__pool_geom *pg = &m->rt[i + 2].st.pool;
    return pg->c == m->rt[i].st.bn.c && pg->h * pg->w == m->rt[i].st.bn.s ? 2 : 0;
}

/* Layer i is a BatchNorm2d that every plan runs with the activation after
 * it (BN_ACT, BN_ACT_POOL, or inference's CONV_BN_ACT), whatever the batch
 * size: its output is never stored, and the model gives it no buffer. */
int cnn__plan_output_unused(const cnn_model *m, int i) { return bn_fuses(m, i) != 0; }

int cnn__plan_steps(const cnn_model *m, int batch, int keep, cnn__step *steps) {
    int n = 0, in_blocks = 0; /* the next step's input is in blocks of 8 */
    for (int i = 0; i < m->n_layers; i += steps[n - 1].count) {
        cnn__step *s = &steps[n++];
        memset(s, 0, sizeof *s);
        s->kind = CNN__STEP_LAYER, s->first = i, s->count = 1;
        if (fuses_conv_bn(m, i, batch, keep)) {
            s->kind = CNN__STEP_CONV_BN_ACT, s->act = ops_at(m, i + 2)->act;
            s->count = has_role(m, i + 3, CNN__FUSE_POOL) ? 4 : 3;
        } else if (fuses_conv(m, i, batch)) {
            s->kind = CNN__STEP_CONV_ACT, s->act = ops_at(m, i + 1)->act;
            s->count = has_role(m, i + 2, CNN__FUSE_POOL) ? 3 : 2;
            if (fused_blocks(m, i, batch))
                s->blk = (in_blocks ? CNN__BLK_X : 0) | CNN__BLK_A | (fused_blocks(m, i + 3, batch) ? CNN__BLK_P : 0);
        } else if (has_role(m, i, CNN__FUSE_CONV) && (in_blocks || conv_out_blocks(m, i, batch, keep))) {
            s->kind = CNN__STEP_CONV;
            s->blk = (in_blocks ? CNN__BLK_X : 0) | (conv_out_blocks(m, i, batch, keep) ? CNN__BLK_Y : 0);
        } else if (i >= 1 && has_role(m, i, CNN__FUSE_ACT) && has_role(m, i + 1, CNN__FUSE_POOL)) {
            s->kind = CNN__STEP_ACT_POOL, s->act = ops_at(m, i)->act, s->count = 2;
        } else if (bn_fuses(m, i)) {
            s->act = ops_at(m, i + 1)->act;
            if (bn_fuses(m, i) == 2) s->kind = CNN__STEP_BN_ACT_POOL, s->count = 3;
            else s->kind = CNN__STEP_BN_ACT, s->count = 2;
            s->blk = in_blocks ? CNN__BLK_X : 0;
        }
        /* the next step's input in blocks: a fused step's pooled output, a
         * CONV step's output, a batch norm step's (as its input) */
        in_blocks = s->kind == CNN__STEP_CONV_ACT ? (s->blk & CNN__BLK_P) != 0
                    : s->kind == CNN__STEP_CONV   ? (s->blk & CNN__BLK_Y) != 0
                                                  : (s->blk & CNN__BLK_X) != 0;
    }
    return n;
}

/* ---- running ---------------------------------------------------------------- */

/* y = pool(act(conv(x))) (or act(conv(x))) one sample at a time. The
 * Conv2d's output stays in the kernel's scratch: no backward needs it (the
 * activation's gradient comes from its own output). Inference keeps only
 * the pooled output. */
static void conv_act_forward(cnn_model *m, const cnn__run *r, const cnn__step *s) {
    const int f = s->first, pool = s->count == 3, keep = r->keep || !pool;
    cnn__layer_rt *crt = &m->rt[f];
    cnn__conv_geom g = crt->st.conv.g;
    cnn__pool_geom pg = pool ? m->rt[f + 2].st.pool : (cnn__pool_geom){0};
    g.n = pg.n = r->batch;
    float *aout = m->rt[f + 1].out, *pout = pool ? m->rt[f + 2].out : NULL;
    crt->st.conv.cols_valid = 0;
    cnn__conv2d_direct_forward_fused(NULL, keep ? aout : NULL, s->act, pout, pool ? &pg : NULL, m->act[f],
                                     cnn__param(r, crt, 0), cnn__param(r, crt, 1), NULL, &g,
                                     keep ? s->blk : s->blk & ~CNN__BLK_A, r->ws);
    m->act[f + 1] = NULL;
    if (pool) m->act[f + 2] = keep ? aout : NULL;
    m->act[f + s->count] = pool ? pout : aout;
    m->dropped |= !keep;
}

/* Inference: y = pool(act(bn(conv(x)))) (or act(bn(conv(x)))), only the
 * last output kept. */
static void conv_bn_act_forward(cnn_model *m, const cnn__run *r, const cnn__step *s) {
    const int f = s->first, pool = s->count == 4;
    cnn__layer_rt *crt = &m->rt[f];
    cnn__conv_geom g = crt->st.conv.g;
    cnn__pool_geom pg = pool ? m->rt[f + 3].st.pool : (cnn__pool_geom){0};
    g.n = pg.n = r->batch;
    cnn__bn_eval bn;
    cnn__batchnorm_eval_coef(r, &m->rt[f + 1], &bn);
    float *aout = m->rt[f + 2].out, *pout = pool ? m->rt[f + 3].out : NULL;
    crt->st.conv.cols_valid = 0;
    cnn__conv2d_direct_forward_fused(NULL, pool ? NULL : aout, s->act, pout, pool ? &pg : NULL, m->act[f],
                                     cnn__param(r, crt, 0), cnn__param(r, crt, 1), &bn, &g, 0, r->ws);
    for (int i = f + 1; i < f + s->count; i++) m->act[i] = NULL;
    m->act[f + s->count] = pool ? pout : aout;
}

/* The direct kernels' geometry of the Conv2d at layer f, at the run's batch. */
static cnn__conv_geom conv_at(cnn_model *m, const cnn__run *r, int f) {
    cnn__conv_geom g = m->rt[f].st.conv.g;
    g.n = r->batch;
    return g;
}

int cnn__step_forward(cnn_model *m, const cnn__run *r, const cnn__step *s) {
    if (s->kind == CNN__STEP_CONV) { /* y = conv(x), x or y in blocks of 8 */
        const int f = s->first;
        cnn__layer_rt *crt = &m->rt[f];
        const cnn__conv_geom g = conv_at(m, r, f);
        crt->st.conv.cols_valid = 0;
        cnn__conv2d_direct_forward(crt->out, m->act[f], cnn__param(r, crt, 0), cnn__param(r, crt, 1), &g, s->blk,
                                   r->ws);
        m->act[f + 1] = crt->out;
        return CNN_OK;
    }
    if (s->kind == CNN__STEP_CONV_ACT) {
        conv_act_forward(m, r, s);
        return CNN_OK;
    }
    if (s->kind == CNN__STEP_CONV_BN_ACT) {
        conv_bn_act_forward(m, r, s);
        return CNN_OK;
    }
    if (s->kind == CNN__STEP_BN_ACT_POOL) { /* a = act(bn(x)), p = pool(a); bn's output is not kept */
        const int f = s->first;
        float *a = m->rt[f + 1].out, *p = m->rt[f + 2].out;
        cnn__pool_geom pg = m->rt[f + 2].st.pool;
        pg.n = r->batch;
        int rc = cnn__batchnorm_act_pool_forward(r, &m->rt[f], m->act[f], a, s->act, p, &pg, s->blk != 0);
        if (rc < 0) return cnn__layer_fail(rc, &m->layers[f], f);
        m->act[f + 1] = NULL;
        m->act[f + 2] = a;
        m->act[f + 3] = p;
        return CNN_OK;
    }
    if (s->kind == CNN__STEP_BN_ACT) { /* y = act(bn(x)); bn's output is not kept */
        const int f = s->first;
        float *y = m->rt[f + 1].out;
        int rc = cnn__batchnorm_act_forward(r, &m->rt[f], m->act[f], y, s->act, s->blk != 0);
        if (rc < 0) return cnn__layer_fail(rc, &m->layers[f], f);
        m->act[f + 1] = NULL;
        m->act[f + 2] = y;
        return CNN_OK;
    }
    for (int i = s->first; i < s->first + s->count; i++) {
        cnn__layer_rt *rt = &m->rt[i];
        const float *y = rt->out;
        int rc = cnn__layer_ops_of(m->layers[i].kind)->forward(r, rt, &m->layers[i], m->act[i], &y);
        if (rc < 0) return cnn__layer_fail(rc, &m->layers[i], i);
        m->act[i + 1] = y;
    }
    return CNN_OK;
}

/* The ping-pong buffer that does not hold dy. */
static float *other(cnn_model *m, const float *dy) { return dy == m->grad_a ? m->grad_b : m->grad_a; }

const float *cnn__step_backward(cnn_model *m, const cnn__run *r, const cnn__step *s, const float *dy) {
    const int f = s->first, last = f + s->count - 1;
    CNN_ASSERT(s->kind != CNN__STEP_CONV_BN_ACT); /* inference only: the model refuses the backward */
    if (s->kind == CNN__STEP_CONV) { /* dx and x in blocks where x was, dy where y was */
        const cnn__layer_rt *crt = &m->rt[f];
        const cnn__conv_geom g = conv_at(m, r, f);
        float *dx = f == 0 ? NULL : other(m, dy);
        const int blk = (s->blk & CNN__BLK_X ? CNN__BLK_X | CNN__BLK_DX : 0) | (s->blk & CNN__BLK_Y ? CNN__BLK_DY : 0);
        cnn__conv2d_direct_backward(dx, cnn__grad(r, crt, 0), cnn__grad(r, crt, 1), dy, m->act[f],
                                    cnn__param(r, crt, 0), &g, blk, r->ws);
        return dx;
    }
    if (s->kind == CNN__STEP_CONV_ACT && s->count == 3) {
        /* dy = act'(z) * pool_backward(dp) made per sample, never stored;
         * dx in blocks of 8 where x was: the step before reads it so */
        const cnn__layer_rt *crt = &m->rt[f];
        cnn__conv_geom g = crt->st.conv.g;
        cnn__pool_geom pg = m->rt[last].st.pool;
        g.n = pg.n = r->batch;
        float *dx = f == 0 ? NULL : other(m, dy);
        int blk = s->blk | (s->blk & CNN__BLK_X ? CNN__BLK_DX : 0);
        cnn__conv2d_direct_backward_fused(dx, cnn__grad(r, crt, 0), cnn__grad(r, crt, 1), dy, m->act[f + 2], s->act,
                                          &pg, m->act[f], cnn__param(r, crt, 0), &g, blk, r->ws);
        return dx;
    }
    if (s->kind == CNN__STEP_BN_ACT_POOL) {
        /* dz = act'(a) * pool_backward(dp) in one pass, then the batch norm's backward */
        cnn__pool_geom pg = m->rt[last].st.pool;
        pg.n = r->batch;
        float *dz = other(m, dy), *dx = f == 0 ? NULL : other(m, dz);
        cnn__pool_act_backward(dz, dy, m->act[f + 2], &pg, s->act, s->blk != 0);
        cnn__batchnorm_layer_backward(r, &m->rt[f], dx, dz, m->act[f], s->blk != 0);
        return dx;
    }
    if (s->kind == CNN__STEP_BN_ACT) {
        float *dx = f == 0 ? NULL : other(m, dy);
        cnn__batchnorm_act_backward(r, &m->rt[f], dx, dy, m->act[f], m->act[f + 2], s->act, s->blk != 0);
        return dx;
    }
    if (s->kind == CNN__STEP_ACT_POOL) { /* dx = act'(z) * pool_backward(dy) in one pass per sample */
        cnn__pool_geom pg = m->rt[last].st.pool;
        pg.n = r->batch;
        float *dx = other(m, dy);
        cnn__pool_act_backward(dx, dy, m->act[f + 1], &pg, s->act, 0);
        return dx;
    }
    for (int i = last; i >= f && dy; i--) {
        float *dx = i == 0 ? NULL : other(m, dy); /* the first layer needs no input gradient */
        dy = cnn__layer_ops_of(m->layers[i].kind)->backward(r, &m->rt[i], &m->layers[i], dx, dy, m->act[i],
                                                            m->act[i + 1]);
    }
    return dy;
}

/* ---- cnn summary --plan --------------------------------------------------------- */

/* "1,234,567" */
static void commas(char *out, size_t cap, size_t v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
}

/* What runs step s, and in which layout. */
static void step_kernel(char *kernel, size_t kcap, char *layout, size_t lcap, const cnn_model *m,
                        const cnn__step *s, int batch) {
    const cnn__layer_ops *ops = ops_at(m, s->first);
    static const char *const order[CNN_MAX_DIMS + 1] = {"", "N", "NF", "NCL", "NCHW"}; /* PyTorch's */
    snprintf(layout, lcap, "%s", order[m->rt[s->first + s->count - 1].ndim]);
    if (s->kind == CNN__STEP_CONV_ACT) {
        snprintf(kernel, kcap, "conv2d direct + %s%s", s->act == CNN_ACT_SIGMOID ? "sigmoid"
                                                       : s->act == CNN_ACT_RELU ? "relu" : "tanh",
                 s->count == 3 ? " + pool" : "");
        if (s->blk)
            snprintf(layout, lcap, "blocks of 8:%s%s%s", s->blk & CNN__BLK_X ? " x" : "", s->blk & CNN__BLK_A ? " a" : "",
                     s->blk & CNN__BLK_P ? " p" : "");
    } else if (s->kind == CNN__STEP_ACT_POOL) {
        snprintf(kernel, kcap, "act + pool, one-pass backward");
    } else if (s->kind == CNN__STEP_BN_ACT || s->kind == CNN__STEP_BN_ACT_POOL) {
        snprintf(kernel, kcap, "batch norm + %s%s", s->act == CNN_ACT_SIGMOID ? "sigmoid"
                                                  : s->act == CNN_ACT_RELU ? "relu" : "tanh",
                 s->kind == CNN__STEP_BN_ACT_POOL ? " + pool" : ", one pass");
        if (s->blk) snprintf(layout, lcap, "blocks of 8");
    } else if (s->kind == CNN__STEP_CONV) {
        snprintf(kernel, kcap, "conv2d direct");
        snprintf(layout, lcap, "blocks of 8:%s%s", s->blk & CNN__BLK_X ? " x" : "", s->blk & CNN__BLK_Y ? " y" : "");
    } else if (s->kind == CNN__STEP_CONV_BN_ACT) {
        snprintf(kernel, kcap, "conv2d direct + bn + %s%s", s->act == CNN_ACT_SIGMOID ? "sigmoid"
                                                            : s->act == CNN_ACT_RELU ? "relu" : "tanh",
                 s->count == 4 ? " + pool" : "");
    } else if (ops->fuse == CNN__FUSE_CONV) {
        cnn__conv_geom g = m->rt[s->first].st.conv.g;
        g.n = batch;
        snprintf(kernel, kcap, "conv2d %s", cnn__conv2d_direct_ok(&g) ? "direct"
                                            : cnn__conv2d_cols_size(&g) ? "im2col + GEMM" : "GEMM");
    } else {
        snprintf(kernel, kcap, "%s", ops->kernel ? ops->kernel : "layer");
    }
}

int cnn_model_plan_print(FILE *f, const cnn_model *m, int batch) {
    if (!f || !m) return cnn__fail(CNN_EINVAL, "cnn_model_plan_print: %s is NULL", f ? "model" : "file");
    if (batch < 1 || batch > (1 << 24))
        return cnn__fail(CNN_EINVAL, "cnn_model_plan_print: batch is %d, expected 1..%d", batch, 1 << 24);
    cnn__step *steps = cnn_malloc((size_t)m->n_layers * sizeof *steps);
    if (!steps) return cnn__fail(CNN_ENOMEM, "cnn_model_plan_print: out of memory");
    const int n = cnn__plan_steps(m, batch, 1, steps);
    const size_t b = (size_t)batch;
    fprintf(f, "Plan for batch %d: %d steps for %d layers\n", batch, n, m->n_layers);
    fprintf(f, "%4s  %-36s %-32s %-18s %13s %13s\n", "Step", "Layers", "Kernel", "Layout", "Scratch (B)",
            "Buffers (B)");
    size_t ws_max = 0, buffers = 0;
    for (int k = 0; k < n; k++) {
        const cnn__step *s = &steps[k];
        char layers[128], kernel[64], layout[32], scratch[32], bufs[32];
        int o = snprintf(layers, sizeof layers, s->count > 1 ? "%d-%d " : "%d ", s->first, s->first + s->count - 1);
        size_t ws = 0, own = 0;
        for (int i = s->first; i < s->first + s->count; i++) {
            const cnn__layer_ops *ops = ops_at(m, i);
            if (o > 0 && (size_t)o < sizeof layers)
                o += snprintf(layers + o, sizeof layers - (size_t)o, "%s%s", i > s->first ? " > " : "",
                              cnn_layer_kind_name(m->layers[i].kind));
            cnn__need need;
            memset(&need, 0, sizeof need);
            if (ops->reserve) ops->reserve(&m->rt[i], &m->layers[i], batch, &need);
            if (!ops->passes_input && !cnn__plan_output_unused(m, i)) own += (size_t)m->rt[i].numel * b;
            for (int r = 0; r < need.n; r++) own += need.per_example[r] * b + need.fixed[r];
            size_t sc = need.ws + need.bscratch * b;
            if (sc > ws) ws = sc;
        }
        step_kernel(kernel, sizeof kernel, layout, sizeof layout, m, s, batch);
        commas(scratch, sizeof scratch, ws * sizeof(float));
        commas(bufs, sizeof bufs, own * sizeof(float));
        fprintf(f, "%4d  %-36s %-32s %-18s %13s %13s\n", k + 1, layers, kernel, layout, scratch, bufs);
        if (ws > ws_max) ws_max = ws;
        buffers += own;
    }
    char a[32], c[32];
    commas(a, sizeof a, ws_max * sizeof(float));
    commas(c, sizeof c, buffers * sizeof(float));
    fprintf(f, "Scratch: kernel workspace, shared by the steps (largest %s bytes). Buffers: the outputs and\n"
               "saved tensors of the step's layers (%s bytes in all).\n", a, c);
    cnn_free(steps);
    if (ferror(f)) return cnn__fail(CNN_EIO, "cnn_model_plan_print: write failed");
    return CNN_OK;
}
