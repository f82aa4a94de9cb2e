import Foundation
import Pprof
import PprofHTTP
import PprofTestSupport
import Testing

/// What a person meets first: the index page as a browser gets it over a real socket (the
/// commands to copy name the address the browser used), and the message when the port is taken.
@Suite(.serialized, .recorderExclusive)
struct IndexPageTests {
    /// The index page as asked with `host` as the Host header (nil: HTTP/1.0 without one).
    static func index(_ port: Int, host: String?) async throws -> HTTPAnswer {
        try await HTTPClient.onThread {
            let connection = try RawConnection(port: port)
            let request =
                if let host {
                    "GET /debug/pprof/ HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
                } else {
                    "GET /debug/pprof/ HTTP/1.0\r\n\r\n"
                }
            try connection.send(request)
            return try connection.readAnswer()
        }
    }

    @Test func theIndexNamesTheAddressTheClientUsed() async throws {
        try await withServer { _, port in
            let answer = try await Self.index(port, host: "profiler.example:6060")
            #expect(answer.status == 200)
            #expect(
                answer.text.contains("go tool pprof http://profiler.example:6060/debug/pprof/profile?seconds=30"),
                "\(answer.text)"
            )
            #expect(!answer.text.contains("HOST:PORT"))
        }
    }

    @Test func aHostHeaderThatIsNoAddressIsNotEchoed() async throws {
        try await withServer { _, port in
            for host in ["<script>alert(1)</script>", "a\"b", "x y"] {
                let answer = try await Self.index(port, host: host)
                #expect(answer.status == 200)
                #expect(!answer.text.contains("<script>alert"), "\(host)")
                #expect(!answer.text.contains("a\"b"), "\(host)")
                // The connection's own address instead.
                #expect(answer.text.contains("go tool pprof http://127.0.0.1:\(port)/debug/pprof/"), "\(host)")
            }
            // No Host header at all (HTTP/1.0): the same.
            let bare = try await Self.index(port, host: nil)
            #expect(bare.text.contains("go tool pprof http://127.0.0.1:\(port)/debug/pprof/"), "\(bare.text)")
        }
    }

    @Test func theIndexLinksTheThreadDumpAndSaysWhetherThreadsAreTracked() async throws {
        try await withServer { _, port in
            let answer = try await Self.index(port, host: "127.0.0.1:\(port)")
            #expect(answer.text.contains("<a href=\"threads?debug=2\">"), "\(answer.text)")
            #expect(!answer.text.contains("): on.") && !answer.text.contains("): off."))
            let state = Threads.isTracking ? "on" : "off"
            #expect(answer.text.contains("<tr><td>thread tracking</td><td>\(state): "), "\(answer.text)")
        }
    }

    @Test func theIndexRecommendsPerfettosUINotChromeTracing() async throws {
        try await withServer { _, port in
            let answer = try await Self.index(port, host: "127.0.0.1:\(port)")
            #expect(answer.text.contains("https://ui.perfetto.dev"))
            #expect(answer.text.contains("vizviewer"))
            #expect(!answer.text.contains("chrome://tracing"))
        }
    }

    @Test func aPortInUseSaysSoInPlainWords() async throws {
        try await withServer { _, port in
            let second = PprofServer(port: port)
            var thrown: (any Error)?
            do { try await second.run() } catch { thrown = error }
            let error = try #require(thrown, "a second server bound a port in use")
            #expect("\(error)" == "cannot listen on 127.0.0.1:\(port): address already in use")
            // And through `start(…)`, which a program that is not async calls.
            do {
                let server = try PprofServer.start(port: port)
                server.stop()
                Issue.record("start(…) bound a port in use")
            } catch {
                #expect("\(error)" == "cannot listen on 127.0.0.1:\(port): address already in use")
            }
        }
    }
}
