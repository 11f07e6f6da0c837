/* safetensors.h — reading and writing safetensors files, and atomic file output.
 *
 * Format (https://github.com/huggingface/safetensors):
 *   bytes [0, 8)        N, the header length, u64 little-endian
 *   bytes [8, 8 + N)    a JSON object {"name": {"dtype": "F32", "shape": [..],
 *                       "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
 *   bytes [8 + N, end)  the byte buffer; offsets are relative to its start
 *
 * The writer does what the official library does, so files are byte-identical
 * to safetensors.torch.save_file(..., metadata={"format": "pt"}): tensors laid
 * out in name order (they are all F32, so the "alignment, then name" order is
 * name order), "__metadata__" first in the header, then the tensors in layout
 * order, compact JSON, the header padded with spaces to a multiple of 8.
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
/* out[0..numel) <- the elements of an F32 tensor, converted from little-endian.
 * Fails with CNN_EFORMAT naming the tensor if its dtype is not F32. */
int cnn_safetensors_get_f32(const cnn_safetensors *st, const cnn_st_tensor *t, float *out);
/* out[0..numel) <- the elements of an I64 tensor (CNN_EFORMAT if it is not I64). */
int cnn_safetensors_get_i64(const cnn_safetensors *st, const cnn_st_tensor *t, int64_t *out);

/* A tensor to write: F32, row-major data of prod(shape) floats. */
typedef struct cnn_st_write_tensor {
    const char *name;
    int ndim; /* 0 .. CNN_ST_MAX_DIMS */
    const int64_t *shape;
    const float *data;
} cnn_st_write_tensor;

/* Write tensors[0..n) and the metadata pairs meta[0], meta[1], meta[2], ...
 * (n_meta pairs; none when n_meta is 0) to path atomically. Names must be
 * unique and non-empty, and not "__metadata__". */
int cnn_safetensors_write(const char *path, const cnn_st_write_tensor *tensors, int n,
                          const char *const *meta, int n_meta);

/* An int64 tensor to write as I64 (BatchNorm's num_batches_tracked). */
typedef struct cnn_st_write_i64 {
    const char *name;
    int ndim; /* 0 .. CNN_ST_MAX_DIMS */
    const int64_t *shape;
    const int64_t *data;
} cnn_st_write_i64;

/* cnn_safetensors_write plus n_ints I64 tensors. As the official writer, the
 * data are laid out I64 tensors first, then F32, each group in name order. */
int cnn_safetensors_write_i64(const char *path, const cnn_st_write_tensor *tensors, int n,
                              const cnn_st_write_i64 *ints, int n_ints, const char *const *meta, int n_meta);

#endif /* CNN_IO_SAFETENSORS_H */
