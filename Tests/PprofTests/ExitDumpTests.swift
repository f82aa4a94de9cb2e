import Foundation
import PprofTestKit
import Testing

@testable import Pprof

/// PPROF_OUTPUT end to end: a child process (pprof-fixture) with known call counts, the file it
/// leaves, and how it ends.
@Suite struct ExitDumpTests {
    struct Run {
        var status: Int32
        var reason: Process.TerminationReason
        var stderr: String
    }

    static var fixture: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "pprof-fixture"
        )
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-exit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs the fixture in `mode` (with `arguments` after it); with `signal`, sends it once the
    /// fixture says it is recording.
    static func run(
        _ mode: String,
        _ arguments: [String] = [],
        environment: [String: String],
        signal: Int32? = nil
    ) throws -> Run {
        let process = Process()
        process.executableURL = fixture
        process.arguments = [mode] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let signal {
            let ready = out.fileHandleForReading.availableData
            #expect(String(decoding: ready, as: UTF8.self).hasPrefix("ready"))
            usleep(50_000)
            kill(process.processIdentifier, signal)
        }
        // A child that does not end is killed, so that a failure here fails instead of hanging.
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("pprof-fixture \(mode) did not end within 60 s; killed")
        }
        process.waitUntilExit()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        return Run(
            status: process.terminationStatus,
            reason: process.terminationReason,
            stderr: String(decoding: errors, as: UTF8.self)
        )
    }

    static func decode(_ url: URL) throws -> DecodedProfile {
        try DecodedProfile.decode(Array(try Data(contentsOf: url)))
    }

    @Test func aWholeRunIsWrittenAtExitWithExactCounts() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.run("workload", environment: ["PPROF_OUTPUT": dir.path + "/run-%p.pb.gz"])
        #expect(run.reason == .exit && run.status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files.count == 1, "\(files)")  // no temporary file left beside it
        let name = try #require(files.first)
        #expect(name.hasPrefix("run-") && name.hasSuffix(".pb.gz") && !name.contains("%p"))
        #expect(run.stderr.contains("wrote fprof profile to \(dir.path)/\(name)"))
        let profile = try Self.decode(dir.appendingPathComponent(name))
        #expect(profile.violations() == [])
        #expect(profile.value(path: ["fixture.outer"], type: "calls") == 160)
        #expect(profile.value(path: ["fixture.outer", "fixture.inner"], type: "calls") == 480)
        #expect(profile.defaultSampleType == "wall")
    }

    /// PPROF_THREAD_LABELS=1: each thread's samples carry its name; the fixture's four threads
    /// are unnamed, so each is "thread TID", and each ran 40 outer scopes.
    @Test func threadLabelsOnRequestNameEachThreadsSamples() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.run(
            "workload",
            environment: ["PPROF_OUTPUT": dir.path + "/t.pb.gz", "PPROF_THREAD_LABELS": "1"]
        )
        #expect(run.reason == .exit && run.status == 0, "\(run.stderr)")
        let profile = try Self.decode(dir.appendingPathComponent("t.pb.gz"))
        #expect(profile.violations() == [])
        var outerByThread: [String: Int64] = [:]
        var innerByThread: [String: Int64] = [:]
        for stack in profile.stacks {
            let thread = try #require(stack.labels["thread"], "\(stack.frames)")
            if stack.frames == ["fixture.outer"] { outerByThread[thread, default: 0] += stack.values[0] }
            if stack.frames == ["fixture.outer", "fixture.inner"] {
                innerByThread[thread, default: 0] += stack.values[0]
            }
        }
        #expect(outerByThread.count == 4, "\(outerByThread)")
        #expect(outerByThread.values.allSatisfy { $0 == 40 }, "\(outerByThread)")
        #expect(innerByThread.values.allSatisfy { $0 == 120 }, "\(innerByThread)")
        #expect(outerByThread.keys.allSatisfy { $0.hasPrefix("thread ") })

        // Off by default: no labels at all.
        let plain = try Self.run("workload", environment: ["PPROF_OUTPUT": dir.path + "/p.pb.gz"])
        #expect(plain.status == 0)
        #expect(try Self.decode(dir.appendingPathComponent("p.pb.gz")).stacks.allSatisfy { $0.labels.isEmpty })
    }

    /// PPROF_TRACE_OUTPUT: the whole run as a timeline at exit, beside or without PPROF_OUTPUT.
    @Test func aWholeRunTimelineIsWrittenAtExit() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.run(
            "workload",
            environment: ["PPROF_TRACE_OUTPUT": dir.path + "/trace-%p.json", "PPROF_OUTPUT": dir.path + "/run.pb.gz"]
        )
        #expect(run.reason == .exit && run.status == 0, "\(run.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.count == 2, "\(files)")
        let name = try #require(files.first { $0.hasPrefix("trace-") && $0.hasSuffix(".json") })
        #expect(run.stderr.contains("wrote a timeline of 640 events to \(dir.path)/\(name)"), "\(run.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name))) as? [String: Any]
        )
        let events = try #require(object["traceEvents"] as? [[String: Any]])
        let slices = events.filter { $0["ph"] as? String == "X" }
        #expect(slices.filter { $0["name"] as? String == "fixture.outer" }.count == 160)
        #expect(slices.filter { $0["name"] as? String == "fixture.inner" }.count == 480)
        #expect(Set(slices.compactMap { $0["tid"] as? Int }).count == 4)
        // The profile is written as before.
        #expect(
            try Self.decode(dir.appendingPathComponent("run.pb.gz")).value(path: ["fixture.outer"], type: "calls")
                == 160
        )

        // A small limit: the timeline says it was cut.
        let cut = try Self.run(
            "workload",
            environment: ["PPROF_TRACE_OUTPUT": dir.path + "/cut.json", "PPROF_TRACE_EVENTS": "100"]
        )
        #expect(cut.status == 0)
        #expect(cut.stderr.contains("(cut at its limit of events)"), "\(cut.stderr)")
        let bad = try Self.run(
            "workload",
            environment: ["PPROF_TRACE_OUTPUT": dir.path + "/b.json", "PPROF_TRACE_EVENTS": "lots"]
        )
        #expect(bad.status == 0)
        #expect(bad.stderr.contains("PPROF_TRACE_EVENTS=lots is not a number"))
    }

    @Test func pprofModeChoosesTheModeAndABadOneIsSaidAndIgnored() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let counts = try Self.run(
            "workload",
            environment: ["PPROF_OUTPUT": dir.path + "/c.pb.gz", "PPROF_MODE": "cprof"]
        )
        #expect(counts.status == 0)
        let cprof = try Self.decode(dir.appendingPathComponent("c.pb.gz"))
        #expect(cprof.sampleTypeNames == ["calls/count"])
        #expect(cprof.value(path: ["fixture.outer", "fixture.inner"], type: "calls") == 480)

        let bad = try Self.run("workload", environment: ["PPROF_OUTPUT": dir.path + "/b.pb.gz", "PPROF_MODE": "bogus"])
        #expect(bad.status == 0)
        #expect(bad.stderr.contains("PPROF_MODE=bogus is not fprof, eprof or cprof"))
        let fprof = try Self.decode(dir.appendingPathComponent("b.pb.gz"))
        // The whole-run fprof window takes CPU samples (PPROF_CPU_HZ's default, 100).
        #expect(fprof.sampleTypeNames == ["calls/count", "wall/nanoseconds", "samples/count", "cpu/nanoseconds"])
    }

    @Test func exitInsideOpenScopesClosesThemAsCalls() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.run("exit-inside", environment: ["PPROF_OUTPUT": dir.path + "/e.pb.gz"])
        #expect(run.reason == .exit && run.status == 0)
        let profile = try Self.decode(dir.appendingPathComponent("e.pb.gz"))
        #expect(profile.value(path: ["fixture.open"], type: "calls") == 1)
        #expect(profile.value(path: ["fixture.outer"], type: "calls") == 160)
    }

    /// A signal while one thread loops in scopes (`forever`), and while four threads are busy in
    /// nested scopes without pause (`load`, as during a load test): the file is written, whole,
    /// with every thread's calls, and the process still ends by the signal.
    @Test(arguments: [SIGTERM, SIGINT], ["forever", "load"])
    func aSignalStillWritesTheFileAndEndsTheProcessAsTheSignalWould(signal: Int32, mode: String) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.run(
            mode,
            environment: ["PPROF_OUTPUT": dir.path + "/s.pb.gz", "PPROF_THREAD_LABELS": "1"],
            signal: signal
        )
        #expect(run.reason == .uncaughtSignal)
        #expect(run.status == signal)
        #expect(run.stderr == "swift-pprof: wrote fprof profile to \(dir.path)/s.pb.gz\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["s.pb.gz"])
        let profile = try Self.decode(dir.appendingPathComponent("s.pb.gz"))
        #expect(profile.violations() == [])
        // Per outer scope, `forever` runs one inner scope and `load` three; the frames open when
        // the signal came are closed as calls, so each thread may be one outer scope ahead.
        let (outer, inner, perOuter, threads) =
            mode == "load"
            ? ("fixture.load.outer", "fixture.load.inner", Int64(3), 4) : ("fixture.loop", "fixture.step", Int64(1), 1)
        let outerCalls = try #require(profile.value(path: [outer], type: "calls"))
        let innerCalls = try #require(profile.value(path: [outer, inner], type: "calls"))
        #expect(outerCalls >= Int64(threads))
        // Exact only while nothing was dropped: a machine busy enough to starve the aggregator can
        // still make a thread's ring overflow, and the profile then says so instead.
        if profile.recorded?.statistics.eventsDropped == 0 {
            #expect(abs(outerCalls * perOuter - innerCalls) <= perOuter * Int64(threads), "\(outerCalls) \(innerCalls)")
        }
        let busy = Set(profile.stacks.filter { $0.frames == [outer] }.compactMap { $0.labels["thread"] })
        #expect(busy.count == threads, "\(busy)")
    }

    /// What the README says of SIGKILL and crashes: no code of the process runs, or none can be
    /// trusted to, so there is no file; and none half-written either.
    @Test func aKilledOrCrashedProcessLeavesNoFile() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let killed = try Self.run("load", environment: ["PPROF_OUTPUT": dir.path + "/k.pb.gz"], signal: SIGKILL)
        #expect(killed.reason == .uncaughtSignal && killed.status == SIGKILL)
        // The Swift runtime's backtracer would take seconds to print what is not looked at here.
        let crashed = try Self.run(
            "crash",
            environment: ["PPROF_OUTPUT": dir.path + "/c.pb.gz", "SWIFT_BACKTRACE": "enable=no"]
        )
        #expect(crashed.reason == .uncaughtSignal, "\(crashed.status) \(crashed.stderr)")
        #expect(!crashed.stderr.contains("swift-pprof"), "\(crashed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    }

    @Test func aProgramsOwnHandlerIsLeftAloneAndExitWritesTheFile() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.run("own-handler", environment: ["PPROF_OUTPUT": dir.path + "/h.pb.gz"], signal: SIGTERM)
        #expect(run.reason == .exit && run.status == 3)
        let profile = try Self.decode(dir.appendingPathComponent("h.pb.gz"))
        #expect((profile.value(path: ["fixture.loop"], type: "calls") ?? 0) >= 1)
    }

    @Test func theMonotonicClockCanBeChosenAndIsSaid() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.run(
            "workload",
            environment: ["PPROF_OUTPUT": dir.path + "/m.pb.gz", "PPROF_CLOCK": "monotonic"]
        )
        #expect(run.status == 0)
        let profile = try Self.decode(dir.appendingPathComponent("m.pb.gz"))
        #expect(profile.recorded?.statistics.clockSource == "monotonic")
        #expect(profile.comments.first?.contains(", clock monotonic, ") == true, "\(profile.comments)")
        #expect(profile.value(path: ["fixture.outer", "fixture.inner"], type: "calls") == 480)
        #expect((profile.value(path: ["fixture.outer"], type: "wall") ?? 0) > 0)
    }
}
