/* custom_loop.c — a training loop written out by hand: batches, forward,
 * cross-entropy, backward, an optimizer step, as a PyTorch loop reads:
 *
 *   for X, y in batches:
 *       optimizer.zero_grad(); l = loss(net(X), y); l.backward(); optimizer.step()
 *
 *   custom_loop DATA_DIR MODEL.txt
 */
#include <cnn.h>

#include <stdio.h>
#include <stdlib.h>

#define BATCH 16
#define EPOCHS 5

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR MODEL.txt\n", argv[0]);
        return 2;
    }
    cnn_dataset train = {0};
    cnn_model *net = NULL;
    char *text = NULL;
    if (cnn_dataset_load_split(&train, argv[1], "train") < 0) goto fail;
    const int64_t chw[3] = {1, train.h, train.w};
    if (cnn_file_read(argv[2], 1 << 20, &text, NULL) < 0 || cnn_model_create_from_text(&net, text, argv[2], chw) < 0)
        goto fail;
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    cnn_model_init_params(net, CNN_INIT_DEFAULT, &rng);
    if (cnn_model_reserve(net, BATCH) < 0) goto fail;

    /* torch.optim.Adam(net.parameters(), lr=0.01) over the flat parameter buffer. */
    cnn_optim opt = cnn_optim_make(CNN_OPTIM_ADAM, 0.01f);
    if (cnn_optim_init(&opt, cnn_model_num_params(net)) < 0) goto fail;

    const int64_t classes = cnn_model_num_outputs(net);
    float *x = malloc(sizeof(float) * BATCH * (size_t)(train.h * train.w));
    int32_t y[BATCH];
    if (!x) return 1;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        double loss_sum = 0;
        int64_t correct = 0, seen = 0;
        for (int64_t start = 0; start + BATCH <= train.n; start += BATCH) {
            const float *z;
            float loss;
            int64_t right;
            cnn_tensor dlogits = CNN_TENSOR_EMPTY;                 /* allocated by the loss */
            cnn_dataset_batch(x, y, &train, NULL, start, BATCH);   /* X (16, 1, h, w), y (16) */
            cnn_model_zero_grad(net);                              /* optimizer.zero_grad() */
            if (cnn_model_forward(net, &z, x, BATCH, CNN_TRAIN, &rng) < 0) goto fail; /* z = net(X), training */
            cnn_tensor logits = {2, {BATCH, classes, 0, 0}, (float *)z, 0};
            if (cnn_cross_entropy(&loss, &dlogits, &logits, y) < 0) goto fail; /* l = loss(z, y); dl/dz */
            cnn_count_correct(&right, &logits, y);
            int rc = cnn_model_backward(net, dlogits.data);        /* l.backward() */
            cnn_tensor_free(&dlogits);
            if (rc < 0) goto fail;
            cnn_optim_step(&opt, cnn_model_params(net), cnn_model_grads(net)); /* optimizer.step() */
            loss_sum += (double)loss * BATCH, correct += right, seen += BATCH;
        }
        printf("epoch %d: loss %.3f, train acc %.3f\n", epoch + 1, loss_sum / (double)seen,
               (double)correct / (double)seen);
    }
    free(x);
    cnn_optim_free(&opt);
    cnn_free(text);
    cnn_model_free(net);
    cnn_dataset_free(&train);
    return 0;
fail:
    fprintf(stderr, "custom_loop: %s\n", cnn_last_error());
    cnn_free(text);
    cnn_model_free(net);
    cnn_dataset_free(&train);
    return 1;
}
