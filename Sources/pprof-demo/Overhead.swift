#if canImport(Glibc)
import Glibc
#endif

/// What an open profile window costs the service: its request rate while a window fetched over
/// HTTP is open, against its rate in the same length of time without one, alternating in one
/// run so that the machine's drift falls on both alike; and its requests per CPU second (the
/// process's, every thread), which says what the window costs in CPU where the machine's other
/// load moves the rate more than the window does.
///
/// ```
/// $ swift run -c release pprof-demo --port 0 --overhead-rounds 10
/// round  1: without 51234/s, with 50871/s: 99.3 %; per CPU second 29610 and 29548: 99.8 %
/// ...
/// with a window open: 98.9 % of the rate without, all rounds together; median round 99.1 %, ...
/// requests per CPU second with a window open: 99.2 % of those without, all rounds together; ...
/// ```
enum Overhead {
    struct Phase {
        var requests = 0
        var nanos: UInt64 = 0
        /// The CPU time the whole process used meanwhile (every thread, user and system).
        var cpuNanos: UInt64 = 0
        var rate: Double { nanos == 0 ? 0 : Double(requests) * 1e9 / Double(nanos) }
        /// Requests per CPU second: what the service gets for the CPU it had, which the other
        /// processes of a loaded machine change far less than the rate (a share of the cores).
        var efficiency: Double { cpuNanos == 0 ? 0 : Double(requests) * 1e9 / Double(cpuNanos) }

        static func += (a: inout Phase, b: Phase) {
            a.requests += b.requests
            a.nanos += b.nanos
            a.cpuNanos += b.cpuNanos
        }
    }

    /// The process's CPU time so far.
    static func cpuNanos() -> UInt64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func nanos(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
        return nanos(usage.ru_utime) + nanos(usage.ru_stime)
    }

    static func measure(rounds: Int, seconds: Int, api: APIServer, pprofPort: Int) throws {
        // Connections, caches and the store's first inserts settle before the first round.
        Clock.sleep(until: Clock.nanos() + 1_000_000_000)
        var without = Phase()
        var with = Phase()
        var ratios: [Double] = []
        var cpuRatios: [Double] = []
        for round in 1...rounds {
            // Half the rounds start with the window, half without: a trend within a round then
            // favours neither.
            var off = Phase()
            var on = Phase()
            if round % 2 == 1 {
                off = idle(seconds: seconds, api: api)
                on = try window(seconds: seconds, api: api, pprofPort: pprofPort)
            } else {
                on = try window(seconds: seconds, api: api, pprofPort: pprofPort)
                off = idle(seconds: seconds, api: api)
            }
            without += off
            with += on
            ratios.append(on.rate / off.rate)
            cpuRatios.append(on.efficiency / off.efficiency)
            print(
                "round \(pad(round, rounds)): without \(Int(off.rate))/s, with \(Int(on.rate))/s: "
                    + "\(percent(on.rate / off.rate)); per CPU second \(Int(off.efficiency)) and "
                    + "\(Int(on.efficiency)): \(percent(on.efficiency / off.efficiency))"
            )
            fflush(nil)
        }
        let sorted = ratios.sorted()
        let median = (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
        // The rounds' spread is the machine's drift more than the window's cost: say how far
        // the mean of the rounds could be from the truth (one standard error).
        let mean = ratios.reduce(0, +) / Double(ratios.count)
        let variance = ratios.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, ratios.count - 1))
        let standardError = (variance / Double(ratios.count)).squareRoot()
        print(
            "with a window open: \(percent(with.rate / without.rate)) of the rate without, all rounds together; "
                + "mean round \(percent(mean)) ± \(percent(standardError)) (standard error), "
                + "median \(percent(median)), from \(percent(sorted.first!)) to \(percent(sorted.last!)) "
                + "(\(rounds) rounds of \(seconds) s with and \(seconds) s without)"
        )
        // Requests per CPU second: what a window costs in CPU, which the machine's other load
        // moves far less than the rate (the share of the cores the service gets).
        let cpuSorted = cpuRatios.sorted()
        let cpuMedian = (cpuSorted[(cpuSorted.count - 1) / 2] + cpuSorted[cpuSorted.count / 2]) / 2
        print(
            "requests per CPU second with a window open: \(percent(with.efficiency / without.efficiency)) of those "
                + "without, all rounds together; median round \(percent(cpuMedian)) "
                + "(\(Int(without.efficiency)) and \(Int(with.efficiency)) requests per CPU second)"
        )
    }

    /// The rate while nothing records.
    private static func idle(seconds: Int, api: APIServer) -> Phase {
        let start = Clock.nanos()
        let cpu = cpuNanos()
        let before = api.served.value
        Clock.sleep(until: start + UInt64(seconds) * 1_000_000_000)
        return Phase(requests: api.served.value - before, nanos: Clock.nanos() - start, cpuNanos: cpuNanos() - cpu)
    }

    /// The rate from sending a profile request to receiving the whole profile: the window, and
    /// the folding and encoding after it.
    private static func window(seconds: Int, api: APIServer, pprofPort: Int) throws -> Phase {
        let start = Clock.nanos()
        let cpu = cpuNanos()
        let before = api.served.value
        let target = "/debug/pprof/profile?seconds=\(seconds)"
        let answer = try HTTPGet.start(port: pprofPort, target: target).wait()
        let phase = Phase(requests: api.served.value - before, nanos: Clock.nanos() - start, cpuNanos: cpuNanos() - cpu)
        guard answer.status == 200, answer.body.starts(with: [0x1f, 0x8b]) else {
            throw HTTPGet.Failure(description: "GET \(target) answered \(answer.status), not a profile")
        }
        return phase
    }

    private static func percent(_ ratio: Double) -> String {
        let tenths = Int((ratio * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10) %"
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let text = String(n)
        return String(repeating: " ", count: max(0, String(width).count - text.count)) + text
    }
}
