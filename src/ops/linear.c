/* linear.c — nn.Linear forward and backward, nn.Flatten's shape rule, and cnn_matmul.
 *
 *   forward   y (n, out) = x (n, in) @ w (out, in)^T + b (out)
 *   backward  dx (n, in) = dy (n, out) @ w;  dw += dy^T @ x;  db += sum_n dy
 *
 * The reference kernels are plain loops accumulating in double; the fast ones
 * call cblas_sgemm (cblas_sgemv for a forward of a few rows), always from
 * inside an OpenMP parallel region and after
 * cnn__blas_serial() (see cnn_internal.h: BLAS never threads on its own).
 * The bias gradient is summed over n in a fixed order (row 0 first, in
 * double) by both, so it does not depend on the thread count.
 * Sizes too large for a BLAS int fall back to the reference loops.
 */
#include "core/core.h"
#include "ops/ops.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* ---- reference kernels -------------------------------------------------- */

void cnn__linear_forward_ref(float *y, const float *x, const float *w, const float *b,
                             int64_t n, int64_t in, int64_t out) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            double acc = b ? b[o] : 0.0;
            for (int64_t k = 0; k < in; k++) acc += (double)x[i * in + k] * w[o * in + k];
            y[i * out + o] = (float)acc;
        }
}

/* db (out) += sum over rows of dy (n, out), row 0 first, in double. */
static void bias_grad(float *db, const float *dy, int64_t n, int64_t out) {
#pragma omp parallel for schedule(static) if (n * out >= 65536)
    for (int64_t o = 0; o < out; o++) {
        double acc = 0.0;
        for (int64_t i = 0; i < n; i++) acc += dy[i * out + o];
        db[o] += (float)acc;
    }
}

void cnn__linear_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, int64_t n, int64_t in, int64_t out) {
    if (dx)
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < in; k++) {
                double acc = 0.0;
                for (int64_t o = 0; o < out; o++) acc += (double)dy[i * out + o] * w[o * in + k];
                dx[i * in + k] = (float)acc;
            }
    if (dw)
        for (int64_t o = 0; o < out; o++)
            for (int64_t k = 0; k < in; k++) {
                double acc = 0.0;
                for (int64_t i = 0; i < n; i++) acc += (double)dy[i * out + o] * x[i * in + k];
                dw[o * in + k] += (float)acc;
            }
    if (db) bias_grad(db, dy, n, out);
}

/* ---- fast kernels ------------------------------------------------------- */

/* Rows per GEMM block: a fixed size, so the blocks (and the sums) are the same
 * for any thread count, and threads share the work of one layer. */
#define LIN_ROWS 64
/* Rows up to which the forward is a matrix-vector product per row
 * (cblas_sgemv, w read once as it is): a GEMM packs the whole of w at each
 * call, which costs more than the product for a row or a few (inference at
 * batch 1: LeNet's three Linear layers were two fifths of its latency). */
#define LIN_GEMV_ROWS 4

static int fits_blas(int64_t n, int64_t in, int64_t out) {
    return n <= INT_MAX && in <= INT_MAX && out <= INT_MAX;
}

void cnn__linear_forward(float *y, const float *x, const float *w, const float *b,
                         int64_t n, int64_t in, int64_t out) {
    if (!fits_blas(n, in, out)) {
        cnn__linear_forward_ref(y, x, w, b, n, in, out);
        return;
    }
    if (n == 0 || out == 0) return;
    /* y <- b in every row (or 0), then y += x @ w^T, in blocks of LIN_ROWS rows. */
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) y[i * out + o] = b ? b[o] : 0.0f;
    if (in == 0) return; /* BLAS rejects a leading dimension of 0 */
    if (n <= LIN_GEMV_ROWS) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            cnn__blas_serial();
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)in, 1.0f, w, (int)in, x + i * in, 1, 1.0f,
                        y + i * out, 1);
        }
        return;
    }
    const int64_t nblk = (n + LIN_ROWS - 1) / LIN_ROWS;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bi = 0; bi < nblk; bi++) {
        int64_t r0 = bi * LIN_ROWS, rows = n - r0 < LIN_ROWS ? n - r0 : LIN_ROWS;
        cnn__blas_serial();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)out, (int)in, 1.0f,
                    x + r0 * in, (int)in, w, (int)in, 1.0f, y + r0 * out, (int)out);
    }
}

void cnn__linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, int64_t n, int64_t in, int64_t out) {
    if (!fits_blas(n, in, out)) {
        cnn__linear_backward_ref(dx, dw, db, dy, x, w, n, in, out);
        return;
    }
    if (dx && n > 0 && in > 0) {
        if (out == 0) {
            for (int64_t i = 0; i < n * in; i++) dx[i] = 0.0f;
        } else {
            /* dx (n, in) = dy (n, out) @ w (out, in), in blocks of LIN_ROWS rows */
            const int64_t nblk = (n + LIN_ROWS - 1) / LIN_ROWS;
#pragma omp parallel for schedule(dynamic, 1)
            for (int64_t bi = 0; bi < nblk; bi++) {
                int64_t r0 = bi * LIN_ROWS, rows = n - r0 < LIN_ROWS ? n - r0 : LIN_ROWS;
                cnn__blas_serial();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)in, (int)out,
                            1.0f, dy + r0 * out, (int)out, w, (int)in, 0.0f, dx + r0 * in, (int)in);
            }
        }
    }
    if (dw && n > 0 && in > 0 && out > 0) {
        /* dw (out, in) += dy^T (out, n) @ x (n, in), in blocks of LIN_ROWS rows of dw;
         * each block is one GEMM over all n, so the sums do not depend on threads. */
        const int64_t nblk = (out + LIN_ROWS - 1) / LIN_ROWS;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < nblk; bi++) {
            int64_t o0 = bi * LIN_ROWS, rows = out - o0 < LIN_ROWS ? out - o0 : LIN_ROWS;
            cnn__blas_serial();
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)in, (int)n, 1.0f,
                        dy + o0, (int)out, x, (int)in, 1.0f, dw + o0 * in, (int)in);
        }
    }
    if (db) bias_grad(db, dy, n, out);
}

/* ---- tensor functions ---------------------------------------------------- */

/* Checks x (*, in), w (out, in) and b (out) (b may be NULL or empty) and
 * returns the sizes; n is the product of x's leading dimensions. */
static int linear_sizes(const char *fn, const cnn_tensor *x, const cnn_tensor *w,
                        const cnn_tensor *b, int64_t *n, int64_t *in, int64_t *out) {
    CNN_TRY(cnn__tensor_check_nonempty(fn, "x", x));
    CNN_TRY(cnn__tensor_check_nonempty(fn, "weight", w));
    if (w->ndim != 2)
        return cnn__fail(CNN_ESHAPE, "%s: weight has shape %s; expected 2 dimensions (out_features, in_features)",
                         fn, cnn__shape_str(w->ndim, w->shape).s);
    *out = w->shape[0];
    *in = w->shape[1];
    if (x->shape[x->ndim - 1] != *in)
        return cnn__fail(CNN_ESHAPE,
                         "%s: x has shape %s; expected the last dimension to be in_features = %lld "
                         "(weight has shape %s)",
                         fn, cnn__shape_str(x->ndim, x->shape).s, (long long)*in,
                         cnn__shape_str(w->ndim, w->shape).s);
    *n = 1;
    for (int d = 0; d < x->ndim - 1; d++) {
        if (x->shape[d] == 0) { *n = 0; break; }
        if (*n > CNN_MAX_NUMEL / x->shape[d])
            return cnn__fail(CNN_ERANGE, "%s: x has shape %s; more than %lld rows", fn,
                             cnn__shape_str(x->ndim, x->shape).s, (long long)CNN_MAX_NUMEL);
        *n *= x->shape[d];
    }
    if (b) {
        CNN_TRY(cnn__tensor_check(fn, "bias", b));
        if (b->ndim != 0 && (b->ndim != 1 || b->shape[0] != *out))
            return cnn__fail(CNN_ESHAPE, "%s: bias has shape %s; expected [%lld]", fn,
                             cnn__shape_str(b->ndim, b->shape).s, (long long)*out);
    }
    return CNN_OK;
}

int cnn_linear(cnn_tensor *out, const cnn_tensor *x, const cnn_tensor *w, const cnn_tensor *b) {
    static const char fn[] = "cnn_linear";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: out is NULL", fn);
    *out = (cnn_tensor)CNN_TENSOR_EMPTY;
    int64_t n, in, nout;
    CNN_TRY(linear_sizes(fn, x, w, b, &n, &in, &nout));
    int64_t shape[CNN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = nout;
    CNN_TRY(cnn_tensor_zeros(out, x->ndim, shape));
    const float *bias = b && b->ndim == 1 ? b->data : NULL;
    cnn__linear_forward(out->data, x->data, w->data, bias, n, in, nout);
    return CNN_OK;
}

int cnn_linear_grad(cnn_tensor *dx, cnn_tensor *dw, cnn_tensor *db, const cnn_tensor *dout,
                    const cnn_tensor *x, const cnn_tensor *w) {
    static const char fn[] = "cnn_linear_grad";
    if (dx) *dx = (cnn_tensor)CNN_TENSOR_EMPTY;
    if (dw) *dw = (cnn_tensor)CNN_TENSOR_EMPTY;
    if (db) *db = (cnn_tensor)CNN_TENSOR_EMPTY;
    int64_t n, in, nout;
    CNN_TRY(linear_sizes(fn, x, w, NULL, &n, &in, &nout));
    CNN_TRY(cnn__tensor_check_nonempty(fn, "dout", dout));
    int ok = dout->ndim == x->ndim && dout->shape[dout->ndim - 1] == nout;
    for (int d = 0; ok && d < x->ndim - 1; d++) ok = dout->shape[d] == x->shape[d];
    if (!ok)
        return cnn__fail(CNN_ESHAPE, "%s: dout has shape %s; expected x's shape %s with the last "
                         "dimension out_features = %lld",
                         fn, cnn__shape_str(dout->ndim, dout->shape).s, cnn__shape_str(x->ndim, x->shape).s,
                         (long long)nout);
    int rc = CNN_OK;
    if (dx) rc = cnn_tensor_zeros(dx, x->ndim, x->shape);
    if (rc == CNN_OK && dw) rc = cnn_tensor_zeros(dw, 2, w->shape);
    if (rc == CNN_OK && db) rc = cnn_tensor_zeros(db, 1, &nout);
    if (rc != CNN_OK) {
        cnn_tensor_free(dx);
        cnn_tensor_free(dw);
        cnn_tensor_free(db);
        return rc;
    }
    cnn__linear_backward(dx ? dx->data : NULL, dw ? dw->data : NULL, db ? db->data : NULL,
                         dout->data, x->data, w->data, n, in, nout);
    return CNN_OK;
}

/* ---- flatten ------------------------------------------------------------ */

/* torch.flatten(start_dim, end_dim): dims in [-ndim, ndim) (negative counts
 * from the end), start <= end after wrapping; dims start..end become one. */
int cnn_flatten_shape(int64_t *out_shape, int *out_ndim, int ndim, const int64_t *shape,
                      int start_dim, int end_dim) {
    static const char fn[] = "cnn_flatten_shape";
    if (!out_shape || !out_ndim) return cnn__fail(CNN_EINVAL, "%s: output is NULL", fn);
    if (ndim < 1 || ndim > CNN_MAX_DIMS)
        return cnn__fail(CNN_EINVAL, "%s: input has ndim %d; expected 1 to %d", fn, ndim, CNN_MAX_DIMS);
    if (!shape) return cnn__fail(CNN_EINVAL, "%s: shape is NULL", fn);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return cnn__fail(CNN_EINVAL, "%s: shape[%d] is %lld; sizes must be >= 0", fn, d,
                             (long long)shape[d]);
    if (start_dim < -ndim || start_dim >= ndim)
        return cnn__fail(CNN_ERANGE, "%s: start_dim %d is out of range for a %d-D input "
                         "(expected to be in range of [%d, %d])", fn, start_dim, ndim, -ndim, ndim - 1);
    if (end_dim < -ndim || end_dim >= ndim)
        return cnn__fail(CNN_ERANGE, "%s: end_dim %d is out of range for a %d-D input "
                         "(expected to be in range of [%d, %d])", fn, end_dim, ndim, -ndim, ndim - 1);
    int s = start_dim < 0 ? start_dim + ndim : start_dim;
    int e = end_dim < 0 ? end_dim + ndim : end_dim;
    if (s > e)
        return cnn__fail(CNN_EINVAL, "%s: start_dim %d (dimension %d) comes after end_dim %d "
                         "(dimension %d)", fn, start_dim, s, end_dim, e);
    int64_t merged = 1;
    for (int d = s; d <= e; d++) {
        if (shape[d] != 0 && merged > CNN_MAX_NUMEL / shape[d]) {
            /* Only possible with a zero elsewhere in the range; keep going to find it. */
            int zero = 0;
            for (int z = s; z <= e; z++) zero |= shape[z] == 0;
            if (!zero)
                return cnn__fail(CNN_ERANGE, "%s: flattened size of dimensions %d..%d exceeds %lld",
                                 fn, s, e, (long long)CNN_MAX_NUMEL);
            merged = 0;
            break;
        }
        merged *= shape[d];
    }
    int64_t tmp[CNN_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < s; d++) tmp[k++] = shape[d];
    tmp[k++] = merged;
    for (int d = e + 1; d < ndim; d++) tmp[k++] = shape[d];
    for (int d = 0; d < k; d++) out_shape[d] = tmp[d];
    *out_ndim = k;
    return CNN_OK;
}

/* out (m, n) = a (m, k) @ b (k, n), by cblas_sgemm (torch.matmul of two 2-D tensors). */
int cnn_matmul(cnn_tensor *out, const cnn_tensor *a, const cnn_tensor *b) {
    const char *fn = "cnn_matmul";
    if (!out) return cnn__fail(CNN_EINVAL, "%s: output tensor is NULL", fn);
    if (out == a || out == b) return cnn__fail(CNN_EINVAL, "%s: output aliases an input", fn);
    memset(out, 0, sizeof *out);
    CNN_TRY(cnn__tensor_check_nonempty(fn, "a", a));
    CNN_TRY(cnn__tensor_check_nonempty(fn, "b", b));
    if (a->ndim != 2 || b->ndim != 2)
        return cnn__fail(CNN_ESHAPE, "%s: a has shape %s and b has %s; expected two 2-D tensors",
                         fn, cnn__shape_str(a->ndim, a->shape).s, cnn__shape_str(b->ndim, b->shape).s);
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    if (b->shape[0] != k)
        return cnn__fail(CNN_ESHAPE,
                         "%s: a %s and b %s cannot be multiplied (%lldx%lld and %lldx%lld)", fn,
                         cnn__shape_str(2, a->shape).s, cnn__shape_str(2, b->shape).s, (long long)m,
                         (long long)k, (long long)b->shape[0], (long long)n);
    if (m > INT_MAX || k > INT_MAX || n > INT_MAX)
        return cnn__fail(CNN_ERANGE, "%s: sizes %lld, %lld, %lld exceed the BLAS limit %d", fn,
                         (long long)m, (long long)k, (long long)n, INT_MAX);
    int64_t shape[2] = {m, n};
    CNN_TRY(cnn_tensor_zeros(out, 2, shape));
    if (m == 0 || n == 0 || k == 0) return CNN_OK;
    /* one thread does it, inside a parallel region (see cnn_internal.h) */
    #pragma omp parallel
    #pragma omp single
    {
        cnn__blas_serial();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a->data,
                    (int)k, b->data, (int)n, 0.0f, out->data, (int)n);
    }
    return CNN_OK;
}
