import CPprof
import Glibc

/// The main executable as pprof's one `Mapping` describes it: its path and GNU build id, read
/// once per process (neither changes while it runs).
///
/// ```swift
/// ExecutableMapping.path      // "/usr/local/bin/server"
/// ExecutableMapping.buildID   // "9f2c…" (40 hex digits for a SHA-1 build id), or ""
/// ```
package enum ExecutableMapping {
    /// The resolved path of `/proc/self/exe`, or the first command-line argument where it cannot
    /// be read.
    package static let path: String = readExecutableLink() ?? CommandLine.arguments.first ?? ""

    /// The lowercase hex of the executable's GNU build id, or "" when it was linked without one.
    package static let buildID: String = {
        var buffer = [UInt8](repeating: 0, count: 64)
        let length = buffer.withUnsafeMutableBufferPointer { CPprof_buildID($0.baseAddress, $0.count) }
        return hex(buffer.prefix(length))
    }()

    private static func readExecutableLink() -> String? {
        var capacity = 4096
        while capacity <= 1 << 20 {
            var buffer = [CChar](repeating: 0, count: capacity)
            let length = buffer.withUnsafeMutableBufferPointer { readlink("/proc/self/exe", $0.baseAddress!, capacity) }
            guard length > 0 else { return nil }
            // readlink truncates silently: a full buffer may mean a longer path.
            if length < capacity {
                return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity *= 2
        }
        return nil
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
