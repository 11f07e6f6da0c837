/* test_util.h — tiny test harness: every check prints expected vs got and the
 * test exits non-zero if any check failed. Each test file defines main() and
 * ends with `return test_report();`. */
#ifndef CNN_TEST_UTIL_H
#define CNN_TEST_UTIL_H

#include "cnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__failed, test__checked;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        test__checked++;                                                                  \
        if (!(cond)) {                                                                    \
            test__failed++;                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                 \
    } while (0)

/* A call that must succeed; prints the status and message otherwise. */
#define CHECK_OK(expr)                                                                    \
    do {                                                                                  \
        int test__rc = (expr);                                                            \
        test__checked++;                                                                  \
        if (test__rc != CNN_OK) {                                                         \
            test__failed++;                                                               \
            fprintf(stderr, "%s:%d: %s\n  expected CNN_OK, got %s: %s\n", __FILE__,       \
                    __LINE__, #expr, cnn_status_name(test__rc), cnn_last_error());        \
        }                                                                                 \
    } while (0)

/* A call that must fail with a given status (and a non-empty message). */
#define CHECK_STATUS(expr, want)                                                          \
    do {                                                                                  \
        int test__rc = (expr);                                                            \
        test__checked++;                                                                  \
        if (test__rc != (want) || cnn_last_error()[0] == '\0') {                          \
            test__failed++;                                                               \
            fprintf(stderr, "%s:%d: %s\n  expected %s, got %s (message \"%s\")\n",        \
                    __FILE__, __LINE__, #expr, cnn_status_name(want),                     \
                    cnn_status_name(test__rc), cnn_last_error());                         \
        }                                                                                 \
    } while (0)

#define CHECK_INT_EQ(got, want)                                                           \
    do {                                                                                  \
        long long test__g = (long long)(got), test__w = (long long)(want);                \
        test__checked++;                                                                  \
        if (test__g != test__w) {                                                         \
            test__failed++;                                                               \
            fprintf(stderr, "%s:%d: %s\n  expected %lld, got %lld\n", __FILE__, __LINE__, \
                    #got, test__w, test__g);                                              \
        }                                                                                 \
    } while (0)

#define CHECK_STR_EQ(got, want)                                                           \
    do {                                                                                  \
        const char *test__g = (got), *test__w = (want);                                   \
        test__checked++;                                                                  \
        if (strcmp(test__g, test__w) != 0) {                                              \
            test__failed++;                                                               \
            fprintf(stderr, "%s:%d: %s\n  expected:\n%s\n  got:\n%s\n", __FILE__,         \
                    __LINE__, #got, test__w, test__g);                                    \
        }                                                                                 \
    } while (0)

/* |got - want| <= atol + rtol * |want| elementwise; reports the worst element. */
static inline int test_close(const char *what, const float *got, const float *want, size_t n,
                             double rtol, double atol, const char *file, int line) {
    size_t worst = 0;
    double worst_excess = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double err = fabs(g - w), tol = atol + rtol * fabs(w);
        if (!(err <= tol) && !(isnan(g) && isnan(w))) {
            if (!bad || err - tol > worst_excess) { worst = i; worst_excess = err - tol; }
            bad++;
        }
    }
    test__checked++;
    if (bad) {
        test__failed++;
        fprintf(stderr, "%s:%d: %s: %d of %zu values differ; worst at [%zu]: expected %.9g, got %.9g\n",
                file, line, what, bad, n, worst, (double)want[worst], (double)got[worst]);
    }
    return bad == 0;
}
#define CHECK_CLOSE(what, got, want, n, rtol, atol) \
    test_close((what), (got), (want), (n), (rtol), (atol), __FILE__, __LINE__)

static inline int test_report(void) {
    if (test__failed) {
        fprintf(stderr, "%d of %d checks failed\n", test__failed, test__checked);
        return 1;
    }
    printf("all %d checks passed\n", test__checked);
    return 0;
}

#endif /* CNN_TEST_UTIL_H */
