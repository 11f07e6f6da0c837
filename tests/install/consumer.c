/* consumer.c — a program outside the source tree that uses the installed
 * library: the model file from the installed models, a forward pass (GEMM:
 * OpenBLAS), a CRC-32 (zlib). Linked by tests/install/run.sh with pkg-config
 * (shared and --static) and with find_package(cnn CONFIG). */
#include <cnn.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer MODEL.txt\n");
        return 2;
    }
    if (strcmp(cnn_version(), CNN_VERSION) != 0) {
        fprintf(stderr, "consumer: library %s, header %s\n", cnn_version(), CNN_VERSION);
        return 1;
    }
    char *text = NULL;
    cnn_model *m = NULL;
    const int64_t chw[3] = {1, 28, 28};
    if (cnn_file_read(argv[1], 1 << 20, &text, NULL) < 0 || cnn_model_create_from_text(&m, text, argv[1], chw) < 0) {
        fprintf(stderr, "consumer: %s\n", cnn_last_error());
        return 1;
    }
    cnn_free(text);
    cnn_rng rng;
    cnn_rng_seed(&rng, 0);
    cnn_model_init_params(m, CNN_INIT_XAVIER, &rng);
    static float x[4 * 28 * 28];
    for (int i = 0; i < 4 * 28 * 28; i++) x[i] = (float)(i % 29) / 29.0f;
    const float *logits;
    if (cnn_model_forward(m, &logits, x, 4, 0, NULL) < 0) {
        fprintf(stderr, "consumer: %s\n", cnn_last_error());
        return 1;
    }
    const int64_t dims[1] = {4};
    const uint8_t labels[4] = {1, 2, 3, 4};
    printf("consumer: cnn %s, %zu parameters, %lld outputs, logit %.4f, crc %08x\n", cnn_version(),
           cnn_model_num_params(m), (long long)cnn_model_num_outputs(m), (double)logits[0],
           (unsigned)cnn_idx_crc32(1, dims, labels));
    int ok = cnn_model_num_params(m) == 61706 && cnn_model_num_outputs(m) == 10;
    cnn_model_free(m);
    return ok ? 0 : 1;
}
