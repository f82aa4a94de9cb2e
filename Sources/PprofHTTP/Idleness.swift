import NIOCore
import Synchronization

/// Whether one connection is waiting for its client's next request, and since when: what the
/// connection cap reads to choose the connection a new one replaces (`Connections.claim`), as
/// nginx reuses the connection that has waited longest.
///
/// ```swift
/// let idleness = Idleness()                // just opened: not evictable yet
/// idleness.settle()                         // its event loop has read what came with it
/// if idleness.endWaiting() { /* serve */ }  // a whole request came, unless evicted first
/// idleness.beginWaiting()                   // its answer left: waiting again
/// ```
///
/// `IdleTimeoutHandler` writes it on the connection's event loop; the accept side reads it and
/// evicts. One atomic word holds the whole state, so that a request completing and an eviction
/// racing for the same connection cannot both win: a connection whose request has arrived, or
/// that holds a window or is being answered, is never evicted; one evicted never starts serving.
final class Idleness: Sendable {
    /// -2: just opened, not yet read (`settle`); 0: busy (a request in flight: received whole,
    /// not yet answered); -1: evicted; otherwise the uptime in nanoseconds at which it began to
    /// wait.
    private let state = Atomic<Int64>(-2)
    private static let opened: Int64 = -2
    private static let busy: Int64 = 0
    private static let evicted: Int64 = -1

    init() {}

    /// When it began to wait (nanoseconds of uptime), or nil while busy or once evicted.
    var waitingSince: Int64? {
        let state = state.load(ordering: .acquiring)
        return state > 0 ? state : nil
    }

    /// Just opened, and its event loop has not yet read what came with it (`settle`).
    var isUnread: Bool { state.load(ordering: .acquiring) == Self.opened }

    /// Waiting from now if it is still as it was opened: its event loop has read what came with
    /// it, and that was no whole request.
    func settle() {
        _ = state.compareExchange(expected: Self.opened, desired: Self.now(), ordering: .acquiringAndReleasing)
    }

    /// Waiting from now: its last answer has left. Nothing once evicted.
    func beginWaiting() {
        let now = Self.now()
        var current = state.load(ordering: .relaxed)
        while current != Self.evicted {
            let (exchanged, found) = state.compareExchange(
                expected: current,
                desired: now,
                ordering: .acquiringAndReleasing
            )
            if exchanged { return }
            current = found
        }
    }

    /// A whole request has come: busy until its answer has left. False when the connection was
    /// evicted first; then the request is dropped, and the connection is closing.
    func endWaiting() -> Bool {
        var current = state.load(ordering: .relaxed)
        while current != Self.evicted {
            let (exchanged, found) = state.compareExchange(
                expected: current,
                desired: Self.busy,
                ordering: .acquiringAndReleasing
            )
            if exchanged { return true }
            current = found
        }
        return false
    }

    private static func now() -> Int64 {
        max(1, Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds))
    }

    /// Marks it evicted if it is still waiting since `since` (as `waitingSince` said); false when
    /// it has begun a request, or begun waiting again, meanwhile.
    func evict(ifWaitingSince since: Int64) -> Bool {
        state.compareExchange(expected: since, desired: Self.evicted, ordering: .acquiringAndReleasing).exchanged
    }
}
