import CPprof
import PprofTestSupport
import Testing

@testable import Pprof

/// A private recorder, fed rings through the same types the process's recorder uses: exact
/// counts, windows that nest and overlap, a timeline, and a demand that never reaches the
/// hooks' recording flag (the process's recorder alone owns it). Exclusive with the suites that
/// drive the process's recorder, because it reads that flag.
@Suite(.recorderExclusive) struct PrivateRecorderTests {
    /// A recorder of its own and one ring adopted by it, as a registered thread's would be.
    struct Rig {
        let recorder = Recorder(environment: Environment(variables: ["PPROF_CLOCK": "monotonic"]))
        let ring: ThreadState

        init() throws {
            ring = try #require(ThreadState.allocate(capacity: 1024, threadID: 42))
            recorder.aggregator.adopt(ring, name: "rig")
        }

        func probe(_ name: String) -> UInt32 {
            recorder.probes.intern(named: name, #fileID, 1)
        }

        /// `outer` once, with `inner` called `n` times inside it.
        func run(outer: UInt32, inner: UInt32, n: Int, mode: UInt8) {
            let o = ring.enter(probe: outer, mode: mode)
            for _ in 0..<n {
                let i = ring.enter(probe: inner, mode: mode)
                ring.exit(i, timestamp: Clock.timestamp(mode))
            }
            ring.exit(o, timestamp: Clock.timestamp(mode))
        }
    }

    @Test func countsArePerPathAndExact() throws {
        let rig = try Rig()
        defer { rig.ring.deallocate() }
        let flagBefore = CPprof_mode()
        let window = rig.recorder.aggregator.open(mode: .cprof)
        #expect(CPprof_mode() == flagBefore)  // a private recorder's demand stays its own
        let (outer, inner) = (rig.probe("outer"), rig.probe("inner"))
        for _ in 0..<5 { rig.run(outer: outer, inner: inner, n: 3, mode: ModeFlag.counting) }
        let paths = PathTable(rig.recorder.aggregator.close(window))
        #expect(paths.calls == ["outer": 5, "outer;inner": 15])
        #expect(CPprof_mode() == flagBefore)
    }

    @Test func overlappingWindowsEachHoldWhatEndedInside() throws {
        let rig = try Rig()
        defer { rig.ring.deallocate() }
        let aggregator = rig.recorder.aggregator
        let (outer, inner) = (rig.probe("outer"), rig.probe("inner"))
        let mode = rig.recorder.clock.timedMode
        let first = aggregator.open(mode: .fprof)
        rig.run(outer: outer, inner: inner, n: 2, mode: mode)
        aggregator.drainNow()
        let second = aggregator.open(mode: .fprof)
        rig.run(outer: outer, inner: inner, n: 4, mode: mode)
        let a = PathTable(aggregator.close(first))
        let b = PathTable(aggregator.close(second))
        #expect(a.calls == ["outer": 2, "outer;inner": 6])
        #expect(b.calls == ["outer": 1, "outer;inner": 4])
    }

    @Test func aTimelineHoldsTimedRecordingWithoutAWindow() throws {
        let rig = try Rig()
        defer { rig.ring.deallocate() }
        let aggregator = rig.recorder.aggregator
        #expect(aggregator.openWindowCount == 0)
        let capture = aggregator.openTimeline(limit: 100)
        #expect(aggregator.openWindowCount == 1)  // the timeline, and no window behind it
        let (outer, inner) = (rig.probe("outer"), rig.probe("inner"))
        rig.run(outer: outer, inner: inner, n: 2, mode: rig.recorder.clock.timedMode)
        let timeline = aggregator.closeTimeline(capture)
        #expect(aggregator.openWindowCount == 0)
        #expect(timeline.eventCount == 3)  // outer and two inner slices
        #expect(!timeline.wasCut)
    }

    @Test func demandDecidesTheFlagByCount() {
        var demand = Demand()
        #expect(demand.flag(timedMode: ModeFlag.tsc) == ModeFlag.off)
        demand.hold(.counting)
        #expect(demand.flag(timedMode: ModeFlag.tsc) == ModeFlag.counting)
        demand.hold(.tracking)
        demand.hold(.timed)
        #expect(demand.flag(timedMode: ModeFlag.monotonic) == ModeFlag.monotonic)
        demand.release(.tracking)
        #expect(demand.flag(timedMode: ModeFlag.tsc) == ModeFlag.tsc)  // the timed hold remains
        demand.release(.timed)
        demand.release(.timed)  // one too many: ignored
        #expect(demand.flag(timedMode: ModeFlag.tsc) == ModeFlag.counting)
        demand.release(.counting)
        #expect(!demand.isRecording)
    }

    @Test func trackingHoldsAreCountedApartFromTheSwitch() throws {
        let rig = try Rig()
        defer { rig.ring.deallocate() }
        let aggregator = rig.recorder.aggregator
        aggregator.hold(.tracking)
        aggregator.setTrackingSwitch(true)
        aggregator.setTrackingSwitch(false)
        #expect(aggregator.isTracking)  // the other hold is still there
        aggregator.release(.tracking)
        #expect(!aggregator.isTracking)
    }
}
