import Pprof
import PprofTestKit

#if canImport(Glibc)
import Glibc
#endif

/// Where a profile comes from: a file, or an `http://` URL fetched with one GET.
///
/// ```swift
/// let local = try ProfileSource.load("app.pb.gz")
/// let live = try ProfileSource.load("http://127.0.0.1:6060/debug/pprof/profile?seconds=5")
/// ```
///
/// Gzipped and plain protobuf are both accepted. Every failure is a `ReportFailure` naming the
/// source.
package enum ProfileSource {
    /// The decoded profile at `source` (a path or an `http://` URL).
    ///
    /// - Throws: `ReportFailure` when it cannot be read or is not a pprof profile.
    package static func load(_ source: String) throws -> DecodedProfile {
        try decode(try bytes(source), from: source)
    }

    /// `bytes` decoded, or a `ReportFailure` naming `source`.
    package static func decode(_ bytes: [UInt8], from source: String) throws -> DecodedProfile {
        let profile: DecodedProfile
        do {
            profile = try DecodedProfile.decode(bytes)
        } catch {
            throw ReportFailure("\(source): \(error)")
        }
        // Random bytes can pass as protobuf fields; a profile without sample types is none.
        guard !profile.sampleTypes.isEmpty else {
            throw ReportFailure("\(source): not a pprof profile: it has no sample types")
        }
        return profile
    }

    /// The raw bytes at `source`.
    package static func bytes(_ source: String) throws -> [UInt8] {
        if source.hasPrefix("http://") {
            return try HTTPFetch.get(source)
        }
        if source.hasPrefix("https://") {
            throw ReportFailure("\(source): https is not supported; fetch it with curl, or use http://")
        }
        return try readFile(source)
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ReportFailure(
                "cannot read \(path): \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")"
            )
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw ReportFailure(
                    "cannot read \(path): \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")"
                )
            }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }
}
