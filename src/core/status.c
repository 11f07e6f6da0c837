/* status.c — status codes, the per-thread error message and the allocator
 * hooks. */
#include "cnn_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char cnn__message[1024];

const char *cnn_version(void) { return CNN_VERSION; }

const char *cnn_strerror(int status) {
    switch (status) {
#define CNN__STATUS_TEXT(name, value, text) case value: return text;
        CNN_STATUS_MAP(CNN__STATUS_TEXT)
#undef CNN__STATUS_TEXT
    }
    return "unknown status";
}

const char *cnn_status_name(int status) {
    switch (status) {
#define CNN__STATUS_NAME(name, value, text) case value: return "CNN_" #name;
        CNN_STATUS_MAP(CNN__STATUS_NAME)
#undef CNN__STATUS_NAME
    }
    return "CNN_UNKNOWN";
}

const char *cnn_last_error(void) { return cnn__message; }
void cnn_clear_error(void) { cnn__message[0] = '\0'; }

int cnn__fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cnn__message, sizeof cnn__message, fmt, ap);
    va_end(ap);
    return status;
}

int cnn__fail_context(int status, const char *fmt, ...) {
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n < 0) return status;
    size_t plen = strlen(prefix), mlen = strlen(cnn__message);
    /* message <- prefix ": " message, truncated to fit. */
    if (plen + 2 >= sizeof cnn__message) plen = sizeof cnn__message - 3;
    if (plen + 2 + mlen >= sizeof cnn__message) mlen = sizeof cnn__message - plen - 3;
    memmove(cnn__message + plen + 2, cnn__message, mlen);
    memcpy(cnn__message, prefix, plen);
    cnn__message[plen] = ':', cnn__message[plen + 1] = ' ';
    cnn__message[plen + 2 + mlen] = '\0';
    return status;
}

void cnn__assert_failed(const char *cond, const char *file, int line) {
    fprintf(stderr, "cnn: internal error at %s:%d: %s\n", file, line, cond);
    abort();
}

/* ---- allocator hooks ---------------------------------------------------- */
static void *(*cnn__malloc_fn)(size_t) = malloc;
static void *(*cnn__realloc_fn)(void *, size_t) = realloc;
static void *(*cnn__calloc_fn)(size_t, size_t) = calloc;
static void (*cnn__free_fn)(void *) = free;

int cnn_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                      void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *)) {
    if (!malloc_fn || !realloc_fn || !calloc_fn || !free_fn) {
        malloc_fn = malloc, realloc_fn = realloc, calloc_fn = calloc, free_fn = free;
    }
    cnn__malloc_fn = malloc_fn;
    cnn__realloc_fn = realloc_fn;
    cnn__calloc_fn = calloc_fn;
    cnn__free_fn = free_fn;
    return CNN_OK;
}

void *cnn_malloc(size_t size) { return cnn__malloc_fn(size ? size : 1); }
void *cnn_calloc(size_t count, size_t size) {
    return cnn__calloc_fn(count ? count : 1, size ? size : 1);
}
void *cnn_realloc(void *ptr, size_t size) { return cnn__realloc_fn(ptr, size ? size : 1); }
void cnn_free(void *ptr) {
    if (ptr) cnn__free_fn(ptr);
}
