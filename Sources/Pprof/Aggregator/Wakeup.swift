#if canImport(Glibc)
import Glibc
#endif

/// The aggregator's sleep between drains, which opening a window cuts short.
///
/// While nothing records the aggregator sleeps 20 ms at a time. Without a wake-up, a window
/// opened just after it fell asleep would wait up to 20 ms for its first drain, time in which
/// a busy thread can fill its ring (at 5 M events/s, 100 000 of its 131 072 slots).
///
/// ```swift
/// let wakeup = Wakeup()
/// wakeup.sleep(nanoseconds: 20_000_000)   // on the aggregator's thread
/// wakeup.signal()                          // elsewhere: it drains now
/// ```
final class Wakeup: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var signalled = false

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Deadlines on the monotonic clock: a change of the wall clock neither cuts a sleep
        // short nor stretches it.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Sleeps for `nanoseconds`, or until `signal()`, whichever comes first.
    func sleep(nanoseconds: Int) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_nsec += nanoseconds
        deadline.tv_sec += deadline.tv_nsec / 1_000_000_000
        deadline.tv_nsec %= 1_000_000_000
        pthread_mutex_lock(mutex)
        while !signalled {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
        }
        signalled = false
        pthread_mutex_unlock(mutex)
    }

    /// Ends the current sleep, or the next one at once.
    func signal() {
        pthread_mutex_lock(mutex)
        signalled = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }
}
