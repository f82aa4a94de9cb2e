#if canImport(Glibc)
import Glibc
#endif

/// One line on stderr, prefixed so the user knows who speaks: what every module of the package
/// says outside a response (a setting that makes no sense, a profile written at exit, a server
/// that stopped). Written with one `write(2)`,
/// so that two threads' lines do not mix (a pipe takes up to 4 KiB in one piece).
///
/// ```swift
/// warn("wrote fprof profile to \(path)")    // swift-pprof: wrote fprof profile to /tmp/p.pb.gz
/// ```
package func warn(_ message: String) {
    let bytes = Array("swift-pprof: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
