#if canImport(Glibc)
import Glibc
#endif

/// The `main` of a fuzz executable: hands `property` to libFuzzer when built with `-DFUZZING`
/// (and `-sanitize=fuzzer`), and otherwise replays inputs from files through it once, so that
/// an ordinary `swift build` links the executable and a crashing input can be rerun under a
/// debugger.
///
/// ```swift
/// // Fuzz/fuzz-query/main.swift
/// import PprofFuzzTargets
/// FuzzDriver.main(corpus: "query", QueryFuzz.check)
/// ```
///
/// A property returns normally for every input; any trap (overflow, out-of-range index,
/// force-unwrapped nil, a failed `precondition`) is what libFuzzer reports as a crash.
package enum FuzzDriver {
    /// libFuzzer calls a C function pointer, which cannot capture the property.
    nonisolated(unsafe) private static var property: (([UInt8]) -> Void)?

    /// Runs `property` under libFuzzer, or replays files; never returns.
    ///
    /// - Parameters:
    ///   - corpus: the seed corpus's folder under `Fuzz/corpus/`, replayed when no file is named.
    ///   - property: checks one input; traps when the input shows a bug.
    package static func main(corpus: String, _ property: @escaping ([UInt8]) -> Void) -> Never {
        #if FUZZING
        Self.property = property
        var argc = CommandLine.argc
        var argv = Optional(CommandLine.unsafeArgv)
        exit(
            LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                FuzzDriver.property!(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
                return 0
            }
        )
        #else
        let arguments = CommandLine.arguments.dropFirst()
        let paths = arguments.isEmpty ? [seedCorpus(corpus)] : Array(arguments)
        var count = 0
        for path in paths {
            for file in files(at: path) {
                guard let bytes = read(file) else {
                    print("cannot read \(file)")
                    exit(1)
                }
                property(bytes)
                count += 1
            }
        }
        print("replayed \(count) inputs from \(paths.joined(separator: ", "))")
        exit(count > 0 ? 0 : 1)
        #endif
    }

    /// `Fuzz/corpus/NAME` of this checkout, found from this file's path.
    package static func seedCorpus(_ name: String) -> String {
        var path = "\(#filePath)"
        for _ in 0..<2 {
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        }
        return path + "/corpus/" + name
    }

    /// `path` itself when it is a file, else the regular files directly inside it, sorted.
    package static func files(at path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(path + "/" + name) }
        }
        return names.sorted()
    }

    /// The whole file, or nil when it cannot be read.
    package static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }
}

#if FUZZING
/// libFuzzer's entry point for programs that keep their own `main` (compiler-rt's
/// `FuzzerDriver.cpp`). Declared here, not imported: no header ships with the toolchain.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif
