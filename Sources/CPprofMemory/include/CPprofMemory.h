// The malloc-family interposers of the opt-in product PprofMemory. Linking this target defines
// malloc, free, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc, pvalloc and
// malloc_usable_size in the executable (weak, so a sanitizer runtime's strong definitions win);
// each forwards to the next definition (dlsym RTLD_NEXT), so a preloaded jemalloc or heaptrack
// still sees every call. What they count and sample is described in CPprofAllocations.h.
#ifndef CPPROF_MEMORY_H
#define CPPROF_MEMORY_H

#include <stdint.h>
// memalign, pvalloc, malloc_usable_size, for Swift code that calls them.
#include <malloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Why the hooks stand aside (CPprof_memoryHooks == 2): 0 they do not, 1 the address sanitizer,
/// 2 the thread sanitizer, 3 another definition of malloc is the one the process uses.
extern uint8_t CPprofMemory_standAsideReason;

static inline uint8_t CPprofMemory_getStandAsideReason(void) {
    return __atomic_load_n(&CPprofMemory_standAsideReason, __ATOMIC_RELAXED);
}

/// 1 when the hooks are compiled in (0 with the PprofDisabled trait). Referencing it from Swift
/// also keeps the hooks' object in the link.
uint8_t CPprofMemory_compiledIn(void);

/// The slot of the sampled block `p` (a pointer the program got from the hooks and has not
/// freed), or UINT32_MAX if it is not sampled. For tests.
uint32_t CPprofMemory_sampleSlotOf(const void *p);

/// The name of the dynamic symbol holding `address` (dladdr), or NULL; `*base` is set to the
/// load address of the object holding it (0 if none). For tests.
const char *CPprofMemory_symbolName(const void *address, uintptr_t *base);

#ifdef __cplusplus
}
#endif

#endif
