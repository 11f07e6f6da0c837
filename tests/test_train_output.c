/* test_train_output.c — cnn_train and cnn_evaluate refuse a model whose
 * output is not one vector of class scores per example.
 *
 * nn.CrossEntropyLoss accepts an (N, C, d1, ...) input only with (N, d1, ...)
 * targets; an image classifier has one label per image, so a model that ends
 * in a Conv2d (N, 6, 28, 28) must be refused with a message saying what to
 * add, not trained as 4704 classes. Checked on the 32 images of
 * fixtures/step, before any training (the parameters stay unchanged).
 */
#include "test_util.h"

#define STEP_DIR CNN_FIXTURES_DIR "/step"

static cnn_model *create(const char *text) {
    cnn_model *m = NULL;
    int rc = cnn_model_create_from_text(&m, text, "test", (int64_t[3]){1, 28, 28});
    CHECK_INT_EQ(rc, CNN_OK);
    if (rc != CNN_OK) fprintf(stderr, "  %s\n", cnn_last_error());
    return rc == CNN_OK ? m : NULL;
}

/* Training and evaluation both fail with CNN_ESHAPE and these messages. */
static void expect_refused(const char *text, const cnn_dataset *train, const cnn_dataset *test,
                           const char *want_train, const char *want_eval) {
    cnn_model *m = create(text);
    if (!m) return;
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    CHECK_OK(cnn_model_init_params(m, CNN_INIT_DEFAULT, &rng));
    size_t np = cnn_model_num_params(m);
    float *before = malloc(np * sizeof *before);
    if (before) memcpy(before, cnn_model_params(m), np * sizeof *before);

    cnn_train_config cfg;
    cnn_train_config_default(&cfg);
    cfg.epochs = 1, cfg.batch_size = 8;
    CHECK_STATUS(cnn_train(m, train, test, &cfg, NULL, NULL), CNN_ESHAPE);
    CHECK_STR_EQ(cnn_last_error(), want_train);
    if (before) CHECK(memcmp(before, cnn_model_params(m), np * sizeof *before) == 0); /* nothing trained */

    double acc = -1.0;
    CHECK_STATUS(cnn_evaluate(m, test, 8, &acc), CNN_ESHAPE);
    CHECK_STR_EQ(cnn_last_error(), want_eval);
    CHECK(acc == -1.0);
    free(before);
    cnn_model_free(m);
}

int main(void) {
    cnn_dataset train, test;
    CHECK_OK(cnn_dataset_load_split(&train, STEP_DIR, "train"));
    CHECK_OK(cnn_dataset_load_split(&test, STEP_DIR, "t10k"));
    if (!train.n || !test.n) return test_report();

    /* Only a Conv2d: (N, 6, 28, 28). */
    expect_refused("nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2))", &train, &test,
                   "the model's output is 6x28x28 per example; cross-entropy needs a vector of class scores "
                   "(add nn.Flatten() and nn.Linear)",
                   "the model's output is 6x28x28 per example; accuracy needs a vector of class scores "
                   "(add nn.Flatten() and nn.Linear)");
    /* A Linear on the rows of a 3-D tensor: (N, 6, 10). */
    expect_refused("nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Flatten(start_dim=2),"
                   " nn.Linear(784, 10))",
                   &train, &test,
                   "the model's output is 6x10 per example; cross-entropy needs a vector of class scores "
                   "(add nn.Flatten() and nn.Linear)",
                   "the model's output is 6x10 per example; accuracy needs a vector of class scores "
                   "(add nn.Flatten() and nn.Linear)");

    /* The same layers ending in a vector train and evaluate. */
    cnn_model *m = create("nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Flatten(),"
                          " nn.Linear(4704, 10))");
    if (m) {
        cnn_rng rng;
        cnn_rng_seed(&rng, 1);
        CHECK_OK(cnn_model_init_params(m, CNN_INIT_DEFAULT, &rng));
        cnn_train_config cfg;
        cnn_train_config_default(&cfg);
        cfg.epochs = 1, cfg.batch_size = 8, cfg.lr = 0.01f;
        CHECK_OK(cnn_train(m, &train, &test, &cfg, NULL, NULL));
        double acc = -1.0;
        CHECK_OK(cnn_evaluate(m, &test, 8, &acc));
        CHECK(acc >= 0.0 && acc <= 1.0);
        cnn_model_free(m);
    }
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return test_report();
}
