import CPprof
import Testing

@testable import Pprof

/// The per-thread block's layout: what the compiler laid out for `ThreadHeader` must keep each
/// field that another thread touches on a cache line of its own, and the regions after the header
/// must not overlap one another or the ring.
@Suite struct ThreadHeaderTests {
    @Test func sharedFieldsEachStartALineOfTheirOwn() {
        let offsets = [ThreadHeader.headOffset, ThreadHeader.tailOffset, ThreadHeader.countersOffset]
        for offset in offsets { #expect(offset % 64 == 0, "offset \(offset)") }
        // The producer's fields all sit before head's line.
        #expect(
            MemoryLayout<ThreadHeader>.offset(of: \ThreadHeader.allocObjectsEmitted)! + 8 <= ThreadHeader.headOffset
        )
        #expect(ThreadHeader.tailOffset >= ThreadHeader.headOffset + 64)
        #expect(ThreadHeader.countersOffset >= ThreadHeader.tailOffset + 64)
        // closed shares tail's line; the six counters fit in theirs.
        #expect(ThreadHeader.closedOffset + 8 <= ThreadHeader.tailOffset + 64)
        #expect(ThreadState.Counter.allCases.count * 8 <= 64)
    }

    /// PprofMemory's C hooks write the allocation counts and read the thread's serial at fixed
    /// offsets: they must be where the Swift layout puts them.
    @Test func theAllocationHooksOffsetsAreTheLayouts() throws {
        #expect(Int(CPPROF_HEADER_THREAD_ID_OFFSET) == MemoryLayout<ThreadHeader>.offset(of: \ThreadHeader.threadID)!)
        let state = try #require(ThreadState.allocate(capacity: 1024, threadID: 7))
        defer { state.deallocate() }
        #expect(UnsafeMutableRawPointer(state.counter(.allocObjects)) == state.base + Int(CPPROF_HEADER_ALLOC_OFFSET))
        #expect(UnsafeMutableRawPointer(state.counter(.allocBytes)) == state.base + Int(CPPROF_HEADER_ALLOC_OFFSET) + 8)
        #expect(state.base.load(fromByteOffset: Int(CPPROF_HEADER_THREAD_ID_OFFSET), as: UInt32.self) == 7)
    }

    @Test func regionsFollowTheHeaderWithoutOverlapping() {
        #expect(ThreadHeader.openOffset >= ThreadHeader.countersOffset + 64)
        #expect(ThreadHeader.probeCacheOffset >= ThreadHeader.openOffset + (Int(ThreadHeader.trackedDepths) + 1) * 8)
        #expect(ThreadHeader.eventsOffset >= ThreadHeader.probeCacheOffset + ThreadHeader.probeCacheSlots * 32)
        #expect(ThreadHeader.eventsOffset % 4096 == 0)
        #expect(ThreadState.mappedBytes(capacity: 1024) == ThreadHeader.eventsOffset + 1024 * 16)
    }

    @Test func fieldsWrittenThroughTheStateAreReadBackFromTheHeader() throws {
        let state = try #require(ThreadState.allocate(capacity: 1024, threadID: 7))
        defer { state.deallocate() }
        #expect(state.header.pointee.threadID == 7)
        #expect(state.header.pointee.mask == 1023)
        state.contextPath = 12
        state.depth = 3
        #expect(state.header.pointee.contextPath == 12)
        #expect(state.header.pointee.depth == 3)
        state.bump(.staleExits)
        #expect(state.counter(.staleExits).pointee.load(ordering: .relaxed) == 1)
        #expect(state.counter(.dropped).pointee.load(ordering: .relaxed) == 0)
        // The ring view and the state agree on where events go.
        #expect(state.ring.events == state.events)
        #expect(state.ring.capacity == 1024)
    }
}
