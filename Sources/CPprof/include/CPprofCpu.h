// CPU samples: a CPU-time timer per registered thread and the SIGPROF handler that records
// where each sample fell, as Go does on Linux since 1.18.
//
// - Each thread's timer (`timer_create` on the thread's CPU-time clock, `SIGEV_THREAD_ID`) is
//   made by the aggregator when a CPU window opens, or by the thread in its one-time
//   registration (the slow path that maps its ring) while one is open, and deleted by the
//   aggregator or by the thread as it ends: never on a hook's fast path, which makes no system
//   call. The signal then arrives only on a thread that is using the CPU, and only on it.
// - The handler is async-signal-safe: it reads the thread-local state pointer (initial-exec
//   TLS, a plain load), the clock the hooks use, and the interrupted program counter, and writes
//   one slot of the thread's own sample ring, never its event ring (the signal may have
//   interrupted a hook halfway). A full ring counts the sample as dropped.
// - The handler stays installed once installed: a SIGPROF still pending when sampling stops
//   would otherwise kill the process (SIGPROF's default action is to terminate).
#ifndef CPPROF_CPU_H
#define CPPROF_CPU_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Slots in a thread's sample ring: half a second at the highest rate (250 Hz), against a drain
/// at least every 10 ms while a window is open.
#define CPPROF_CPU_SLOTS 128

/// One sample: the clock the hooks read (TSC or CLOCK_MONOTONIC, as the recording flag says; 0
/// when it says neither), the program counter the signal interrupted, and the timer periods it
/// stands for: 1, plus the timer's overruns (periods that expired while its signal was still
/// pending, or before the kernel looked: on a loaded machine a thread can use several periods
/// of CPU between two checks of its timer, and the kernel then sends one signal for them).
typedef struct {
    uint64_t timestamp;
    uint64_t pc;
    uint64_t periods;
} CPprof_CpuSample;

/// A thread's sample ring, inside its recorder block (`ThreadHeader.cpuSamplesOffset`): one
/// line the handler writes, one the aggregator writes, then the slots.
typedef struct {
    /// Samples written (release), by the handler on the thread itself.
    uint64_t head;
    /// Samples the ring had no room for (relaxed), by the handler.
    uint64_t dropped;
    uint64_t handlerPadding[6];
    /// Samples consumed (release), by the aggregator.
    uint64_t tail;
    /// The thread's timer (a `timer_t`), valid while `armed` is 1 (release): made by the
    /// aggregator or, as it registers, by the thread; deleted by whichever of the thread (as it
    /// ends) and the aggregator takes `armed` back to 0.
    uint64_t timer;
    uint64_t armed;
    uint64_t aggregatorPadding[5];
    CPprof_CpuSample slots[CPPROF_CPU_SLOTS];
} CPprof_CpuSamples;

/// Installs the SIGPROF handler (once; later calls only report). `regionOffset` is where a
/// thread's `CPprof_CpuSamples` sits in its recorder block. Returns 0 when ours is installed,
/// or 1 when the program has a SIGPROF handler of its own (it keeps it, and nothing is sampled),
/// or -1 when sigaction failed.
int CPprof_cpuInstall(size_t regionOffset);

/// Arms a CPU-time timer for the thread with kernel id `tid` that sends it SIGPROF every
/// `periodNanos` of its CPU time (the first time after a random part of a period), and records
/// it in `region`. Only a timer's signal (`SI_TIMER`) is a sample; any other SIGPROF is counted
/// as handled and ignored. Returns 0, or an errno (ESRCH or
/// EINVAL for a thread that has ended, EAGAIN when the kernel has no timer left).
int CPprof_cpuTimerCreate(CPprof_CpuSamples *region, int64_t tid, int64_t periodNanos);

/// Deletes the region's timer if it has one (once, whoever else calls it at the same time).
void CPprof_cpuTimerDelete(CPprof_CpuSamples *region);

/// The region's head, read with acquire ordering: every slot before it is written.
static inline uint64_t CPprof_cpuHead(const CPprof_CpuSamples *region) {
    return __atomic_load_n(&region->head, __ATOMIC_ACQUIRE);
}

/// The slot of sample number `index`.
static inline const CPprof_CpuSample *CPprof_cpuSlot(const CPprof_CpuSamples *region, uint64_t index) {
    return &region->slots[index % CPPROF_CPU_SLOTS];
}

/// Frees the slots before `tail` for the handler (release).
static inline void CPprof_cpuConsume(CPprof_CpuSamples *region, uint64_t tail) {
    __atomic_store_n(&region->tail, tail, __ATOMIC_RELEASE);
}

static inline uint64_t CPprof_cpuDropped(const CPprof_CpuSamples *region) {
    return __atomic_load_n(&region->dropped, __ATOMIC_RELAXED);
}

/// SIGPROF signals our handler took (sampled or not), and those that came without a thread
/// state to write to (a thread that was ending, or one a timer outlived): process-wide counts,
/// for the profile's comments and the tests.
uint64_t CPprof_cpuSignalsHandled(void);
uint64_t CPprof_cpuSignalsWithoutState(void);

/// Sends `tid` a SIGPROF as a timer would (tests: a signal at a chosen moment).
int CPprof_cpuSignalThread(int64_t tid);

#ifdef __cplusplus
}
#endif

#endif
