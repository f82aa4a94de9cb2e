#include "CPprof.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

// Written once by CPprof_cpuInstall before any timer exists, read by the handler.
static size_t regionOffset = 0;
static int installed = 0;
static uint64_t signalsHandled = 0;
static uint64_t signalsWithoutState = 0;

static uint64_t interruptedPC(void *context) {
    ucontext_t *uc = context;
    if (!uc) return 0;
#if defined(__x86_64__)
    return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uint64_t)uc->uc_mcontext.pc;
#else
    return 0;
#endif
}

// Async-signal-safe: a TLS load, the clock, and stores into the thread's own ring. errno is
// kept: the interrupted code may be about to read it.
static void onSIGPROF(int sig, siginfo_t *info, void *context) {
    (void)sig;
    int savedErrno = errno;
    __atomic_fetch_add(&signalsHandled, 1, __ATOMIC_RELAXED);
    // Only a timer's signal is a sample: a SIGPROF from kill or tgkill says nothing of where
    // the CPU went.
    if (!info || info->si_code != SI_TIMER) {
        errno = savedErrno;
        return;
    }
    void *state = CPprof_threadState;
    if (!state) {
        __atomic_fetch_add(&signalsWithoutState, 1, __ATOMIC_RELAXED);
        errno = savedErrno;
        return;
    }
    CPprof_CpuSamples *region = (CPprof_CpuSamples *)((char *)state + regionOffset);
    uint64_t timestamp = 0;
    uint8_t mode = CPprof_mode();
    if (mode == 2) {
        timestamp = CPprof_rdtsc();
    } else if (mode == 3) {
        timestamp = CPprof_monotonicNanos();
    }
    uint64_t head = __atomic_load_n(&region->head, __ATOMIC_RELAXED);
    uint64_t tail = __atomic_load_n(&region->tail, __ATOMIC_ACQUIRE);
    if (head - tail < CPPROF_CPU_SLOTS) {
        CPprof_CpuSample *slot = &region->slots[head % CPPROF_CPU_SLOTS];
        slot->timestamp = timestamp;
        slot->pc = interruptedPC(context);
        // A POSIX timer's signal carries the periods that expired since the last one was
        // delivered (si_overrun); a signal from elsewhere (tgkill, kill) stands for one.
        slot->periods = 1 + (info->si_overrun > 0 ? (uint64_t)info->si_overrun : 0);
        __atomic_store_n(&region->head, head + 1, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&region->dropped, __atomic_load_n(&region->dropped, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELAXED);
    }
    errno = savedErrno;
}

int CPprof_cpuInstall(size_t offset) {
    struct sigaction current;
    if (sigaction(SIGPROF, NULL, &current) != 0) return -1;
    if (installed) {
        // Ours, unless the program has installed its own since.
        return ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == onSIGPROF) ? 0 : 1;
    }
    if ((current.sa_flags & SA_SIGINFO) ? current.sa_sigaction != NULL
                                        : (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN)) {
        return 1;
    }
    regionOffset = offset;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = onSIGPROF;
    // SA_RESTART: a read or an accept the signal interrupts is restarted, not failed with EINTR.
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGPROF, &action, NULL) != 0) return -1;
    installed = 1;
    return 0;
}

int CPprof_cpuTimerCreate(CPprof_CpuSamples *region, int64_t tid, int64_t periodNanos) {
    if (__atomic_load_n(&region->armed, __ATOMIC_ACQUIRE)) return 0;
    // The thread's CPU-time clock, as glibc's pthread_getcpuclockid makes it from a tid
    // (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)): built from the kernel id, it needs no
    // pthread_t, which the thread's end would free under us.
    clockid_t clock = (clockid_t)((~(unsigned)tid) << 3) | 4 | 2;
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = SIGPROF;
    event._sigev_un._tid = (pid_t)tid;
    timer_t timer;
    if (timer_create(clock, &event, &timer) != 0) return errno;
    struct itimerspec spec;
    spec.it_interval.tv_sec = periodNanos / 1000000000;
    spec.it_interval.tv_nsec = periodNanos % 1000000000;
    // The first expiry anywhere in the first period, as Go's setThreadCPUProfiler does: with a
    // full period first, a thread that lives for less CPU than that would never be sampled,
    // and each window would lose the start of every thread's first period.
    uint64_t mixed = CPprof_rdtsc() ^ ((uint64_t)tid * 0x9e3779b97f4a7c15ull);
    mixed = (mixed ^ (mixed >> 31)) * 0xbf58476d1ce4e5b9ull;
    mixed ^= mixed >> 29;
    int64_t first = 1 + (int64_t)(mixed % (uint64_t)periodNanos);
    spec.it_value.tv_sec = first / 1000000000;
    spec.it_value.tv_nsec = first % 1000000000;
    if (timer_settime(timer, 0, &spec, NULL) != 0) {
        int error = errno;
        timer_delete(timer);
        return error;
    }
    region->timer = (uint64_t)(uintptr_t)timer;
    __atomic_store_n(&region->armed, 1, __ATOMIC_RELEASE);
    return 0;
}

void CPprof_cpuTimerDelete(CPprof_CpuSamples *region) {
    // The thread itself (as it ends) and the aggregator (a window's end, a retired ring) may
    // both get here: the one that takes `armed` deletes. Twice would be worse than a leak: the
    // kernel hands a deleted timer's id to the next timer made.
    if (__atomic_exchange_n(&region->armed, 0, __ATOMIC_ACQ_REL) == 0) return;
    timer_delete((timer_t)(uintptr_t)region->timer);
}

uint64_t CPprof_cpuSignalsHandled(void) {
    return __atomic_load_n(&signalsHandled, __ATOMIC_RELAXED);
}

uint64_t CPprof_cpuSignalsWithoutState(void) {
    return __atomic_load_n(&signalsWithoutState, __ATOMIC_RELAXED);
}

int CPprof_cpuSignalThread(int64_t tid) {
    return (int)syscall(SYS_tgkill, getpid(), (pid_t)tid, SIGPROF);
}
