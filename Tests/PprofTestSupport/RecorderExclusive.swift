import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs a suite while no other suite that drives the process-wide recorder runs: a window
/// opened here makes every thread record, which tests that need recording off would see.
/// A `flock` on a file, so that it holds across test processes too.
public struct RecorderExclusive: SuiteTrait, TestScoping {
    public init() {}

    static let path = FileManager.default.temporaryDirectory.appendingPathComponent("swift-pprof-recorder.lock").path

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: () async throws -> Void
    ) async throws {
        let fd = open(Self.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return try await function() }
        defer { close(fd) }
        // Polling, not a blocking flock: a blocked cooperative thread could starve the suite
        // that holds the lock.
        while flock(fd, LOCK_EX | LOCK_NB) != 0 { try await Task.sleep(for: .milliseconds(10)) }
        defer { flock(fd, LOCK_UN) }
        try await function()
    }
}

extension Trait where Self == RecorderExclusive {
    /// See `RecorderExclusive`.
    public static var recorderExclusive: RecorderExclusive { RecorderExclusive() }
}
