import CPprof

#if canImport(Glibc)
import Glibc
#endif

/// The Swift runtime's demangler (libswiftCore exports it): with no output buffer it returns a
/// `malloc`ed string, or nil if `mangled` is not a Swift symbol.
@_silgen_name("swift_demangle")
private func swiftDemangle(
    _ mangled: UnsafePointer<CChar>,
    _ length: Int,
    _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?,
    _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

/// Names a call site the way Swift writes its enclosing function, found once per call site:
/// the first frame of the calling thread's stack outside Pprof (the function that inlined the
/// hook, or in a debug build the one that called it), its symbol from the `.symtab` of the object
/// that holds it, demangled by the Swift runtime.
///
/// ```swift
/// // In `struct JSONParser { func parse(_ text: String) { let t = Trace.enter() … } }`:
/// CallSiteNames.enclosing(function: "parse(_:)")
/// // name "JSONParser.parse(_:)", systemName "App.JSONParser.parse(Swift.String) -> ()"
/// ```
///
/// The symbol is trusted only where it agrees with `#function`: the hook may have been inlined,
/// with its function, into a caller, whose symbol then names another function. Then, or where
/// the object has no `.symtab` (stripped), the answer is nil and `#function` names the scope.
enum CallSiteNames {
    struct Site {
        /// The qualified name without the module: `JSONParser.parse(_:)`, `closure #1 in f()`;
        /// nil where the symbol is unknown or does not name `#function`.
        var name: String?
        /// The whole demangled symbol, where `name` is known.
        var systemName: String?
        /// The shared object holding the call site; nil for the main program.
        var mapping: Profile.Mapping?
        /// The return address of the registration's call, at its object's link-time address
        /// (as `Profile.Mapping` has it): an instruction inside the code that holds the hook,
        /// where pprof's `-disasm` and Source view place the call site.
        var address: UInt64
        /// The call site's source file as compiled (`#filePath`), or "" (see `SourcePaths`).
        var path: String
    }

    /// The enclosing function of the hook that is registering a call site (call it from the
    /// registration path, inside Pprof): its address, its object, its name checked against
    /// `function` (its `#function`; "" names nothing), and the full path of `fileID`.
    static func enclosing(function: String, fileID: String = "") -> Site? {
        // Not an array's buffer closure: in a debug build its frame would come first.
        let capacity = 48
        let frames = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: capacity)
        defer { frames.deallocate() }
        let count = Int(CPprof_backtrace(frames, Int32(capacity)))
        // This function's caller chain: the shim, then Pprof's frames down to the hook, then the
        // code that holds the hook.
        var inPprof = false
        for frame in UnsafeBufferPointer(start: frames, count: count) {
            guard let frame else { return nil }
            // A return address: the call is the instruction before it.
            let returnAddress = UInt(bitPattern: frame)
            guard let (symbol, object, objectFile, bias) = symbolAndFile(at: returnAddress &- 1) else { return nil }
            if symbol.hasPrefix("$s5Pprof") {
                inPprof = true
                continue
            }
            if !inPprof { continue }
            var site = Site(
                mapping: object,
                address: UInt64(returnAddress &- bias),
                path: fileID.isEmpty ? "" : SourcePaths.path(fileID: fileID, object: objectFile) ?? ""
            )
            if !function.isEmpty, let demangled = demangle(symbol),
                let name = qualifiedName(demangled: demangled, function: function)
            {
                site.name = name
                site.systemName = demangled
            }
            return site
        }
        return nil
    }

    /// `demangled` shortened to how Swift writes a function in source: its context without the
    /// module, then `function`; closures prefixed `closure #N in`. Nil when `demangled` does not
    /// name `function` (the hook was inlined into another function).
    static func qualifiedName(demangled full: String, function: String) -> String? {
        let base = String(function.prefix { $0 != "(" })
        guard !base.isEmpty else { return nil }
        var text = Array(full.replacingPrivateDiscriminators().utf8)
        text = Array(String(decoding: text, as: UTF8.self).replacingAll("__allocating_init", with: "init").utf8)
        let needle = Array(("." + base).utf8)
        // The last mention: after every closure's signature and a specialization's types.
        var match: Int?
        var i = text.count - needle.count
        while i >= 0 {
            if text[i..<(i + needle.count)].elementsEqual(needle) {
                let after = i + needle.count
                if after == text.count
                    || [UInt8(ascii: "("), UInt8(ascii: "<"), UInt8(ascii: "."), UInt8(ascii: " ")].contains(
                        text[after]
                    )
                {
                    match = i
                    break
                }
            }
            i -= 1
        }
        guard let dot = match else { return nil }
        // The context: back over identifiers, dots and generic arguments.
        var start = dot
        var depth = 0
        while start > 0 {
            let c = text[start - 1]
            if c == UInt8(ascii: ">") {
                depth += 1
            } else if c == UInt8(ascii: "<") {
                if depth == 0 { break }
                depth -= 1
            } else if depth == 0
                && !(c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c >= 0x80
                    || (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A))
            {
                break
            }
            start -= 1
        }
        var context: [UInt8] = []
        depth = 0
        for c in text[start..<dot] {
            if c == UInt8(ascii: "<") {
                depth += 1
            } else if c == UInt8(ascii: ">") {
                depth -= 1
            } else if depth == 0 {
                context.append(c)
            }
        }
        // Drop the module: the first component.
        var components = String(decoding: context, as: UTF8.self).split(
            separator: ".",
            omittingEmptySubsequences: false
        )
        if !components.isEmpty { components.removeFirst() }
        var name = components.map { $0 + "." }.joined() + function
        // Closures around the call site, innermost first, as the demangler lists them.
        let prefix = String(decoding: text[..<start], as: UTF8.self)
        var closures: [String] = []
        var rest = Substring(prefix)
        while let range = rest.firstRange(of: "closure #") {
            var end = range.upperBound
            while end < rest.endIndex && rest[end].isNumber { end = rest.index(after: end) }
            let implicit = rest[..<range.lowerBound].hasSuffix("implicit ")
            closures.append((implicit ? "implicit " : "") + String(rest[range.lowerBound..<end]))
            rest = rest[end...]
        }
        if !closures.isEmpty { name = closures.map { $0 + " in " }.joined() + name }
        return name
    }

    static func demangle(_ symbol: String) -> String? {
        if symbol.hasPrefix("_Z") { return demangleCxx(symbol) }
        guard symbol.hasPrefix("$s") else { return nil }
        return symbol.withCString { mangled in
            guard let raw = swiftDemangle(mangled, strlen(mangled), nil, nil, 0) else { return nil }
            defer { free(raw) }
            return String(validatingCString: raw)
        }
    }

    /// A C++ symbol (the Swift runtime's, libstdc++'s) as pprof shows one: demangled, without
    /// template arguments, parameters or return type (`swift::RefCounts::doDecrementSlow`).
    static func demangleCxx(_ symbol: String) -> String? {
        guard let raw = symbol.withCString({ CPprof_demangleCxx($0) }) else { return nil }
        defer { free(raw) }
        guard let full = String(validatingCString: raw) else { return nil }
        var text = ""
        var depth = 0
        for character in full.replacingAll("(anonymous namespace)", with: "{anonymous}") {
            if character == "<" { depth += 1 }
            if depth == 0 {
                // The parameters: the name is complete.
                if character == "(" { break }
                text.append(character)
            }
            if character == ">" { depth = max(0, depth - 1) }
        }
        // A return type comes before the name, a space apart.
        let name = text.split(separator: " ").last.map(String.init) ?? text
        return name.isEmpty ? full : name
    }

    // MARK: Symbols

    /// Each object's symbol table, read once (nil: unreadable), for the process's life: the
    /// objects are the process's, whichever recorder asks.
    private final class Tables: @unchecked Sendable {
        let lock = Lock()
        var byPath: [String: SymbolTable?] = [:]  // guarded by `lock`
    }

    private static let tables = Tables()

    /// The object that holds `address`: whether it is the main program, its mapping (path as
    /// the loader knows it, "" for the main program; GNU build id; executable segment at its
    /// link-time address), and its load bias.
    static func object(at address: UInt) -> (isMain: Bool, mapping: Profile.Mapping, bias: UInt)? {
        var object = CPprof_Object()
        guard CPprof_objectForAddress(address, &object) != 0 else { return nil }
        let path = withUnsafeBytes(of: &object.path) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        let buildID = withUnsafeBytes(of: &object.buildID) { ExecutableMapping.hex($0.prefix(object.buildIDLength)) }
        let mapping = Profile.Mapping(
            path: path,
            buildID: buildID,
            start: UInt64(object.textStart),
            limit: UInt64(object.textLimit),
            offset: object.textOffset
        )
        return (object.isMain != 0, mapping, object.bias)
    }

    /// The function symbol that holds `address`, and its object (nil for the main program).
    static func symbol(at address: UInt) -> (String, Profile.Mapping?)? {
        symbolAndFile(at: address).map { ($0.0, $0.1) }
    }

    /// The function symbol that holds `address`, its object (nil for the main program), the
    /// object's file (`/proc/self/exe` for the main program), and its load bias.
    static func symbolAndFile(at address: UInt) -> (String, Profile.Mapping?, String, UInt)? {
        guard let (isMain, mapping, bias) = object(at: address) else { return nil }
        let file = isMain ? "/proc/self/exe" : mapping.path
        guard let table = table(file), let name = table.symbol(at: UInt64(address &- bias)) else { return nil }
        return (name, isMain ? nil : mapping, file, bias)
    }

    /// Where the function that holds `address` starts (a run-time address), without its name:
    /// what tells two addresses of one function apart cheaply. nil where no symbol holds it.
    static func functionStart(at address: UInt) -> UInt? {
        guard let (isMain, mapping, bias) = object(at: address),
            let table = table(isMain ? "/proc/self/exe" : mapping.path),
            let start = table.start(at: UInt64(address &- bias))
        else { return nil }
        return UInt(start) &+ bias
    }

    /// Where `address` (a run-time address) may stand in a profile so that pprof can disassemble
    /// around it: itself when it is in its object's `.text`, else that section's start (Go 1.19's
    /// `-weblist` panics on code before it); and whether it is a PLT stub.
    static func placement(
        of address: UInt,
        in object: (isMain: Bool, mapping: Profile.Mapping, bias: UInt)
    ) -> (address: UInt64, isLinkageStub: Bool) {
        let (isMain, mapping, bias) = object
        let linkAddress = UInt64(address &- bias)
        guard let table = table(isMain ? "/proc/self/exe" : mapping.path), let text = table.text else {
            return (linkAddress, false)
        }
        let isStub = table.linkageTables.contains { $0.contains(linkAddress) }
        return (text.contains(linkAddress) ? linkAddress : text.lowerBound, isStub)
    }

    /// The symbol table of `file`, read once.
    private static func table(_ file: String) -> SymbolTable? {
        tables.lock.withLock {
            if let cached = tables.byPath[file] { return cached }
            let loaded = SymbolTable(path: file)
            tables.byPath[file] = loaded
            return loaded
        }
    }
}

/// An ELF object's `.symtab` functions, sorted by address (the file stays mapped: the names are
/// read from its `.strtab` on demand).
final class SymbolTable: @unchecked Sendable {
    private let base: UnsafeRawPointer
    private let size: Int
    private var starts: [UInt64] = []
    private var ends: [UInt64] = []
    private var names: [Int] = []  // file offsets of the names
    /// The `.text` section's link-time range, if the object has one: the only code Go 1.19's
    /// pprof disassembles (`-weblist`, `-disasm`); an address before it makes pprof slice out of
    /// range and panic.
    private(set) var text: Range<UInt64>?
    /// The procedure linkage table's sections (`.plt`, `.plt.got`, `.plt.sec`): stubs, no symbols.
    private(set) var linkageTables: [Range<UInt64>] = []

    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 64 else { return nil }
        size = Int(info.st_size)
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else { return nil }
        base = UnsafeRawPointer(mapped)
        guard load() else {
            munmap(mapped, size)
            return nil
        }
    }

    private func u16(_ o: Int) -> Int { Int(base.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    private func u32(_ o: Int) -> Int { Int(base.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    private func u64(_ o: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
    /// A 64-bit offset or size as an Int, clamped: a corrupt value fails the range checks below
    /// instead of trapping.
    private func clamped(_ o: Int) -> Int { Int(clamping: u64(o)) }

    /// Reads the section headers of a 64-bit little-endian ELF file and sorts its functions.
    private func load() -> Bool {
        // "\x7fELF", ELFCLASS64, ELFDATA2LSB
        guard u32(0) == 0x464C_457F, base.load(fromByteOffset: 4, as: UInt8.self) == 2,
            base.load(fromByteOffset: 5, as: UInt8.self) == 1
        else { return false }
        let shoff = clamped(0x28)
        let shentsize = u16(0x3A)
        let shnum = u16(0x3C)
        // Compared so that no sum can overflow, whatever the file says.
        guard shoff > 0, shentsize >= 64, shoff <= size, shnum * shentsize <= size - shoff else { return false }
        loadCodeSections(shoff: shoff, shentsize: shentsize, shnum: shnum)
        // The full symbol table, or where an object was stripped of it (Debian's libc), the
        // dynamic one: its exported functions at least.
        for wanted in [2, 11] {  // SHT_SYMTAB, SHT_DYNSYM
            if let found = load(sectionType: wanted, shoff: shoff, shentsize: shentsize, shnum: shnum) {
                return found
            }
        }
        return false
    }

    /// `text` and `linkageTables`, from the section headers' names (`.shstrtab`).
    private func loadCodeSections(shoff: Int, shentsize: Int, shnum: Int) {
        let namesIndex = u16(0x3E)
        guard namesIndex < shnum else { return }
        let namesOffset = clamped(shoff + namesIndex * shentsize + 24)
        let namesLength = clamped(shoff + namesIndex * shentsize + 32)
        guard namesOffset <= size, namesLength <= size - namesOffset else { return }
        for index in 0..<shnum {
            let header = shoff + index * shentsize
            let name = u32(header)
            // SHF_EXECINSTR, and a name inside the table.
            guard u64(header + 8) & 0x4 != 0, name < namesLength else { continue }
            let start = u64(header + 16)
            let length = u64(header + 32)
            guard start <= UInt64.max - length else { continue }
            let range = start..<(start + length)
            let text = base + namesOffset + name
            let limit = namesLength - name
            if sectionName(text, limit, is: ".text") {
                self.text = range
            } else if sectionName(text, limit, is: ".plt") || sectionName(text, limit, is: ".plt.got")
                || sectionName(text, limit, is: ".plt.sec")
            {
                linkageTables.append(range)
            }
        }
    }

    /// Whether the NUL-terminated name at `name` (at most `limit` bytes readable) is `wanted`.
    private func sectionName(_ name: UnsafeRawPointer, _ limit: Int, is wanted: StaticString) -> Bool {
        let count = wanted.utf8CodeUnitCount
        guard count < limit, name.load(fromByteOffset: count, as: UInt8.self) == 0 else { return false }
        let bytes = wanted.utf8Start
        for i in 0..<count where name.load(fromByteOffset: i, as: UInt8.self) != bytes[i] { return false }
        return true
    }

    /// The functions of the first section of `sectionType`; nil when there is none.
    private func load(sectionType: Int, shoff: Int, shentsize: Int, shnum: Int) -> Bool? {
        for index in 0..<shnum {
            let header = shoff + index * shentsize
            guard u32(header + 4) == sectionType else { continue }
            let offset = clamped(header + 24)
            let length = clamped(header + 32)
            let link = u32(header + 40)
            guard link < shnum, offset <= size, length <= size - offset else { return false }
            let strings = clamped(shoff + link * shentsize + 24)
            let stringsLength = clamped(shoff + link * shentsize + 32)
            guard strings <= size, stringsLength <= size - strings else { return false }
            // Plain arrays and index loops, no tuples or closures: a debug build's unspecialized
            // generic code allocates on every element of those, and this runs while a scope is
            // being entered for the first time.
            var values: [UInt64] = []
            var sizes: [UInt64] = []
            var nameOffsets: [Int] = []
            var entry = offset
            while entry + 24 <= offset + length {
                let kind = base.load(fromByteOffset: entry + 4, as: UInt8.self) & 0xF
                let value = u64(entry + 8)
                let name = u32(entry)
                if kind == 2 && value != 0 && name < stringsLength {  // STT_FUNC
                    values.append(value)
                    sizes.append(u64(entry + 16))
                    nameOffsets.append(strings + name)
                }
                entry += 24
            }
            let count = values.count
            // Sorted as integers: the address above the symbol's index (link-time addresses are
            // below 2^44, and an object has fewer than 2^20 functions; else a sort of indices).
            var order = [UInt64](repeating: 0, count: count)
            var packed = count < 1 << 20
            var i = 0
            while packed && i < count {
                packed = values[i] < 1 << 44
                order[i] = values[i] << 20 | UInt64(i)
                i += 1
            }
            if packed {
                order.withUnsafeMutableBufferPointer { SymbolTable.heapSort($0) }
                i = 0
                while i < count {
                    order[i] &= (1 << 20) - 1
                    i += 1
                }
            } else {
                var indices = Array(0..<count)
                indices.sort { values[$0] < values[$1] }
                i = 0
                while i < count {
                    order[i] = UInt64(indices[i])
                    i += 1
                }
            }
            starts.reserveCapacity(count)
            ends.reserveCapacity(count)
            names.reserveCapacity(count)
            i = 0
            while i < count {
                let symbol = Int(order[i])
                starts.append(values[symbol])
                ends.append(values[symbol] &+ max(sizes[symbol], 1))
                names.append(nameOffsets[symbol])
                i += 1
            }
            return true
        }
        return nil
    }

    /// Sorts `keys` in place, without the standard library's generic sort, which a debug build
    /// calls unspecialized (allocating on every element).
    static func heapSort(_ keys: UnsafeMutableBufferPointer<UInt64>) {
        func siftDown(_ start: Int, _ end: Int) {
            var root = start
            while 2 * root + 1 < end {
                var child = 2 * root + 1
                if child + 1 < end && keys[child] < keys[child + 1] { child += 1 }
                if keys[root] >= keys[child] { return }
                keys.swapAt(root, child)
                root = child
            }
        }
        let count = keys.count
        var start = count / 2 - 1
        while start >= 0 {
            siftDown(start, count)
            start -= 1
        }
        var end = count - 1
        while end > 0 {
            keys.swapAt(0, end)
            siftDown(0, end)
            end -= 1
        }
    }

    /// The function whose range holds `address` (a link-time address).
    func symbol(at address: UInt64) -> String? {
        guard let index = index(at: address) else { return nil }
        return String(validatingCString: (base + names[index]).assumingMemoryBound(to: CChar.self))
    }

    /// Where the function whose range holds `address` starts (a link-time address).
    func start(at address: UInt64) -> UInt64? {
        index(at: address).map { starts[$0] }
    }

    private func index(at address: UInt64) -> Int? {
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low + high) / 2
            if starts[mid] <= address { low = mid + 1 } else { high = mid }
        }
        guard low > 0, address < ends[low - 1] else { return nil }
        return low - 1
    }
}

extension String {
    /// `(Name in _0123ABCD)`, the demangler's spelling of a private declaration, as `Name`.
    fileprivate func replacingPrivateDiscriminators() -> String {
        var result = ""
        var rest = Substring(self)
        while let open = rest.firstIndex(of: "(") {
            result += rest[..<open]
            let tail = rest[rest.index(after: open)...]
            if let inRange = tail.firstRange(of: " in _"), let close = tail[inRange.upperBound...].firstIndex(of: ")"),
                !tail[..<inRange.lowerBound].contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }),
                tail[inRange.upperBound..<close].allSatisfy({ $0.isHexDigit })
            {
                result += tail[..<inRange.lowerBound]
                rest = tail[tail.index(after: close)...]
            } else {
                result += "("
                rest = tail
            }
        }
        return result + rest
    }

    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
