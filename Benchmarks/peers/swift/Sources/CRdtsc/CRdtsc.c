#include "CRdtsc.h"

#include <time.h>

__attribute__((noinline)) void CRdtsc_sink(uint64_t value) {
    __asm__ __volatile__("" : : "r"(value) : "memory");
}

uint64_t CRdtsc_monotonicNanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
