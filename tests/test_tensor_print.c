/* test_tensor_print.c — cnn_tensor_format against PyTorch's str(t), case by
 * case from tests/fixtures/print.txt (written by tools/fixtures/gen_print.py),
 * plus cnn_shape_format, snprintf-style truncation and the error paths. */
#include "test_util.h"

#include <errno.h>

#define LINE_MAX_LEN 8192
#define TEXT_MAX (1 << 16)

typedef struct {
    FILE *f;
    char line[LINE_MAX_LEN];
    int lineno;
} reader;

/* Next line without its newline; 0 at end of file. */
static int next_line(reader *r) {
    if (!fgets(r->line, sizeof r->line, r->f)) return 0;
    r->lineno++;
    size_t n = strlen(r->line);
    if (n > 0 && r->line[n - 1] == '\n') r->line[--n] = '\0';
    return 1;
}

/* Reads one case (after its "case" line) and checks it; returns 0 on a
 * malformed fixture. */
static int run_case(reader *r, const char *name) {
    int ndim = 0;
    int64_t shape[CNN_MAX_DIMS] = {0};
    cnn_tensor t = CNN_TENSOR_EMPTY;
    char *expected = NULL;
    int ok = 0;

    if (!next_line(r) || strncmp(r->line, "shape ", 6) != 0) goto done;
    {
        char *p = r->line + 6, *end;
        ndim = (int)strtol(p, &end, 10);
        if (ndim < 1 || ndim > CNN_MAX_DIMS) goto done;
        for (int d = 0; d < ndim; d++) {
            p = end;
            shape[d] = strtoll(p, &end, 10);
            if (end == p) goto done;
        }
    }
    CHECK_OK(cnn_tensor_zeros(&t, ndim, shape));
    int64_t numel = cnn_tensor_numel(&t);
    if (!next_line(r)) goto done;
    if (strncmp(r->line, "values ", 7) == 0) {
        long long count = strtoll(r->line + 7, NULL, 10);
        if (count != numel) goto done;
        int64_t k = 0;
        while (k < numel) {
            if (!next_line(r)) goto done;
            char *p = r->line, *end;
            for (;;) {
                errno = 0;
                float v = strtof(p, &end);
                if (end == p) break;
                if (k >= numel) goto done;
                t.data[k++] = v;
                p = end;
            }
        }
        if (!next_line(r)) goto done;
    } else if (strncmp(r->line, "arange ", 7) == 0) {
        float scale = strtof(r->line + 7, NULL);
        for (int64_t k = 0; k < numel; k++) t.data[k] = (float)k * scale;
        for (;;) {
            if (!next_line(r)) goto done;
            if (strncmp(r->line, "patch ", 6) != 0) break;
            char *end;
            long long idx = strtoll(r->line + 6, &end, 10);
            if (idx < 0 || idx >= numel) goto done;
            t.data[idx] = strtof(end, NULL);
        }
    } else {
        goto done;
    }
    if (strncmp(r->line, "expect ", 7) != 0) goto done;
    int lines = atoi(r->line + 7);
    expected = malloc(TEXT_MAX);
    if (!expected) goto done;
    size_t len = 0;
    for (int i = 0; i < lines; i++) {
        if (!next_line(r)) goto done;
        size_t n = strlen(r->line);
        if (len + n + 2 > TEXT_MAX) goto done;
        if (i > 0) expected[len++] = '\n';
        memcpy(expected + len, r->line, n);
        len += n;
    }
    expected[len] = '\0';
    ok = 1;

    static char got[TEXT_MAX];
    int rc = cnn_tensor_format(got, sizeof got, &t);
    test__checked++;
    if (rc < 0 || strcmp(got, expected) != 0) {
        test__failed++;
        fprintf(stderr, "case %s: cnn_tensor_format differs from PyTorch\n  expected:\n%s\n  got (%d):\n%s\n",
                name, expected, rc, rc < 0 ? cnn_last_error() : got);
    } else {
        CHECK_INT_EQ(rc, (long long)len);
        /* A size query and a truncated write agree with the full text. */
        CHECK_INT_EQ(cnn_tensor_format(NULL, 0, &t), (long long)len);
        char small[8];
        CHECK_INT_EQ(cnn_tensor_format(small, sizeof small, &t), (long long)len);
        CHECK(strncmp(small, expected, 7) == 0 && small[7] == '\0');
    }
done:
    if (!ok) fprintf(stderr, "print.txt:%d: malformed case %s\n", r->lineno, name);
    free(expected);
    cnn_tensor_free(&t);
    return ok;
}

static void test_fixture(void) {
    reader r = {0};
    r.f = fopen(CNN_FIXTURES_DIR "/print.txt", "r");
    test__checked++;
    if (!r.f) {
        test__failed++;
        fprintf(stderr, "cannot open %s\n", CNN_FIXTURES_DIR "/print.txt");
        return;
    }
    int cases = 0;
    while (next_line(&r)) {
        if (r.line[0] == '#' || r.line[0] == '\0') continue;
        if (strncmp(r.line, "case ", 5) != 0) {
            test__failed++;
            fprintf(stderr, "print.txt:%d: expected a case line, got \"%s\"\n", r.lineno, r.line);
            break;
        }
        char name[128];
        snprintf(name, sizeof name, "%.100s", r.line + 5);
        if (!run_case(&r, name)) {
            test__failed++;
            break;
        }
        cases++;
    }
    fclose(r.f);
    CHECK(cases >= 30);
    printf("%d print cases compared\n", cases);
}

static void test_shape_format(void) {
    char buf[64];
    int64_t s4[4] = {1, 2, 4, 4}, s1[1] = {120};
    CHECK_INT_EQ(cnn_shape_format(buf, sizeof buf, 4, s4), 24);
    CHECK_STR_EQ(buf, "torch.Size([1, 2, 4, 4])");
    cnn_shape_format(buf, sizeof buf, 1, s1);
    CHECK_STR_EQ(buf, "torch.Size([120])");
    cnn_shape_format(buf, sizeof buf, 0, NULL);
    CHECK_STR_EQ(buf, "torch.Size([])");
    /* Truncated like snprintf: the full length comes back. */
    CHECK_INT_EQ(cnn_shape_format(buf, 6, 4, s4), 24);
    CHECK_STR_EQ(buf, "torch");
    CHECK_INT_EQ(cnn_shape_format(NULL, 0, 4, s4), 24);
    CHECK_STATUS(cnn_shape_format(buf, sizeof buf, 5, s4), CNN_EINVAL);
    CHECK_STATUS(cnn_shape_format(buf, sizeof buf, -1, s4), CNN_EINVAL);
    CHECK_STATUS(cnn_shape_format(buf, sizeof buf, 2, NULL), CNN_EINVAL);
    CHECK_STATUS(cnn_shape_format(NULL, 10, 2, s4), CNN_EINVAL);
}

static void test_format_errors(void) {
    char buf[64];
    cnn_tensor empty = CNN_TENSOR_EMPTY;
    CHECK_INT_EQ(cnn_tensor_format(buf, sizeof buf, &empty), 10);
    CHECK_STR_EQ(buf, "tensor([])");
    CHECK_STATUS(cnn_tensor_format(buf, sizeof buf, NULL), CNN_EINVAL);
    cnn_tensor bad = {2, {3, -1, 0, 0}, NULL, 0};
    CHECK_STATUS(cnn_tensor_format(buf, sizeof buf, &bad), CNN_EINVAL);
    cnn_tensor nodata = {1, {3, 0, 0, 0}, NULL, 0};
    CHECK_STATUS(cnn_tensor_format(buf, sizeof buf, &nodata), CNN_EINVAL);
    cnn_tensor deep = {5, {1, 1, 1, 1}, NULL, 0};
    CHECK_STATUS(cnn_tensor_format(buf, sizeof buf, &deep), CNN_EINVAL);
    float v[2] = {1, 2};
    cnn_tensor ok = {1, {2, 0, 0, 0}, v, 0};
    CHECK_STATUS(cnn_tensor_format(NULL, 5, &ok), CNN_EINVAL);

    /* cnn_tensor_print writes the text and a newline. */
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (f) {
        CHECK_OK(cnn_tensor_print(f, &ok));
        rewind(f);
        char line[64] = {0};
        CHECK(fgets(line, sizeof line, f) != NULL);
        CHECK_STR_EQ(line, "tensor([1., 2.])\n");
        fclose(f);
    }
    CHECK_STATUS(cnn_tensor_print(NULL, &ok), CNN_EINVAL);
}

/* A text longer than cnn_tensor_print's stack buffer goes through the heap. */
static void test_print_long(void) {
    cnn_tensor t = CNN_TENSOR_EMPTY;
    int64_t shape[2] = {100, 10};
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    CHECK_OK(cnn_tensor_normal(&t, 2, shape, 0, 1, &rng));
    int len = cnn_tensor_format(NULL, 0, &t);
    CHECK(len > 4096);
    FILE *f = tmpfile();
    if (f) {
        CHECK_OK(cnn_tensor_print(f, &t));
        CHECK_INT_EQ(ftell(f), (long)len + 1);
        fclose(f);
    }
    cnn_tensor_free(&t);
}

int main(void) {
    test_fixture();
    test_shape_format();
    test_format_errors();
    test_print_long();
    return test_report();
}
