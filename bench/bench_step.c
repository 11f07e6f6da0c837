/* bench_step.c — training and inference throughput of one model in isolation:
 * forward + cross-entropy + backward + SGD on random data, best of several
 * repetitions (robust against a busy machine).
 *
 *   build/bench/bench_step [MODEL_FILE] [--batch N] [--threads T] [--steps K] [--reps R]
 *
 * Prints examples/sec for a training step and for inference, and the
 * achieved GFLOP/s counting 2 FLOP per mult-add and, for training, 3x the
 * forward less the first layer's input gradient (never computed). */
#include "cnn.h"
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    if (buf && fread(buf, 1, (1 << 20) - 1, f) == 0) buf[0] = '\0';
    fclose(f);
    return buf;
}

/* Forward mult-adds per example, as `cnn summary` counts them (its
 * Mult-Adds column, residual blocks included); *first those of layer 0,
 * whose input gradient training does not compute. */
static double macs_per_example(const cnn_model *m, double *first) {
    double macs = 0;
    *first = 0;
    char *text = NULL, line[512];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return 0;
    int ok = cnn_model_summary(f, m, 1) == CNN_OK;
    fclose(f);
    FILE *r = ok ? fmemopen(text, len, "r") : NULL;
    for (int on = 0, seen = 0; r && fgets(line, sizeof line, r);) {
        if (strstr(line, "Mult-Adds")) { on = 1; continue; }
        if (strstr(line, "Total mult-adds")) break;
        char *v = strrchr(line, ' ');
        if (!on || !v) continue;
        double x = 0;
        int digits = 0;
        for (v++; *v && *v != '\n'; v++)
            if (*v >= '0' && *v <= '9') x = 10 * x + (*v - '0'), digits++;
            else if (*v != ',') { digits = 0; break; }
        if (!digits) continue;
        macs += x;
        if (!seen) *first = x, seen = 1;
    }
    if (r) fclose(r);
    free(text);
    return macs;
}

int main(int argc, char **argv) {
    const char *path = "models/lenet.txt";
    int batch = 256, threads = 0, steps = 20, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else path = argv[i];
    }
    cnn_set_threads(threads);
    char *text = slurp(path);
    cnn_model *m = NULL;
    if (!text || cnn_model_create_from_text(&m, text, path, (int64_t[]){1, 28, 28}) < 0) {
        fprintf(stderr, "bench_step: %s: %s\n", path, text ? cnn_last_error() : "cannot read");
        return 1;
    }
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    cnn_model_init_params(m, CNN_INIT_XAVIER, &rng);
    cnn_model_reserve(m, batch);
    int64_t c = cnn_model_num_outputs(m);
    size_t in = 28 * 28 * (size_t)batch;
    float *x = malloc(in * sizeof *x), *probs = malloc((size_t)(batch * c) * sizeof(float));
    float *dlogits = malloc((size_t)(batch * c) * sizeof(float));
    int32_t *y = malloc((size_t)batch * sizeof *y);
    for (size_t k = 0; k < in; k++) x[k] = cnn_rng_uniform(&rng);
    for (int k = 0; k < batch; k++) y[k] = (int32_t)cnn_rng_below(&rng, (uint64_t)c);
    cnn_optim opt = cnn_optim_make(CNN_OPTIM_SGD, 0.01f);
    cnn_optim_init(&opt, cnn_model_num_params(m));
    double best_train = 1e30, best_infer = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int s = 0; s < steps; s++) {
            const float *logits;
            cnn_model_zero_grad(m);
            cnn_model_forward(m, &logits, x, batch, 1, &rng);
            cnn__cross_entropy_forward(probs, logits, y, batch, c);
            cnn__cross_entropy_backward(dlogits, probs, y, batch, c, 1.0f / (float)batch);
            cnn_model_backward(m, dlogits);
            cnn_optim_step(&opt, cnn_model_params(m), cnn_model_grads(m));
        }
        double t1 = now();
        for (int s = 0; s < steps; s++) {
            const float *logits;
            cnn_model_forward(m, &logits, x, batch, 0, NULL);
        }
        double t2 = now();
        if (t1 - t0 < best_train) best_train = t1 - t0;
        if (t2 - t1 < best_infer) best_infer = t2 - t1;
    }
    double first, ex = (double)steps * batch, macs = macs_per_example(m, &first);
    printf("model %s, batch %d, %d threads\n", path, batch, cnn_get_threads());
    printf("train: %.0f examples/s, %.1f GFLOP/s\n", ex / best_train, ex / best_train * (3 * macs - first) * 2 / 1e9);
    printf("infer: %.0f examples/s, %.1f GFLOP/s\n", ex / best_infer, ex / best_infer * macs * 2 / 1e9);
    cnn_optim_free(&opt);
    cnn_model_free(m);
    free(text), free(x), free(probs), free(dlogits), free(y);
    return 0;
}
