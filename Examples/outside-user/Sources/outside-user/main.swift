import Pprof

#if canImport(Glibc)
import Glibc
#endif

struct Request { var body: String }
struct ParseError: Error {}

func parse(_ body: String) throws -> [Substring] {
    guard !body.isEmpty else { throw ParseError() }
    return body.split(separator: ",")
}

func render(_ document: [Substring]) -> String {
    "[" + document.joined(separator: ";") + "]"
}

// The example of the README, as it stands.
func handle(_ request: Request) throws -> String {
    let t = Trace.enter("handle")
    defer { Trace.exit(t) }
    let document = try Trace.scope("parse") { try parse(request.body) }
    return Trace.scope("render") { render(document) }
}

// 4 threads x 1000 requests; every tenth request has an empty body, which parse rejects.
// So: handle 4000, handle;parse 4000, handle;render 3600.
func serve() {
    var threads: [pthread_t] = []
    for _ in 0..<4 {
        var thread = pthread_t()
        pthread_create(
            &thread,
            nil,
            { _ in
                var rendered = 0
                for i in 0..<1000 {
                    if let out = try? handle(Request(body: i % 10 == 0 ? "" : "a,b,c")) { rendered += out.count }
                }
                precondition(rendered == 900 * 7)
                return nil
            },
            nil
        )
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

serve()
