// The calls pprof-cpu-fixture makes that Swift cannot: syscall() is variadic.
#ifndef CPPROF_CPU_FIXTURE_H
#define CPPROF_CPU_FIXTURE_H

#include <stdint.h>

/// A raw FUTEX_WAIT (private) on `word` while it holds `expected`, for at most `nanoseconds`.
/// Returns 0 when woken, or the errno (ETIMEDOUT, EINTR, EAGAIN).
int CPprofFixture_futexWait(uint32_t *word, uint32_t expected, int64_t nanoseconds);

#endif
