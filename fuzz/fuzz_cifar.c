/* fuzz_cifar.c — libFuzzer target for the CIFAR-10/100 record reader
 * (src/data/cifar.c). The first byte chooses CIFAR-10, CIFAR-100 fine or
 * CIFAR-100 coarse; the rest is the file. A success holds whole records with
 * labels in range; a failure holds nothing. */
#include "data/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (size < 1) return 0;
    const int kind = data[0] % 3, cifar100 = kind > 0, coarse = kind == 2;
    cnn_dataset ds;
    int rc = cnn__cifar_parse(&ds, data + 1, size - 1, cifar100, coarse, "fuzz.bin");
    if (rc == CNN_OK) {
        const int classes = !cifar100 ? 10 : coarse ? 20 : 100;
        if (ds.n < 1 || ds.c != 3 || ds.h != 32 || ds.w != 32 || (size_t)ds.n * (3072 + 1 + cifar100) != size - 1)
            abort();
        for (int64_t i = 0; i < ds.n; i++)
            if (ds.labels[i] >= classes) abort();
        cnn_dataset_free(&ds);
    } else if (ds.images || ds.labels || !cnn_last_error()[0]) {
        abort();
    }
    return 0;
}
