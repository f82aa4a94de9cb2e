#include "CMemoryLoops.h"

#include "CPprof.h"

#include <stddef.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

static inline void opaque(void *p) { __asm__ __volatile__("" : : "r"(p) : "memory"); }

void CMemoryLoops_libcPairs(uint64_t iterations) {
    for (uint64_t i = 0; i < iterations; i++) {
        void *p = __libc_malloc(64);
        opaque(p);
        __libc_free(p);
    }
}

void CMemoryLoops_pairs(uint64_t iterations) {
    for (uint64_t i = 0; i < iterations; i++) {
        void *p = malloc(64);
        opaque(p);
        free(p);
    }
}

#define CHURN_BLOCKS 1024
static void *churnBlocks[2][CHURN_BLOCKS];
static uint64_t churnState = 0x9e3779b97f4a7c15ull;

static inline uint64_t nextRandom(void) {
    churnState ^= churnState << 13;
    churnState ^= churnState >> 7;
    churnState ^= churnState << 17;
    return churnState;
}

void CMemoryLoops_churn(uint64_t iterations, int libc) {
    void **blocks = churnBlocks[libc ? 1 : 0];
    for (uint64_t i = 0; i < iterations; i++) {
        uint64_t r = nextRandom();
        size_t index = r % CHURN_BLOCKS;
        size_t size = (r >> 20) % 64 == 0 ? 65536 : 16 + ((r >> 32) % 4080);
        if (libc) {
            __libc_free(blocks[index]);
            blocks[index] = __libc_malloc(size);
        } else {
            free(blocks[index]);
            blocks[index] = malloc(size);
        }
        opaque(blocks[index]);
    }
}

void CMemoryLoops_churnReset(int libc) {
    void **blocks = churnBlocks[libc ? 1 : 0];
    for (size_t i = 0; i < CHURN_BLOCKS; i++) {
        if (libc) __libc_free(blocks[i]); else free(blocks[i]);
        blocks[i] = NULL;
    }
}

void CMemoryLoops_setHooks(uint8_t value) {
    __atomic_store_n(&CPprof_memoryHooks, value, __ATOMIC_SEQ_CST);
}
