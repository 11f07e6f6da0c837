/* fiber.c — see fiber.h. swapcontext saves and restores the signal mask too
 * (a system call per switch: a few per batch norm per shard, microseconds
 * against milliseconds of convolution). The switches are announced to
 * AddressSanitizer when it is on, so it follows the stacks. */
#define _GNU_SOURCE /* MAP_ANONYMOUS, ucontext */
#include "train/fiber.h"

#include "cnn_internal.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CNN__ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CNN__ASAN_FIBERS 1
#endif
#endif

/* Valgrind follows the switches when told where the stacks are (no-ops
 * outside it; only where its header is installed). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CNN__VALGRIND_STACKS 1
#endif
#endif

#ifdef CNN__ASAN_FIBERS
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#define START_SWITCH(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define FINISH_SWITCH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define START_SWITCH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define FINISH_SWITCH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

int cnn__fiber_init(cnn__fiber *f, size_t size) {
    memset(f, 0, sizeof *f);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size = (size + page - 1) / page * page + page;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return cnn__fail(CNN_ENOMEM, "out of memory for a stack of %zu bytes", size);
    mprotect(p, page, PROT_NONE); /* an overflow faults rather than writes past the stack */
    f->stack = p, f->size = size;
#ifdef CNN__VALGRIND_STACKS
    f->valgrind_id = VALGRIND_STACK_REGISTER((char *)p + page, (char *)p + size);
#endif
    return CNN_OK;
}

void cnn__fiber_free(cnn__fiber *f) {
#ifdef CNN__VALGRIND_STACKS
    if (f->stack) VALGRIND_STACK_DEREGISTER(f->valgrind_id);
#endif
    if (f->stack) munmap(f->stack, f->size);
    f->stack = NULL;
}

/* makecontext passes ints: the fiber's address in two halves */
static void entry(unsigned hi, unsigned lo) {
    cnn__fiber *f = (cnn__fiber *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
    FINISH_SWITCH(NULL, &f->caller_bottom, &f->caller_size);
    f->fn(f->arg);
    f->done = 1;
    START_SWITCH(NULL, f->caller_bottom, f->caller_size); /* NULL: this stack is finished with */
    swapcontext(&f->self, &f->caller);
}

void cnn__fiber_start(cnn__fiber *f, void (*fn)(void *), void *arg) {
    f->fn = fn, f->arg = arg, f->done = 0;
    getcontext(&f->self);
    f->self.uc_stack.ss_sp = f->stack;
    f->self.uc_stack.ss_size = f->size;
    f->self.uc_link = NULL;
    const uintptr_t a = (uintptr_t)f;
    makecontext(&f->self, (void (*)(void))entry, 2, (unsigned)(a >> 16 >> 16), (unsigned)(a & 0xffffffffu));
}

void cnn__fiber_resume(cnn__fiber *f) {
    void *fake = NULL;
    START_SWITCH(&fake, f->stack, f->size);
    swapcontext(&f->caller, &f->self);
    FINISH_SWITCH(fake, NULL, NULL);
}

void cnn__fiber_yield(cnn__fiber *f) {
    START_SWITCH(&f->fake_stack, f->caller_bottom, f->caller_size);
    swapcontext(&f->self, &f->caller);
    FINISH_SWITCH(f->fake_stack, &f->caller_bottom, &f->caller_size);
}
