/* fuzz_csv.c — libFuzzer target for the Kaggle CSV reader (src/data/csv.c),
 * in memory. A success holds n >= 1 examples of c x s x s bytes with c in
 * {1, 3} and labels below CNN_MAX_CLASSES; a failure holds nothing and says
 * why. */
#include "data/data.h"
#include "fuzz_util.h"

static volatile unsigned sink; /* keeps the reads of every byte */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (size > (1u << 20)) return 0;
    cnn_dataset ds;
    int rc = cnn__csv_parse(&ds, (const char *)data, size, "fuzz.csv");
    if (rc == CNN_OK) {
        if (ds.n < 1 || (ds.c != 1 && ds.c != 3) || ds.h < 1 || ds.h != ds.w || !ds.images || !ds.labels) abort();
        for (int64_t i = 0; i < ds.n; i++)
            if (ds.labels[i] >= CNN_MAX_CLASSES) abort();
        unsigned sum = 0;
        for (int64_t i = 0; i < ds.n * ds.c * ds.h * ds.w; i++) sum += ds.images[i];
        sink = sum;
        cnn_dataset_free(&ds);
    } else if (ds.images || ds.labels || !cnn_last_error()[0]) {
        abort();
    }
    return 0;
}
