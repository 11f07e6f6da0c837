/* classify.c — load saved weights and classify a 28x28 PNG image, as
 * `cnn predict` does: model, weights, image, forward in eval mode, softmax.
 *
 *   classify MODEL.txt WEIGHTS.safetensors IMAGE.png
 */
#include <cnn.h>

#include <math.h>
#include <stdio.h>

static const char *names[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.txt WEIGHTS.safetensors IMAGE.png\n", argv[0]);
        return 2;
    }
    const int64_t chw[3] = {1, 28, 28};
    cnn_model *model = NULL;
    char *text = NULL;
    float x[28 * 28]; /* (1, 1, 28, 28), pixels / 255 */
    const float *z;   /* (1, 10) logits */
    if (cnn_file_read(argv[1], 1 << 20, &text, NULL) < 0 ||
        cnn_model_create_from_text(&model, text, argv[1], chw) < 0 || cnn_model_load(model, argv[2]) < 0 ||
        cnn_png_read_gray(x, argv[3], 28, 28) < 0 || cnn_model_forward(model, &z, x, 1, CNN_EVAL, NULL) < 0) {
        fprintf(stderr, "classify: %s\n", cnn_last_error());
        cnn_free(text);
        cnn_model_free(model);
        return 1;
    }
    /* p = softmax(z); the class is argmax z. */
    int64_t c = cnn_model_num_outputs(model), best = 0;
    double sum = 0;
    for (int64_t k = 1; k < c; k++)
        if (z[k] > z[best]) best = k;
    for (int64_t k = 0; k < c; k++) sum += exp((double)z[k] - z[best]);
    printf("%s: %s (%.3f)\n", argv[3], best < 10 ? names[best] : "?", 1.0 / sum);
    cnn_free(text);
    cnn_model_free(model);
    return 0;
}
