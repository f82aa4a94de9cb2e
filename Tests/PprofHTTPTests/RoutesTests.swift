import NIOHTTP1
import PprofHTTP
import Testing

/// The routes called directly, without a socket: what the request fuzzer (`Fuzz/`) found.
struct RoutesTests {
    /// `maxSeconds: .max` once let `seconds=9223372036854775807` through to `Task.sleep`, which
    /// traps on a deadline past Int64.max seconds: any client could crash the program
    /// (`Fuzz/corpus/request/crash-seconds-int-max`). The cap is now a year.
    @Test func unboundedMaxSecondsIsCappedAtAYear() async {
        #expect(PprofServer(maxSeconds: .max).maxSeconds == 366 * 86_400)
        let routes = Routes(maxSeconds: .max, token: nil, windows: WindowLimit(limit: 1), maxTraceEvents: 10)
        for endpoint in ["profile", "trace"] {
            let response = await routes.respond(
                method: .GET,
                uri: "/debug/pprof/\(endpoint)?seconds=9223372036854775807",
                headers: [:]
            ) { duration in
                Issue.record("a window of \(duration) was opened")
                return false
            }
            #expect(response.status == .badRequest)
            #expect(
                String(decoding: response.body, as: UTF8.self)
                    == "seconds must be from 1 to 31622400, not 9223372036854775807\n"
            )
        }
    }
}
