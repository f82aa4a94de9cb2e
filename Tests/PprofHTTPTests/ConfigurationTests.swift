import NIOHTTP1
import PprofHTTP
import Testing

/// `PprofServer.Configuration`: every value out of its range is brought into it once, as it is
/// set, and the server and its routes see only the checked values.
struct ConfigurationTests {
    typealias Configuration = PprofServer.Configuration

    @Test func maxSecondsIsFromOneSecondToAYear() {
        #expect(Configuration(maxSeconds: 0).maxSeconds == 1)
        #expect(Configuration(maxSeconds: -5).maxSeconds == 1)
        #expect(Configuration(maxSeconds: .min).maxSeconds == 1)
        #expect(Configuration(maxSeconds: 1).maxSeconds == 1)
        #expect(Configuration(maxSeconds: 300).maxSeconds == 300)
        #expect(Configuration(maxSeconds: 366 * 86_400).maxSeconds == 366 * 86_400)
        #expect(Configuration(maxSeconds: 366 * 86_400 + 1).maxSeconds == 366 * 86_400)
        #expect(Configuration(maxSeconds: .max).maxSeconds == 366 * 86_400)
        #expect(Configuration().maxSeconds == 300)
    }

    @Test func maxWindowsIsAtLeastOne() {
        #expect(Configuration(maxWindows: 0).maxWindows == 1)
        #expect(Configuration(maxWindows: -1).maxWindows == 1)
        #expect(Configuration(maxWindows: 3).maxWindows == 3)
        #expect(Configuration(maxWindows: .max).maxWindows == .max)
        #expect(Configuration().maxWindows == 8)
    }

    @Test func maxTraceEventsIsFromOneToTwoToTheThirty() {
        #expect(Configuration(maxTraceEvents: 0).maxTraceEvents == 1)
        #expect(Configuration(maxTraceEvents: -7).maxTraceEvents == 1)
        #expect(Configuration(maxTraceEvents: 50).maxTraceEvents == 50)
        #expect(Configuration(maxTraceEvents: 1 << 30).maxTraceEvents == 1 << 30)
        #expect(Configuration(maxTraceEvents: .max).maxTraceEvents == 1 << 30)
        // Issue 13: timelines are bounded by bytes; the event bound is none unless set.
        #expect(Configuration().maxTraceEvents == 1 << 30)
    }

    @Test func maxTraceBytesIsFrom1024ToTwoToTheForty() {
        #expect(Configuration().maxTraceBytes == 256 << 20)
        var configuration = Configuration()
        configuration.maxTraceBytes = 0
        #expect(configuration.maxTraceBytes == 1024)
        configuration.maxTraceBytes = .max
        #expect(configuration.maxTraceBytes == 1 << 40)
        configuration.maxTraceBytes = 5000
        #expect(configuration.maxTraceBytes == 5000)
    }

    /// Set after the initializer, a value is checked as the initializer checks it.
    @Test func settingAValueChecksItToo() {
        var configuration = Configuration()
        configuration.maxSeconds = 0
        configuration.maxWindows = 0
        configuration.maxTraceEvents = .max
        #expect(configuration.maxSeconds == 1)
        #expect(configuration.maxWindows == 1)
        #expect(configuration.maxTraceEvents == 1 << 30)
        configuration.maxSeconds = .max
        #expect(configuration.maxSeconds == 366 * 86_400)
    }

    /// Every initializer makes its configuration the same way, the package one (which had no
    /// `trackThreads`) included.
    @Test func everyInitializerKeepsEveryValue() {
        let given = PprofServer(
            host: "::1",
            port: 0,
            maxSeconds: 0,
            token: "t",
            maxWindows: 0,
            maxTraceEvents: 0,
            trackThreads: true,
            revealCommandLine: true
        )
        let package = PprofServer(
            host: "::1",
            port: 0,
            maxSeconds: 0,
            token: "t",
            maxWindows: 0,
            maxTraceEvents: 0,
            trackThreads: true,
            revealCommandLine: true,
            commandLine: ["a"],
            limits: .init(maxConnections: 3)
        )
        let configured = PprofServer(
            configuration: .init(
                host: "::1",
                port: 0,
                maxSeconds: 0,
                token: "t",
                maxWindows: 0,
                maxTraceEvents: 0,
                trackThreads: true,
                revealCommandLine: true
            )
        )
        for server in [given, package, configured] {
            let configuration = server.configuration
            #expect(configuration.host == "::1" && server.host == "::1")
            #expect(configuration.port == 0 && server.port == 0)
            #expect(configuration.maxSeconds == 1 && server.maxSeconds == 1)
            #expect(configuration.token == "t")
            #expect(configuration.maxWindows == 1 && server.maxWindows == 1)
            #expect(configuration.maxTraceEvents == 1)
            #expect(configuration.trackThreads)
            #expect(configuration.revealCommandLine)
        }
        #expect(package.configuration.commandLine == ["a"])
        #expect(package.configuration.limits.maxConnections == 3)
        #expect(given.configuration.commandLine == nil)
        #expect(given.configuration.limits.maxConnections == PprofServer.Limits.standard.maxConnections)
    }

    /// The routes read the checked value: a server told `maxSeconds: 0` allows 1 second.
    @Test func theRoutesSeeTheCheckedValue() async {
        let routes = Routes(configuration: .init(maxSeconds: 0), windows: WindowLimit(limit: 1))
        let response = await routes.respond(method: .GET, uri: "/debug/pprof/profile?seconds=2", headers: [:]) {
            duration in
            Issue.record("a window of \(duration) was opened")
            return false
        }
        #expect(response.status == .badRequest)
        #expect(String(decoding: response.body, as: UTF8.self) == "seconds must be from 1 to 1, not 2\n")
    }
}
