import Foundation
import PprofTestSupport
import Synchronization
import Testing

@testable import Pprof

/// Accounting under stress, through the process's real recorder: 64 threads on rings small
/// enough to overflow all the time, while windows of every mode open and close around them.
/// Every event a thread produced is either folded or counted as dropped, exactly, per thread;
/// and every call path of every window's profile is a real path of the program.
@Suite(.serialized, .recorderExclusive)
struct AccountingStressTests {
    /// The program each thread runs: these call paths and no others.
    static let realPaths: [[String]] = [
        ["stress.a"], ["stress.a", "stress.b"], ["stress.a", "stress.b", "stress.c"],
        ["stress.a", "stress.d"], ["stress.a", "stress.d", "stress.e"],
    ]

    /// Frames that stand for one or more real frames the recorder could not see: scopes whose
    /// events were dropped, and scopes entered while nothing recorded.
    static let placeholders: Set<String> = ["(events dropped)", "(entered before recording)"]

    /// Whether `path` (from a profile) can be a real path: each name is the real frame's, and a
    /// placeholder stands for at least one real frame.
    static func isReal(_ path: [String]) -> Bool {
        func matches(_ p: ArraySlice<String>, _ r: ArraySlice<String>) -> Bool {
            guard let first = p.first else { return r.isEmpty }
            if placeholders.contains(first) {
                return r.isEmpty ? false : (1...r.count).contains { matches(p.dropFirst(), r.dropFirst($0)) }
            }
            return r.first == first && matches(p.dropFirst(), r.dropFirst())
        }
        return realPaths.contains { matches(path[...], $0[...]) }
    }

    /// What one thread produced, and the id its recorded tokens carry.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var produced: [UInt32: UInt64] = [:]
        let reported = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let release = Atomic<Bool>(false)

        func report(thread: UInt32, produced count: UInt64) {
            lock.withLock { produced[thread, default: 0] += count }
            reported.add(1, ordering: .releasing)
        }

        var byThread: [UInt32: UInt64] { lock.withLock { produced } }
    }

    /// Counts a token's events: a recorded enter is one event, and its exit (same thread, well
    /// nested) is always recorded too, whether or not a window is still open by then.
    @inline(__always)
    static func note(_ token: Trace.Token, _ produced: inout UInt64, _ thread: inout UInt32) {
        if token.thread != 0 {
            produced += 2
            thread = token.thread
        }
    }

    static func worker(seed: UInt64, tally: Tally) {
        var rng = SplitMix64(seed: seed)
        var produced: UInt64 = 0
        var thread: UInt32 = 0
        var rounds = 0
        while !tally.stop.load(ordering: .relaxed) || rounds < 100 {
            rounds += 1
            let r = rng.next()
            let a = Trace.enter("stress.a")
            note(a, &produced, &thread)
            // Mostly short rounds; one in 32 a burst larger than the ring (1024 events) that
            // the aggregator, draining every millisecond, cannot keep up with.
            let inner = r % 32 == 0 ? 700 : Int((r >> 8) % 8)
            // Depth 2 alternates between b (calling c) and d (calling e), so that a frame kept
            // open across a gap by mistake would put c under d or e under b: a spliced path.
            for i in 0..<inner {
                let (outer, leaf): (Trace.Token, Trace.Token)
                if i % 2 == 0 {
                    outer = Trace.enter("stress.b")
                    note(outer, &produced, &thread)
                    leaf = Trace.enter("stress.c")
                } else {
                    outer = Trace.enter("stress.d")
                    note(outer, &produced, &thread)
                    leaf = Trace.enter("stress.e")
                }
                note(leaf, &produced, &thread)
                Trace.exit(leaf)
                Trace.exit(outer)
            }
            Trace.exit(a)
            // A pause after each round: 64 threads spinning on two cores would starve the
            // aggregator and the windows, and drops should come in separate runs. Five times
            // longer under a sanitizer, whose hooks cost ten times more (8 windows in 10 s seen
            // under TSan with the shorter pause).
            usleep(UInt32((1000 + (r >> 32) % 2000) * (activeSanitizer == nil ? 1 : 5)))
        }
        tally.report(thread: thread, produced: produced)
        // Stay alive (ring registered) until the test has read this thread's accounts.
        while !tally.release.load(ordering: .acquiring) { usleep(1000) }
    }

    @Test func recordedPlusDroppedIsProducedPerThreadAndEveryPathIsReal() throws {
        Recorder.initializeIfNeeded()  // which sets the ring size from the environment
        let saved = Recorder.shared.ringCapacity
        Recorder.shared.ringCapacity = 1024
        defer { Recorder.shared.ringCapacity = saved }
        let threadCount = 64
        let tally = Tally()
        let handles = (0..<threadCount).map { i in
            startThread { Self.worker(seed: UInt64(i + 1), tally: tally) }
        }

        // Windows of every mode, alone and overlapping, opened and closed for two seconds and at
        // least 100 windows (at most twenty seconds: under a sanitizer 64 busy threads leave the
        // windows little of the two cores); between them, moments with nothing recording.
        var rng = SplitMix64(seed: 99)
        var profiles: [Profile] = []
        let modes: [Profile.Mode] = [.fprof, .eprof, .cprof]
        let started = Date()
        while Date() < started.addingTimeInterval(2)
            || (profiles.count < 100 && Date() < started.addingTimeInterval(20))
        {
            let first = Profiler.start(mode: modes[Int(rng.next() % 3)])
            usleep(UInt32(rng.next() % 3000))
            let second = rng.next() % 3 == 0 ? Profiler.start(mode: modes[Int(rng.next() % 3)]) : nil
            usleep(UInt32(rng.next() % 3000))
            profiles.append(first.stop())
            if let second { profiles.append(second.stop()) }
            usleep(UInt32(rng.next() % 2000))
        }
        let windowSeconds = Date().timeIntervalSince(started)
        tally.stop.store(true, ordering: .relaxed)
        while tally.reported.load(ordering: .acquiring) < threadCount { usleep(1000) }

        let accounts = Recorder.shared.aggregator.threadAccounts()
        tally.release.store(true, ordering: .releasing)
        for handle in handles { pthread_join(handle, nil) }

        var produced: UInt64 = 0
        var recorded: UInt64 = 0
        var dropped: UInt64 = 0
        let byThread = tally.byThread
        #expect(byThread.count >= threadCount - 1, "threads that recorded: \(byThread.count)")
        for (thread, count) in byThread where thread != 0 {
            let account = try #require(accounts[thread], "thread \(thread) has no ring")
            #expect(account.folded + account.dropped == count, "thread \(thread): \(account) vs \(count) produced")
            produced += count
            recorded += account.folded
            dropped += account.dropped
        }
        print(
            "accounting stress: \(threadCount) threads, \(profiles.count) windows in \(Int(windowSeconds * 1000)) ms, \(produced) events produced, \(recorded) recorded, \(dropped) dropped"
        )
        #expect(dropped > 0, "the rings never overflowed: the test did not test drops")
        #expect(recorded > 0)

        // Every window's call paths are real; placeholders stand where events were lost.
        var checked = 0
        for profile in profiles where profile.mode != .eprof {
            let table = PathTable(profile)
            // Scopes' paths: a node with neither calls nor wall time is a CPU sample's leaf (the
            // function it interrupted), which is not a scope.
            for (path, calls) in table.calls where calls > 0 || table.own[path, default: 0] > 0 {
                let frames = path.split(separator: ";").map(String.init)
                guard frames.contains(where: { $0.hasPrefix("stress.") }) else { continue }
                #expect(Self.isReal(frames), "not a real path: \(path)")
                checked += 1
            }
        }
        #expect(checked > 0)
        #expect(profiles.count >= 10)
    }

    @Test func thePathMatcherRejectsSplicedPaths() {
        #expect(Self.isReal(["stress.a", "stress.b", "stress.c"]))
        #expect(Self.isReal(["(entered before recording)", "stress.c"]))
        #expect(Self.isReal(["stress.a", "(events dropped)", "stress.c"]))
        #expect(!Self.isReal(["stress.a", "stress.c"]))
        #expect(!Self.isReal(["stress.a", "stress.d", "stress.c"]))
        #expect(!Self.isReal(["stress.a", "stress.b", "stress.e"]))
        #expect(!Self.isReal(["stress.b"]))
        #expect(!Self.isReal(["(events dropped)", "stress.a"]))
    }
}
