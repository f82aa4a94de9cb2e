#if canImport(Glibc)
import Glibc
#endif

/// Interns label sets: each distinct `[String: String]` becomes a probe of its own, a frame the
/// call tree keeps like any other and the profile builder turns back into labels
/// (`ProfileBuilder`). Entering a label set is then entering a scope.
///
/// A lookup hashes the dictionary and reads a lock-free table (`InternTable`); it allocates
/// nothing and takes no lock, except the first time a set is seen or when two sets' hashes
/// collide.
///
/// ```swift
/// let labels = Recorder.shared.labels
/// let probe = labels.probe(for: ["route": "/users"])
/// labels.labels(of: probe)   // ["route": "/users"]
/// ```
final class LabelSets: @unchecked Sendable {
    private final class Entry {
        let labels: [String: String]
        let probe: UInt32
        init(labels: [String: String], probe: UInt32) {
            self.labels = labels
            self.probe = probe
        }
    }

    private static let capacity = 1 << 16
    private let table = InternTable(capacityLog2: 17)
    /// Entries by the index the table holds; each is retained for good once published.
    private let entries: UnsafeMutablePointer<UnsafeRawPointer?>
    private let probes: ProbeRegistry
    private let lock = Lock()
    private var count = 0  // guarded by `lock`
    private var slow: [[String: String]: UInt32] = [:]  // guarded by `lock`: collisions, overflow
    private var byProbe: [UInt32: [String: String]] = [:]  // guarded by `lock`

    /// Label sets whose probes `probes` interns.
    init(probes: ProbeRegistry) {
        self.probes = probes
        if let p = InternTable.map(LabelSets.capacity * MemoryLayout<UnsafeRawPointer?>.stride) {
            entries = p.assumingMemoryBound(to: UnsafeRawPointer?.self)
        } else {
            // No memory for the fast table: every set is found in the locked map instead.
            entries = .allocate(capacity: 1)
            entries.initialize(to: nil)
            count = LabelSets.capacity
        }
    }

    /// The probe that stands for `labels`.
    func probe(for labels: [String: String]) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(labels)
        let key = UInt64(UInt(bitPattern: hasher.finalize())) | 1
        return fast(labels, key: key) ?? intern(labels, key: key)
    }

    /// The set's probe from the lock-free table, if it is there.
    private func fast(_ labels: [String: String], key: UInt64) -> UInt32? {
        guard let index = table.find(key), let raw = entries[Int(index)] else { return nil }
        return Unmanaged<Entry>.fromOpaque(raw)._withUnsafeGuaranteedRef { entry in
            entry.labels == labels ? entry.probe : nil
        }
    }

    private func intern(_ labels: [String: String], key: UInt64) -> UInt32 {
        lock.withLock {
            // Another thread may have interned it since this one looked.
            if let probe = fast(labels, key: key) ?? slow[labels] { return probe }
            let probe = probes.intern(labelSet: labels)
            byProbe[probe] = labels
            var published = false
            if count < LabelSets.capacity {
                let index = UInt32(count)
                let id = table.insert(key) {
                    entries[Int(index)] = UnsafeRawPointer(
                        Unmanaged.passRetained(Entry(labels: labels, probe: probe)).toOpaque()
                    )
                    published = true
                    return index
                }
                if published { count += 1 } else { _ = id }
            }
            // Another set holds this hash, or the table is full: the locked map answers for it.
            if !published { slow[labels] = probe }
            return probe
        }
    }

    /// The labels a probe stands for, or nil if it is not a label set.
    func labels(of probe: UInt32) -> [String: String]? {
        lock.withLock { byProbe[probe] }
    }

    /// Every label set so far, by probe.
    func all() -> [UInt32: [String: String]] {
        lock.withLock { byProbe }
    }
}
