import Pprof

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
///
/// `--memory-overhead-rounds` compares the same way PprofMemory's hooks counting against switched
/// off, with no window in either phase.
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

    /// What the rounds compare, as the lines name it: the phase without ("without") and with
    /// ("with"), and the state the summary names ("with a window open").
    struct Names {
        var off: String
        var on: String
        var state: String

        static let window = Names(off: "without", on: "with", state: "with a window open")
        static let memory = Names(off: "switched off", on: "counting", state: "with the hooks counting")
    }

    /// What an open profile window costs (`--overhead-rounds`).
    static func measureWindow(rounds: Int, seconds: Int, api: APIServer, pprofPort: Int) throws {
        try measure(rounds: rounds, seconds: seconds, api: api, names: .window) {
            try window(seconds: seconds, pprofPort: pprofPort)
        }
    }

    /// What PprofMemory's counting costs (`--memory-overhead-rounds`): the hooks counting against
    /// switched off (`MemorySwitch`), no window in either. Off, the hooks still forward every
    /// call to glibc, and the recorder stops recording (it records only for the hooks).
    static func measureMemory(rounds: Int, seconds: Int, api: APIServer) throws {
        MemorySwitch.set(counting: false)
        defer { MemorySwitch.set(counting: true) }
        try measure(rounds: rounds, seconds: seconds, api: api, names: .memory) {
            MemorySwitch.set(counting: true)
            defer { MemorySwitch.set(counting: false) }
            Clock.sleep(until: Clock.nanos() + UInt64(seconds) * 1_000_000_000)
        }
    }

    /// Alternates `rounds` rounds of `on` (which returns after about `seconds`) with as long
    /// idle, and prints each round's and the whole run's ratios, `names` naming the phases.
    static func measure(
        rounds: Int,
        seconds: Int,
        api: APIServer,
        names: Names,
        on phase: () throws -> Void
    ) throws {
        // Connections, caches and the store's first inserts settle before the first round.
        Clock.sleep(until: Clock.nanos() + 1_000_000_000)
        var without = Phase()
        var with = Phase()
        var ratios: [Double] = []
        var cpuRatios: [Double] = []
        for round in 1...rounds {
            // Half the rounds start with the "on" phase, half without: a trend within a round
            // then favours neither.
            var off = Phase()
            var on = Phase()
            if round % 2 == 1 {
                off = measured(api: api) { Clock.sleep(until: Clock.nanos() + UInt64(seconds) * 1_000_000_000) }
                on = try measured(api: api, phase)
            } else {
                on = try measured(api: api, phase)
                off = measured(api: api) { Clock.sleep(until: Clock.nanos() + UInt64(seconds) * 1_000_000_000) }
            }
            without += off
            with += on
            ratios.append(on.rate / off.rate)
            cpuRatios.append(on.efficiency / off.efficiency)
            print(
                "round \(pad(round, rounds)): \(names.off) \(Int(off.rate))/s, \(names.on) \(Int(on.rate))/s: "
                    + "\(percent(on.rate / off.rate)); per CPU second \(Int(off.efficiency)) and "
                    + "\(Int(on.efficiency)): \(percent(on.efficiency / off.efficiency))"
            )
            fflush(nil)
        }
        let sorted = ratios.sorted()
        let median = (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
        // The rounds' spread is the machine's drift more than the cost measured: say how far
        // the mean of the rounds could be from the truth (one standard error).
        let mean = ratios.reduce(0, +) / Double(ratios.count)
        let variance = ratios.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, ratios.count - 1))
        let standardError = (variance / Double(ratios.count)).squareRoot()
        print(
            "\(names.state): \(percent(with.rate / without.rate)) of the rate \(names.off), all rounds together; "
                + "mean round \(percent(mean)) ± \(percent(standardError)) (standard error), "
                + "median \(percent(median)), from \(percent(sorted.first!)) to \(percent(sorted.last!)) "
                + "(\(rounds) rounds of \(seconds) s \(names.on) and \(seconds) s \(names.off))"
        )
        // Requests per CPU second: what the "on" phase costs in CPU, which the machine's other
        // load moves far less than the rate (the share of the cores the service gets).
        let cpuSorted = cpuRatios.sorted()
        let cpuMedian = (cpuSorted[(cpuSorted.count - 1) / 2] + cpuSorted[cpuSorted.count / 2]) / 2
        print(
            "requests per CPU second \(names.state): \(percent(with.efficiency / without.efficiency)) of those "
                + "\(names.off), all rounds together; median round \(percent(cpuMedian)) "
                + "(\(Int(without.efficiency)) and \(Int(with.efficiency)) requests per CPU second)"
        )
    }

    /// The requests served, the time and the CPU time while `body` runs.
    private static func measured(api: APIServer, _ body: () throws -> Void) rethrows -> Phase {
        let start = Clock.nanos()
        let cpu = cpuNanos()
        let before = api.served.value
        try body()
        return Phase(requests: api.served.value - before, nanos: Clock.nanos() - start, cpuNanos: cpuNanos() - cpu)
    }

    /// A profile request, from sending it to receiving the whole profile: the window, and the
    /// folding and encoding after it.
    private static func window(seconds: Int, pprofPort: Int) throws {
        let target = "/debug/pprof/profile?seconds=\(seconds)"
        let answer = try HTTPGet.start(port: pprofPort, target: target).wait()
        guard answer.status == 200, answer.body.starts(with: [0x1f, 0x8b]) else {
            throw HTTPGet.Failure(description: "GET \(target) answered \(answer.status), not a profile")
        }
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
