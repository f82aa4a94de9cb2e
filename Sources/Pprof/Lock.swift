#if canImport(Glibc)
import Glibc
#endif

/// A plain pthread mutex for everything off the hooks' path: the package's one lock. Not
/// `Synchronization.Mutex`: under contention its futex is taken inside the standard library,
/// which the thread sanitizer does not instrument, so it would report the state it guards as
/// raced.
///
/// ```swift
/// private let lock = Lock()
/// private var count = 0    // guarded by `lock`
/// lock.withLock { count += 1 }
/// ```
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

/// A value that is only read or changed under its `Lock`: the shape `Synchronization.Mutex`
/// has, on the package's one lock.
///
/// ```swift
/// let statuses = Locked<[Int: Int]>([:])
/// statuses.withLock { $0[200, default: 0] += 1 }
/// ```
package final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = Lock()
    private var value: Value  // guarded by `lock`

    package init(_ value: Value) {
        self.value = value
    }

    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try lock.withLock { try body(&value) }
    }
}
