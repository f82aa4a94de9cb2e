import NIOCore
import NIOHTTP1
import Pprof

/// One client connection as the server reads and answers it.
typealias HTTPConnection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

/// The connections of one listener, from the moment each is set up, so that stopping the
/// server can close them (which ends their windows) without cancelling the tasks that serve
/// them; so that their number stays under a cap (each holds a socket, a task and possibly a
/// window, in a process that is there to do other work); and so that every connection is
/// closed through `executeThenClose` exactly once, by whoever takes it from here.
///
/// That last part is why a connection is held from the child channel initializer on, before
/// the accept loop sees it: NIO hands the initializer's result to the listener's async
/// sequence, and drops it when that sequence has finished (the listener closing as the server
/// stops). A dropped `NIOAsyncChannel` that was never closed through `executeThenClose` traps
/// ("Deinited NIOAsyncWriter without calling finish()"): the process would crash because a
/// client connected as the server stopped. Held here, such a connection is closed by `drain()`.
///
/// At the cap, a new connection takes the place of the one that has waited longest without a
/// whole request (as nginx reuses its "reusable" connections), and is closed itself only when
/// every connection has a request in flight (a window open, an answer being written). Without
/// that, anyone on the machine who opens a few hundred idle connections locks every scraper
/// out until the idle timeout, and again as soon as they reopen them. Only a connection that
/// has waited `minimumWait` is taken, and `claim` waits for one rather than take a connection
/// not yet read: a scraper's request may be in its socket already.
final class Connections: Sendable {
    /// What the task handed a connection by the accept loop does with it.
    enum Claim {
        /// Serve it, then `remove` it; close `evicted` (when set), whose place it took.
        case serve(evicted: (any Channel)?)
        /// Close it through `executeThenClose` at once: the server is stopping, or the cap is
        /// reached and every connection is busy.
        case close
        /// Nothing: it was closed already, by `drain()` or as it was set up.
        case leave
    }

    let limit: Int

    private struct State {
        var stopping = false
        /// Set up, not yet handed to a task.
        var unclaimed: [ObjectIdentifier: Entry] = [:]
        /// Being served.
        var served: [ObjectIdentifier: Entry] = [:]
        /// Connections closed to make room for new ones.
        var evictions = 0
        /// The most connections served at once.
        var peak = 0
        /// Connections closed at once, at the cap with none to evict.
        var refusals = 0
    }

    private struct Entry {
        var connection: HTTPConnection
        var idleness: Idleness
    }

    private let state = Locked(State())

    /// How long a connection must have waited for a request before a newcomer may take its
    /// place. A connection is accepted before its request is read, and may be accepted before
    /// that request has even arrived (a handshake the kernel completed while the backlog was
    /// full, its data retransmitted 200 ms later); under a flood, the newest connection would
    /// otherwise be the oldest a few hundred evictions later, in well under that. It also bounds
    /// how fast a flood can churn: at most `limit` evictions per `minimumWait`.
    let minimumWait: Duration

    /// - Parameters:
    ///   - limit: `Limits.maxConnections`, at least 1 already.
    ///   - minimumWait: 250 ms by default; see the property.
    init(limit: Int, minimumWait: Duration = .milliseconds(250)) {
        self.limit = limit
        self.minimumWait = minimumWait
    }

    /// Connections being served now.
    var count: Int { state.withLock { $0.served.count } }

    /// Connections closed so far to make room for new ones.
    var evictions: Int { state.withLock { $0.evictions } }

    /// Connections closed at once so far, at the cap with none to evict.
    var refusals: Int { state.withLock { $0.refusals } }

    /// The most connections served at once so far: at most `limit`.
    var peak: Int { state.withLock { $0.peak } }

    /// Holds a connection just set up, with what its `IdleTimeoutHandler` says of its waiting;
    /// false when the server is stopping, and then the caller closes it.
    func adopt(_ connection: HTTPConnection, idleness: Idleness) -> Bool {
        state.withLock { state in
            if state.stopping { return false }
            state.unclaimed[ObjectIdentifier(connection.channel)] = Entry(connection: connection, idleness: idleness)
            return true
        }
    }

    /// Takes a connection the accept loop handed out; see `Claim`. Called by the accept loop
    /// itself, one connection at a time, so that while it waits the server accepts nothing more
    /// (connections queue in the kernel's backlog instead).
    ///
    /// At the cap with no connection waiting for a request but some not yet read (accepted a
    /// moment ago, their event loops behind), it waits for those to be read, up to `patience`:
    /// under a flood the accept side runs ahead of the event loops, and a connection not yet read
    /// may be a scraper whose request is in its socket already. Evicting it would reset the
    /// scraper; refusing the newcomer would refuse the next scraper. Waiting lets the flood wait.
    func claim(_ connection: HTTPConnection, patience: Duration = .seconds(2)) async -> Claim {
        let deadline = ContinuousClock.now + patience
        while true {
            switch attempt(connection) {
            case .done(let claim): return claim
            case .wait:
                if ContinuousClock.now >= deadline {
                    return state.withLock { state in
                        state.unclaimed[ObjectIdentifier(connection.channel)] = nil
                        state.refusals += 1
                        return .close
                    }
                }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
    }

    private enum Attempt {
        case done(Claim)
        case wait
    }

    private func attempt(_ connection: HTTPConnection) -> Attempt {
        let id = ObjectIdentifier(connection.channel)
        return state.withLock { state in
            guard let entry = state.unclaimed[id] else { return .done(.leave) }
            if state.stopping {
                state.unclaimed[id] = nil
                return .done(.close)
            }
            var evicted: (any Channel)?
            if state.served.count >= limit {
                let youngest = Int64(NIODeadline.now().uptimeNanoseconds) - Self.nanoseconds(minimumWait)
                switch Self.evictLongestWaiting(from: &state.served, waitingSince: youngest) {
                case .evicted(let victim):
                    state.evictions += 1
                    evicted = victim
                case .noneYet:
                    return .wait
                case .allBusy:
                    state.unclaimed[id] = nil
                    state.refusals += 1
                    return .done(.close)
                }
            }
            state.unclaimed[id] = nil
            state.served[id] = entry
            state.peak = max(state.peak, state.served.count)
            return .done(.serve(evicted: evicted))
        }
    }

    private enum Eviction {
        case evicted(any Channel)
        /// None has waited `minimumWait` for a request yet; some wait, or have not been read yet.
        case noneYet
        /// Every one has a request in flight.
        case allBusy
    }

    /// Takes out of `served` the connection that has waited longest for a request, marked
    /// evicted so that a request completing meanwhile is not served, and returns it to be
    /// closed, if it has waited since `youngest` (uptime nanoseconds) or longer. A scan of at most
    /// `limit` entries, done only at the cap.
    private static func evictLongestWaiting(
        from served: inout [ObjectIdentifier: Entry],
        waitingSince youngest: Int64
    ) -> Eviction {
        // A candidate that changed between the scan and the mark (its request arrived, or its
        // answer left) is passed over by scanning again; each retry follows such a change.
        for _ in 0...served.count {
            var oldest: (id: ObjectIdentifier, since: Int64)?
            var unread = false
            for (id, entry) in served {
                guard let since = entry.idleness.waitingSince else {
                    unread = unread || entry.idleness.isUnread
                    continue
                }
                if oldest.map({ since < $0.since }) ?? true { oldest = (id, since) }
            }
            guard let oldest else { return unread ? .noneYet : .allBusy }
            if oldest.since > youngest { return .noneYet }
            guard let entry = served[oldest.id], entry.idleness.evict(ifWaitingSince: oldest.since) else { continue }
            served.removeValue(forKey: oldest.id)
            return .evicted(entry.connection.channel)
        }
        return .noneYet
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// Forgets a connection served to its end.
    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.served.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Stops taking connections and closes those there are.
    func closeAll() {
        let channels = state.withLock { state in
            state.stopping = true
            return (Array(state.served.values) + state.unclaimed.values).map(\.connection.channel)
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Closes the connections that were set up but never handed out: call it after
    /// `closeAll()`, once the accept loop has ended.
    func drain() async {
        let unclaimed = state.withLock { state in
            defer { state.unclaimed.removeAll() }
            return state.unclaimed.values.map(\.connection)
        }
        for connection in unclaimed { try? await connection.executeThenClose { _, _ in } }
    }
}
