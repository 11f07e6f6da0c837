/* isa_run.c — runs a test under one instruction set of the kernels:
 *
 *   isa_run ISA PROGRAM [ARGS...]
 *
 * sets CNN_ISA=ISA and executes PROGRAM; if this CPU does not run ISA it
 * says so and exits 77, which CTest reports as skipped (SKIP_RETURN_CODE). */
#include "cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    cnn_isa isa;
    if (argc < 3 || cnn_isa_from_name(argv[1], &isa) < 0) {
        fprintf(stderr, "usage: isa_run generic|avx2|avx512 PROGRAM [ARGS...]\n");
        return 2;
    }
    if (!cnn_isa_supported(isa)) {
        printf("skipped: this CPU does not run %s (the widest it runs is %s)\n", argv[1],
               cnn_isa_name(cnn_isa_best()));
        return 77;
    }
    if (setenv("CNN_ISA", argv[1], 1) != 0) {
        perror("isa_run: setenv");
        return 2;
    }
    execv(argv[2], argv + 2);
    fprintf(stderr, "isa_run: %s: ", argv[2]);
    perror("exec");
    return 2;
}
