// consumer.cpp — cnn.h from C++: the header compiles as C++11 with every
// warning, its names link (extern "C"), and the training callback compares
// ev->kind with CNN_EVENT_EPOCH at file scope.
#include <cnn.h>

#include <cstdio>
#include <cstring>

static_assert(CNN_VERSION_NUMBER == CNN_MAKE_VERSION(CNN_VERSION_MAJOR, CNN_VERSION_MINOR, CNN_VERSION_PATCH),
              "version macros");

struct progress {
    int batches = 0, epochs = 0;
    double last_lr = 0;
};

static int on_event(const cnn_train_event *ev, void *user) {
    progress *p = static_cast<progress *>(user);
    switch (ev->kind) {
    case CNN_EVENT_BATCH: p->batches++; break;
    case CNN_EVENT_EPOCH: p->epochs++; break;
    }
    if (ev->kind == CNN_EVENT_EPOCH) p->last_lr = ev->lr;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: consumer MODEL.txt DATA_DIR\n");
        return 2;
    }
    if (std::strcmp(cnn_version(), CNN_VERSION) != 0) {
        std::fprintf(stderr, "library %s, header %s\n", cnn_version(), CNN_VERSION);
        return 1;
    }
    char *text = nullptr;
    cnn_model *m = nullptr;
    const int64_t chw[3] = {1, 28, 28};
    cnn_dataset train = {}, test = {};
    if (cnn_file_read(argv[1], 1 << 20, &text, nullptr) < 0 ||
        cnn_model_create_from_text(&m, text, argv[1], chw) < 0 ||
        cnn_dataset_load_split(&train, argv[2], "train") < 0 || cnn_dataset_load_split(&test, argv[2], "t10k") < 0) {
        std::fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    cnn_free(text);
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    cnn_model_init_params(m, CNN_INIT_XAVIER, &rng);
    cnn_train_config cfg;
    cnn_train_config_default(&cfg);
    cfg.epochs = 2;
    cfg.batch_size = 16;
    cfg.schedule = CNN_SCHEDULE_STEP;
    cfg.gamma = 0.5f;
    progress p;
    if (cnn_train(m, &train, &test, &cfg, on_event, &p) < 0) {
        std::fprintf(stderr, "cnn_train: %s\n", cnn_last_error());
        return 1;
    }
    // Read-only access through a const model.
    const cnn_model *cm = m;
    const float *w = cnn_model_params_const(cm);
    std::size_t n = cnn_model_num_params(cm);
    double sum = 0;
    for (std::size_t i = 0; i < n; i++) sum += w[i];
    const cnn_layer_desc *first = cnn_model_layer(cm, 0);
    std::printf("cnn %s from C++: %s first, %zu parameters (sum %.3f), %d batch and %d epoch events, last lr %g\n",
                cnn_version(), cnn_layer_kind_name(first->kind), n, sum, p.batches, p.epochs, p.last_lr);
    int ok = p.epochs == 2 && p.batches == 2 * int((train.n + 15) / 16) && p.last_lr > 0.44 && p.last_lr < 0.46 &&
             w == cnn_model_params(m);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    cnn_model_free(m);
    return ok ? 0 : 1;
}
