/* bench_model.c — one model on the real data through the public API only, as
 * a program that embeds libcnn would run it; the counterpart of
 * bench/torch_model.py, which measures PyTorch the same way:
 *
 *   train   cnn_train (shuffled minibatches of --batch, SGD at --lr, cross-
 *           entropy, xavier init as `cnn train`): --warmup steps, then steps
 *           until --train-seconds of compute; examples/s, compute only
 *           (forward, loss, backward, update, as d2l counts), of the median
 *           timed step, and over all of them.
 *   infer   eval mode, batches of --batch test images (converted beforehand),
 *           one cnn_model_forward per batch, each timed; the median forward
 *           of each of --reps rounds, the best round.
 *   latency the same at each batch size of --latency (default 1,4,16).
 * Medians, because the host may be shared: a neighbour that takes a CPU for a
 * moment (and with it one of two threads at a barrier) slows a few calls by
 * milliseconds, not the typical call.
 *
 *   build/bench/bench_model MODEL_FILE [--data DIR] [--threads T] [--batch N] [--lr X]
 *       [--resize N] [--warmup K] [--train-seconds S] [--infer-seconds S] [--reps R]
 *       [--latency 1,4,16] [--seed N]
 *
 * Prints "key value" lines (bench/run.sh reads them; torch_model.py prints the
 * same keys): train_examples_per_sec (the median step), train_examples_per_sec_all,
 * train_steps, infer_examples_per_sec,
 * latency_ms_B and examples_per_sec_B for each latency batch size B, and
 * max_rss_kib, the process's peak resident memory (getrusage). */
#include "cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Training progress: each timed step's examples and compute seconds (the
 * steps after the warm-up), and when to stop. */
typedef struct {
    int warmup, min_steps, max_steps;
    double seconds;       /* timed compute wanted */
    double prev;          /* compute seconds at the last event */
    int64_t prev_seen;    /* examples seen this epoch at the last event */
    int timed, cap;       /* timed steps done, room in n and dt */
    int *n;               /* [timed] examples of each timed step */
    double *dt;           /* [timed] its compute seconds */
    double compute;       /* compute seconds of the timed steps */
} train_clock;

static int on_event(const cnn_train_event *ev, void *user) {
    train_clock *c = user;
    if (ev->kind != CNN_EVENT_BATCH) return 0;
    int64_t n = ev->examples >= c->prev_seen ? ev->examples - c->prev_seen : ev->examples; /* new epoch */
    double dt = ev->compute_seconds - c->prev;
    c->prev_seen = ev->examples, c->prev = ev->compute_seconds;
    if (ev->step <= c->warmup) return 0;
    if (c->timed == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        int *nn = realloc(c->n, (size_t)cap * sizeof *nn);
        if (nn) c->n = nn;
        double *dd = realloc(c->dt, (size_t)cap * sizeof *dd);
        if (dd) c->dt = dd;
        if (!nn || !dd) return 1; /* out of memory: stop with the steps so far */
        c->cap = cap;
    }
    c->n[c->timed] = (int)n, c->dt[c->timed] = dt, c->timed++;
    c->compute += dt;
    return (c->compute >= c->seconds && c->timed >= c->min_steps) || c->timed >= c->max_steps;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n), n >= 1 (sorts v). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Examples/s of the median timed step (in seconds per example: a last
 * partial batch counts as much as a full one), and over all of them in *all.
 * The median, not the mean: a neighbour that takes the CPU for a moment slows
 * a few steps, not the typical one. */
static double train_rate(const train_clock *c, double *all) {
    double n_all = 0, *per = malloc((size_t)c->timed * sizeof *per);
    for (int i = 0; i < c->timed; i++) n_all += c->n[i];
    *all = n_all / c->compute;
    if (!per) return *all;
    for (int i = 0; i < c->timed; i++) per[i] = c->dt[i] / c->n[i];
    double med = median(per, c->timed);
    free(per);
    return 1.0 / med;
}

/* Seconds per forward at batch b over the n images of x (img floats each):
 * after a warm-up, reps rounds of forwards, each at least `seconds`/reps
 * long and 3 forwards; the median forward of each round, the best round. */
static double time_forward(cnn_model *m, const float *x, int64_t n, int64_t img, int b, int reps, double seconds) {
    const float *logits;
    int64_t at = 0;
    int cap = 1024;
    double *t = malloc((size_t)cap * sizeof *t), best = 1e30;
    if (!t) return -1;
    for (int w = 0; w < 3; w++) { /* warm-up: the step plan for this batch size, caches */
        if (at + b > n) at = 0;
        if (cnn_model_forward(m, &logits, x + at * img, b, 0, NULL) < 0) goto fail;
        at += b;
    }
    for (int r = 0; r < reps; r++) {
        int calls = 0;
        double t0 = now(), t1 = t0;
        do {
            if (at + b > n) at = 0;
            if (calls == cap) {
                double *tt = realloc(t, (size_t)(cap *= 2) * sizeof *t);
                if (!tt) goto fail;
                t = tt;
            }
            double c0 = t1;
            if (cnn_model_forward(m, &logits, x + at * img, b, 0, NULL) < 0) goto fail;
            t1 = now();
            t[calls++] = t1 - c0, at += b;
        } while (t1 - t0 < seconds / reps || calls < 3);
        double med = median(t, calls);
        if (med < best) best = med;
    }
    free(t);
    return best;
fail:
    free(t);
    return -1;
}

static int fail(const char *what) {
    fprintf(stderr, "bench_model: %s: %s\n", what, cnn_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = NULL, *data = "data/fashion-mnist", *lat = "1,4,16";
    int threads = 0, batch = 256, resize = 0, warmup = 3, reps = 5;
    double lr = 0.1, train_seconds = 3.0, infer_seconds = 1.5;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            path = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_model: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--lr")) lr = atof(v);
        else if (!strcmp(a, "--resize")) resize = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--train-seconds")) train_seconds = atof(v);
        else if (!strcmp(a, "--infer-seconds")) infer_seconds = atof(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--latency")) lat = v;
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "bench_model: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!path || batch < 1 || reps < 1 || warmup < 0 || resize < 0) {
        fprintf(stderr, "usage: bench_model MODEL_FILE [--data DIR] [--threads T] [--batch N] [--lr X] "
                        "[--resize N] [--warmup K] [--train-seconds S] [--infer-seconds S] [--reps R] "
                        "[--latency 1,4,16] [--seed N]\n");
        return 2;
    }
    cnn_set_threads(threads);

    cnn_dataset train = {0}, test = {0};
    if (cnn_data_load(&train, &test, data, NULL) < 0) return fail(data); /* any format cnn train reads */
    int64_t chw[3] = {cnn_dataset_channels(&train), resize ? resize : train.h, resize ? resize : train.w};
    char *text = NULL;
    cnn_model *m = NULL;
    if (cnn_file_read(path, 1 << 20, &text, NULL) < 0) return fail(path);
    if (cnn_model_create_from_text(&m, text, path, chw) < 0) return fail(path);
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    cnn_model_init_params(m, CNN_INIT_XAVIER, &rng);
    printf("model %s, input %lldx%lldx%lld, batch %d, %d threads\n", path, (long long)chw[0], (long long)chw[1],
           (long long)chw[2], batch, cnn_get_threads());

    /* Training. */
    cnn_train_config cfg;
    cnn_train_config_default(&cfg);
    cfg.epochs = 1000, cfg.batch_size = batch, cfg.lr = (float)lr, cfg.seed = seed, cfg.resize = resize;
    train_clock clock = {.warmup = warmup, .min_steps = 3, .max_steps = 100000, .seconds = train_seconds};
    int rc = cnn_train(m, &train, NULL, &cfg, on_event, &clock);
    if (rc < 0 && rc != CNN_EINTR) return fail("training");
    if (clock.timed == 0 || clock.compute <= 0) {
        fprintf(stderr, "bench_model: no timed training step\n");
        return 1;
    }
    double all, best = train_rate(&clock, &all);
    printf("train_examples_per_sec %.1f\ntrain_examples_per_sec_all %.1f\n", best, all);
    printf("train_steps %d\n", clock.timed);
    free(clock.n), free(clock.dt);

    /* Inference: test images converted once, as x (n, C, H, W). */
    int64_t img = chw[0] * chw[1] * chw[2], n = test.n < 4096 ? test.n : 4096;
    if (n < batch) batch = (int)n;
    float *x = malloc((size_t)(n * img) * sizeof *x),
          *tmp = malloc((size_t)(n * chw[0] * test.h * test.w) * sizeof *tmp);
    int32_t *y = malloc((size_t)n * sizeof *y);
    if (!x || !tmp || !y) {
        fprintf(stderr, "bench_model: out of memory\n");
        return 1;
    }
    if (cnn_dataset_batch_resized(x, tmp, y, &test, NULL, 0, (int)n, resize) < 0) return fail("test images");
    double s = time_forward(m, x, n, img, batch, reps, infer_seconds);
    if (s < 0) return fail("inference");
    printf("infer_examples_per_sec %.1f\n", batch / s);
    for (const char *p = lat; *p;) {
        char *end;
        long b = strtol(p, &end, 10);
        if (end == p || b < 1 || b > n) {
            fprintf(stderr, "bench_model: --latency: expected batch sizes 1..%lld separated by commas, found '%s'\n",
                    (long long)n, lat);
            return 2;
        }
        s = time_forward(m, x, n, img, (int)b, reps, infer_seconds / 2);
        if (s < 0) return fail("inference");
        printf("latency_ms_%ld %.4f\nexamples_per_sec_%ld %.1f\n", b, 1e3 * s, b, b / s);
        p = *end == ',' ? end + 1 : end;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("max_rss_kib %ld\n", ru.ru_maxrss);
    free(x), free(tmp), free(y);
    cnn_free(text);
    cnn_model_free(m);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return 0;
}
