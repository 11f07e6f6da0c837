/* fuzz_png.c — libFuzzer target for the PNG reader (src/data/png.c).
 *
 * The input is written to a temporary .png file. The wanted size is taken
 * from the IHDR width and height when they are present and at most 512 per
 * side (so the pixel decoder is reached); otherwise 28 x 28. Every output
 * value of a successful read must lie in [0, 1]; the output buffer has a
 * guard float on each side that must stay untouched.
 */
#include "fuzz_util.h"

#include <math.h>

#define GUARD 12345.0f

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (size > (1u << 20)) return 0;
    int64_t h = 28, w = 28;
    if (size >= 24) {
        uint32_t iw = be32(data + 16), ih = be32(data + 20);
        if (iw >= 1 && iw <= 512 && ih >= 1 && ih <= 512) h = ih, w = iw;
    }
    const char *path = fuzz_temp_path(0, ".png");
    fuzz_write_file(path, data, size);

    size_t n = (size_t)(h * w);
    float *buf = malloc((n + 2) * sizeof *buf);
    if (!buf) return 0;
    buf[0] = buf[n + 1] = GUARD;
    float *out = buf + 1;
    for (size_t i = 0; i < n; i++) out[i] = -1.0f;
    cnn_clear_error();
    int rc = cnn_png_read_gray(out, path, h, w);
    fuzz_check_message(rc, "cnn_png_read_gray");
    if (buf[0] != GUARD || buf[n + 1] != GUARD) abort();
    if (rc == CNN_OK) {
        for (size_t i = 0; i < n; i++)
            if (!(out[i] >= 0.0f && out[i] <= 1.0f)) abort();
    }
    free(buf);
    return 0;
}
