import Foundation
import PprofTestSupport
import Testing

@testable import Pprof

/// The Chrome trace event JSON of a timeline window: it loads as JSON, its slices pair up and
/// nest per thread, and its counts are the program's.
@Suite(.serialized, .recorderExclusive)
struct TimelineTests {
    struct Slice {
        var name: String
        var tid: Int
        /// Nanoseconds since the window opened. The JSON writes microseconds with three decimals;
        /// they are read back as whole nanoseconds, because `ts + dur` in floating point can land
        /// an ulp past the enclosing slice's end even when the written numbers nest exactly.
        var start: Int
        var end: Int
    }

    static func nanoseconds(_ micros: Double) -> Int { Int((micros * 1000).rounded()) }

    static func parse(
        _ timeline: Timeline
    ) throws -> (slices: [Slice], threads: [Int: String], other: [String: Any], async: [String: Int]) {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(timeline.json)) as? [String: Any])
        let events = try #require(object["traceEvents"] as? [[String: Any]])
        var slices: [Slice] = []
        var threads: [Int: String] = [:]
        // Per lane (`id2.local`, a process-scoped id), the async slices begun: they nest.
        var asyncBegins: [String: [String]] = [:]
        var async: [String: Int] = [:]
        for event in events {
            let phase = try #require(event["ph"] as? String)
            switch phase {
            case "M":
                threads[event["tid"] as! Int] = (event["args"] as! [String: Any])["name"] as? String
            case "X":
                let ts = try #require(event["ts"] as? Double)
                let dur = try #require(event["dur"] as? Double)
                #expect(dur >= 0)
                slices.append(
                    Slice(
                        name: event["name"] as! String,
                        tid: event["tid"] as! Int,
                        start: Self.nanoseconds(ts),
                        end: Self.nanoseconds(ts) + Self.nanoseconds(dur)
                    )
                )
            case "b":
                let lane = try #require((event["id2"] as? [String: Any])?["local"] as? String)
                asyncBegins[lane, default: []].append(event["name"] as! String)
            case "e":
                let lane = try #require((event["id2"] as? [String: Any])?["local"] as? String)
                let popped = asyncBegins[lane]?.popLast()
                let name = try #require(popped)
                #expect(name == event["name"] as? String)
                async[name, default: 0] += 1
            default:
                break
            }
        }
        let unended = asyncBegins.values.reduce(0) { $0 + $1.count }
        #expect(unended == 0, "async slices begun and never ended")
        return (slices, threads, object["otherData"] as? [String: Any] ?? [:], async)
    }

    @Test func slicesPairAndNestPerThreadWithExactCounts() async throws {
        let window = TimelineWindow.start()
        onThreads(3) { _ in
            for _ in 0..<20 {
                Trace.scope("tl.outer") {
                    Trace.scope("tl.inner") {}
                    Trace.scope("tl.inner") { Trace.scope("tl.leaf") {} }
                }
            }
        }
        await Trace.scope("tl.async") { await Task.yield() }
        let timeline = window.stop()
        let parsed = try Self.parse(timeline)
        let counts = Dictionary(grouping: parsed.slices, by: \.name).mapValues(\.count)
        #expect(counts["tl.outer"] == 60)
        #expect(counts["tl.inner"] == 120)
        #expect(counts["tl.leaf"] == 60)
        #expect(parsed.async["tl.async"] == 1)
        #expect(timeline.wasCut == false)
        // Every thread that recorded has a name, and on each thread slices nest or are disjoint.
        let tids = Set(parsed.slices.map(\.tid))
        #expect(tids.count >= 3)
        #expect(tids.allSatisfy { parsed.threads[$0] != nil })
        for tid in tids {
            let slices = parsed.slices.filter { $0.tid == tid }.sorted { ($0.start, -$0.end) < ($1.start, -$1.end) }
            var open: [Slice] = []
            for slice in slices {
                while let top = open.last, top.end <= slice.start { open.removeLast() }
                if let top = open.last {
                    #expect(slice.end <= top.end, "\(slice.name) overlaps \(top.name) on thread \(tid)")
                }
                open.append(slice)
            }
            // Each leaf lies inside an inner, each inner inside an outer.
            for leaf in slices where leaf.name == "tl.leaf" {
                #expect(slices.contains { $0.name == "tl.inner" && $0.start <= leaf.start && leaf.end <= $0.end })
            }
        }
    }

    @Test func aTimelinePastItsLimitSaysItWasCut() throws {
        let window = TimelineWindow.start(limit: 100)
        for _ in 0..<500 { Trace.scope("tl.many") {} }
        let timeline = window.stop()
        let parsed = try Self.parse(timeline)
        #expect(timeline.wasCut)
        #expect(parsed.other["cut"] as? String == "true")
        // 1000 events made, 100 kept: 50 slices, or one fewer where the thread's first scope was
        // preceded by a two-event context record (once another test has made a task context).
        let kept = parsed.slices.filter { $0.name == "tl.many" }.count
        let notKept = try #require(Int(parsed.other["eventsNotKept"] as? String ?? ""))
        #expect(kept == 50 || kept == 49, "\(kept)")
        #expect(notKept == 1000 - 2 * kept || notKept == 1000 - 2 * kept + 2, "\(notKept) not kept, \(kept) slices")
        #expect(String(decoding: timeline.json, as: UTF8.self).contains("timeline cut: \(notKept) events not kept"))
    }

    @Test func scopesOpenAtTheEdgesAreClippedToTheWindow() throws {
        // Recorded (a profile window is open) and entered before the timeline window opens.
        let recording = Profiler.start()
        defer { _ = recording.stop() }
        let outer = Trace.enter("tl.spanning")
        let window = TimelineWindow.start()
        Trace.scope("tl.inside") {}
        Trace.exit(outer)
        let late = Trace.enter("tl.late")
        let timeline = window.stop()
        Trace.exit(late)
        let parsed = try Self.parse(timeline)
        let spanning = try #require(parsed.slices.first { $0.name == "tl.spanning" })
        let inside = try #require(parsed.slices.first { $0.name == "tl.inside" })
        let stillOpen = try #require(parsed.slices.first { $0.name == "tl.late" })
        #expect(spanning.start == 0)
        #expect(inside.start >= spanning.start && inside.end <= spanning.end)
        #expect(stillOpen.end >= stillOpen.start)
        #expect(String(decoding: timeline.json, as: UTF8.self).contains("still open when the window closed"))
    }
}
