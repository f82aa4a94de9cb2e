import Foundation
import PprofTestKit
import PprofTestSupport
import Synchronization
import Testing

@testable import Pprof

/// The Perfetto protobuf trace of a timeline window, decoded as the trace processor reads it:
/// its slices pair and nest per thread track with the program's counts, its threads carry the
/// kernel's ids and names, labels are arguments, async slices are on the process's tracks, and
/// a cut is a named track.
@Suite(.serialized, .recorderExclusive)
struct TimelinePerfettoTests {
    typealias Trace = Pprof.Trace

    /// The calling thread's kernel id: /proc/thread-self links to PID/task/TID.
    static func kernelTID() -> Int64 {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int64(link.split(separator: "/").last ?? "") ?? -1
    }

    /// On each track, slices nest or are disjoint, and each slice's depth is the number of
    /// slices around it.
    static func expectNesting(_ trace: DecodedPerfettoTrace) {
        for (track, slices) in Dictionary(grouping: trace.slices, by: \.track) {
            let sorted = slices.sorted { ($0.start, $1.end) < ($1.start, $0.end) }
            var open: [DecodedPerfettoTrace.Slice] = []
            for slice in sorted {
                while let top = open.last, top.end <= slice.start, !(top.end == slice.start && top.start == slice.start)
                {
                    open.removeLast()
                }
                if let top = open.last {
                    #expect(slice.end <= top.end, "\(slice.name) overlaps \(top.name) on track \(track)")
                }
                open.append(slice)
            }
        }
    }

    @Test func slicesPairAndNestPerThreadWithExactCountsAndKernelTIDs() async throws {
        let tids = Guarded<Set<Int64>>([])
        let window = TimelineWindow.start()
        onThreads(3) { _ in
            tids.withLock { _ = $0.insert(Self.kernelTID()) }
            for _ in 0..<20 {
                Trace.scope("tp.outer") {
                    Trace.scope("tp.inner") {}
                    Trace.scope("tp.inner") { Trace.scope("tp.leaf") {} }
                }
            }
        }
        await Trace.scope("tp.async") { await Task.yield() }
        let timeline = window.stop()
        #expect(timeline.wasCut == false)
        let trace = try DecodedPerfettoTrace(timeline.perfetto)
        let counts = Dictionary(grouping: trace.slices, by: \.name).mapValues(\.count)
        #expect(counts["tp.outer"] == 60)
        #expect(counts["tp.inner"] == 120)
        #expect(counts["tp.leaf"] == 60)
        #expect(counts["tp.async"] == 1)
        Self.expectNesting(trace)
        // The workload's threads are thread tracks with the kernel's ids and a name.
        let outerTracks = Set(trace.slices.filter { $0.name == "tp.outer" }.map(\.track))
        let shown = Set(outerTracks.compactMap { trace.tracks[$0]?.tid })
        #expect(shown == tids.withLock { $0 })
        for track in trace.tracks.values where track.tid != nil {
            #expect(track.pid == Int64(getpid()))
            #expect(!(track.threadName ?? "").isEmpty, "thread \(track.tid!) has no name")
        }
        // Depths: outer 0, inner 1, leaf 2 on each thread's track.
        #expect(trace.slices.filter { $0.name == "tp.outer" }.allSatisfy { $0.depth == 0 })
        #expect(trace.slices.filter { $0.name == "tp.leaf" }.allSatisfy { $0.depth == 2 })
        // The async slice is on an async track of the process, not a global one.
        let process = try #require(trace.tracks.values.first { $0.processName != nil })
        #expect(process.pid == Int64(getpid()))
        let async = try #require(trace.slices.first { $0.name == "tp.async" })
        #expect(trace.tracks[async.track]?.parent == process.uuid)
        #expect(trace.tracks[async.track]?.name == "async tasks")
    }

    @Test func aFewBytesAnEvent() throws {
        let window = TimelineWindow.start()
        onThreads(2) { _ in
            for _ in 0..<5_000 { Trace.scope("tp.busy") { Trace.scope("tp.busier") {} } }
        }
        let timeline = window.stop()
        let bytes = timeline.perfetto
        let trace = try DecodedPerfettoTrace(bytes)
        #expect(trace.slices.filter { $0.name == "tp.busier" }.count == 10_000)
        let perEvent = Double(bytes.count) / Double(trace.eventPackets)
        // Measured 13.5 bytes (a begin or an end, interned name, delta time); JSON takes 46.
        #expect(perEvent < 15, "\(perEvent) bytes an event")
        #expect(Double(timeline.json.count) / Double(trace.eventPackets) > 3 * perEvent)
    }

    @Test func labelsAreArgumentsOfTheSlicesUnderThemNotSlices() throws {
        let window = TimelineWindow.start()
        Trace.scope("tp.handle") {
            Trace.withLabels(["route": "/users/:id"]) {
                Trace.scope("tp.query") {
                    Trace.withLabels(["db": "users"]) { Trace.scope("tp.fetch") {} }
                }
            }
        }
        let timeline = window.stop()
        for bytes in [timeline.perfetto] {
            let trace = try DecodedPerfettoTrace(bytes)
            #expect(!trace.slices.contains { $0.name.hasPrefix("(labels") }, "\(trace.slices.map(\.name))")
            let handle = try #require(trace.slices.first { $0.name == "tp.handle" })
            let query = try #require(trace.slices.first { $0.name == "tp.query" })
            let fetch = try #require(trace.slices.first { $0.name == "tp.fetch" })
            #expect(handle.args["route"] == nil)
            #expect(query.args == ["route": "/users/:id"])
            #expect(fetch.args == ["route": "/users/:id", "db": "users"])
            // No frame between a scope and the scope under it.
            #expect(query.depth == handle.depth + 1)
            #expect(fetch.depth == query.depth + 1)
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(timeline.json)) as? [String: Any])
        let events = try #require(object["traceEvents"] as? [[String: Any]])
        #expect(!events.contains { ($0["name"] as? String)?.hasPrefix("(labels") == true })
        let fetch = try #require(events.first { $0["name"] as? String == "tp.fetch" })
        let args = try #require(fetch["args"] as? [String: String])
        #expect(args == ["route": "/users/:id", "db": "users"])
    }

    @Test func nestedAsyncScopesNestOnOneProcessTrack() async throws {
        let window = TimelineWindow.start()
        await Trace.scope("tp.request") {
            await Trace.scope("tp.step") { await Task.yield() }
            await Trace.scope("tp.step") { await Task.yield() }
        }
        let timeline = window.stop()
        let trace = try DecodedPerfettoTrace(timeline.perfetto)
        let request = try #require(trace.slices.first { $0.name == "tp.request" })
        let steps = trace.slices.filter { $0.name == "tp.step" }
        #expect(steps.count == 2)
        for step in steps {
            #expect(step.track == request.track)
            #expect(step.depth == request.depth + 1)
            #expect(request.start <= step.start && step.end <= request.end)
        }
        Self.expectNesting(trace)
    }

    @Test func aCutTimelineStopsCollectingAndShowsTheCutOnANamedTrack() throws {
        let window = TimelineWindow.start(bytes: 2048)
        for _ in 0..<500 { Trace.scope("tp.many") {} }
        let timeline = window.stop()
        #expect(timeline.wasCut)
        let trace = try DecodedPerfettoTrace(timeline.perfetto)
        let kept = trace.slices.filter { $0.name == "tp.many" }.count
        // 2048 bytes at 16 an event: 128 events, 64 slices. Run inside a task (as the test is),
        // the first outermost scope is preceded by a context record (two events, 40 bytes): then
        // 125 events fit after it, 62 whole slices and the begin of a 63rd, and 1002 were drained.
        #expect(kept == 64 || kept == 63, "\(kept)")
        let notKept = Int(timeline.eventsNotKept)
        let expected = kept == 64 ? [1000 - 2 * kept] : [1000 - 2 * kept + 1, 1000 - 2 * kept + 2]
        #expect(expected.contains(notKept), "\(notKept) not kept, \(kept) slices")
        let process = try #require(trace.tracks.values.first { $0.processName != nil })
        let cutTrack = try #require(trace.tracks.values.first { $0.name == "timeline cut" })
        #expect(cutTrack.parent == process.uuid)
        let cut = try #require(trace.slices.first { $0.track == cutTrack.uuid })
        #expect(cut.name.hasPrefix("timeline cut: \(notKept) events not kept"), "\(cut.name)")
        #expect(cut.name.contains("2048 bytes"))
        // What was kept came before the cut.
        #expect(trace.slices.filter { $0.name == "tp.many" }.allSatisfy { $0.end <= cut.start })
        // The bytes hold: the events' bound, plus descriptors and interned names.
        #expect(timeline.perfetto.count <= 2048 + 512, "\(timeline.perfetto.count)")
    }

    @Test func theFormatFollowsTheFileExtension() {
        #expect(Timeline.Format(path: "/tmp/trace.json") == .json)
        #expect(Timeline.Format(path: "/tmp/trace.JSON") == .json)
        #expect(Timeline.Format(path: "/tmp/trace.pftrace") == .perfetto)
        #expect(Timeline.Format(path: "/tmp/trace-%p") == .perfetto)
    }
}
