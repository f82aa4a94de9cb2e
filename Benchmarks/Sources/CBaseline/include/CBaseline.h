// The benchmarks' C shim: the raw counter read that a recorded hook pair is compared with, and
// an opaque sink that keeps the optimizer from deleting or hoisting the measured work.
#ifndef CBASELINE_H
#define CBASELINE_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// The CPU's time-stamp counter (x86) or virtual counter (arm64): the instruction the
/// recorder's clock executes, with nothing around it.
static inline __attribute__((always_inline)) uint64_t CBaseline_rdtsc(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#elif defined(__aarch64__)
    uint64_t value;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(value));
    return value;
#else
    return 0;
#endif
}

/// Does nothing, out of line: the optimizer must assume it reads and writes any global, so a
/// loop that calls it keeps every load and store it had (the recording flag included).
void CBaseline_sink(uint64_t value);

/// CLOCK_MONOTONIC in nanoseconds.
uint64_t CBaseline_monotonicNanos(void);

/// The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID): the time it ran,
/// without the time other threads and processes had its core.
uint64_t CBaseline_threadCPUNanos(void);

/// The calling thread's kernel id (gettid).
int32_t CBaseline_threadID(void);

/// Sends the calling thread `signal` with tgkill (0: the same system calls, nothing sent).
int CBaseline_signalSelf(int signal);

#ifdef __cplusplus
}
#endif

#endif
