/// Opens recording windows from code: everything the hooks record between `start` and `stop`,
/// on every thread, becomes one `Profile`.
///
/// ```swift
/// let window = Profiler.start(mode: .fprof)
/// try handleRequests()
/// let profile = window.stop()
/// print(profile.report())
/// ```
///
/// Several windows may be open at once (each gets exactly the time and the calls that fell
/// inside it); recording is on while at least one is open.
public enum Profiler {
    /// Starts recording and returns the window to stop.
    ///
    /// - Parameter mode: What to record; `.fprof` (call paths, calls and wall time) by default.
    /// - Returns: The open window; call `stop()` on it to get its profile.
    public static func start(mode: Profile.Mode = .fprof) -> ProfileWindow {
        Recorder.initializeIfNeeded()
        let aggregator = Recorder.shared.aggregator
        return ProfileWindow(aggregator.open(mode: mode), of: aggregator)
    }
}

/// One open recording window. Stop it to get its profile; a window dropped without `stop()`
/// stops by itself.
///
/// ```swift
/// let window = Profiler.start()
/// work()
/// try window.stop().write(to: "work.pb.gz")
/// ```
public final class ProfileWindow: @unchecked Sendable {
    private let lock = Lock()
    private let aggregator: Aggregator
    private var window: Aggregator.Window?  // guarded by `lock`
    private var profile: Profile?  // guarded by `lock`

    init(_ window: Aggregator.Window, of aggregator: Aggregator) {
        self.window = window
        self.aggregator = aggregator
    }

    /// Stops recording for this window and returns what it recorded. A second call returns
    /// the same profile.
    public func stop() -> Profile {
        stop(closingOpenFrames: false)
    }

    func stop(closingOpenFrames: Bool) -> Profile {
        lock.withLock {
            if let profile { return profile }
            let stopped = aggregator.close(window!, closingOpenFrames: closingOpenFrames)
            window = nil
            profile = stopped
            return stopped
        }
    }

    deinit {
        _ = stop()
    }
}
