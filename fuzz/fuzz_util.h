/* fuzz_util.h — helpers shared by the libFuzzer targets in this folder.
 *
 * The readers under test take file names, so each target writes its input to
 * one temporary file per process (in /dev/shm when it exists) and reads it
 * back. The library's allocator is replaced by one that refuses any single
 * request above FUZZ_MAX_ALLOC bytes: a tiny input that claims a huge size
 * must then fail with CNN_ENOMEM (or be rejected before allocating) instead
 * of tripping libFuzzer's malloc limit, and the refusal path gets exercised.
 */
#ifndef CNN_FUZZ_UTIL_H
#define CNN_FUZZ_UTIL_H

#include "cnn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_ALLOC ((size_t)256 << 20)

static void *fuzz_malloc(size_t n) { return n > FUZZ_MAX_ALLOC ? NULL : malloc(n); }
static void *fuzz_realloc(void *p, size_t n) { return n > FUZZ_MAX_ALLOC ? NULL : realloc(p, n); }
static void *fuzz_calloc(size_t c, size_t n) {
    if (n != 0 && c > FUZZ_MAX_ALLOC / n) return NULL;
    return calloc(c, n);
}

/* Install the capped allocator once. */
static void fuzz_setup(void) {
    static int done;
    if (done) return;
    done = 1;
    cnn_set_allocator(fuzz_malloc, fuzz_realloc, fuzz_calloc, free);
    cnn_set_threads(1);
}

static char fuzz__paths[4][256];

static void fuzz__remove_temps(void) {
    for (int i = 0; i < 4; i++)
        if (fuzz__paths[i][0]) unlink(fuzz__paths[i]);
}

/* A per-process temporary path ending in suffix (slot < 4); the files are
 * removed at exit. */
static const char *fuzz_temp_path(int slot, const char *suffix) {
    char (*paths)[256] = fuzz__paths;
    static int registered;
    if (!registered) {
        registered = 1;
        atexit(fuzz__remove_temps);
    }
    if (!paths[slot][0]) {
        struct stat st;
        const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(paths[slot], sizeof paths[slot], "%s/cnn-fuzz-%ld-%d%s", dir, (long)getpid(), slot, suffix);
    }
    return paths[slot];
}

/* Write size bytes to path; aborts (a harness failure, not a finding) if the
 * file system refuses. */
static void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz harness: cannot write %s\n", path);
        abort();
    }
}

/* A failing call must leave a message behind. */
static void fuzz_check_message(int rc, const char *what) {
    if (rc < 0 && cnn_last_error()[0] == '\0') {
        fprintf(stderr, "%s failed with %s but left no message\n", what, cnn_status_name(rc));
        abort();
    }
}

#endif /* CNN_FUZZ_UTIL_H */
