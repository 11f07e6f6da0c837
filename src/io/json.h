/* json.h — a small strict JSON (RFC 8259) parser for file headers.
 *
 * The whole text is parsed into a tree of cnn_json values allocated with
 * cnn_malloc; cnn_json_free releases it. Strict means: no comments, no
 * trailing commas, no NaN/Infinity, no leading zeros, no control characters
 * inside strings, valid UTF-8 only, no lone surrogates in \u escapes, and
 * nothing but whitespace after the top-level value. Nesting is limited to
 * CNN_JSON_MAX_DEPTH so that hostile input cannot exhaust the stack.
 * Duplicate object keys are kept (in order); callers that care check them.
 *
 * Errors return CNN_EFORMAT (CNN_ENOMEM when allocation fails) with a message
 * "JSON byte <offset>: <problem>"; callers prefix the file name.
 */
#ifndef CNN_IO_JSON_H
#define CNN_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#define CNN_JSON_MAX_DEPTH 64

typedef enum {
    CNN_JSON_NULL = 0,
    CNN_JSON_BOOL,
    CNN_JSON_NUMBER,
    CNN_JSON_STRING,
    CNN_JSON_ARRAY,
    CNN_JSON_OBJECT
} cnn_json_type;

typedef struct cnn_json {
    cnn_json_type type;
    size_t offset;           /* byte offset of the value in the text */
    int boolean;             /* BOOL */
    char *str;               /* STRING: decoded, NUL-terminated; NUMBER: the literal, NUL-terminated */
    size_t len;              /* STRING/NUMBER: bytes in str; ARRAY/OBJECT: number of children */
    struct cnn_json *items;  /* ARRAY/OBJECT: len children */
    char **keys;             /* OBJECT: decoded, NUL-terminated key of each child */
    size_t *key_lens;        /* OBJECT: bytes in each key (a key may hold "\u0000") */
} cnn_json;

/* *root <- the parsed text[0..len). On failure *root is left empty (type NULL,
 * nothing to free). */
int cnn_json_parse(cnn_json *root, const char *text, size_t len);
void cnn_json_free(cnn_json *root); /* frees the children; root itself is the caller's */

/* *out <- a non-negative integer literal (digits only: no sign, fraction or
 * exponent). Returns 0, or -1 if v is not such a number or it exceeds UINT64_MAX. */
int cnn_json_u64(const cnn_json *v, uint64_t *out);
const char *cnn_json_type_name(cnn_json_type type); /* "object", "string", ... */

#endif /* CNN_IO_JSON_H */
