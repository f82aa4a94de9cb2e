// hook-ratios: what a Trace hook pair costs, as a ratio to a raw rdtsc pair measured in the
// same run.
//
// Every loop does one thing per iteration plus one call of an opaque C sink; its net cost is its
// time per iteration minus the empty loop's. The loops are timed in interleaved rounds (a
// different order each round) with CLOCK_MONOTONIC, and each figure is the median (and the
// minimum) over the rounds. Targets: recorded pair <= 1.2 x rdtsc pair, idle pair <= 0.08 x.
//
// A recording loop runs inside a window of its own, opened just before it and stopped just
// after it, outside the timed region: `stop()` folds what is left, so each timed batch starts
// with an empty ring. A batch (2 events per pair) fits in the default ring of 131072 events
// even if the aggregator never ran, so nothing is dropped (drops are counted and printed).
// The default ring is also what users get: a ring far larger than the caches (--ring 4194304
// is 64 MiB) makes every event store miss and adds 5-10 ns per pair.
//
// The sustained row is the opposite case: one window over --sustained-events events in a row
// (default 10M, 5M pairs), many times what the ring holds, so the aggregator folds on the other
// core while the loop runs (or, under `taskset -c 1`, on the same core, between its slices),
// and the pair pays for the ring's lines crossing between the two cores. Its drops are the
// events the aggregator did not free in time.
//
//   swift run -c release hook-ratios [--rounds 60] [--iterations 60000] [--ring 131072]
//   swift run -c release hook-ratios --sustained-events 10000000        # 0: no sustained row
//   taskset -c 1 swift run -c release hook-ratios ...                   # the aggregator on the same core
//   swift run -c release hook-ratios --only recorded --iterations N    # one loop (syscalls.sh)

import CBaseline
import CPprof
import Figures
import Pprof

#if canImport(Glibc)
import Glibc
#endif

// MARK: Options

struct Options {
    var rounds = 60
    var iterations = 60_000
    var ring = 131_072
    var sustainedEvents = 10_000_000
    var only: Loop?

    static func parse(_ arguments: ArraySlice<String>) -> Options {
        var options = Options()
        var rest = arguments
        func value(_ flag: String) -> String {
            guard let v = rest.popFirst() else { fail("\(flag) needs a value") }
            return v
        }
        func number(_ flag: String) -> Int {
            let text = value(flag)
            guard let n = Int(text), n > 0 else { fail("\(flag) \(text): not a positive integer") }
            return n
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--rounds": options.rounds = number(argument)
            case "--iterations", "-n": options.iterations = number(argument)
            case "--ring": options.ring = number(argument)
            case "--sustained-events":
                let text = value(argument)
                guard let n = Int(text), n >= 0 else { fail("\(argument) \(text): not a count") }
                options.sustainedEvents = n
            case "--only":
                let name = value(argument)
                guard let loop = Loop(rawValue: name) else {
                    fail("--only \(name): one of \(Loop.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                options.only = loop
            case "--help", "-h":
                print(
                    """
                    usage: hook-ratios [--rounds R] [--iterations N] [--ring EVENTS] [--only LOOP]
                      --rounds      interleaved rounds (default 60)
                      --iterations  iterations per loop and round (default 60000; named: N/32)
                      --ring        PPROF_RING_EVENTS, unless the environment sets it (default 131072)
                      --sustained-events  events in one window of the sustained row (default 10000000; 0: none)
                      --only        run one loop only: \(Loop.allCases.map(\.rawValue).joined(separator: ", "))
                    """
                )
                exit(0)
            default: fail("unknown argument \(argument) (--help lists them)")
            }
        }
        return options
    }
}

func fail(_ message: String) -> Never {
    let line = Array("hook-ratios: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

// MARK: The loops
//
// Out of line, so that each is one stretch of machine code to read with objdump (their symbols
// contain emptyLoop, rdtscLoop, pairLoop, deferLoop, scopeLoop, namedLoop). The recorded and the
// idle pair run the same function, and so do the recorded and the idle scope: only the recording
// flag differs. The idle scope has the sink between its enter and its exit, as real code has
// work there; the idle pair has nothing between them, which lets the optimizer merge what the
// two hooks do to the same thread-local counter. The sink is an out-of-line C
// function, so the optimizer must assume it reads and writes every global, the flag included.

@inline(never)
func emptyLoop(_ n: Int) {
    for i in 0..<n {
        CBaseline_sink(UInt64(truncatingIfNeeded: i))
    }
}

@inline(never)
func rdtscLoop(_ n: Int) {
    for _ in 0..<n {
        let start = CBaseline_rdtsc()
        let end = CBaseline_rdtsc()
        CBaseline_sink(end &- start)
    }
}

@inline(never)
func pairLoop(_ n: Int) {
    for i in 0..<n {
        let t = Trace.enter("bench")
        Trace.exit(t)
        CBaseline_sink(UInt64(truncatingIfNeeded: i))
    }
}

/// The documented way to pair them: `defer` runs the exit at the end of each iteration.
@inline(never)
func deferLoop(_ n: Int) {
    for i in 0..<n {
        let t = Trace.enter("bench")
        defer { Trace.exit(t) }
        CBaseline_sink(UInt64(truncatingIfNeeded: i))
    }
}

@inline(never)
func scopeLoop(_ n: Int) {
    for i in 0..<n {
        Trace.scope("bench") { CBaseline_sink(UInt64(truncatingIfNeeded: i)) }
    }
}

/// The scope without a name (named after this function at registration): the same hot path.
@inline(never)
func unnamedScopeLoop(_ n: Int) {
    for i in 0..<n {
        Trace.scope { CBaseline_sink(UInt64(truncatingIfNeeded: i)) }
    }
}

@inline(never)
func namedLoop(_ n: Int, _ name: String) {
    for i in 0..<n {
        let t = Trace.enter(named: name)
        Trace.exit(t)
        CBaseline_sink(UInt64(truncatingIfNeeded: i))
    }
}

/// A runtime name, made at run time so that it is a real String and not a literal's constant.
let runtimeName = "bench \(CommandLine.arguments.count)"

enum Loop: String, CaseIterable {
    case empty, rdtsc, recorded, counted, sustained, idle, idleScope, deferred, scope, unnamedScope, named

    var title: String {
        switch self {
        case .empty: "empty loop"
        case .rdtsc: "rdtsc pair (C shim)"
        case .recorded: "recorded pair"
        case .counted: "counted pair (cprof)"
        case .sustained: "recorded, sustained"
        case .idle: "idle pair"
        case .idleScope: "idle scope"
        case .deferred: "recorded defer pair"
        case .scope: "recorded scope"
        case .unnamedScope: "unnamed scope"
        case .named: "named pair"
        }
    }

    var records: Bool { ![.empty, .rdtsc, .idle, .idleScope].contains(self) }

    /// The runtime-named path takes a lock per enter: fewer iterations keep a round short.
    func iterations(_ n: Int) -> Int {
        switch self {
        case .named: max(1, n / 32)
        case .sustained: max(1, sustainedPairs)
        default: n
        }
    }

    func run(_ n: Int) {
        switch self {
        case .empty: emptyLoop(n)
        case .rdtsc: rdtscLoop(n)
        case .recorded, .counted, .idle, .sustained: pairLoop(n)
        case .deferred: deferLoop(n)
        case .scope, .idleScope: scopeLoop(n)
        case .unnamedScope: unnamedScopeLoop(n)
        case .named: namedLoop(n, runtimeName)
        }
    }
}

// MARK: Measurement

struct Measurement {
    /// Nanoseconds per iteration.
    var nanoseconds: Double
    /// The thread's CPU nanoseconds per iteration: without the time it was off its core (the
    /// machine's other processes; under `taskset`, the aggregator).
    var cpuNanoseconds: Double
    /// Events dropped during the timed loop; nil if the counter could not be read.
    var dropped: Int?
    /// The recording flag inside the window (2 = TSC clock, 3 = CLOCK_MONOTONIC), 0 outside.
    var flag: UInt8
}

func measure(_ loop: Loop, _ n: Int) -> Measurement {
    let count = loop.iterations(n)
    // The counted pair is what every hook costs while PprofMemory keeps recording on and no
    // window asks for the clock: cprof mode.
    let window = loop.records ? Profiler.start(mode: loop == .counted ? .cprof : .fprof) : nil
    let flag = CPprof_mode()
    let cpuStart = CBaseline_threadCPUNanos()
    let start = CBaseline_monotonicNanos()
    loop.run(count)
    let end = CBaseline_monotonicNanos()
    let cpuEnd = CBaseline_threadCPUNanos()
    let dropped = window.map { Int($0.stop().eventsDropped) }
    return Measurement(
        nanoseconds: Double(end - start) / Double(count),
        cpuNanoseconds: Double(cpuEnd - cpuStart) / Double(count),
        dropped: dropped,
        flag: flag
    )
}

func describe(_ dropped: Int?) -> String { dropped.map(String.init) ?? "-" }

// MARK: Main

let options = Options.parse(CommandLine.arguments.dropFirst())
// A ring that holds a whole timed batch even if the aggregator never runs during it, so nothing
// is dropped (drops skip the ring write and would change the figure). Set before the first hook.
setenv("PPROF_RING_EVENTS", String(options.ring), 0)
let ringEvents = getenv("PPROF_RING_EVENTS").flatMap { Int(String(cString: $0)) } ?? options.ring
/// Pairs in one window of the sustained row (two events each).
let sustainedPairs = options.sustainedEvents / 2

if let loop = options.only {
    var best = Double.infinity
    var dropped: Int? = 0
    for _ in 0..<options.rounds {
        let m = measure(loop, options.iterations)
        best = min(best, m.nanoseconds)
        dropped = dropped.flatMap { d in m.dropped.map { d + $0 } }
    }
    print(
        "\(loop.title): \(format(best)) ns per iteration (best of \(options.rounds) x "
            + "\(loop.iterations(options.iterations))), dropped \(describe(dropped))"
    )
    exit(0)
}

let loops = Loop.allCases.filter { $0 != .sustained || sustainedPairs > 0 }
var samples: [Loop: [Double]] = [:]
var cpuSamples: [Loop: [Double]] = [:]
var dropped: [Loop: Int?] = [:]
var flag: UInt8 = 0

// Warm-up: registers the thread, maps the ring and faults its pages in, fills the probe cache.
for loop in loops { _ = measure(loop, options.iterations) }

for round in 0..<options.rounds {
    let offset = round % loops.count
    for loop in loops[offset...] + loops[..<offset] {
        let m = measure(loop, options.iterations)
        samples[loop, default: []].append(m.nanoseconds)
        cpuSamples[loop, default: []].append(m.cpuNanoseconds)
        let sofar = dropped[loop] ?? 0
        dropped[loop] = sofar.flatMap { d in m.dropped.map { d + $0 } }
        if loop == .recorded { flag = m.flag }
    }
}

let medians = loops.reduce(into: [Loop: Double]()) { $0[$1] = median(samples[$1]!) }
let minima = loops.reduce(into: [Loop: Double]()) { $0[$1] = samples[$1]!.min()! }
let cpuMedians = loops.reduce(into: [Loop: Double]()) { $0[$1] = median(cpuSamples[$1]!) }
func net(_ loop: Loop, _ table: [Loop: Double]) -> Double { table[loop]! - table[.empty]! }

var system = utsname()
_ = uname(&system)
let machine = withUnsafeBytes(of: &system.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
let clock =
    switch flag {
    case 2: "tsc"
    case 3: "CLOCK_MONOTONIC (not the TSC: the ratio compares different clocks)"
    default: "flag \(flag)"
    }

/// The CPUs this process may run on (`taskset` narrows them), from /proc/self/status.
func allowedCPUs() -> String {
    guard let file = fopen("/proc/self/status", "r") else { return "?" }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("Cpus_allowed_list:") {
            return String(text.dropFirst("Cpus_allowed_list:".count).filter { !$0.isWhitespace })
        }
    }
    return "?"
}

print(
    "hook-ratios: \(options.rounds) interleaved rounds x \(options.iterations) iterations per loop "
        + "(named: \(Loop.named.iterations(options.iterations)); sustained: \(sustainedPairs) pairs in one window); "
        + "ring \(ringEvents) events; "
        + "recorder clock \(clock); \(machine), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs, "
        + "running on CPUs \(allowedCPUs())"
)
print("")
print("loop                  median ns/it   min ns/it   net median    net min   cpu median    dropped")
for loop in loops {
    let nets =
        loop == .empty ? "           -          -" : format(net(loop, medians), 13) + format(net(loop, minima), 11)
    let drops = loop.records ? describe(dropped[loop] ?? 0) : "-"
    print(
        pad(loop.title, 20) + format(medians[loop]!, 14) + format(minima[loop]!, 12) + nets
            + format(cpuMedians[loop]!, 13) + "    " + drops
    )
}

let recordedRatio = net(.recorded, medians) / net(.rdtsc, medians)
let idleRatio = net(.idle, medians) / net(.rdtsc, medians)
let recordedRatioMin = net(.recorded, minima) / net(.rdtsc, minima)
let idleRatioMin = net(.idle, minima) / net(.rdtsc, minima)
let idleScopeRatio = net(.idleScope, medians) / net(.rdtsc, medians)
let idleScopeRatioMin = net(.idleScope, minima) / net(.rdtsc, minima)
func verdict(_ ratio: Double, _ limit: Double) -> String { ratio <= limit ? "met" : "NOT met" }

print("")
print(
    "recorded pair / rdtsc pair: \(format(recordedRatio, decimals: 3)) (medians), "
        + "\(format(recordedRatioMin, decimals: 3)) (minima); target <= 1.2: \(verdict(recordedRatio, 1.2))"
)
print(
    "idle pair / rdtsc pair:     \(format(idleRatio, decimals: 3)) (medians), "
        + "\(format(idleRatioMin, decimals: 3)) (minima); target <= 0.08: \(verdict(idleRatio, 0.08))"
)
print(
    "idle scope / rdtsc pair:    \(format(idleScopeRatio, decimals: 3)) (medians), "
        + "\(format(idleScopeRatioMin, decimals: 3)) (minima); target <= 0.08: \(verdict(idleScopeRatio, 0.08))"
)
print(
    "counted pair / rdtsc pair:  \(format(net(.counted, medians) / net(.rdtsc, medians), decimals: 3)) (medians): "
        + "what each hook costs while PprofMemory keeps recording on (cprof, no clock) and no window is open"
)
print("events dropped during the recorded loop: \(describe(dropped[.recorded] ?? 0))")
if sustainedPairs > 0 {
    let ratio = net(.sustained, medians) / net(.rdtsc, medians)
    let ratioMin = net(.sustained, minima) / net(.rdtsc, minima)
    let events = options.rounds * 2 * sustainedPairs
    let lost = dropped[.sustained].flatMap { $0 }
    let share = lost.map { format(100 * Double($0) / Double(events), decimals: 3) + " %" } ?? "-"
    print(
        "sustained pair / rdtsc pair: \(format(ratio, decimals: 3)) (medians), "
            + "\(format(ratioMin, decimals: 3)) (minima); / burst pair: "
            + "\(format(net(.sustained, medians) / net(.recorded, medians), decimals: 3)) (medians); "
            + "dropped \(describe(lost)) of \(events) events (\(share))"
    )
    // The thread's own CPU time leaves out the slices the machine's other processes took from
    // it, which a 100 ms loop on a loaded machine always loses and a 1 ms one mostly does not.
    print(
        "sustained pair / rdtsc pair, thread CPU time: "
            + "\(format(net(.sustained, cpuMedians) / net(.rdtsc, cpuMedians), decimals: 3)) (medians); / burst pair: "
            + "\(format(net(.sustained, cpuMedians) / net(.recorded, cpuMedians), decimals: 3))"
    )
}
