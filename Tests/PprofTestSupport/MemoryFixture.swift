import Foundation

/// pprof-memory-fixture, the child process that links PprofMemory for the tests (no test target
/// may: it would interpose malloc in the whole bundle). `swift test` builds it beside the bundle.
///
/// ```swift
/// let run = try ChildProcess.run(MemoryFixture.path, ["counts"])
/// try await MemoryFixture.serving(environment: ["PPROF_MEMORY_RATE": "1"]) { port in … }
/// ```
public enum MemoryFixture {
    /// Where it is: beside the test bundle.
    public static var path: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("pprof-memory-fixture").path
    }

    public struct NoPort: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `body` with the port of the fixture's `serve` mode (its known allocations served over
    /// HTTP), which ends when its input is closed after `body` returns.
    public static func serving(
        environment: [String: String] = [:],
        _ body: (Int) async throws -> Void
    ) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["serve"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        defer {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        // The hooks' status line, then "port N".
        var text = ""
        while !text.contains("port ") || !text.hasSuffix("\n") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("port ") }),
            let port = Int(line.dropFirst(5))
        else { throw NoPort(description: "pprof-memory-fixture serve printed no port: \(text)") }
        try await body(port)
    }
}
