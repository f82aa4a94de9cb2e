import ArgumentParser
import Pprof

#if canImport(Glibc)
import Glibc
#endif

/// The main job: an instrumented service under load, profiled while it runs.
@main
struct PprofDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pprof-demo",
        abstract: "Runs an instrumented in-memory user service under load, profiles it, and writes the profile.",
        discussion: """
            Worker threads send a fixed mix of requests (get, create, search, and a bad one) to the \
            service for --duration seconds while a profile window records every scope. The profile \
            is written to --output as gzipped pprof; the top of the fprof-style report is printed. \
            Read the profile with: go tool pprof -top pprof-demo.pb.gz
            """
    )

    @Option(help: "How long to run the load, in seconds.")
    var duration: Int = 10

    @Option(help: "Where to write the profile (gzipped pprof).")
    var output: String = "pprof-demo.pb.gz"

    @Option(help: "Worker threads sending requests.")
    var threads: Int = 4

    @Option(
        help: ArgumentHelp(
            "Profile mode: fprof (call paths and time), eprof (flat), cprof (counts only).",
            valueName: "mode"
        )
    )
    var mode: String = "fprof"

    @Option(help: "Lines of the report to print.")
    var top: Int = 40

    func validate() throws {
        guard duration >= 1 else { throw ValidationError("--duration must be at least 1 second") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be from 1 to 256") }
        guard Profile.Mode(rawValue: mode) != nil else { throw ValidationError("--mode must be fprof, eprof or cprof") }
    }

    func run() throws {
        let service = UserService(users: 10_000)
        let window = Profiler.start(mode: Profile.Mode(rawValue: mode)!)
        let counts = LoadGenerator.run(service: service, threads: threads, seconds: duration)
        let profile = window.stop()
        try profile.write(to: output)

        let total = counts.reduce(0, +)
        print("pprof-demo: \(threads) threads for \(duration) s: \(total) requests, \(total / duration) per second")
        print("wrote \(output) (\(mode)); read it with: go tool pprof -top \(output)")
        print("")
        print(
            profile.report().split(separator: "\n", omittingEmptySubsequences: false).prefix(top).joined(
                separator: "\n"
            )
        )
    }
}

/// One load-generating thread's state.
final class Worker: @unchecked Sendable {
    let service: UserService
    let deadline: UInt64
    let seed: Int
    var requests = 0

    init(service: UserService, deadline: UInt64, seed: Int) {
        self.service = service
        self.deadline = deadline
        self.seed = seed
    }

    /// Sends the same mix of requests until the deadline: 6 gets, 2 creates, 1 search and 1
    /// bad request in every 10.
    func run() {
        var i = seed &* 7919
        while LoadGenerator.monotonicNanos() < deadline {
            for _ in 0..<64 {
                i &+= 1
                let id = (i &* 2_654_435_761) % 12_000
                switch i % 10 {
                case 0...5: _ = service.handle(method: "GET", path: "/users/\(id)", body: "")
                case 6, 7:
                    _ = service.handle(
                        method: "POST",
                        path: "/users",
                        body: "id=\(id)&name=user\(id)&email=u\(id)@example.com&tags=t\(id % 7),t\(id % 3)"
                    )
                case 8: _ = service.handle(method: "GET", path: "/search?tag=t\(id % 7)", body: "")
                default: _ = service.handle(method: "DELETE", path: "/users/\(id)", body: "")
                }
            }
            requests += 64
        }
    }
}

/// Worker threads that send requests until a deadline.
enum LoadGenerator {
    static func run(service: UserService, threads: Int, seconds: Int) -> [Int] {
        let deadline = monotonicNanos() + UInt64(seconds) * 1_000_000_000
        let workers = (0..<threads).map { Worker(service: service, deadline: deadline, seed: $0) }
        var handles: [pthread_t] = []
        for worker in workers {
            var handle = pthread_t()
            pthread_create(
                &handle,
                nil,
                { raw in
                    Unmanaged<Worker>.fromOpaque(raw!).takeUnretainedValue().run()
                    return nil
                },
                Unmanaged.passUnretained(worker).toOpaque()
            )
            handles.append(handle)
        }
        for handle in handles { pthread_join(handle, nil) }
        return workers.map(\.requests)
    }

    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
