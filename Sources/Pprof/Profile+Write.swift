import Glibc

/// Why a profile could not be written, in one line: the target path, the step that failed and
/// the system's reason.
package struct ProfileWriteError: Error, CustomStringConvertible {
    /// The file the profile was meant for.
    package var path: String
    /// What failed, e.g. "cannot create a temporary file".
    package var step: String
    /// `errno` of the failed call.
    package var code: Int32
    /// What the file was to hold: "profile", or "timeline".
    package var what = "profile"

    package var description: String {
        "cannot write \(what) to \(path): \(step): \(String(validatingCString: strerror(code)) ?? "errno \(code)")"
    }
}

extension Profile {
    /// Writes the profile as gzipped pprof to `path`, atomically: a reader (or a crash) sees the
    /// old file or the whole new one, never part of it.
    ///
    /// ```swift
    /// let profile = window.stop()
    /// try profile.write(to: "/tmp/server.pb.gz")   // go tool pprof -top /tmp/server.pb.gz
    /// ```
    ///
    /// The bytes go to a temporary file in the same directory (same file system, so the rename is
    /// atomic), are flushed to disk, and the file is renamed over `path`. On any failure the
    /// temporary file is removed and `path` is left as it was.
    ///
    /// - Parameter path: the file to create or replace.
    /// - Throws: `ProfileWriteError`, whose description names the path and the system's reason.
    public func write(to path: String) throws {
        try Self.writeAtomically(pprof(), to: path)
    }

    /// Writes `bytes` to `path` as `write(to:)` does; `what` names the contents in an error.
    package static func writeAtomically(_ bytes: [UInt8], to path: String, what: String = "profile") throws {
        func failure(_ step: String, _ code: Int32 = errno) -> ProfileWriteError {
            ProfileWriteError(path: path, step: step, code: code, what: what)
        }
        guard !path.isEmpty else { throw failure("empty path", EINVAL) }

        // A unique name beside the target: the pid tells which process left it, should one
        // be killed mid-write; O_EXCL and a random suffix keep two writers of one process apart.
        var temporary = ""
        var descriptor: Int32 = -1
        for _ in 0..<16 {
            temporary = "\(path).tmp.\(getpid()).\(String(UInt32.random(in: .min ... .max), radix: 16))"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 || errno != EEXIST { break }
        }
        guard descriptor >= 0 else { throw failure("cannot create a temporary file beside it") }

        var isOpen = true
        do {
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw failure("cannot write the temporary file")
                    }
                    offset += written
                }
            }
            while fsync(descriptor) != 0 {
                if errno != EINTR { throw failure("cannot flush the temporary file to disk") }
            }
            isOpen = false
            // Linux releases the descriptor even when close fails with EINTR: never retry.
            if close(descriptor) != 0 && errno != EINTR {
                throw failure("cannot close the temporary file")
            }
            if rename(temporary, path) != 0 {
                throw failure("cannot rename the temporary file over it")
            }
        } catch {
            if isOpen { close(descriptor) }
            unlink(temporary)
            throw error
        }
        syncDirectory(of: path)
    }

    /// Makes the rename itself durable. Best effort: the profile is already complete and in
    /// place, and some file systems refuse fsync on a directory.
    private static func syncDirectory(of path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}
