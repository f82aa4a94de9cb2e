import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A map from non-zero 64-bit keys to 32-bit ids that is read without a lock and without
/// allocating, for the paths and label sets that async scopes and labels intern on their way in.
///
/// Open addressing in `mmap`ed memory (zero-filled, so resident only where touched): a reader
/// loads a slot's key with acquire ordering and, where it matches, the id stored before it.
/// Writers take `lock`, write the id, then publish the key with a release store; keys are never
/// removed. Past half full, new keys go to `overflow` (under the lock): lookups stay correct,
/// only slower.
///
/// ```swift
/// let table = InternTable(capacityLog2: 16)
/// let id = table.find(key) ?? table.insert(key) { nextID() }
/// ```
final class InternTable: @unchecked Sendable {
    private let keys: UnsafeMutablePointer<Atomic<UInt64>>
    private let ids: UnsafeMutablePointer<UInt32>
    private let mask: Int
    private let lock = Lock()
    private var used = 0  // guarded by `lock`
    private var overflow: [UInt64: UInt32] = [:]  // guarded by `lock`
    private let overflowing = Atomic<Bool>(false)

    init(capacityLog2: Int) {
        var capacity = 1 << capacityLog2
        var keys = InternTable.map(capacity * MemoryLayout<UInt64>.stride)
        var ids = InternTable.map(capacity * MemoryLayout<UInt32>.stride)
        if keys == nil || ids == nil {
            // No memory for the table (a strict overcommit limit): one slot, never filled, so that
            // every key goes to the locked overflow map. Slower, never a crash.
            warn("cannot map an intern table of \(capacity) entries; interning under a lock instead")
            capacity = 1
            keys = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
            keys!.initializeMemory(as: UInt64.self, repeating: 0, count: 1)
            ids = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 4)
            ids!.initializeMemory(as: UInt32.self, repeating: 0, count: 1)
            used = 1  // counts as full: inserts go to `overflow`
        }
        mask = capacity - 1
        self.keys = keys!.assumingMemoryBound(to: Atomic<UInt64>.self)
        self.ids = ids!.assumingMemoryBound(to: UInt32.self)
    }

    /// Zero-filled memory that is never given back (the tables live as long as the process), or
    /// nil if it cannot be had.
    static func map(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        return p
    }

    @inline(__always)
    private static func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20)
    }

    /// The id of `key`, if interned. No lock unless the table has overflowed.
    func find(_ key: UInt64) -> UInt32? {
        var i = InternTable.slot(key) & mask
        while true {
            let k = keys[i].load(ordering: .acquiring)
            if k == key { return ids[i] }
            if k == 0 { break }
            i = (i &+ 1) & mask
        }
        guard overflowing.load(ordering: .acquiring) else { return nil }
        return lock.withLock { overflow[key] }
    }

    /// The id of `key`: interned now with `makeID` (called under the lock) if it was not.
    func insert(_ key: UInt64, makeID: () -> UInt32) -> UInt32 {
        lock.withLock {
            var i = InternTable.slot(key) & mask
            while true {
                let k = keys[i].load(ordering: .relaxed)
                if k == key { return ids[i] }
                if k == 0 { break }
                i = (i &+ 1) & mask
            }
            if let id = overflow[key] { return id }
            let id = makeID()
            if used < (mask + 1) / 2 {
                ids[i] = id
                keys[i].store(key, ordering: .releasing)
                used += 1
            } else {
                overflow[key] = id
                overflowing.store(true, ordering: .releasing)
            }
            return id
        }
    }
}
