/* train_lenet.c — train a model with the library, as `cnn train` does:
 * data, model, initialisation, the training loop with a progress callback,
 * and the trained weights saved as safetensors.
 *
 *   train_lenet DATA_DIR MODEL.txt OUT.safetensors
 *
 * DATA_DIR holds the four IDX files (train-* and t10k-*, plain or .gz).
 */
#include <cnn.h>

#include <stdio.h>

/* Called after every step (CNN_EVENT_BATCH) and every epoch (CNN_EVENT_EPOCH). */
static int progress(const cnn_train_event *ev, void *user) {
    (void)user;
    if (ev->kind == CNN_EVENT_EPOCH)
        printf("epoch %d: loss %.3f, train acc %.3f, test acc %.3f, lr %g\n", ev->epoch + 1, ev->train_loss,
               ev->train_acc, ev->test_acc, ev->lr);
    return 0; /* non-zero stops training */
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DATA_DIR MODEL.txt OUT.safetensors\n", argv[0]);
        return 2;
    }
    cnn_dataset train = {0}, test = {0};
    cnn_model *model = NULL;
    char *text = NULL;
    int rc = 1;
    /* Data: images (n, c, h, w) as bytes, and labels, in any format cnn reads. */
    if (cnn_data_load(&train, &test, argv[1], NULL) < 0) goto fail;
    /* Model: a PyTorch nn.Sequential written as text, for inputs (c, h, w). */
    int64_t chw[3] = {cnn_dataset_channels(&train), train.h, train.w};
    if (cnn_file_read(argv[2], 1 << 20, &text, NULL) < 0 ||
        cnn_model_create_from_text(&model, text, argv[2], chw) < 0)
        goto fail;
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    cnn_model_init_params(model, CNN_INIT_XAVIER, &rng); /* d2l's init_weights */

    /* d2l's train_ch6: SGD, cross-entropy, test accuracy after each epoch. */
    cnn_train_config cfg;
    cnn_train_config_default(&cfg); /* epochs 10, batch 256, lr 0.9, ... */
    cfg.epochs = 3;
    cfg.batch_size = 16;
    cfg.optimizer = CNN_OPTIM_ADAM;
    cfg.lr = 0.01f;
    if (cnn_train(model, &train, &test, &cfg, progress, NULL) < 0) goto fail;

    /* state_dict names (0.weight, ...), and in the metadata the model text and
     * the class names, so that the file alone gives the model back */
    cnn_weights_info info = {0};
    info.model_text = text;
    info.num_classes = train.num_classes;
    info.class_names = train.class_names;
    if (cnn_model_save_info(model, argv[3], &info) < 0) goto fail;
    printf("saved %zu parameters to %s\n", cnn_model_num_params(model), argv[3]);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "train_lenet: %s\n", cnn_last_error());
    cnn_free(text);
    cnn_model_free(model);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return rc;
}
