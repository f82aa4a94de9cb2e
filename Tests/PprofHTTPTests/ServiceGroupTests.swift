import PprofHTTP
import PprofTestSupport
import ServiceLifecycle
import Testing

/// The server as one service of a swift-service-lifecycle group, as in a Hummingbird or Vapor
/// program: graceful shutdown ends it.
@Suite(.serialized, .recorderExclusive)
struct ServiceGroupTests {
    @Test func gracefulShutdownOfTheGroupStopsTheServer() async throws {
        let server = PprofServer(port: 0)
        let group = ServiceGroup(services: [server])
        let running = Task { try await group.run() }
        let port = try await waitForPort(of: server)
        #expect(try await HTTPClient.get(port, "/debug/pprof/").status == 200)
        await group.triggerGracefulShutdown()
        try await running.value
        await #expect(throws: ClientError.self) { try await HTTPClient.get(port, "/debug/pprof/") }
    }
}
