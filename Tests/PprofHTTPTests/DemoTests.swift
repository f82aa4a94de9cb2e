import Foundation
import Pprof
import PprofTestKit
import PprofTestSupport
import Testing

/// The main job end to end: `pprof-demo` as a child process serves its API under load, fetches
/// its own profile over HTTP, writes it, and exits 0; the profile holds the demo's call paths
/// in the proportions its code fixes, up to the
/// requests straddling the window's edges. It links PprofMemory, so its summary names the call
/// paths that allocated most and `--memory-output` writes a memory profile; this bundle does not
/// link it (no test target depends on pprof-demo: that would interpose malloc in every test), so
/// the demo is found beside the bundle, where `swift test` builds it.
/// Exclusive with the other suites that load the machine: the demo keeps both cores busy, and the
/// timing bounds of the HTTP suites would compete with it (under the thread sanitizer above all).
@Suite(.serialized, .recorderExclusive) struct DemoTests {
    static func run(_ arguments: [String]) throws -> ChildProcess.Run {
        let demo = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "pprof-demo"
        )
        try #require(
            FileManager.default.isExecutableFile(atPath: demo.path),
            "\(demo.path) is missing: `swift build` builds it (no test target depends on it)"
        )
        return try ChildProcess.run(demo.path, arguments)
    }

    @Test func theDemoServesProfilesItselfAndExitsZero() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("demo.pb.gz").path
        let memoryOutput = dir.appendingPathComponent("memory.pb.gz").path

        let run = try Self.run(
            // 20 lines: the report's `* serve` line is its 12th, or later when the header has a
            // line more ("entered before recording: 2 exits", a window opened mid-request).
            ["--duration", "2", "--port", "0", "--clients", "4", "--output", output, "--top", "20"]
                + ["--memory-output", memoryOutput]
        )
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("go tool pprof http://127.0.0.1:"))
        #expect(run.stdout.contains("  1 s: ") && run.stdout.contains("  2 s: "))
        #expect(run.stdout.contains("* serve"))  // the report's top, fetched with debug=1
        let summary = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("pprof-demo: 4 clients") })
        let requests = try #require(Int64(summary.split(separator: " ")[6]), "\(summary)")

        let profile = try DecodedProfile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(profile.violations() == [])
        func calls(_ path: [String]) -> Int64 { profile.value(path: path, type: "calls") ?? 0 }
        func calls(under parent: [String], where leaf: (String) -> Bool) -> Int64 {
            profile.stacks.filter { $0.frames.dropLast() == parent[...] && leaf($0.frames.last!) }
                .reduce(0) { $0 + $1.values[0] }
        }
        // A window counts the calls that ended in it. A request's steps end before its `serve`
        // does, so a request straddling an edge of the window can count in one and not in the
        // other: at most one request per event-loop thread (each serves one at a time) at each
        // of the two edges. Beyond that slack the proportions below are exact.
        let slack = Int64(2 * ProcessInfo.processInfo.activeProcessorCount)
        func expectSame(_ a: Int64, _ b: Int64, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(abs(a - b) <= slack, "\(what): \(a) against \(b)", sourceLocation: sourceLocation)
        }
        // Every request is served, handled, parsed and written once.
        let served = calls(["serve"])
        #expect(served >= 100)  // 10-30 k here; a few hundred under the thread sanitizer
        #expect(served <= requests)  // counted once the windows closed: never more than ran
        expectSame(calls(["serve", "handle"]), served, "handle")
        expectSame(calls(["serve", "handle", "parse"]), served, "parse")
        expectSame(calls(["serve", "write"]), served, "write")
        // Every request that parses is validated and reaches exactly one store step; one in ten
        // (the DELETEs) does not parse.
        let validated = calls(["serve", "handle", "validate"])
        let stored = calls(under: ["serve", "handle"]) { $0.hasPrefix("store.") }
        expectSame(stored, validated, "store steps against validations")
        #expect(abs(Double(served - validated) / Double(served) - 0.1) < 0.02)
        // Creates and searches always render; lookups render unless the id is unknown.
        let renders = calls(under: ["serve", "handle"]) { $0.hasPrefix("render") }
        #expect(renders <= validated + slack && renders > validated / 2)
        #expect(calls(["serve", "handle", "store.insert"]) > 0 && calls(["serve", "handle", "store.search"]) > 0)
        // Every step after parse carries its route as a label, and only its own route's.
        func routes(of leaf: String) -> Set<String> {
            Set(
                profile.stacks.filter { $0.frames == ["serve", "handle", leaf] && $0.values[0] != 0 }.map {
                    $0.labels["route"] ?? "none"
                }
            )
        }
        #expect(routes(of: "store.lookup") == ["/users/:id"])
        #expect(routes(of: "store.insert") == ["/users"])
        #expect(routes(of: "store.search") == ["/search"])
        #expect(routes(of: "parse") == ["none"])

        try Self.expectMemory(in: run.stdout, profile: memoryOutput)
    }

    static let scopes: Set = [
        "serve", "handle", "parse", "validate", "store.lookup", "store.insert", "store.search", "render", "write",
    ]

    /// The summary's allocation lines, and the memory profile `--memory-output` wrote: Go's four
    /// sample types, and the demo's own scopes allocating; under a sanitizer, which owns malloc,
    /// the hooks stand aside and the summary says so instead.
    static func expectMemory(in stdout: String, profile path: String) throws {
        let profile = try DecodedProfile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(profile.violations() == [])
        #expect(
            profile.sampleTypeNames == [
                "alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes",
            ]
        )
        if let sanitizer = activeSanitizer {
            #expect(
                stdout.contains("allocation hooks: standing aside (the \(sanitizer) sanitizer owns malloc)"),
                "\(stdout)"
            )
            return
        }
        #expect(stdout.contains("allocation hooks: active, counting every allocation"), "\(stdout)")
        // "  serve > handle > render: 21034 objects, 2310528 bytes, 187 bytes per request"
        let top = stdout.split(separator: "\n").compactMap { line -> (scope: String, objects: Int, bytes: Int)? in
            guard line.hasPrefix("  "), line.hasSuffix(" bytes per request"),
                let colon = line.range(of: ": ", options: .backwards)
            else { return nil }
            let numbers = line[colon.upperBound...].split(separator: " ").compactMap { Int($0) }
            let scope = line[..<colon.lowerBound].components(separatedBy: " > ").last ?? ""
            return numbers.count == 3 ? (scope, numbers[0], numbers[1]) : nil
        }
        #expect(top.count >= 1 && top.count <= 5, "\(stdout)")
        #expect(top.contains { scopes.contains($0.scope) && $0.objects > 0 && $0.bytes > 0 }, "\(stdout)")
        // The profile counts the demo's scopes too (every sample of a call path is its own).
        let allocating = profile.stacks.filter {
            $0.frames.first == "serve" && scopes.contains($0.frames.last ?? "") && $0.values[0] > 0
        }
        #expect(!allocating.isEmpty, "no scope of the demo allocated: \(profile.stacks.prefix(10))")
    }

    @Test func aPortInUseIsAnErrorInPlainWords() async throws {
        try await withServer { _, port in
            let run = try Self.run(["--duration", "1", "--port", "\(port)"])
            #expect(run.status != 0)
            #expect(run.stderr.contains("cannot listen on 127.0.0.1:\(port): address already in use"), "\(run.stderr)")
            #expect(!run.stderr.contains("errno") && !run.stderr.contains("descriptor"), "\(run.stderr)")
        }
    }

    @Test func aBadFlagIsAnErrorThatSaysWhy() throws {
        let run = try Self.run(["--port", "70000"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--port must be from 0 to 65535"))
    }
}
