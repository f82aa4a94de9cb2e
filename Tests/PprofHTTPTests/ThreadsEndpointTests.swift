import Foundation
import Pprof
import PprofHTTP
import PprofTestKit
import PprofTestSupport
import Testing

/// `/debug/pprof/threads`: a known set of threads blocked inside known scopes shows exactly those
/// stacks, in each form; with tracking off the endpoint says so.
@Suite(.serialized, .recorderExclusive)
struct ThreadsEndpointTests {
    @Test func withTrackingOffTheEndpointSaysSo() async throws {
        Threads.setTracking(false)
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/threads?debug=1")
            #expect(answer.status == 503)
            #expect(answer.text.contains("thread tracking is off: start the program with PPROF_TRACK_THREADS=1"))
            let bad = try await HTTPClient.get(port, "/debug/pprof/goroutine?debug=3")
            #expect(bad.status == 400, "\(bad.text)")
        }
    }

    @Test func threadsBlockedInKnownScopesShowExactlyThoseStacks() async throws {
        let server = PprofServer(port: 0, trackThreads: true)
        defer { Threads.setTracking(false) }
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let port = try await waitForPort(of: server)

        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        var threads: [Thread] = []
        for _ in 0..<3 {
            let thread = Thread {
                Trace.scope("blk.outer") {
                    Trace.scope("blk.wait") {
                        entered.signal()
                        release.wait()
                    }
                }
            }
            thread.start()
            threads.append(thread)
        }
        for _ in 0..<3 { entered.wait() }
        try await Task.sleep(for: .milliseconds(60))

        let grouped = try await HTTPClient.get(port, "/debug/pprof/threads?debug=1")
        #expect(grouped.status == 200)
        let text = grouped.text
        let group = try #require(text.components(separatedBy: "\n\n").first { $0.contains("blk.wait") }, "\(text)")
        #expect(group.hasPrefix("3 @ "), "\(group)")
        let lines = group.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count == 3 && lines[1].hasPrefix("blk.wait") && lines[2].hasPrefix("blk.outer"), "\(group)")

        let full = try await HTTPClient.get(port, "/debug/pprof/goroutine?debug=2")
        #expect(full.status == 200)
        let waits = full.text.split(separator: "\n").filter { $0.contains("blk.wait") }
        #expect(waits.count == 3, "\(full.text)")
        for line in waits {
            // "blk.wait  File.swift:NN  open 61.2 ms"
            let ms = Double(line.split(separator: " ").dropLast().last ?? "") ?? -1
            #expect(ms >= 55, "\(line)")
        }

        let binary = try await HTTPClient.get(port, "/debug/pprof/threads")
        #expect(binary.status == 200)
        #expect(binary.header("Content-Type") == "application/octet-stream")
        let profile = try DecodedProfile.decode(Gzip.decompress(binary.body))
        #expect(profile.violations() == [])
        let blocked = profile.stacks.filter { $0.frames == ["blk.outer", "blk.wait"] }
        #expect(blocked.count == 3)
        #expect(Set(blocked.compactMap { $0.labels["thread_id"] }).count == 3)
        // Kernel thread ids (issue 13): each is one of this process's tasks, as /proc lists them.
        let tasks = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task"))
        #expect(blocked.allSatisfy { tasks.contains($0.labels["thread_id"] ?? "") }, "\(blocked) \(tasks)")
        for id in blocked.compactMap({ $0.labels["thread_id"] }) {
            #expect(full.text.contains("\nthread \(id) \""), "\(full.text)")
        }
        #expect(blocked.allSatisfy { $0.labels["thread"] != nil })
        #expect(blocked.allSatisfy { $0.values == [1] })

        for _ in 0..<3 { release.signal() }
        running.cancel()
        try await running.value
    }

    // MARK: Who keeps tracking on

    /// A server made with `trackThreads: true` tracks from `run()` to the end of its task, not
    /// from its initializer.
    @Test func aServerTracksFromRunToItsEnd() async throws {
        Threads.setTracking(false)
        #expect(!Threads.isTracking)
        let server = PprofServer(port: 0, trackThreads: true)
        #expect(!Threads.isTracking, "tracking began in the initializer")
        #expect(Threads.trackingHolds == 0)
        let running = Task { try await server.run() }
        _ = try await waitForPort(of: server)
        #expect(Threads.isTracking)
        #expect(Threads.trackingHolds == 1)
        running.cancel()
        try await running.value
        #expect(!Threads.isTracking)
        #expect(Threads.trackingHolds == 0)
    }

    /// `start(…)` tracks as it returns; `stop()` ends it before it returns (the serving task
    /// ends later, and releases nothing more).
    @Test func stopEndsAStartedServersTracking() async throws {
        Threads.setTracking(false)
        let server = try await Task.detached { try PprofServer.start(port: 0, trackThreads: true) }.value
        #expect(Threads.isTracking)
        #expect(Threads.trackingHolds == 1)
        server.stop()
        #expect(!Threads.isTracking)
        #expect(Threads.trackingHolds == 0)
        server.stop()
        try await Task.sleep(for: .milliseconds(50))
        #expect(Threads.trackingHolds == 0)
    }

    /// Two servers each hold tracking: stopping one leaves it on for the other.
    @Test func twoServersHoldsAreCounted() async throws {
        Threads.setTracking(false)
        let first = try await Task.detached { try PprofServer.start(port: 0, trackThreads: true) }.value
        let second = try await Task.detached { try PprofServer.start(port: 0, trackThreads: true) }.value
        #expect(Threads.trackingHolds == 2)
        first.stop()
        first.stop()
        #expect(Threads.trackingHolds == 1)
        #expect(Threads.isTracking, "stopping one server turned the other's tracking off")
        second.stop()
        #expect(Threads.trackingHolds == 0)
        #expect(!Threads.isTracking)
    }

    /// A server run with `run()`, then both stopped with `stop()` and cancelled, releases its
    /// hold once: another server's hold stays.
    @Test func stopAndCancelReleaseOneHold() async throws {
        Threads.setTracking(false)
        let other = try await Task.detached { try PprofServer.start(port: 0, trackThreads: true) }.value
        let server = PprofServer(port: 0, trackThreads: true)
        let running = Task { try await server.run() }
        _ = try await waitForPort(of: server)
        #expect(Threads.trackingHolds == 2)
        server.stop()
        #expect(Threads.trackingHolds == 1)
        running.cancel()
        try await running.value
        #expect(Threads.trackingHolds == 1)
        #expect(Threads.isTracking)
        other.stop()
        #expect(Threads.trackingHolds == 0)
        #expect(!Threads.isTracking)
    }

    /// One server run twice at once (two free ports) holds one hold, which the run that took it
    /// releases: the other run's end releases nothing.
    @Test func aServerRunTwiceHoldsOnce() async throws {
        Threads.setTracking(false)
        let server = PprofServer(port: 0, trackThreads: true)
        let first = Task { try await server.run() }
        _ = try await waitForPort(of: server)
        #expect(Threads.trackingHolds == 1)
        let second = Task { try await server.run() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(Threads.trackingHolds == 1)
        second.cancel()
        try await second.value
        #expect(Threads.trackingHolds == 1, "the run that took no hold released the other's")
        first.cancel()
        try await first.value
        #expect(Threads.trackingHolds == 0)
        #expect(!Threads.isTracking)
    }

    /// A server that cannot bind holds nothing once `start(…)` has thrown.
    @Test func aFailedStartHoldsNothing() async throws {
        Threads.setTracking(false)
        try await withServer { _, port in
            await #expect(throws: (any Error).self) {
                _ = try await Task.detached { try PprofServer.start(port: port, trackThreads: true) }.value
            }
            #expect(Threads.trackingHolds == 0)
            #expect(!Threads.isTracking)
        }
    }

    /// `setTracking(true)` is a hold of its own: a server's start and stop leave it on.
    @Test func aServerLeavesTheSwitchsHold() async throws {
        Threads.setTracking(true)
        defer { Threads.setTracking(false) }
        let server = try await Task.detached { try PprofServer.start(port: 0, trackThreads: true) }.value
        server.stop()
        #expect(Threads.isTracking)
        Threads.setTracking(false)
        #expect(!Threads.isTracking)
    }
}
