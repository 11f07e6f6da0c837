/* resize.c — bilinear resizing of images, as torchvision's Resize on tensors
 * with antialias=False, i.e. F.interpolate(mode='bilinear', align_corners=False):
 *
 *   scale = in / out;  src = max(0, scale * (dst + 0.5) - 0.5)
 *   i0 = floor(src), i1 = min(i0 + 1, in - 1), l1 = src - i0, l0 = 1 - l1
 *   out[y][x] = l0y (l0x in[i0y][i0x] + l1x in[i0y][i1x]) + l1y (l0x in[i1y][i0x] + l1x in[i1y][i1x])
 *
 * in float, as PyTorch computes it for float tensors.
 */
#include "cnn_internal.h"

/* Source index pair and weights for output position d of a resize from in to out. */
static void cnn__lerp(int64_t d, int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *l0, float *l1) {
    const float scale = (float)in / (float)out;
    float src = scale * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int64_t i = (int64_t)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *l1 = src - (float)i;
    *l0 = 1.0f - *l1;
}

int cnn_resize_bilinear(float *out, const float *in, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow) {
    if (!out || !in) return cnn__fail(CNN_EINVAL, "cnn_resize_bilinear: NULL buffer");
    if (planes < 0 || h < 1 || w < 1 || oh < 1 || ow < 1 || h > (1 << 20) || w > (1 << 20) || oh > (1 << 20) ||
        ow > (1 << 20))
        return cnn__fail(CNN_ERANGE, "cnn_resize_bilinear: sizes %lldx%lld -> %lldx%lld, expected 1..%d each",
                         (long long)h, (long long)w, (long long)oh, (long long)ow, 1 << 20);
    #pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *src = in + p * h * w;
        float *dst = out + p * oh * ow;
        for (int64_t y = 0; y < oh; y++) {
            int64_t y0, y1;
            float ly0, ly1;
            cnn__lerp(y, h, oh, &y0, &y1, &ly0, &ly1);
            const float *r0 = src + y0 * w, *r1 = src + y1 * w;
            for (int64_t x = 0; x < ow; x++) {
                int64_t x0, x1;
                float lx0, lx1;
                cnn__lerp(x, w, ow, &x0, &x1, &lx0, &lx1);
                dst[y * ow + x] = ly0 * (lx0 * r0[x0] + lx1 * r0[x1]) + ly1 * (lx0 * r1[x0] + lx1 * r1[x1]);
            }
        }
    }
    return CNN_OK;
}
