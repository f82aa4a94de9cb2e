import Pprof
import PprofReportCore
import PprofTestKit
import Testing

/// What pprof-report prints, checked figure by figure on a profile of known counts, through
/// its pprof bytes as the tool reads them.
@Suite struct ReportCoreTests {
    static func decoded(_ profile: Profile) throws -> DecodedProfile {
        try ProfileSource.decode(profile.pprof(), from: "fixture")
    }

    /// The row of `table` whose last column is `name`, split into columns.
    static func row(_ table: String, _ name: String) -> [String]? {
        table.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.last == name }
    }

    @Test func theReportOfADecodedProfileIsTheRecordedProfilesReport() throws {
        for mode in Profile.Mode.allCases {
            let profile = ReportFixtures.nested(mode: mode)
            let report = Profile(decoded: try Self.decoded(profile)).report()
            #expect(report == profile.report(), "\(mode)")
        }
        let report = Profile(decoded: try Self.decoded(ReportFixtures.nested())).report()
        let parse = report.split(separator: "\n").first { $0.hasPrefix("* parse ") }
        // CNT, ACC, ACC %, OWN, OWN %, ACC/CALL (percentages and time per call: issue 13).
        #expect(
            parse?.split(separator: " ") == ["*", "parse", "4", "4.000", "34.48%", "4.000", "34.48%", "1000.000"],
            "\(report)"
        )
        #expect(report.contains("events dropped: 3"))
        #expect(report.contains("misuse: stale exits: 2, wrong-thread exits: 1"))
    }

    @Test func topCountsFlatAndCumPerFunction() throws {
        let top = try TopTable.render(try Self.decoded(ReportFixtures.nested()), sampleType: "calls")
        #expect(top.hasPrefix("sample type: calls (count), total 10\n"))
        #expect(Self.row(top, "parse") == ["4", "40.00%", "40.00%", "4", "40.00%", "parse"])
        #expect(Self.row(top, "a") == ["3", "30.00%", "70.00%", "3", "30.00%", "a"])
        #expect(Self.row(top, "work") == ["2", "20.00%", "90.00%", "5", "50.00%", "work"])
        #expect(Self.row(top, "main") == ["1", "10.00%", "100.00%", "7", "70.00%", "main"])
        #expect(Self.row(top, "idle") == nil)
    }

    @Test func topShowsWallInMillisecondsByDefaultAndCutsAtCount() throws {
        let top = try TopTable.render(try Self.decoded(ReportFixtures.nested()), sampleType: nil, count: 2)
        #expect(top.hasPrefix("sample type: wall (nanoseconds), total 11.600ms\nshowing the top 2 of 4 functions\n"))
        #expect(Self.row(top, "work") == ["5.000ms", "43.10%", "43.10%", "8.000ms", "68.97%", "work"])
        #expect(Self.row(top, "parse") == ["4.000ms", "34.48%", "77.59%", "4.000ms", "34.48%", "parse"])
        #expect(Self.row(top, "main") == nil)
    }

    @Test func foldedHasOneLinePerStack() throws {
        let decoded = try Self.decoded(ReportFixtures.nested())
        let calls = try FoldedLines.render(decoded, sampleType: "calls")
        #expect(
            calls.split(separator: "\n").sorted()
                == ["a 1", "a;a 1", "a;a;a 1", "main 1", "main;parse 1", "main;work 2", "main;work;parse 3"]
        )
        let wall = try FoldedLines.render(decoded, sampleType: "wall")
        #expect(wall.contains("main;work;parse 3000000\n"))
        #expect(wall.contains("a;a;a 300000\n"))
    }

    @Test func diffGivesEachSideAndTheChange() throws {
        let base = try Self.decoded(ReportFixtures.nested())
        let new = try Self.decoded(ReportFixtures.nested(parseUnderWork: 6))
        let diff = try DiffTable.render(base: base, new: new, sampleType: "calls")
        #expect(diff.hasPrefix("sample type: calls (count), total 10 -> 13 (+3)\n"))
        let lines = diff.split(separator: "\n")
        // Sorted by the flat change: parse first (after the durations line and the header).
        #expect(lines[3].hasSuffix("parse"))
        #expect(Self.row(diff, "parse") == ["4", "4", "7", "7", "+3", "+3", "parse"])
        #expect(Self.row(diff, "work") == ["2", "5", "2", "8", "0", "+3", "work"])
        #expect(Self.row(diff, "a") == ["3", "3", "3", "3", "0", "0", "a"])
        let wall = try DiffTable.render(base: new, new: base, sampleType: "wall")
        #expect(Self.row(wall, "parse")?.suffix(3) == ["-3.000ms", "-3.000ms", "parse"])
    }

    @Test func badInputIsOneClearFailure() throws {
        #expect(throws: ReportFailure("cannot read /no/such/file.pb.gz: No such file or directory")) {
            try ProfileSource.load("/no/such/file.pb.gz")
        }
        #expect(throws: ReportFailure("x: not a pprof profile: it has no sample types")) {
            try ProfileSource.decode([], from: "x")
        }
        #expect(throws: ReportFailure.self) { try ProfileSource.decode(Array("hello".utf8), from: "x") }
        #expect(throws: ReportFailure.self) { try ProfileSource.decode([0x1F, 0x8B, 1, 2, 3], from: "x") }
        let decoded = try Self.decoded(ReportFixtures.nested(mode: .cprof))
        #expect(throws: ReportFailure("no sample type 'wall' in this profile (it has: calls)")) {
            try TopTable.render(decoded, sampleType: "wall")
        }
    }

    @Test func plainProtobufIsReadAsGzip() throws {
        let profile = ReportFixtures.nested()
        let plain = try ProfileSource.decode(profile.pprofMessage(), from: "plain")
        #expect(
            try FoldedLines.render(plain, sampleType: "calls")
                == FoldedLines.render(try Self.decoded(profile), sampleType: "calls")
        )
    }
}
