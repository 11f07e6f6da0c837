/* safetensors.h — reading and writing safetensors files, and atomic file output.
 *
 * Format (https://github.com/huggingface/safetensors):
 *   bytes [0, 8)        N, the header length, u64 little-endian
 *   bytes [8, 8 + N)    a JSON object {"name": {"dtype": "F32", "shape": [..],
 *                       "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
 *   bytes [8 + N, end)  the byte buffer; offsets are relative to its start
 *
 * The writer does what the official library does, so files are byte-identical
 * to safetensors.torch.save_file(..., metadata={"format": "pt"}): tensors of
 * any dtype laid out by dtype in the official order (I64 before F32 before
 * U32), then by name, "__metadata__" first in the header, then the tensors in
 * layout order, compact JSON, the header padded with spaces to a multiple
 * of 8. It can also write a checksum header (CNN_ST_CHECKSUM, below), which
 * the training checkpoints use.
 *
 * The reader checks everything before anything is used: the header length
 * against the file size and CNN_ST_MAX_HEADER, strict JSON, known keys only,
 * known dtypes, non-negative shapes whose byte size equals end - begin, and
 * offsets that tile the buffer exactly (sorted by begin, each tensor starts
 * where the previous one ended, the last one ends at the end of the file),
 * duplicate names. Element bytes are little-endian and are assembled byte by
 * byte, so big-endian hosts read and write the same files.
 */
#ifndef CNN_IO_SAFETENSORS_H
#define CNN_IO_SAFETENSORS_H

#include "cnn.h"

#include <stdint.h>
#include <stdio.h>

#define CNN_ST_MAX_HEADER ((uint64_t)100000000) /* the official reader's limit: 100 MB */
#define CNN_ST_MAX_DIMS 8

/* One tensor entry of a header. */
typedef struct cnn_st_tensor {
    char *name;                      /* NUL-terminated, owned by the cnn_safetensors */
    char dtype[8];                   /* "F32", "F16", "I64", ... */
    int elem_size;                   /* bytes per element of dtype */
    int ndim;                        /* 0 (a scalar) .. CNN_ST_MAX_DIMS */
    int64_t shape[CNN_ST_MAX_DIMS];
    uint64_t begin, end;             /* byte range in the buffer */
} cnn_st_tensor;

/* A parsed file. */
typedef struct cnn_safetensors {
    int n_tensors;
    cnn_st_tensor *tensors;          /* in header order */
    int n_meta;
    char **meta_keys, **meta_values; /* "__metadata__" entries, in header order */
    uint8_t *file;                   /* the whole file */
    const uint8_t *data;             /* the byte buffer: file + 8 + N */
    uint64_t data_size;
} cnn_safetensors;

/* Read and validate path. On failure *st is left empty and the message names
 * the file and the problem (CNN_EIO: cannot open/read; CNN_EFORMAT: bad
 * content; CNN_ENOMEM). */
int cnn_safetensors_read(cnn_safetensors *st, const char *path);
/* The same for a file already in memory; bytes must stay alive while st is
 * used and are not freed by cnn_safetensors_free. name is used in messages. */
int cnn_safetensors_parse(cnn_safetensors *st, const uint8_t *bytes, uint64_t size,
                          const char *name);
void cnn_safetensors_free(cnn_safetensors *st);

/* The entry called name, or NULL. */
const cnn_st_tensor *cnn_safetensors_find(const cnn_safetensors *st, const char *name);
/* out[0..numel) <- the elements of t as host values of its dtype (float for
 * F32, int64_t for I64, uint32_t for U32, ...), converted from little-endian.
 * Fails with CNN_EFORMAT naming the tensor if its dtype is not dtype. */
int cnn_safetensors_get(const cnn_safetensors *st, const cnn_st_tensor *t, const char *dtype, void *out);
/* cnn_safetensors_get for an F32 tensor into floats, an I64 one into int64_t. */
int cnn_safetensors_get_f32(const cnn_safetensors *st, const cnn_st_tensor *t, float *out);
int cnn_safetensors_get_i64(const cnn_safetensors *st, const cnn_st_tensor *t, int64_t *out);

/* A tensor to write: prod(shape) row-major host values of its dtype. */
typedef struct cnn_st_write_tensor {
    const char *name;
    const char *dtype;    /* "F32", "I64", "U32", ... (any of the format's) */
    int ndim;             /* 0 .. CNN_ST_MAX_DIMS */
    const int64_t *shape;
    const void *data;     /* float for F32, int64_t for I64, uint32_t for U32, ... */
} cnn_st_write_tensor;

/* The checksum header (flag CNN_ST_CHECKSUM): the header starts, at a fixed
 * place, with
 *   {"__metadata__":{"crc32":"XXXXXXXX","bytes":"DDDDDDDDDDDDDDDD",...
 * where bytes is the file size (16 decimal digits) and crc32 is zlib's crc32
 * of the whole file with the eight X digits read as '0' (8 lowercase hex
 * digits, at bytes CNN_ST_SUM_CRC_AT..+8 of the file). The caller's metadata
 * follows. */
enum { CNN_ST_CHECKSUM = 1 };
#define CNN_ST_SUM_HEAD "{\"__metadata__\":{\"crc32\":\""
#define CNN_ST_SUM_MID "\",\"bytes\":\""
#define CNN_ST_SUM_CRC_AT ((size_t)8 + sizeof CNN_ST_SUM_HEAD - 1)               /* 34 */
#define CNN_ST_SUM_BYTES_AT (CNN_ST_SUM_CRC_AT + 8 + sizeof CNN_ST_SUM_MID - 1)  /* 53 */
#define CNN_ST_SUM_MIN_SIZE (CNN_ST_SUM_BYTES_AT + 16 + 1) /* the smallest file that holds both */

/* Write tensors[0..n) and the metadata pairs meta[0], meta[1], meta[2], ...
 * (n_meta pairs; none when n_meta is 0) to path atomically; flags 0 or
 * CNN_ST_CHECKSUM. Names must be unique and non-empty, and not "__metadata__". */
int cnn_safetensors_write(const char *path, const cnn_st_write_tensor *tensors, int n, const char *const *meta,
                          int n_meta, unsigned flags);

/* The checksum header of a file in memory: *stored and *written <- the crc32
 * and size it records, *computed <- the crc32 of bytes as defined above.
 * 0, or -1 (recording no error) when the header does not start with them. */
int cnn_safetensors_checksum(const uint8_t *bytes, uint64_t size, uint32_t *stored, uint64_t *written,
                             uint32_t *computed);

#endif /* CNN_IO_SAFETENSORS_H */
