import Foundation
import Pprof
import PprofHTTP
import PprofTestKit
import PprofTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with a server on a free loopback port, then stops it.
@discardableResult
func withServer<T>(
    maxSeconds: Int = 300,
    token: String? = nil,
    maxWindows: Int = 8,
    limits: PprofServer.Limits? = nil,
    _ body: (PprofServer, Int) async throws -> T
) async throws -> T {
    let server =
        if let limits {
            PprofServer(port: 0, maxSeconds: maxSeconds, token: token, maxWindows: maxWindows, limits: limits)
        } else {
            PprofServer(port: 0, maxSeconds: maxSeconds, token: token, maxWindows: maxWindows)
        }
    let running = Task { try await server.run() }
    let result: Result<T, any Error>
    do {
        result = .success(try await body(server, try await waitForPort(of: server)))
    } catch {
        result = .failure(error)
    }
    // Wait for the server's end too: a test must not leave its connections or windows behind.
    running.cancel()
    try await running.value
    return try result.get()
}

/// The port `server` listens on, once `run()` has bound it (5 s at most).
func waitForPort(of server: PprofServer) async throws -> Int {
    for _ in 0..<500 {
        if let port = server.boundPort { return port }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try #require(server.boundPort, "the server did not bind")
}

/// A background thread running `Trace.scope("http.work")` until told to stop: known work for
/// a window to catch.
final class Workload: @unchecked Sendable {
    private let stopFlag = ManagedFlag()
    private var thread: Thread?

    init() {
        let flag = stopFlag
        let thread = Thread {
            while !flag.isSet {
                Trace.scope("http.work") { Trace.scope("http.leaf") { _ = usleep(100) } }
            }
        }
        thread.start()
        self.thread = thread
    }

    func stop() { stopFlag.set() }
}

final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// The endpoint over real loopback sockets. Serialized, and exclusive with the recorder's own
/// tests: each profile request opens a process-wide window.
@Suite(.serialized, .recorderExclusive)
struct PprofServerTests {
    @Test func indexListsTheProfilesAndTheRecorderState() async throws {
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/")
            #expect(answer.status == 200)
            #expect(answer.header("content-type") == "text/html; charset=utf-8")
            for text in [
                "profile?seconds=30", "cmdline", "heap", "threads with a live ring", "events dropped",
                "call tree nodes",
            ] {
                #expect(answer.text.contains(text), "\(text) missing from \(answer.text)")
            }
        }
    }

    @Test(arguments: ["fprof", "eprof", "cprof"])
    func profileRecordsTheWindowAsPprof(type: String) async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let started = ContinuousClock.now
            let answer = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1&type=\(type)&scraper=ignored")
            let elapsed = ContinuousClock.now - started
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.header("content-type") == "application/octet-stream")
            #expect(answer.header("content-disposition") == "attachment; filename=\"profile\"")
            #expect(answer.header("x-content-type-options") == "nosniff")
            #expect(elapsed >= .milliseconds(950) && elapsed < .seconds(3), "\(elapsed)")
            let decoded = try DecodedProfile.decode(answer.body)
            #expect(decoded.violations() == [])
            // fprof and eprof take CPU samples too (PPROF_CPU_HZ's default, 100).
            #expect(
                decoded.sampleTypeNames
                    == (type == "cprof"
                        ? ["calls/count"] : ["calls/count", "wall/nanoseconds", "samples/count", "cpu/nanoseconds"])
            )
            #expect(decoded.comments.contains { $0.contains(type) }, "\(decoded.comments)")
            let leafPath = type == "eprof" ? ["http.leaf"] : ["http.work", "http.leaf"]
            let calls = decoded.value(path: leafPath, type: "calls") ?? 0
            // 100 µs sleeps: hundreds of calls in a second, at the very least dozens.
            #expect(calls > 20, "\(decoded.stacks)")
            #expect(decoded.durationNanos >= 950_000_000)
        }
    }

    @Test func debugOneIsTheTextReport() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1&debug=1")
            #expect(answer.status == 200)
            #expect(answer.header("content-type") == "text/plain; charset=utf-8")
            #expect(answer.text.contains("http.work"), "\(answer.text)")
        }
    }

    @Test func cmdlineIsTheArgumentsJoinedByNUL() async throws {
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/cmdline")
            #expect(answer.status == 200)
            #expect(answer.header("content-type") == "text/plain; charset=utf-8")
            #expect(answer.text == CommandLineRedaction.redact(CommandLine.arguments).joined(separator: "\0"))
        }
    }

    @Test(arguments: [false, true])
    func cmdlineHidesSecretsUnlessAskedToRevealThem(reveal: Bool) async throws {
        let arguments = ["/srv/app", "--token=abc", "--password", "hunter2", "--port", "6060"]
        let server = PprofServer(port: 0, revealCommandLine: reveal, commandLine: arguments, limits: .standard)
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let answer = try await HTTPClient.get(try await waitForPort(of: server), "/debug/pprof/cmdline")
        #expect(answer.status == 200)
        let shown =
            reveal ? arguments : ["/srv/app", "--token=<redacted>", "--password", "<redacted>", "--port", "6060"]
        #expect(answer.text == shown.joined(separator: "\0"))
        running.cancel()
        try await running.value
    }

    @Test(arguments: [
        ("seconds=abc", "seconds must be a decimal integer"),
        ("seconds=0", "seconds must be from 1 to 10"),
        ("seconds=-1", "seconds must be a decimal integer"),
        ("seconds=+5", "seconds must be a decimal integer"),
        ("seconds=11", "seconds must be from 1 to 10"),
        ("seconds=99999999999999999999999", "seconds must be from 1 to 10"),
        ("seconds=", "seconds must be a decimal integer"),
        ("type=pprof", "type must be fprof, eprof, cprof"),
        ("debug=2", "debug must be 0, 1"),
        ("seconds=1&seconds=2", "parameter seconds is repeated"),
        ("type=fprof&type=fprof", "parameter type is repeated"),
        ("seconds=%zz", "not valid percent-encoding"),
        ("seconds=1&x=%4", "not valid percent-encoding"),
        ("seconds=%FF", "not valid percent-encoding"),
        ("type=a%0Ab%0D", "type must be fprof, eprof, cprof, cpu, not \"a?b?\""),
        ("debug=1&debug=0", "parameter debug is repeated"),
    ])
    func badParametersAre400WithAReason(query: String, reason: String) async throws {
        try await withServer(maxSeconds: 10) { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/profile?" + query)
            #expect(answer.status == 400, "\(query): \(answer.text)")
            #expect(answer.header("content-type") == "text/plain; charset=utf-8")
            #expect(answer.text.contains(reason), "\(query): \(answer.text)")
            #expect(answer.text.split(separator: "\n").count == 1)
        }
    }

    @Test func pathsThatAreNotServedAre404() async throws {
        try await withServer { _, port in
            for kind in ["block", "mutex"] {
                let answer = try await HTTPClient.get(port, "/debug/pprof/\(kind)?seconds=1")
                #expect(answer.status == 404)
                #expect(answer.text.contains("this profiler does not produce \(kind) profiles"), "\(answer.text)")
            }
            // The test bundle does not link PprofMemory: the one line says how to.
            for kind in ["heap", "allocs"] {
                let answer = try await HTTPClient.get(port, "/debug/pprof/\(kind)")
                #expect(answer.status == 404)
                #expect(answer.text.contains(".product(name: \"PprofMemory\""), "\(answer.text)")
                #expect(answer.text.split(separator: "\n").count == 1)
            }
            for path in ["/", "/debug/pprof/nothing", "/debug/pprofx", "/debug/pprof/threadz", "/other"] {
                let answer = try await HTTPClient.get(port, path)
                #expect(answer.status == 404, "\(path)")
                #expect(answer.header("content-type") == "text/plain; charset=utf-8")
            }
        }
    }

    @Test func otherMethodsAre405AndTheBarePrefixRedirects() async throws {
        try await withServer { _, port in
            for method in ["POST", "PUT", "DELETE", "HEAD"] {
                let answer = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1", method: method)
                #expect(answer.status == 405, "\(method)")
                #expect(answer.header("allow") == "GET")
            }
            let redirect = try await HTTPClient.get(port, "/debug/pprof")
            #expect(redirect.status == 301)
            #expect(redirect.header("location") == "/debug/pprof/")
            let withQuery = try await HTTPClient.get(port, "/debug/pprof?debug=1")
            #expect(withQuery.header("location") == "/debug/pprof/?debug=1")
        }
    }

    @Test func aTokenIsRequiredWhenSet() async throws {
        try await withServer(token: "s3cret") { _, port in
            let missing = try await HTTPClient.get(port, "/debug/pprof/")
            #expect(missing.status == 401)
            #expect(missing.header("www-authenticate") == "Bearer")
            for value in ["Bearer wrong", "Bearer s3cre", "Bearer s3cretX", "Basic s3cret", "Bearer "] {
                let wrong = try await HTTPClient.get(port, "/debug/pprof/", headers: [("Authorization", value)])
                #expect(wrong.status == 401, "\(value)")
            }
            let right = try await HTTPClient.get(port, "/debug/pprof/", headers: [("Authorization", "Bearer s3cret")])
            #expect(right.status == 200)
        }
        try await withServer { _, port in
            // Without a token configured, none is asked for (and one sent is harmless).
            let answer = try await HTTPClient.get(port, "/debug/pprof/", headers: [("Authorization", "Bearer x")])
            #expect(answer.status == 200)
        }
    }

    @Test func keepAliveServesRequestsInTurnAndGarbageIs400() async throws {
        try await withServer { _, port in
            let two = try await HTTPClient.raw(
                port,
                "GET /debug/pprof/cmdline HTTP/1.1\r\nHost: a\r\n\r\n"
                    + "GET /debug/pprof/heap HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
            #expect(two.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(two)")
            #expect(two.contains("HTTP/1.1 404 Not Found\r\n"), "\(two)")
            let garbage = try await HTTPClient.raw(port, "NOT HTTP AT ALL\r\n\r\n")
            #expect(garbage.hasPrefix("HTTP/1.1 400"), "\(garbage)")
            #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        }
    }

    @Test func overlappingScrapesBothSucceedInAboutOneWindow() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let started = ContinuousClock.now
            async let first = HTTPClient.get(port, "/debug/pprof/profile?seconds=1")
            try await Task.sleep(for: .milliseconds(200))
            async let second = HTTPClient.get(port, "/debug/pprof/profile?seconds=1&type=cprof")
            let answers = try await [first, second]
            let elapsed = ContinuousClock.now - started
            for answer in answers {
                #expect(answer.status == 200, "\(answer.text)")
                let decoded = try DecodedProfile.decode(answer.body)
                #expect(decoded.violations() == [])
                #expect((decoded.flat("http.leaf", type: "calls")) > 0)
            }
            #expect(elapsed < .milliseconds(2_000), "\(elapsed)")
        }
    }

    @Test func windowsBeyondTheCapAre503WithRetryAfter() async throws {
        try await withServer(maxWindows: 1) { _, port in
            async let first = HTTPClient.get(port, "/debug/pprof/profile?seconds=1")
            try await Task.sleep(for: .milliseconds(300))
            let refused = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1")
            #expect(refused.status == 503)
            #expect(refused.header("retry-after") != nil)
            #expect(refused.text.contains("1 profile windows are open already"))
            #expect(try await first.status == 200)
            // The slot is free again.
            #expect(try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1").status == 200)
        }
    }

    @Test func aClientThatLeavesEndsItsWindowAndTheServerGoesOn() async throws {
        try await withServer(maxWindows: 1) { _, port in
            let started = ContinuousClock.now
            // A 60-second window abandoned after 0.3 s; were it still open, the cap of one
            // window would refuse the next request.
            try await HTTPClient.abandon(port, "/debug/pprof/profile?seconds=60", after: 0.3)
            var answer = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1")
            for _ in 0..<20 where answer.status == 503 {
                // The close reaches the server a moment after the client's; give it that moment.
                try await Task.sleep(for: .milliseconds(50))
                answer = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1")
            }
            #expect(answer.status == 200, "\(answer.text)")
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        }
    }

    @Test func stoppingTheServerEndsItsOpenWindows() async throws {
        let windowsBefore = RecorderStatus.openWindows
        let server = PprofServer(port: 0)
        let running = Task { try await server.run() }
        let port = try await waitForPort(of: server)
        let started = ContinuousClock.now
        let scrape = Task { try await HTTPClient.get(port, "/debug/pprof/profile?seconds=60") }
        while RecorderStatus.openWindows == windowsBefore { try await Task.sleep(for: .milliseconds(10)) }
        running.cancel()
        try await running.value
        // The connection was closed without an answer, and the window with it.
        await #expect(throws: ClientError.self) { try await scrape.value }
        #expect(RecorderStatus.openWindows == windowsBefore)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func startServesFromSynchronousCodeUntilStopped() async throws {
        let server = try await Task.detached { try PprofServer.start(port: 0) }.value
        let port = try #require(server.boundPort)
        #expect(try await HTTPClient.get(port, "/debug/pprof/cmdline").status == 200)
        server.stop()
        var refused = false
        for _ in 0..<100 where !refused {
            refused = (try? await HTTPClient.get(port, "/debug/pprof/cmdline")) == nil
            if !refused { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(refused, "still serving after stop()")
    }

    @Test func aPortInUseIsAnErrorFromStart() async throws {
        try await withServer { _, port in
            await #expect(throws: (any Error).self) {
                _ = try await Task.detached { try PprofServer.start(port: port) }.value
            }
        }
    }
}
