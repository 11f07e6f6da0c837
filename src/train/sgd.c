/* sgd.c — torch.optim.SGD (dampening 0) over the flat parameter buffer.
 *
 *   g = grad + wd * p
 *   b = g on the first step, then b = mu * b + g
 *   d = nesterov ? g + mu * b : b            (d = g when mu == 0)
 *   p = p - lr * d
 */
#include "cnn_internal.h"

#include <math.h>
#include <string.h>

int cnn_sgd_init(cnn_sgd *opt, size_t num_params, float lr, float momentum, float weight_decay) {
    if (!opt) return cnn__fail(CNN_EINVAL, "cnn_sgd_init: opt is NULL");
    memset(opt, 0, sizeof *opt);
    if (!(lr >= 0.0f) || !isfinite(lr))
        return cnn__fail(CNN_ERANGE, "cnn_sgd_init: learning rate %g, expected a finite value >= 0", (double)lr);
    if (!(momentum >= 0.0f) || !isfinite(momentum))
        return cnn__fail(CNN_ERANGE, "cnn_sgd_init: momentum %g, expected a finite value >= 0", (double)momentum);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return cnn__fail(CNN_ERANGE, "cnn_sgd_init: weight decay %g, expected a finite value >= 0",
                         (double)weight_decay);
    opt->lr = lr, opt->momentum = momentum, opt->weight_decay = weight_decay, opt->n = num_params;
    if (momentum != 0.0f) {
        opt->momentum_buf = cnn_calloc(num_params, sizeof(float));
        if (!opt->momentum_buf)
            return cnn__fail(CNN_ENOMEM, "cnn_sgd_init: out of memory for %zu momentum values", num_params);
    }
    return CNN_OK;
}

void cnn_sgd_step(cnn_sgd *opt, float *params, const float *grads) {
    const float lr = opt->lr, mu = opt->momentum, wd = opt->weight_decay;
    const int first = opt->steps == 0;
    float *buf = opt->momentum_buf;
    for (size_t i = 0; i < opt->n; i++) {
        float g = grads[i];
        if (wd != 0.0f) g += wd * params[i];
        if (buf) {
            buf[i] = first ? g : mu * buf[i] + g;
            g = opt->nesterov ? g + mu * buf[i] : buf[i];
        }
        params[i] -= lr * g;
    }
    opt->steps++;
}

void cnn_sgd_free(cnn_sgd *opt) {
    if (!opt) return;
    cnn_free(opt->momentum_buf);
    opt->momentum_buf = NULL;
}
