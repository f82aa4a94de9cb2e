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
/// At the cap, a new connection takes the place of the one that has waited longest without a
/// whole request (as nginx reuses its "reusable" connections), and is closed itself only when
/// every connection has a request in flight (a window open, an answer being written). Without
/// that, anyone on the machine who opens a few hundred idle connections locks every scraper
/// out until the idle timeout, and again as soon as they reopen them.
///
/// That last part is why a connection is held from the child channel initializer on, before
/// the accept loop sees it: NIO hands the initializer's result to the listener's async
/// sequence, and drops it when that sequence has finished (the listener closing as the server
/// stops). A dropped `NIOAsyncChannel` that was never closed through `executeThenClose` traps
/// ("Deinited NIOAsyncWriter without calling finish()"): the process would crash because a
/// client connected as the server stopped. Held here, such a connection is closed by `drain()`.
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
    }

    private struct Entry {
        var connection: HTTPConnection
        var idleness: Idleness
    }

    private let state = Locked(State())

    /// - Parameter limit: `Limits.maxConnections`, at least 1 already.
    init(limit: Int) {
        self.limit = limit
    }

    /// Connections being served now.
    var count: Int { state.withLock { $0.served.count } }

    /// Connections closed so far to make room for new ones.
    var evictions: Int { state.withLock { $0.evictions } }

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

    /// Takes a connection the accept loop handed out; see `Claim`.
    func claim(_ connection: HTTPConnection) -> Claim {
        let id = ObjectIdentifier(connection.channel)
        return state.withLock { state in
            guard let entry = state.unclaimed.removeValue(forKey: id) else { return .leave }
            if state.stopping { return .close }
            var evicted: (any Channel)?
            if state.served.count >= limit {
                guard let victim = Self.evictLongestWaiting(from: &state.served) else { return .close }
                state.evictions += 1
                evicted = victim
            }
            state.served[id] = entry
            state.peak = max(state.peak, state.served.count)
            return .serve(evicted: evicted)
        }
    }

    /// Takes out of `served` the connection that has waited longest for a request, marked
    /// evicted so that a request completing meanwhile is not served, and returns it to be
    /// closed; nil when every connection is busy. A scan of at most `limit` entries, done only
    /// at the cap.
    private static func evictLongestWaiting(from served: inout [ObjectIdentifier: Entry]) -> (any Channel)? {
        // A candidate that changed between the scan and the mark (its request arrived, or its
        // answer left) is passed over by scanning again; each retry follows such a change.
        for _ in 0...served.count {
            var oldest: (id: ObjectIdentifier, since: Int64)?
            for (id, entry) in served {
                guard let since = entry.idleness.waitingSince else { continue }
                if oldest.map({ since < $0.since }) ?? true { oldest = (id, since) }
            }
            guard let oldest else { return nil }
            guard let entry = served[oldest.id], entry.idleness.evict(ifWaitingSince: oldest.since) else { continue }
            served.removeValue(forKey: oldest.id)
            return entry.connection.channel
        }
        return nil
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
