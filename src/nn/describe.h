/* describe.h — a canonical text for each layer of a model; internal.
 *
 * "Conv2d(1,6,kernel_size=(5,5),stride=(1,1),padding=(2,2),dilation=(1,1),groups=1,bias=True)",
 * "Sigmoid()", "AvgPool2d(kernel_size=(2,2),stride=(2,2),padding=(0,0),...)":
 * the layer's kind and every argument that changes what it computes, with
 * defaults spelled out and floats in their shortest exact form, so two
 * layers compute the same function exactly when their texts are equal.
 * Where the text comes from (spacing, comments, `stride=None` vs the kernel
 * size) does not show. Checkpoints store it to refuse another model on
 * resume. The text holds no quote, backslash or ';' (safe in JSON, ';'
 * separates layers).
 */
#ifndef CNN_NN_DESCRIBE_H
#define CNN_NN_DESCRIBE_H

#include "cnn_internal.h"

#include <stddef.h>

/* At most this many bytes (NUL included) describe one layer. */
#define CNN__LAYER_DESCRIBE_MAX 256

/* An snprintf that appends: len counts every byte asked for, as snprintf
 * does, however little of it fits in buf[cap]. The layers' describe
 * functions write their arguments with these. */
typedef struct cnn__text {
    char *buf;
    size_t cap, len;
} cnn__text;

void cnn__text_put(cnn__text *t, const char *fmt, ...) CNN__PRINTF(2, 3);
/* The shortest %g text that reads back as the same float. */
void cnn__text_float(cnn__text *t, float v);
/* ",name=(v0,v1)" */
void cnn__text_pair(cnn__text *t, const char *name, const int v[2]);
const char *cnn__py_bool(int v); /* "True" or "False" */

/* buf <- the text of layer l (snprintf's conventions: at most cap bytes
 * written, the full length returned); negative for an unknown kind. */
int cnn__layer_describe(char *buf, size_t cap, const cnn_layer_desc *l);
/* buf <- every layer's text joined with ';' (same conventions); returns the
 * full length, or a negative status with a message. */
int cnn__model_describe(char *buf, size_t cap, const cnn_model *m);

#endif /* CNN_NN_DESCRIBE_H */
