// The C shim of swift-pprof: what Swift cannot express cheaply or at all.
//
// - The thread-local pointer to the calling thread's recorder state. It is declared `extern`,
//   initial-exec, and defined once in CPprof.c: a `static __thread` inside an inline function
//   would give every module that inlines a hook its own copy, and in release builds the user's
//   module would read a slot the library never wrote.
// - The recording mode, one relaxed byte that the inlined hooks read without a call.
// - The clocks: rdtsc / cntvct_el0, and CLOCK_MONOTONIC.
// - The loaded objects (dl_iterate_phdr): GNU build ids and executable segments, for pprof's
//   mappings.
#ifndef CPPROF_H
#define CPPROF_H

#include <stdint.h>
#include <stddef.h>

#ifdef __linux__
#include <time.h>
#endif

// What the allocation hooks share with the recorder: part of this module for Swift.
#include "CPprofAllocations.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "CPprofAllocations.h"

// CPU samples: the SIGPROF handler, the per-thread timers and sample rings.
#include "CPprofCpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The calling thread's recorder state, or NULL before its first recorded event.
extern __thread void *CPprof_threadState __attribute__((tls_model("initial-exec")));

/// How many scopes the calling thread entered while nothing recorded and has not exited yet.
/// A recorded scope entered while this is higher than when its recorded parent was entered has
/// unrecorded callers in between, and is placed under an explicit frame that says so.
extern __thread int32_t CPprof_idleDepth __attribute__((tls_model("initial-exec")));

/// Asks the CPU to start loading the line at `address` for writing: the aggregator knows which
/// node's counters an exit will update as soon as the enter finds the node.
static inline __attribute__((always_inline)) void CPprof_prefetchForWrite(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

static inline __attribute__((always_inline)) int32_t CPprof_getIdleDepth(void) {
    return CPprof_idleDepth;
}

static inline __attribute__((always_inline)) void CPprof_addIdleDepth(int32_t delta) {
    CPprof_idleDepth += delta;
}

/// What the hooks do now: 0 nothing, 1 count calls (no clock), 2 record with the TSC,
/// 3 record with CLOCK_MONOTONIC, 255 not yet initialised (the first hook takes the slow path).
extern uint8_t CPprof_modeFlag;

static inline __attribute__((always_inline)) void *CPprof_getThreadState(void) {
    return CPprof_threadState;
}

static inline __attribute__((always_inline)) void CPprof_setThreadState(void *state) {
    CPprof_threadState = state;
}

static inline __attribute__((always_inline)) uint8_t CPprof_mode(void) {
    return __atomic_load_n(&CPprof_modeFlag, __ATOMIC_RELAXED);
}

static inline void CPprof_setMode(uint8_t mode) {
    __atomic_store_n(&CPprof_modeFlag, mode, __ATOMIC_SEQ_CST);
}

/// Whether a task context (an async scope, an async label set, a span) was ever made. Until one
/// is, a thread's outermost sync scope need not look for its task's context.
extern uint8_t CPprof_taskContextsSeen;

static inline __attribute__((always_inline)) uint8_t CPprof_getTaskContextsSeen(void) {
    return __atomic_load_n(&CPprof_taskContextsSeen, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void CPprof_noteTaskContext(void) {
    if (__atomic_load_n(&CPprof_taskContextsSeen, __ATOMIC_RELAXED) == 0) {
        __atomic_store_n(&CPprof_taskContextsSeen, 1, __ATOMIC_RELAXED);
    }
}

/// The calling thread's name into `buffer` (empty if it cannot be read), and its kernel id.
void CPprof_threadName(char *buffer, size_t capacity);
/// Names the calling thread (at most 15 bytes are kept).
void CPprof_setThreadName(const char *name);
int64_t CPprof_threadKernelID(void);

/// Who runs the caller's frames one after another: the task running on the calling thread (the
/// Swift runtime's `swift_task_getCurrent`), or outside a task the thread itself (tagged so that
/// it never equals a task). An identity only, never dereferenced.
void *CPprof_currentOwner(void);

/// The CPU's time-stamp counter (x86) or virtual counter (arm64); 0 where there is none.
static inline __attribute__((always_inline)) uint64_t CPprof_rdtsc(void) {
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

/// CLOCK_MONOTONIC in nanoseconds.
static inline __attribute__((always_inline)) uint64_t CPprof_monotonicNanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
static inline uint64_t CPprof_wallNanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// Copies the main executable's GNU build id into `buffer`; returns its length, or 0.
size_t CPprof_buildID(uint8_t *buffer, size_t capacity);

/// The loaded object (the main program or a shared object) that holds `address`.
typedef struct {
    /// Its path as the dynamic loader knows it; "" for the main program.
    char path[4096];
    /// What was added to its link-time addresses when it was loaded.
    uintptr_t bias;
    /// Its GNU build id (buildIDLength bytes), if it has one.
    uint8_t buildID[64];
    size_t buildIDLength;
    /// 1 for the main program.
    int isMain;
    /// Its executable PT_LOAD segment (pprof's Mapping) at its link-time addresses, page-aligned
    /// as the kernel maps it: the first and one past the last address, and the file offset of
    /// the first. All 0 when it has none. Add `bias` for the run-time addresses.
    uintptr_t textStart;
    uintptr_t textLimit;
    uint64_t textOffset;
} CPprof_Object;

/// Finds the object holding `address`; returns 1 and fills `object`, or returns 0.
int CPprof_objectForAddress(uintptr_t address, CPprof_Object *object);

/// Fills `object` with the main program (the first object the dynamic loader reports); returns
/// 1, or 0 where there is none.
int CPprof_mainObject(CPprof_Object *object);

/// The main program's entry point at its run-time address (the auxiliary vector's AT_ENTRY).
uintptr_t CPprof_entryPoint(void);

/// The return addresses of the calling thread's stack, innermost first (glibc `backtrace`):
/// at most `capacity`; returns how many. Unwinds with the objects' unwind tables, so it needs no
/// frame pointers. Slow (it may load the unwinder): for once-per-call-site paths only.
int CPprof_backtrace(void **buffer, int capacity);

/// The C++ symbol `mangled` demangled (malloc'ed: free it), or NULL when it is not one or the
/// demangler is not loaded.
char *CPprof_demangleCxx(const char *mangled);

/// Creates the pthread key whose destructor runs `destructor(state)` when a thread with a
/// recorder state exits. Returns 0 on success.
int CPprof_installThreadExitHook(void (*destructor)(void *));

/// Associates `state` with the calling thread so that the destructor sees it at thread exit.
void CPprof_registerThreadExit(void *state);

/// If `sig` has its default disposition, installs a handler that writes the signal's number
/// (one byte) to `fd` and returns 1; otherwise leaves the program's own handling alone and
/// returns 0.
int CPprof_forwardSignalIfDefault(int sig, int fd);

/// Restores the default disposition of `sig` and raises it, so the process ends as it would
/// have without us (exit status 128 + sig in a shell).
void CPprof_restoreDefaultAndRaise(int sig);

#ifdef __cplusplus
}
#endif

#endif
