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
final class Connections: Sendable {
    /// What the task handed a connection by the accept loop does with it.
    enum Claim {
        /// Serve it, then `remove` it.
        case serve
        /// Close it through `executeThenClose` at once: the server is stopping, or the cap is
        /// reached.
        case close
        /// Nothing: it was closed already, by `drain()` or as it was set up.
        case leave
    }

    let limit: Int

    private struct State {
        var stopping = false
        /// Set up, not yet handed to a task.
        var unclaimed: [ObjectIdentifier: HTTPConnection] = [:]
        /// Being served.
        var served: [ObjectIdentifier: any Channel] = [:]
    }

    private let state = Locked(State())

    /// - Parameter limit: `Limits.maxConnections`, at least 1 already.
    init(limit: Int) {
        self.limit = limit
    }

    /// Holds a connection just set up; false when the server is stopping, and then the caller
    /// closes it.
    func adopt(_ connection: HTTPConnection) -> Bool {
        state.withLock { state in
            if state.stopping { return false }
            state.unclaimed[ObjectIdentifier(connection.channel)] = connection
            return true
        }
    }

    /// Takes a connection the accept loop handed out; see `Claim`.
    func claim(_ connection: HTTPConnection) -> Claim {
        let id = ObjectIdentifier(connection.channel)
        return state.withLock { state in
            guard state.unclaimed.removeValue(forKey: id) != nil else { return .leave }
            if state.stopping || state.served.count >= limit { return .close }
            state.served[id] = connection.channel
            return .serve
        }
    }

    /// Forgets a connection served to its end.
    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.served.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Stops taking connections and closes those there are.
    func closeAll() {
        let channels = state.withLock { state in
            state.stopping = true
            return Array(state.served.values) + state.unclaimed.values.map(\.channel)
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Closes the connections that were set up but never handed out: call it after
    /// `closeAll()`, once the accept loop has ended.
    func drain() async {
        let unclaimed = state.withLock { state in
            defer { state.unclaimed.removeAll() }
            return Array(state.unclaimed.values)
        }
        for connection in unclaimed { try? await connection.executeThenClose { _, _ in } }
    }
}
