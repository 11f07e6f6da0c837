/* fuzz_png.c — libFuzzer target for the PNG reader (src/data/png.c).
 *
 * The input is written to a temporary .png file. The wanted size is taken
 * from the IHDR width and height when they are present and at most 512 per
 * side (so the pixel decoder is reached); otherwise 28 x 28. Every output
 * value of a successful read must lie in [0, 1]; the output buffer has a
 * guard float on each side that must stay untouched.
 *
 * Before the input is written, the CRC of every complete chunk is recomputed,
 * so that mutations reach the decoder instead of stopping at libpng's CRC
 * check. A crash input that libFuzzer saves is the raw input; running it
 * through this target writes the same file again.
 */
#include "fuzz_util.h"

#include <math.h>
#include <zlib.h>

#define GUARD 12345.0f

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static void put_be32(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
}

/* Chunks after the 8-byte signature: length (4), type (4), data, CRC (4)
 * over type and data. */
static void fix_crcs(uint8_t *b, size_t size) {
    size_t pos = 8;
    while (size >= 12 && pos <= size - 12) {
        uint32_t len = be32(b + pos);
        if (len > size - pos - 12) break;
        uLong crc = crc32(0, b + pos + 4, (uInt)len + 4);
        put_be32(b + pos + 8 + len, (uint32_t)crc);
        pos += 12 + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
    fuzz_setup();
    if (size > (1u << 20)) return 0;
    uint8_t *data = malloc(size ? size : 1);
    if (!data) return 0;
    memcpy(data, input, size);
    fix_crcs(data, size);
    int64_t h = 28, w = 28;
    if (size >= 24) {
        uint32_t iw = be32(data + 16), ih = be32(data + 20);
        if (iw >= 1 && iw <= 512 && ih >= 1 && ih <= 512) h = ih, w = iw;
    }
    const char *path = fuzz_temp_path(0, ".png");
    fuzz_write_file(path, data, size);

    size_t n = (size_t)(h * w);
    float *buf = malloc((n + 2) * sizeof *buf);
    free(data);
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
