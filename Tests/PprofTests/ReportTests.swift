import Pprof
import Testing

@Suite struct ReportTests {
    @Test func nestedAndRecursiveReport() {
        // ACC of main = 2 + 5 + 3 + 1 ms; of a = 0.1 + 0.2 + 0.3 ms (its subtree once, not once
        // per frame of the recursion). The recursive edge a→a takes its outermost subtree: 0.5 ms.
        let expected = """
            mode: fprof (full call paths; calls and own wall time per path)
            duration: 12.000 ms
            total calls: 10
            total own time: 11.600 ms
            events dropped: 3 (a thread's ring buffer was full)
            misuse: stale exits: 2, wrong-thread exits: 1

            CNT: calls. ACC: time in the function and what it called, recursion counted once.
            OWN: time in the function itself. %: of the total own time. ACC/CALL: ACC per call.
            Callers above each * line, callees below.

                        CNT   ACC (ms)    ACC %   OWN (ms)    OWN %   ACC/CALL (µs)
              (root)      1     11.000   94.83%      2.000   17.24%       11000.000
            * main        1     11.000   94.83%      2.000   17.24%       11000.000
                work      2      8.000   68.97%      5.000   43.10%        4000.000
                parse     1      1.000    8.62%      1.000    8.62%        1000.000

              main        2      8.000   68.97%      5.000   43.10%        4000.000
            * work        2      8.000   68.97%      5.000   43.10%        4000.000
                parse     3      3.000   25.86%      3.000   25.86%        1000.000

              work        3      3.000   25.86%      3.000   25.86%        1000.000
              main        1      1.000    8.62%      1.000    8.62%        1000.000
            * parse       4      4.000   34.48%      4.000   34.48%        1000.000

              (root)      1      0.600    5.17%      0.100    0.86%         600.000
              a           2      0.500    4.31%      0.500    4.31%         250.000
            * a           3      0.600    5.17%      0.600    5.17%         200.000
                a         2      0.500    4.31%      0.500    4.31%         250.000

            """
        #expect(EncodingFixtures.nested.report() == expected)
    }

    @Test func mutualRecursionCountsEachPathOncePerFunctionAndEdge() {
        // a(1) → b(2) → a(4) → b(8): ACC a = 15, ACC b = 2 + 4 + 8 = 14; edge a→b outermost at
        // the first b (14), edge b→a at the second a (12).
        let expected = """
            mode: fprof (full call paths; calls and own wall time per path)
            duration: 20.000 ms
            total calls: 4
            total own time: 15.000 ms

            CNT: calls. ACC: time in the function and what it called, recursion counted once.
            OWN: time in the function itself. %: of the total own time. ACC/CALL: ACC per call.
            Callers above each * line, callees below.

                       CNT   ACC (ms)     ACC %   OWN (ms)    OWN %   ACC/CALL (µs)
              (root)     1     15.000   100.00%      1.000    6.67%       15000.000
              b          1     12.000    80.00%      4.000   26.67%       12000.000
            * a          2     15.000   100.00%      5.000   33.33%        7500.000
                b        2     14.000    93.33%     10.000   66.67%        7000.000

              a          2     14.000    93.33%     10.000   66.67%        7000.000
            * b          2     14.000    93.33%     10.000   66.67%        7000.000
                a        1     12.000    80.00%      4.000   26.67%       12000.000

            """
        #expect(EncodingFixtures.mutual.report() == expected)
    }

    @Test func cprofReportShowsCountsOnly() {
        let expected = """
            mode: cprof (call counts along full call paths; no clock read)
            duration: 5.000 ms
            total calls: 7

            CNT: calls. CNT %: of the total calls. Callers above each * line, callees below.

                       CNT    CNT %
              main       5   71.43%
              work       1   14.29%
            * work       6   85.71%
                work     1   14.29%

              (root)     1   14.29%
            * main       1   14.29%
                work     5   71.43%

            """
        #expect(EncodingFixtures.cprof.report() == expected)
    }

    @Test func eprofReportIsFlat() {
        let report = EncodingFixtures.eprof.report()
        #expect(report.hasPrefix("mode: eprof (flat per function; calls and own wall time)\n"))
        #expect(report.contains("total own time: 0.035 ms\n"))
        // A flat table (issue 13): no (root) callers, no ACC; by OWN, with its share and per call.
        #expect(!report.contains("(root)") && !report.contains("ACC"))
        #expect(
            report.hasSuffix(
                """
                CNT   OWN (ms)    OWN %   OWN/CALL (µs)
                  3      0.025   71.43%           8.333   y
                  1      0.010   28.57%          10.000   x

                """
            )
        )
    }

    @Test func functionsSharingANameAreToldApartByCallSite() {
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: 1,
            durationNanoseconds: 1_000_000,
            functions: [
                Profile.Function(name: "load", file: "App/A.swift", line: 3),
                Profile.Function(name: "load", file: "App/B.swift", line: 9),
            ],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 2_000),
                .init(parent: 0, function: 1, calls: 4, ownNanoseconds: 1_000),
            ],
            statistics: Profile.Statistics()
        )
        let lines = profile.report().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(
            lines.contains("* load (App/A.swift:3)       1      0.003   100.00%      0.002   66.67%           3.000")
        )
        #expect(
            lines.contains("    load (App/B.swift:9)     4      0.001    33.33%      0.001   33.33%           0.250")
        )
    }
}

@Suite struct FoldedStacksTests {
    @Test func oneLinePerNodeWithOwnTime() {
        #expect(
            EncodingFixtures.nested.folded() == """
                main 2000000
                main;work 5000000
                main;work;parse 3000000
                main;parse 1000000
                a 100000
                a;a 200000
                a;a;a 300000

                """
        )
    }

    @Test func cprofShowsCallsAndEprofOneFrame() {
        #expect(EncodingFixtures.cprof.folded() == "main 1\nmain;work 5\nmain;work;work 1\n")
        #expect(EncodingFixtures.eprof.folded() == "x 10000\ny 25000\n")
    }

    @Test func separatorsInNamesAreEscaped() {
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: 1,
            durationNanoseconds: 1,
            functions: [
                Profile.Function(name: "outer;x", file: "F.swift", line: 1),
                Profile.Function(name: "line\nbreak\\\r\u{2028}", file: "F.swift", line: 2),
            ],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 0),
                .init(parent: 0, function: 1, calls: 1, ownNanoseconds: 7),
            ],
            statistics: Profile.Statistics()
        )
        #expect(profile.folded() == #"outer\x3bx;line\nbreak\\\r\u{2028} 7"# + "\n")
    }
}
