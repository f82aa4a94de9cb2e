/// The recorder's state right now, for the HTTP index page (package-only: users read a window's
/// `Profile`, not these process-wide totals).
///
/// ```swift
/// let line = "\(RecorderStatus.liveThreads) threads, \(RecorderStatus.eventsDropped) events dropped"
/// ```
package enum RecorderStatus {
    /// Threads whose ring is live now (registered and not yet ended).
    package static var liveThreads: Int { Recorder.shared.aggregator.liveThreads }

    /// Threads that have recorded at least once since the process started.
    package static var threadsSeen: Int { Recorder.shared.threadsRegistered }

    /// Windows open now, from code, from the HTTP endpoint, and the whole-run dump.
    package static var openWindows: Int { Recorder.shared.aggregator.openWindowCount }

    /// Events folded since the process started (only counted while something records).
    package static var eventsRecorded: UInt64 { Recorder.shared.aggregator.totalsNow.folded }

    /// The call tree's size, its limit (`PPROF_MAX_NODES`), and whether it is full.
    package static var callTree: (nodes: Int, limit: Int, full: Bool) { Recorder.shared.aggregator.treeSize }

    /// Bytes the call tree holds (its node arrays and child tables), which grow with the call
    /// paths and CPU samples' leaves it keeps, up to its limit: tests of memory growth take it
    /// apart from leaks.
    package static var callTreeBytes: Int { Recorder.shared.aggregator.treeBytes }

    /// Events lost to full rings since the process started.
    package static var eventsDropped: UInt64 { Recorder.shared.aggregator.totalsNow.dropped }
}
