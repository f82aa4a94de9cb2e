import Foundation
import PprofTestKit
import Testing

@testable import Pprof

/// PPROF_OUTPUT where the file cannot be written: a missing folder, a read-only file system, a
/// full disk. Each time the program ends with its own exit status, stderr holds one line naming
/// the path and the system's reason, and the folder holds what it held before: no partial file,
/// no temporary file, an older profile at the target untouched.
///
/// Root ignores file modes, so the read-only folder and the full disk are tmpfs mounts: these
/// tests need root, are skipped without it, and fail without it under `CI=true`.
@Suite struct DumpFaultTests {
    /// The fixture's own exit status: not 0, so that a status set by the profiler would show.
    static let status = "7"

    /// An older profile at the target path, which a failed write must leave as it was.
    static let previous = Data("an older profile, left intact".utf8)

    /// Expects the fixture to have ended as it would have without the profiler (by itself with
    /// `status`, unless `signal` ended it) and said why the file was not written in exactly one
    /// line naming `path` and `reason`'s text.
    static func expectOneLineFailure(
        _ run: ExitDumpTests.Run,
        path: String,
        reason: Int32,
        signal: Int32? = nil,
        what: String = "profile",
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(run.reason == (signal == nil ? .exit : .uncaughtSignal), sourceLocation: sourceLocation)
        #expect(run.status == signal ?? Int32(status)!, "\(run.stderr)", sourceLocation: sourceLocation)
        let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "not one line: \(run.stderr)", sourceLocation: sourceLocation)
        let line = String(lines[0])
        #expect(
            line.hasPrefix("swift-pprof: could not write the \(what): cannot write \(what) to \(path): "),
            "\(line)",
            sourceLocation: sourceLocation
        )
        #expect(line.hasSuffix(": " + String(cString: strerror(reason))), "\(line)", sourceLocation: sourceLocation)
    }

    static func contents(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    @Test func aMissingFolderIsOneLineOnStderrAndTheExitStatusStays() throws {
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/missing/x.pb.gz"
        let run = try ExitDumpTests.run("workload", ["--status", Self.status], environment: ["PPROF_OUTPUT": path])
        Self.expectOneLineFailure(run, path: path, reason: ENOENT)
        #expect(try Self.contents(dir) == [])
    }

    /// The signal's path: the dump runs on the profiler's own thread, then the signal is raised
    /// again; a failed write must not change how the process ends.
    @Test(arguments: [SIGTERM, SIGINT])
    func aFailedDumpOnASignalStillEndsTheProcessByTheSignal(signal: Int32) throws {
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/missing/x.pb.gz"
        let run = try ExitDumpTests.run("load", environment: ["PPROF_OUTPUT": path], signal: signal)
        Self.expectOneLineFailure(run, path: path, reason: ENOENT, signal: signal)
        #expect(try Self.contents(dir) == [])
    }

    @Test(.enabled(if: Tmpfs.isAvailable || Tmpfs.requiredByCI, "mounting a tmpfs needs root"))
    func aReadOnlyFolderIsOneLineOnStderrAndTheExitStatusStays() throws {
        try Tmpfs.withMounted(size: "64k") { folder in
            let old = folder.appendingPathComponent("old.pb.gz")
            try Self.previous.write(to: old)
            try Tmpfs.remountReadOnly(folder)

            // A new file, and one that replaces an older profile: neither rename can happen.
            for name in ["new.pb.gz", "old.pb.gz"] {
                let path = folder.appendingPathComponent(name).path
                let run = try ExitDumpTests.run(
                    "workload",
                    ["--status", Self.status],
                    environment: ["PPROF_OUTPUT": path]
                )
                Self.expectOneLineFailure(run, path: path, reason: EROFS)
                #expect(try Self.contents(folder) == ["old.pb.gz"])
                #expect(try Data(contentsOf: old) == Self.previous)
            }
        }
    }

    @Test(.enabled(if: Tmpfs.isAvailable || Tmpfs.requiredByCI, "mounting a tmpfs needs root"))
    func aFullDiskIsOneLineOnStderrLeavesNoPartFileAndTheExitStatusStays() throws {
        let tmpfsBytes = 64 * 1024

        // The same run where there is room: its profile must be well past the tmpfs, or the
        // disk would not fill.
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let roomy = try ExitDumpTests.run("wide", ["20000"], environment: ["PPROF_OUTPUT": dir.path + "/w.pb.gz"])
        #expect(roomy.reason == .exit && roomy.status == 0, "\(roomy.stderr)")
        let size = try #require(
            try FileManager.default.attributesOfItem(atPath: dir.path + "/w.pb.gz")[.size] as? Int
        )
        #expect(size > 2 * tmpfsBytes, "the profile (\(size) bytes) would fit in the \(tmpfsBytes)-byte tmpfs")
        #expect(try ExitDumpTests.decode(dir.appendingPathComponent("w.pb.gz")).violations() == [])

        try Tmpfs.withMounted(size: "\(tmpfsBytes)") { folder in
            let old = folder.appendingPathComponent("old.pb.gz")
            try Self.previous.write(to: old)
            for name in ["new.pb.gz", "old.pb.gz"] {
                let path = folder.appendingPathComponent(name).path
                let run = try ExitDumpTests.run(
                    "wide",
                    ["20000", "--status", Self.status],
                    environment: ["PPROF_OUTPUT": path]
                )
                Self.expectOneLineFailure(run, path: path, reason: ENOSPC)
                // The temporary file that filled the disk is gone, and nothing took the target's place.
                #expect(try Self.contents(folder) == ["old.pb.gz"])
                #expect(try Data(contentsOf: old) == Self.previous)
            }
            // The timeline (PPROF_TRACE_OUTPUT) goes through the same atomic write.
            let trace = folder.appendingPathComponent("trace.json").path
            let timeline = try ExitDumpTests.run(
                "wide",
                ["20000", "--status", Self.status],
                environment: ["PPROF_TRACE_OUTPUT": trace]
            )
            Self.expectOneLineFailure(timeline, path: trace, reason: ENOSPC, what: "timeline")
            #expect(try Self.contents(folder) == ["old.pb.gz"])
            // All of the space came back: the partial temporary file is not merely unlinked
            // while something still holds it open.
            var stats = statvfs()
            #expect(statvfs(folder.path, &stats) == 0)
            #expect(Int(stats.f_bfree) * Int(stats.f_bsize) >= tmpfsBytes - 4096, "\(stats)")
        }
    }
}
