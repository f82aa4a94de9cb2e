import CPprof

/// The aggregator's side of PprofMemory's table of sampled blocks (`CPprofAllocations.h`): it
/// hands each newly published block to the folder of the thread that allocated it, which
/// charges it to the frame open at its place in that thread's allocations, and it reads the
/// blocks still live for a heap profile. Only the aggregator's thread uses it, under its lock.
///
/// ```swift
/// var blocks = SampledBlocks()
/// blocks.collect(folders: folders, tree: tree)   // in every drain, before the rings are folded
/// SampledBlocks.forEachLive { node, size, frames in … }   // for a heap profile
/// ```
struct SampledBlocks {
    /// A slot taken off the published stack, and the generation of the block it held then: a
    /// charge reaches the slot only while it still holds that block.
    struct Ticket {
        var index: UInt32
        var generation: UInt32

        init(index: UInt32, flags: UInt32) {
            self.index = index
            generation = flags >> UInt32(CPPROF_SAMPLE_GENERATION_SHIFT)
        }

        /// Marks the block charged to `node` (SEEN), unless it was freed meanwhile.
        func charge(to node: Int32) {
            CPprof_sampleSeen(index, generation, UInt32(bitPattern: node))
        }
    }

    /// `CPprof_samplesTaken` at the last scan: the table is scanned only when it has moved.
    private var taken: UInt64 = 0

    /// Takes the blocks published since the last call (a stack the hooks push onto, so the
    /// cost is per new block, not per slot). Call it after reading the rings' heads and before
    /// folding up to them: a block is published before the allocations record that covers it,
    /// so every record folded then has its blocks queued already.
    mutating func collect(folders: [ThreadFolder], tree: CallTree) {
        let now = CPprof_getSamplesTaken()
        guard now != taken else { return }
        taken = now
        var next = CPprof_samplesPublishedTake()
        guard next != 0 else { return }
        var byThread: [UInt32: ThreadFolder] = [:]
        for folder in folders { byThread[folder.threadID] = folder }
        var batches: [UInt32: [(ticket: Ticket, seq: UInt64)]] = [:]
        while next != 0 {
            let index = next - 1
            guard let slot = CPprof_sampleSlot(index) else { break }
            // Read before the take: a block already freed gives its slot back there.
            next = slot.pointee.nextPublished
            let thread = slot.pointee.thread
            let seq = slot.pointee.seq
            let flags = CPprof_sampleTake(index)
            guard flags & UInt32(CPPROF_SAMPLE_LIVE) != 0 else { continue }
            let ticket = Ticket(index: index, flags: flags)
            if thread != 0, byThread[thread] != nil {
                batches[thread, default: []].append((ticket, seq))
            } else {
                // Allocated on a thread without recorder state, or one that has ended.
                ticket.charge(to: tree.child(of: 0, probe: ProbeRegistry.noScopeProbe))
            }
        }
        for (thread, batch) in batches { byThread[thread]?.addPendingSamples(batch, tree: tree) }
    }

    /// Calls `body` with each sampled block live now and charged to a node: its node, its
    /// size, and its return addresses (valid only during the call). A slot freed and reused while
    /// it is read (its generation changed) is left out. Allocates nothing per block.
    static func forEachLive(_ body: (_ node: Int32, _ size: UInt64, _ frames: UnsafeBufferPointer<UInt>) -> Void) {
        let live = UInt32(CPPROF_SAMPLE_USED) | UInt32(CPPROF_SAMPLE_LIVE) | UInt32(CPPROF_SAMPLE_SEEN)
        var frames = (
            UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0),
            UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0)
        )
        for index in 0..<CPprof_sampleHighWater() {
            guard let slot = CPprof_sampleSlot(index) else { break }
            let before = CPprof_sampleFlags(slot)
            guard before & live == live else { continue }
            let node = Int32(bitPattern: slot.pointee.node)
            let size = slot.pointee.size
            let count = min(Int(slot.pointee.frameCount), Int(CPPROF_SAMPLE_FRAMES))
            withUnsafeMutableBytes(of: &frames) { copy in
                withUnsafeBytes(of: slot.pointee.frames) { copy.copyMemory(from: $0) }
            }
            guard CPprof_sampleFlags(slot) == before else { continue }
            withUnsafeBytes(of: frames) { raw in
                body(node, size, UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt.self).prefix(count)))
            }
        }
    }
}
