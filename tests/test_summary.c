/* test_summary.c — cnn_model_summary and cnn_model_trace for the chapter's
 * LeNet against texts that PyTorch produced (tests/fixtures/summary_lenet*.txt:
 * torchsummary's table recomputed with torch 1.13, torchinfo's mult-adds, and
 * the chapter's shape loop), plus small models, sizes past 2^64 and bad
 * arguments. */
#include "test_util.h"

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* Everything that fn writes for the model, as a malloc'ed string. */
static char *capture(int (*summary)(FILE *, const cnn_model *, int), int (*trace)(FILE *, const cnn_model *),
                     const cnn_model *m, int batch, int *rc) {
    FILE *f = tmpfile();
    if (!f) return NULL;
    *rc = summary ? summary(f, m, batch) : trace(f, m);
    long len = ftell(f);
    char *buf = malloc((size_t)(len > 0 ? len : 0) + 1);
    rewind(f);
    size_t n = buf && len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

static void check_text(const cnn_model *m, int batch, int is_trace, const char *fixture) {
    char *want = read_file(fixture);
    int rc = -1;
    char *got = is_trace ? capture(NULL, cnn_model_trace, m, 0, &rc)
                         : capture(cnn_model_summary, NULL, m, batch, &rc);
    CHECK(want != NULL && got != NULL);
    CHECK_INT_EQ(rc, CNN_OK);
    if (want && got) CHECK_STR_EQ(got, want);
    free(want);
    free(got);
}

static cnn_model *create(const char *text, int64_t c, int64_t h, int64_t w) {
    cnn_model *m = NULL;
    int64_t in[3] = {c, h, w};
    int rc = cnn_model_create_from_text(&m, text, "test", in);
    CHECK_INT_EQ(rc, CNN_OK);
    if (rc != CNN_OK) fprintf(stderr, "  %s\n", cnn_last_error());
    return rc == CNN_OK ? m : NULL;
}

static void test_lenet(void) {
    char *text = read_file(CNN_SOURCE_DIR "/models/lenet.txt");
    CHECK(text != NULL);
    if (!text) return;
    cnn_model *m = create(text, 1, 28, 28);
    free(text);
    if (!m) return;
    check_text(m, 1, 0, CNN_FIXTURES_DIR "/summary_lenet.txt");
    check_text(m, 256, 0, CNN_FIXTURES_DIR "/summary_lenet_b256.txt");
    check_text(m, 0, 1, CNN_FIXTURES_DIR "/summary_lenet_trace.txt");

    /* torchsummary's default batch_size=-1 shows -1 and takes abs() of the sizes. */
    int rc = -1;
    char *got = capture(cnn_model_summary, NULL, m, -1, &rc);
    CHECK_INT_EQ(rc, CNN_OK);
    if (got) {
        CHECK(strstr(got, "            Conv2d-1            [-1, 6, 28, 28]             156\n") != NULL);
        CHECK(strstr(got, "Estimated Total Size (MB): 0.35\n") != NULL);
        CHECK(strstr(got, "Total mult-adds (M): 0.42\n") != NULL);
    }
    free(got);

    /* Bad arguments. */
    CHECK_STATUS(cnn_model_summary(stdout, m, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_model_summary(stdout, m, -2), CNN_EINVAL);
    CHECK_STATUS(cnn_model_summary(NULL, m, 1), CNN_EINVAL);
    CHECK_STATUS(cnn_model_summary(stdout, NULL, 1), CNN_EINVAL);
    CHECK_STATUS(cnn_model_trace(NULL, m), CNN_EINVAL);
    CHECK_STATUS(cnn_model_trace(stdout, NULL), CNN_EINVAL);
    cnn_model_free(m);
}

/* A model without parameters: sizes in float64 (torchsummary's total is a
 * Python int there), no mult-adds. Expected text from torchsummary's
 * formulas: input 3*4*4*4 B = 192 B -> 0.00 MB. */
static void test_no_params(void) {
    cnn_model *m = create("nn.Sequential(nn.MaxPool2d(2), nn.Flatten())", 3, 4, 4);
    if (!m) return;
    int rc = -1;
    char *got = capture(cnn_model_summary, NULL, m, 2, &rc);
    CHECK_INT_EQ(rc, CNN_OK);
    if (got)
        CHECK_STR_EQ(got,
                     "----------------------------------------------------------------\n"
                     "        Layer (type)               Output Shape         Param #\n"
                     "================================================================\n"
                     "         MaxPool2d-1               [2, 3, 2, 2]               0\n"
                     "           Flatten-2                    [2, 12]               0\n"
                     "================================================================\n"
                     "Total params: 0\n"
                     "Trainable params: 0\n"
                     "Non-trainable params: 0\n"
                     "----------------------------------------------------------------\n"
                     "Input size (MB): 0.00\n"
                     "Forward/backward pass size (MB): 0.00\n"
                     "Params size (MB): 0.00\n"
                     "Estimated Total Size (MB): 0.00\n"
                     "----------------------------------------------------------------\n"
                     "        Layer (type)               Kernel Shape       Mult-Adds\n"
                     "================================================================\n"
                     "         MaxPool2d-1                     [2, 2]              --\n"
                     "           Flatten-2                         --              --\n"
                     "================================================================\n"
                     "Total mult-adds (M): 0.00\n"
                     "----------------------------------------------------------------\n");
    free(got);
    got = capture(NULL, cnn_model_trace, m, 0, &rc);
    CHECK_INT_EQ(rc, CNN_OK);
    if (got)
        CHECK_STR_EQ(got, "MaxPool2d output shape: \t torch.Size([1, 3, 2, 2])\n"
                          "Flatten output shape: \t torch.Size([1, 12])\n");
    free(got);
    cnn_model_free(m);
}

/* Conv2d without bias and with groups: params 8*(4/2)*3*3 = 144, mult-adds
 * 144 * (N * 5 * 5); Linear: (200*7 + 7) * N. Batch 3. */
static void test_counts(void) {
    cnn_model *m = create("nn.Sequential(nn.Conv2d(4, 8, 3, groups=2, bias=False), nn.Flatten(),"
                          " nn.Linear(200, 7))", 4, 7, 7);
    if (!m) return;
    int rc = -1;
    char *got = capture(cnn_model_summary, NULL, m, 3, &rc);
    CHECK_INT_EQ(rc, CNN_OK);
    if (got) {
        CHECK(strstr(got, "            Conv2d-1               [3, 8, 5, 5]             144\n") != NULL);
        CHECK(strstr(got, "            Linear-3                     [3, 7]           1,407\n") != NULL);
        CHECK(strstr(got, "Total params: 1,551\n") != NULL);
        CHECK(strstr(got, "            Conv2d-1                     [3, 3]          10,800\n") != NULL);
        CHECK(strstr(got, "            Linear-3                         --           4,221\n") != NULL);
        CHECK(strstr(got, "Total mult-adds (M): 0.02\n") != NULL);
        if (!strstr(got, "Total params: 1,551\n")) fprintf(stderr, "%s", got);
    }
    free(got);
    cnn_model_free(m);
}

/* Sizes past 2^63, computed exactly as torchsummary's and torchinfo's Python
 * ints are (the sanitizer build aborts on a signed overflow):
 * - `cnn summary --input-shape 65536,65536,65536 --batch-size 1048576`:
 *   the input is 65536^3 * 1048576 * 4 bytes = 2^70 B = 2^50 MB, which the
 *   int64 product wrapped to 0 ("Input size (MB): 0.00");
 * - a Conv2d(2048, 2048, 1) on 2048x1024x1024 at batch 2^24: mult-adds
 *   4,196,352 params * 2^24 * 1024 * 1024 = 2^66.0..., once refused as
 *   "too large to count". Expected figures from Python:
 *     65536**3 * 1048576 * 4 / 2**20, f"{4196352 * 2**24 * 1024 * 1024:,}". */
static void test_huge(void) {
    cnn_model *m = create("nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(65536, 10))", 65536,
                          65536, 65536);
    if (m) {
        int rc = -1;
        char *got = capture(cnn_model_summary, NULL, m, 1048576, &rc);
        CHECK_INT_EQ(rc, CNN_OK);
        if (rc != CNN_OK) fprintf(stderr, "  %s\n", cnn_last_error());
        static const char *const want[] = {
            " AdaptiveAvgPool2d-1     [1048576, 65536, 1, 1]               0\n",
            "            Linear-3              [1048576, 10]         655,370\n",
            "Input size (MB): 1125899906842624.00\n", /* 2^50 */
            "Forward/backward pass size (MB): 1048656.00\n", /* 2 * 4 * 1048576 * (65536 + 65536 + 10) / 2^20 */
            "Params size (MB): 2.50\n",
            "Estimated Total Size (MB): 1125899906842624.00\n", /* float32, as torchsummary's */
            "            Linear-3                         -- 687,205,253,120\n",
            "Total mult-adds (M): 687205.25\n",
        };
        for (size_t i = 0; got && i < sizeof want / sizeof want[0]; i++)
            if (!strstr(got, want[i])) {
                CHECK(strstr(got, want[i]) != NULL);
                fprintf(stderr, "  expected the line:\n%s  in:\n%s", want[i], got);
            }
        free(got);
        cnn_model_free(m);
    }

    m = create("nn.Sequential(nn.Conv2d(2048, 2048, 1))", 2048, 1024, 1024);
    if (m) {
        int rc = -1;
        char *got = capture(cnn_model_summary, NULL, m, 1 << 24, &rc);
        CHECK_INT_EQ(rc, CNN_OK);
        if (rc != CNN_OK) fprintf(stderr, "  %s\n", cnn_last_error());
        static const char *const want[] = {
            "            Conv2d-1  [16777216, 2048, 1024, 1024]       4,196,352\n",
            "Input size (MB): 137438953472.00\n",
            "Forward/backward pass size (MB): 274877906944.00\n",
            "            Conv2d-1                     [1, 1] 73,823,005,091,857,170,432\n",
            "Total mult-adds (M): 73823005091857.17\n",
        };
        for (size_t i = 0; got && i < sizeof want / sizeof want[0]; i++)
            if (!strstr(got, want[i])) {
                CHECK(strstr(got, want[i]) != NULL);
                fprintf(stderr, "  expected the line:\n%s  in:\n%s", want[i], got);
            }
        free(got);
        cnn_model_free(m);
    }
}

int main(void) {
    test_lenet();
    test_no_params();
    test_counts();
    test_huge();
    return test_report();
}
