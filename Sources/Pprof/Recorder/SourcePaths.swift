#if canImport(Glibc)
import Glibc
#endif

/// The full path (`#filePath`) of a call site's source file, found once at registration from its
/// `#fileID` (`Module/File.swift`), so that the hooks need not pass a second file literal: the
/// compiler names each source file's compile unit by its full path in the object's DWARF strings
/// (`.debug_str`, `.debug_line_str`), which are read once per object.
///
/// ```swift
/// SourcePaths.path(fileID: "pprof_demo/UserService.swift", object: "/proc/self/exe")
/// // "/src/swift-pprof/Sources/pprof-demo/UserService.swift"
/// ```
///
/// Among the object's Swift files of that name, the one with a directory spelt as the module
/// (SwiftPM's `Sources/<target>/…`, `-` read as `_`) wins; else a name held by one file only.
/// Nil where the object has no debug strings (stripped) or the name stays ambiguous: the
/// profile then carries `#fileID`.
enum SourcePaths {
    /// Each object's Swift source paths by file name, read once (nil: unreadable).
    private final class Cache: @unchecked Sendable {
        let lock = Lock()
        var byObject: [String: [String: [String]]?] = [:]  // guarded by `lock`
    }

    private static let cache = Cache()

    /// The full path of `fileID` in the object at `object` (a path; `/proc/self/exe` for the
    /// main program), or nil.
    static func path(fileID: String, object: String) -> String? {
        guard let slash = fileID.firstIndex(of: "/") else { return nil }
        let module = String(fileID[..<slash])
        let name = String(fileID[fileID.index(after: slash)...])
        let index: [String: [String]]? = cache.lock.withLock {
            if let cached = cache.byObject[object] { return cached }
            let loaded = readSwiftPaths(object)
            cache.byObject[object] = loaded
            return loaded
        }
        guard let candidates = index?[name], !candidates.isEmpty else { return nil }
        let inModule = candidates.filter { path in
            path.split(separator: "/").dropLast().contains { identifier(String($0)) == module }
        }
        if inModule.count == 1 { return inModule[0] }
        return candidates.count == 1 ? candidates[0] : nil
    }

    /// A directory name as Swift spells a module named after it: what is not a letter, digit
    /// or `_` becomes `_`, and a leading digit gets a `_` before it.
    static func identifier(_ text: String) -> String {
        var result = String(
            text.unicodeScalars.map {
                $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" ? Character($0) : "_"
            }
        )
        if let first = result.first, first.isNumber { result = "_" + result }
        return result
    }

    /// The absolute `.swift` paths among an ELF file's DWARF strings, by file name.
    private static func readSwiftPaths(_ path: String) -> [String: [String]]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 64 else { return nil }
        let size = Int(info.st_size)
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else { return nil }
        defer { munmap(mapped, size) }
        let base = UnsafeRawPointer(mapped)
        func u16(_ o: Int) -> Int { Int(base.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        func u32(_ o: Int) -> Int { Int(base.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> Int { Int(clamping: base.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        // "\x7fELF", ELFCLASS64, ELFDATA2LSB
        guard u32(0) == 0x464C_457F, base.load(fromByteOffset: 4, as: UInt8.self) == 2,
            base.load(fromByteOffset: 5, as: UInt8.self) == 1
        else { return nil }
        let shoff = u64(0x28)
        let shentsize = u16(0x3A)
        let shnum = u16(0x3C)
        let shstrndx = u16(0x3E)
        guard shoff > 0, shentsize >= 64, shoff <= size, shnum * shentsize <= size - shoff, shstrndx < shnum else {
            return nil
        }
        let names = u64(shoff + shstrndx * shentsize + 24)
        let namesSize = u64(shoff + shstrndx * shentsize + 32)
        guard names <= size, namesSize <= size - names else { return nil }
        var paths: [String: [String]] = [:]
        var seen: Set<String> = []
        for index in 0..<shnum {
            let header = shoff + index * shentsize
            let nameOffset = u32(header)
            guard nameOffset < namesSize else { continue }
            let sectionName = String(cString: (base + names + nameOffset).assumingMemoryBound(to: CChar.self))
            guard sectionName == ".debug_str" || sectionName == ".debug_line_str" else { continue }
            let flags = u64(header + 8)
            guard flags & 0x800 == 0 else { continue }  // SHF_COMPRESSED: not read
            let offset = u64(header + 24)
            let length = u64(header + 32)
            guard offset <= size, length <= size - offset else { continue }
            let bytes = UnsafeBufferPointer(
                start: (base + offset).assumingMemoryBound(to: UInt8.self),
                count: length
            )
            var start = 0
            while start < length {
                var end = start
                while end < length && bytes[end] != 0 { end += 1 }
                if end - start > 7, bytes[start] == UInt8(ascii: "/"),
                    bytes[(end - 6)..<end].elementsEqual(".swift".utf8)
                {
                    let text = String(decoding: bytes[start..<end], as: UTF8.self)
                    if seen.insert(text).inserted, let last = text.split(separator: "/").last {
                        paths[String(last), default: []].append(text)
                    }
                }
                start = end + 1
            }
        }
        return paths
    }
}
