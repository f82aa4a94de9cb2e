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
    /// of `go tool pprof -comments` (and the header of every text report) can judge the numbers
    /// (one string per line). A clean profile has two lines: the figures for a person, then the
    /// same figures for programs (`statisticsLine`, which `pprof-report` reads back, never the
    /// English). Anything lost or misused adds one line each, only when it is not zero:
    ///
    /// ```
    /// fprof profile: 2048 events, 2 threads, clock tsc, hook pair 26.1 ns (full call paths; …)
    /// swift-pprof: mode=fprof events=2048 dropped=3 stale=2 … clock=tsc hookpair_ns=26.06 …
    /// events dropped: 3 (a thread's ring buffer was full)
    /// stale exits: 2 (a token exited twice, or after an enclosing scope had closed it; ignored)
    /// ```
    package var commentLines: [String] {
        [figuresLine, statisticsLine] + lossLines
    }

    /// The one human line of figures: mode, events, threads, clock, hook cost, call tree size.
    package var figuresLine: String {
        let threads = statistics.threads
        var figures = ["\(statistics.eventsRecorded) events", "\(threads) thread\(threads == 1 ? "" : "s")"]
        if statistics.clockSource != "none" { figures.append("clock \(statistics.clockSource)") }
        if statistics.hookPairNanoseconds > 0 {
            figures.append("hook pair \(FixedPoint.format(statistics.hookPairNanoseconds, decimals: 1)) ns")
        } else {
            figures.append("hook pair not measured")
        }
        if statistics.callTreeNodeLimit > 0 {
            figures.append("call tree \(statistics.callTreeNodes) of \(statistics.callTreeNodeLimit) nodes")
        }
        if statistics.cpuHz > 0 {
            // Each sample stands for a period of its thread's CPU time: cpu is an estimate.
            figures.append(
                "cpu sampled at \(statistics.cpuHz) Hz: \(statistics.cpuSamples) samples"
                    + " (an estimate, \(FixedPoint.format(1000 / Double(statistics.cpuHz), decimals: 1)) ms each)"
            )
        }
        return "\(mode.rawValue) profile: " + figures.joined(separator: ", ") + " (\(mode.summary))"
    }

    /// One line per loss or misuse that is not zero, with a few words on what it means.
    package var lossLines: [String] {
        var lines: [String] = []
        if statistics.eventsDropped > 0 {
            lines.append("events dropped: \(statistics.eventsDropped) (a thread's ring buffer was full)")
        }
        for counter in statistics.misuse where counter.count > 0 {
            lines.append("\(counter.label): \(counter.count) (\(counter.meaning))")
        }
        if statistics.enteredBeforeRecording > 0 {
            lines.append(
                "entered before recording: \(statistics.enteredBeforeRecording)"
                    + " (exits of scopes already open when recording began)"
            )
        }
        if statistics.callTreeFull {
            lines.append(
                "call tree full: \(statistics.callTreeNodes) nodes, limit \(statistics.callTreeNodeLimit)"
                    + " (new call paths are counted under (call tree full))"
            )
        }
        if statistics.cpuOverruns > 0 {
            lines.append(
                "cpu overruns: \(statistics.cpuOverruns) (timer periods that expired before their signal came,"
                    + " counted with the next one)"
            )
        }
        if statistics.cpuSamplesDropped > 0 {
            lines.append("cpu samples dropped: \(statistics.cpuSamplesDropped) (a thread's sample ring was full)")
        }
        if !statistics.cpuUnavailable.isEmpty && mode != .cprof {
            lines.append("cpu not sampled: \(statistics.cpuUnavailable)")
        }
        if statistics.asyncPathsRefused > 0 {
            lines.append(
                "async paths refused: \(statistics.asyncPathsRefused)"
                    + " (the path table was full; those frames were counted in their parent's)"
            )
        }
        return lines
    }
}
