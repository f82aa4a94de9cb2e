import Foundation
import Pprof
import PprofTestSupport
import Testing

/// The built pprof-report executable, run as a child process on a file.
@Suite struct ReportToolTests {
    static var tool: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "pprof-report"
        )
    }

    static func run(_ arguments: [String]) throws -> ChildProcess.Run {
        try ChildProcess.run(tool.path, arguments)
    }

    @Test func printsTopOfAFileAndFailsCleanlyOnAMissingOne() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pprof-report-\(UUID().uuidString).pb.gz"
        )
        try Data(ReportFixtures.nested().pprof()).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }

        let top = try Self.run(["top", "--sample-index", "calls", path.path])
        #expect(top.status == 0, "\(top.stderr)")
        let parse = top.stdout.split(separator: "\n").first { $0.hasSuffix(" parse") }
        #expect(parse?.split(separator: " ") == ["4", "40.00%", "40.00%", "4", "40.00%", "parse"], "\(top.stdout)")

        let report = try Self.run(["report", path.path])
        #expect(report.status == 0)
        #expect(report.stdout == ReportFixtures.nested().report())

        let threadsPath = path.path + ".threads.pb.gz"
        try Data(ReportFixtures.threadsProfile).write(to: URL(fileURLWithPath: threadsPath))
        defer { try? FileManager.default.removeItem(atPath: threadsPath) }
        let threads = try Self.run(["report", threadsPath])
        #expect(threads.status == 0, "\(threads.stderr)")
        #expect(threads.stdout.hasPrefix("threads profile: 3 threads inside a scope, 2 stacks\n"), "\(threads.stdout)")
        #expect(!threads.stdout.contains("total calls"))

        let longerPath = path.path + ".longer.pb.gz"
        try Data(ReportFixtures.nested(duration: 24_000_000).pprof()).write(to: URL(fileURLWithPath: longerPath))
        defer { try? FileManager.default.removeItem(atPath: longerPath) }
        let diff = try Self.run(["diff", "--normalize", "--sample-index", "calls", path.path, longerPath])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("duration: base 0.012 s, new 0.024 s; values per second"), "\(diff.stdout)")
        let parseRates = diff.stdout.split(separator: "\n").first { $0.hasSuffix(" parse") }
        #expect(
            parseRates?.split(separator: " ").prefix(5) == ["333.3/s", "333.3/s", "166.7/s", "166.7/s", "-166.7/s"]
        )

        let missing = path.path + ".missing"
        let failed = try Self.run(["folded", missing])
        #expect(failed.status == 1)
        #expect(failed.stdout == "")
        #expect(failed.stderr == "pprof-report: cannot read \(missing): No such file or directory\n")
    }
}
