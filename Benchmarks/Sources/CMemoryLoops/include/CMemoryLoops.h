// The loops MemoryHooks times, in C so that nothing but the allocation calls is measured.
#ifndef CMEMORYLOOPS_H
#define CMEMORYLOOPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// `iterations` x `__libc_malloc(64)` + `__libc_free`: glibc directly, past any interposer.
void CMemoryLoops_libcPairs(uint64_t iterations);
/// `iterations` x `malloc(64)` + `free`: through whatever definition the executable links.
void CMemoryLoops_pairs(uint64_t iterations);
/// A churn of mixed sizes (16 B to 4 KiB, now and then 64 KiB): `iterations` times, a random
/// one of 1024 live blocks is freed and replaced. `libc` != 0 calls glibc directly.
void CMemoryLoops_churn(uint64_t iterations, int libc);
/// Frees what the churn left.
void CMemoryLoops_churnReset(int libc);
/// Sets CPprof_memoryHooks (1 active, 3 switched off): a benchmark's own switch.
void CMemoryLoops_setHooks(uint8_t value);

#ifdef __cplusplus
}
#endif

#endif
