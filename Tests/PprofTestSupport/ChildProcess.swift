import Foundation

/// A program run to its end by a test, with what it printed.
///
/// ```swift
/// let run = try ChildProcess.run("/usr/bin/env", ["mount", "-t", "tmpfs", "tmpfs", folder])
/// #expect(run.exited && run.status == 0, "\(run.output)")
/// ```
public enum ChildProcess {
    /// Runs `executable` with `arguments` (and `environment` over this process's own) and waits
    /// for it.
    ///
    /// - Returns: Its status, whether it exited (rather than being killed by a signal), and
    ///   everything it wrote to stdout and stderr, interleaved as written.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:]
    ) throws -> (status: Int32, exited: Bool, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason == .exit, String(decoding: data, as: UTF8.self))
    }
}
