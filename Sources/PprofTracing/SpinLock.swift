import Synchronization

/// A lock for a span's few fields: a flag taken with compare-and-exchange. A span's fields are
/// touched by the one task that runs it, almost never by two threads at once, so this costs two
/// atomic operations and, unlike a pthread mutex, no allocation of its own.
///
/// ```swift
/// final class Box { let lock = SpinLock(); var value = 0 }
/// box.lock.withLock { box.value += 1 }
/// ```
struct SpinLock: ~Copyable {
    private let held = Atomic<Bool>(false)

    init() {}

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        while !held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            while held.load(ordering: .relaxed) {}
        }
        defer { held.store(false, ordering: .releasing) }
        return try body()
    }
}
