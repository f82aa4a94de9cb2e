import ArgumentParser
import Hummingbird
import Logging
import PprofHTTP
import PprofTracing
import ServiceLifecycle
import Tracing

/// A Hummingbird 2 JSON API profiled by swift-pprof: each request span is a profile frame named
/// by its route, with `http.route` and `http.request.method` as labels, and the profile is served
/// at `/debug/pprof/profile` beside the API.
@main
struct HummingbirdService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hummingbird-service",
        abstract: "A Hummingbird JSON API whose request spans are profile frames, served as pprof."
    )

    @Option(help: "The address both servers bind.")
    var host = "127.0.0.1"

    @Option(help: "The API's port (0 picks a free one).")
    var port = 8080

    @Option(help: "The pprof endpoint's port (0 picks a free one).")
    var pprofPort = 6060

    @Option(help: "Users the store starts with.")
    var users = 1000

    func run() async throws {
        InstrumentationSystem.bootstrap(PprofTracer())
        let logger = Logger(label: "hummingbird-service")

        let store = UserStore(seeded: users)
        let pprof = PprofServer(host: host, port: pprofPort)
        let pprofHost = host
        let app = Application(
            router: buildRouter(store: store),
            configuration: .init(address: .hostname(host, port: port), serverName: "hummingbird-service"),
            onServerRunning: { channel in
                // Both ports on one line, once both listen (smoke.sh reads it when asked for port 0);
                // logged, as the logger writes and flushes each line to standard error.
                var pprofPort = pprof.boundPort
                for _ in 0..<500 where pprofPort == nil {
                    try? await Task.sleep(for: .milliseconds(10))
                    pprofPort = pprof.boundPort
                }
                let httpPort = channel.localAddress?.port ?? -1
                logger.info("listening: http=\(pprofHost):\(httpPort) pprof=\(pprofHost):\(pprofPort ?? -1)")
                logger.info(
                    "try: go tool pprof -top -sample_index=calls 'http://\(pprofHost):\(pprofPort ?? -1)/debug/pprof/profile?seconds=5'"
                )
            },
            logger: logger
        )
        let group = ServiceGroup(
            services: [app, pprof],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
        logger.info("stopped")
    }
}
