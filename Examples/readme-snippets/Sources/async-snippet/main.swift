import Pprof

func lookUp(_ id: Int) async throws -> String {
    try await Trace.scope("lookUp") {
        try await Task.sleep(for: .milliseconds(5))          // waiting: not work
        return Trace.scope("format") { "user \(id)" }         // a sync scope: work
    }
}

let window = Profiler.start()
try await withThrowingTaskGroup(of: String.self) { group in
    for id in 0..<8 { group.addTask { try await lookUp(id) } }
    for try await _ in group {}
}
try window.stop().write(to: "async.pb.gz")   // go tool pprof -traces async.pb.gz
