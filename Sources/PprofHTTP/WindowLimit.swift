import Synchronization

/// Caps the windows the endpoint keeps open at once: each holds a sleeping request and makes
/// every hook record, so an unbounded number is a cheap way to load the program.
package final class WindowLimit: Sendable {
    package let limit: Int
    private let open = Atomic<Int>(0)

    package init(limit: Int) {
        self.limit = limit
    }

    package var current: Int { open.load(ordering: .relaxed) }

    /// Takes a slot; false when all are taken.
    func acquire() -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(
                expected: current,
                desired: current + 1,
                ordering: .acquiringAndReleasing
            )
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() {
        open.subtract(1, ordering: .acquiringAndReleasing)
    }
}
