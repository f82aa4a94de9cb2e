import CPprof

#if canImport(Glibc)
import Glibc
#endif

/// `PPROF_OUTPUT`, `PPROF_TRACE_OUTPUT` and `PPROF_MEMORY_OUTPUT`: a profile window and a timeline
/// window open from the first hook to the end of the process, and the memory profile since the
/// program started, written to their files when the process exits.
///
/// What happens, exactly:
/// - a normal exit (`main` returns, `exit()` is called): an `atexit` handler closes the window,
///   counting the scopes still open as calls, and writes the file atomically (a temporary file
///   in the same folder, then a rename); one line on stderr says where, or why not;
/// - SIGINT or SIGTERM, where the program left them at their default: a handler that only
///   writes the signal's number to a pipe; a thread reads it, writes the file, restores the
///   default disposition and raises the signal again, so the process ends with the status the
///   signal gives (130, 143);
/// - SIGINT or SIGTERM where the program had its own handler (or ignores them) when recording
///   began: left alone; if that handler ends the process with `exit()`, the `atexit` handler
///   writes the file;
/// - SIGKILL, a crash, or `_exit()`: no file. SIGKILL runs no code of the process; after a crash
///   the crashing thread may hold a lock the writer needs or the heap may be damaged, so no
///   handler is installed for SIGSEGV, SIGABRT or traps; `_exit()` skips `atexit` by design;
/// - a file that cannot be written (a missing folder, a read-only file system, a full disk): one
///   line on stderr with the path and the system's reason, the exit status the program chose,
///   and the target path as it was (`Profile.writeAtomically` removes its temporary file).
final class ExitDump: @unchecked Sendable {
    private let window: ProfileWindow?
    private let path: String
    private let timeline: TimelineWindow?
    private let timelinePath: String
    /// Where the memory profile goes; "" for none.
    private let memoryPath: String
    /// Held while the profile is written: a second caller (exit() while a signal's dump is under
    /// way) waits for the file instead of letting the process end half-way through it.
    private let writing = Lock()
    private var done = false  // guarded by `writing`

    private init(
        window: ProfileWindow?,
        path: String,
        timeline: TimelineWindow?,
        timelinePath: String,
        memoryPath: String
    ) {
        self.window = window
        self.path = path
        self.timeline = timeline
        self.timelinePath = timelinePath
        self.memoryPath = memoryPath
    }

    /// Opens the whole-run windows on `recorder`. Called once, while the shared recorder starts;
    /// `installHandlers()` then arranges for them to be written.
    static func arm(
        recorder: Recorder,
        profile: (path: String, mode: Profile.Mode)?,
        timeline: (path: String, limit: Int, bytes: Int)?,
        memory: String? = nil
    ) -> ExitDump {
        let pid = String(getpid())
        let dump = ExitDump(
            window: profile.map { ProfileWindow(recorder.aggregator.open(mode: $0.mode), of: recorder.aggregator) },
            path: profile?.path.replacingOccurrences(of: "%p", with: pid) ?? "",
            timeline: timeline.map {
                TimelineWindow.opened(
                    limit: $0.limit,
                    bytes: $0.bytes,
                    format: Timeline.Format(path: $0.path),
                    on: recorder.aggregator
                )
            },
            timelinePath: timeline?.path.replacingOccurrences(of: "%p", with: pid) ?? "",
            memoryPath: memory?.replacingOccurrences(of: "%p", with: pid) ?? ""
        )
        return dump
    }

    /// Installs the `atexit` handler and the SIGINT/SIGTERM forwarding, which reach this dump as
    /// `Recorder.shared.exitDump`: call once that is set.
    func installHandlers() {
        atexit { Recorder.shared.exitDump?.dump() }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var forwarded = false
        for sig in [SIGINT, SIGTERM] where CPprof_forwardSignalIfDefault(sig, fds[1]) != 0 {
            forwarded = true
        }
        guard forwarded else { return }
        let readEnd = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        readEnd.pointee = fds[0]
        var thread = pthread_t()
        if pthread_create(
            &thread,
            nil,
            { argument in
                let fd = argument!.assumingMemoryBound(to: Int32.self).pointee
                var byte: UInt8 = 0
                while true {
                    let n = read(fd, &byte, 1)
                    if n == 1 { break }
                    if n < 0 && errno == EINTR { continue }
                    return nil
                }
                Recorder.shared.exitDump?.dump()
                CPprof_restoreDefaultAndRaise(Int32(byte))
                return nil
            },
            readEnd
        ) == 0 {
            pthread_detach(thread)
        }
    }

    /// Writes the whole-run profile, once.
    func dump() {
        writing.withLock {
            guard !done else { return }
            done = true
            if let timeline {
                let written = timeline.stop()
                do {
                    try written.write(to: timelinePath)
                    let cut =
                        written.wasCut
                        ? " (cut at its limit of \(written.wasCutByBytes ? "bytes" : "events")); "
                            + "\(written.eventsNotKept) events not kept" : ""
                    warn("wrote a timeline of \(written.eventCount) events to \(timelinePath)\(cut)")
                } catch {
                    warn("could not write the timeline: \(error)")
                }
            }
            if !memoryPath.isEmpty {
                let profile = Recorder.shared.aggregator.memoryProfile(since: nil)
                do {
                    try profile.write(to: memoryPath)
                    let hooks = profile.hooks == .active ? "" : " (allocation hooks \(profile.hooks.rawValue))"
                    warn("wrote memory profile to \(memoryPath)\(hooks)")
                } catch {
                    warn("could not write the memory profile: \(error)")
                }
            }
            if let window {
                let profile = window.stop(closingOpenFrames: true)
                do {
                    try profile.write(to: path)
                    warn("wrote \(profile.mode.rawValue) profile to \(path)")
                } catch {
                    warn("could not write the profile: \(error)")
                }
            }
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
