import Pprof

let window = Profiler.start()
for route in ["/users/:id", "/search", "/users/:id"] {
    Trace.withLabels(["route": route]) {
        Trace.scope("handle") { Trace.scope("render") {} }
    }
}
try window.stop().write(to: "labels.pb.gz")
// go tool pprof -tagfocus=route=/search -top labels.pb.gz    # only the /search samples
// go tool pprof -tags labels.pb.gz                           # the label values and their share
