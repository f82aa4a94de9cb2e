import Pprof

/// Hand-built profiles whose every figure is known, shared by the encoding and report tests.
enum EncodingFixtures {
    static let start: UInt64 = 1_700_000_000_000_000_000

    static func statistics(threads: Int = 2, clock: String = "tsc") -> Profile.Statistics {
        var statistics = Profile.Statistics()
        statistics.eventsRecorded = 28
        statistics.eventsDropped = 3
        statistics.staleExits = 2
        statistics.wrongThreadExits = 1
        statistics.threads = threads
        statistics.clockSource = clock
        statistics.hookPairNanoseconds = 26.06
        return statistics
    }

    static func function(_ name: String, line: Int) -> Profile.Function {
        Profile.Function(name: name, systemName: "App.\(name)()", file: "App/\(name).swift", line: line)
    }

    /// Two roots: `main` (nesting, and `parse` reached two ways) and `a` (recursion a→a→a).
    /// `idle` has a node with no value, so it must not be emitted. Times in nanoseconds:
    ///
    ///     main      1 call   own 2 ms
    ///       work    2 calls  own 5 ms
    ///         parse 3 calls  own 3 ms
    ///       parse   1 call   own 1 ms
    ///     a         1 call   own 0.1 ms
    ///       a       1 call   own 0.2 ms
    ///         a     1 call   own 0.3 ms
    ///     idle      0 calls  own 0
    static var nested: Profile {
        Profile(
            mode: .fprof,
            startWallNanoseconds: start,
            durationNanoseconds: 12_000_000,
            functions: [
                function("main", line: 10), function("work", line: 20), function("idle", line: 30),
                function("parse", line: 40), function("a", line: 50),
            ],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 2_000_000),
                .init(parent: 0, function: 1, calls: 2, ownNanoseconds: 5_000_000),
                .init(parent: 1, function: 3, calls: 3, ownNanoseconds: 3_000_000),
                .init(parent: 0, function: 3, calls: 1, ownNanoseconds: 1_000_000),
                .init(parent: -1, function: 4, calls: 1, ownNanoseconds: 100_000),
                .init(parent: 4, function: 4, calls: 1, ownNanoseconds: 200_000),
                .init(parent: 5, function: 4, calls: 1, ownNanoseconds: 300_000),
                .init(parent: -1, function: 2, calls: 0, ownNanoseconds: 0),
            ],
            statistics: statistics()
        )
    }

    /// Mutual recursion a→b→a→b, own times 1, 2, 4, 8 ms.
    static var mutual: Profile {
        Profile(
            mode: .fprof,
            startWallNanoseconds: start,
            durationNanoseconds: 20_000_000,
            functions: [function("a", line: 1), function("b", line: 2)],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 1_000_000),
                .init(parent: 0, function: 1, calls: 1, ownNanoseconds: 2_000_000),
                .init(parent: 1, function: 0, calls: 1, ownNanoseconds: 4_000_000),
                .init(parent: 2, function: 1, calls: 1, ownNanoseconds: 8_000_000),
            ],
            statistics: Profile.Statistics()
        )
    }

    /// eprof as the aggregator may hand it over, not yet flat: x, x→y, y.
    static var eprof: Profile {
        Profile(
            mode: .eprof,
            startWallNanoseconds: start,
            durationNanoseconds: 0,
            functions: [function("x", line: 1), function("y", line: 2)],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 10_000),
                .init(parent: 0, function: 1, calls: 2, ownNanoseconds: 20_000),
                .init(parent: -1, function: 1, calls: 1, ownNanoseconds: 5_000),
            ],
            statistics: statistics(threads: 1, clock: "monotonic")
        )
    }

    /// cprof: counts only, main→work→work.
    static var cprof: Profile {
        var statistics = Profile.Statistics()
        statistics.eventsRecorded = 14
        statistics.threads = 1
        return Profile(
            mode: .cprof,
            startWallNanoseconds: start,
            durationNanoseconds: 5_000_000,
            functions: [function("main", line: 1), function("work", line: 2)],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 0),
                .init(parent: 0, function: 1, calls: 5, ownNanoseconds: 0),
                .init(parent: 1, function: 1, calls: 1, ownNanoseconds: 0),
            ],
            statistics: statistics
        )
    }
}
