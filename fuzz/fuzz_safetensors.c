/* fuzz_safetensors.c — libFuzzer target for the safetensors reader
 * (src/io/safetensors.c).
 *
 * Each input is used twice:
 *   1. parsed in memory (cnn_safetensors_parse); on success every F32 tensor
 *      is converted with cnn_safetensors_get_f32 and looked up by name, and
 *      the parsed offsets must lie inside the buffer;
 *   2. written to a temporary file and loaded into LeNet (built once from a
 *      fixed text) with cnn_model_load. A failed load must leave a message.
 */
#include "fuzz_util.h"
#include "io/safetensors.h"

static const char *lenet_text =
    "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),\n"
    "    nn.AvgPool2d(kernel_size=2, stride=2), nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),\n"
    "    nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(), nn.Linear(16 * 5 * 5, 120),\n"
    "    nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))\n";

static cnn_model *lenet;

static void check_parsed(const cnn_safetensors *st, uint64_t size) {
    if (st->n_tensors < 0 || (st->n_tensors > 0 && !st->tensors)) abort();
    if (st->data_size > size) abort();
    for (int i = 0; i < st->n_tensors; i++) {
        const cnn_st_tensor *t = &st->tensors[i];
        if (t->begin > t->end || t->end > st->data_size) abort();
        if (!t->name || cnn_safetensors_find(st, t->name) == NULL) abort();
        if (strcmp(t->dtype, "F32") != 0) continue;
        uint64_t numel = (t->end - t->begin) / 4;
        float *out = malloc((size_t)numel * sizeof *out + 1);
        if (!out) continue;
        int rc = cnn_safetensors_get_f32(st, t, out);
        fuzz_check_message(rc, "cnn_safetensors_get_f32");
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (!lenet) {
        const int64_t chw[3] = {1, 28, 28};
        if (cnn_model_create_from_text(&lenet, lenet_text, "lenet", chw) != CNN_OK) {
            fprintf(stderr, "fuzz harness: cannot build LeNet: %s\n", cnn_last_error());
            abort();
        }
    }
    if (size > (4u << 20)) return 0;

    cnn_safetensors st;
    cnn_clear_error();
    int rc = cnn_safetensors_parse(&st, data, size, "fuzz-input");
    fuzz_check_message(rc, "cnn_safetensors_parse");
    if (rc == CNN_OK) {
        check_parsed(&st, size);
        cnn_safetensors_free(&st);
    }

    const char *path = fuzz_temp_path(0, ".safetensors");
    fuzz_write_file(path, data, size);
    cnn_clear_error();
    rc = cnn_model_load(lenet, path);
    fuzz_check_message(rc, "cnn_model_load");
    return 0;
}
