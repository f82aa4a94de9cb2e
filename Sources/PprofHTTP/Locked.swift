#if canImport(Glibc)
import Glibc
#endif

/// A value behind a plain pthread mutex. Not `Synchronization.Mutex`: under contention its
/// futex is taken inside the standard library, which the thread sanitizer does not instrument,
/// so it reports the state it guards as raced (as `Pprof`'s `Lock` explains; that one is
/// internal to its module).
final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
