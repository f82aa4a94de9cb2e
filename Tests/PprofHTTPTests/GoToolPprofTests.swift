import Foundation
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
