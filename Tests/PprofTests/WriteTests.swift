import Foundation
import Pprof
import PprofTestKit
import PprofTestSupport
import Testing

@Suite struct WriteTests {
    /// A fresh directory under the system's temporary directory, removed by the caller.
    private func makeDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-write-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        return url
    }

    @Test func writesThePprofBytesAndLeavesNoTemporaryFile() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("profile.pb.gz").path

        let profile = EncodingFixtures.nested
        try profile.write(to: path)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == profile.pprof())
        #expect(try DecodedProfile.decode(written).value(path: ["main", "work"], type: "calls") == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["profile.pb.gz"])

        // Replacing an existing file is the same atomic rename.
        try EncodingFixtures.cprof.write(to: path)
        let replaced = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try DecodedProfile.decode(replaced).sampleTypeNames == ["calls/count"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["profile.pb.gz"])
    }

    @Test func missingDirectoryThrowsAClearErrorAndCreatesNothing() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("missing/profile.pb.gz").path

        do {
            try EncodingFixtures.nested.write(to: path)
            Issue.record("write(to:) into a missing directory did not throw")
        } catch let error as ProfileWriteError {
            #expect(error.path == path)
            #expect(error.code == ENOENT)
            #expect(
                error.description
                    == "cannot write profile to \(path): cannot create a temporary file beside it: No such file or directory"
            )
            #expect(!error.description.contains("\n"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [])
    }

    @Test func failedRenameRemovesTheTemporaryFile() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The target is a non-empty directory: the temporary file is written, the rename fails.
        let target = directory.appendingPathComponent("profile.pb.gz")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: target.appendingPathComponent("inside"))

        #expect {
            try EncodingFixtures.nested.write(to: target.path)
        } throws: { error in
            let description = (error as? ProfileWriteError)?.description ?? ""
            return description.hasPrefix("cannot write profile to \(target.path): cannot rename the temporary file")
                && description.hasSuffix("Is a directory")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["profile.pb.gz"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["inside"])
    }

    @Test func emptyPathThrows() {
        #expect(throws: ProfileWriteError.self) { try EncodingFixtures.nested.write(to: "") }
    }
}

/// The real consumer: `go tool pprof` must read what we write. CI must have `go`; elsewhere the
/// test is skipped when it is missing.
@Suite struct GoToolPprofTests {
    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func goToolPprofReadsTheProfile() throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH: the real pprof check cannot run")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-go-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("profile.pb.gz").path
        try EncodingFixtures.nested.write(to: path)

        for flag in ["-raw", "-top"] {
            let (status, text) = try GoTool.pprof(go, [flag, path], scratch: directory.path)
            #expect(status == 0, "go tool pprof \(flag): \(text)")
            for name in ["main", "work", "parse", "a"] {
                // -raw lists each location as "name file:line", -top ends each row with the name.
                let shown = flag == "-raw" ? " \(name) App/\(name).swift:" : "  \(name)\n"
                #expect(text.contains(shown), "go tool pprof \(flag) does not show \(name): \(text)")
            }
            if flag == "-top" {
                #expect(text.contains("Type: wall"), "\(text)")
                #expect(text.contains("28 events, 2 threads, clock tsc, hook pair 26.1 ns"), "\(text)")
                // pprof's own flat and cum from our own-time samples: main 2 ms and 11 ms, a's
                // recursion counted once (0.6 ms).
                #expect(text.contains(" 2000us 17.24% 94.83%    11000us 94.83%  main\n"), "\(text)")
                #expect(text.contains(" 600us  5.17%   100%      600us  5.17%  a\n"), "\(text)")
            }
        }
    }
}
