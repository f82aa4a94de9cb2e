import NIOCore
import Synchronization

/// The connections being served, so that stopping the server can close them (which ends their
/// windows) without cancelling the tasks that serve them, and so that their number stays under
/// a cap: each holds a socket, a task and possibly a window, and the process that runs the
/// endpoint is there to do other work.
final class Connections: Sendable {
    /// Why a connection was not taken.
    enum Refusal: Error {
        case stopping
        case full
    }

    let limit: Int
    private let state = Mutex<(stopping: Bool, channels: [ObjectIdentifier: any Channel])>((false, [:]))

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var count: Int { state.withLock { $0.channels.count } }

    /// Adds `channel`, unless the server is stopping or `limit` connections are open already.
    func insert(_ channel: any Channel) -> Result<Void, Refusal> {
        state.withLock { state in
            if state.stopping { return .failure(.stopping) }
            if state.channels.count >= limit { return .failure(.full) }
            state.channels[ObjectIdentifier(channel)] = channel
            return .success(())
        }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func closeAll() {
        let channels = state.withLock { state in
            state.stopping = true
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
