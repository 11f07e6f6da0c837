/* tensor.c — the cnn_tensor type: creation, views, copies, element access,
 * elementwise arithmetic and matrix multiply.
 *
 * A tensor is float32, contiguous, row-major, with 1 to 4 dimensions in
 * PyTorch order; ndim 0 (data NULL) is the empty tensor that CNN_TENSOR_EMPTY
 * and every failed call leave behind. A size may be 0, in which case data is
 * NULL. Functions that fill an output tensor allocate it with cnn_malloc and
 * overwrite the output struct without freeing what it held before (pass an
 * empty or freed tensor). Only the elementwise functions accept an output
 * that aliases an input; they then work in place.
 *
 * Every input is validated: NULL pointers, ndim, negative sizes, element
 * counts above CNN_MAX_NUMEL, data NULL with elements, shape mismatches and
 * out-of-range indices each fail with a message naming the function, the
 * argument and expected vs found.
 */
#include "core/core.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static void set_empty(cnn_tensor *t) {
    t->ndim = 0;
    for (int d = 0; d < CNN_MAX_DIMS; d++) t->shape[d] = 0;
    t->data = NULL;
    t->owner = 0;
}

/* Checks sizes (each in [0, CNN_MAX_NUMEL], product <= CNN_MAX_NUMEL) and
 * stores the element count in *numel. arg names the shape in messages. */
static int check_sizes(const char *fn, const char *arg, int ndim, const int64_t *shape, int64_t *numel) {
    int zero = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return cnn__fail(CNN_EINVAL, "%s: %s shape[%d] is %lld; sizes must be >= 0", fn, arg,
                             d, (long long)shape[d]);
        if (shape[d] > CNN_MAX_NUMEL)
            return cnn__fail(CNN_ERANGE, "%s: %s shape[%d] is %lld; sizes must be at most %lld", fn,
                             arg, d, (long long)shape[d], (long long)CNN_MAX_NUMEL);
        if (shape[d] == 0) zero = 1;
    }
    int64_t n = 1;
    for (int d = 0; d < ndim && !zero; d++) {
        if (shape[d] > CNN_MAX_NUMEL / n)
            return cnn__fail(CNN_ERANGE, "%s: %s shape %s has more than %lld elements", fn, arg,
                             cnn__shape_str(ndim, shape).s, (long long)CNN_MAX_NUMEL);
        n *= shape[d];
    }
    *numel = zero ? 0 : n;
    return CNN_OK;
}

/* Checks a requested shape (ndim 1..4 and its sizes) and stores the element
 * count in *numel. */
static int check_shape(const char *fn, const char *arg, int ndim, const int64_t *shape,
                       int64_t *numel) {
    if (ndim < 1 || ndim > CNN_MAX_DIMS)
        return cnn__fail(CNN_EINVAL, "%s: %s has ndim %d; expected 1 to %d", fn, arg, ndim,
                         CNN_MAX_DIMS);
    if (!shape) return cnn__fail(CNN_EINVAL, "%s: %s shape is NULL", fn, arg);
    return check_sizes(fn, arg, ndim, shape, numel);
}

int cnn__tensor_check_ndim(const char *fn, const char *arg, const cnn_tensor *t, int min_ndim,
                           int max_ndim, int64_t *numel) {
    if (!t) return cnn__fail(CNN_EINVAL, "%s: %s is NULL", fn, arg);
    if (t->ndim < min_ndim || t->ndim > max_ndim) {
        if (min_ndim == 0 && max_ndim == CNN_MAX_DIMS) /* any tensor: this one is malformed */
            return cnn__fail(CNN_EINVAL, "%s: %s has ndim %d; expected 1 to %d", fn, arg, t->ndim,
                             CNN_MAX_DIMS);
        if (min_ndim == max_ndim)
            return cnn__fail(CNN_ESHAPE, "%s: %s has %d dimensions; expected %d", fn, arg, t->ndim,
                             min_ndim);
        return cnn__fail(CNN_ESHAPE, "%s: %s has %d dimensions; expected %d to %d", fn, arg, t->ndim,
                         min_ndim, max_ndim);
    }
    int64_t n = 0;
    if (t->ndim > 0) CNN_TRY(check_sizes(fn, arg, t->ndim, t->shape, &n));
    if (n > 0 && !t->data)
        return cnn__fail(CNN_EINVAL, "%s: %s has shape %s but data is NULL", fn, arg,
                         cnn__shape_str(t->ndim, t->shape).s);
    if (numel) *numel = n;
    return CNN_OK;
}

int cnn__tensor_check_same(const char *fn, const char *arg_b, const cnn_tensor *b, const char *arg_a,
                           const cnn_tensor *a) {
    if (cnn__shape_is(b, a->ndim, a->shape)) return CNN_OK;
    return cnn__fail(CNN_ESHAPE, "%s: %s has shape %s; expected the shape of %s, %s", fn, arg_b,
                     cnn__shape_str(b->ndim, b->shape).s, arg_a, cnn__shape_str(a->ndim, a->shape).s);
}

/* t <- a new owned tensor of the given (already checked) shape; zeroed if
 * zero != 0. On failure t is left empty. */
static int alloc_tensor(cnn_tensor *t, const char *fn, int ndim, const int64_t *shape,
                        int64_t numel, int zero) {
    set_empty(t);
    float *data = NULL;
    if (numel > 0) {
        size_t bytes;
        if (cnn__mul_overflow((size_t)numel, sizeof(float), &bytes))
            return cnn__fail(CNN_ERANGE, "%s: %lld floats overflow size_t", fn, (long long)numel);
        data = zero ? cnn_calloc((size_t)numel, sizeof(float)) : cnn_malloc(bytes);
        if (!data)
            return cnn__fail(CNN_ENOMEM, "%s: cannot allocate %zu bytes for shape %s", fn, bytes,
                             cnn__shape_str(ndim, shape).s);
    }
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = data;
    t->owner = data != NULL;
    return CNN_OK;
}

/* Output check shared by the allocating functions: out must be non-NULL. */
#define CHECK_OUT(fn, out)                                                          \
    do {                                                                            \
        if (!(out)) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);  \
        set_empty(out);                                                             \
    } while (0)

/* ---- creation ----------------------------------------------------------- */

int64_t cnn_tensor_numel(const cnn_tensor *t) {
    if (!t || t->ndim < 1 || t->ndim > CNN_MAX_DIMS) return 0;
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] <= 0) return 0;
        if (t->shape[d] > INT64_MAX / n) return 0;
        n *= t->shape[d];
    }
    return n;
}

/* Shared by zeros/full/ones/from_data/uniform/normal: checks out and shape,
 * allocates (zeroed if zero != 0). */
static int create(cnn_tensor *t, const char *fn, int ndim, const int64_t *shape, int zero) {
    if (!t) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    set_empty(t);
    int64_t numel = 0;
    CNN_TRY(check_shape(fn, "shape", ndim, shape, &numel));
    return alloc_tensor(t, fn, ndim, shape, numel, zero);
}

int cnn_tensor_zeros(cnn_tensor *t, int ndim, const int64_t *shape) {
    return create(t, "cnn_tensor_zeros", ndim, shape, 1);
}

int cnn_tensor_full(cnn_tensor *t, int ndim, const int64_t *shape, float value) {
    CNN_TRY(create(t, "cnn_tensor_full", ndim, shape, 0));
    int64_t n = cnn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = value;
    return CNN_OK;
}

int cnn_tensor_ones(cnn_tensor *t, int ndim, const int64_t *shape) {
    CNN_TRY(create(t, "cnn_tensor_ones", ndim, shape, 0));
    int64_t n = cnn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = 1.0f;
    return CNN_OK;
}

int cnn_tensor_arange(cnn_tensor *t, int64_t n) {
    if (!t) return cnn__fail(CNN_EINVAL, "cnn_tensor_arange: output tensor is NULL");
    set_empty(t);
    if (n < 0) return cnn__fail(CNN_EINVAL, "cnn_tensor_arange: n is %lld; expected >= 0", (long long)n);
    CNN_TRY(create(t, "cnn_tensor_arange", 1, &n, 0));
    for (int64_t i = 0; i < n; i++) t->data[i] = (float)i;
    return CNN_OK;
}

int cnn_tensor_from_data(cnn_tensor *t, int ndim, const int64_t *shape, const float *data) {
    CNN_TRY(create(t, "cnn_tensor_from_data", ndim, shape, 0));
    int64_t n = cnn_tensor_numel(t);
    if (n > 0 && !data) {
        cnn_tensor_free(t);
        return cnn__fail(CNN_EINVAL, "cnn_tensor_from_data: data is NULL for shape %s",
                         cnn__shape_str(ndim, shape).s);
    }
    if (n > 0) memcpy(t->data, data, (size_t)n * sizeof(float));
    return CNN_OK;
}

/* Element i gets lo + (hi - lo) * u_i, u_i = cnn_rng_uniform, in index order. */
int cnn_tensor_uniform(cnn_tensor *t, int ndim, const int64_t *shape, float lo, float hi,
                       cnn_rng *rng) {
    const char *fn = "cnn_tensor_uniform";
    if (!t) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    set_empty(t);
    if (!rng) return cnn__fail(CNN_EINVAL, "%s: rng is NULL", fn);
    if (!isfinite(lo) || !isfinite(hi) || lo > hi)
        return cnn__fail(CNN_EINVAL, "%s: range [%g, %g) is invalid; expected finite lo <= hi", fn,
                         (double)lo, (double)hi);
    CNN_TRY(create(t, fn, ndim, shape, 0));
    int64_t n = cnn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = lo + (hi - lo) * cnn_rng_uniform(rng);
    return CNN_OK;
}

/* Element i gets mean + std * z_i, z_i = cnn_rng_normal, in index order. */
int cnn_tensor_normal(cnn_tensor *t, int ndim, const int64_t *shape, float mean, float std,
                      cnn_rng *rng) {
    const char *fn = "cnn_tensor_normal";
    if (!t) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    set_empty(t);
    if (!rng) return cnn__fail(CNN_EINVAL, "%s: rng is NULL", fn);
    if (!isfinite(mean) || !isfinite(std) || std < 0)
        return cnn__fail(CNN_EINVAL, "%s: mean %g, std %g; expected finite values and std >= 0",
                         fn, (double)mean, (double)std);
    CNN_TRY(create(t, fn, ndim, shape, 0));
    int64_t n = cnn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = mean + std * cnn_rng_normal(rng);
    return CNN_OK;
}

int cnn_tensor_clone(cnn_tensor *out, const cnn_tensor *in) {
    const char *fn = "cnn_tensor_clone";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    if (out == in) return cnn__fail(CNN_EINVAL, "%s: output and input are the same tensor", fn);
    set_empty(out);
    CNN_TRY(cnn__tensor_check(fn, "input", in));
    if (in->ndim == 0) return CNN_OK;
    int64_t n = cnn_tensor_numel(in);
    CNN_TRY(alloc_tensor(out, fn, in->ndim, in->shape, n, 0));
    if (n > 0) memcpy(out->data, in->data, (size_t)n * sizeof(float));
    return CNN_OK;
}

void cnn_tensor_free(cnn_tensor *t) {
    if (!t) return;
    if (t->owner && t->data) cnn_free(t->data);
    set_empty(t);
}

/* ---- shape changes -------------------------------------------------------- */

int cnn_tensor_reshape(cnn_tensor *t, int ndim, const int64_t *shape) {
    const char *fn = "cnn_tensor_reshape";
    CNN_TRY(cnn__tensor_check_nonempty(fn, "tensor", t));
    if (ndim < 1 || ndim > CNN_MAX_DIMS)
        return cnn__fail(CNN_EINVAL, "%s: new ndim is %d; expected 1 to %d", fn, ndim, CNN_MAX_DIMS);
    if (!shape) return cnn__fail(CNN_EINVAL, "%s: shape is NULL", fn);
    /* known = product of the given sizes (saturating: big marks overflow). */
    int64_t have = cnn_tensor_numel(t), known = 1, resolved[CNN_MAX_DIMS];
    int infer = -1, zero = 0, big = 0;
    for (int d = 0; d < ndim; d++) {
        resolved[d] = shape[d];
        if (shape[d] == -1) {
            if (infer >= 0)
                return cnn__fail(CNN_EINVAL, "%s: shape %s has more than one -1", fn,
                                 cnn__shape_str(ndim, shape).s);
            infer = d;
        } else if (shape[d] < 0) {
            return cnn__fail(CNN_EINVAL, "%s: shape[%d] is %lld; expected >= 0 or -1", fn, d,
                             (long long)shape[d]);
        } else if (shape[d] == 0) {
            zero = 1;
        } else if (big || known > CNN_MAX_NUMEL / shape[d]) {
            big = 1;
        } else {
            known *= shape[d];
        }
    }
    if (zero) known = 0;
    else if (big) known = CNN_MAX_NUMEL + 1; /* more than any tensor holds: a mismatch */
    if (infer >= 0) {
        if (known == 0)
            return cnn__fail(CNN_ESHAPE,
                             "%s: cannot reshape tensor of %lld elements into shape %s because "
                             "the size for -1 could be anything",
                             fn, (long long)have, cnn__shape_str(ndim, shape).s);
        if (have % known != 0)
            return cnn__fail(CNN_ESHAPE, "%s: shape %s is invalid for input of size %lld", fn,
                             cnn__shape_str(ndim, shape).s, (long long)have);
        resolved[infer] = have / known;
    } else if (known != have) {
        return cnn__fail(CNN_ESHAPE, "%s: shape %s is invalid for input of size %lld (shape %s)",
                         fn, cnn__shape_str(ndim, shape).s, (long long)have,
                         cnn__shape_str(t->ndim, t->shape).s);
    }
    t->ndim = ndim;
    for (int d = 0; d < CNN_MAX_DIMS; d++) t->shape[d] = d < ndim ? resolved[d] : 0;
    return CNN_OK;
}

/* out (n, m) <- in (m, n)^T, in 32x32 tiles to stay in cache. */
int cnn_tensor_transpose(cnn_tensor *out, const cnn_tensor *in) {
    const char *fn = "cnn_tensor_transpose";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    if (out == in) return cnn__fail(CNN_EINVAL, "%s: output and input are the same tensor", fn);
    set_empty(out);
    CNN_TRY(cnn__tensor_check_nonempty(fn, "input", in));
    if (in->ndim != 2)
        return cnn__fail(CNN_ESHAPE, "%s: input has %d dimensions (shape %s); expected 2", fn,
                         in->ndim, cnn__shape_str(in->ndim, in->shape).s);
    int64_t m = in->shape[0], n = in->shape[1], shape[2] = {n, m};
    CNN_TRY(alloc_tensor(out, fn, 2, shape, m * n, 0));
    const int64_t tile = 32;
    for (int64_t i0 = 0; i0 < m; i0 += tile)
        for (int64_t j0 = 0; j0 < n; j0 += tile) {
            int64_t i1 = i0 + tile < m ? i0 + tile : m, j1 = j0 + tile < n ? j0 + tile : n;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) out->data[j * m + i] = in->data[i * n + j];
        }
    return CNN_OK;
}

/* torch.cat of n inputs that share ndim and every size but dim's. With
 * stacking != 0 it is torch.stack: the inputs share their whole shape and are
 * viewed with a size-1 axis inserted at dim. fn names the public function. */
static int cat_impl(const char *fn, cnn_tensor *out, const cnn_tensor *const *ins, int n,
                    int dim, int stacking) {
    if (!out) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    if (!ins) return cnn__fail(CNN_EINVAL, "%s: input list is NULL", fn);
    if (n < 1) return cnn__fail(CNN_EINVAL, "%s: got %d inputs; expected at least 1", fn, n);
    for (int i = 0; i < n; i++)
        if (ins[i] == out)
            return cnn__fail(CNN_EINVAL, "%s: output is also input %d", fn, i);
    set_empty(out);
    char arg[32];
    for (int i = 0; i < n; i++) {
        snprintf(arg, sizeof arg, "input %d", i);
        CNN_TRY(cnn__tensor_check_nonempty(fn, arg, ins[i]));
    }
    int ndim = ins[0]->ndim + (stacking ? 1 : 0);
    if (stacking && ndim > CNN_MAX_DIMS)
        return cnn__fail(CNN_ESHAPE, "%s: inputs have %d dimensions; stacking needs at most %d", fn,
                         ins[0]->ndim, CNN_MAX_DIMS - 1);
    if (dim < -ndim || dim >= ndim)
        return cnn__fail(CNN_ERANGE, "%s: dim %d is out of range for %d-D %s [%d, %d]", fn, dim,
                         ndim, stacking ? "output" : "inputs", -ndim, ndim - 1);
    if (dim < 0) dim += ndim;
    for (int i = 1; i < n; i++) {
        const cnn_tensor *a = ins[0], *b = ins[i];
        if (b->ndim != a->ndim)
            return cnn__fail(CNN_ESHAPE, "%s: input %d has %d dimensions (shape %s) but input 0 has %d (shape %s)",
                             fn, i, b->ndim, cnn__shape_str(b->ndim, b->shape).s, a->ndim,
                             cnn__shape_str(a->ndim, a->shape).s);
        for (int d = 0; d < a->ndim; d++) {
            if (!stacking && d == dim) continue;
            if (a->shape[d] != b->shape[d]) {
                if (stacking)
                    return cnn__fail(CNN_ESHAPE, "%s: input %d has shape %s but input 0 has %s; stack needs equal shapes",
                                     fn, i, cnn__shape_str(b->ndim, b->shape).s,
                                     cnn__shape_str(a->ndim, a->shape).s);
                return cnn__fail(CNN_ESHAPE, "%s: input %d has shape %s but input 0 has %s outside dim %d",
                                 fn, i, cnn__shape_str(b->ndim, b->shape).s,
                                 cnn__shape_str(a->ndim, a->shape).s, dim);
            }
        }
    }
    /* v0: input 0's shape in the output's rank. */
    cnn_tensor v0 = *ins[0];
    if (stacking) {
        for (int d = ndim - 1; d > dim; d--) v0.shape[d] = v0.shape[d - 1];
        v0.shape[dim] = 1;
        v0.ndim = ndim;
    }
    int64_t shape[CNN_MAX_DIMS], outer = 1, inner = 1, along = 0;
    for (int d = 0; d < ndim; d++) shape[d] = v0.shape[d];
    for (int d = 0; d < dim; d++) outer *= shape[d];
    for (int d = dim + 1; d < ndim; d++) inner *= shape[d];
    for (int i = 0; i < n; i++) {
        along += stacking ? 1 : ins[i]->shape[dim];
        if (along > CNN_MAX_NUMEL) break;
    }
    shape[dim] = along;
    int64_t numel = 0;
    CNN_TRY(check_shape(fn, "output", ndim, shape, &numel));
    CNN_TRY(alloc_tensor(out, fn, ndim, shape, numel, 0));
    if (numel == 0) return CNN_OK;
    /* out viewed as (outer, along * inner); input i as (outer, len_i * inner). */
    float *dst = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n; i++) {
            int64_t len = (stacking ? 1 : ins[i]->shape[dim]) * inner;
            if (len > 0) memcpy(dst, ins[i]->data + o * len, (size_t)len * sizeof(float));
            dst += len;
        }
    return CNN_OK;
}

int cnn_tensor_cat(cnn_tensor *out, const cnn_tensor *const *ins, int n, int dim) {
    return cat_impl("cnn_tensor_cat", out, ins, n, dim, 0);
}

int cnn_tensor_stack(cnn_tensor *out, const cnn_tensor *const *ins, int n, int dim) {
    return cat_impl("cnn_tensor_stack", out, ins, n, dim, 1);
}

/* ---- element access -------------------------------------------------------- */

/* Flat offset of index[] in t; negative entries count from the end. */
static int flat_index(const char *fn, const cnn_tensor *t, const int64_t *index, int64_t *off) {
    CNN_TRY(cnn__tensor_check_nonempty(fn, "tensor", t));
    if (!index) return cnn__fail(CNN_EINVAL, "%s: index is NULL", fn);
    int64_t o = 0;
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = index[d], size = t->shape[d];
        if (i < -size || i >= size)
            return cnn__fail(CNN_ERANGE,
                             "%s: index %lld is out of bounds for dimension %d with size %lld", fn,
                             (long long)i, d, (long long)size);
        if (i < 0) i += size;
        o = o * size + i;
    }
    *off = o;
    return CNN_OK;
}

int cnn_tensor_get(const cnn_tensor *t, const int64_t *index, float *value) {
    if (!value) return cnn__fail(CNN_EINVAL, "cnn_tensor_get: value is NULL");
    int64_t off = 0;
    CNN_TRY(flat_index("cnn_tensor_get", t, index, &off));
    *value = t->data[off];
    return CNN_OK;
}

int cnn_tensor_set(cnn_tensor *t, const int64_t *index, float value) {
    int64_t off = 0;
    CNN_TRY(flat_index("cnn_tensor_set", t, index, &off));
    t->data[off] = value;
    return CNN_OK;
}

/* ---- elementwise ------------------------------------------------------------- */

/* Prepares out for an elementwise result shaped like `like`: in place when
 * out aliases one of the inputs, otherwise a new allocation. */
static int prepare_elementwise(const char *fn, cnn_tensor *out, const cnn_tensor *like,
                               const cnn_tensor *a, const cnn_tensor *b) {
    if (out == a || out == b) return CNN_OK;
    set_empty(out);
    return alloc_tensor(out, fn, like->ndim, like->shape, cnn_tensor_numel(like), 0);
}

int cnn_tensor_add(cnn_tensor *out, const cnn_tensor *a, const cnn_tensor *b, float alpha) {
    const char *fn = "cnn_tensor_add";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    int rc = cnn__tensor_check_nonempty(fn, "a", a);
    if (rc == CNN_OK) rc = cnn__tensor_check_nonempty(fn, "b", b);
    if (rc == CNN_OK) rc = cnn__tensor_check_same(fn, "b", b, "a", a);
    if (rc != CNN_OK) {
        if (out != a && out != b) set_empty(out);
        return rc;
    }
    CNN_TRY(prepare_elementwise(fn, out, a, a, b));
    int64_t n = cnn_tensor_numel(a);
    for (int64_t i = 0; i < n; i++) out->data[i] = a->data[i] + alpha * b->data[i];
    return CNN_OK;
}

/* op 0: out = in + s; op 1: out = in * s. */
static int scalar_op(const char *fn, cnn_tensor *out, const cnn_tensor *in, float s, int op) {
    if (!out) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    int rc = cnn__tensor_check_nonempty(fn, "input", in);
    if (rc != CNN_OK) {
        if (out != in) set_empty(out);
        return rc;
    }
    CNN_TRY(prepare_elementwise(fn, out, in, in, in));
    int64_t n = cnn_tensor_numel(in);
    if (op == 0)
        for (int64_t i = 0; i < n; i++) out->data[i] = in->data[i] + s;
    else
        for (int64_t i = 0; i < n; i++) out->data[i] = in->data[i] * s;
    return CNN_OK;
}

int cnn_tensor_add_scalar(cnn_tensor *out, const cnn_tensor *in, float s) {
    return scalar_op("cnn_tensor_add_scalar", out, in, s, 0);
}

int cnn_tensor_mul_scalar(cnn_tensor *out, const cnn_tensor *in, float s) {
    return scalar_op("cnn_tensor_mul_scalar", out, in, s, 1);
}

/* sum_i t[i], accumulated in double in index order; 0 for NULL or empty. */
float cnn_tensor_sum(const cnn_tensor *t) {
    int64_t n = cnn_tensor_numel(t);
    if (n == 0 || !t->data) return 0.0f;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += t->data[i];
    return (float)s;
}

