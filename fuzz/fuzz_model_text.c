/* fuzz_model_text.c — libFuzzer target for the model text parser
 * (src/nn/parse.c) and model construction (src/nn/model.c).
 *
 * The input, NUL-terminated, is parsed with cnn_model_parse. When parsing
 * succeeds the layers are built into a model for 1 x 28 x 28 inputs (shape
 * chaining may still fail), and a built model prints its summary and trace to
 * /dev/null. cnn_model_create_from_text must agree with parse + create.
 * Parameter buffers above the harness's allocation cap fail with
 * CNN_ENOMEM, which is an accepted outcome.
 */
#include "fuzz_util.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
    if (size > (64u << 10)) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    const int64_t chw[3] = {1, 28, 28};
    cnn_layer_desc *layers = NULL;
    int n_layers = -1;
    cnn_clear_error();
    int rc = cnn_model_parse(&layers, &n_layers, text, "fuzz.txt");
    fuzz_check_message(rc, "cnn_model_parse");
    int create_rc = rc;
    if (rc == CNN_OK) {
        if (n_layers < 1 || !layers) abort();
        cnn_model *m = NULL;
        create_rc = cnn_model_create(&m, layers, n_layers, chw);
        fuzz_check_message(create_rc, "cnn_model_create");
        if (create_rc == CNN_OK) {
            if (cnn_model_num_layers(m) != n_layers) abort();
            fuzz_check_message(cnn_model_summary(devnull, m, 1), "cnn_model_summary");
            fuzz_check_message(cnn_model_trace(devnull, m), "cnn_model_trace");
            cnn_model_free(m);
        }
        cnn_free(layers);
    }

    cnn_model *m2 = NULL;
    cnn_clear_error();
    int rc2 = cnn_model_create_from_text(&m2, text, "fuzz.txt", chw);
    fuzz_check_message(rc2, "cnn_model_create_from_text");
    /* Both paths must agree (an allocation refusal may differ in where it hits). */
    if ((rc2 == CNN_OK) != (create_rc == CNN_OK) && rc2 != CNN_ENOMEM && create_rc != CNN_ENOMEM) abort();
    cnn_model_free(m2);
    free(text);
    return 0;
}
