/* make_data.c — a small learnable IDX data set for the multi-process tests:
 *   make_data DIR N_TRAIN N_TEST
 * writes DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte: 28x28 gray images
 * of 10 classes, each a class's bar pattern plus noise, from a fixed seed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state = 0x2545f4914f6cdd1dull;
static uint32_t next(void) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static void be32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static int write_split(const char *dir, const char *name, int n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, name);
    FILE *fi = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, name);
    FILE *fl = fopen(path, "wb");
    if (!fi || !fl) return perror(path), 1;
    be32(fi, 0x803), be32(fi, (uint32_t)n), be32(fi, 28), be32(fi, 28);
    be32(fl, 0x801), be32(fl, (uint32_t)n);
    for (int k = 0; k < n; k++) {
        int label = (int)(next() % 10);
        fputc(label, fl);
        for (int i = 0; i < 28; i++)
            for (int j = 0; j < 28; j++) {
                int on = (label < 5 ? (i / 3) % 5 == label : (j / 3) % 5 == label - 5);
                int v = (on ? 170 : 30) + (int)(next() % 80);
                fputc(v, fi);
            }
    }
    int bad = ferror(fi) || ferror(fl);
    bad |= fclose(fi) != 0, bad |= fclose(fl) != 0;
    return bad;
}

int main(int argc, char **argv) {
    if (argc != 4) return fprintf(stderr, "usage: make_data DIR N_TRAIN N_TEST\n"), 2;
    return write_split(argv[1], "train", atoi(argv[2])) || write_split(argv[1], "t10k", atoi(argv[3]));
}
