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
        #expect(blocked.allSatisfy { $0.labels["thread"] != nil })
        #expect(blocked.allSatisfy { $0.values == [1] })

        for _ in 0..<3 { release.signal() }
        running.cancel()
        try await running.value
    }
}
