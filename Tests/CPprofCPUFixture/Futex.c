#define _GNU_SOURCE
#include "CPprofCPUFixture.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int CPprofFixture_futexWait(uint32_t *word, uint32_t expected, int64_t nanoseconds) {
    struct timespec timeout = {.tv_sec = nanoseconds / 1000000000, .tv_nsec = nanoseconds % 1000000000};
    // Not retried on EINTR: the caller counts it.
    if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &timeout, NULL, 0) == 0) return 0;
    return errno;
}
