/* image.c — PNG and JPEG files as (c, h, w) bytes, as torchvision's
 * read_image(path, mode) decodes them, and bilinear resizing of bytes as
 * torchvision's Resize does on a uint8 tensor.
 *
 * Modes (channels): 0 keeps the file's colour (1 for gray, 3 for colour; an
 * alpha channel is dropped), 1 is ImageReadMode.GRAY, 3 is ImageReadMode.RGB.
 *   PNG   through libpng with the transformations torchvision asks for:
 *         gray 1/2/4 bits expanded, palette -> RGB, alpha stripped, gray -> RGB
 *         (png_set_gray_to_rgb) or RGB -> gray (png_set_rgb_to_gray with
 *         0.2989, 0.587: (9794 R + 19234 G + 3740 B) >> 15); 16-bit samples
 *         are scaled to 8 bits with rounding (png_set_scale_16).
 *   JPEG  through libjpeg(-turbo) with its defaults (islow IDCT, fancy
 *         upsampling), out_color_space JCS_GRAYSCALE or JCS_RGB; baseline and
 *         progressive files. CMYK and YCCK files are refused (no standard
 *         conversion to RGB exists in libjpeg).
 *
 * Errors from either library longjmp back to the decoder, which frees what
 * it allocated and reports CNN_EFORMAT naming the file and the library's
 * message; sizes are limited to CNN_IMAGE_MAX_SIDE per side and
 * CNN_IMAGE_MAX_PIXELS in all before anything is allocated.
 */
#include "data/data.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
/* jpeglib.h needs size_t and FILE first */
#include <jpeglib.h>

#define CNN_IMAGE_MAX_SIDE 65535
#define CNN_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

int cnn__image_kind(const uint8_t *b, size_t len) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (len >= 8 && memcmp(b, png_sig, 8) == 0) return CNN__IMAGE_PNG;
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return CNN__IMAGE_JPEG;
    return 0;
}

/* ---- PNG ---------------------------------------------------------------- */

typedef struct {
    const uint8_t *bytes;
    size_t len, pos;
    char msg[200];
} png_mem;

static void img_png_error(png_structp png, png_const_charp msg) {
    png_mem *m = png_get_error_ptr(png);
    snprintf(m->msg, sizeof m->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void img_png_warning(png_structp png, png_const_charp msg) {
    (void)png, (void)msg;
}

static void img_png_read(png_structp png, png_bytep data, size_t n) {
    png_mem *m = png_get_io_ptr(png);
    if (n > m->len - m->pos) png_error(png, "unexpected end of file (truncated)");
    memcpy(data, m->bytes + m->pos, n);
    m->pos += n;
}

static png_voidp img_png_malloc(png_structp png, png_alloc_size_t size) {
    (void)png;
    return cnn_malloc(size);
}

static void img_png_free(png_structp png, png_voidp p) {
    (void)png;
    cnn_free(p);
}

/* The decode proper, apart from the cleanup (setjmp: no locals change after it). */
static int png_decode_inner(png_structp png, png_infop info, png_mem *m, int channels, uint8_t **px, int64_t *c,
                            int64_t *h, int64_t *w, png_bytep **rows_out, const char *name) {
    if (setjmp(png_jmpbuf(png))) return CNN_EFORMAT;
    png_set_read_fn(png, m, img_png_read);
    png_set_user_limits(png, CNN_IMAGE_MAX_SIDE, CNN_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)8 << 20);
    png_read_info(png, info);
    png_uint_32 pw, ph;
    int depth, color, interlace;
    png_get_IHDR(png, info, &pw, &ph, &depth, &color, &interlace, NULL, NULL);
    if ((int64_t)pw * (int64_t)ph > CNN_IMAGE_MAX_PIXELS) {
        snprintf(m->msg, sizeof m->msg, "%ux%u pixels: at most %lld", (unsigned)ph, (unsigned)pw,
                 (long long)CNN_IMAGE_MAX_PIXELS);
        return CNN_EFORMAT;
    }
    const int has_color = (color & PNG_COLOR_MASK_COLOR) != 0;
    int out_c = channels ? channels : has_color ? 3 : 1;
    if (depth == 16) png_set_scale_16(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    if (out_c == 1 && has_color) png_set_rgb_to_gray(png, 1, 0.2989, 0.587);
    if (out_c == 3 && !has_color) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if ((int)png_get_channels(png, info) != out_c || png_get_rowbytes(png, info) != (size_t)pw * (size_t)out_c) {
        snprintf(m->msg, sizeof m->msg, "unexpected layout after conversion (%d channels)", (int)png_get_channels(png, info));
        return CNN_EFORMAT;
    }
    uint8_t *hwc = cnn_malloc((size_t)ph * pw * (size_t)out_c);
    png_bytep *rows = cnn_malloc((size_t)ph * sizeof *rows);
    *rows_out = rows;
    *px = hwc;
    if (!hwc || !rows) return CNN_ENOMEM;
    for (png_uint_32 y = 0; y < ph; y++) rows[y] = hwc + (size_t)y * pw * (size_t)out_c;
    png_read_image(png, rows);
    *c = out_c, *h = ph, *w = pw;
    (void)name;
    return CNN_OK;
}

static int png_decode(uint8_t **hwc, int64_t *c, int64_t *h, int64_t *w, const uint8_t *bytes, size_t len,
                      int channels, const char *name) {
    png_mem m = {bytes, len, 8, ""};
    png_structp png =
        png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &m, img_png_error, img_png_warning, NULL, img_png_malloc, img_png_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return cnn__fail(CNN_ENOMEM, "%s: cannot allocate the PNG decoder", name);
    }
    png_set_sig_bytes(png, 8);
    uint8_t *px = NULL;
    png_bytep *rows = NULL;
    int rc = png_decode_inner(png, info, &m, channels, &px, c, h, w, &rows, name);
    png_destroy_read_struct(&png, &info, NULL);
    cnn_free(rows);
    if (rc != CNN_OK) {
        cnn_free(px);
        return rc == CNN_ENOMEM ? cnn__fail(CNN_ENOMEM, "%s: out of memory while decoding the PNG", name)
                                : cnn__fail(CNN_EFORMAT, "%s: corrupt PNG: %s", name, m.msg);
    }
    *hwc = px;
    return CNN_OK;
}

/* ---- JPEG --------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_err;

static void img_jpeg_error(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)(void *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void img_jpeg_message(j_common_ptr cinfo) {
    (void)cinfo; /* warnings (a corrupt but decodable file) are not printed */
}

static int jpeg_decode_inner(struct jpeg_decompress_struct *d, jpeg_err *e, const uint8_t *bytes, size_t len,
                             int channels, uint8_t **px, int64_t *c, int64_t *h, int64_t *w) {
    if (setjmp(e->jump)) return CNN_EFORMAT;
    jpeg_create_decompress(d);
    jpeg_mem_src(d, bytes, (unsigned long)len);
    jpeg_read_header(d, TRUE);
    if (d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK) {
        snprintf(e->msg, sizeof e->msg, "%s JPEG files are not supported (convert the image to RGB)",
                 d->jpeg_color_space == JCS_CMYK ? "CMYK" : "YCCK (Adobe CMYK)");
        return CNN_EINVAL;
    }
    const int is_gray = d->jpeg_color_space == JCS_GRAYSCALE;
    const int out_c = channels ? channels : is_gray ? 1 : 3;
    d->out_color_space = out_c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    if ((int64_t)d->image_width * (int64_t)d->image_height > CNN_IMAGE_MAX_PIXELS || d->image_width > CNN_IMAGE_MAX_SIDE ||
        d->image_height > CNN_IMAGE_MAX_SIDE) {
        snprintf(e->msg, sizeof e->msg, "%ux%u pixels: at most %lld in all and %d per side", (unsigned)d->image_height,
                 (unsigned)d->image_width, (long long)CNN_IMAGE_MAX_PIXELS, CNN_IMAGE_MAX_SIDE);
        return CNN_EINVAL;
    }
    jpeg_start_decompress(d);
    if (d->output_components != out_c) {
        snprintf(e->msg, sizeof e->msg, "unexpected %d components after conversion", d->output_components);
        return CNN_EINVAL;
    }
    const size_t row = (size_t)d->output_width * (size_t)out_c;
    *px = cnn_malloc(row * d->output_height);
    if (!*px) return CNN_ENOMEM;
    while (d->output_scanline < d->output_height) {
        JSAMPROW r = *px + (size_t)d->output_scanline * row;
        jpeg_read_scanlines(d, &r, 1);
    }
    jpeg_finish_decompress(d);
    *c = out_c, *h = d->output_height, *w = d->output_width;
    return CNN_OK;
}

static int jpeg_decode(uint8_t **hwc, int64_t *c, int64_t *h, int64_t *w, const uint8_t *bytes, size_t len,
                       int channels, const char *name) {
    struct jpeg_decompress_struct d;
    jpeg_err e;
    memset(&d, 0, sizeof d);
    memset(&e, 0, sizeof e);
    d.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = img_jpeg_error;
    e.pub.output_message = img_jpeg_message;
    uint8_t *px = NULL;
    int rc = jpeg_decode_inner(&d, &e, bytes, len, channels, &px, c, h, w);
    jpeg_destroy_decompress(&d);
    if (rc != CNN_OK) {
        cnn_free(px);
        if (rc == CNN_ENOMEM) return cnn__fail(CNN_ENOMEM, "%s: out of memory while decoding the JPEG", name);
        return cnn__fail(rc == CNN_EINVAL ? CNN_EFORMAT : rc, "%s: %s%s", name, rc == CNN_EINVAL ? "" : "corrupt JPEG: ",
                         e.msg);
    }
    *hwc = px;
    return CNN_OK;
}

/* ---- the public functions ---------------------------------------------- */

int cnn_image_decode(uint8_t **pixels, int64_t *c, int64_t *h, int64_t *w, const void *bytes, size_t len,
                     int channels, const char *name) {
    if (!pixels || !c || !h || !w || (!bytes && len)) return cnn__fail(CNN_EINVAL, "cnn_image_decode: NULL argument");
    *pixels = NULL;
    *c = *h = *w = 0;
    if (!name) name = "image";
    if (channels != 0 && channels != 1 && channels != 3)
        return cnn__fail(CNN_EINVAL, "cnn_image_decode: channels: expected 0, 1 or 3, found %d", channels);
    const uint8_t *b = bytes;
    int kind = cnn__image_kind(b, len);
    if (!kind)
        return cnn__fail(CNN_EFORMAT, "%s: not a PNG or JPEG file (it starts with %02x %02x %02x %02x)", name,
                         len > 0 ? b[0] : 0, len > 1 ? b[1] : 0, len > 2 ? b[2] : 0, len > 3 ? b[3] : 0);
    uint8_t *hwc = NULL;
    CNN_TRY(kind == CNN__IMAGE_PNG ? png_decode(&hwc, c, h, w, b, len, channels, name)
                                   : jpeg_decode(&hwc, c, h, w, b, len, channels, name));
    /* (h, w, c) -> (c, h, w), as torchvision's tensors */
    if (*c == 1) {
        *pixels = hwc;
        return CNN_OK;
    }
    const size_t plane = (size_t)(*h * *w);
    uint8_t *chw = cnn_malloc(plane * (size_t)*c);
    if (!chw) {
        cnn_free(hwc);
        *c = *h = *w = 0;
        return cnn__fail(CNN_ENOMEM, "%s: out of memory for %lldx%lld pixels", name, (long long)*h, (long long)*w);
    }
    for (size_t p = 0; p < plane; p++)
        for (int64_t k = 0; k < *c; k++) chw[(size_t)k * plane + p] = hwc[p * (size_t)*c + (size_t)k];
    cnn_free(hwc);
    *pixels = chw;
    return CNN_OK;
}

int cnn_image_read(uint8_t **pixels, int64_t *c, int64_t *h, int64_t *w, const char *path, int channels) {
    if (!pixels || !path) return cnn__fail(CNN_EINVAL, "cnn_image_read: NULL argument");
    *pixels = NULL;
    char *bytes = NULL;
    size_t len = 0;
    CNN_TRY(cnn_file_read(path, (size_t)1 << 30, &bytes, &len));
    int rc = cnn_image_decode(pixels, c, h, w, bytes, len, channels, path);
    cnn_free(bytes);
    return rc;
}

int cnn_resize_u8(uint8_t *out, const uint8_t *in, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow) {
    if (!out || !in) return cnn__fail(CNN_EINVAL, "cnn_resize_u8: NULL buffer");
    if (planes < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 || h > CNN_IMAGE_MAX_SIDE || w > CNN_IMAGE_MAX_SIDE ||
        oh > CNN_IMAGE_MAX_SIDE || ow > CNN_IMAGE_MAX_SIDE)
        return cnn__fail(CNN_ERANGE, "cnn_resize_u8: sizes %lldx%lld -> %lldx%lld, expected 1..%d each", (long long)h,
                         (long long)w, (long long)oh, (long long)ow, CNN_IMAGE_MAX_SIDE);
    float *fin = cnn_malloc((size_t)(h * w) * sizeof *fin), *fout = cnn_malloc((size_t)(oh * ow) * sizeof *fout);
    if (!fin || !fout) {
        cnn_free(fin), cnn_free(fout);
        return cnn__fail(CNN_ENOMEM, "cnn_resize_u8: out of memory");
    }
    int rc = CNN_OK;
    for (int64_t p = 0; p < planes && rc == CNN_OK; p++) {
        /* img.float(), F.interpolate, then torch.round (half to even) and .to(uint8) */
        for (int64_t i = 0; i < h * w; i++) fin[i] = (float)in[p * h * w + i];
        rc = cnn_resize_bilinear(fout, fin, 1, h, w, oh, ow);
        for (int64_t i = 0; rc == CNN_OK && i < oh * ow; i++) {
            float v = nearbyintf(fout[i]);
            out[p * oh * ow + i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
        }
    }
    cnn_free(fin);
    cnn_free(fout);
    return rc;
}
