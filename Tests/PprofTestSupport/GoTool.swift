import Foundation

/// Where the real `go` is, for the tests that have `go tool pprof` read our output. CI must have
/// it (those tests fail there without it); elsewhere they are skipped when it is missing.
///
/// ```swift
/// @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
/// func goReadsIt() throws {
///     guard let go = GoTool.path else { Issue.record("CI=true but go is not on PATH"); return }
/// }
/// ```
public enum GoTool {
    /// `go` on PATH, or nil.
    public static var path: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map { "\($0)/go" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether this run is CI's (`CI=true`), where a missing `go` is a failure.
    public static var requiredByCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Runs `go tool pprof` with `arguments` to its end, with its scratch files (`PPROF_TMPDIR`,
    /// `HOME`) in `scratch`, and returns its exit status and everything it printed.
    public static func pprof(
        _ go: String,
        _ arguments: [String],
        scratch: String
    ) throws -> (status: Int32, output: String) {
        let run = try ChildProcess.run(
            go,
            ["tool", "pprof"] + arguments,
            environment: ["PPROF_TMPDIR": scratch, "HOME": scratch],
            mergingStreams: true
        )
        return (run.status, run.stdout)
    }
}
