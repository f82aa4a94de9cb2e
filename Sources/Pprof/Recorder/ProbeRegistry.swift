/// Interns call sites (name, file, line) into small integer ids, the `probe` of every event.
///
/// Literal names are keyed by their addresses, so a lookup hashes three words; runtime names
/// are keyed by their text. Either way the hooks only come here on a cache miss.
final class ProbeRegistry: @unchecked Sendable {
    /// Id 0 is never a probe (an idle token carries it); id 1 stands for frames whose events were
    /// dropped; id 2 for scopes entered while nothing recorded; id 3 for an async frame's time
    /// outside the scopes nested in it.
    static let droppedProbe: UInt32 = 1
    static let enteredBeforeRecordingProbe: UInt32 = 2
    /// Id 3: the time of an async frame that no scope nested in it accounts for.
    static let suspendedProbe: UInt32 = 3
    /// Id 4: call paths the call tree had no room for (`CallTree.nodeLimit`).
    static let treeFullProbe: UInt32 = 4
    /// Id 5: allocations made outside every recorded scope (PprofMemory).
    static let noScopeProbe: UInt32 = 5

    private struct StaticKey: Hashable {
        var name: UInt
        var file: UInt
        var line: UInt
    }

    private struct NamedKey: Hashable {
        var name: String
        var file: UInt
        var line: UInt
    }

    private struct SpanKey: Hashable {
        var name: String
        var file: String
        var line: UInt
    }

    private struct Table {
        var functions: [Profile.Function] = [
            Profile.Function(name: "(none)", file: "", line: 0),
            Profile.Function(name: "(events dropped)", file: "", line: 0),
            Profile.Function(name: "(entered before recording)", file: "", line: 0),
            Profile.Function(name: "(suspended or unscoped)", file: "", line: 0),
            Profile.Function(name: "(call tree full)", file: "", line: 0),
            Profile.Function(name: "(no scope)", file: "", line: 0),
        ]
        var literal: [StaticKey: UInt32] = [:]
        var named: [NamedKey: UInt32] = [:]
        var spans: [SpanKey: UInt32] = [:]
        var native: [UInt: UInt32] = [:]
        /// CPU samples' interrupted functions, by symbol (or name, for an address without one).
        var interrupted: [String: UInt32] = [:]
    }

    private let lock = Lock()
    private var table = Table()  // guarded by `lock`

    /// A literal call site. `line` with `Recorder.unnamedLineBit` set is an unnamed scope's:
    /// `name` is then its `#function`, and the probe is named after the enclosing function.
    /// The call site is looked up on the calling thread's stack (outside the lock: the first
    /// lookup in an object reads its symbol table): its address, its object, the full path of
    /// `file`, and where `function` is given its enclosing function's name.
    func intern(_ name: StaticString, _ file: StaticString, _ line: UInt, function: StaticString = "") -> UInt32 {
        let key = StaticKey(name: ThreadState.key(name), file: ThreadState.key(file), line: line)
        if let id = lock.withLock({ table.literal[key] }) { return id }
        let unnamed = line & Recorder.unnamedLineBit != 0
        let sourceLine = Int(line & ~Recorder.unnamedLineBit)
        let functionName = function.description
        let fileID = file.description
        let site = CallSiteNames.enclosing(function: functionName, fileID: fileID)
        let entry = Profile.Function(
            name: unnamed ? site?.name ?? functionName : name.description,
            systemName: site?.name == nil ? nil : site?.systemName,
            file: fileID,
            line: sourceLine,
            mapping: site?.mapping,
            path: site?.path ?? SourcePaths.path(fileID: fileID, object: "/proc/self/exe") ?? "",
            address: site?.address ?? 0
        )
        return lock.withLock {
            if let id = table.literal[key] { return id }
            let id = UInt32(table.functions.count)
            table.functions.append(entry)
            table.literal[key] = id
            return id
        }
    }

    /// A runtime-named call site: looked up on the stack once per name, as a literal one is.
    func intern(named name: String, _ file: StaticString, _ line: UInt) -> UInt32 {
        let key = NamedKey(name: name, file: ThreadState.key(file), line: line)
        if let id = lock.withLock({ table.named[key] }) { return id }
        let fileID = file.description
        let site = CallSiteNames.enclosing(function: "", fileID: fileID)
        let entry = Profile.Function(
            name: name,
            file: fileID,
            line: Int(line),
            mapping: site?.mapping,
            path: site?.path ?? SourcePaths.path(fileID: fileID, object: "/proc/self/exe") ?? "",
            address: site?.address ?? 0
        )
        return lock.withLock {
            if let id = table.named[key] { return id }
            let id = UInt32(table.functions.count)
            table.functions.append(entry)
            table.named[key] = id
            return id
        }
    }

    /// A probe named at run time whose call site is known as text too (a tracing span's). Its
    /// stack is the tracer's, so it has no address of its own (the builder places it at its
    /// mapping's start); its file's full path is looked up in the main program.
    func intern(named name: String, fileName file: String, _ line: UInt) -> UInt32 {
        let key = SpanKey(name: name, file: file, line: line)
        if let id = lock.withLock({ table.spans[key] }) { return id }
        let path = SourcePaths.path(fileID: file, object: "/proc/self/exe") ?? ""
        return lock.withLock {
            if let id = table.spans[key] { return id }
            let id = UInt32(table.functions.count)
            table.functions.append(Profile.Function(name: name, file: file, line: Int(line), path: path))
            table.spans[key] = id
            return id
        }
    }

    /// A native frame below a scope in a heap profile: the function holding the return address
    /// `address`, named from its object's symbol table (`NativeFrameName`), at its link-time
    /// address less one (inside the call).
    func intern(nativeFrame address: UInt) -> UInt32 {
        if let id = lock.withLock({ table.native[address] }) { return id }
        let entry = NativeFrameName.function(returnAddress: address)
        return lock.withLock {
            if let id = table.native[address] { return id }
            let id = UInt32(table.functions.count)
            table.functions.append(entry)
            table.native[address] = id
            return id
        }
    }

    /// The function a CPU sample interrupted at `pc`: one probe per function (its symbol), not
    /// per address, so that a hot loop is one leaf; its location is the first address seen.
    /// Returns the probe and the function's symbol.
    func intern(interruptedAt pc: UInt) -> (probe: UInt32, system: String) {
        // NativeFrameName takes a return address and looks one byte before it: the interrupted
        // instruction itself is the one to name.
        var entry = NativeFrameName.function(returnAddress: pc &+ 1)
        if entry.name.hasPrefix("0x") {
            // No symbol: one function per object, not one per address ("0x… (libc.so.6)").
            let object = entry.name.split(separator: " ", maxSplits: 1).dropFirst().first.map {
                " in " + $0.dropFirst().dropLast()
            }
            entry.name = "(no symbol\(object ?? ""))"
            entry.systemName = entry.name
        }
        let key = entry.systemName
        return lock.withLock {
            if let id = table.interrupted[key] { return (id, key) }
            let id = UInt32(table.functions.count)
            table.functions.append(entry)
            table.interrupted[key] = id
            return (id, key)
        }
    }

    /// The probe `id`'s function.
    func function(_ id: UInt32) -> Profile.Function? {
        lock.withLock { Int(id) < table.functions.count ? table.functions[Int(id)] : nil }
    }

    /// A probe for a label set (`LabelSets`), which is a frame of the tree but not of a profile.
    func intern(labelSet labels: [String: String]) -> UInt32 {
        lock.withLock {
            let id = UInt32(table.functions.count)
            let text = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            table.functions.append(Profile.Function(name: "(labels \(text))", file: "", line: 0))
            return id
        }
    }

    /// Every probe so far, indexed by id.
    func functions() -> [Profile.Function] {
        lock.withLock { table.functions }
    }
}
