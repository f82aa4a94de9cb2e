extension Profile.Statistics {
    /// The counters of hook misuse, each with a few words on what it counts, in a fixed order.
    /// None of them corrupts the profile; each says that some scopes were timed differently
    /// from what the code seems to say.
    package var misuse: [(label: String, count: UInt64, meaning: String)] {
        [
            ("stale exits", staleExits, "a token exited twice, or after an enclosing scope had closed it; ignored"),
            ("wrong-thread exits", wrongThreadExits, "a token exited on a thread that did not enter it; ignored"),
            ("implicitly closed", implicitlyClosed, "scopes closed by an enclosing scope's exit before their own"),
            ("open at thread exit", openAtThreadExit, "scopes still open when their thread ended"),
        ]
    }
}

extension Profile.Mode {
    /// One line on what a profile of this mode holds.
    package var summary: String {
        switch self {
        case .fprof: return "full call paths; calls and own wall time per path"
        case .eprof: return "flat per function; calls and own wall time"
        case .cprof: return "call counts along full call paths; no clock read"
        }
    }
}

extension Profile {
    /// The pprof comments: how the profile was recorded and what was lost, so that a reader
    /// of `go tool pprof -comments` can judge the numbers (one string per line).
    ///
    /// ```
    /// mode: fprof (full call paths; calls and own wall time per path)
    /// swift-pprof: mode=fprof events=2048 dropped=0 stale=0 … clock=tsc hookpair_ns=26.06 …
    /// events: 2048 recorded, 0 dropped (a thread's ring buffer was full)
    /// stale exits: 0 (a token exited twice, or after an enclosing scope had closed it; ignored)
    /// …
    /// hook pair cost: 26.1 ns (measured at start-up)
    /// ```
    ///
    /// The second line holds the same figures for programs (`statisticsLine`): `pprof-report`
    /// reads that one back, never the English.
    package var commentLines: [String] {
        var lines = [
            "mode: \(mode.rawValue) (\(mode.summary))",
            statisticsLine,
            "events: \(statistics.eventsRecorded) recorded, \(statistics.eventsDropped) dropped"
                + " (a thread's ring buffer was full)",
        ]
        for counter in statistics.misuse {
            lines.append("\(counter.label): \(counter.count) (\(counter.meaning))")
        }
        lines.append(
            "entered before recording: \(statistics.enteredBeforeRecording)"
                + " (exits of scopes already open when recording began)"
        )
        lines.append("threads: \(statistics.threads)")
        if statistics.callTreeNodeLimit > 0 {
            lines.append(
                "call tree: \(statistics.callTreeNodes) nodes, limit \(statistics.callTreeNodeLimit)"
                    + (statistics.callTreeFull ? " (full: new call paths are counted under (call tree full))" : "")
            )
        }
        if statistics.asyncPathsRefused > 0 {
            lines.append(
                "async paths refused: \(statistics.asyncPathsRefused)"
                    + " (the path table was full; those frames were counted in their parent's)"
            )
        }
        lines.append("clock source: \(statistics.clockSource)")
        if statistics.hookPairNanoseconds > 0 {
            let cost = FixedPoint.format(statistics.hookPairNanoseconds, decimals: 1)
            lines.append("hook pair cost: \(cost) ns (measured at start-up)")
        } else {
            lines.append("hook pair cost: not measured")
        }
        return lines
    }
}
