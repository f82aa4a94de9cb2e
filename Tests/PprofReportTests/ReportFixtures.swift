import Pprof

/// A hand-built profile whose every figure is known (the `nested` profile of the encoding
/// tests), and a changed copy of it for diffs. Times in nanoseconds:
///
///     main      1 call   own 2 ms
///       work    2 calls  own 5 ms
///         parse 3 calls  own 3 ms
///       parse   1 call   own 1 ms
///     a         1 call   own 0.1 ms
///       a       1 call   own 0.2 ms
///         a     1 call   own 0.3 ms
///     idle      0 calls  own 0
enum ReportFixtures {
    static func function(_ name: String, line: Int) -> Profile.Function {
        Profile.Function(name: name, systemName: "App.\(name)()", file: "App/\(name).swift", line: line)
    }

    static var statistics: Profile.Statistics {
        var statistics = Profile.Statistics()
        statistics.eventsRecorded = 28
        statistics.eventsDropped = 3
        statistics.staleExits = 2
        statistics.wrongThreadExits = 1
        statistics.threads = 2
        statistics.clockSource = "tsc"
        statistics.hookPairNanoseconds = 26.06
        return statistics
    }

    /// `nested`, or with `parseUnderWork` calls (and as many ms) of parse under work, over a
    /// window of `duration` nanoseconds.
    static func nested(
        mode: Profile.Mode = .fprof,
        parseUnderWork: UInt64 = 3,
        duration: UInt64 = 12_000_000
    ) -> Profile {
        Profile(
            mode: mode,
            startWallNanoseconds: 1_700_000_000_000_000_000,
            durationNanoseconds: duration,
            functions: [
                function("main", line: 10), function("work", line: 20), function("idle", line: 30),
                function("parse", line: 40), function("a", line: 50),
            ],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 2_000_000),
                .init(parent: 0, function: 1, calls: 2, ownNanoseconds: 5_000_000),
                .init(parent: 1, function: 3, calls: parseUnderWork, ownNanoseconds: parseUnderWork * 1_000_000),
                .init(parent: 0, function: 3, calls: 1, ownNanoseconds: 1_000_000),
                .init(parent: -1, function: 4, calls: 1, ownNanoseconds: 100_000),
                .init(parent: 4, function: 4, calls: 1, ownNanoseconds: 200_000),
                .init(parent: 5, function: 4, calls: 1, ownNanoseconds: 300_000),
                .init(parent: -1, function: 2, calls: 0, ownNanoseconds: 0),
            ],
            statistics: statistics
        )
    }
}

extension ReportFixtures {
    /// Three threads in `Threads.pprof`'s profile: two in serve → handle under the same labels,
    /// one in serve alone. Kernel ids 4211 to 4213.
    static var threadsProfile: [UInt8] {
        func frame(_ name: String, _ line: Int) -> Threads.Frame {
            Threads.Frame(name: name, file: "App/Server.swift", line: line, openNanoseconds: 1_000_000)
        }
        let handling = [frame("serve", 10), frame("handle", 20)]
        return Threads.pprof(threads: [
            Threads.Thread(id: 1, kernelID: 4211, name: "worker", frames: handling, labels: ["route": "/users/:id"]),
            Threads.Thread(id: 2, kernelID: 4212, name: "worker", frames: handling, labels: ["route": "/users/:id"]),
            Threads.Thread(id: 3, kernelID: 4213, name: "acceptor", frames: [frame("serve", 10)]),
            Threads.Thread(id: 4, kernelID: 4214, name: "idle", frames: []),
        ])
    }
}
