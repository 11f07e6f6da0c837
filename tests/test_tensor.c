/* test_tensor.c — tensor creation, views, copies, element access, arithmetic,
 * matmul, the random generator, and every error path of src/core/tensor.c. */
#include "test_util.h"

#include <stdint.h>

static int shape_is(const cnn_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t want[4] = {d0, d1, d2, d3};
    if (t->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] != want[d]) return 0;
    return 1;
}

static int is_empty(const cnn_tensor *t) {
    return t->ndim == 0 && t->data == NULL && t->owner == 0;
}

/* A tensor struct holding garbage, as a caller's uninitialized output would. */
static cnn_tensor garbage(void) {
    static float junk[4];
    cnn_tensor t = {3, {7, 7, 7, 0}, junk, 0};
    return t;
}

static void test_create(void) {
    cnn_tensor t = garbage();
    int64_t s23[2] = {2, 3};
    CHECK_OK(cnn_tensor_zeros(&t, 2, s23));
    CHECK(shape_is(&t, 2, 2, 3, 0, 0) && t.owner == 1);
    CHECK_INT_EQ(cnn_tensor_numel(&t), 6);
    CHECK(cnn_tensor_sum(&t) == 0.0f);
    cnn_tensor_free(&t);
    CHECK(is_empty(&t));
    cnn_tensor_free(&t); /* twice is fine */
    cnn_tensor_free(NULL);

    CHECK_OK(cnn_tensor_ones(&t, 2, s23));
    CHECK(cnn_tensor_sum(&t) == 6.0f);
    cnn_tensor_free(&t);
    CHECK_OK(cnn_tensor_full(&t, 2, s23, -2.5f));
    CHECK(t.data[5] == -2.5f && cnn_tensor_sum(&t) == -15.0f);
    cnn_tensor_free(&t);

    CHECK_OK(cnn_tensor_arange(&t, 16));
    CHECK(shape_is(&t, 1, 16, 0, 0, 0) && t.data[0] == 0.0f && t.data[15] == 15.0f);
    CHECK(cnn_tensor_sum(&t) == 120.0f);
    cnn_tensor_free(&t);
    CHECK_OK(cnn_tensor_arange(&t, 0));
    CHECK(shape_is(&t, 1, 0, 0, 0, 0) && t.data == NULL && cnn_tensor_numel(&t) == 0);
    cnn_tensor_free(&t);

    float src[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(cnn_tensor_from_data(&t, 2, s23, src));
    src[0] = 100; /* copied, not borrowed */
    CHECK(t.data[0] == 1.0f && t.data[5] == 6.0f && t.data != src);
    cnn_tensor c = garbage();
    CHECK_OK(cnn_tensor_clone(&c, &t));
    CHECK(shape_is(&c, 2, 2, 3, 0, 0) && c.data != t.data && memcmp(c.data, t.data, 24) == 0);
    cnn_tensor_free(&c);
    cnn_tensor_free(&t);

    /* Zero-size shapes are valid and hold no data. */
    int64_t s0[3] = {2, 0, 3};
    CHECK_OK(cnn_tensor_zeros(&t, 3, s0));
    CHECK(shape_is(&t, 3, 2, 0, 3, 0) && t.data == NULL && cnn_tensor_numel(&t) == 0);
    CHECK_OK(cnn_tensor_clone(&c, &t));
    CHECK(shape_is(&c, 3, 2, 0, 3, 0));
    cnn_tensor_free(&c);
    cnn_tensor_free(&t);

    cnn_tensor empty = CNN_TENSOR_EMPTY;
    CHECK_INT_EQ(cnn_tensor_numel(&empty), 0);
    CHECK_INT_EQ(cnn_tensor_numel(NULL), 0);
    CHECK(cnn_tensor_sum(NULL) == 0.0f);
    CHECK_OK(cnn_tensor_clone(&c, &empty));
    CHECK(is_empty(&c));

    /* A borrowed buffer is not freed. */
    float borrowed[2] = {1, 2};
    cnn_tensor view = {1, {2, 0, 0, 0}, borrowed, 0};
    cnn_tensor_free(&view);
    CHECK(is_empty(&view) && borrowed[1] == 2.0f);
}

static void test_create_errors(void) {
    cnn_tensor t = garbage();
    int64_t good[2] = {2, 3}, neg[2] = {2, -3}, huge[4] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
    int64_t over[2] = {INT64_MAX, INT64_MAX};
    CHECK_STATUS(cnn_tensor_zeros(NULL, 2, good), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_zeros(&t, 2, NULL), CNN_EINVAL);
    CHECK(is_empty(&t));
    t = garbage();
    CHECK_STATUS(cnn_tensor_zeros(&t, 0, good), CNN_EINVAL);
    CHECK(is_empty(&t));
    CHECK_STATUS(cnn_tensor_zeros(&t, 5, good), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_zeros(&t, -1, good), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_zeros(&t, 2, neg), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "-3") != NULL);
    CHECK_STATUS(cnn_tensor_ones(&t, 4, huge), CNN_ERANGE);
    CHECK_STATUS(cnn_tensor_full(&t, 2, over, 1.0f), CNN_ERANGE);
    CHECK(is_empty(&t));
    CHECK_STATUS(cnn_tensor_arange(&t, -1), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_arange(NULL, 3), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_from_data(&t, 2, good, NULL), CNN_EINVAL);
    CHECK(is_empty(&t));
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    CHECK_STATUS(cnn_tensor_uniform(&t, 2, good, 0, 1, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_uniform(&t, 2, good, 1, 0, &rng), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_uniform(&t, 2, good, 0, INFINITY, &rng), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_normal(&t, 2, good, 0, -1, &rng), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_normal(&t, 2, good, NAN, 1, &rng), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_normal(&t, 2, neg, 0, 1, &rng), CNN_EINVAL);
    CHECK(is_empty(&t));

    /* Malformed inputs are rejected, not dereferenced. */
    cnn_tensor c = CNN_TENSOR_EMPTY;
    cnn_tensor bad_ndim = {7, {1, 1, 1, 1}, NULL, 0};
    cnn_tensor bad_size = {2, {2, -1, 0, 0}, NULL, 0};
    cnn_tensor no_data = {2, {2, 2, 0, 0}, NULL, 0};
    CHECK_STATUS(cnn_tensor_clone(&c, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_clone(NULL, &bad_ndim), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_clone(&c, &bad_ndim), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_clone(&c, &bad_size), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_clone(&c, &no_data), CNN_EINVAL);
    CHECK(strstr(cnn_last_error(), "data is NULL") != NULL);
    CHECK(is_empty(&c));
    CHECK_STATUS(cnn_tensor_clone(&no_data, &no_data), CNN_EINVAL);
}

/* Allocator hooks that fail after a given number of allocations. */
static int alloc_budget = -1;
static void *limited_malloc(size_t n) {
    if (alloc_budget == 0) return NULL;
    if (alloc_budget > 0) alloc_budget--;
    return malloc(n);
}
static void *limited_calloc(size_t n, size_t m) {
    if (alloc_budget == 0) return NULL;
    if (alloc_budget > 0) alloc_budget--;
    return calloc(n, m);
}

static void test_out_of_memory(void) {
    cnn_set_allocator(limited_malloc, realloc, limited_calloc, free);
    alloc_budget = 0;
    cnn_tensor t = garbage(), a = CNN_TENSOR_EMPTY;
    int64_t s[2] = {3, 3};
    CHECK_STATUS(cnn_tensor_zeros(&t, 2, s), CNN_ENOMEM);
    CHECK(is_empty(&t));
    CHECK_STATUS(cnn_tensor_ones(&t, 2, s), CNN_ENOMEM);
    alloc_budget = 1;
    CHECK_OK(cnn_tensor_ones(&a, 2, s));
    CHECK_STATUS(cnn_tensor_clone(&t, &a), CNN_ENOMEM);
    CHECK_STATUS(cnn_tensor_transpose(&t, &a), CNN_ENOMEM);
    CHECK_STATUS(cnn_matmul(&t, &a, &a), CNN_ENOMEM);
    CHECK_STATUS(cnn_tensor_add_scalar(&t, &a, 1), CNN_ENOMEM);
    const cnn_tensor *ins[2] = {&a, &a};
    CHECK_STATUS(cnn_tensor_cat(&t, ins, 2, 0), CNN_ENOMEM);
    CHECK(is_empty(&t));
    alloc_budget = -1;
    cnn_tensor_free(&a);
    cnn_set_allocator(NULL, NULL, NULL, NULL);
}

static void test_reshape(void) {
    cnn_tensor t = CNN_TENSOR_EMPTY;
    CHECK_OK(cnn_tensor_arange(&t, 48));
    float *data = t.data;
    int64_t s4[4] = {1, 1, 6, 8};
    CHECK_OK(cnn_tensor_reshape(&t, 4, s4));
    CHECK(shape_is(&t, 4, 1, 1, 6, 8) && t.data == data);
    int64_t infer[2] = {-1, 12};
    CHECK_OK(cnn_tensor_reshape(&t, 2, infer));
    CHECK(shape_is(&t, 2, 4, 12, 0, 0));
    int64_t infer_mid[3] = {2, -1, 3};
    CHECK_OK(cnn_tensor_reshape(&t, 3, infer_mid));
    CHECK(shape_is(&t, 3, 2, 8, 3, 0) && t.shape[3] == 0);
    int64_t flat[1] = {-1};
    CHECK_OK(cnn_tensor_reshape(&t, 1, flat));
    CHECK(shape_is(&t, 1, 48, 0, 0, 0));

    int64_t two_infer[2] = {-1, -1}, mismatch[2] = {5, 10}, bad_infer[2] = {-1, 5},
            neg[2] = {-2, -24}, zero_infer[2] = {0, -1}, big[3] = {INT64_MAX, INT64_MAX, 0x10};
    CHECK_STATUS(cnn_tensor_reshape(&t, 2, two_infer), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_reshape(&t, 2, mismatch), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "[5, 10]") != NULL);
    CHECK_STATUS(cnn_tensor_reshape(&t, 2, bad_infer), CNN_ESHAPE);
    CHECK_STATUS(cnn_tensor_reshape(&t, 2, neg), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_reshape(&t, 2, zero_infer), CNN_ESHAPE);
    CHECK_STATUS(cnn_tensor_reshape(&t, 3, big), CNN_ESHAPE);
    CHECK_STATUS(cnn_tensor_reshape(&t, 0, flat), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_reshape(&t, 5, s4), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_reshape(&t, 2, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_reshape(NULL, 1, flat), CNN_EINVAL);
    CHECK(shape_is(&t, 1, 48, 0, 0, 0) && t.data == data); /* unchanged on failure */
    cnn_tensor_free(&t);
    cnn_tensor empty = CNN_TENSOR_EMPTY;
    CHECK_STATUS(cnn_tensor_reshape(&empty, 1, flat), CNN_EINVAL);
}

static void test_transpose(void) {
    cnn_tensor x = CNN_TENSOR_EMPTY, y = garbage();
    int64_t s[2] = {37, 45}; /* larger than one 32x32 tile, odd sizes */
    CHECK_OK(cnn_tensor_arange(&x, 37 * 45));
    CHECK_OK(cnn_tensor_reshape(&x, 2, s));
    CHECK_OK(cnn_tensor_transpose(&y, &x));
    CHECK(shape_is(&y, 2, 45, 37, 0, 0));
    int bad = 0;
    for (int i = 0; i < 37; i++)
        for (int j = 0; j < 45; j++)
            if (y.data[j * 37 + i] != x.data[i * 45 + j]) bad++;
    CHECK_INT_EQ(bad, 0);
    cnn_tensor_free(&y);
    CHECK_STATUS(cnn_tensor_transpose(&x, &x), CNN_EINVAL);
    int64_t s3[3] = {5, 9, 37};
    CHECK_OK(cnn_tensor_reshape(&x, 3, s3));
    CHECK_STATUS(cnn_tensor_transpose(&y, &x), CNN_ESHAPE);
    CHECK(is_empty(&y));
    CHECK_STATUS(cnn_tensor_transpose(&y, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_transpose(NULL, &x), CNN_EINVAL);
    cnn_tensor_free(&x);
}

static void test_cat_stack(void) {
    /* The chapter: X = arange(16).reshape(1, 1, 4, 4); cat((X, X + 1), dim). */
    cnn_tensor x = CNN_TENSOR_EMPTY, x1 = CNN_TENSOR_EMPTY, y = garbage();
    int64_t s[4] = {1, 1, 4, 4};
    CHECK_OK(cnn_tensor_arange(&x, 16));
    CHECK_OK(cnn_tensor_reshape(&x, 4, s));
    CHECK_OK(cnn_tensor_add_scalar(&x1, &x, 1.0f));
    const cnn_tensor *ins[2] = {&x, &x1};
    char text[64];

    CHECK_OK(cnn_tensor_cat(&y, ins, 2, 1));
    cnn_shape_format(text, sizeof text, y.ndim, y.shape);
    CHECK_STR_EQ(text, "torch.Size([1, 2, 4, 4])");
    CHECK(y.data[0] == 0.0f && y.data[15] == 15.0f && y.data[16] == 1.0f && y.data[31] == 16.0f);
    cnn_tensor_free(&y);

    CHECK_OK(cnn_tensor_cat(&y, ins, 2, 0));
    cnn_shape_format(text, sizeof text, y.ndim, y.shape);
    CHECK_STR_EQ(text, "torch.Size([2, 1, 4, 4])");
    cnn_tensor_free(&y);

    /* dim -1 interleaves rows: row r is x[r] then x1[r]. */
    CHECK_OK(cnn_tensor_cat(&y, ins, 2, -1));
    CHECK(shape_is(&y, 4, 1, 1, 4, 8));
    float want_row1[8] = {4, 5, 6, 7, 5, 6, 7, 8};
    CHECK_CLOSE("cat dim -1 row 1", y.data + 8, want_row1, 8, 0, 0);
    cnn_tensor_free(&y);

    /* Unequal sizes along dim; three inputs. */
    cnn_tensor a = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY, c = CNN_TENSOR_EMPTY;
    int64_t sa[2] = {2, 1}, sb[2] = {2, 3}, sc[2] = {2, 0};
    float da[2] = {1, 2}, db[6] = {3, 4, 5, 6, 7, 8};
    CHECK_OK(cnn_tensor_from_data(&a, 2, sa, da));
    CHECK_OK(cnn_tensor_from_data(&b, 2, sb, db));
    CHECK_OK(cnn_tensor_zeros(&c, 2, sc));
    const cnn_tensor *abc[3] = {&a, &c, &b};
    CHECK_OK(cnn_tensor_cat(&y, abc, 3, 1));
    float want[8] = {1, 3, 4, 5, 2, 6, 7, 8};
    CHECK(shape_is(&y, 2, 2, 4, 0, 0));
    CHECK_CLOSE("cat uneven", y.data, want, 8, 0, 0);
    cnn_tensor_free(&y);

    /* Errors: dims disagree outside dim, ndim differs, dim out of range. */
    CHECK_STATUS(cnn_tensor_cat(&y, abc, 3, 0), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "input 1 has shape [2, 0]") != NULL);
    CHECK(is_empty(&y));
    const cnn_tensor *mixed[2] = {&a, &x};
    CHECK_STATUS(cnn_tensor_cat(&y, mixed, 2, 0), CNN_ESHAPE);
    CHECK_STATUS(cnn_tensor_cat(&y, ins, 2, 4), CNN_ERANGE);
    CHECK_STATUS(cnn_tensor_cat(&y, ins, 2, -5), CNN_ERANGE);
    CHECK_STATUS(cnn_tensor_cat(&y, ins, 0, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_cat(&y, NULL, 2, 0), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_cat(NULL, ins, 2, 0), CNN_EINVAL);
    const cnn_tensor *with_null[2] = {&x, NULL};
    CHECK_STATUS(cnn_tensor_cat(&y, with_null, 2, 0), CNN_EINVAL);
    const cnn_tensor *self[2] = {&x, &y};
    CHECK_OK(cnn_tensor_clone(&y, &x));
    CHECK_STATUS(cnn_tensor_cat(&y, self, 2, 0), CNN_EINVAL);
    cnn_tensor_free(&y);

    /* stack: K = stack((K, K + 1, K + 2), 0) in the chapter is (3, 2, 2, 2). */
    cnn_tensor k = CNN_TENSOR_EMPTY, k1 = CNN_TENSOR_EMPTY, k2 = CNN_TENSOR_EMPTY;
    int64_t sk[3] = {2, 2, 2};
    CHECK_OK(cnn_tensor_arange(&k, 8));
    CHECK_OK(cnn_tensor_reshape(&k, 3, sk));
    CHECK_OK(cnn_tensor_add_scalar(&k1, &k, 1));
    CHECK_OK(cnn_tensor_add_scalar(&k2, &k, 2));
    const cnn_tensor *ks[3] = {&k, &k1, &k2};
    CHECK_OK(cnn_tensor_stack(&y, ks, 3, 0));
    CHECK(shape_is(&y, 4, 3, 2, 2, 2));
    CHECK(y.data[8] == 1.0f && y.data[23] == 9.0f);
    cnn_tensor_free(&y);
    /* stack along the last new dim: y[i, j, l, s] = ks[s][i, j, l]. */
    CHECK_OK(cnn_tensor_stack(&y, ks, 3, -1));
    CHECK(shape_is(&y, 4, 2, 2, 2, 3));
    float want_stack[6] = {0, 1, 2, 1, 2, 3};
    CHECK_CLOSE("stack dim -1", y.data, want_stack, 6, 0, 0);
    cnn_tensor_free(&y);
    CHECK_OK(cnn_tensor_stack(&y, ks, 3, 1));
    CHECK(shape_is(&y, 4, 2, 3, 2, 2));
    CHECK(y.data[4] == 1.0f && y.data[12] == 4.0f);
    cnn_tensor_free(&y);
    CHECK_STATUS(cnn_tensor_stack(&y, ks, 3, 4), CNN_ERANGE);
    const cnn_tensor *mism[2] = {&k, &a};
    CHECK_STATUS(cnn_tensor_stack(&y, mism, 2, 0), CNN_ESHAPE);
    const cnn_tensor *four[2] = {&x, &x};
    CHECK_STATUS(cnn_tensor_stack(&y, four, 2, 0), CNN_ESHAPE); /* would be 5-D */
    CHECK(is_empty(&y));

    cnn_tensor *all[] = {&x, &x1, &a, &b, &c, &k, &k1, &k2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cnn_tensor_free(all[i]);
}

static void test_get_set(void) {
    cnn_tensor t = CNN_TENSOR_EMPTY;
    int64_t s[3] = {2, 3, 4};
    CHECK_OK(cnn_tensor_arange(&t, 24));
    CHECK_OK(cnn_tensor_reshape(&t, 3, s));
    float v = -1;
    int64_t i0[3] = {1, 2, 3}, neg[3] = {-1, -1, -4}, mid[3] = {0, -2, 1};
    CHECK_OK(cnn_tensor_get(&t, i0, &v));
    CHECK(v == 23.0f);
    CHECK_OK(cnn_tensor_get(&t, neg, &v));
    CHECK(v == 20.0f);
    CHECK_OK(cnn_tensor_get(&t, mid, &v));
    CHECK(v == 5.0f);
    CHECK_OK(cnn_tensor_set(&t, neg, 99.0f));
    CHECK(t.data[20] == 99.0f);
    int64_t out_hi[3] = {2, 0, 0}, out_lo[3] = {0, -4, 0}, out_last[3] = {0, 0, 4};
    CHECK_STATUS(cnn_tensor_get(&t, out_hi, &v), CNN_ERANGE);
    CHECK(strstr(cnn_last_error(), "dimension 0 with size 2") != NULL);
    CHECK_STATUS(cnn_tensor_get(&t, out_lo, &v), CNN_ERANGE);
    CHECK_STATUS(cnn_tensor_set(&t, out_last, 1.0f), CNN_ERANGE);
    CHECK_STATUS(cnn_tensor_get(&t, NULL, &v), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_get(&t, i0, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_get(NULL, i0, &v), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_set(NULL, i0, 1.0f), CNN_EINVAL);
    cnn_tensor empty = CNN_TENSOR_EMPTY;
    CHECK_STATUS(cnn_tensor_get(&empty, i0, &v), CNN_EINVAL);
    cnn_tensor_free(&t);
}

static void test_arithmetic(void) {
    cnn_tensor a = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY, y = garbage();
    int64_t s[2] = {2, 3};
    float da[6] = {1, 2, 3, 4, 5, 6}, db[6] = {10, 20, 30, 40, 50, 60};
    CHECK_OK(cnn_tensor_from_data(&a, 2, s, da));
    CHECK_OK(cnn_tensor_from_data(&b, 2, s, db));
    CHECK_OK(cnn_tensor_add(&y, &a, &b, 0.5f));
    float want[6] = {6, 12, 18, 24, 30, 36};
    CHECK(shape_is(&y, 2, 2, 3, 0, 0) && y.owner);
    CHECK_CLOSE("a + 0.5 b", y.data, want, 6, 0, 0);
    cnn_tensor_free(&y);
    /* In place: out aliases a (then b). */
    float *adata = a.data;
    CHECK_OK(cnn_tensor_add(&a, &a, &b, -1.0f));
    float want2[6] = {-9, -18, -27, -36, -45, -54};
    CHECK(a.data == adata);
    CHECK_CLOSE("a -= b in place", a.data, want2, 6, 0, 0);
    CHECK_OK(cnn_tensor_add(&b, &a, &b, 1.0f));
    float want3[6] = {1, 2, 3, 4, 5, 6};
    CHECK_CLOSE("b = a + b in place", b.data, want3, 6, 0, 0);
    CHECK_OK(cnn_tensor_mul_scalar(&b, &b, 2.0f));
    CHECK_OK(cnn_tensor_add_scalar(&y, &b, 0.5f));
    float want4[6] = {2.5f, 4.5f, 6.5f, 8.5f, 10.5f, 12.5f};
    CHECK_CLOSE("2b + 0.5", y.data, want4, 6, 0, 0);
    CHECK(cnn_tensor_sum(&y) == 45.0f);
    cnn_tensor_free(&y);

    /* Sum accumulates in double: 1e7 ones plus 0.5s exceed float accumulation. */
    cnn_tensor big = CNN_TENSOR_EMPTY;
    int64_t nbig = 1 << 25;
    CHECK_OK(cnn_tensor_ones(&big, 1, &nbig));
    CHECK(cnn_tensor_sum(&big) == 33554432.0f);
    cnn_tensor_free(&big);

    cnn_tensor c = CNN_TENSOR_EMPTY;
    int64_t sc[2] = {3, 2};
    CHECK_OK(cnn_tensor_zeros(&c, 2, sc));
    CHECK_STATUS(cnn_tensor_add(&y, &a, &c, 1.0f), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "[2, 3]") && strstr(cnn_last_error(), "[3, 2]"));
    CHECK(is_empty(&y));
    /* A failed in-place call leaves its input untouched. */
    CHECK_STATUS(cnn_tensor_add(&a, &a, &c, 1.0f), CNN_ESHAPE);
    CHECK(a.data == adata && a.data[0] == -9.0f);
    CHECK_STATUS(cnn_tensor_add(&y, NULL, &a, 1.0f), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_add(NULL, &a, &a, 1.0f), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_add_scalar(&y, NULL, 1.0f), CNN_EINVAL);
    CHECK_STATUS(cnn_tensor_mul_scalar(NULL, &a, 1.0f), CNN_EINVAL);
    cnn_tensor empty = CNN_TENSOR_EMPTY;
    CHECK_STATUS(cnn_tensor_mul_scalar(&y, &empty, 1.0f), CNN_EINVAL);
    cnn_tensor_free(&a);
    cnn_tensor_free(&b);
    cnn_tensor_free(&c);
}

static void test_matmul(void) {
    /* Odd shapes against a plain triple loop in double. */
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {13, 1, 17}, {31, 29, 1}, {64, 33, 65}};
    cnn_rng rng;
    cnn_rng_seed(&rng, 42);
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int64_t m = shapes[c][0], k = shapes[c][1], n = shapes[c][2];
        int64_t sa[2] = {m, k}, sb[2] = {k, n};
        cnn_tensor a = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY, y = garbage();
        CHECK_OK(cnn_tensor_normal(&a, 2, sa, 0, 1, &rng));
        CHECK_OK(cnn_tensor_uniform(&b, 2, sb, -1, 1, &rng));
        CHECK_OK(cnn_matmul(&y, &a, &b));
        CHECK(shape_is(&y, 2, m, n, 0, 0));
        float *want = malloc((size_t)(m * n) * sizeof(float));
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t l = 0; l < k; l++) s += (double)a.data[i * k + l] * b.data[l * n + j];
                want[i * n + j] = (float)s;
            }
        CHECK_CLOSE("matmul vs loop", y.data, want, (size_t)(m * n), 1e-5, 1e-5);
        free(want);
        cnn_tensor_free(&a);
        cnn_tensor_free(&b);
        cnn_tensor_free(&y);
    }
    /* k = 0 gives zeros; m = 0 gives no elements. */
    cnn_tensor a = CNN_TENSOR_EMPTY, b = CNN_TENSOR_EMPTY, y = CNN_TENSOR_EMPTY;
    int64_t s30[2] = {3, 0}, s02[2] = {0, 2};
    CHECK_OK(cnn_tensor_zeros(&a, 2, s30));
    CHECK_OK(cnn_tensor_zeros(&b, 2, s02));
    CHECK_OK(cnn_matmul(&y, &a, &b));
    CHECK(shape_is(&y, 2, 3, 2, 0, 0) && y.data && cnn_tensor_sum(&y) == 0.0f);
    cnn_tensor_free(&y);
    CHECK_STATUS(cnn_matmul(&y, &b, &a), CNN_ESHAPE); /* (0, 2) @ (3, 0) */
    CHECK(is_empty(&y));
    cnn_tensor_free(&b);
    int64_t s32[2] = {3, 2}, s03[2] = {0, 3};
    CHECK_OK(cnn_tensor_ones(&b, 2, s32));
    cnn_tensor_free(&a);
    CHECK_OK(cnn_tensor_zeros(&a, 2, s03));
    CHECK_OK(cnn_matmul(&y, &a, &b)); /* (0, 3) @ (3, 2) -> (0, 2), no data */
    CHECK(shape_is(&y, 2, 0, 2, 0, 0) && y.data == NULL);
    cnn_tensor_free(&y);
    cnn_tensor_free(&a);
    cnn_tensor_free(&b);

    int64_t s23[2] = {2, 3}, s3[1] = {3};
    CHECK_OK(cnn_tensor_ones(&a, 2, s23));
    CHECK_OK(cnn_tensor_ones(&b, 2, s23));
    CHECK_STATUS(cnn_matmul(&y, &a, &b), CNN_ESHAPE);
    CHECK(strstr(cnn_last_error(), "2x3 and 2x3") != NULL);
    CHECK(is_empty(&y));
    cnn_tensor_free(&b);
    CHECK_OK(cnn_tensor_ones(&b, 1, s3));
    CHECK_STATUS(cnn_matmul(&y, &a, &b), CNN_ESHAPE);
    CHECK_STATUS(cnn_matmul(&a, &a, &b), CNN_EINVAL);
    CHECK_STATUS(cnn_matmul(&y, NULL, &b), CNN_EINVAL);
    CHECK_STATUS(cnn_matmul(NULL, &a, &b), CNN_EINVAL);
    cnn_tensor_free(&a);
    cnn_tensor_free(&b);
}

static void test_rng(void) {
    cnn_rng r1, r2;
    cnn_rng_seed(&r1, 0);
    /* xoshiro256** reference: splitmix64(0) words, then the first output. */
    CHECK(r1.s[0] == 0xe220a8397b1dcdafULL);
    CHECK(r1.s[1] == 0x6e789e6aa1b965f4ULL);
    CHECK(r1.s[2] == 0x06c45d188009454fULL);
    CHECK(r1.s[3] == 0xf88bb8a8724c81ecULL);
    CHECK(cnn_rng_next(&r1) == 0x99ec5f36cb75f2b4ULL);

    cnn_rng_seed(&r1, 123);
    cnn_rng_seed(&r2, 123);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= cnn_rng_next(&r1) == cnn_rng_next(&r2);
    CHECK(same);
    cnn_rng_seed(&r2, 124);
    CHECK(cnn_rng_next(&r1) != cnn_rng_next(&r2));
    /* The state is all there is: a copy replays the stream. */
    cnn_rng saved = r1;
    float n1 = cnn_rng_normal(&r1), u1 = cnn_rng_uniform(&r1);
    CHECK(cnn_rng_normal(&saved) == n1 && cnn_rng_uniform(&saved) == u1);

    /* uniform in [0, 1) with mean ~1/2; normal mean ~0, variance ~1. */
    const int n = 100000;
    double su = 0, sn = 0, sn2 = 0;
    float umin = 1, umax = 0;
    int finite = 1;
    for (int i = 0; i < n; i++) {
        float u = cnn_rng_uniform(&r1);
        if (u < umin) umin = u;
        if (u > umax) umax = u;
        su += u;
        float z = cnn_rng_normal(&r1);
        finite &= isfinite(z) != 0;
        sn += z;
        sn2 += (double)z * z;
    }
    double mean = sn / n, var = sn2 / n - mean * mean;
    CHECK(umin >= 0.0f && umax < 1.0f && umax > 0.999f && umin < 0.001f);
    CHECK(fabs(su / n - 0.5) < 0.005);
    CHECK(finite);
    CHECK(fabs(mean) < 0.015 && fabs(var - 1.0) < 0.02);
    if (!(fabs(mean) < 0.015 && fabs(var - 1.0) < 0.02))
        fprintf(stderr, "normal: mean %g var %g\n", mean, var);

    /* below: in range, covers every value, 0 for n == 0. */
    int counts[7] = {0};
    int in_range = 1;
    for (int i = 0; i < 7000; i++) {
        uint64_t v = cnn_rng_below(&r1, 7);
        if (v >= 7) in_range = 0;
        else counts[v]++;
    }
    CHECK(in_range);
    for (int i = 0; i < 7; i++) CHECK(counts[i] > 800 && counts[i] < 1200);
    CHECK(cnn_rng_below(&r1, 0) == 0);
    CHECK(cnn_rng_below(&r1, 1) == 0);
    uint64_t huge = (UINT64_C(1) << 63) + 1; /* most values rejected half the time */
    CHECK(cnn_rng_below(&r1, huge) < huge);

    /* permutation is a permutation, and seeded ones repeat. */
    enum { P = 1000 };
    static uint32_t perm[P], perm2[P];
    static int seen[P];
    cnn_rng_seed(&r1, 7);
    cnn_rng_permutation(&r1, perm, P);
    int ok = 1, moved = 0;
    for (int i = 0; i < P; i++) {
        if (perm[i] >= P || seen[perm[i]]) ok = 0;
        else seen[perm[i]] = 1;
        moved += perm[i] != (uint32_t)i;
    }
    CHECK(ok && moved > P / 2);
    cnn_rng_seed(&r2, 7);
    cnn_rng_permutation(&r2, perm2, P);
    CHECK(memcmp(perm, perm2, sizeof perm) == 0);
    cnn_rng_permutation(&r2, perm2, 0);
    cnn_rng_permutation(&r2, NULL, 5);
    uint32_t one[1] = {9};
    cnn_rng_permutation(&r2, one, 1);
    CHECK(one[0] == 0);

    /* Tensor fills use the stream in index order. */
    cnn_tensor t = CNN_TENSOR_EMPTY;
    int64_t s[2] = {2, 3};
    cnn_rng_seed(&r1, 5);
    cnn_rng_seed(&r2, 5);
    CHECK_OK(cnn_tensor_uniform(&t, 2, s, -2, 3, &r1));
    int order = 1;
    for (int i = 0; i < 6; i++) order &= t.data[i] == -2.0f + 5.0f * cnn_rng_uniform(&r2);
    CHECK(order);
    cnn_tensor_free(&t);
    CHECK_OK(cnn_tensor_normal(&t, 2, s, 1, 2, &r1));
    order = 1;
    for (int i = 0; i < 6; i++) order &= t.data[i] == 1.0f + 2.0f * cnn_rng_normal(&r2);
    CHECK(order);
    cnn_tensor_free(&t);

    /* NULL is harmless. */
    cnn_rng_seed(NULL, 1);
    CHECK(cnn_rng_next(NULL) == 0 && cnn_rng_uniform(NULL) == 0.0f && cnn_rng_normal(NULL) == 0.0f);
}

int main(void) {
    test_create();
    test_create_errors();
    test_out_of_memory();
    test_reshape();
    test_transpose();
    test_cat_stack();
    test_get_set();
    test_arithmetic();
    test_matmul();
    test_rng();
    return test_report();
}
