import Foundation

/// A program run to its end by a test, with what it printed.
///
/// ```swift
/// let run = try ChildProcess.run("/usr/bin/env", ["mount", "-t", "tmpfs", "tmpfs", folder])
/// #expect(run.exited && run.status == 0, "\(run.stderr)")
/// ```
public enum ChildProcess {
    /// How a program ended and what it printed.
    public struct Run: Sendable {
        /// Its exit status, or the signal that ended it.
        public var status: Int32
        /// Whether it exited (rather than being ended by a signal).
        public var exited: Bool
        /// Its standard output; with `mergingStreams`, its standard error too, interleaved as written.
        public var stdout: String
        /// Its standard error; empty with `mergingStreams`.
        public var stderr: String
    }

    /// Runs `executable` with `arguments` (and `environment` over this process's own) and waits
    /// for it. Both streams are read while it runs, so a full pipe never stalls it.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        mergingStreams: Bool = false
    ) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = mergingStreams ? out : Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errors = Box()
        let group = DispatchGroup()
        if !mergingStreams {
            DispatchQueue.global().async(group: group) { errors.data = err.fileHandleForReading.readDataToEndOfFile() }
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            exited: process.terminationReason == .exit,
            stdout: String(decoding: output, as: UTF8.self),
            stderr: String(decoding: errors.data, as: UTF8.self)
        )
    }

    /// The standard error read on another thread, handed back after `group.wait()`.
    private final class Box: @unchecked Sendable {
        var data = Data()
    }
}
