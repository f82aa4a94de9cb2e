import Foundation
import Pprof
import PprofHTTP
import PprofTestKit
import PprofTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The limits a server keeps against clients that hold connections without asking for anything,
/// open too many, or send too much; and that it still serves a crowd of ordinary ones.
/// Serialized and exclusive with the other HTTP suites: its timings must not compete with them
/// for the two cores, and some of its requests open windows.
@Suite(.serialized, .recorderExclusive)
struct ConnectionLimitsTests {
    static let timeout = 0.5
    static let shortLimits = PprofServer.Limits(idleTimeout: .milliseconds(Int(timeout * 1000)))

    /// How long after `start` a connection was closed, given the close's instant.
    static func seconds(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant?) throws -> Double {
        let end = try #require(end, "the server did not close the connection")
        return (end - start) / .seconds(1)
    }

    @Test func aConnectionThatSendsNothingIsClosedAfterTheTimeout() async throws {
        try await withServer(limits: Self.shortLimits) { _, port in
            let lived = try await HTTPClient.onThread {
                let started = ContinuousClock.now
                let connection = try RawConnection(port: port)
                return try Self.seconds(from: started, to: connection.waitForClose(limit: 5))
            }
            #expect(lived >= Self.timeout && lived < Self.timeout + 2, "closed after \(lived) s")
        }
    }

    @Test func aConnectionThatStopsMidHeadIsClosedAfterTheTimeout() async throws {
        try await withServer(limits: Self.shortLimits) { _, port in
            let lived = try await HTTPClient.onThread {
                let started = ContinuousClock.now
                let connection = try RawConnection(port: port)
                try connection.send("GET /debug/pprof/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                return try Self.seconds(from: started, to: connection.waitForClose(limit: 5))
            }
            #expect(lived >= Self.timeout && lived < Self.timeout + 2, "closed after \(lived) s")
        }
    }

    @Test func aHeadTrickledInIsCutByTheSameTimeout() async throws {
        try await withServer(limits: Self.shortLimits) { _, port in
            let lived = try await HTTPClient.onThread {
                let started = ContinuousClock.now
                let connection = try RawConnection(port: port)
                // Slowloris: a byte every 50 ms keeps the connection busy but never finishes the
                // head; 5 s of it would be 100 bytes, still short of the end.
                let head = Array("GET /debug/pprof/ HTTP/1.1\r\nX-Slow: " + String(repeating: "a", count: 200))
                for byte in head {
                    guard connection.sendUntilRefused(String(byte)), !connection.isClosedByServer() else { break }
                    if ContinuousClock.now - started > .seconds(5) { break }
                    usleep(50_000)
                }
                return try Self.seconds(from: started, to: connection.waitForClose(limit: 0.1))
            }
            // Up to 50 ms late for the sleep between bytes.
            #expect(lived >= Self.timeout && lived < Self.timeout + 2, "closed after \(lived) s")
        }
    }

    @Test func aKeptAliveConnectionIsClosedAfterItIdlesTheTimeout() async throws {
        try await withServer(limits: Self.shortLimits) { _, port in
            let (answers, idled) = try await HTTPClient.onThread {
                let connection = try RawConnection(port: port)
                let first = try connection.get("/debug/pprof/cmdline")
                // Less than the timeout between requests: the clock starts again at each answer.
                usleep(useconds_t(Self.timeout * 0.6 * 1_000_000))
                let second = try connection.get("/debug/pprof/")
                usleep(useconds_t(Self.timeout * 0.6 * 1_000_000))
                let third = try connection.get("/debug/pprof/cmdline")
                let answered = ContinuousClock.now
                return (
                    [first, second, third], try Self.seconds(from: answered, to: connection.waitForClose(limit: 5))
                )
            }
            #expect(answers.map(\.status) == [200, 200, 200])
            #expect(answers.allSatisfy { $0.header("connection") == "keep-alive" })
            // The server starts its clock as the answer leaves, a moment before the client has
            // read it: a little less than the timeout is the same.
            #expect(idled >= Self.timeout - 0.05 && idled < Self.timeout + 2, "closed \(idled) s after the answer")
        }
    }

    @Test func aWindowLongerThanTheTimeoutIsAnswered() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer(limits: Self.shortLimits) { _, port in
            // On a kept-alive connection, so that the clock after the window is seen too.
            let (answer, idled) = try await HTTPClient.onThread {
                let connection = try RawConnection(port: port)
                let answer = try connection.get("/debug/pprof/profile?seconds=2")
                let answered = ContinuousClock.now
                return (answer, try Self.seconds(from: answered, to: connection.waitForClose(limit: 5)))
            }
            #expect(answer.status == 200, "\(answer.text)")
            let decoded = try DecodedProfile.decode(answer.body)
            #expect(decoded.violations() == [])
            #expect(decoded.durationNanos >= 1_950_000_000)
            #expect(idled >= Self.timeout - 0.05 && idled < Self.timeout + 2, "closed \(idled) s after the answer")
        }
    }

    @Test func connectionsBeyondTheCapAreClosedUntilOthersLeave() async throws {
        let cap = 8
        try await withServer(limits: .init(maxConnections: cap)) { _, port in
            let (statuses, closedAfter, stillServed) = try await HTTPClient.onThread {
                // Each answered once, so the server has taken all of them before the next comes.
                var open: [RawConnection] = []
                var statuses: [Int] = []
                for _ in 0..<cap {
                    let connection = try RawConnection(port: port)
                    statuses.append(try connection.get("/debug/pprof/cmdline").status)
                    open.append(connection)
                }
                let started = ContinuousClock.now
                let refused = try RawConnection(port: port)
                let closedAfter = try Self.seconds(from: started, to: refused.waitForClose(limit: 5))
                // The ones it has are still served.
                let stillServed = try open[0].get("/debug/pprof/").status
                for connection in open { connection.close() }
                return (statuses, closedAfter, stillServed)
            }
            #expect(statuses == Array(repeating: 200, count: cap))
            #expect(closedAfter < 2, "the connection beyond the cap lived \(closedAfter) s")
            #expect(stillServed == 200)
            // The server learns of the closes a moment after the client makes them.
            var answer = try? await HTTPClient.get(port, "/debug/pprof/cmdline")
            for _ in 0..<40 where answer == nil {
                try await Task.sleep(for: .milliseconds(50))
                answer = try? await HTTPClient.get(port, "/debug/pprof/cmdline")
            }
            #expect(answer?.status == 200)
            // And all of the cap again.
            let again = try await HTTPClient.onThread {
                let connections = try (0..<cap).map { _ in try RawConnection(port: port) }
                return try connections.map { try $0.get("/debug/pprof/").status }
            }
            #expect(again == Array(repeating: 200, count: cap))
        }
    }

    @Test(arguments: ["request line", "one header", "many headers"])
    func aHeadOfAHundredKilobytesIsRefused(what: String) async throws {
        let filler = String(repeating: "a", count: 100_000)
        let request =
            switch what {
            case "request line": "GET /debug/pprof/?q=\(filler) HTTP/1.1\r\nHost: a\r\n\r\n"
            case "one header": "GET /debug/pprof/ HTTP/1.1\r\nHost: a\r\nX-Big: \(filler)\r\n\r\n"
            default:
                "GET /debug/pprof/ HTTP/1.1\r\nHost: a\r\n"
                    + String(repeating: "X-Many: \(filler.prefix(1000))\r\n", count: 100) + "\r\n"
            }
        try await withServer { _, port in
            let started = ContinuousClock.now
            let answer = try await HTTPClient.onThread {
                let connection = try RawConnection(port: port)
                // The server may stop reading, and reset, before all of it is sent.
                _ = connection.sendUntilRefused(request)
                return try? connection.readAnswer()
            }
            // A 4xx, or a close without one (when the reset came first): never a hang or a 200.
            if let answer {
                #expect((400..<500).contains(answer.status), "\(what): \(answer.status)")
            }
            #expect(ContinuousClock.now - started < .seconds(5), "\(what)")
            #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        }
    }

    /// Stopping while clients keep connecting: a connection set up as the listener closes never
    /// reaches the accept loop, and must still be closed properly (NIO traps otherwise, and the
    /// whole process with it). Many stops, as the race is narrow.
    @Test func stoppingWhileClientsConnectCrashesNothing() async throws {
        // Clients are awaited at the end: one may wait a second in a SYN retransmission.
        var allClients: [Task<Void, any Error>] = []
        for _ in 0..<20 {
            let server = PprofServer(port: 0, limits: .standard)
            let running = Task { try await server.run() }
            let port = try await waitForPort(of: server)
            let stop = ManagedFlag()
            let clients = (0..<4).map { _ in
                Task {
                    try await HTTPClient.onThread {
                        while !stop.isSet {
                            let connection = try? RawConnection(port: port)
                            _ = connection?.sendUntilRefused("GET /debug/pprof/cmdline HTTP/1.1\r\nHost: a\r\n\r\n")
                        }
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(20))
            running.cancel()
            try await running.value
            stop.set()
            allClients += clients
        }
        for client in allClients { try await client.value }
    }

    /// 200 clients at once, each asking a few times on one connection, while two scrapes
    /// record: every request answered, both profiles valid.
    @Test(.timeLimit(.minutes(1))) func aCrowdOfClientsIsServedWhileScrapesRecord() async throws {
        let workload = Workload()
        defer { workload.stop() }
        let clients = 200
        let requestsEach = 4
        try await withServer { _, port in
            let started = ContinuousClock.now
            async let first = HTTPClient.get(port, "/debug/pprof/profile?seconds=1")
            async let second = HTTPClient.get(port, "/debug/pprof/profile?seconds=1&type=cprof")
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in 0..<clients {
                    group.addTask {
                        try await HTTPClient.onThread {
                            let connection = try RawConnection(port: port)
                            return try (0..<requestsEach).map { request in
                                let target = (client + request) % 2 == 0 ? "/debug/pprof/" : "/debug/pprof/cmdline"
                                return try connection.get(target).status
                            }
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let crowdServed = ContinuousClock.now - started
            let scrapes = try await [first, second]
            let elapsed = ContinuousClock.now - started
            #expect(statuses.count == clients * requestsEach)
            #expect(statuses.allSatisfy { $0 == 200 }, "\(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")
            for scrape in scrapes {
                #expect(scrape.status == 200, "\(scrape.text)")
                let decoded = try DecodedProfile.decode(scrape.body)
                #expect(decoded.violations() == [])
                #expect(decoded.flat("http.leaf", type: "calls") > 0)
            }
            // About a second here (the windows' length); 13 s under the thread sanitizer, which
            // slows NIO and 200 threads tenfold. The bound is for a server that stalls.
            #expect(crowdServed < .seconds(30), "\(crowdServed)")
            #expect(elapsed < .seconds(30), "\(elapsed)")
        }
    }
}
