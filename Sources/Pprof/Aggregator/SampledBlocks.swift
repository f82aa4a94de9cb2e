import CPprof

/// The aggregator's side of PprofMemory's table of sampled blocks (`CPprofAllocations.h`): it
/// hands each newly published block to the folder of the thread that allocated it, which
/// charges it to the frame open at its place in that thread's allocations, and it reads the
/// blocks still live for a heap profile. Only the aggregator's thread uses it, under its lock.
///
/// ```swift
/// var blocks = SampledBlocks()
/// blocks.collect(folders: folders, tree: tree)   // in every drain, before the rings are folded
/// let live = SampledBlocks.live()                // for a heap profile
/// ```
struct SampledBlocks {
    /// `CPprof_samplesTaken` at the last scan: the table is scanned only when it has moved.
    private var taken: UInt64 = 0

    /// One live sampled block: the node it is charged to, its size, and its return addresses,
    /// innermost first.
    struct Block {
        var node: Int32
        var size: UInt64
        var frames: [UInt]
    }

    /// Finds the blocks published since the last scan. Call it after reading the rings' heads
    /// and before folding up to them: a block is published before the allocations record that
    /// covers it, so every record folded then has its blocks queued already.
    mutating func collect(folders: [ThreadFolder], tree: CallTree) {
        let now = CPprof_getSamplesTaken()
        guard now != taken else { return }
        taken = now
        let used = UInt32(CPPROF_SAMPLE_USED)
        let handled = UInt32(CPPROF_SAMPLE_QUEUED) | UInt32(CPPROF_SAMPLE_SEEN)
        var byThread: [UInt32: ThreadFolder] = [:]
        for folder in folders { byThread[folder.threadID] = folder }
        for index in 0..<CPprof_sampleHighWater() {
            guard let slot = CPprof_sampleSlot(index) else { break }
            let flags = CPprof_sampleFlags(slot)
            guard flags & used != 0, flags & handled == 0 else { continue }
            CPprof_sampleQueued(index)
            let thread = slot.pointee.thread
            if thread != 0, let folder = byThread[thread] {
                folder.addPendingSample(slot: index, seq: slot.pointee.seq, tree: tree)
            } else {
                // Allocated on a thread without recorder state, or one that has ended.
                CPprof_sampleSeen(index, UInt32(bitPattern: tree.child(of: 0, probe: ProbeRegistry.noScopeProbe)))
            }
        }
    }

    /// The sampled blocks live now and charged to a node. A slot freed and reused while it is
    /// read (its generation changed) is left out.
    static func live() -> [Block] {
        let live = UInt32(CPPROF_SAMPLE_USED) | UInt32(CPPROF_SAMPLE_LIVE) | UInt32(CPPROF_SAMPLE_SEEN)
        var blocks: [Block] = []
        for index in 0..<CPprof_sampleHighWater() {
            guard let slot = CPprof_sampleSlot(index) else { break }
            let before = CPprof_sampleFlags(slot)
            guard before & live == live else { continue }
            let sample = slot.pointee
            let count = min(Int(sample.frameCount), Int(CPPROF_SAMPLE_FRAMES))
            let frames = withUnsafeBytes(of: sample.frames) { raw in
                raw.bindMemory(to: UInt.self).prefix(count).map { $0 }
            }
            guard CPprof_sampleFlags(slot) == before else { continue }
            blocks.append(Block(node: Int32(bitPattern: sample.node), size: sample.size, frames: frames))
        }
        return blocks
    }
}
