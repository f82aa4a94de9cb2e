// What the allocation hooks (the opt-in product PprofMemory, target CPprofMemory) and the
// recorder share. It lives here, in the recorder's own C shim, so that the recorder reads it
// whether or not the hooks are linked: without them every value stays 0.
//
// - Exact counts: a thread with recorder state counts its allocations in its own ThreadHeader
//   (the two words at CPPROF_HEADER_ALLOC_OFFSET, written only by that thread), which the hooks
//   turn into ring records at the next enter or exit, so the aggregator charges them to the
//   frame that was open. A thread without recorder state counts in a counter of its own, one of
//   a fixed table (CPprof_UnscopedCounter), or in two process-wide atomics when it has none.
// - Sampled blocks: a fixed table of slots, one per sampled block still in use (or freed and not
//   yet taken by the aggregator). The allocating thread fills a slot and publishes it (a
//   lock-free stack); `free` clears its LIVE bit; the aggregator takes the published slots,
//   charges each to the frame open at its place in the thread's allocation sequence, and marks
//   it SEEN. Whoever of `free` and the aggregator's take comes second gives the slot back, and a
//   generation in the flags tells a slot given back and reused from the block it held.
#ifndef CPPROF_ALLOCATIONS_H
#define CPPROF_ALLOCATIONS_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Offsets in a thread's recorder block (the pointer `CPprof_threadState` holds) that the
/// allocation hooks use; `ThreadHeaderTests` checks them against the Swift layout.
/// The thread's serial number (uint32).
#define CPPROF_HEADER_THREAD_ID_OFFSET 8
/// Two uint64 words: allocations counted on this thread so far, and their requested bytes.
/// Written by the owning thread with relaxed stores, read by the aggregator with relaxed loads.
#define CPPROF_HEADER_ALLOC_OFFSET 224

/// What the allocation hooks are doing: 0 not linked, 1 counting (and sampling if the rate
/// is not 0), 2 linked but standing aside (a sanitizer owns malloc), 3 linked but switched off
/// (PPROF_MEMORY=0). Hidden: every user is in the image that defines it, so `malloc` tests it with
/// one compare instead of a load of its address first.
extern uint8_t CPprof_memoryHooks __attribute__((visibility("hidden")));
/// The mean bytes between sampled blocks (PPROF_MEMORY_RATE, default 524288); 1 samples every
/// block, 0 samples none. Set once by the hooks before their first count.
extern int64_t CPprof_memoryRate;

/// Set on the recorder's own aggregator thread: its blocks are counted but never sampled, so
/// that charging sampled blocks, which allocates, cannot feed itself at a small rate.
extern __thread uint8_t CPprof_memoryQuiet __attribute__((tls_model("initial-exec")));

static inline void CPprof_setMemoryQuiet(uint8_t quiet) {
    CPprof_memoryQuiet = quiet;
}
static inline uint8_t CPprof_getMemoryQuiet(void) {
    return CPprof_memoryQuiet;
}

/// Allocations on threads that had no recorder state at the time, and their bytes (atomics):
/// those of threads that found no counter of their own (below), or allocated after theirs was
/// given back at thread exit.
extern uint64_t CPprof_unscopedAllocObjects;
extern uint64_t CPprof_unscopedAllocBytes;

/// How many threads without recorder state can count in a counter of their own at once.
#define CPPROF_UNSCOPED_COUNTERS 4096

/// The counts of threads without recorder state, one counter per thread while it lives: the
/// owner writes it with relaxed loads and stores (as a header's words, no atomic add on a line
/// every thread shares); the aggregator sums them. A thread gives its counter back at exit and
/// the next thread to claim it adds on: the counts only grow, so the sum stays exact.
typedef struct {
    uint64_t objects;
    uint64_t bytes;
    /// 1 while a thread owns it (atomic).
    uint32_t owned;
    uint32_t reserved;
} __attribute__((aligned(64))) CPprof_UnscopedCounter;

/// A counter for the calling thread, or NULL when every one is owned. Never allocates.
CPprof_UnscopedCounter *CPprof_unscopedCounterClaim(void);
/// Gives `counter` back (at its owner's exit); its counts stay, summed with its next owner's.
void CPprof_unscopedCounterRelease(CPprof_UnscopedCounter *counter);
/// In a child after fork, whose other threads are gone: gives back every counter but `kept`.
void CPprof_unscopedCountersResetAfterFork(CPprof_UnscopedCounter *kept);
/// One past the highest counter ever claimed (threads that exit give theirs back for reuse).
uint32_t CPprof_unscopedCountersHighWater(void);
/// The counts of every counter ever claimed, summed.
uint64_t CPprof_unscopedCountersObjects(void);
uint64_t CPprof_unscopedCountersBytes(void);

static inline uint8_t CPprof_getMemoryHooks(void) {
    return __atomic_load_n(&CPprof_memoryHooks, __ATOMIC_ACQUIRE);
}
static inline void CPprof_setMemoryHooks(uint8_t state) {
    __atomic_store_n(&CPprof_memoryHooks, state, __ATOMIC_RELEASE);
}
static inline int64_t CPprof_getMemoryRate(void) {
    return __atomic_load_n(&CPprof_memoryRate, __ATOMIC_RELAXED);
}
/// What threads without recorder state allocated: the shared atomics and every counter.
static inline uint64_t CPprof_getUnscopedAllocObjects(void) {
    return __atomic_load_n(&CPprof_unscopedAllocObjects, __ATOMIC_RELAXED) + CPprof_unscopedCountersObjects();
}
static inline uint64_t CPprof_getUnscopedAllocBytes(void) {
    return __atomic_load_n(&CPprof_unscopedAllocBytes, __ATOMIC_RELAXED) + CPprof_unscopedCountersBytes();
}

/// Return addresses kept per sampled block.
#define CPPROF_SAMPLE_FRAMES 24
/// The most sampled blocks tracked at once; a sample that finds no slot is counted in
/// `CPprof_samplesLost` and its block is not tagged.
#define CPPROF_SAMPLE_SLOTS (1u << 18)

enum {
    /// The slot holds a sample (set with LIVE when published).
    CPPROF_SAMPLE_USED = 1u,
    /// The block is still allocated (cleared by free).
    CPPROF_SAMPLE_LIVE = 2u,
    /// The aggregator has taken it off the published stack (aggregator only).
    CPPROF_SAMPLE_QUEUED = 4u,
    /// The aggregator has charged it to a node (aggregator only).
    CPPROF_SAMPLE_SEEN = 8u,
    /// The flags' upper 24 bits count the slot's reuses: a reader compares them before and
    /// after reading the fields.
    CPPROF_SAMPLE_GENERATION_SHIFT = 8u,
};

/// One sampled block.
typedef struct {
    /// CPPROF_SAMPLE_* bits and the generation (atomic).
    uint32_t flags;
    /// The call-tree node it is charged to; written by the aggregator before SEEN.
    uint32_t node;
    /// The allocating thread's serial (the header's threadID), 0 if it had no recorder state.
    uint32_t thread;
    /// How many of `frames` are filled.
    uint32_t frameCount;
    /// The next slot published before this one and not yet taken by the aggregator, plus one
    /// (0: none): the published slots are a lock-free stack (`CPprof_samplesPublishedTake`).
    uint32_t nextPublished;
    uint32_t reserved;
    /// The allocating thread's allocation count (the header's first word) counting this block.
    uint64_t seq;
    /// The bytes requested.
    uint64_t size;
    /// From the start of the underlying block to the pointer returned to the program.
    uint64_t offset;
    /// Return addresses, innermost first: the allocating function's call into malloc, then its
    /// callers' (a frame-pointer walk).
    void *frames[CPPROF_SAMPLE_FRAMES];
} CPprof_Sample;

/// Samples taken so far (atomic): the aggregator scans the slots only when this has moved.
extern uint64_t CPprof_samplesTaken;
/// Samples that found no free slot.
extern uint64_t CPprof_samplesLost;

static inline uint64_t CPprof_getSamplesTaken(void) {
    return __atomic_load_n(&CPprof_samplesTaken, __ATOMIC_ACQUIRE);
}
static inline uint64_t CPprof_getSamplesLost(void) {
    return __atomic_load_n(&CPprof_samplesLost, __ATOMIC_RELAXED);
}

/// A free slot's index, or UINT32_MAX when all are in use (counted as lost). Never allocates
/// through malloc (the table is mmap'ed on first use).
uint32_t CPprof_sampleAcquire(void);
/// Takes every slot published since the last call: the first one's index plus one (0: none),
/// the next ones through `nextPublished`. Only the aggregator calls it.
uint32_t CPprof_samplesPublishedTake(void);
/// The slot at `index` (below CPprof_sampleHighWater()).
CPprof_Sample *CPprof_sampleSlot(uint32_t index);
/// One past the highest slot index ever handed out.
uint32_t CPprof_sampleHighWater(void);
/// Publishes a filled slot: USED | LIVE, with a release store; counts it in `samplesTaken`.
void CPprof_samplePublish(uint32_t index);
/// The sampled block was freed: LIVE cleared; the slot is given back unless the aggregator has
/// not taken it off the published stack yet (it gives it back then).
void CPprof_sampleFreed(uint32_t index);
/// The aggregator takes a slot it found on the published stack (QUEUED); returns its flags, with
/// LIVE clear if the block was freed already (the slot is then given back).
uint32_t CPprof_sampleTake(uint32_t index);
/// The aggregator charged the slot to `node`; returns 1 if the slot still holds the block of
/// `generation` (the flags' upper bits when it was taken) and it is live, 0 otherwise.
int CPprof_sampleSeen(uint32_t index, uint32_t generation, uint32_t node);
/// Around fork (pthread_atfork, registered by the hooks): the parent holds the table's lock
/// across the fork, then releases it; the child, whose other threads are gone, resets it.
void CPprof_sampleLockForFork(void);
void CPprof_sampleUnlockAfterFork(void);
void CPprof_sampleResetAfterFork(void);
/// The slot's flags (acquire).
static inline uint32_t CPprof_sampleFlags(const CPprof_Sample *sample) {
    return __atomic_load_n(&sample->flags, __ATOMIC_ACQUIRE);
}

#ifdef __cplusplus
}
#endif

#endif
