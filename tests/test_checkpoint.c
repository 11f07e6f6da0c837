/* test_checkpoint.c — `cnn train --checkpoint / --resume`, clean stops on
 * SIGINT / SIGTERM, corrupt checkpoints and divergence reports, all through
 * the command line on the 32 images of fixtures/step.
 *
 *   (a) a run stopped with --max-steps at every step boundary, and a run
 *       killed with SIGKILL at a random moment, resume to final weights equal
 *       byte for byte to those of an uninterrupted run;
 *   (b) SIGINT / SIGTERM stop with exit 130 / 143 and a checkpoint that
 *       resumes to the same weights;
 *   (c) damaged or mismatched checkpoints fail with a message naming the file
 *       and field, before any training, leaving every file as it was: among
 *       them a model whose tensors have the same shapes but whose layers
 *       differ (ReLU and max pooling for the chapter's sigmoid LeNet), an
 *       older format version, and a FIFO (which must not block);
 *   (d) a diverging run names the epoch, the step and a layer.
 *
 * The random kill points come from a seed printed at the start (set
 * CNN_TEST_SEED to replay one).
 */
#include "test_util.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define STEP_DIR CNN_FIXTURES_DIR "/step"

static char dir[] = "/tmp/cnn_ckpt_XXXXXX";
static char tiny_model[300], out_path[300], err_path[300];

/* A small model with everything that carries state across steps: BatchNorm
 * buffers, Dropout (drawn from the RNG). */
static const char *tiny_text =
    "nn.Sequential(nn.Conv2d(1, 4, kernel_size=5), nn.BatchNorm2d(4), nn.ReLU(),\n"
    "              nn.AvgPool2d(kernel_size=4), nn.Flatten(), nn.Dropout(0.3), nn.Linear(144, 10))\n";

typedef struct {
    const char *v[80];
    int n;
} args_t;

/* a <- "cnn" "train" then the NULL-terminated strings, then those of more */
static void args_make(args_t *a, const char *const *base, ...) {
    a->n = 0;
    a->v[a->n++] = "cnn";
    a->v[a->n++] = "train";
    for (int i = 0; base && base[i]; i++) a->v[a->n++] = base[i];
    va_list ap;
    va_start(ap, base);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) a->v[a->n++] = s;
    va_end(ap);
    a->v[a->n] = NULL;
}

/* Start the cnn tool; stdout and stderr go to out_path and err_path. */
static pid_t spawn(const args_t *a) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr)) _exit(127);
        execv(CNN_BINARY_DIR "/cnn", (char *const *)a->v);
        _exit(127);
    }
    return pid;
}

/* The exit code, or 1000 + the signal that ended the process; -1 on error. */
static int wait_for(pid_t pid) {
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : -1;
}

static int run(const args_t *a) { return wait_for(spawn(a)); }

/* run(), but a process still running after 20 s is killed (1000 + SIGKILL). */
static int run_limited(const args_t *a) {
    pid_t pid = spawn(a);
    for (int t = 0; t < 2000 && pid > 0; t++) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : -1;
        if (w < 0) return -1;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    if (pid > 0) kill(pid, SIGKILL);
    return wait_for(pid);
}

/* The whole file, NUL-terminated, malloc'ed (NULL if unreadable); *size its length. */
static char *slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    if (b) b[n] = 0;
    if (size) *size = n;
    return b;
}

static int write_file(const char *path, const char *data, long n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, (size_t)n, f);
    return fclose(f) == 0 && w == (size_t)n ? 0 : -1;
}

/* 1 if both files exist and have the same bytes. */
static int same_file(const char *a, const char *b) {
    long na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x), free(y);
    return same;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static int file_has(const char *path, const char *needle) {
    char *s = slurp(path, NULL);
    int has = s && strstr(s, needle) != NULL;
    free(s);
    return has;
}

/* The "step" recorded in a checkpoint's metadata, or -1. */
static long ckpt_step(const char *path) {
    char *s = slurp(path, NULL);
    const char *p = s ? strstr(s + 8, "\"step\":\"") : NULL; /* after the binary header length */
    long step = p ? strtol(p + 8, NULL, 10) : -1;
    free(s);
    return step;
}

/* The first line of a text file ("" if none). */
static void first_line(char *out, size_t cap, const char *path) {
    char *s = slurp(path, NULL);
    snprintf(out, cap, "%s", s ? s : "");
    out[strcspn(out, "\n")] = 0;
    free(s);
}

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t rng_state;
static long rand_below(long n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (long)((rng_state >> 33) % (uint64_t)n);
}

/* Print the child's stderr when a check about it failed. */
static void show_err(const char *what) {
    char *s = slurp(err_path, NULL);
    fprintf(stderr, "  [%s] stderr: %s\n", what, s ? s : "(none)");
    free(s);
}

#define CHECK_RC(got, want, what)                                                   \
    do {                                                                            \
        int check__g = (got);                                                       \
        CHECK_INT_EQ(check__g, want);                                               \
        if (check__g != (want)) show_err(what);                                     \
    } while (0)

/* Options of the two configurations: SGD with momentum and weight decay on
 * the tiny model with random flips and crops; Adam with a step schedule on
 * the chapter's LeNet. */
static const char *cfg_sgd[] = {"--data", STEP_DIR, "--model", tiny_model, "--batch-size", "4", "--epochs", "3",
                                "--lr", "0.05", "--momentum", "0.9", "--weight-decay", "0.001", "--random-flip",
                                "--random-crop", "2", "--threads", "1", "--seed", "7", NULL};
static const char *cfg_adam[] = {"--data", STEP_DIR, "--model", "lenet", "--batch-size", "4", "--epochs", "3",
                                 "--optimizer", "adam", "--lr", "0.01", "--schedule", "step", "--gamma", "0.5",
                                 "--threads", "1", NULL};

/* (a) deterministic stops: --max-steps k with a checkpoint, then --resume. */
static void test_stop_resume(const char *name, const char *const *cfg, const int *ks, int nk) {
    char full[300], ck[300], res[300], every[8], kbuf[24];
    path_in(full, sizeof full, "full.safetensors");
    path_in(ck, sizeof ck, "stop.ckpt");
    path_in(res, sizeof res, "resumed.safetensors");
    args_t a;
    args_make(&a, cfg, "--quiet", "--save", full, NULL);
    CHECK_RC(run(&a), 0, "uninterrupted run");
    /* The last epoch's loss and accuracies (the running sums are saved too). */
    char want_line[200] = "", got_line[200];
    first_line(want_line, sizeof want_line, out_path);
    for (int i = 0; i < nk; i++) {
        int k = ks[i];
        unlink(ck), unlink(res);
        snprintf(kbuf, sizeof kbuf, "%d", k);
        snprintf(every, sizeof every, "%d", 1 + k % 3);
        args_make(&a, cfg, "--quiet", "--max-steps", kbuf, "--checkpoint", ck, "--checkpoint-every", every, NULL);
        CHECK_RC(run(&a), 0, "run stopped by --max-steps");
        CHECK_INT_EQ(ckpt_step(ck), k);
        args_make(&a, cfg, "--quiet", "--checkpoint", ck, "--checkpoint-every", every, "--resume", ck, "--save", res,
                  NULL);
        CHECK_RC(run(&a), 0, "resumed run");
        first_line(got_line, sizeof got_line, out_path);
        CHECK_STR_EQ(got_line, want_line);
        if (!same_file(full, res)) {
            CHECK(same_file(full, res));
            fprintf(stderr, "  %s: stopped after step %d and resumed: final weights differ\n", name, k);
        }
    }
    /* A chain: stop at 5, resume and stop at 11, resume to the end. */
    unlink(ck), unlink(res);
    args_make(&a, cfg, "--quiet", "--max-steps", "5", "--checkpoint", ck, NULL);
    CHECK_RC(run(&a), 0, "chain 1");
    args_make(&a, cfg, "--quiet", "--max-steps", "11", "--checkpoint", ck, "--resume", ck, NULL);
    CHECK_RC(run(&a), 0, "chain 2");
    CHECK_INT_EQ(ckpt_step(ck), 11);
    args_make(&a, cfg, "--quiet", "--resume", ck, "--save", res, NULL);
    CHECK_RC(run(&a), 0, "chain 3");
    CHECK(same_file(full, res));
}

/* (a) SIGKILL at a random moment once a checkpoint exists, then resume. */
static void test_sigkill(const char *full120) {
    char ck[300], res[300];
    path_in(ck, sizeof ck, "killed.ckpt");
    path_in(res, sizeof res, "killed.safetensors");
    for (int round = 0; round < 3; round++) {
        int killed = 0;
        for (int attempt = 0; attempt < 10 && !killed; attempt++) {
            unlink(ck), unlink(res);
            args_t a;
            args_make(&a, cfg_sgd, "--quiet", "--epochs", "120", "--checkpoint", ck, "--checkpoint-every", "7", NULL);
            pid_t pid = spawn(&a);
            for (int t = 0; t < 20000 && !exists(ck); t++) sleep_ms(1); /* until a checkpoint exists */
            long delay = rand_below(attempt < 5 ? 200 : 20);
            sleep_ms(delay);
            kill(pid, SIGKILL);
            int rc = wait_for(pid);
            killed = rc == 1000 + SIGKILL && exists(ck);
            if (killed) {
                printf("SIGKILL %ld ms after the first checkpoint; resuming from step %ld\n", delay, ckpt_step(ck));
                args_make(&a, cfg_sgd, "--quiet", "--epochs", "120", "--checkpoint", ck, "--checkpoint-every", "7",
                          "--resume", ck, "--save", res, NULL);
                CHECK_RC(run(&a), 0, "resume after SIGKILL");
                CHECK(same_file(full120, res));
            }
        }
        CHECK(killed);
    }
}

/* (b) SIGINT / SIGTERM once training runs: exit 128 + sig, a checkpoint, a hint. */
static void test_signal(const char *full120, int sig) {
    char ck[300], res[300];
    path_in(ck, sizeof ck, "signal.ckpt");
    path_in(res, sizeof res, "signal.safetensors");
    unlink(ck), unlink(res);
    args_t a;
    args_make(&a, cfg_sgd, "--epochs", "120", "--checkpoint", ck, NULL);
    pid_t pid = spawn(&a);
    for (int t = 0; t < 20000 && !file_has(out_path, "epoch 2/"); t++) sleep_ms(1); /* training is running */
    sleep_ms(rand_below(50));
    kill(pid, sig);
    CHECK_RC(wait_for(pid), 128 + sig, sig == SIGINT ? "SIGINT" : "SIGTERM");
    CHECK(exists(ck));
    CHECK(file_has(err_path, sig == SIGINT ? "stopped by SIGINT after step" : "stopped by SIGTERM after step"));
    CHECK(file_has(err_path, "resume with:"));
    CHECK(file_has(err_path, "--resume"));
    printf("%s: stopped at step %ld\n", sig == SIGINT ? "SIGINT" : "SIGTERM", ckpt_step(ck));
    args_make(&a, cfg_sgd, "--quiet", "--epochs", "120", "--checkpoint", ck, "--resume", ck, "--save", res, NULL);
    CHECK_RC(run(&a), 0, "resume after a signal");
    CHECK(same_file(full120, res));
}

/* (c) one bad resume: exit 1, the message names the file and contains want,
 * no training happened, no output was written, the checkpoint is unchanged. */
static void expect_bad_resume(const char *what, const char *ck, const char *want, const char *const *cfg, ...) {
    char save[300], before[300];
    path_in(save, sizeof save, "never.safetensors");
    path_in(before, sizeof before, "before.bin");
    unlink(save);
    long n = 0;
    char *orig = slurp(ck, &n);
    if (orig) write_file(before, orig, n);
    args_t a;
    args_make(&a, cfg, NULL);
    va_list ap;
    va_start(ap, cfg);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) a.v[a.n++] = s;
    va_end(ap);
    const char *tail[] = {"--checkpoint", ck, "--resume", ck, "--save", save, NULL};
    for (int i = 0; tail[i]; i++) a.v[a.n++] = tail[i];
    a.v[a.n] = NULL;
    int rc = run(&a);
    int ok = rc == 1 && file_has(err_path, ck) && file_has(err_path, want) && !file_has(out_path, "epoch 1/") &&
             !exists(save) && (!orig || same_file(ck, before));
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  %s: exit %d, expected 1 and a message with '%s'\n", what, rc, want);
        show_err(what);
    }
    free(orig);
    unlink(before);
}

static void test_corrupt(void) {
    char good[300], bad[300];
    path_in(good, sizeof good, "good.ckpt");
    path_in(bad, sizeof bad, "bad.ckpt");
    args_t a;
    args_make(&a, cfg_sgd, "--quiet", "--max-steps", "5", "--checkpoint", good, NULL);
    CHECK_RC(run(&a), 0, "good checkpoint");
    long n = 0;
    char *g = slurp(good, &n);
    CHECK(g != NULL && n > 1000);
    if (!g || n <= 1000) return;

    g[n - 10] ^= 0x01; /* a flipped bit in the data */
    write_file(bad, g, n);
    g[n - 10] ^= 0x01;
    expect_bad_resume("flipped data byte", bad, "checksum mismatch", cfg_sgd, NULL);

    char *lr = strstr(g + 8, "\"step\":\"5\""); /* a changed header value */
    CHECK(lr != NULL);
    if (lr) {
        lr[8] = '4';
        write_file(bad, g, n);
        lr[8] = '5';
        expect_bad_resume("edited header", bad, "checksum mismatch", cfg_sgd, NULL);
    }
    write_file(bad, g, n / 2);
    expect_bad_resume("truncated", bad, "truncated", cfg_sgd, NULL);
    write_file(bad, g, 20);
    expect_bad_resume("truncated header", bad, "truncated or not a checkpoint", cfg_sgd, NULL);
    static const char text[] = "not a checkpoint at all, just some text in a file, long enough to be read as one";
    write_file(bad, text, (long)sizeof text - 1);
    expect_bad_resume("not a checkpoint", bad, "not a cnn checkpoint", cfg_sgd, NULL);
    path_in(bad, sizeof bad, "missing.ckpt");
    expect_bad_resume("missing file", bad, "cannot open", cfg_sgd, NULL);

    /* A good file that belongs to another run. */
    expect_bad_resume("other model", good,
                      "layer 0: the checkpoint was trained with Conv2d(1,4,kernel_size=(5,5),stride=(1,1),"
                      "padding=(0,0),dilation=(1,1),groups=1,bias=True), this model has Conv2d(1,6,",
                      cfg_sgd, "--model", "lenet", NULL);
    expect_bad_resume("other batch size", good, "field 'batch_size' is 4 in the checkpoint but 8", cfg_sgd,
                      "--batch-size", "8", NULL);
    expect_bad_resume("other lr", good, "'lr'", cfg_sgd, "--lr", "0.1", NULL);
    expect_bad_resume("other optimizer", good, "'optimizer'", cfg_sgd, "--optimizer", "adam", NULL);
    expect_bad_resume("other seed", good, "'seed'", cfg_sgd, "--seed", "8", NULL);
    free(g);

    /* Usage and path errors come before training. */
    args_make(&a, cfg_sgd, "--checkpoint-every", "3", NULL);
    CHECK_RC(run(&a), 2, "--checkpoint-every without --checkpoint");
    args_make(&a, cfg_sgd, "--checkpoint", "/nonexistent-dir/x.ckpt", NULL);
    CHECK_RC(run(&a), 1, "unwritable checkpoint");
    CHECK(file_has(err_path, "/nonexistent-dir/x.ckpt"));
    CHECK(!file_has(out_path, "epoch 1/"));
}

/* The crc32 the header of a checkpoint of n bytes must hold (the whole file
 * with the eight crc digits, bytes 34..41, read as '0'), written there. */
static void fix_crc(char *b, long n) {
    memset(b + 34, '0', 8);
    char hex[9];
    snprintf(hex, sizeof hex, "%08lx", crc32(crc32(0L, Z_NULL, 0), (const Bytef *)b, (uInt)n));
    memcpy(b + 34, hex, 8);
}

/* (c) the chapter's LeNet (`cnn train --data S --epochs 2 --checkpoint c`)
 * resumed under models whose tensors have the very same names and shapes:
 * the layers themselves are compared. Then an older format version, and a
 * FIFO given as the checkpoint. */
static void test_other_layers(void) {
    static const char *cfg_lenet[] = {"--data", STEP_DIR, "--epochs", "2", "--threads", "1", NULL};
    char ck[300], relu[300], softmax[300], bad[300], tiny_half[300];
    path_in(ck, sizeof ck, "lenet.ckpt");
    path_in(relu, sizeof relu, "lenet-relu-max.txt");
    path_in(softmax, sizeof softmax, "lenet-softmax.txt");
    path_in(bad, sizeof bad, "other.ckpt");
    path_in(tiny_half, sizeof tiny_half, "tiny-dropout.txt");
    args_t a;
    args_make(&a, cfg_lenet, "--quiet", "--checkpoint", ck, NULL);
    CHECK_RC(run(&a), 0, "LeNet checkpoint");

    /* models/lenet.txt with nn.ReLU() for nn.Sigmoid() and nn.MaxPool2d for nn.AvgPool2d */
    static const char *const layers[] = {"nn.Conv2d(1, 6, kernel_size=5, padding=2)", "nn.Sigmoid()",
                                         "nn.AvgPool2d(kernel_size=2, stride=2)", "nn.Conv2d(6, 16, kernel_size=5)",
                                         "nn.Sigmoid()", "nn.AvgPool2d(kernel_size=2, stride=2)", "nn.Flatten()",
                                         "nn.Linear(16 * 5 * 5, 120)", "nn.Sigmoid()", "nn.Linear(120, 84)",
                                         "nn.Sigmoid()", "nn.Linear(84, 10)"};
    char text[2048], text2[2048];
    size_t k = (size_t)snprintf(text, sizeof text, "nn.Sequential(");
    size_t k2 = (size_t)snprintf(text2, sizeof text2, "nn.Sequential(");
    for (int i = 0; i < 12; i++) {
        const char *l = layers[i];
        if (!strcmp(l, "nn.Sigmoid()")) l = "nn.ReLU()";
        else if (!strncmp(l, "nn.AvgPool2d", 12)) l = "nn.MaxPool2d(kernel_size=2, stride=2)";
        k += (size_t)snprintf(text + k, sizeof text - k, "%s, ", l);
        k2 += (size_t)snprintf(text2 + k2, sizeof text2 - k2, "%s, ", layers[i]);
    }
    snprintf(text + k, sizeof text - k, ")\n");
    snprintf(text2 + k2, sizeof text2 - k2, "nn.Softmax(dim=1))\n");
    write_file(relu, text, (long)strlen(text));
    write_file(softmax, text2, (long)strlen(text2));
    expect_bad_resume("ReLU and max pooling for sigmoid and average pooling", ck,
                      "layer 1: the checkpoint was trained with Sigmoid(), this model has ReLU()", cfg_lenet,
                      "--model", relu, NULL);
    expect_bad_resume("one layer more", ck,
                      "layer 12: the checkpoint was trained with a model of 12 layers, this model has 13 (layer 12 "
                      "is Softmax(dim=1))",
                      cfg_lenet, "--model", softmax, NULL);
    /* The same model text resumes (spacing and comments do not matter). */
    args_make(&a, cfg_lenet, "--quiet", "--epochs", "3", "--model", "lenet", "--resume", ck, NULL);
    CHECK_RC(run(&a), 0, "resume with the same model");

    /* An argument that changes no tensor: Dropout's p. */
    char tiny_ck[300];
    path_in(tiny_ck, sizeof tiny_ck, "tiny.ckpt");
    args_make(&a, cfg_sgd, "--quiet", "--max-steps", "3", "--checkpoint", tiny_ck, NULL);
    CHECK_RC(run(&a), 0, "tiny checkpoint");
    char *t = slurp(tiny_model, NULL), *d = t ? strstr(t, "nn.Dropout(0.3)") : NULL;
    CHECK(d != NULL);
    if (d) {
        memcpy(d, "nn.Dropout(0.5)", 15);
        write_file(tiny_half, t, (long)strlen(t));
        expect_bad_resume("other dropout", tiny_ck,
                          "layer 5: the checkpoint was trained with Dropout(p=0.3), this model has Dropout(p=0.5)",
                          cfg_sgd, "--model", tiny_half, NULL);
    }
    free(t);

    /* A checkpoint of format version 1 (no layer list): refused by name. */
    long n = 0;
    char *b = slurp(ck, &n), *v = b ? strstr(b + 8, "\"version\":\"2\"") : NULL;
    CHECK(v != NULL);
    if (v) {
        v[11] = '1';
        fix_crc(b, n);
        write_file(bad, b, n);
        expect_bad_resume("format version 1", bad, "format version 1 (an older cnn) is not supported", cfg_lenet,
                          NULL);
    }
    free(b);

    /* A FIFO with no writer: refused at once, not waited on. */
    char fifo[300], save[300];
    path_in(fifo, sizeof fifo, "resume.fifo");
    path_in(save, sizeof save, "fifo.safetensors");
    CHECK(mkfifo(fifo, 0600) == 0);
    args_make(&a, cfg_lenet, "--quiet", "--resume", fifo, "--save", save, NULL);
    int rc = run_limited(&a);
    CHECK_RC(rc, 1, "--resume FIFO");
    if (rc == 1000 + SIGKILL) fprintf(stderr, "  --resume FIFO: still running after 20 s (blocked in open)\n");
    CHECK(file_has(err_path, fifo) && file_has(err_path, "a FIFO"));
    CHECK(!exists(save));
    unlink(fifo);
}

/* (d) divergence: the ReLU LeNet at lr 1000 overflows within a few steps. */
static void test_divergence(void) {
    static const char *cfg[] = {"--data", STEP_DIR, "--model", "lenet-modern", "--batch-size", "4", "--epochs", "3",
                                "--lr", "1000", "--threads", "1", NULL};
    args_t a;
    args_make(&a, cfg, "--quiet", NULL);
    CHECK_RC(run(&a), 1, "divergence");
    CHECK(file_has(err_path, "training diverged at epoch 1, step "));
    CHECK(file_has(err_path, "the first non-finite output is layer "));
    char *s = slurp(err_path, NULL);
    printf("divergence message: %s", s ? s : "(none)\n");
    free(s);
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    path_in(tiny_model, sizeof tiny_model, "tiny.txt");
    path_in(out_path, sizeof out_path, "stdout.txt");
    path_in(err_path, sizeof err_path, "stderr.txt");
    write_file(tiny_model, tiny_text, (long)strlen(tiny_text));
    const char *seed_env = getenv("CNN_TEST_SEED");
    rng_state = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("CNN_TEST_SEED=%llu\n", (unsigned long long)rng_state);

    /* (a) every step boundary of 3 epochs x 8 batches; a few for Adam + LeNet */
    int all[24];
    for (int k = 0; k < 24; k++) all[k] = k + 1;
    test_stop_resume("sgd", cfg_sgd, all, 24);
    static const int some[] = {1, 8, 13};
    test_stop_resume("adam", cfg_adam, some, 3);

    /* (a) SIGKILL and (b) SIGINT / SIGTERM on a longer run */
    char full120[300];
    path_in(full120, sizeof full120, "full120.safetensors");
    args_t a;
    args_make(&a, cfg_sgd, "--quiet", "--epochs", "120", "--save", full120, NULL);
    CHECK_RC(run(&a), 0, "uninterrupted 120 epochs");
    test_sigkill(full120);
    test_signal(full120, SIGINT);
    test_signal(full120, SIGTERM);

    test_corrupt();
    test_other_layers();
    test_divergence();
    remove_dir();
    return test_report();
}
