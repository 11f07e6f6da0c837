/* optim.c — torch.optim's SGD, Adam and AdamW over the flat parameter
 * buffer, torch.nn.utils.clip_grad_norm_, and the learning-rate schedules
 * StepLR, CosineAnnealingLR and OneCycleLR (closed forms of PyTorch's rules).
 *
 * The update rules follow torch 1.13's single-tensor implementations,
 * operation by operation, in float:
 *   SGD    g = grad + wd p;  b = g (first step) or mu b + g;  d = nesterov ? g + mu b : b;  p -= lr d
 *   Adam   g = grad + wd p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g g;
 *          p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   AdamW  p *= 1 - lr wd;  then Adam with g = grad
 * Bias corrections are computed in double, as Python computes them.
 */
#include "cnn_internal.h"

#include <math.h>
#include <string.h>

#define CNN__PI 3.14159265358979323846 /* Python's math.pi */

const char *cnn_optim_name(cnn_optim_kind kind) {
    switch (kind) {
    case CNN_OPTIM_SGD: return "sgd";
    case CNN_OPTIM_ADAM: return "adam";
    case CNN_OPTIM_ADAMW: return "adamw";
    }
    return "?";
}

cnn_optim cnn_optim_make(cnn_optim_kind kind, float lr) {
    cnn_optim o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = lr;
    o.beta1 = 0.9f, o.beta2 = 0.999f, o.eps = 1e-8f;
    o.weight_decay = kind == CNN_OPTIM_ADAMW ? 0.01f : 0.0f;
    return o;
}

static int cnn__check_unit(const char *what, float v, float lo, float hi, int hi_open) {
    if (!(v >= lo) || !(hi_open ? v < hi : v <= hi) || !isfinite(v))
        return cnn__fail(CNN_ERANGE, "cnn_optim_init: %s %g, expected a value in [%g, %g%s", what, (double)v,
                         (double)lo, (double)hi, hi_open ? ")" : "]");
    return CNN_OK;
}

int cnn_optim_init(cnn_optim *o, size_t num_params) {
    if (!o) return cnn__fail(CNN_EINVAL, "cnn_optim_init: opt is NULL");
    o->buf1 = o->buf2 = NULL;
    o->buf_live = 0;
    o->steps = 0;
    o->n = num_params;
    if (o->kind != CNN_OPTIM_SGD && o->kind != CNN_OPTIM_ADAM && o->kind != CNN_OPTIM_ADAMW)
        return cnn__fail(CNN_EINVAL, "cnn_optim_init: unknown optimizer %d", (int)o->kind);
    CNN_TRY(cnn__check_unit("learning rate", o->lr, 0.0f, 1e30f, 0));
    CNN_TRY(cnn__check_unit("weight decay", o->weight_decay, 0.0f, 1e30f, 0));
    if (o->kind == CNN_OPTIM_SGD) {
        CNN_TRY(cnn__check_unit("momentum", o->momentum, 0.0f, 1e30f, 0));
        if (o->nesterov && o->momentum <= 0.0f)
            return cnn__fail(CNN_EINVAL, "cnn_optim_init: Nesterov momentum requires a momentum > 0");
    } else {
        CNN_TRY(cnn__check_unit("beta1", o->beta1, 0.0f, 1.0f, 1));
        CNN_TRY(cnn__check_unit("beta2", o->beta2, 0.0f, 1.0f, 1));
        CNN_TRY(cnn__check_unit("eps", o->eps, 0.0f, 1e30f, 0));
    }
    size_t n = num_params ? num_params : 1;
    o->buf1 = cnn_calloc(n, sizeof(float));
    if (o->kind != CNN_OPTIM_SGD) o->buf2 = cnn_calloc(n, sizeof(float));
    if (!o->buf1 || (o->kind != CNN_OPTIM_SGD && !o->buf2)) {
        cnn_optim_free(o);
        return cnn__fail(CNN_ENOMEM, "cnn_optim_init: out of memory for %zu optimizer values", num_params);
    }
    return CNN_OK;
}

void cnn_optim_free(cnn_optim *o) {
    if (!o) return;
    cnn_free(o->buf1);
    cnn_free(o->buf2);
    o->buf1 = o->buf2 = NULL;
}

/* SGD; the momentum buffer starts as a copy of g on the first step that
 * uses momentum (torch's "buf is None"), tracked by buf_live. */
static void cnn__sgd(cnn_optim *o, float *p, const float *grad, int *buf_live) {
    const float lr = o->lr, mu = o->momentum, wd = o->weight_decay;
    const int first = !*buf_live;
    float *buf = o->buf1;
    for (size_t i = 0; i < o->n; i++) {
        float g = grad[i];
        if (wd != 0.0f) g += wd * p[i];
        if (mu != 0.0f) {
            buf[i] = first ? g : mu * buf[i] + g;
            g = o->nesterov ? g + mu * buf[i] : buf[i];
        }
        p[i] -= lr * g;
    }
    if (mu != 0.0f) *buf_live = 1;
}

static void cnn__adam(cnn_optim *o, float *p, const float *grad) {
    const float lr = o->lr, wd = o->weight_decay, b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const int decoupled = o->kind == CNN_OPTIM_ADAMW;
    const double t = (double)o->steps + 1.0;
    const double bc1 = 1.0 - pow((double)b1, t), bc2 = 1.0 - pow((double)b2, t);
    const float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float decay = (float)(1.0 - (double)lr * (double)wd);
    float *m = o->buf1, *v = o->buf2;
    for (size_t i = 0; i < o->n; i++) {
        float g = grad[i];
        if (decoupled) p[i] *= decay;
        else if (wd != 0.0f) g += wd * p[i];
        m[i] = m[i] * b1 + g * (1.0f - b1);
        v[i] = v[i] * b2 + (1.0f - b2) * g * g;
        const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += -step_size * (m[i] / denom);
    }
}

void cnn_optim_step(cnn_optim *o, float *params, const float *grads) {
    if (o->kind == CNN_OPTIM_SGD) {
        cnn__sgd(o, params, grads, &o->buf_live);
    } else {
        cnn__adam(o, params, grads);
    }
    o->steps++;
}

double cnn_clip_grad_norm(float *grads, size_t n, double max_norm) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * (double)grads[i];
    const double total = sqrt(ss);
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
        for (size_t i = 0; i < n; i++) grads[i] *= c;
    }
    return total;
}

/* OneCycleLR's _annealing_cos: end + (start - end) / 2 * (cos(pi * pct) + 1) */
static double cnn__anneal_cos(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (cos(CNN__PI * pct) + 1.0);
}

float cnn_schedule_lr(const cnn_schedule *s, int epoch, int64_t step, float *momentum) {
    switch (s->kind) {
    case CNN_SCHEDULE_NONE: return s->base_lr;
    case CNN_SCHEDULE_STEP:
        return (float)((double)s->base_lr * pow((double)s->gamma, (double)(epoch / (s->step_size > 0 ? s->step_size : 1))));
    case CNN_SCHEDULE_COSINE: {
        int tmax = s->epochs > 0 ? s->epochs : 1;
        return (float)((double)s->base_lr * (1.0 + cos(CNN__PI * (double)epoch / (double)tmax)) / 2.0);
    }
    case CNN_SCHEDULE_ONECYCLE: {
        /* phases: [0, pct*T - 1] initial -> max (momentum 0.95 -> 0.85), then -> min (0.85 -> 0.95) */
        const double max_lr = s->max_lr, initial = max_lr / 25.0, min_lr = initial / 1e4;
        const double end1 = 0.3 * (double)s->total_steps - 1.0, end2 = (double)s->total_steps - 1.0;
        double lr, mom, x = (double)step;
        if (x <= end1) {
            double pct = x / end1;
            lr = cnn__anneal_cos(initial, max_lr, pct);
            mom = cnn__anneal_cos(0.95, 0.85, pct);
        } else {
            double pct = (x - end1) / (end2 - end1);
            lr = cnn__anneal_cos(max_lr, min_lr, pct);
            mom = cnn__anneal_cos(0.85, 0.95, pct);
        }
        if (momentum) *momentum = (float)mom;
        return (float)lr;
    }
    }
    return s->base_lr;
}
