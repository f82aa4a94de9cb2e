#if canImport(Glibc)
import Glibc
#endif

/// A plain pthread mutex for everything off the hooks' path. Not `Synchronization.Mutex`: its
/// futex is inside the standard library, which the thread sanitizer does not instrument, so it
/// would report the state it guards as raced.
package final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
