import Foundation
import Pprof
import PprofHTTP
import PprofTestKit
import PprofTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The server under abuse, over real loopback sockets (issue 7, point 4): a thousand connections
/// at once, idle ones, oversized and malformed requests, clients that leave mid-window, a flood
/// of scrapes. Each gets its right status or a close; the windows they opened are all closed
/// again; resident memory stays put from one round to the next; and a thread of the profiled
/// program keeps most of its pace meanwhile. `ConnectionLimitsTests` has the single-client
/// cases of the same limits (one idle connection, slowloris, the cap, one oversized head).
///
/// Serialized and exclusive with the other suites that drive the recorder: its windows make
/// every thread record, and its timings must not share the two cores with theirs.
@Suite(.serialized, .recorderExclusive)
struct AbuseTests {
    // MARK: Requests

    /// A request that asks the server to close the connection after its answer (unless `keepAlive`).
    static func request(
        _ target: String,
        method: String = "GET",
        headers: String = "",
        keepAlive: Bool = false
    ) -> [UInt8] {
        let connection = keepAlive ? "" : "Connection: close\r\n"
        return Array("\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)\(connection)\r\n".utf8)
    }

    /// Ordinary requests and the status each must get.
    static let ordinary: [(request: [UInt8], status: Int)] = [
        (request("/debug/pprof/"), 200),
        (request("/debug/pprof/cmdline"), 200),
        (request("/debug/pprof/heap"), 404),
        (request("/debug/pprof/profile?seconds=abc"), 400),
        (request("/debug/pprof/profile?seconds=301"), 400),
        (request("/debug/pprof/cmdline", method: "POST"), 405),
        (request("/debug/pprof/../../etc/passwd"), 404),
    ]

    /// Heads past `Limits.standard` (16 KiB a line, 32 KiB in all, 100 header lines): the
    /// decoder refuses them with `400` and a close.
    static let oversized: [(name: String, request: [UInt8])] = [
        ("a 20 KiB request target", request("/debug/pprof/cmdline?pad=" + String(repeating: "a", count: 20_000))),
        ("a 20 KiB header", request("/debug/pprof/", headers: "X-Big: \(String(repeating: "a", count: 20_000))\r\n")),
        ("40 KiB of 1 KiB headers", request("/debug/pprof/", headers: headerLines(40, size: 1000))),
        ("101 header lines", request("/debug/pprof/", headers: headerLines(99, size: 1))),
        ("a 100 KiB request target", request("/debug/pprof/?pad=" + String(repeating: "a", count: 100_000))),
    ]

    /// Heads just within the same limits: these must still be served.
    static let largeButAllowed: [(name: String, request: [UInt8])] = [
        ("a 15 KiB request target", request("/debug/pprof/cmdline?pad=" + String(repeating: "a", count: 15_000))),
        ("30 KiB of 1.5 KiB headers", request("/debug/pprof/cmdline", headers: headerLines(20, size: 1500))),
        ("100 header lines", request("/debug/pprof/cmdline", headers: headerLines(98, size: 1))),
    ]

    /// `count` headers `X-Hn: aaa…` of `size` bytes of value each.
    static func headerLines(_ count: Int, size: Int) -> String {
        (0..<count).map { "X-H\($0): \(String(repeating: "a", count: size))\r\n" }.joined()
    }

    /// Bytes that are not HTTP/1.1 requests; each must get `400` or a close, never an answer.
    static let malformed: [(name: String, request: [UInt8])] = [
        ("not HTTP", Array("NOT HTTP AT ALL\r\n\r\n".utf8)),
        ("a header without a colon", Array("GET /debug/pprof/ HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n".utf8)),
        ("a space in the target", Array("GET /debug pprof/ HTTP/1.1\r\nHost: a\r\n\r\n".utf8)),
        ("a NUL in a header", Array("GET /debug/pprof/ HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n".utf8)),
        (
            "a negative Content-Length",
            Array("GET /debug/pprof/ HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n".utf8)
        ),
        (
            "two Content-Lengths",
            Array("GET /debug/pprof/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".utf8)
        ),
        (
            "a chunk size that is not hex",
            Array("GET /debug/pprof/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)
        ),
        (
            "a TLS ClientHello",
            [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03] + Array(repeating: 0, count: 64)
        ),
        ("binary noise", (0..<256).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }),
    ]

    /// A body larger than `Limits.standard.maxBodyBytes` (64 KiB): `413` and a close.
    static let bodyTooLarge: [UInt8] =
        Array("POST /debug/pprof/ HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n".utf8)
        + Array(repeating: UInt8(ascii: "x"), count: 200_000)

    // MARK: Tests

    @Test(.timeLimit(.minutes(1))) func aThousandConnectionsAtOnceAreEachAnswered() async throws {
        try raiseOpenFileLimit(atLeast: 2_600)
        let count = 1_000
        let planned = (0..<count).map { Self.ordinary[$0 % Self.ordinary.count] }
        // The cap raised above the crowd: every one of them must be served.
        try await withServer(limits: .init(maxConnections: 1_100)) { _, port in
            let results = try await HTTPClient.onThread {
                try ConnectionCrowd.run(port: port, requests: planned.map(\.request))
            }
            let tally = ConnectionCrowd.tally(results)
            print("AbuseTests: \(count) concurrent connections, cap 1100: \(tally.sorted { $0.key < $1.key })")
            let wrong = zip(results, planned).filter { $0.outcome != .answered(status: $1.status) }
            #expect(
                wrong.isEmpty,
                "\(wrong.count) not answered as expected, as \(wrong.first.map { "\($0.0.outcome) for \($0.1.status)" } ?? "")"
            )
        }
    }

    @Test(.timeLimit(.minutes(1))) func aThousandConnectionsBeyondTheCapAreAnsweredOrClosed() async throws {
        try raiseOpenFileLimit(atLeast: 2_600)
        let count = 1_000
        let cap = PprofServer.Limits.standard.maxConnections
        // Kept alive, so that the connections served hold their places until the idle timeout
        // closes them, or until a newer connection takes the place of the one idle longest
        // (which by then may have had its answer, or may not have sent its request yet).
        let timeout = 1.0
        let planned = (0..<count).map { index in
            let target = ["/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap"][index % 3]
            return (request: Self.request(target, keepAlive: true), status: index % 3 == 2 ? 404 : 200)
        }
        try await withServer(limits: .init(idleTimeout: .seconds(timeout))) { server, port in
            let results = try await HTTPClient.onThread {
                try ConnectionCrowd.run(port: port, requests: planned.map(\.request), deadline: timeout + 5)
            }
            let tally = ConnectionCrowd.tally(results)
            print(
                "AbuseTests: \(count) concurrent connections, cap \(cap): \(tally.sorted { $0.key < $1.key }); "
                    + "\(server.connectionsEvicted) idle ones evicted, at most \(server.connectionsPeak) open at once"
            )
            var answered = 0
            for (result, plan) in zip(results, planned) {
                switch result.outcome {
                case .answered(let status):
                    answered += 1
                    #expect(status == plan.status)
                case .closedSilently:
                    break
                default:
                    Issue.record("neither answered nor closed: \(result.outcome)")
                }
            }
            // All were open before any asked: at least `cap` are served, never more than `cap` at
            // once; the others' places went to newer connections (before the fix for issue 13,
            // defect 8, they were closed and at most about `cap` were answered; now, as the
            // server takes connections whose requests are already in, nearly all are).
            #expect(answered >= cap, "\(tally)")
            #expect(server.connectionsPeak <= cap, "the cap of \(cap) connections did not hold")
            // And the server is none the worse for it.
            #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        }
    }

    @Test(.timeLimit(.minutes(1))) func idleConnectionsAreClosedAfterTheTimeout() async throws {
        try raiseOpenFileLimit(atLeast: 1_000)
        let timeout = 1.0
        let cap = 64
        let count = 100
        try await withServer(limits: .init(idleTimeout: .seconds(timeout), maxConnections: cap)) { _, port in
            let results = try await HTTPClient.onThread {
                try ConnectionCrowd.run(
                    port: port,
                    requests: Array(repeating: nil, count: count),
                    deadline: timeout + 3
                )
            }
            let lived = results.compactMap(\.closedAfter).sorted()
            print(
                "AbuseTests: \(count) idle connections, cap \(cap), timeout \(timeout) s: closed after "
                    + "\(lived.first.map { String(format: "%.2f", $0) } ?? "-") to "
                    + "\(lived.last.map { String(format: "%.2f", $0) } ?? "-") s; \(ConnectionCrowd.tally(results))"
            )
            #expect(results.allSatisfy { $0.outcome == .closedSilently }, "\(ConnectionCrowd.tally(results))")
            // Those within the cap were held for the timeout, those beyond it closed at once.
            let held = lived.filter { $0 >= timeout / 2 }
            #expect(held.count == cap, "\(lived)")
            #expect(held.allSatisfy { $0 >= timeout - 0.25 && $0 < timeout + 2 }, "\(held)")
            #expect(lived.count - held.count == count - cap)
            // The slots are free again.
            #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        }
    }

    @Test(.timeLimit(.minutes(1))) func oversizedHeadsAre400AndLargeOnesWithinTheLimitsAreServed() async throws {
        let copies = 10
        try await withServer(limits: .standard) { _, port in
            for (name, request) in Self.oversized {
                let results = try await HTTPClient.onThread {
                    try ConnectionCrowd.run(port: port, requests: Array(repeating: request, count: copies), deadline: 5)
                }
                print("AbuseTests: \(name) × \(copies): \(ConnectionCrowd.tally(results))")
                // The decoder stops at the limit and the server closes with the rest unread: the
                // client's kernel may then drop the 400 for the reset. Either way, no other answer.
                #expect(
                    results.allSatisfy { $0.outcome == .answered(status: 400) || $0.outcome == .closedSilently },
                    "\(name): \(ConnectionCrowd.tally(results))"
                )
                #expect(results.contains { $0.outcome == .answered(status: 400) }, "\(name): never a 400")
            }
            for (name, request) in Self.largeButAllowed {
                let results = try await HTTPClient.onThread {
                    try ConnectionCrowd.run(port: port, requests: Array(repeating: request, count: copies), deadline: 5)
                }
                #expect(
                    results.allSatisfy { $0.outcome == .answered(status: 200) },
                    "\(name): \(ConnectionCrowd.tally(results))"
                )
            }
            let bodies = try await HTTPClient.onThread {
                try ConnectionCrowd.run(
                    port: port,
                    requests: Array(repeating: Self.bodyTooLarge, count: copies),
                    deadline: 5
                )
            }
            print("AbuseTests: a 200 KB body × \(copies): \(ConnectionCrowd.tally(bodies))")
            #expect(
                bodies.allSatisfy { $0.outcome == .answered(status: 413) || $0.outcome == .closedSilently },
                "\(ConnectionCrowd.tally(bodies))"
            )
            #expect(bodies.contains { $0.outcome == .answered(status: 413) }, "never a 413")
            #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        }
    }

    @Test(.timeLimit(.minutes(1))) func malformedRequestsAre400OrAClose() async throws {
        try await withServer(limits: .standard) { _, port in
            let results = try await HTTPClient.onThread {
                try ConnectionCrowd.run(port: port, requests: Self.malformed.map(\.request), deadline: 5)
            }
            for ((name, _), result) in zip(Self.malformed, results) {
                print("AbuseTests: \(name): \(result.outcome)")
                #expect(
                    result.outcome == .answered(status: 400) || result.outcome == .closedSilently,
                    "\(name): \(result.outcome)"
                )
            }
            #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        }
    }

    @Test(.timeLimit(.minutes(1))) func clientsThatLeaveMidWindowFreeTheirWindows() async throws {
        let workload = Workload()
        defer { workload.stop() }
        let before = RecorderStatus.openWindows
        try await withServer(maxWindows: 8, limits: .standard) { server, port in
            // Eight long windows (the cap; two of them timelines) given up after half a second.
            let long = (0..<8).map { Self.request("/debug/pprof/\($0 % 4 == 3 ? "trace" : "profile")?seconds=60") }
            async let leaving = HTTPClient.onThread {
                try ConnectionCrowd.run(port: port, requests: long, abandonAfter: 0.5)
            }
            var most = 0
            let watching = ContinuousClock.now
            while ContinuousClock.now - watching < .milliseconds(400) {
                most = max(most, RecorderStatus.openWindows - before)
                try await Task.sleep(for: .milliseconds(10))
            }
            let results = try await leaving
            #expect(results.allSatisfy { $0.outcome == .abandoned }, "\(ConnectionCrowd.tally(results))")
            // The windows were open (a timeline is a window of the recorder too)...
            #expect(most == long.count, "\(most) windows seen open")
            // ...and are closed once their clients have gone,
            let longGone = try await Self.waitForWindows(toReturnTo: before, server: server)
            #expect(RecorderStatus.openWindows == before)
            // and all eight places are free again.
            #expect(try await Self.eightWindowsAtOnce(port) == ["200": 8])

            // Twenty clients that leave as soon as they have asked, some before their window
            // opens, some after; while the cap is full, others are refused (503) before they go.
            let hasty = try await HTTPClient.onThread {
                try ConnectionCrowd.run(
                    port: port,
                    requests: Array(repeating: Self.request("/debug/pprof/profile?seconds=60"), count: 20),
                    abandonAfter: 0
                )
            }
            #expect(
                hasty.allSatisfy { $0.outcome == .abandoned || $0.outcome == .answered(status: 503) },
                "\(ConnectionCrowd.tally(hasty))"
            )
            // The server may read a request after its client has gone: the windows must stay
            // closed for a while, not merely be closed once.
            var quiet = ContinuousClock.now
            let waiting = ContinuousClock.now
            while ContinuousClock.now - quiet < .milliseconds(500), ContinuousClock.now - waiting < .seconds(3) {
                if RecorderStatus.openWindows != before { quiet = .now }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(RecorderStatus.openWindows == before)
            _ = try await Self.waitForWindows(toReturnTo: before, server: server)
            #expect(try await Self.eightWindowsAtOnce(port) == ["200": 8])
            print(
                "AbuseTests: \(results.count) clients left mid-window with \(most) windows open, all "
                    + "closed \(longGone) later; \(hasty.count) left as soon as they asked "
                    + "(\(ConnectionCrowd.tally(hasty))), windows all closed \(quiet - waiting) later"
            )
        }
    }

    /// Asks for eight one-second windows at once, and tallies the answers.
    static func eightWindowsAtOnce(_ port: Int) async throws -> [String: Int] {
        let results = try await HTTPClient.onThread {
            try ConnectionCrowd.run(
                port: port,
                requests: Array(repeating: request("/debug/pprof/profile?seconds=1&type=cprof"), count: 8)
            )
        }
        return ConnectionCrowd.tally(results)
    }

    @Test(.timeLimit(.minutes(1))) func aFloodOfScrapesBeyondTheWindowCapGets503WithRetryAfter() async throws {
        let workload = Workload()
        defer { workload.stop() }
        let cap = 4
        let count = 40
        try await withServer(maxWindows: cap, limits: .standard) { _, port in
            let results = try await HTTPClient.onThread {
                try ConnectionCrowd.run(
                    port: port,
                    requests: Array(repeating: Self.request("/debug/pprof/profile?seconds=2"), count: count)
                )
            }
            let tally = ConnectionCrowd.tally(results)
            let refused = results.filter { $0.outcome == .answered(status: 503) }
            let served = results.filter { $0.outcome == .answered(status: 200) }
            let slowestRefusal = refused.compactMap(\.closedAfter).max() ?? 0
            print(
                "AbuseTests: \(count) scrapes at once, \(cap) windows allowed: \(tally); "
                    + "refusals within \(String(format: "%.2f", slowestRefusal)) s"
            )
            #expect(served.count == cap, "\(tally)")
            #expect(refused.count == count - cap, "\(tally)")
            #expect(refused.allSatisfy { $0.headers["retry-after"].flatMap(Int.init) == 2 })
            // Refused at once, not after a window's length.
            #expect(slowestRefusal < 1.5)
            for result in served {
                let decoded = try DecodedProfile.decode(result.body)
                #expect(decoded.violations() == [])
            }
            #expect(RecorderStatus.openWindows == 0)
        }
    }

    /// All of the above at once, twice after a warm-up round: memory stays where the warm-up
    /// left it, and a thread of the profiled program keeps most of its pace.
    @Test(.timeLimit(.minutes(1))) func memoryAndTheProgramsPaceHoldUnderAbuse() async throws {
        try raiseOpenFileLimit(atLeast: 2_600)
        let pace = PaceMeter()
        defer { pace.stop() }
        // The pace with recording on and nothing else: a window of its own.
        try await Task.sleep(for: .milliseconds(300))
        let window = Profiler.start(mode: .fprof)
        let quiet = try await pace.rate(during: { try await Task.sleep(for: .milliseconds(1500)) })
        _ = window.stop()

        var rss: [Int] = []
        var treeBytes: [Int] = []
        var tallies: [[String: Int]] = []
        let abused = try await withServer(maxWindows: 8, limits: .init(idleTimeout: .seconds(1))) { _, port in
            var rates: [Double] = []
            for round in 0..<4 {
                let (tally, rate) = try await pace.measure { try await Self.abuseRound(port: port) }
                tallies.append(tally)
                if round > 0 { rates.append(rate) }
                // The windows and connections of the round are gone before memory is read.
                try await Task.sleep(for: .milliseconds(300))
                #expect(RecorderStatus.openWindows == 0)
                rss.append(Self.residentBytes())
                treeBytes.append(RecorderStatus.callTreeBytes)
            }
            return rates.reduce(0, +) / Double(rates.count)
        }
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        // The call tree is the profiler's data, not a leak: it grows (doubling its arrays) with
        // the call paths and CPU samples' leaves it keeps, up to PPROF_MAX_NODES. Its growth is
        // taken apart from the process's.
        let tree = { (round: Int) in treeBytes[round] - treeBytes[0] }
        let growth = rss[3] - rss[0] - tree(3)
        print(
            "AbuseTests: round outcomes \(tallies.map { $0.sorted { $0.key < $1.key } }); "
                + "resident after warm-up \(mib(rss[0])), after rounds 2 to 4 \(rss.dropFirst().map(mib)) "
                + "(the call tree \(treeBytes.map(mib))); "
                + "workload \(Int(quiet)) iterations/s with a window open, \(Int(abused)) under abuse "
                + "(\(String(format: "%.0f", abused / quiet * 100)) %)"
        )
        // Three rounds of some 2,000 to 2,500 connections each (the ordinary crowd and the steady
        // one). The process's memory is read while other suites may run beside this one, so a
        // round's reading can be off by what they allocate (a release run in CI once read 3.4
        // and 4.8 MiB over two rounds, where alone they grow under 1.5): a leak shows in every
        // round, and the smallest growth of the three is what is bounded (a leak of 2 KiB per
        // connection, or a buffer kept per request, would exceed 3 MiB in each), with 24 MiB over
        // all three.
        // Not under the address sanitizer, whose quarantine keeps freed memory (up to 256 MB) on
        // purpose (and AbuseTests do not run under the thread sanitizer): debug and release.
        let perRound = (1...3).map { rss[$0] - rss[$0 - 1] - (tree($0) - tree($0 - 1)) }.min()!
        if activeSanitizer != "address" {
            #expect(perRound < 3 * 1_048_576, "resident memory grew \(mib(perRound)) in each of three rounds")
            #expect(growth < 24 * 1_048_576, "resident memory grew \(mib(growth)) over three rounds")
        }
        // Two cores, shared with the server, the clients and the aggregator: half is the floor.
        #expect(abused >= quiet * 0.5, "the workload ran at \(Int(abused))/s under abuse, \(Int(quiet))/s before")
    }

    // MARK: One round of abuse

    /// Everything at once against one server: a thousand ordinary requests, idle connections,
    /// oversized and malformed heads, a large body, a flood of scrapes beyond the window cap,
    /// and scrapes abandoned mid-window. Records an issue for any connection that got neither
    /// its right status nor a close.
    static func abuseRound(port: Int) async throws -> [String: Int] {
        typealias Plan = (request: [UInt8]?, statuses: Set<Int>)
        var planned: [Plan] = (0..<1_000).map { index -> Plan in
            (ordinary[index % ordinary.count].request, [ordinary[index % ordinary.count].status])
        }
        planned += Array(repeating: Plan(nil, []), count: 50)
        planned += oversized.map { Plan($0.request, [400]) }
        planned += malformed.map { Plan($0.request, [400]) }
        planned.append(Plan(bodyTooLarge, [413]))
        planned += Array(repeating: Plan(request("/debug/pprof/profile?seconds=1"), [200, 503]), count: 24)
        let requests = planned.map(\.request)
        // Ordinary requests in crowds of 200, one after the other for as long as the rest lasts:
        // the server is kept busy through the whole round, not only at its start.
        let roundOver = Atomic<Bool>(false)
        async let steady = HTTPClient.onThread {
            var results: [ConnectionCrowd.Result] = []
            while !roundOver.load(ordering: .relaxed) {
                results += try ConnectionCrowd.run(
                    port: port,
                    requests: (0..<200).map { ordinary[$0 % ordinary.count].request }
                )
            }
            return results
        }
        async let abandoning = HTTPClient.onThread {
            try ConnectionCrowd.run(
                port: port,
                requests: Array(repeating: request("/debug/pprof/profile?seconds=30"), count: 8),
                abandonAfter: 0.3
            )
        }
        let results = try await HTTPClient.onThread { try ConnectionCrowd.run(port: port, requests: requests) }
        let abandoned = try await abandoning
        roundOver.store(true, ordering: .relaxed)
        let steadyResults = try await steady
        let steadyPlan = (0..<steadyResults.count).map { ordinary[$0 % 200 % ordinary.count].status }
        for (result, status) in zip(steadyResults, steadyPlan) {
            switch result.outcome {
            case .answered(status), .closedSilently: break
            default: Issue.record("a steady request expecting \(status) got \(result.outcome)")
            }
        }
        for (result, plan) in zip(results, planned) {
            switch result.outcome {
            case .answered(let status) where plan.statuses.contains(status): break
            case .closedSilently: break
            default: Issue.record("a request expecting \(plan.statuses.sorted()) got \(result.outcome)")
            }
        }
        for result in abandoned where result.outcome != .abandoned && result.outcome != .closedSilently {
            Issue.record("an abandoned scrape got \(result.outcome)")
        }
        var tally = ConnectionCrowd.tally(results)
        tally["abandoned"] = abandoned.filter { $0.outcome == .abandoned }.count
        tally["steady answered"] = steadyResults.filter { if case .answered = $0.outcome { true } else { false } }.count
        tally["steady closed"] = steadyResults.filter { $0.outcome == .closedSilently }.count
        // The windows the abandoned scrapes opened close as the server sees them go.
        let left = ContinuousClock.now
        while RecorderStatus.openWindows != 0, ContinuousClock.now - left < .seconds(3) {
            try await Task.sleep(for: .milliseconds(10))
        }
        return tally
    }

    /// Waits up to 3 s for the open windows to number `count`, and returns how long it took.
    /// Waits until the recorder's open windows are back to `count` and `server` holds none of its
    /// places (it frees a place just after closing its window).
    static func waitForWindows(toReturnTo count: Int, server: PprofServer) async throws -> Duration {
        let started = ContinuousClock.now
        while RecorderStatus.openWindows != count || server.windowsInUse != 0,
            ContinuousClock.now - started < .seconds(3)
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        return ContinuousClock.now - started
    }

    // MARK: Process state

    /// Resident memory of this process, from `/proc/self/statm`.
    /// Freed heap memory is handed back to the system first (`malloc_trim`), so that what the
    /// allocator merely keeps cached does not read as growth.
    static func residentBytes() -> Int {
        _ = mallocTrim(0)
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Raises this process's soft limit on open files to `needed` (within the hard limit): a crowd
/// and the server that serves it hold a descriptor each per connection. Fails the test, with the
/// limits, when the hard limit is too low.
func raiseOpenFileLimit(atLeast needed: Int) throws {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
        throw ClientError(description: "getrlimit: errno \(errno)")
    }
    if limit.rlim_cur >= rlim_t(needed) { return }
    if limit.rlim_max < rlim_t(needed) {
        throw ClientError(
            description: "the hard limit on open files is \(limit.rlim_max); this test needs \(needed) (ulimit -Hn)"
        )
    }
    limit.rlim_cur = limit.rlim_max
    guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
        throw ClientError(description: "setrlimit to \(limit.rlim_max) open files: errno \(errno)")
    }
}

/// A thread of the "profiled program": scopes around a little arithmetic, as fast as it can,
/// counting its iterations, so that a test can tell how its pace changes.
final class PaceMeter: Sendable {
    private let iterations = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init() {
        let thread = Thread { [self] in
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            while !stopped.load(ordering: .relaxed) {
                Trace.scope("abuse.work") {
                    for _ in 0..<200 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
                }
                iterations.add(1, ordering: .relaxed)
            }
            // Keeps the arithmetic from being optimized away.
            if state == 0 { print("") }
        }
        thread.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Runs `body` and returns what it returned with the iterations per second meanwhile.
    func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = (iterations.load(ordering: .relaxed), ContinuousClock.now)
        let result = try await body()
        let count = iterations.load(ordering: .relaxed) - start.0
        return (result, Double(count) / ((ContinuousClock.now - start.1) / .seconds(1)))
    }

    /// The iterations per second while `body` runs.
    func rate(during body: () async throws -> Void) async rethrows -> Double {
        try await measure { () async throws -> Int in
            try await body()
            return 0
        }.1
    }
}

/// glibc's `malloc_trim`, which Swift's Glibc module does not export.
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
