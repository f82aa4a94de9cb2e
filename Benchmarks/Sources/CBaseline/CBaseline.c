#include "CBaseline.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) void CBaseline_sink(uint64_t value) {
    __asm__ __volatile__("" : : "r"(value) : "memory");
}

uint64_t CBaseline_monotonicNanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t CBaseline_threadCPUNanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int32_t CBaseline_threadID(void) {
    return (int32_t)syscall(SYS_gettid);
}

int CBaseline_signalSelf(int signal) {
    return (int)syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), signal);
}
