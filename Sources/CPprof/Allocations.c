#include "CPprofAllocations.h"

#include <sys/mman.h>
#include <sched.h>

uint8_t CPprof_memoryHooks = 0;
__thread uint8_t CPprof_memoryQuiet __attribute__((tls_model("initial-exec"))) = 0;
int64_t CPprof_memoryRate = 0;
uint64_t CPprof_unscopedAllocObjects = 0;
uint64_t CPprof_unscopedAllocBytes = 0;
uint64_t CPprof_samplesTaken = 0;
uint64_t CPprof_samplesLost = 0;

// Zero-filled, so only the pages of counters ever claimed become resident (64 bytes each).
static CPprof_UnscopedCounter unscopedCounters[CPPROF_UNSCOPED_COUNTERS];
// One past the highest counter ever claimed: what the sums read.
static uint32_t unscopedHighWater = 0;

// The lowest free counter is claimed, once per thread: a churn of threads keeps reusing the
// same few, and the sums read only as far as the most threads ever alive at once.
CPprof_UnscopedCounter *CPprof_unscopedCounterClaim(void) {
    for (uint32_t i = 0; i < CPPROF_UNSCOPED_COUNTERS; i++) {
        CPprof_UnscopedCounter *counter = &unscopedCounters[i];
        if (__atomic_load_n(&counter->owned, __ATOMIC_RELAXED)) continue;
        uint32_t unowned = 0;
        // Acquire: the previous owner's last counts happen before this owner's first.
        if (!__atomic_compare_exchange_n(&counter->owned, &unowned, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) continue;
        uint32_t high = __atomic_load_n(&unscopedHighWater, __ATOMIC_RELAXED);
        while (high < i + 1 &&
               !__atomic_compare_exchange_n(&unscopedHighWater, &high, i + 1, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
        }
        return counter;
    }
    return NULL;
}

void CPprof_unscopedCounterRelease(CPprof_UnscopedCounter *counter) {
    __atomic_store_n(&counter->owned, 0, __ATOMIC_RELEASE);
}

void CPprof_unscopedCountersResetAfterFork(CPprof_UnscopedCounter *kept) {
    uint32_t high = __atomic_load_n(&unscopedHighWater, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < high; i++) {
        if (&unscopedCounters[i] != kept) __atomic_store_n(&unscopedCounters[i].owned, 0, __ATOMIC_RELAXED);
    }
}

uint32_t CPprof_unscopedCountersHighWater(void) {
    return __atomic_load_n(&unscopedHighWater, __ATOMIC_ACQUIRE);
}

uint64_t CPprof_unscopedCountersObjects(void) {
    uint32_t high = __atomic_load_n(&unscopedHighWater, __ATOMIC_ACQUIRE);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < high; i++) sum += __atomic_load_n(&unscopedCounters[i].objects, __ATOMIC_RELAXED);
    return sum;
}

uint64_t CPprof_unscopedCountersBytes(void) {
    uint32_t high = __atomic_load_n(&unscopedHighWater, __ATOMIC_ACQUIRE);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < high; i++) sum += __atomic_load_n(&unscopedCounters[i].bytes, __ATOMIC_RELAXED);
    return sum;
}

// The table, mapped on first use (MAP_NORESERVE: pages are touched only as slots are).
static CPprof_Sample *table = NULL;
static uint32_t highWater = 0;
// Slots given back, as a stack under a spin lock: taken only when a block is sampled or a
// sampled block is freed, never on the common path.
static uint32_t *freeStack = NULL;
static uint32_t freeCount = 0;
static uint8_t lock = 0;
// The published slots not yet taken, as a stack: the top's index plus one, 0 when empty. Pushed
// with a compare-and-swap, emptied at once by the aggregator's exchange, so no ABA can occur.
static uint32_t publishedTop = 0;

static void acquireLock(void) {
    while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&lock, __ATOMIC_RELAXED)) sched_yield();
    }
}

static void releaseLock(void) {
    __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

static int mapTable(void) {
    size_t bytes = (size_t)CPPROF_SAMPLE_SLOTS * sizeof(CPprof_Sample);
    void *slots = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (slots == MAP_FAILED) return 0;
    void *stack = mmap(NULL, (size_t)CPPROF_SAMPLE_SLOTS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED) {
        munmap(slots, bytes);
        return 0;
    }
    freeStack = stack;
    __atomic_store_n(&table, (CPprof_Sample *)slots, __ATOMIC_RELEASE);
    return 1;
}

uint32_t CPprof_sampleAcquire(void) {
    uint32_t index = UINT32_MAX;
    acquireLock();
    if (table != NULL || mapTable()) {
        if (freeCount > 0) {
            index = freeStack[--freeCount];
        } else if (highWater < CPPROF_SAMPLE_SLOTS) {
            index = highWater;
            __atomic_store_n(&highWater, highWater + 1, __ATOMIC_RELEASE);
        }
    }
    releaseLock();
    if (index == UINT32_MAX) __atomic_fetch_add(&CPprof_samplesLost, 1, __ATOMIC_RELAXED);
    return index;
}

CPprof_Sample *CPprof_sampleSlot(uint32_t index) {
    return __atomic_load_n(&table, __ATOMIC_ACQUIRE) + index;
}

uint32_t CPprof_sampleHighWater(void) {
    return __atomic_load_n(&highWater, __ATOMIC_ACQUIRE);
}

void CPprof_samplePublish(uint32_t index) {
    CPprof_Sample *sample = table + index;
    uint32_t generation = __atomic_load_n(&sample->flags, __ATOMIC_RELAXED) >> CPPROF_SAMPLE_GENERATION_SHIFT;
    sample->node = 0;
    __atomic_store_n(&sample->flags,
                     (generation << CPPROF_SAMPLE_GENERATION_SHIFT) | CPPROF_SAMPLE_USED | CPPROF_SAMPLE_LIVE,
                     __ATOMIC_RELEASE);
    uint32_t top = __atomic_load_n(&publishedTop, __ATOMIC_RELAXED);
    do {
        sample->nextPublished = top;
    } while (!__atomic_compare_exchange_n(&publishedTop, &top, index + 1, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    __atomic_fetch_add(&CPprof_samplesTaken, 1, __ATOMIC_RELEASE);
}

// The slot is neither live nor awaited by the aggregator: the next generation, empty, free.
static void recycle(uint32_t index) {
    CPprof_Sample *sample = table + index;
    uint32_t generation = (__atomic_load_n(&sample->flags, __ATOMIC_RELAXED) >> CPPROF_SAMPLE_GENERATION_SHIFT) + 1;
    __atomic_store_n(&sample->flags, generation << CPPROF_SAMPLE_GENERATION_SHIFT, __ATOMIC_RELEASE);
    acquireLock();
    freeStack[freeCount++] = index;
    releaseLock();
}

uint32_t CPprof_samplesPublishedTake(void) {
    return __atomic_exchange_n(&publishedTop, 0, __ATOMIC_ACQUIRE);
}

// A slot is given back by whichever of `free` and the aggregator's take comes second: a slot
// still on the published stack must stay where it is until the aggregator has taken it.
void CPprof_sampleFreed(uint32_t index) {
    uint32_t old = __atomic_fetch_and(&table[index].flags, ~(uint32_t)CPPROF_SAMPLE_LIVE, __ATOMIC_ACQ_REL);
    if (old & CPPROF_SAMPLE_QUEUED) recycle(index);
}

uint32_t CPprof_sampleTake(uint32_t index) {
    uint32_t old = __atomic_fetch_or(&table[index].flags, CPPROF_SAMPLE_QUEUED, __ATOMIC_ACQ_REL);
    if (!(old & CPPROF_SAMPLE_LIVE)) recycle(index);
    return old | CPPROF_SAMPLE_QUEUED;
}

int CPprof_sampleSeen(uint32_t index, uint32_t generation, uint32_t node) {
    CPprof_Sample *sample = table + index;
    uint32_t flags = __atomic_load_n(&sample->flags, __ATOMIC_ACQUIRE);
    // A later generation's node may be written meanwhile: harmless, since only SEEN makes a
    // slot's node count, and only the aggregator (this thread) sets SEEN.
    sample->node = node;
    while ((flags >> CPPROF_SAMPLE_GENERATION_SHIFT) == generation && (flags & CPPROF_SAMPLE_LIVE)) {
        if (__atomic_compare_exchange_n(&sample->flags, &flags, flags | CPPROF_SAMPLE_SEEN, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            return 1;
        }
    }
    return 0;
}

void CPprof_sampleLockForFork(void) {
    acquireLock();
}

void CPprof_sampleUnlockAfterFork(void) {
    releaseLock();
}

void CPprof_sampleResetAfterFork(void) {
    __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}
