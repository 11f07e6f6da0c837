/* fuzz_jpeg.c — libFuzzer target for the image decoder (src/data/image.c):
 * JPEG through libjpeg-turbo (and PNG through libpng when the input starts
 * like one), in memory, in each mode (as stored, GRAY, RGB: the first byte's
 * low bits choose), then a resize of a successful decode to 7 x 5 (which
 * may only fail for want of memory). A decode
 * gives c in {1, 3} and sizes >= 1, or an error with a message. */
#include "data/data.h"
#include "fuzz_util.h"

static volatile unsigned sink; /* keeps the reads of every byte */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (size < 1 || size > (1u << 20)) return 0;
    static const int modes[4] = {0, 1, 3, 0};
    const int mode = modes[data[0] & 3];
    uint8_t *px = NULL;
    int64_t c = 0, h = 0, w = 0;
    int rc = cnn_image_decode(&px, &c, &h, &w, data + 1, size - 1, mode, "fuzz.jpg");
    if (rc == CNN_OK) {
        if (!px || (c != 1 && c != 3) || h < 1 || w < 1 || (mode && c != mode)) abort();
        unsigned sum = 0;
        for (int64_t i = 0; i < c * h * w; i++) sum += px[i]; /* every byte was written */
        sink = sum;
        uint8_t out[3 * 7 * 5];
        /* a huge image may not get its float scratch (the allocator's cap): refused, with a message */
        int rr = cnn_resize_u8(out, px, c, h, w, 7, 5);
        if (rr != CNN_OK && (rr != CNN_ENOMEM || !cnn_last_error()[0])) abort();
        cnn_free(px);
    } else if (px || !cnn_last_error()[0]) {
        abort();
    }
    return 0;
}
