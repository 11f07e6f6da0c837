/* loss.c — nn.CrossEntropyLoss (mean), nn.MSELoss (mean), the sum of squared
 * errors, and the accuracy count d2l.accuracy computes.
 *
 * Cross-entropy works on log-softmax computed stably: per row the maximum is
 * subtracted before exponentiating and logsumexp is accumulated in double,
 * so logits of 1e4 (where a naive softmax overflows) give exact results.
 * The forward kernel keeps softmax(z) for the backward kernel:
 *   loss = mean_n( log sum_j exp(z_nj) - z_n,y_n ),  dz = (softmax(z) - onehot(y)) / N.
 * Labels are class indices (int32), checked against [0, C); there is no
 * ignore_index. An empty batch gives NaN for the mean losses, as in PyTorch.
 */
#include "core/core.h"
#include "ops/ops.h"

#include <math.h>

/* ---- cross-entropy kernels ---------------------------------------------- */

/* Returns mean_n(logsumexp(z_n) - z_n[y_n]) over logits (n, c); probs (n, c)
 * <- softmax(z), or nothing when probs is NULL. Rows go in order, so the
 * result does not depend on the thread count. */
double cnn__cross_entropy_forward(float *probs, const float *logits, const int32_t *y,
                                  int64_t n, int64_t c) {
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * c;
        double m = z[0];
        for (int64_t j = 1; j < c; j++)
            if (!(z[j] <= m)) m = z[j]; /* a NaN wins and propagates */
        double s = 0.0;
        for (int64_t j = 0; j < c; j++) {
            double e = exp((double)z[j] - m);
            s += e;
            if (probs) probs[i * c + j] = (float)e;
        }
        if (probs) {
            double inv = 1.0 / s;
            for (int64_t j = 0; j < c; j++) probs[i * c + j] = (float)(probs[i * c + j] * inv);
        }
        total += m + log(s) - (double)z[y[i]];
    }
    return total / (double)n; /* NaN for n == 0, as torch's mean over nothing */
}

/* dlogits (n, c) = (probs - onehot(y)) * scale; dlogits may alias probs. */
void cnn__cross_entropy_backward(float *dlogits, const float *probs, const int32_t *y,
                                 int64_t n, int64_t c, float scale) {
    for (int64_t i = 0; i < n; i++) {
        float target = probs[i * c + y[i]] - 1.0f; /* read before the row is overwritten */
        for (int64_t j = 0; j < c; j++) dlogits[i * c + j] = probs[i * c + j] * scale;
        dlogits[i * c + y[i]] = target * scale;
    }
}

/* ---- tensor functions ---------------------------------------------------- */

/* logits is (N, C) or (C) (one example); labels holds N ints in [0, C). */
static int class_sizes(const char *fn, const cnn_tensor *logits, const int32_t *labels,
                       int64_t *n, int64_t *c) {
    CNN_TRY(cnn__tensor_check_nonempty(fn, "logits", logits));
    if (logits->ndim > 2)
        return cnn__fail(CNN_ESHAPE, "%s: logits has shape %s; expected (N, C) or (C)", fn,
                         cnn__shape_str(logits->ndim, logits->shape).s);
    *n = logits->ndim == 2 ? logits->shape[0] : 1;
    *c = logits->shape[logits->ndim - 1];
    if (*n > 0 && !labels) return cnn__fail(CNN_EINVAL, "%s: labels is NULL", fn);
    for (int64_t i = 0; i < *n; i++)
        if (labels[i] < 0 || labels[i] >= *c)
            return cnn__fail(CNN_ERANGE, "%s: labels[%lld] is %d; expected a class index in [0, %lld) "
                             "for logits of shape %s", fn, (long long)i, (int)labels[i],
                             (long long)*c, cnn__shape_str(logits->ndim, logits->shape).s);
    return CNN_OK;
}

int cnn_cross_entropy(float *loss, cnn_tensor *dlogits, const cnn_tensor *logits,
                      const int32_t *labels) {
    static const char fn[] = "cnn_cross_entropy";
    if (dlogits) *dlogits = (cnn_tensor)CNN_TENSOR_EMPTY;
    if (!loss) return cnn__fail(CNN_EINVAL, "%s: loss is NULL", fn);
    int64_t n, c;
    CNN_TRY(class_sizes(fn, logits, labels, &n, &c));
    if (!dlogits) {
        *loss = (float)cnn__cross_entropy_forward(NULL, logits->data, labels, n, c);
        return CNN_OK;
    }
    CNN_TRY(cnn_tensor_zeros(dlogits, logits->ndim, logits->shape));
    /* softmax goes into dlogits, then becomes the gradient in place. */
    *loss = (float)cnn__cross_entropy_forward(dlogits->data, logits->data, labels, n, c);
    cnn__cross_entropy_backward(dlogits->data, dlogits->data, labels, n, c, (float)(1.0 / (double)n));
    return CNN_OK;
}

/* loss = sum((a - b)^2) * norm (in double); da <- 2 (a - b) * norm. */
static int squared_error(const char *fn, float *loss, cnn_tensor *da, const cnn_tensor *a,
                         const cnn_tensor *b, int mean) {
    if (da) *da = (cnn_tensor)CNN_TENSOR_EMPTY;
    if (!loss) return cnn__fail(CNN_EINVAL, "%s: loss is NULL", fn);
    CNN_TRY(cnn__tensor_check_nonempty(fn, "a", a));
    CNN_TRY(cnn__tensor_check_nonempty(fn, "b", b));
    CNN_TRY(cnn__tensor_check_same(fn, "b", b, "a", a));
    int64_t numel = cnn_tensor_numel(a);
    if (da) CNN_TRY(cnn_tensor_zeros(da, a->ndim, a->shape));
    double norm = mean ? 1.0 / (double)numel : 1.0; /* inf for an empty mean: NaN loss */
    float gscale = (float)(2.0 * norm);
    double sum = 0.0;
    for (int64_t i = 0; i < numel; i++) {
        float d = a->data[i] - b->data[i];
        sum += (double)d * d;
        if (da) da->data[i] = gscale * d;
    }
    *loss = (float)(mean && numel == 0 ? NAN : sum * norm);
    return CNN_OK;
}

int cnn_mse_loss(float *loss, cnn_tensor *da, const cnn_tensor *a, const cnn_tensor *b) {
    return squared_error("cnn_mse_loss", loss, da, a, b, 1);
}

int cnn_sse_loss(float *loss, cnn_tensor *da, const cnn_tensor *a, const cnn_tensor *b) {
    return squared_error("cnn_sse_loss", loss, da, a, b, 0);
}

int cnn_count_correct(int64_t *correct, const cnn_tensor *logits, const int32_t *labels) {
    static const char fn[] = "cnn_count_correct";
    if (!correct) return cnn__fail(CNN_EINVAL, "%s: correct is NULL", fn);
    *correct = 0;
    int64_t n, c;
    CNN_TRY(class_sizes(fn, logits, labels, &n, &c));
    int64_t hits = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits->data + i * c;
        int64_t best = 0;
        /* argmax as torch.argmax: the first maximum wins, a NaN counts as the maximum. */
        for (int64_t j = 1; j < c && !isnan(z[best]); j++)
            if (z[j] > z[best] || isnan(z[j])) best = j;
        hits += best == labels[i];
    }
    *correct = hits;
    return CNN_OK;
}
