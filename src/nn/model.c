/* model.c — nn.Sequential at run time: building, workspace, forward and
 * backward over the step plan, accessors.
 *
 * A model is a list of layer descriptions, the shapes they produce, one
 * parameter buffer and one gradient buffer with the same layout (tensors in
 * state_dict order: "0.weight", "0.bias", "3.conv1.weight", ...), a buffer of
 * running statistics (BatchNorm's running_mean / running_var, which no
 * optimizer touches) plus int64 counters (num_batches_tracked), and a
 * workspace planned once for a maximum batch size by cnn_model_reserve():
 *
 *   out      each layer's output (batch, ...), but for layers that pass
 *            their input on (Flatten, Identity)
 *   regions  what a layer asks for besides (its table entry's reserve):
 *            dropout masks, BatchNorm statistics, kept im2col columns, ...
 *   grad_a/b two ping-pong buffers for activation gradients during backward
 *   bscratch backward scratch shared by the layers that ask for it
 *   ws       scratch for the conv kernels
 *
 * What each layer does is in its table entry (nn/layer.h, src/nn/layers/);
 * which layers run together is the step plan (nn/plan.c). Forward and
 * backward allocate nothing. Every layer describes its tensors as "slots"
 * (name, shape, initialiser); the state_dict table, initialisation and I/O
 * are loops over the slots.
 */
#include "nn/model.h"
#include "nn/shard.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const cnn__layer_ops *ops_of(const cnn_model *m, int i) { return cnn__layer_ops_of(m->layers[i].kind); }

int cnn__layer_fail(int rc, const cnn_layer_desc *l, int i) {
    if (l->line > 0)
        return cnn__fail_context(rc, "line %d:%d: layer %d (%s)", l->line, l->column, i,
                                 cnn_layer_kind_name(l->kind));
    return cnn__fail_context(rc, "layer %d (%s)", i, cnn_layer_kind_name(l->kind));
}

/* ---- building ------------------------------------------------------------- */

/* Layer l's output shape from its input shape (batch 1); fills rt. */
static int layer_plan(cnn__layer_rt *rt, const cnn_layer_desc *l, int ndim, const int64_t *shape) {
    const cnn__layer_ops *ops = cnn__layer_ops_of(l->kind);
    if (!ops) return cnn__fail(CNN_EINVAL, "unknown layer kind %d", (int)l->kind);
    rt->in_ndim = rt->ndim = ndim;
    memcpy(rt->in_shape, shape, sizeof rt->in_shape);
    memcpy(rt->shape, shape, sizeof rt->shape);
    rt->in_numel = cnn__shape_numel(ndim, shape);
    if (ops->plan) CNN_TRY(ops->plan(rt, l));
    rt->numel = cnn__shape_numel(rt->ndim, rt->shape);
    if (rt->numel <= 0 || rt->numel > CNN_MAX_NUMEL)
        return cnn__fail(CNN_ERANGE, "output has %s%lld elements per example, expected 1..%lld",
                         rt->numel == INT64_MAX ? "more than " : "", (long long)rt->numel, (long long)CNN_MAX_NUMEL);
    return CNN_OK;
}

int cnn_model_create(cnn_model **model, const cnn_layer_desc *layers, int n_layers,
                     const int64_t input_chw[3]) {
    if (!model) return cnn__fail(CNN_EINVAL, "cnn_model_create: model is NULL");
    *model = NULL;
    if (!layers || n_layers <= 0)
        return cnn__fail(CNN_EINVAL, "cnn_model_create: expected at least one layer, found %d", n_layers);
    if (!input_chw) return cnn__fail(CNN_EINVAL, "cnn_model_create: input shape is NULL");
    for (int d = 0; d < 3; d++)
        if (input_chw[d] <= 0 || input_chw[d] > (1 << 20))
            return cnn__fail(CNN_ERANGE, "cnn_model_create: input shape dim %d is %lld, expected 1..%d", d,
                             (long long)input_chw[d], 1 << 20);
    cnn_model *m = cnn_calloc(1, sizeof *m);
    if (!m) return cnn__fail(CNN_ENOMEM, "cnn_model_create: out of memory");
    m->layers = cnn_malloc((size_t)n_layers * sizeof *m->layers);
    m->rt = cnn_calloc((size_t)n_layers, sizeof *m->rt);
    m->steps = cnn_calloc((size_t)n_layers, sizeof *m->steps);
    if (!m->layers || !m->rt || !m->steps) {
        cnn_model_free(m);
        return cnn__fail(CNN_ENOMEM, "cnn_model_create: out of memory");
    }
    memcpy(m->layers, layers, (size_t)n_layers * sizeof *layers);
    m->n_layers = n_layers;
    memcpy(m->in_chw, input_chw, sizeof m->in_chw);
    m->in_numel = input_chw[0] * input_chw[1] * input_chw[2];

    int ndim = 4;
    int64_t shape[CNN_MAX_DIMS] = {1, input_chw[0], input_chw[1], input_chw[2]};
    size_t off = 0, boff = 0, coff = 0;
    int n_tensors = 0, n_binfo = 0;
    for (int i = 0; i < n_layers; i++) {
        cnn__layer_rt *rt = &m->rt[i];
        int rc = layer_plan(rt, &layers[i], ndim, shape);
        size_t sz;
        for (int k = 0; k < rt->np && rc == CNN_OK; k++) {
            rt->p[k].off = off;
            if (cnn__add_overflow(off, rt->p[k].numel, &off) || cnn__mul_overflow(off, sizeof(float), &sz) ||
                off > (size_t)CNN_MAX_PARAMS)
                rc = cnn__fail(CNN_ERANGE, "the model has more than %lld parameters (%zu so far)",
                               (long long)CNN_MAX_PARAMS, off);
            n_tensors += rt->p[k].numel > 0;
        }
        for (int k = 0; k < rt->nb && rc == CNN_OK; k++) {
            size_t *o = rt->b[k].is_counter ? &coff : &boff;
            rt->b[k].off = *o;
            *o += rt->b[k].numel;
            n_binfo += rt->b[k].numel > 0;
        }
        if (rc < 0) {
            cnn_model_free(m);
            return cnn__layer_fail(rc, &layers[i], i);
        }
        ndim = rt->ndim;
        memcpy(shape, rt->shape, sizeof shape);
    }
    m->n_params = off, m->n_bufs = boff, m->n_counters = coff;
    m->params = cnn_calloc(off ? off : 1, sizeof(float));
    m->grads = cnn_calloc(off ? off : 1, sizeof(float));
    m->bufs = cnn_calloc(boff ? boff : 1, sizeof(float));
    m->counters = cnn_calloc(coff ? coff : 1, sizeof(int64_t));
    m->tensors = cnn_calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *m->tensors);
    m->binfo = cnn_calloc((size_t)(n_binfo ? n_binfo : 1), sizeof *m->binfo);
    if (!m->params || !m->grads || !m->bufs || !m->counters || !m->tensors || !m->binfo) {
        cnn_model_free(m);
        return cnn__fail(CNN_ENOMEM, "cnn_model_create: out of memory for %zu parameters", off);
    }
    /* state_dict entries: each layer's parameters, then its buffers (kept in
     * a separate table, as they live in separate memory). */
    for (int i = 0; i < n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        for (int k = 0; k < rt->np; k++) {
            const cnn__pslot *s = &rt->p[k];
            if (!s->numel) continue;
            cnn_param_info *t = &m->tensors[m->n_tensors++];
            snprintf(t->name, sizeof t->name, "%d.%s", i, s->name);
            t->layer = i, t->offset = s->off, t->numel = s->numel, t->ndim = s->ndim;
            memcpy(t->shape, s->shape, sizeof t->shape);
        }
        for (int k = 0; k < rt->nb; k++) {
            const cnn__bslot *s = &rt->b[k];
            if (!s->numel) continue;
            cnn_buffer_info *t = &m->binfo[m->n_binfo++];
            snprintf(t->name, sizeof t->name, "%d.%s", i, s->name);
            t->layer = i, t->offset = s->off, t->numel = s->numel, t->is_counter = s->is_counter;
            t->ndim = s->is_counter ? 0 : 1;
            t->shape[0] = s->is_counter ? 0 : (int64_t)s->numel;
        }
    }
    cnn_model_reset_buffers(m);
    *model = m;
    return CNN_OK;
}

int cnn_model_create_from_text(cnn_model **model, const char *text, const char *source,
                               const int64_t input_chw[3]) {
    cnn_layer_desc *layers = NULL;
    int n = 0;
    if (model) *model = NULL;
    CNN_TRY(cnn_model_parse(&layers, &n, text, source));
    int rc = cnn_model_create(model, layers, n, input_chw);
    cnn_free(layers);
    if (rc < 0 && source) return cnn__fail_context(rc, "%s", source);
    return rc;
}

void cnn_model_free(cnn_model *m) {
    if (!m) return;
    if (!m->borrowed) {
        cnn_free(m->layers);
        cnn_free(m->params);
        cnn_free(m->tensors);
        cnn_free(m->binfo);
    }
    cnn_free(m->rt);
    cnn_free(m->steps);
    cnn_free(m->grads);
    cnn_free(m->bufs);
    cnn_free(m->counters);
    cnn_free(m->arena);
    cnn_free(m->act);
    cnn_free(m);
}

/* ---- shards of a batch (nn/shard.h) ----------------------------------------- */

/* The first parameter of layer i or a later one (n_params if none): the
 * gradients from there on are final once layer i's backward has run. */
static size_t param_from(const cnn_model *m, int i) {
    for (; i < m->n_layers; i++)
        for (int k = 0; k < m->rt[i].np; k++)
            if (m->rt[i].p[k].numel) return m->rt[i].p[k].off;
    return m->n_params;
}

int cnn__model_clone(cnn_model **out, const cnn_model *m) {
    *out = NULL;
    cnn_model *c = cnn_malloc(sizeof *c);
    if (!c) return cnn__fail(CNN_ENOMEM, "out of memory for a shard's model");
    *c = *m;
    c->borrowed = 1;
    c->arena = NULL, c->act = NULL, c->max_batch = 0, c->n_steps = 0, c->plan_batch = 0, c->batch = 0;
    c->sync = NULL, c->grad_hook = NULL, c->grad_hook_ctx = NULL;
    c->rt = cnn_malloc((size_t)m->n_layers * sizeof *c->rt);
    c->steps = cnn_calloc((size_t)m->n_layers, sizeof *c->steps);
    c->grads = cnn_calloc(m->n_params ? m->n_params : 1, sizeof(float));
    c->bufs = cnn_malloc((m->n_bufs ? m->n_bufs : 1) * sizeof(float));
    c->counters = cnn_malloc((m->n_counters ? m->n_counters : 1) * sizeof(int64_t));
    if (!c->rt || !c->steps || !c->grads || !c->bufs || !c->counters) {
        cnn_model_free(c);
        return cnn__fail(CNN_ENOMEM, "out of memory for a shard's model (%zu parameters)", m->n_params);
    }
    memcpy(c->rt, m->rt, (size_t)m->n_layers * sizeof *c->rt);
    memcpy(c->bufs, m->bufs, m->n_bufs * sizeof(float));
    memcpy(c->counters, m->counters, m->n_counters * sizeof(int64_t));
    *out = c;
    return CNN_OK;
}

void cnn__model_set_sync(cnn_model *m, const cnn__shard_sync *sync) { m->sync = sync; }

void cnn__model_set_grad_hook(cnn_model *m, void (*hook)(void *ctx, size_t from), void *ctx) {
    m->grad_hook = hook, m->grad_hook_ctx = ctx;
}

int cnn__model_has_batch_sums(const cnn_model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        cnn_layer_kind k = m->layers[i].kind;
        if (k == CNN_LAYER_BATCHNORM2D || k == CNN_LAYER_BATCHNORM1D || k == CNN_LAYER_RESIDUAL) return 1;
    }
    return 0;
}

size_t cnn__model_sync_doubles(const cnn_model *m) {
    int64_t c = m->in_chw[0]; /* channels: dimension 1 of every layer's input and output */
    for (int i = 0; i < m->n_layers; i++) {
        if (m->rt[i].ndim >= 2 && m->rt[i].shape[1] > c) c = m->rt[i].shape[1];
        if (m->rt[i].in_ndim >= 2 && m->rt[i].in_shape[1] > c) c = m->rt[i].in_shape[1];
    }
    return 4 * (size_t)c + 1;
}

/* ---- accessors ------------------------------------------------------------- */

int cnn_model_num_layers(const cnn_model *m) { return m ? m->n_layers : 0; }

const cnn_layer_desc *cnn_model_layer(const cnn_model *m, int i) {
    return m && i >= 0 && i < m->n_layers ? &m->layers[i] : NULL;
}

int cnn_model_layer_shape(const cnn_model *m, int i, int *ndim, int64_t shape[CNN_MAX_DIMS]) {
    if (!m || !ndim || !shape) return cnn__fail(CNN_EINVAL, "cnn_model_layer_shape: NULL argument");
    if (i < 0 || i >= m->n_layers)
        return cnn__fail(CNN_ERANGE, "cnn_model_layer_shape: layer %d, expected 0..%d", i, m->n_layers - 1);
    *ndim = m->rt[i].ndim;
    memcpy(shape, m->rt[i].shape, sizeof m->rt[i].shape);
    return CNN_OK;
}

void cnn_model_input_shape(const cnn_model *m, int64_t chw[3]) { memcpy(chw, m->in_chw, sizeof m->in_chw); }

int64_t cnn_model_num_outputs(const cnn_model *m) { return m->rt[m->n_layers - 1].numel; }

size_t cnn_model_num_params(const cnn_model *m) { return m ? m->n_params : 0; }
float *cnn_model_params(cnn_model *m) { return m ? m->params : NULL; }
float *cnn_model_grads(cnn_model *m) { return m ? m->grads : NULL; }
const float *cnn_model_params_const(const cnn_model *m) { return m ? m->params : NULL; }
const float *cnn_model_grads_const(const cnn_model *m) { return m ? m->grads : NULL; }
int cnn_model_num_tensors(const cnn_model *m) { return m ? m->n_tensors : 0; }

int cnn_model_tensor_info(const cnn_model *m, int i, cnn_param_info *info) {
    if (!m || !info) return cnn__fail(CNN_EINVAL, "cnn_model_tensor_info: NULL argument");
    if (i < 0 || i >= m->n_tensors)
        return cnn__fail(CNN_ERANGE, "cnn_model_tensor_info: tensor %d, expected 0..%d", i, m->n_tensors - 1);
    *info = m->tensors[i];
    return CNN_OK;
}

int cnn_model_num_buffers(const cnn_model *m) { return m ? m->n_binfo : 0; }
float *cnn_model_buffers(cnn_model *m) { return m ? m->bufs : NULL; }
int64_t *cnn_model_counters(cnn_model *m) { return m ? m->counters : NULL; }
const float *cnn_model_buffers_const(const cnn_model *m) { return m ? m->bufs : NULL; }
const int64_t *cnn_model_counters_const(const cnn_model *m) { return m ? m->counters : NULL; }

int cnn_model_buffer_info(const cnn_model *m, int i, cnn_buffer_info *info) {
    if (!m || !info) return cnn__fail(CNN_EINVAL, "cnn_model_buffer_info: NULL argument");
    if (i < 0 || i >= m->n_binfo)
        return cnn__fail(CNN_ERANGE, "cnn_model_buffer_info: buffer %d, expected 0..%d", i, m->n_binfo - 1);
    *info = m->binfo[i];
    return CNN_OK;
}

/* ---- initialisation ---------------------------------------------------------- */

void cnn_model_reset_buffers(cnn_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        for (int k = 0; k < rt->nb; k++) {
            const cnn__bslot *s = &rt->b[k];
            for (size_t j = 0; j < s->numel; j++) {
                if (s->is_counter) m->counters[s->off + j] = 0;
                else m->bufs[s->off + j] = s->init;
            }
        }
    }
}

static void fill_uniform(float *p, size_t n, double bound, cnn_rng *rng) {
    for (size_t k = 0; k < n; k++) p[k] = (float)((2.0 * cnn_rng_uniform(rng) - 1.0) * bound);
}

int cnn_model_init_params(cnn_model *m, cnn_init_kind kind, cnn_rng *rng) {
    if (!m || !rng) return cnn__fail(CNN_EINVAL, "cnn_model_init_params: NULL argument");
    if (kind != CNN_INIT_DEFAULT && kind != CNN_INIT_XAVIER)
        return cnn__fail(CNN_EINVAL, "cnn_model_init_params: unknown init kind %d", (int)kind);
    for (int i = 0; i < m->n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        for (int k = 0; k < rt->np; k++) {
            const cnn__pslot *s = &rt->p[k];
            float *p = m->params + s->off;
            /* default: kaiming_uniform_(a=sqrt(5)) has bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in);
             * xavier_uniform_: bound sqrt(6/(fan_in+fan_out)). Bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
             * BatchNorm: weight 1, bias 0 (reset_parameters). */
            switch (s->init) {
            case CNN__INIT_FAN_WEIGHT:
                fill_uniform(p, s->numel,
                             kind == CNN_INIT_XAVIER ? sqrt(6.0 / (s->fan_in + s->fan_out)) : 1.0 / sqrt(s->fan_in),
                             rng);
                break;
            case CNN__INIT_FAN_BIAS: fill_uniform(p, s->numel, 1.0 / sqrt(s->fan_in), rng); break;
            case CNN__INIT_ONES: for (size_t j = 0; j < s->numel; j++) p[j] = 1.0f; break;
            case CNN__INIT_ZEROS: memset(p, 0, s->numel * sizeof *p); break;
            }
        }
    }
    cnn_model_reset_buffers(m);
    return CNN_OK;
}

void cnn_model_zero_grad(cnn_model *m) {
    if (m) memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---- workspace ------------------------------------------------------------ */

/* Layer i's workspace needs for up to max_batch examples. */
static cnn__need layer_need(const cnn_model *m, int i, int max_batch) {
    cnn__need need;
    memset(&need, 0, sizeof need);
    const cnn__layer_ops *ops = ops_of(m, i);
    if (ops->reserve) ops->reserve(&m->rt[i], &m->layers[i], max_batch, &need);
    CNN_ASSERT(need.n >= 0 && need.n <= CNN__MAX_REGIONS);
    return need;
}

/* Floats of region k of a need for b examples; 1 on overflow. */
static int region_floats(const cnn__need *need, int k, size_t b, size_t *n) {
    return cnn__mul_overflow(need->per_example[k], b, n) || cnn__add_overflow(*n, need->fixed[k], n);
}

int cnn_model_reserve(cnn_model *m, int max_batch) {
    if (!m) return cnn__fail(CNN_EINVAL, "cnn_model_reserve: model is NULL");
    if (max_batch <= 0 || max_batch > (1 << 24))
        return cnn__fail(CNN_ERANGE, "cnn_model_reserve: batch size %d, expected 1..%d", max_batch, 1 << 24);
    if (max_batch <= m->max_batch && m->isa == cnn_get_isa()) return CNN_OK;
    if (max_batch < m->max_batch) max_batch = m->max_batch; /* re-planned for another instruction set */
    cnn__blas_single_threaded();
    /* Count floats: every layer's output and regions, two gradient buffers
     * of the largest activation (input included), kernel scratch, backward
     * scratch. */
    size_t total = 0, largest = (size_t)m->in_numel, ws = 0, bs = 0, b = (size_t)max_batch, sz;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn__layer_rt *rt = &m->rt[i];
        cnn__need need = layer_need(m, i, max_batch);
        if (!ops_of(m, i)->passes_input && !cnn__plan_output_unused(m, i) &&
            (cnn__mul_overflow((size_t)rt->numel, b, &sz) || cnn__add_overflow(total, sz, &total)))
            goto too_big;
        for (int k = 0; k < need.n; k++)
            if (region_floats(&need, k, b, &sz) || cnn__add_overflow(total, sz, &total)) goto too_big;
        if ((size_t)rt->numel > largest) largest = (size_t)rt->numel;
        if (need.ws > ws) ws = need.ws;
        if (need.bscratch > bs) bs = need.bscratch;
    }
    if (cnn__mul_overflow(largest, b, &sz) || cnn__mul_overflow(sz, 2, &sz) ||
        cnn__add_overflow(total, sz, &total) || cnn__add_overflow(total, ws, &total) ||
        cnn__mul_overflow(bs, b, &sz) || cnn__add_overflow(total, sz, &total) ||
        cnn__mul_overflow(total, sizeof(float), &sz))
        goto too_big;
    float *arena = cnn_malloc(sz ? sz : 1);
    const float **act = cnn_calloc((size_t)m->n_layers + 1, sizeof *act);
    if (!arena || !act) {
        cnn_free(arena);
        cnn_free(act);
        return cnn__fail(CNN_ENOMEM, "cnn_model_reserve: out of memory for a workspace of %zu bytes (batch %d)",
                         sz, max_batch);
    }
    cnn_free(m->arena);
    cnn_free(m->act);
    m->arena = arena, m->act = act, m->max_batch = max_batch, m->batch = 0, m->isa = cnn_get_isa();
    float *p = arena;
    for (int i = 0; i < m->n_layers; i++) {
        cnn__layer_rt *rt = &m->rt[i];
        cnn__need need = layer_need(m, i, max_batch);
        rt->out = NULL;
        memset(rt->region, 0, sizeof rt->region);
        if (!ops_of(m, i)->passes_input && !cnn__plan_output_unused(m, i)) rt->out = p, p += (size_t)rt->numel * b;
        for (int k = 0; k < need.n; k++) {
            size_t nk = 0;
            region_floats(&need, k, b, &nk);
            if (nk) rt->region[k] = p, p += nk;
        }
    }
    m->grad_a = p, p += largest * b;
    m->grad_b = p, p += largest * b;
    m->bscratch = p, p += bs * b;
    m->ws = p;
    /* The layers' outputs and the kernels' workspace are touched now, so that
     * no forward pays for their pages (first use faults them in); the
     * gradient buffers, which some models never use in full, are not. */
    memset(arena, 0, (size_t)((char *)m->grad_a - (char *)arena));
    memset(m->ws, 0, sz - (size_t)((char *)m->ws - (char *)arena));
    m->n_steps = cnn__plan_steps(m, max_batch, 1, m->steps);
    m->plan_batch = max_batch, m->plan_keep = 1;
    return CNN_OK;
too_big:
    return cnn__fail(CNN_ERANGE, "cnn_model_reserve: workspace for batch %d overflows", max_batch);
}

/* ---- forward and backward ------------------------------------------------------ */

/* mode: cnn_model_forward's train (CNN_EVAL, CNN_TRAIN or CNN_EVAL_GRAD; any other nonzero value trains) */
static cnn__run run_of(cnn_model *m, int batch, int mode, cnn_rng *rng) {
    const int train = mode != CNN_EVAL && mode != CNN_EVAL_GRAD, keep = mode != CNN_EVAL;
    cnn__run r = {m->params, m->grads, m->bufs, m->counters, m->ws, m->bscratch, batch, train, rng, m->sync, keep};
    return r;
}

int cnn_model_forward(cnn_model *m, const float **logits, const float *x, int batch, int train,
                      cnn_rng *rng) {
    if (!m || !logits || !x) return cnn__fail(CNN_EINVAL, "cnn_model_forward: NULL argument");
    if (batch <= 0) return cnn__fail(CNN_ERANGE, "cnn_model_forward: batch size %d, expected >= 1", batch);
    /* Workspace sizes and fusions depend on the kernels' instruction set. */
    if (batch > m->max_batch || m->isa != cnn_get_isa()) CNN_TRY(cnn_model_reserve(m, batch));
    /* Which layers fuse depends on the batch size (the direct kernels' plan)
     * and on whether the outputs are kept for a backward. */
    const cnn__run r = run_of(m, batch, train, rng);
    if (batch != m->plan_batch || r.keep != m->plan_keep)
        m->n_steps = cnn__plan_steps(m, batch, r.keep, m->steps), m->plan_batch = batch, m->plan_keep = r.keep;
    m->batch = 0; /* no valid forward until this one completes */
    m->dropped = !r.keep; /* CNN_EVAL: steps and layers may keep only what inference needs */
    m->act[0] = x;
    for (int k = 0; k < m->n_steps; k++) CNN_TRY(cnn__step_forward(m, &r, &m->steps[k]));
    m->batch = batch;
    m->train = train;
    *logits = m->act[m->n_layers];
    return CNN_OK;
}

int cnn_model_backward(cnn_model *m, const float *dlogits) {
    if (!m || !dlogits) return cnn__fail(CNN_EINVAL, "cnn_model_backward: NULL argument");
    if (m->batch <= 0) return cnn__fail(CNN_EINVAL, "cnn_model_backward: no forward pass to differentiate");
    if (m->isa != cnn_get_isa())
        return cnn__fail(CNN_EINVAL, "cnn_model_backward: the instruction set changed to %s after the forward "
                                     "(planned for %s); run the forward again",
                         cnn_isa_name(cnn_get_isa()), cnn_isa_name(m->isa));
    if (m->dropped)
        return cnn__fail(CNN_EINVAL, "cnn_model_backward: the last forward (train=0, CNN_EVAL) kept only the outputs "
                                     "inference needs; run the forward with train=1 (CNN_TRAIN) or CNN_EVAL_GRAD first");
    const cnn__run r = run_of(m, m->batch, m->train, NULL);
    const float *dy = dlogits;
    for (int k = m->n_steps - 1; k >= 0 && dy; k--) {
        dy = cnn__step_backward(m, &r, &m->steps[k], dy);
        if (m->grad_hook) m->grad_hook(m->grad_hook_ctx, param_from(m, m->steps[k].first));
    }
    if (m->grad_hook) m->grad_hook(m->grad_hook_ctx, 0);
    return CNN_OK;
}

/* ---- divergence ------------------------------------------------------------ */

int cnn_model_first_nonfinite_layer(const cnn_model *m, int *layer) {
    if (!m || !layer) return cnn__fail(CNN_EINVAL, "cnn_model_first_nonfinite_layer: NULL argument");
    *layer = -1;
    if (m->batch <= 0) return cnn__fail(CNN_EINVAL, "cnn_model_first_nonfinite_layer: no forward to inspect");
    for (int k = 0; k < m->n_steps; k++) {
        const cnn__step *s = &m->steps[k];
        int kept = 0; /* an output of this step was kept before layer i */
        for (int i = s->first; i < s->first + s->count; i++) {
            const float *y = m->act[i + 1]; /* (batch, numel); NULL if not kept */
            size_t n = y ? (size_t)m->rt[i].numel * (size_t)m->batch : 0;
            for (size_t j = 0; j < n; j++)
                if (!isfinite(y[j])) {
                    /* Sigmoid, ReLU, Tanh and pooling map finite inputs to
                     * finite outputs: in a fused step whose first outputs
                     * (a Conv2d's, a BatchNorm's) were not kept, the first
                     * one kept is non-finite because the step's first layer
                     * made it so (with Conv2d > BatchNorm2d both unkept,
                     * the Conv2d is named). */
                    *layer = !kept && i > s->first ? s->first : i;
                    return CNN_OK;
                }
            kept |= y != NULL;
        }
    }
    return CNN_OK;
}
