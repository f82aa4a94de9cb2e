import Testing

@testable import PprofReportCore

/// The URL and answer handling of pprof-report's GET, on canned text.
@Suite struct HTTPFetchTests {
    @Test func urlsSplitIntoHostPortAndTarget() throws {
        #expect(
            try HTTPFetch.parse("http://127.0.0.1:6060/debug/pprof/profile?seconds=5") == (
                "127.0.0.1", 6060, "/debug/pprof/profile?seconds=5"
            )
        )
        #expect(try HTTPFetch.parse("http://localhost") == ("localhost", 80, "/"))
        #expect(try HTTPFetch.parse("http://[::1]:8080/x") == ("::1", 8080, "/x"))
        #expect(throws: ReportFailure.self) { try HTTPFetch.parse("http://host:99999/") }
        #expect(throws: ReportFailure.self) { try HTTPFetch.parse("http:///x") }
    }

    @Test func answersGiveTheirBodyOrTheirStatus() throws {
        let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".utf8)
        #expect(try HTTPFetch.body(of: ok, url: "u") == Array("abc".utf8))
        let chunked = Array(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8
        )
        #expect(try HTTPFetch.body(of: chunked, url: "u") == Array("abcde".utf8))
        let missing = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 20\r\n\r\nheap is not served\r\n".utf8)
        #expect(throws: ReportFailure("u: HTTP 404: heap is not served")) { try HTTPFetch.body(of: missing, url: "u") }
        let cut = Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8)
        #expect(throws: ReportFailure("u: the answer was cut: 3 of 10 bytes")) { try HTTPFetch.body(of: cut, url: "u") }
    }

    @Test func aRefusedConnectionIsOneLine() throws {
        #expect(throws: ReportFailure.self) { try ProfileSource.load("http://127.0.0.1:1/debug/pprof/profile") }
    }
}
