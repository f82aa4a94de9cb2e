import Foundation
import PprofTestSupport
import Testing

/// A tmpfs mounted for one test: a folder that refuses writes, or one that fills, even for root,
/// whom file modes do not stop (CI runs as root).
///
/// ```swift
/// @Test(.enabled(if: Tmpfs.isAvailable || Tmpfs.requiredByCI, "mounting a tmpfs needs root"))
/// func aFullDisk() throws {
///     try Tmpfs.withMounted(size: "64k") { folder in … }
/// }
/// ```
enum Tmpfs {
    /// Whether this process can mount a tmpfs: root, and a trial mount succeeded.
    static let isAvailable: Bool = {
        guard geteuid() == 0 else { return false }
        return (try? withMounted(size: "4k") { _ in }) != nil
    }()

    /// Whether this run is CI's (`CI=true`), where a tmpfs that cannot be mounted is a failure.
    static var requiredByCI: Bool { GoTool.requiredByCI }

    /// Why mounting, remounting or unmounting failed: the command and what it printed.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Mounts a tmpfs of `size` bytes (`mount`'s notation: "64k") on a fresh folder, runs `body`
    /// with it, and unmounts it and removes the folder however `body` ends.
    static func withMounted<R>(size: String, _ body: (URL) throws -> R) throws -> R {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-tmpfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: folder) }
        try command(["mount", "-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", folder.path])
        defer {
            // Lazily, should a child still hold it: the folder must not outlive the test mounted.
            if (try? command(["umount", folder.path])) == nil { try? command(["umount", "-l", folder.path]) }
        }
        return try body(folder)
    }

    /// Makes a mounted tmpfs refuse every write from now on.
    static func remountReadOnly(_ folder: URL) throws {
        try command(["mount", "-o", "remount,ro", folder.path])
    }

    private static func command(_ arguments: [String]) throws {
        let run = try ChildProcess.run("/usr/bin/env", arguments, mergingStreams: true)
        guard run.exited, run.status == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) failed (\(run.status)): \(run.stdout)")
        }
    }
}
