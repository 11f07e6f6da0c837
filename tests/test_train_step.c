/* test_train_step.c — `cnn train` from PyTorch's initial weights takes the same
 * SGD steps as PyTorch (tools/fixtures/gen_train_step.py): one plain step at
 * lr 0.9, and three steps with momentum and weight decay. Weights must agree
 * to 1e-5. Also: the same seed gives the same run, bit for bit. */
#include "test_util.h"

#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEP_DIR CNN_FIXTURES_DIR "/step"

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Run the cnn tool with args (NULL-terminated), stdout to /dev/null; returns its exit code. */
static int run_cnn(char *const args[]) {
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        execv(CNN_BINARY_DIR "/cnn", args);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static cnn_model *lenet(void) {
    cnn_model *m = NULL;
    const char *text = read_text(CNN_SOURCE_DIR "/models/lenet.txt");
    CHECK(text != NULL);
    if (text) CHECK_OK(cnn_model_create_from_text(&m, text, "models/lenet.txt", (int64_t[]){1, 28, 28}));
    return m;
}

/* Load two weight files into LeNets and compare every parameter to tol. With
 * init, also compare the updates (weights - init) tensor by tensor, relative
 * to the largest update of the tensor: conv1's updates are ~1e-5, below what a
 * 1e-5 tolerance on the weights themselves could see. */
static void compare_weights(const char *what, const char *got_path, const char *want_path, double tol,
                            const char *init_path) {
    cnn_model *got = lenet(), *want = lenet(), *init = init_path ? lenet() : NULL;
    if (!got || !want || (init_path && !init)) goto done;
    CHECK_OK(cnn_model_load(got, got_path));
    CHECK_OK(cnn_model_load(want, want_path));
    CHECK_CLOSE(what, cnn_model_params(got), cnn_model_params(want), cnn_model_num_params(got), tol, tol);
    if (init) {
        CHECK_OK(cnn_model_load(init, init_path));
        for (int t = 0; t < cnn_model_num_tensors(got); t++) {
            cnn_param_info info;
            CHECK_OK(cnn_model_tensor_info(got, t, &info));
            const float *g = cnn_model_params(got) + info.offset, *w = cnn_model_params(want) + info.offset,
                        *i0 = cnn_model_params(init) + info.offset;
            float *dg = malloc(info.numel * sizeof *dg), *dw = malloc(info.numel * sizeof *dw);
            double biggest = 0;
            for (size_t k = 0; k < info.numel; k++) {
                dg[k] = g[k] - i0[k], dw[k] = w[k] - i0[k];
                if (fabs(dw[k]) > biggest) biggest = fabs(dw[k]);
            }
            char label[160];
            snprintf(label, sizeof label, "%s: update of %s", what, info.name);
            /* 2e-8: the rounding of weights of magnitude <= 0.2 (half an ulp each side). */
            CHECK_CLOSE(label, dg, dw, info.numel, 0.0, 1e-3 * biggest + 2e-8);
            free(dg), free(dw);
        }
    }
done:
    cnn_model_free(got);
    cnn_model_free(want);
    cnn_model_free(init);
}

int main(void) {
    char dir[] = "/tmp/cnn_step_XXXXXX", out[256], out2[256];
    if (!mkdtemp(dir)) return 1;

    snprintf(out, sizeof out, "%s/plain.safetensors", dir);
    char *plain[] = {"cnn", "train", "--data", STEP_DIR, "--init", STEP_DIR "/init.safetensors",
                     "--max-steps", "1", "--no-shuffle", "--batch-size", "32", "--lr", "0.9",
                     "--save", out, "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(plain), 0);
    compare_weights("one SGD step vs PyTorch", out, STEP_DIR "/plain.safetensors", 1e-5,
                    STEP_DIR "/init.safetensors");

    snprintf(out, sizeof out, "%s/momentum.safetensors", dir);
    char *mom[] = {"cnn", "train", "--data", STEP_DIR, "--init", STEP_DIR "/init.safetensors",
                   "--max-steps", "3", "--no-shuffle", "--batch-size", "16", "--lr", "0.1",
                   "--momentum", "0.9", "--weight-decay", "1e-3", "--save", out, "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(mom), 0);
    compare_weights("3 steps with momentum and weight decay vs PyTorch", out,
                    STEP_DIR "/momentum.safetensors", 1e-5, STEP_DIR "/init.safetensors");

    /* Same seed, same run: two shuffled trainings give identical weights;
     * a different thread count changes nothing. */
    snprintf(out, sizeof out, "%s/a.safetensors", dir);
    snprintf(out2, sizeof out2, "%s/b.safetensors", dir);
    char *a[] = {"cnn", "train", "--data", STEP_DIR, "--epochs", "3", "--batch-size", "8", "--seed", "7",
                 "--threads", "1", "--save", out, "--quiet", NULL};
    char *b[] = {"cnn", "train", "--data", STEP_DIR, "--epochs", "3", "--batch-size", "8", "--seed", "7",
                 "--threads", "2", "--save", out2, "--quiet", NULL};
    CHECK_INT_EQ(run_cnn(a), 0);
    CHECK_INT_EQ(run_cnn(b), 0);
    compare_weights("same seed, 1 vs 2 threads (bit for bit)", out, out2, 0.0, NULL);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return test_report();
}
