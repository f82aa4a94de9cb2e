import Foundation
import NIOHTTP1
import PprofHTTP
import PprofTestSupport
import Testing

/// The security claims of the README's "Security and threat model", each checked (issue 7,
/// point 6). Where another suite checks one already, it is named here rather than repeated:
/// - `seconds` beyond `maxSeconds` is a 400: `PprofServerTests.badParametersAre400WithAReason`
///   (and here for `trace`); other methods than GET are 405: `otherMethodsAre405AndTheBarePrefixRedirects`;
/// - a missing or wrong token is a 401: `PprofServerTests.aTokenIsRequiredWhenSet`;
/// - head and body sizes, idle clients and connection counts are capped: `AbuseTests`,
///   `ConnectionLimitsTests`;
/// - `/debug/pprof/cmdline` hides secrets: `CommandLineRedactionTests`, and
///   `PprofServerTests.cmdlineHidesSecretsUnlessAskedToRevealThem`.
@Suite(.serialized, .recorderExclusive)
struct SecurityTests {
    @Test func itListensOnLoopbackOnlyByDefault() async throws {
        #expect(PprofServer().host == "127.0.0.1")
        let server = PprofServer(port: 0)
        let running = Task { try await server.run() }
        let port = try await waitForPort(of: server)
        // The kernel's own table of sockets: the listener's local address is 127.0.0.1, and
        // there is none on IPv6 (any address there would be reachable from elsewhere).
        let listening = Self.listeners(in: "/proc/net/tcp", port: port)
        let listening6 = Self.listeners(in: "/proc/net/tcp6", port: port)
        running.cancel()
        try await running.value
        #expect(listening == ["0100007F"], "listening on \(listening) (hex, little-endian)")
        #expect(listening6 == [])
    }

    /// The local addresses (hex, as the kernel writes them) of the sockets listening on `port`.
    static func listeners(in table: String, port: Int) -> [String] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { return [] }
        let portHex = String(format: "%04X", port)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            // sl, local_address, rem_address, st: 0A is LISTEN.
            guard fields.count > 3, fields[3] == "0A" else { return nil }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, local[1] == portHex else { return nil }
            return String(local[0])
        }
    }

    @Test func theTokenComparisonComparesEveryByte() {
        let token = Array("s3cret-token".utf8)
        #expect(BearerToken.constantTimeEquals(token, token))
        #expect(BearerToken.constantTimeEquals([], []))
        // A difference first, last, or in length (shorter, longer, empty) is a difference.
        #expect(!BearerToken.constantTimeEquals(Array("X3cret-token".utf8), token))
        #expect(!BearerToken.constantTimeEquals(Array("s3cret-tokeX".utf8), token))
        #expect(!BearerToken.constantTimeEquals(Array("s3cret-toke".utf8), token))
        #expect(!BearerToken.constantTimeEquals(Array("s3cret-token!".utf8), token))
        #expect(!BearerToken.constantTimeEquals(token + [0], token))
        #expect(!BearerToken.constantTimeEquals([], token))
        #expect(!BearerToken.constantTimeEquals(token, []))
    }

    @Test(arguments: [
        ("Bearer s3cret", true), ("bearer s3cret", true), ("BEARER s3cret", true),
        ("Bearer s3cre", false), ("Bearer s3cretX", false), ("Bearer  s3cret", false), ("Bearer", false),
        ("Bearer ", false), ("Basic s3cret", false), ("s3cret", false),
    ])
    func theTokenMustBeTheWholeBearerCredential(value: String, accepted: Bool) {
        #expect(BearerToken.authorizes(HTTPHeaders([("Authorization", value)]), token: "s3cret") == accepted)
    }

    @Test func twoAuthorizationHeadersAreRefused() {
        let headers = HTTPHeaders([("Authorization", "Bearer wrong"), ("Authorization", "Bearer s3cret")])
        #expect(!BearerToken.authorizes(headers, token: "s3cret"))
        #expect(!BearerToken.authorizes(HTTPHeaders(), token: "s3cret"))
    }

    /// No route opens a file named by the request: every answer is built in memory from the
    /// recorder. Paths that would reach a file on a server that served files are 404s, and
    /// parameters that name files are ignored.
    @Test func pathsThatNameFilesAre404AndNothingIsWritten() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-security-\(getpid())").path
        try await withServer(maxSeconds: 10) { _, port in
            for target in [
                "/etc/passwd", "//etc/passwd", "/debug/pprof/../../../../etc/passwd",
                "/debug/pprof/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/debug/pprof/..%2f..%2f..%2fetc%2fpasswd",
                "/debug/pprof//etc/passwd", "/debug/pprof/profile/../../../etc/passwd", "/debug/pprof/%2Fetc%2Fpasswd",
                "/debug/pprof/proc/self/environ", "/debug/pprof/cmdline/../../../proc/self/environ",
            ] {
                let answer = try await HTTPClient.get(port, target)
                #expect(answer.status == 404, "\(target): \(answer.status)")
                #expect(!answer.text.contains("root:"), "\(target)")
            }
            for target in ["/debug/pprof/cmdline?file=/etc/passwd&output=\(scratch)", "/debug/pprof/?path=/etc/passwd"]
            {
                let answer = try await HTTPClient.get(port, target)
                #expect(answer.status == 200, "\(target)")
                #expect(!answer.text.contains("root:"), "\(target)")
            }
            #expect(!FileManager.default.fileExists(atPath: scratch))
            // Durations are capped for timelines as for profiles.
            #expect(try await HTTPClient.get(port, "/debug/pprof/trace?seconds=11").status == 400)
        }
    }
}
