/* test_train_options.c — the command line of the training options: `cnn train`
 * with Adam/AdamW, schedules, clipping and augmentation on the tiny data set
 * of fixtures/step (and the usage errors for bad values), and `cnn eval`'s
 * per-class table, confusion matrix, SVG heat map and top-k accuracy; and
 * --resize in both. */
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEP_DIR CNN_FIXTURES_DIR "/step"

/* Run the cnn tool with args (NULL-terminated), stdout to out (or /dev/null); returns its exit code. */
static int run_cnn(char *const args[], const char *out) {
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out ? out : "/dev/null", "w", stdout)) _exit(127);
        if (!freopen("/dev/null", "w", stderr)) _exit(127);
        execv(CNN_BINARY_DIR "/cnn", args);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path) {
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

int main(void) {
    char dir[] = "/tmp/cnn_modern_XXXXXX", w[256], out[256], svg[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(w, sizeof w, "%s/w.safetensors", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(svg, sizeof svg, "%s/cm.svg", dir);

    /* Training with every new option runs and saves BatchNorm buffers. */
    char *train[] = {"cnn", "train", "--data", STEP_DIR, "--model", CNN_SOURCE_DIR "/models/lenet-bn.txt",
                     "--optimizer", "adamw", "--schedule", "onecycle", "--max-lr", "0.01", "--clip-grad-norm", "1",
                     "--random-flip", "--random-crop", "2", "--epochs", "2", "--batch-size", "8", "--threads", "1",
                     "--quiet", "--save", w, NULL};
    CHECK_INT_EQ(run_cnn(train, NULL), 0);
    char *sgd[] = {"cnn", "train", "--data", STEP_DIR, "--model", "lenet-modern", "--momentum", "0.9", "--nesterov",
                   "--schedule", "step", "--step-size", "1", "--gamma", "0.5", "--epochs", "2", "--batch-size", "16",
                   "--threads", "1", "--quiet", "--log", out, NULL};
    CHECK_INT_EQ(run_cnn(sgd, NULL), 0);
    /* The log carries each epoch's learning rate: StepLR halves 0.9 after epoch 1. */
    const char *log = slurp(out), *second = log ? strstr(log, "{\"epoch\": 2,") : NULL;
    CHECK(log != NULL && strstr(log, "{\"epoch\": 1,") != NULL && second != NULL);
    if (log && second) {
        const char *lr1 = strstr(log, "\"lr\": "), *lr2 = strstr(second, "\"lr\": ");
        CHECK(lr1 != NULL && lr1 < second && lr2 != NULL);
        if (lr1 && lr2) {
            CHECK(strncmp(lr1, "\"lr\": 0.9,", strlen("\"lr\": 0.9,")) == 0); /* the float 0.9f, written as 0.9 */
            CHECK(strncmp(lr2, "\"lr\": 0.45,", strlen("\"lr\": 0.45,")) == 0);
        }
    }
    char *cosine[] = {"cnn", "train", "--data", STEP_DIR, "--model", "resnet-small", "--optimizer", "adam",
                      "--schedule", "cosine", "--max-steps", "2", "--batch-size", "16", "--threads", "1", "--quiet",
                      NULL};
    CHECK_INT_EQ(run_cnn(cosine, NULL), 0);

    /* Usage errors exit 2. */
    char *bad_opt[] = {"cnn", "train", "--data", STEP_DIR, "--optimizer", "rmsprop", NULL};
    CHECK_INT_EQ(run_cnn(bad_opt, NULL), 2);
    char *bad_sched[] = {"cnn", "train", "--data", STEP_DIR, "--schedule", "linear", NULL};
    CHECK_INT_EQ(run_cnn(bad_sched, NULL), 2);
    char *bad_nesterov[] = {"cnn", "train", "--data", STEP_DIR, "--nesterov", NULL};
    CHECK_INT_EQ(run_cnn(bad_nesterov, NULL), 2);
    char *bad_crop[] = {"cnn", "train", "--data", STEP_DIR, "--random-crop", "-1", NULL};
    CHECK_INT_EQ(run_cnn(bad_crop, NULL), 2);

    /* Eval: table, confusion matrix, top-k (k = classes gives 1), SVG. */
    char *eval[] = {"cnn", "eval", "--data", STEP_DIR, "--model", CNN_SOURCE_DIR "/models/lenet-bn.txt",
                    "--weights", w, "--topk", "10", "--confusion", svg, "--threads", "1", NULL};
    CHECK_INT_EQ(run_cnn(eval, out), 0);
    const char *text = slurp(out);
    CHECK(text != NULL);
    if (text) {
        CHECK(strstr(text, "top-10 acc 1.0000") != NULL);
        CHECK(strstr(text, "ankle boot") != NULL);
        CHECK(strstr(text, "confusion matrix (rows: true class, columns: predicted)") != NULL);
    }
    text = slurp(svg);
    CHECK(text != NULL);
    if (text) {
        CHECK(strncmp(text, "<svg", 4) == 0);
        CHECK(strstr(text, "</svg>") != NULL);
    }
    char *bad_topk[] = {"cnn", "eval", "--data", STEP_DIR, "--model", CNN_SOURCE_DIR "/models/lenet-bn.txt",
                        "--weights", w, "--topk", "11", NULL};
    CHECK_INT_EQ(run_cnn(bad_topk, NULL), 2);
    char *bad_svg[] = {"cnn", "eval", "--data", STEP_DIR, "--model", CNN_SOURCE_DIR "/models/lenet-bn.txt",
                       "--weights", w, "--confusion", "/nonexistent-dir/cm.svg", NULL};
    CHECK_INT_EQ(run_cnn(bad_svg, NULL), 1);

    /* --resize: the model takes the resized images, in training and in eval. */
    char model[256], w32[256];
    snprintf(model, sizeof model, "%s/m32.txt", dir);
    snprintf(w32, sizeof w32, "%s/w32.safetensors", dir);
    FILE *f = fopen(model, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10))\n", f);
        fclose(f);
    }
    char *train32[] = {"cnn", "train", "--data", STEP_DIR, "--model", model, "--resize", "32", "--max-steps", "2",
                       "--batch-size", "16", "--threads", "1", "--quiet", "--save", w32, NULL};
    CHECK_INT_EQ(run_cnn(train32, NULL), 0);
    char *eval32[] = {"cnn", "eval", "--data", STEP_DIR, "--model", model, "--weights", w32, "--resize", "32",
                      "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(eval32, NULL), 0);
    /* The weights record the resize: eval applies it unasked, with the same result. */
    char out32[256], out28[256];
    snprintf(out32, sizeof out32, "%s/eval32.txt", dir);
    snprintf(out28, sizeof out28, "%s/eval28.txt", dir);
    CHECK_INT_EQ(run_cnn(eval32, out32), 0);
    char *eval28[] = {"cnn", "eval", "--data", STEP_DIR, "--model", model, "--weights", w32, "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(eval28, out28), 0);
    char t32[64] = "";
    if (slurp(out32)) snprintf(t32, sizeof t32, "%s", slurp(out32));
    const char *t28 = slurp(out28);
    CHECK(t28 && strncmp(t32, t28, 14) == 0 && strncmp(t32, "test acc ", 9) == 0);
    /* ... and refuses another: */
    char *eval30[] = {"cnn", "eval", "--data", STEP_DIR, "--weights", w32, "--resize", "30", "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(eval30, NULL), 2);
    /* --model must agree with the model the weights record */
    char *eval_other[] = {"cnn", "eval", "--data", STEP_DIR, "--model", "lenet", "--weights", w32, "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(eval_other, NULL), 1);
    unlink(out32), unlink(out28);

    unlink(model), unlink(w32);
    unlink(w), unlink(out), unlink(svg);
    rmdir(dir);
    return test_report();
}
