import Pprof
import PprofReportCore
import PprofTestKit
import Testing

/// What issue 13 asked of pprof-report's views, figure by figure on profiles of known counts:
/// a threads profile read as threads, eprof as a flat table, the report's percentages and time
/// per call, and diff's durations and rates.
@Suite struct ReportViewsTests {
    static func decoded(_ profile: Profile) throws -> DecodedProfile {
        try ProfileSource.decode(profile.pprof(), from: "fixture")
    }

    /// Each line of `text` split at spaces, the first whose last word is `name` (or whose words
    /// start with `prefix`).
    static func row(_ text: String, _ name: String) -> [String]? {
        text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.last == name }
    }

    static func row(_ text: String, startingWith prefix: [String]) -> [String]? {
        text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first {
            $0.starts(with: prefix)
        }
    }

    @Test func aThreadsProfileIsReadAsThreads() throws {
        let profile = try ProfileSource.decode(ReportFixtures.threadsProfile, from: "threads")
        #expect(ThreadsReport.recognizes(profile))
        #expect(!ThreadsReport.recognizes(try Self.decoded(ReportFixtures.nested())))
        let text = try ProfileReport.render(profile)
        #expect(!text.contains("mode:") && !text.contains("total calls"), "\(text)")
        #expect(
            text.hasPrefix(
                """
                threads profile: 3 threads inside a scope, 2 stacks

                2 threads: "worker" (4211), "worker" (4212)
                    handle
                    serve
                    labels: route=/users/:id

                1 thread: "acceptor" (4213)
                    serve

                sample type: threads (count), total 3

                """
            ),
            "\(text)"
        )
        // Then the top table: functions by the threads inside them.
        let top = try #require(text.components(separatedBy: "sample type: ").last)
        #expect(Self.row(top, "handle") == ["2", "66.67%", "66.67%", "2", "66.67%", "handle"], "\(text)")
        #expect(Self.row(top, "serve") == ["1", "33.33%", "100.00%", "3", "100.00%", "serve"], "\(text)")
    }

    @Test func theReportHasPercentagesAndTimePerCall() throws {
        // Total own time 11.6 ms. parse: 4 calls, ACC = OWN = 4 ms (34.48%), 1 ms a call; main:
        // ACC 11 ms (94.83%), OWN 2 ms (17.24%), one call of 11 ms.
        let report = try ProfileReport.render(try Self.decoded(ReportFixtures.nested()))
        #expect(report.contains("   CNT   ACC (ms)    ACC %   OWN (ms)    OWN %   ACC/CALL (µs)\n"), "\(report)")
        #expect(
            Self.row(report, startingWith: ["*", "parse"])
                == ["*", "parse", "4", "4.000", "34.48%", "4.000", "34.48%", "1000.000"],
            "\(report)"
        )
        #expect(
            Self.row(report, startingWith: ["*", "main"])
                == ["*", "main", "1", "11.000", "94.83%", "2.000", "17.24%", "11000.000"]
        )
        // The edge work → parse: 3 calls, 3 ms, 1 ms a call.
        #expect(
            Self.row(report, startingWith: ["work", "3"]) == [
                "work", "3", "3.000", "25.86%", "3.000", "25.86%", "1000.000",
            ]
        )
        // cprof: counts and their share of the 10 calls.
        let cprof = try ProfileReport.render(try Self.decoded(ReportFixtures.nested(mode: .cprof)))
        #expect(Self.row(cprof, startingWith: ["*", "parse"]) == ["*", "parse", "4", "40.00%"], "\(cprof)")
    }

    @Test func eprofIsOneFlatTable() throws {
        let report = try ProfileReport.render(try Self.decoded(ReportFixtures.nested(mode: .eprof)))
        #expect(!report.contains("(root)") && !report.contains("ACC") && !report.contains("* "), "\(report)")
        let table = report.components(separatedBy: "\n\n").last ?? ""
        let rows = table.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(
            rows == [
                ["CNT", "OWN", "(ms)", "OWN", "%", "OWN/CALL", "(µs)"],
                ["2", "5.000", "43.10%", "2500.000", "work"],
                ["4", "4.000", "34.48%", "1000.000", "parse"],
                ["1", "2.000", "17.24%", "2000.000", "main"],
                ["3", "0.600", "5.17%", "200.000", "a"],
            ],
            "\(report)"
        )
        #expect(report.hasPrefix("mode: eprof (flat per function; calls and own wall time)\nduration: 12.000 ms\n"))
    }

    /// `nested` with CPU samples at 100 Hz: main 1 in itself, parse 3 under work (one of them
    /// in a native leaf `hash` below it). The report's CPU column is sampled CPU with what a
    /// function called (eprof: in itself); `top` reads the cpu type by name.
    @Test func aSampledProfileHasACPUColumn() throws {
        let profile = Self.sampled(.fprof)
        let decoded = try Self.decoded(profile)
        #expect(decoded.sampleTypeNames == ["calls/count", "wall/nanoseconds", "samples/count", "cpu/nanoseconds"])
        let report = try ProfileReport.render(decoded)
        #expect(report.contains("cpu samples: 4 at 100 Hz\n"), "\(report)")
        #expect(report.contains("ACC/CALL (µs)   CPU (ms)\n"), "\(report)")
        #expect(
            Self.row(report, startingWith: ["*", "main"])
                == ["*", "main", "1", "11.000", "94.83%", "2.000", "17.24%", "11000.000", "40.000"],
            "\(report)"
        )
        #expect(
            Self.row(report, startingWith: ["*", "parse"])
                == ["*", "parse", "4", "4.000", "34.48%", "4.000", "34.48%", "1000.000", "30.000"]
        )
        // The native leaf: no call, no wall, its CPU.
        #expect(
            Self.row(report, startingWith: ["*", "hash"])
                == ["*", "hash", "0", "0.000", "0.00%", "0.000", "0.00%", "-", "10.000"]
        )
        let top = try TopTable.render(decoded, sampleType: "cpu")
        #expect(top.hasPrefix("sample type: cpu (nanoseconds), total 40.000ms\n"), "\(top)")
        #expect(Self.row(top, "parse") == ["20.000ms", "50.00%", "50.00%", "30.000ms", "75.00%", "parse"], "\(top)")
        // eprof: CPU in the function itself.
        let eprof = try ProfileReport.render(try Self.decoded(Self.sampled(.eprof)))
        #expect(Self.row(eprof, "parse") == ["4", "4.000", "34.48%", "1000.000", "20.000", "parse"], "\(eprof)")
        #expect(Self.row(eprof, "hash") == ["0", "0.000", "0.00%", "-", "10.000", "hash"], "\(eprof)")
    }

    static func sampled(_ mode: Profile.Mode) -> Profile {
        var profile = ReportFixtures.nested(mode: mode)
        profile.statistics.cpuHz = 100
        profile.statistics.cpuSamples = 4
        profile.functions.append(ReportFixtures.function("hash", line: 60))
        profile.nodes[0].values.cpuSamples = 1
        profile.nodes[0].values.cpuNanoseconds = 10_000_000
        profile.nodes[2].values.cpuSamples = 2
        profile.nodes[2].values.cpuNanoseconds = 20_000_000
        profile.nodes.append(
            Profile.Node(
                parent: 2,
                function: Int32(profile.functions.count - 1),
                values: Measurements(cpuSamples: 1, cpuNanoseconds: 10_000_000)
            )
        )
        return profile
    }

    @Test func diffShowsDurationsAndNormalizesToRates() throws {
        // base: 10 calls in 12 ms; new: 13 calls in 24 ms (parse under work 6 times).
        let base = try Self.decoded(ReportFixtures.nested())
        let new = try Self.decoded(ReportFixtures.nested(parseUnderWork: 6, duration: 24_000_000))
        let plain = try DiffTable.render(base: base, new: new, sampleType: "calls")
        #expect(plain.split(separator: "\n")[1] == "duration: base 0.012 s, new 0.024 s", "\(plain)")
        #expect(Self.row(plain, "parse") == ["4", "4", "7", "7", "+3", "+3", "parse"])

        let rates = try DiffTable.render(base: base, new: new, sampleType: "calls", normalize: true)
        #expect(
            rates.hasPrefix("sample type: calls (count per second), total 833.3/s -> 541.7/s (-291.7/s)\n"),
            "\(rates)"
        )
        #expect(rates.contains("duration: base 0.012 s, new 0.024 s; values per second of each profile's duration\n"))
        // parse: 4 in 12 ms = 333.3/s; 7 in 24 ms = 291.7/s.
        #expect(
            Self.row(rates, "parse") == ["333.3/s", "333.3/s", "291.7/s", "291.7/s", "-41.7/s", "-41.7/s", "parse"],
            "\(rates)"
        )
        // work: flat 2 → 166.7/s and 83.3/s, cum 5 → 416.7/s and 8 → 333.3/s.
        #expect(Self.row(rates, "work") == ["166.7/s", "416.7/s", "83.3/s", "333.3/s", "-83.3/s", "-83.3/s", "work"])
        let wall = try DiffTable.render(base: base, new: new, sampleType: "wall", normalize: true)
        #expect(Self.row(wall, "parse")?.prefix(3) == ["333.333ms/s", "333.333ms/s", "291.667ms/s"], "\(wall)")

        var timeless = new
        timeless.durationNanos = 0
        #expect(throws: ReportFailure("--normalize needs each profile's duration, and the new profile has none")) {
            try DiffTable.render(base: base, new: timeless, sampleType: "calls", normalize: true)
        }
        #expect(try DiffTable.render(base: base, new: timeless, sampleType: "calls").contains(", new unknown\n"))
    }

    /// The statistics the report prints are the statistics line's, not the English: a profile
    /// whose English comments lie still reports what the line says.
    @Test func statisticsComeFromTheStatisticsLineNotTheEnglish() throws {
        var decoded = try Self.decoded(ReportFixtures.nested())
        let lie = Int64(decoded.stringTable.count)
        decoded.stringTable.append("events dropped: 999 (a thread's ring buffer was full)")
        decoded.commentIndices =
            decoded.commentIndices.filter { !decoded.string($0).hasPrefix("events dropped") } + [lie]
        let report = try ProfileReport.render(decoded)
        #expect(report.contains("events dropped: 3 ("), "\(report)")
        #expect(!report.contains("999"))
    }
}
