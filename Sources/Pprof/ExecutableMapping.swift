import CPprof
import Glibc

/// The main executable as pprof's first `Mapping` describes it: its path, GNU build id and
/// executable segment, read once per process (none changes while it runs).
///
/// ```swift
/// ExecutableMapping.path      // "/usr/local/bin/server"
/// ExecutableMapping.buildID   // "9f2c…" (40 hex digits for a SHA-1 build id), or ""
/// ExecutableMapping.main      // path, build id, start 0x0, limit 0x6ee000, offset 0x0 (link-time)
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

    /// The main program's mapping: `path`, `buildID`, and its executable segment's range and
    /// file offset, which pprof needs to find its code (`-disasm`, `-weblist`, the Source view).
    package static let main: Profile.Mapping = {
        var object = CPprof_Object()
        guard CPprof_mainObject(&object) != 0 else { return Profile.Mapping(path: path, buildID: buildID) }
        return Profile.Mapping(
            path: path,
            buildID: buildID,
            start: UInt64(object.textStart),
            limit: UInt64(object.textLimit),
            offset: object.textOffset
        )
    }()

    /// The main program's entry point (`_start`, from the auxiliary vector) at its link-time
    /// address, or 0: where a location without a call site of its own is placed (a pseudo-frame,
    /// a span, a thread's frame), so that its address is code that pprof can disassemble. An
    /// address before the first instruction would make Go 1.19's `-weblist` slice out of range.
    package static let entry: UInt64 = {
        var object = CPprof_Object()
        let address = UInt64(CPprof_entryPoint())
        guard address != 0, CPprof_mainObject(&object) != 0 else { return 0 }
        return address &- UInt64(object.bias)
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
