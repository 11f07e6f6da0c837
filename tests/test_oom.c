/* test_oom.c — every allocation failure is reported, never crashes, never leaks.
 *
 * A counting allocator (installed with cnn_set_allocator) numbers the
 * allocation requests of an operation and fails the n-th one. For n = 1, 2, ...
 * each operation is run until it succeeds without reaching the failure. Every
 * failed attempt must return a negative status with a message, and the number
 * of live allocations must return to its value before the attempt (the
 * operation's teardown included). Objects created before an attempt (a model,
 * say) must still work afterwards: the attempt is repeated without a failure
 * and must succeed.
 *
 * Operations: (a) LeNet from models/lenet.txt; (b) cnn_model_reserve + one
 * forward/backward; (c) IDX datasets, plain and gzip; (d) safetensors weights;
 * (e) one epoch of cnn_train (batch 8) with evaluation; (f) a PNG image;
 * (g) cnn_model_save. Run it under the sanitizer build too
 * (cmake -DCNN_SANITIZE=ON), which also catches double frees and wild frees.
 */
#include "test_util.h"

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define OOM_TRY(expr)                                                                     \
    do {                                                                                  \
        int oom__rc = (expr);                                                             \
        if (oom__rc < 0) return oom__rc;                                                  \
    } while (0)

/* ---- the counting allocator ---------------------------------------------- */

static long oom_calls;   /* allocation requests since arming */
static long oom_fail_at; /* fail request number oom_fail_at (1-based); 0: never */
static int oom_armed;    /* count (and fail) only while armed */
static int oom_hit;      /* the failure was injected during this attempt */
static long oom_live;    /* live allocations (armed or not) */

static int oom_should_fail(void) {
    if (!oom_armed) return 0;
    oom_calls++;
    if (oom_fail_at > 0 && oom_calls == oom_fail_at) {
        oom_hit = 1;
        return 1;
    }
    return 0;
}

static void *oom_malloc(size_t n) {
    if (oom_should_fail()) return NULL;
    void *p = malloc(n);
    if (p) oom_live++;
    return p;
}

static void *oom_calloc(size_t c, size_t n) {
    if (oom_should_fail()) return NULL;
    void *p = calloc(c, n);
    if (p) oom_live++;
    return p;
}

static void *oom_realloc(void *old, size_t n) {
    if (oom_should_fail()) return NULL;
    void *p = realloc(old, n);
    if (p && !old) oom_live++;
    return p;
}

static void oom_free(void *p) {
    if (p) oom_live--;
    free(p);
}

/* ---- the driver ------------------------------------------------------------ */

/* One operation: setup and teardown run unarmed, body armed. body returns a
 * cnn status; setup may leave state in ctx for body and teardown. */
typedef struct {
    const char *name;
    int (*setup)(void *ctx);
    int (*body)(void *ctx);
    void (*teardown)(void *ctx);
    int retry_after_failure; /* body must succeed when repeated unarmed after a failure */
} oom_case;

static char tmpdir[] = "/tmp/cnn-oom-XXXXXX";

/* A watchdog: an attempt that runs for ATTEMPT_SECONDS is reported as a hang. */
#define ATTEMPT_SECONDS 20
static const char *volatile watch_case;
static volatile long watch_n;

static void on_alarm(int sig) {
    (void)sig;
    char msg[256];
    int k = snprintf(msg, sizeof msg,
                     "%s: HANG: the call did not return within %d s after allocation #%ld failed\n",
                     watch_case ? watch_case : "?", ATTEMPT_SECONDS, watch_n);
    if (k > 0) (void)!write(2, msg, (size_t)k);
    _exit(1);
}

/* Run one case for every n; returns the number of failure points seen. */
static long run_case(const oom_case *c, void *ctx) {
    long n, other = 0;
    for (n = 1;; n++) {
        long live0 = oom_live;
        if (c->setup && c->setup(ctx) != CNN_OK) {
            fprintf(stderr, "%s: setup failed: %s\n", c->name, cnn_last_error());
            CHECK(0);
            return n;
        }
        cnn_clear_error();
        watch_case = c->name, watch_n = n;
        alarm(ATTEMPT_SECONDS);
        oom_calls = 0, oom_fail_at = n, oom_hit = 0, oom_armed = 1;
        int rc = c->body(ctx);
        oom_armed = 0;
        alarm(0);
        long calls = oom_calls;
        if (!oom_hit) {
            /* Reached the end without meeting failure number n: done. */
            if (rc != CNN_OK) {
                fprintf(stderr, "%s: expected success without an injected failure, got %s: %s\n", c->name,
                        cnn_status_name(rc), cnn_last_error());
                CHECK(0);
            }
            if (c->teardown) c->teardown(ctx);
            CHECK_INT_EQ(oom_live, live0);
            printf("%-28s %3ld allocations, each failure handled\n", c->name, calls);
            break;
        }
        int failed_ok = rc < 0 && cnn_last_error()[0] != '\0';
        if (!failed_ok) {
            fprintf(stderr, "%s: allocation #%ld failed but the call returned %s with message \"%s\"\n",
                    c->name, n, cnn_status_name(rc), cnn_last_error());
        }
        CHECK(failed_ok);
        if (rc < 0 && rc != CNN_ENOMEM) {
            other++;
            printf("  note: %s: allocation #%ld failed -> %s: %s\n", c->name, n, cnn_status_name(rc),
                   cnn_last_error());
        }
        if (c->retry_after_failure) {
            int rc2 = c->body(ctx);
            if (rc2 != CNN_OK) {
                fprintf(stderr, "%s: after a failure at allocation #%ld, the retry failed: %s: %s\n", c->name,
                        n, cnn_status_name(rc2), cnn_last_error());
            }
            CHECK_OK(rc2);
        }
        if (c->teardown) c->teardown(ctx);
        if (oom_live != live0) {
            fprintf(stderr, "%s: allocation #%ld failed: %ld allocation(s) leaked\n", c->name, n,
                    oom_live - live0);
        }
        CHECK_INT_EQ(oom_live, live0);
        if (n > 100000) {
            fprintf(stderr, "%s: no success after %ld attempts\n", c->name, n);
            CHECK(0);
            break;
        }
    }
    (void)other;
    return n;
}

/* ---- shared state ------------------------------------------------------------ */

static char *lenet_text;
static const int64_t chw28[3] = {1, 28, 28};

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

typedef struct {
    cnn_model *m;
    cnn_dataset train, test;
    const char *images, *labels, *path;
    int64_t h, w;
    float *out;
    int batch;
    int entries; /* files in tmpdir before a save */
} oom_ctx;

static void ctx_free(void *p) {
    oom_ctx *c = p;
    cnn_model_free(c->m);
    c->m = NULL;
    cnn_dataset_free(&c->train);
    cnn_dataset_free(&c->test);
}

static int lenet_setup(void *p) {
    oom_ctx *c = p;
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    OOM_TRY(cnn_model_create_from_text(&c->m, lenet_text, "models/lenet.txt", chw28));
    return cnn_model_init_params(c->m, CNN_INIT_XAVIER, &rng);
}

/* (a) */
static int body_create(void *p) {
    oom_ctx *c = p;
    return cnn_model_create_from_text(&c->m, lenet_text, "models/lenet.txt", chw28);
}

/* (a') parse, then create from the layers */
static int body_parse_create(void *p) {
    oom_ctx *c = p;
    cnn_layer_desc *layers = NULL;
    int n = 0;
    OOM_TRY(cnn_model_parse(&layers, &n, lenet_text, "models/lenet.txt"));
    int rc = cnn_model_create(&c->m, layers, n, chw28);
    cnn_free(layers);
    return rc;
}

/* (b) */
static int body_reserve_step(void *p) {
    oom_ctx *c = p;
    static float x[4 * 28 * 28], dlogits[4 * 10];
    for (int i = 0; i < 4 * 28 * 28; i++) x[i] = (float)(i % 17) / 17.0f;
    for (int i = 0; i < 4 * 10; i++) dlogits[i] = (i % 10 == 3) ? -0.25f : 0.025f;
    const float *logits;
    OOM_TRY(cnn_model_reserve(c->m, 4));
    OOM_TRY(cnn_model_forward(c->m, &logits, x, 4, 1, NULL));
    cnn_model_zero_grad(c->m);
    return cnn_model_backward(c->m, dlogits);
}

/* (c) */
static int body_dataset(void *p) {
    oom_ctx *c = p;
    OOM_TRY(cnn_dataset_load(&c->train, c->images, c->labels));
    CHECK(c->train.n == 32 && c->train.h == 28 && c->train.w == 28);
    return CNN_OK;
}

static int body_split(void *p) {
    oom_ctx *c = p;
    return cnn_dataset_load_split(&c->train, c->path, "train");
}

static int body_idx_images(void *p) {
    oom_ctx *c = p;
    uint8_t *px = NULL;
    int64_t n, h, w;
    OOM_TRY(cnn_idx_read_images(&px, &n, &h, &w, c->images));
    cnn_free(px);
    return CNN_OK;
}

/* (d) */
static int body_load(void *p) {
    oom_ctx *c = p;
    return cnn_model_load(c->m, c->path);
}

/* (e) */
static int train_setup(void *p) {
    oom_ctx *c = p;
    OOM_TRY(lenet_setup(p));
    char dir[512];
    snprintf(dir, sizeof dir, "%s/step", CNN_FIXTURES_DIR);
    OOM_TRY(cnn_dataset_load_split(&c->train, dir, "train"));
    return cnn_dataset_load_split(&c->test, dir, "t10k");
}

static int body_train(void *p) {
    oom_ctx *c = p;
    cnn_train_config cfg;
    cnn_train_config_default(&cfg);
    cfg.epochs = 1;
    cfg.batch_size = c->batch;
    cfg.lr = 0.1f;
    cfg.momentum = 0.9f;
    cfg.weight_decay = 1e-4f;
    return cnn_train(c->m, &c->train, &c->test, &cfg, NULL, NULL);
}

static int body_evaluate(void *p) {
    oom_ctx *c = p;
    double acc;
    return cnn_evaluate(c->m, &c->test, c->batch, &acc);
}

/* (f) */
static int body_png(void *p) {
    oom_ctx *c = p;
    return cnn_png_read_gray(c->out, c->path, c->h, c->w);
}

static int count_entries(const char *dir);

/* (g) */
static int body_save(void *p) {
    oom_ctx *c = p;
    int rc = cnn_model_save(c->m, c->path);
    if (rc < 0) {
        /* A failed save leaves neither the file nor a temporary file. */
        struct stat st;
        CHECK(stat(c->path, &st) != 0);
        CHECK_INT_EQ(count_entries(tmpdir), c->entries);
    }
    return rc;
}

/* ---- fixtures built here ----------------------------------------------------- */

static void put_be32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16), b[2] = (unsigned char)(v >> 8),
    b[3] = (unsigned char)v;
}

static void png_chunk(FILE *f, const char *kind, const unsigned char *body, uint32_t n) {
    unsigned char b[4];
    put_be32(b, n);
    fwrite(b, 1, 4, f);
    fwrite(kind, 1, 4, f);
    if (n) fwrite(body, 1, n, f);
    uLong crc = crc32(0, (const Bytef *)kind, 4);
    if (n) crc = crc32(crc, body, n);
    put_be32(b, (uint32_t)crc);
    fwrite(b, 1, 4, f);
}

/* An RGB 8-bit w x h PNG (so the gray conversion runs too). */
static int write_png(const char *path, uint32_t w, uint32_t h) {
    unsigned char ihdr[13] = {0};
    put_be32(ihdr, w), put_be32(ihdr + 4, h);
    ihdr[8] = 8, ihdr[9] = 2;
    size_t raw_n = (size_t)h * (1 + 3 * w);
    unsigned char *raw = malloc(raw_n);
    uLongf zn = compressBound((uLong)raw_n);
    unsigned char *z = malloc(zn);
    if (!raw || !z) return -1;
    for (size_t i = 0; i < raw_n; i++) raw[i] = (unsigned char)(i * 7);
    for (uint32_t y = 0; y < h; y++) raw[y * (1 + 3 * w)] = 0; /* filter: none */
    compress(z, &zn, raw, (uLong)raw_n);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    png_chunk(f, "IHDR", ihdr, 13);
    png_chunk(f, "IDAT", z, (uint32_t)zn);
    png_chunk(f, "IEND", NULL, 0);
    free(raw);
    free(z);
    return fclose(f) == 0 ? 0 : -1;
}

/* Number of entries in dir other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char path[1024];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(void) {
    char path[1024], images[1024], labels[1024], gzdir[1024];
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGALRM, on_alarm);
    cnn_set_threads(1);
    snprintf(path, sizeof path, "%s/models/lenet.txt", CNN_SOURCE_DIR);
    lenet_text = read_text(path);
    if (!lenet_text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    cnn_set_allocator(oom_malloc, oom_realloc, oom_calloc, oom_free);
    oom_ctx c;
    memset(&c, 0, sizeof c);

    /* (a) building LeNet from its text */
    oom_case create = {"(a) create_from_text", NULL, body_create, ctx_free, 0};
    run_case(&create, &c);
    oom_case parse = {"(a) parse + create", NULL, body_parse_create, ctx_free, 0};
    run_case(&parse, &c);

    /* (b) reserve + one forward/backward */
    oom_case step = {"(b) reserve+forward+backward", lenet_setup, body_reserve_step, ctx_free, 1};
    run_case(&step, &c);

    /* (c) IDX datasets, plain and gzip */
    snprintf(images, sizeof images, "%s/step/train-images-idx3-ubyte", CNN_FIXTURES_DIR);
    snprintf(labels, sizeof labels, "%s/step/train-labels-idx1-ubyte", CNN_FIXTURES_DIR);
    c.images = images, c.labels = labels;
    oom_case ds = {"(c) cnn_dataset_load", NULL, body_dataset, ctx_free, 0};
    run_case(&ds, &c);
    oom_case idx = {"(c) cnn_idx_read_images", NULL, body_idx_images, NULL, 0};
    run_case(&idx, &c);
    {
        /* gzip copies, written with the default allocator's hooks unarmed */
        cnn_dataset plain;
        CHECK_OK(cnn_dataset_load(&plain, images, labels));
        snprintf(gzdir, sizeof gzdir, "%s/train-images-idx3-ubyte.gz", tmpdir);
        int64_t dims[3] = {plain.n, plain.h, plain.w};
        CHECK_OK(cnn_idx_write_u8(gzdir, 3, dims, plain.images));
        snprintf(gzdir, sizeof gzdir, "%s/train-labels-idx1-ubyte.gz", tmpdir);
        CHECK_OK(cnn_idx_write_labels(gzdir, dims[0], plain.labels));
        cnn_dataset_free(&plain);
        c.path = tmpdir;
        oom_case split = {"(c) load_split (gzip)", NULL, body_split, ctx_free, 0};
        run_case(&split, &c);
    }

    /* (d) safetensors weights */
    snprintf(path, sizeof path, "%s/step/init.safetensors", CNN_FIXTURES_DIR);
    c.path = path;
    oom_case load = {"(d) cnn_model_load", lenet_setup, body_load, ctx_free, 1};
    run_case(&load, &c);

    /* (e) one epoch of training, batch 8, with test accuracy */
    c.batch = 8;
    oom_case train = {"(e) cnn_train", train_setup, body_train, ctx_free, 1};
    run_case(&train, &c);
    oom_case eval = {"(e) cnn_evaluate", train_setup, body_evaluate, ctx_free, 1};
    run_case(&eval, &c);

    /* (f) a PNG image */
    snprintf(path, sizeof path, "%s/image.png", tmpdir);
    CHECK(write_png(path, 28, 28) == 0);
    float out[28 * 28];
    c.path = path, c.out = out, c.h = 28, c.w = 28;
    oom_case png = {"(f) cnn_png_read_gray", NULL, body_png, NULL, 0};
    run_case(&png, &c);
    unlink(path);

    /* (g) saving weights: a failed save leaves no file behind */
    int before = count_entries(tmpdir);
    c.entries = before;
    snprintf(path, sizeof path, "%s/saved.safetensors", tmpdir);
    c.path = path;
    oom_case save = {"(g) cnn_model_save", lenet_setup, body_save, ctx_free, 0};
    long attempts = run_case(&save, &c);
    CHECK_INT_EQ(count_entries(tmpdir), before + 1); /* only the final file */
    CHECK(attempts > 1);

    cnn_set_allocator(NULL, NULL, NULL, NULL);
    remove_tree(tmpdir);
    free(lenet_text);
    return test_report();
}
