// The malloc-family interposers. See CPprofMemory.h for what linking them does, and
// CPprofAllocations.h for what they share with the recorder.
//
// The common path of an allocation: one check of CPprof_memoryHooks, one TLS read of
// CPprof_threadState, two relaxed adds to the thread's header (or, when it has none, to a
// counter of its own, CPprof_UnscopedCounter), one TLS decrement-and-compare for sampling,
// then a jump through a cached function pointer to the next definition. The common path of
// `free`: a test of p's page offset, one load of the word at p-8 compared with p ^ secret, and
// the jump. Everything else (sampling, tags, the frame walk, the stack bounds, bootstrap
// blocks) is out of line, reached by tail calls: `malloc` and `free` save no register (16 and
// 12 instructions on x86-64, frame pointer included; BENCHMARKS.md has what they cost).
//
// A sampled block carries a 16-byte tag just before the pointer returned:
//
//   raw                        p - 16                 p - 8             p
//   | (alignment - 16 bytes)   | MAGIC << 32 | slot   | p ^ secret      | the program's bytes
//
// and raw = p - offset, where offset (16, or the alignment above 16) is kept in the slot.
#ifndef PPROF_DISABLED

#include "CPprofMemory.h"

#include "CPprof.h"
#include "CPprofAllocations.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define INTERPOSER __attribute__((weak, visibility("default")))
// A call the compiler must make as a jump: the callee returns to our caller, and sees our caller's
// return address as its own (see `mallocSampled`). Without the attribute (GCC before 15) the
// optimizer still makes these calls jumps; where it does not, a sample's first frame is `malloc`.
#if defined(__has_attribute)
#if __has_attribute(musttail)
#define TAIL __attribute__((musttail))
#endif
#endif
#ifndef TAIL
#define TAIL
#endif

uint8_t CPprofMemory_standAsideReason = 0;

uint8_t CPprofMemory_compiledIn(void) { return 1; }

// MARK: The next definitions

typedef void *(*MallocFunction)(size_t);
typedef void (*FreeFunction)(void *);
typedef void *(*CallocFunction)(size_t, size_t);
typedef void *(*ReallocFunction)(void *, size_t);
typedef int (*PosixMemalignFunction)(void **, size_t, size_t);
typedef void *(*AlignedFunction)(size_t, size_t);
typedef size_t (*UsableSizeFunction)(void *);

// Until `resolve` stores the next definitions, malloc's and free's lead to these, so that their
// common paths call through the pointer without testing it first.
static void *unresolvedMalloc(size_t size);
static void unresolvedFree(void *p);

static MallocFunction nextMallocFunction = unresolvedMalloc;
static FreeFunction nextFreeFunction = unresolvedFree;
static CallocFunction nextCallocFunction;
static ReallocFunction nextReallocFunction;
static PosixMemalignFunction nextPosixMemalignFunction;
static AlignedFunction nextAlignedAllocFunction;
static AlignedFunction nextMemalignFunction;
static MallocFunction nextVallocFunction;
static MallocFunction nextPvallocFunction;
static UsableSizeFunction nextUsableSizeFunction;

// 0 unresolved, 1 a thread is resolving, 2 resolved.
static uint8_t resolveState = 0;

// MARK: Per-thread state (plain initial-exec TLS data: no destructor, since glibc's tcache
// teardown calls free after the TLS destructors ran)

typedef struct {
    /// Bytes until the next sample; the allocation that takes it to 0 or below is sampled.
    int64_t untilSample;
    uint64_t random;
    uintptr_t stackLow;
    uintptr_t stackHigh;
    /// Inside our own slow path (the stack-bounds lookup): interposers only forward and count
    /// into `scratch`, never sample.
    uint8_t guard;
    /// The first interval has been drawn.
    uint8_t started;
    /// This thread is resolving the next definitions: allocations come from the bootstrap buffer.
    uint8_t resolving;
    /// 0 not looked up, 1 known, 2 unknown.
    uint8_t stackKnown;
    /// 0 no counter claimed yet, 1 `counter` is this thread's, 2 none (all owned, or given
    /// back at exit): count in the shared atomics.
    uint8_t counterState;
    /// Where this thread counts while it has no recorder state (see CPprofAllocations.h).
    CPprof_UnscopedCounter *counter;
    /// What CPprof_threadState points to while `guard` is set, so that what the lookup allocates
    /// is counted neither on the thread's header nor in the unscoped counters.
    uint64_t scratch[(CPPROF_HEADER_ALLOC_OFFSET + 16) / 8] __attribute__((aligned(16)));
} ThreadHooks;

static __thread ThreadHooks threadHooks __attribute__((tls_model("initial-exec")));

static uint64_t secret = 0;

#define TAG_MAGIC 0x5050524Dull  // "PPRM"
#define PAGE_MASK ((uintptr_t)4095)

// MARK: The bootstrap buffer (what dlsym allocates while we resolve)

// Bump allocation; each block starts on a page of its own, with its size in the 8 bytes before
// it (the end of the page before), and is never given back. Page-aligned, so that `free` finds
// these blocks on its path for page-aligned pointers, off its common one. glibc's dlsym allocates
// nothing on success; what is left of a page's 4 KiB is never touched, so never made resident.
static unsigned char bootstrap[32 * 4096] __attribute__((aligned(4096)));
static size_t bootstrapUsed = 4096;  // the first page holds the first block's size only

static inline int isBootstrap(const void *p) {
    return (uintptr_t)p - (uintptr_t)bootstrap < sizeof(bootstrap);
}

static void *bootstrapAllocate(size_t size, size_t alignment) {
    if (alignment > 4096 || size > sizeof(bootstrap)) return NULL;
    size_t used = __atomic_load_n(&bootstrapUsed, __ATOMIC_RELAXED);
    for (;;) {
        size_t start = used;  // page-aligned: each block's end is rounded up past the next size word
        size_t end = (start + size + 8 + 4095) & ~(size_t)4095;
        if (end > sizeof(bootstrap)) return NULL;
        if (__atomic_compare_exchange_n(&bootstrapUsed, &used, end, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            *(size_t *)(bootstrap + start - 8) = size;
            return bootstrap + start;  // zeroed: static storage never reused
        }
    }
}

static inline size_t bootstrapSize(const void *p) { return ((const size_t *)p)[-1]; }

static void fail(const char *message) {
    (void)!write(2, message, strlen(message));
    abort();
}

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

// A static executable (`-static-executable`) has no next object for dlsym to search: there the
// hooks forward to glibc's own entry points in libc.a instead, which `staticLinkAnchor` (below)
// makes the link take. Weak where libc.so.6 does not export them; in a dynamic link none is used
// (forwarding to them would bypass a preloaded allocator).
extern void *__libc_malloc(size_t);
extern void __libc_free(void *) __attribute__((weak));
extern void *__libc_calloc(size_t, size_t) __attribute__((weak));
extern void *__libc_realloc(void *, size_t) __attribute__((weak));
extern void *__libc_memalign(size_t, size_t) __attribute__((weak));
extern void *__libc_valloc(size_t) __attribute__((weak));
extern void *__libc_pvalloc(size_t) __attribute__((weak));
extern size_t __malloc_usable_size(void *) __attribute__((weak));
extern int __posix_memalign(void **, size_t, size_t) __attribute__((weak));

static void *staticAlignedAlloc(size_t alignment, size_t size) { return __libc_memalign(alignment, size); }

static __attribute__((noinline, cold)) void resolve(void) {
    uint8_t expected = 0;
    if (__atomic_compare_exchange_n(&resolveState, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
        threadHooks.resolving = 1;
        MallocFunction m = (MallocFunction)next("malloc");
        FreeFunction f = (FreeFunction)next("free");
        CallocFunction c = (CallocFunction)next("calloc");
        ReallocFunction r = (ReallocFunction)next("realloc");
        PosixMemalignFunction pm = (PosixMemalignFunction)next("posix_memalign");
        AlignedFunction aa = (AlignedFunction)next("aligned_alloc");
        AlignedFunction ma = (AlignedFunction)next("memalign");
        MallocFunction va = (MallocFunction)next("valloc");
        MallocFunction pv = (MallocFunction)next("pvalloc");
        UsableSizeFunction us = (UsableSizeFunction)next("malloc_usable_size");
        threadHooks.resolving = 0;
        if (!m && __libc_free && __libc_calloc && __libc_realloc && __libc_memalign && __libc_valloc &&
            __libc_pvalloc && __malloc_usable_size && __posix_memalign) {
            // A static executable: glibc's entry points, linked in.
            m = __libc_malloc;
            f = __libc_free;
            c = __libc_calloc;
            r = __libc_realloc;
            pm = __posix_memalign;
            aa = staticAlignedAlloc;
            ma = __libc_memalign;
            va = __libc_valloc;
            pv = __libc_pvalloc;
            us = __malloc_usable_size;
        }
        if (!m || !f || !c || !r || !pm || !aa || !ma || !va || !pv || !us) {
            fail("PprofMemory: dlsym(RTLD_NEXT) found no next malloc family\n");
        }
        __atomic_store_n(&nextFreeFunction, f, __ATOMIC_RELEASE);
        __atomic_store_n(&nextCallocFunction, c, __ATOMIC_RELEASE);
        __atomic_store_n(&nextReallocFunction, r, __ATOMIC_RELEASE);
        __atomic_store_n(&nextPosixMemalignFunction, pm, __ATOMIC_RELEASE);
        __atomic_store_n(&nextAlignedAllocFunction, aa, __ATOMIC_RELEASE);
        __atomic_store_n(&nextMemalignFunction, ma, __ATOMIC_RELEASE);
        __atomic_store_n(&nextVallocFunction, va, __ATOMIC_RELEASE);
        __atomic_store_n(&nextPvallocFunction, pv, __ATOMIC_RELEASE);
        __atomic_store_n(&nextUsableSizeFunction, us, __ATOMIC_RELEASE);
        __atomic_store_n(&nextMallocFunction, m, __ATOMIC_RELEASE);
        __atomic_store_n(&resolveState, 2, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&resolveState, __ATOMIC_ACQUIRE) != 2) sched_yield();
    }
}

// Each `next…` returns the cached pointer, resolving first if needed. A call made by dlsym on
// the resolving thread is served from the bootstrap buffer instead (the caller checks
// `threadHooks.resolving` before it gets here).
#define NEXT(variable)                                                                          \
    static inline __typeof__(variable) load_##variable(void) {                                  \
        __typeof__(variable) function = __atomic_load_n(&variable, __ATOMIC_ACQUIRE);           \
        if (UNLIKELY(function == NULL)) {                                                       \
            resolve();                                                                          \
            function = __atomic_load_n(&variable, __ATOMIC_ACQUIRE);                            \
        }                                                                                       \
        return function;                                                                        \
    }
NEXT(nextCallocFunction)
NEXT(nextReallocFunction)
NEXT(nextPosixMemalignFunction)
NEXT(nextAlignedAllocFunction)
NEXT(nextMemalignFunction)
NEXT(nextVallocFunction)
NEXT(nextPvallocFunction)
NEXT(nextUsableSizeFunction)

static __attribute__((noinline, cold)) void *unresolvedAllocate(size_t size, size_t alignment, int zero) {
    if (threadHooks.resolving) {
        void *p = bootstrapAllocate(size, alignment);
        if (!p) errno = ENOMEM;
        return p;
    }
    resolve();
    if (alignment > 16) {
        void *p = NULL;
        int error = nextPosixMemalignFunction(&p, alignment, size);
        if (error) errno = error;
        return error ? NULL : p;
    }
    return zero ? nextCallocFunction(1, size) : nextMallocFunction(size);
}

static __attribute__((noinline, cold)) void *unresolvedMalloc(size_t size) {
    return unresolvedAllocate(size, 16, 0);
}

static __attribute__((noinline, cold)) void unresolvedFree(void *p) {
    // dlsym frees only what it allocated (bootstrap blocks), so the resolving thread gets no
    // further than this.
    if (p == NULL || isBootstrap(p) || threadHooks.resolving) return;
    resolve();
    nextFreeFunction(p);
}

static inline void *forwardMalloc(size_t size) {
    return __atomic_load_n(&nextMallocFunction, __ATOMIC_ACQUIRE)(size);
}

static inline void *forwardCalloc(size_t count, size_t size) {
    CallocFunction function = __atomic_load_n(&nextCallocFunction, __ATOMIC_ACQUIRE);
    if (UNLIKELY(function == NULL)) {
        size_t total;
        if (__builtin_mul_overflow(count, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return unresolvedAllocate(total, 16, 1);
    }
    return function(count, size);
}

static inline void forwardFree(void *p) { __atomic_load_n(&nextFreeFunction, __ATOMIC_ACQUIRE)(p); }

// MARK: Counting

// Gives a thread's unscoped counter back when the thread exits (a pthread key's destructor,
// which runs after the C++ and Swift thread-local destructors).
static pthread_key_t counterKey;
static uint8_t counterKeyMade = 0;

static void counterDestructor(void *value) {
    threadHooks.counter = NULL;
    threadHooks.counterState = 2;  // what is allocated after this goes to the shared atomics
    CPprof_unscopedCounterRelease((CPprof_UnscopedCounter *)value);
}

/// Claims a counter for this thread, the first time it allocates without recorder state; NULL
/// if it has none (count in the shared atomics).
static __attribute__((noinline, cold)) CPprof_UnscopedCounter *claimCounter(void) {
    if (threadHooks.counterState != 0 || threadHooks.guard || threadHooks.resolving || !counterKeyMade) return NULL;
    // What pthread_setspecific allocates (a key past the first 32) is counted in the atomics.
    threadHooks.counterState = 2;
    CPprof_UnscopedCounter *counter = CPprof_unscopedCounterClaim();
    if (counter == NULL) return NULL;
    if (pthread_setspecific(counterKey, counter) != 0) {
        CPprof_unscopedCounterRelease(counter);
        return NULL;
    }
    threadHooks.counter = counter;
    threadHooks.counterState = 1;
    return counter;
}

// Only the owning thread writes a header's or a counter's words: a relaxed load and store, a
// plain add, never a locked instruction on a line other threads write.
static inline __attribute__((always_inline)) void addCounts(uint64_t *words, size_t size) {
    __atomic_store_n(&words[0], __atomic_load_n(&words[0], __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&words[1], __atomic_load_n(&words[1], __ATOMIC_RELAXED) + size, __ATOMIC_RELAXED);
}

/// Counts an allocation of a thread without recorder state.
static inline __attribute__((always_inline)) void countUnscoped(size_t size) {
    CPprof_UnscopedCounter *counter = threadHooks.counter;
    if (UNLIKELY(counter == NULL)) counter = claimCounter();
    if (LIKELY(counter != NULL)) {
        addCounts(&counter->objects, size);
    } else {
        __atomic_fetch_add(&CPprof_unscopedAllocObjects, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&CPprof_unscopedAllocBytes, size, __ATOMIC_RELAXED);
    }
}

static inline __attribute__((always_inline)) void countAllocation(size_t size) {
    void *state = CPprof_threadState;
    if (LIKELY(state != NULL)) {
        addCounts((uint64_t *)((char *)state + CPPROF_HEADER_ALLOC_OFFSET), size);
    } else {
        countUnscoped(size);
    }
}

static inline __attribute__((always_inline)) int active(void) {
    return LIKELY(__atomic_load_n(&CPprof_memoryHooks, __ATOMIC_RELAXED) == 1);
}

/// Counts down the sampling interval; nonzero when this allocation is to be looked at.
static inline __attribute__((always_inline)) int due(size_t size) {
    return UNLIKELY((threadHooks.untilSample -= (int64_t)size) <= 0);
}

// MARK: Sampling

static uint64_t nextRandom(void) {
    uint64_t x = threadHooks.random;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    threadHooks.random = x;
    return x;
}

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/// An exponential interval of mean `rate` (Go's scheme); 0 at rate 1 (every block sampled).
static int64_t drawInterval(int64_t rate) {
    if (rate <= 1) return 0;
    double u = (double)((nextRandom() >> 11) + 1) * 0x1p-53;  // (0, 1]
    double interval = -log(u) * (double)rate;
    if (interval > 0x1p62) return (int64_t)1 << 62;
    return (int64_t)interval;
}

/// Looks up the calling thread's stack once. `pthread_getattr_np` allocates (on the main thread
/// it reads /proc/self/maps): meanwhile the guard is set and CPprof_threadState points at the
/// scratch words, so those allocations are forwarded, never sampled, and counted nowhere real.
static __attribute__((noinline, cold)) void findStack(void) {
    void *saved = CPprof_threadState;
    threadHooks.guard = 1;
    CPprof_threadState = (char *)threadHooks.scratch;
    uint8_t known = 2;
    pthread_attr_t attributes;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
        void *address = NULL;
        size_t size = 0;
        if (pthread_attr_getstack(&attributes, &address, &size) == 0 && address != NULL) {
            threadHooks.stackLow = (uintptr_t)address;
            threadHooks.stackHigh = (uintptr_t)address + size;
            known = 1;
        }
        pthread_attr_destroy(&attributes);
    }
    CPprof_threadState = saved;
    threadHooks.stackKnown = known;
    threadHooks.guard = 0;
}

/// frames[0] is the allocating caller (the interposer's return address); then a frame-pointer
/// walk from `frame` (the slow path's own frame, whose saved rbp is the interposer's or, when
/// the interposer keeps no frame, the allocating function's).
static uint32_t walkFrames(void **frames, void *caller, uintptr_t frame) {
    uint32_t count = 0;
    frames[count++] = caller;
    if (threadHooks.stackKnown != 1) return count;
    uintptr_t low = threadHooks.stackLow, high = threadHooks.stackHigh;
    if (frame < low || frame + 16 > high) return count;  // a signal stack, a coroutine: caller only
    uintptr_t current = frame;
    int first = 1;
    while (count < CPPROF_SAMPLE_FRAMES) {
        uintptr_t next = *(const uintptr_t *)current;
        if (next <= current || (next & 7) != 0 || next + 16 > high) break;
        void *returnAddress = ((void *const *)next)[1];
        if (returnAddress == NULL) break;
        // The interposer's own frame, if it kept one, returns to the caller already in frames[0].
        if (!(first && returnAddress == caller)) frames[count++] = returnAddress;
        first = 0;
        current = next;
    }
    return count;
}

enum Kind { KIND_MALLOC, KIND_CALLOC, KIND_POSIX_MEMALIGN, KIND_ALIGNED_ALLOC, KIND_MEMALIGN };

static void *forwardKind(enum Kind kind, size_t size, size_t alignment) {
    switch (kind) {
    case KIND_MALLOC: return forwardMalloc(size);
    case KIND_CALLOC: return forwardCalloc(1, size);
    case KIND_POSIX_MEMALIGN: {
        void *p = NULL;
        int error = load_nextPosixMemalignFunction()(&p, alignment, size);
        if (error) {
            errno = error;
            return NULL;
        }
        return p;
    }
    case KIND_ALIGNED_ALLOC: return load_nextAlignedAllocFunction()(alignment, size);
    case KIND_MEMALIGN: return load_nextMemalignFunction()(alignment, size);
    }
    return NULL;
}

/// The allocation whose countdown reached 0 (already counted). Draws the next interval, and
/// samples it unless this is the thread's first interval or the guard is set. `alignment` is a
/// power of two below 4096 (the callers never sample page-aligned requests).
static __attribute__((noinline)) void *sampleAllocate(enum Kind kind, size_t size, size_t alignment, void *caller) {
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (threadHooks.guard) return forwardKind(kind, size, alignment);
    int64_t rate = __atomic_load_n(&CPprof_memoryRate, __ATOMIC_RELAXED);
    if (rate <= 0 || CPprof_memoryQuiet) {
        threadHooks.untilSample = INT64_MAX;
        return forwardKind(kind, size, alignment);
    }
    if (UNLIKELY(!threadHooks.started)) {
        threadHooks.started = 1;
        uint64_t seed = mix((uintptr_t)&threadHooks ^ CPprof_rdtsc() ^ secret);
        threadHooks.random = seed ? seed : 0x9e3779b97f4a7c15ull;
        if (rate != 1) {
            threadHooks.untilSample = drawInterval(rate);
            return forwardKind(kind, size, alignment);
        }
    }
    threadHooks.untilSample = drawInterval(rate);
    if (threadHooks.stackKnown == 0) findStack();

    // The pointer returned must not be page-aligned (free would not look at its tag): when
    // raw + offset is, the block is asked for again page-aligned, so that raw + offset (offset
    // below 4096) cannot be.
    size_t offset = alignment <= 16 ? 16 : alignment;
    size_t total;
    if (__builtin_add_overflow(size, offset, &total)) return forwardKind(kind, size, alignment);
    unsigned char *raw;
    if (alignment <= 16) {
        raw = kind == KIND_CALLOC ? forwardCalloc(1, total) : forwardMalloc(total);
    } else {
        raw = forwardKind(KIND_POSIX_MEMALIGN, total, alignment);
    }
    if (!raw) return NULL;
    if (UNLIKELY(((uintptr_t)(raw + offset) & PAGE_MASK) == 0)) {
        forwardFree(raw);
        raw = forwardKind(KIND_POSIX_MEMALIGN, total, 4096);
        if (!raw) return NULL;
        if (kind == KIND_CALLOC) memset(raw, 0, total);
    }
    uint32_t index = CPprof_sampleAcquire();
    if (index == UINT32_MAX) {
        // No slot: an untagged block must start where the program's pointer does.
        forwardFree(raw);
        return forwardKind(kind, size, alignment);
    }
    unsigned char *p = raw + offset;
    CPprof_Sample *sample = CPprof_sampleSlot(index);
    void *state = CPprof_threadState;
    sample->thread = state ? *(const uint32_t *)((const char *)state + CPPROF_HEADER_THREAD_ID_OFFSET) : 0;
    sample->seq = state ? __atomic_load_n((const uint64_t *)((const char *)state + CPPROF_HEADER_ALLOC_OFFSET),
                                          __ATOMIC_RELAXED)
                        : 0;
    sample->size = size;
    sample->offset = offset;
    sample->frameCount = walkFrames(sample->frames, caller, frame);
    ((uint64_t *)p)[-2] = (TAG_MAGIC << 32) | index;
    ((uint64_t *)p)[-1] = (uintptr_t)p ^ secret;
    CPprof_samplePublish(index);
    return p;
}

/// The slot of `p` if it is a sampled block, else UINT32_MAX. `p` is not NULL.
static inline __attribute__((always_inline)) int maybeSampled(const void *p) {
    // A page-aligned p is never sampled (its tag would be on the previous page, which may be
    // unmapped): reading p-8 of any other p stays on p's page.
    return ((uintptr_t)p & PAGE_MASK) != 0 && ((const uint64_t *)p)[-1] == ((uintptr_t)p ^ secret);
}

// Not gated on active(): a block sampled while the hooks were active stays tagged.
static __attribute__((noinline)) uint32_t sampledSlot(const void *p) {
    uint64_t word = ((const uint64_t *)p)[-2];
    if ((word >> 32) != TAG_MAGIC) return UINT32_MAX;
    uint32_t index = (uint32_t)word;
    if (index >= CPprof_sampleHighWater()) return UINT32_MAX;
    CPprof_Sample *sample = CPprof_sampleSlot(index);
    uint32_t flags = CPprof_sampleFlags(sample);
    if ((flags & (CPPROF_SAMPLE_USED | CPPROF_SAMPLE_LIVE)) != (CPPROF_SAMPLE_USED | CPPROF_SAMPLE_LIVE)) {
        return UINT32_MAX;
    }
    uint64_t offset = sample->offset;
    if (offset < 16 || offset >= 4096 || (offset & (offset - 1)) != 0) return UINT32_MAX;
    return index;
}

/// Frees the sampled block `p` in slot `index`.
static void freeSampled(void *p, uint32_t index) {
    unsigned char *raw = (unsigned char *)p - CPprof_sampleSlot(index)->offset;
    // A stale tag must never match again (an allocator that keeps freed bytes might hand p out
    // unsampled later).
    ((uint64_t *)p)[-1] = 0;
    ((uint64_t *)p)[-2] = 0;
    CPprof_sampleFreed(index);
    forwardFree(raw);
}

// MARK: The interposers

static inline __attribute__((always_inline)) void *mallocFrom(size_t size, void *caller) {
    if (active()) {
        countAllocation(size);
        if (due(size)) return sampleAllocate(KIND_MALLOC, size, 16, caller);
    }
    return forwardMalloc(size);
}

// malloc's ways off its common path. Each is entered by a tail call, so that malloc itself makes
// no call that returns to it (it saves no registers, and keeps no caller's address it does not
// need), and the return address each sees as its own is malloc's caller: the allocating function.
static __attribute__((noinline)) void *mallocSampled(size_t size) {
    return sampleAllocate(KIND_MALLOC, size, 16, __builtin_return_address(0));
}

static __attribute__((noinline)) void *mallocWithoutState(size_t size) {
    countUnscoped(size);
    if (due(size)) return sampleAllocate(KIND_MALLOC, size, 16, __builtin_return_address(0));
    return forwardMalloc(size);
}

// The hottest code of the hooks (a Swift class instance is one malloc and one free): what it does
// in addition to the call through the pointer is what linking PprofMemory costs.
INTERPOSER void *malloc(size_t size) {
    if (active()) {
        void *state = CPprof_threadState;
        if (UNLIKELY(state == NULL)) TAIL return mallocWithoutState(size);
        addCounts((uint64_t *)((char *)state + CPPROF_HEADER_ALLOC_OFFSET), size);
        if (due(size)) TAIL return mallocSampled(size);
    }
    TAIL return __atomic_load_n(&nextMallocFunction, __ATOMIC_ACQUIRE)(size);
}

/// A `free` of a block whose word before it matched a tag: sampled, or (rarely) a block whose
/// bytes happen to look so.
static __attribute__((noinline)) void freeTagged(void *p) {
    uint32_t index = sampledSlot(p);
    if (index != UINT32_MAX) {
        freeSampled(p, index);
    } else {
        forwardFree(p);
    }
}

/// A `free` of a page-aligned pointer: NULL, a bootstrap block (kept), or a block of memalign's,
/// valloc's or the next allocator's (never sampled).
static __attribute__((noinline)) void freePageAligned(void *p) {
    if (!isBootstrap(p)) forwardFree(p);
}

// The other half of a Swift class instance's cost: one test of p's page offset, one load and
// compare of the word before it, and the jump through the pointer.
INTERPOSER void free(void *p) {
    if (UNLIKELY(((uintptr_t)p & PAGE_MASK) == 0)) {
        freePageAligned(p);
    } else if (UNLIKELY(((const uint64_t *)p)[-1] == ((uintptr_t)p ^ secret))) {
        freeTagged(p);
    } else {
        forwardFree(p);
    }
}

INTERPOSER void *calloc(size_t count, size_t size) {
    if (active()) {
        size_t total;
        if (UNLIKELY(__builtin_mul_overflow(count, size, &total))) return forwardCalloc(count, size);
        countAllocation(total);
        if (due(total)) return sampleAllocate(KIND_CALLOC, total, 16, __builtin_return_address(0));
    }
    return forwardCalloc(count, size);
}

static __attribute__((noinline)) void *reallocSampled(void *p, uint32_t index, size_t size, void *caller) {
    if (size == 0) {
        // realloc(p, 0) frees p (glibc): nothing counted.
        freeSampled(p, index);
        return NULL;
    }
    void *q = mallocFrom(size, caller);
    if (!q) return NULL;
    uint64_t old = CPprof_sampleSlot(index)->size;
    memcpy(q, p, old < size ? old : size);
    freeSampled(p, index);
    return q;
}

/// A realloc whose countdown reached 0: a new block through the sampling path, the old bytes
/// copied (as many as the old block can hold), the old block freed.
static __attribute__((noinline)) void *reallocMoving(void *p, size_t size, void *caller) {
    void *q = sampleAllocate(KIND_MALLOC, size, 16, caller);
    if (!q) return NULL;
    size_t old = load_nextUsableSizeFunction()(p);
    memcpy(q, p, old < size ? old : size);
    forwardFree(p);
    return q;
}

static __attribute__((noinline, cold)) void *reallocBootstrap(void *p, size_t size, void *caller) {
    if (size == 0) return NULL;  // bootstrap blocks are never given back
    void *q = mallocFrom(size, caller);
    if (!q) return NULL;
    size_t old = bootstrapSize(p);
    memcpy(q, p, old < size ? old : size);
    return q;
}

INTERPOSER void *realloc(void *p, size_t size) {
    void *caller = __builtin_return_address(0);
    if (p == NULL) return mallocFrom(size, caller);
    if (UNLIKELY(isBootstrap(p))) return reallocBootstrap(p, size, caller);
    if (UNLIKELY(maybeSampled(p))) {
        uint32_t index = sampledSlot(p);
        if (index != UINT32_MAX) return reallocSampled(p, index, size, caller);
    }
    ReallocFunction function = load_nextReallocFunction();
    if (!active() || size == 0) return function(p, size);  // realloc(p, 0) frees: nothing counted
    // One allocation of the new size, also when the block grows or shrinks in place.
    countAllocation(size);
    if (due(size)) return reallocMoving(p, size, caller);
    return function(p, size);
}

static inline int isPowerOfTwo(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

// Page-aligned requests (alignment 4096 and above, valloc, pvalloc) are counted exactly but never
// sampled: their tag would sit on the page before the block, and `free` does not read p-8 of a
// page-aligned p (it could be unmapped). They leave the sampling countdown alone.
static inline __attribute__((always_inline)) int countAligned(size_t alignment, size_t size) {
    countAllocation(size);
    return alignment < 4096 && due(size);
}

INTERPOSER int posix_memalign(void **result, size_t alignment, size_t size) {
    if (threadHooks.resolving && __atomic_load_n(&nextPosixMemalignFunction, __ATOMIC_ACQUIRE) == NULL) {
        void *p = bootstrapAllocate(size, alignment);
        if (!p) return ENOMEM;
        *result = p;
        return 0;
    }
    if (active() && isPowerOfTwo(alignment) && alignment % sizeof(void *) == 0) {
        if (countAligned(alignment, size)) {
            void *p = sampleAllocate(KIND_POSIX_MEMALIGN, size, alignment, __builtin_return_address(0));
            if (!p) return ENOMEM;
            *result = p;
            return 0;
        }
    }
    return load_nextPosixMemalignFunction()(result, alignment, size);
}

INTERPOSER void *aligned_alloc(size_t alignment, size_t size) {
    if (threadHooks.resolving && __atomic_load_n(&nextAlignedAllocFunction, __ATOMIC_ACQUIRE) == NULL) {
        return bootstrapAllocate(size, alignment);
    }
    if (active() && isPowerOfTwo(alignment)) {
        if (countAligned(alignment, size)) {
            return sampleAllocate(KIND_ALIGNED_ALLOC, size, alignment, __builtin_return_address(0));
        }
    }
    return load_nextAlignedAllocFunction()(alignment, size);
}

INTERPOSER void *memalign(size_t alignment, size_t size) {
    if (threadHooks.resolving && __atomic_load_n(&nextMemalignFunction, __ATOMIC_ACQUIRE) == NULL) {
        return bootstrapAllocate(size, alignment);
    }
    if (active()) {
        // glibc rounds an alignment that is not a power of two up to one: counted, not sampled.
        if (isPowerOfTwo(alignment)) {
            if (countAligned(alignment, size)) {
                return sampleAllocate(KIND_MEMALIGN, size, alignment, __builtin_return_address(0));
            }
        } else {
            countAllocation(size);
        }
    }
    return load_nextMemalignFunction()(alignment, size);
}

INTERPOSER void *valloc(size_t size) {
    if (threadHooks.resolving && __atomic_load_n(&nextVallocFunction, __ATOMIC_ACQUIRE) == NULL) {
        return bootstrapAllocate(size, 4096);
    }
    if (active()) countAllocation(size);  // page-aligned: never sampled
    return load_nextVallocFunction()(size);
}

INTERPOSER void *pvalloc(size_t size) {
    if (threadHooks.resolving && __atomic_load_n(&nextPvallocFunction, __ATOMIC_ACQUIRE) == NULL) {
        return bootstrapAllocate(size, 4096);
    }
    if (active()) countAllocation(size);  // page-aligned: never sampled
    return load_nextPvallocFunction()(size);
}

INTERPOSER size_t malloc_usable_size(void *p) {
    if (p == NULL) return 0;
    if (isBootstrap(p)) return bootstrapSize(p);
    if (maybeSampled(p)) {
        uint32_t index = sampledSlot(p);
        if (index != UINT32_MAX) {
            uint64_t offset = CPprof_sampleSlot(index)->offset;
            return load_nextUsableSizeFunction()((unsigned char *)p - offset) - offset;
        }
    }
    return load_nextUsableSizeFunction()(p);
}

// MARK: Start

// Makes a static executable's link take glibc's malloc.o from libc.a, for the `__libc_*` entry
// points the hooks forward to there (see `next`). In a dynamic link it binds to libc.so.6's
// export, unused.
__attribute__((used)) static void *(*const staticLinkAnchor)(size_t) = __libc_malloc;

// Our own definitions, by address: `malloc` in this file names whichever definition won the
// link (a sanitizer's strong one, if any), so compare with a local alias of ours instead.
static void *ownMalloc(size_t size) __attribute__((alias("malloc")));
static void ownFree(void *p) __attribute__((alias("free")));

static int64_t parseRate(const char *text, int64_t fallback) {
    if (text == NULL || *text == 0) return fallback;
    int64_t value = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9') return fallback;
        if (value > (INT64_MAX - 9) / 10) return fallback;
        value = value * 10 + (*c - '0');
    }
    return value;
}

static void forkPrepare(void) { CPprof_sampleLockForFork(); }
static void forkParent(void) { CPprof_sampleUnlockAfterFork(); }
static void forkChild(void) {
    CPprof_sampleResetAfterFork();
    CPprof_unscopedCountersResetAfterFork(threadHooks.counter);
}

__attribute__((constructor(101))) static void start(void) {
    uint64_t random = 0;
    if (getrandom(&random, sizeof(random), GRND_NONBLOCK) != sizeof(random)) random = 0;
    secret = mix(random ^ CPprof_rdtsc() ^ (uintptr_t)&random) | 1;
    __atomic_store_n(&CPprof_memoryRate, parseRate(getenv("PPROF_MEMORY_RATE"), 524288), __ATOMIC_RELAXED);
    const char *switch_ = getenv("PPROF_MEMORY");
    uint8_t hooks = 1;
    void *everywhere = RTLD_DEFAULT;
    if (switch_ != NULL && strcmp(switch_, "0") == 0) {
        hooks = 3;
    } else if (dlsym(everywhere, "__asan_init") != NULL) {
        hooks = 2;
        CPprofMemory_standAsideReason = 1;
    } else if (dlsym(everywhere, "__tsan_init") != NULL) {
        hooks = 2;
        CPprofMemory_standAsideReason = 2;
    } else if ((void *)malloc != (void *)ownMalloc || (void *)free != (void *)ownFree) {
        // Another definition won the link (a sanitizer's runtime, linked statically).
        hooks = 2;
        CPprofMemory_standAsideReason = 3;
    } else if (dlsym(everywhere, "malloc") != NULL &&
               (dlsym(everywhere, "malloc") != (void *)ownMalloc || dlsym(everywhere, "free") != (void *)ownFree)) {
        // The dynamic loader resolves malloc elsewhere (a static executable has no dynamic symbols
        // to search, and dlsym finds nothing there).
        hooks = 2;
        CPprofMemory_standAsideReason = 3;
    }
    // Our definitions are the process's: resolve the next ones now, before anything is counted
    // (where another allocator won the link, ours are never called and there may be none).
    if (hooks != 2) resolve();
    if (hooks == 1) {
        pthread_atfork(forkPrepare, forkParent, forkChild);
        counterKeyMade = pthread_key_create(&counterKey, counterDestructor) == 0;
    }
    __atomic_store_n(&CPprof_memoryHooks, hooks, __ATOMIC_RELEASE);
}

uint32_t CPprofMemory_sampleSlotOf(const void *p) {
    // Standing aside, p is another allocator's: p-8 may be its redzone (ASan reports the read).
    if (!active()) return UINT32_MAX;
    if (p == NULL || isBootstrap(p) || !maybeSampled(p)) return UINT32_MAX;
    return sampledSlot(p);
}

const char *CPprofMemory_symbolName(const void *address, uintptr_t *base) {
    Dl_info info;
    *base = 0;
    if (dladdr(address, &info) == 0) return NULL;
    *base = (uintptr_t)info.dli_fbase;
    return info.dli_sname;
}

#else

#include "CPprofMemory.h"

#include <stddef.h>
#include <stdint.h>

// The trait compiles the hooks out: only what the Swift side reads is left.
uint8_t CPprofMemory_standAsideReason = 0;

uint8_t CPprofMemory_compiledIn(void) { return 0; }

uint32_t CPprofMemory_sampleSlotOf(const void *p) {
    (void)p;
    return UINT32_MAX;
}

const char *CPprofMemory_symbolName(const void *address, uintptr_t *base) {
    (void)address;
    *base = 0;
    return NULL;
}

#endif
