import NIOCore
import Synchronization

/// The connections being served, so that stopping the server can close them (which ends their
/// windows) without cancelling the tasks that serve them.
final class Connections: Sendable {
    private let state = Mutex<(stopping: Bool, channels: [ObjectIdentifier: any Channel])>((false, [:]))

    /// Adds `channel`; false when the server is stopping.
    func insert(_ channel: any Channel) -> Bool {
        state.withLock { state in
            if state.stopping { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
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
