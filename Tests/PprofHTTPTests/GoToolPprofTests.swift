import Foundation
import Pprof
import PprofTestSupport
import Testing

/// The real consumer fetching by URL: `go tool pprof -top http://…/debug/pprof/profile?seconds=1`.
/// CI must have `go` (the test fails there without it); elsewhere it is skipped when missing.
@Suite(.serialized, .recorderExclusive)
struct GoToolPprofOverHTTPTests {
    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func goToolPprofReadsTheEndpointByURL() async throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH: the real pprof check cannot run")
            return
        }
        let workload = Workload()
        defer { workload.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withServer { _, port in
            let url = "http://127.0.0.1:\(port)/debug/pprof/profile?seconds=1"
            let (status, text) = try await Self.run(
                go,
                ["tool", "pprof", "-top", url],
                // pprof saves what it fetched under $PPROF_TMPDIR (else $HOME/pprof).
                environment: ["PPROF_TMPDIR": directory.path, "HOME": directory.path]
            )
            #expect(status == 0, "go tool pprof -top \(url): \(text)")
            #expect(text.contains("Type: wall"), "\(text)")
            #expect(text.contains("http.leaf"), "\(text)")
            #expect(text.contains("http.work"), "\(text)")
        }
    }

    /// CPU samples by URL: `-sample_index=cpu` of the fprof profile and Go's own CPU shape
    /// (`type=cpu`), with a thread spinning in `http.spin` beside the sleeping workload: the
    /// spinning scope has nearly all the CPU, the sleeping one nearly none.
    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func goToolPprofReadsCPUSamplesByURL() async throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH: the real pprof check cannot run")
            return
        }
        let workload = Workload()
        defer { workload.stop() }
        let stop = ManagedFlag()
        let spinner = Thread {
            while !stop.isSet { Trace.scope("http.spin") { for _ in 0..<1000 where stop.isSet { break } } }
        }
        spinner.start()
        defer { stop.set() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withServer { _, port in
            for (query, type) in [("seconds=1", "-sample_index=cpu"), ("seconds=1&type=cpu", "-sample_index=cpu")] {
                let url = "http://127.0.0.1:\(port)/debug/pprof/profile?\(query)"
                let (status, text) = try await Self.run(
                    go,
                    ["tool", "pprof", type, "-top", "-cum", url],
                    environment: ["PPROF_TMPDIR": directory.path, "HOME": directory.path]
                )
                #expect(status == 0, "go tool pprof \(type) -top \(url): \(text)")
                #expect(text.contains("Type: cpu"), "\(text)")
                // -top -cum: "flat flat% sum% cum cum% name"; http.spin's cum share of the CPU.
                let spin = text.split(separator: "\n").first { $0.hasSuffix(" http.spin") }
                let cumShare = spin.flatMap { line in
                    line.split(separator: " ").dropFirst(4).first.flatMap { Double($0.dropLast()) }
                }
                #expect((cumShare ?? 0) > 50, "http.spin's share of the CPU: \(text)")
                let leaf = text.split(separator: "\n").first { $0.hasSuffix(" http.leaf") }
                let leafShare = leaf.flatMap { line in
                    line.split(separator: " ").dropFirst(4).first.flatMap { Double($0.dropLast()) }
                }
                #expect((leafShare ?? 0) < 20, "http.leaf sleeps: \(text)")
            }
        }
    }

    /// Runs a process to its end without blocking a cooperative thread (the server needs them).
    private static func run(
        _ path: String,
        _ arguments: [String],
        environment: [String: String]
    ) async throws
        -> (Int32, String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        // Read after the end: `-top` of a few functions is far below what a pipe holds (64 KiB).
        try? output.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        return (status, String(decoding: data, as: UTF8.self))
    }
}
