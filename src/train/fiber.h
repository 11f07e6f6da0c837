/* fiber.h — coroutines on one thread (ucontext), for the shards of a batch
 * that meet at each batch norm (src/train/shard.c). Internal.
 *
 *   cnn__fiber_start(f, fn, arg);        fn(arg) will run on f's own stack
 *   while (!f->done) cnn__fiber_resume(f); runs fn until it yields or returns
 *   cnn__fiber_yield(f);                 (inside fn) back to the resume
 */
#ifndef CNN_TRAIN_FIBER_H
#define CNN_TRAIN_FIBER_H

#include <stddef.h>
#include <ucontext.h>

typedef struct cnn__fiber {
    ucontext_t self, caller;
    void *stack;               /* mmap'd, a guard page at the bottom */
    size_t size;
    void (*fn)(void *);
    void *arg;
    int done;
    void *fake_stack;          /* AddressSanitizer's bookkeeping of the switches */
    const void *caller_bottom;
    size_t caller_size;
    unsigned valgrind_id;      /* the stack as Valgrind knows it */
} cnn__fiber;

/* Maps a stack of size bytes; CNN_OK or CNN_ENOMEM. */
int cnn__fiber_init(cnn__fiber *f, size_t size);
void cnn__fiber_free(cnn__fiber *f);
void cnn__fiber_start(cnn__fiber *f, void (*fn)(void *), void *arg);
void cnn__fiber_resume(cnn__fiber *f);
void cnn__fiber_yield(cnn__fiber *f);

#endif /* CNN_TRAIN_FIBER_H */
