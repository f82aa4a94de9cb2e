import Pprof
import PprofTracing
import Tracing

InstrumentationSystem.bootstrap(PprofTracer())   // or PprofTracer(forwardingTo: otelTracer)

let window = Profiler.start()
try await withSpan("GET /users/:id") { span in
    span.attributes["http.route"] = "/users/:id"
    try await withSpan("db.query") { _ in try await Task.sleep(for: .milliseconds(2)) }
    Trace.scope("render") {}                       // scopes and spans share one call path
}
try window.stop().write(to: "spans.pb.gz")        // GET /users/:id;db.query, …/render, labelled
