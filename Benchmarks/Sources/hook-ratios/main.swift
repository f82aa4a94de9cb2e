// hook-ratios: what a Trace hook pair costs, as a ratio to a raw rdtsc pair measured in the
// same run.
//
// The loops (each one iteration = one pair and one call of an opaque sink) are timed in
// interleaved rounds with CLOCK_MONOTONIC; a loop's net cost is its time per iteration minus the
// empty loop's. Targets: recorded pair <= 1.2 x rdtsc pair, idle pair <= 0.08 x rdtsc pair.
//
//   swift run -c release hook-ratios [--rounds 30] [--iterations 2000000] [--ring 4194304]
//   swift run -c release hook-ratios --only recorded --iterations N    # one loop, for strace

import CBaseline
import CPprof
import Pprof

#if canImport(Glibc)
import Glibc
#endif

// MARK: Options

struct Options {
    var rounds = 30
    var iterations = 2_000_000
    /// Events per thread's ring; set through PPROF_RING_EVENTS unless the environment sets it.
    var ring = 4_194_304
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
            case "--only":
                let name = value(argument)
                guard let loop = Loop(rawValue: name) else {
                    fail("--only \(name): one of \(Loop.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                options.only = loop
            case "--help", "-h":
                print("usage: hook-ratios [--rounds R] [--iterations N] [--ring EVENTS] [--only LOOP]")
                exit(0)
            default: fail("unknown argument \(argument)")
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
// Out of line, so that each is one stretch of machine code to read with objdump (the symbols
// contain `emptyLoop`, `rdtscLoop`, `pairLoop`, `scopeLoop`, `namedLoop`). The recorded and the
// idle pair run the same function: only the recording flag differs.

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

@inline(never)
func scopeLoop(_ n: Int) {
    for i in 0..<n {
        Trace.scope("bench") { CBaseline_sink(UInt64(truncatingIfNeeded: i)) }
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

enum Loop: String, CaseIterable {
    case empty, rdtsc, recorded, idle, scope, named

    var title: String {
        switch self {
        case .empty: "empty loop"
        case .rdtsc: "rdtsc pair (C shim)"
        case .recorded: "recorded pair"
        case .idle: "idle pair"
        case .scope: "recorded scope"
        case .named: "named pair"
        }
    }

    var records: Bool { self == .recorded || self == .scope || self == .named }

    /// The runtime-named path takes a lock per enter: fewer iterations keep a round short.
    func iterations(_ n: Int) -> Int { self == .named ? max(1, n / 32) : n }

    func run(_ n: Int) {
        switch self {
        case .empty: emptyLoop(n)
        case .rdtsc: rdtscLoop(n)
        case .recorded, .idle: pairLoop(n)
        case .scope: scopeLoop(n)
        case .named: namedLoop(n, namedProbe)
        }
    }
}

/// A runtime name, made at run time so that it is a real String (not a literal's constant).
let namedProbe = "bench \(CommandLine.arguments.count)"

// MARK: Drops

/// The calling thread's recorder counters, read from its state block (`ThreadState` in
/// Sources/Pprof/Recorder/ThreadState.swift documents the layout: mask at 32, the dropped counter
/// at 192). `Profile.statistics` is package-internal and the public `report()` / `pprof()` are not
/// there yet; this reads the producer's own counter instead, and refuses to answer if the layout
/// does not look as documented (the mask must be the ring size we asked for).
struct RingCounters {
    let ring: Int

    /// Events this thread has dropped since it registered, or nil if that cannot be read.
    func dropped() -> Int? {
        guard let base = CPprof_getThreadState() else { return 0 }  // never recorded: nothing dropped
        let mask = base.load(fromByteOffset: 32, as: Int.self)
        guard mask == ring - 1 else { return nil }
        return base.load(fromByteOffset: 192, as: Int.self)
    }
}

// MARK: Measurement

/// Time of `n` iterations of `loop`, in nanoseconds per iteration; recording loops run inside a
/// window of their own (opened and stopped outside the timed region).
func measure(_ loop: Loop, _ n: Int, drops: inout Int?, counters: RingCounters) -> Double {
    let count = loop.iterations(n)
    var window: ProfileWindow?
    if loop.records { window = Profiler.start(mode: .fprof) }
    let before = counters.dropped()
    let start = CBaseline_monotonicNanos()
    loop.run(count)
    let end = CBaseline_monotonicNanos()
    let after = counters.dropped()
    if let window { _ = window.stop() }
    if let before, let after, drops != nil { drops! += after - before } else { drops = nil }
    return Double(end - start) / Double(count)
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func format(_ value: Double, _ width: Int = 8, _ decimals: Int = 2) -> String {
    var text = String(Int((abs(value) * pow(10, Double(decimals))).rounded()))
    while text.count <= decimals { text = "0" + text }
    text.insert(".", at: text.index(text.endIndex, offsetBy: -decimals))
    if value < 0 { text = "-" + text }
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

// MARK: Main

let options = Options.parse(CommandLine.arguments.dropFirst())
// Before the first hook or window, which reads it once.
setenv("PPROF_RING_EVENTS", String(options.ring), 0)
let ring = Int(String(cString: getenv("PPROF_RING_EVENTS"))) ?? options.ring
let counters = RingCounters(ring: ring)

if let loop = options.only {
    // One loop only, `rounds` times: for `strace -c`, whose count must not grow with N.
    var drops: Int? = 0
    var best = Double.infinity
    for _ in 0..<options.rounds {
        best = min(best, measure(loop, options.iterations, drops: &drops, counters: counters))
    }
    print("\(loop.title): \(format(best, 0)) ns per iteration (best of \(options.rounds) x \(loop.iterations(options.iterations))), dropped \(drops.map(String.init) ?? "unknown")")
    exit(0)
}

let loops: [Loop] = [.empty, .rdtsc, .recorded, .idle, .scope, .named]
var samples: [Loop: [Double]] = [:]
var recordedDrops: Int? = 0
var otherDrops: Int? = 0

// Warm-up: registers the thread, maps the ring and faults in its pages, fills the probe cache.
for loop in loops {
    var ignored: Int? = 0
    _ = measure(loop, options.iterations, drops: &ignored, counters: counters)
}

for round in 0..<options.rounds {
    // A different order each round, so that no loop always follows the same neighbour.
    let offset = round % loops.count
    for loop in loops[offset...] + loops[..<offset] {
        var drops: Int? = 0
        let ns = measure(loop, options.iterations, drops: &drops, counters: counters)
        samples[loop, default: []].append(ns)
        if loop == .recorded {
            if let d = drops, recordedDrops != nil { recordedDrops! += d } else { recordedDrops = nil }
        } else if let d = drops, otherDrops != nil {
            otherDrops! += d
        } else {
            otherDrops = nil
        }
    }
}

let medianOf = loops.reduce(into: [Loop: Double]()) { $0[$1] = median(samples[$1]!) }
let minOf = loops.reduce(into: [Loop: Double]()) { $0[$1] = samples[$1]!.min()! }

var system = utsname()
_ = uname(&system)
let machine = withUnsafeBytes(of: &system.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }

print("hook-ratios: \(options.rounds) interleaved rounds, \(options.iterations) iterations per loop and round (named: \(Loop.named.iterations(options.iterations))), ring \(ring) events, \(machine), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs")
print("")
print("loop                      median ns/it    min ns/it   net median   net min")
for loop in loops {
    let netMedian = medianOf[loop]! - medianOf[.empty]!
    let netMin = minOf[loop]! - minOf[.empty]!
    let net = loop == .empty ? "           -         -" : "\(format(netMedian, 12))\(format(netMin, 10))"
    print("\(loop.title.padding(26))\(format(medianOf[loop]!, 12))\(format(minOf[loop]!, 13))\(net)")
}

let rdtscNet = medianOf[.rdtsc]! - medianOf[.empty]!
let recordedNet = medianOf[.recorded]! - medianOf[.empty]!
let idleNet = medianOf[.idle]! - medianOf[.empty]!
let rdtscNetMin = minOf[.rdtsc]! - minOf[.empty]!
let recordedRatio = recordedNet / rdtscNet
let idleRatio = idleNet / rdtscNet
let recordedRatioMin = (minOf[.recorded]! - minOf[.empty]!) / rdtscNetMin
let idleRatioMin = (minOf[.idle]! - minOf[.empty]!) / rdtscNetMin

func verdict(_ ratio: Double, _ limit: Double) -> String { ratio <= limit ? "met" : "NOT met" }

print("")
print("recorded pair / rdtsc pair: \(format(recordedRatio, 0, 3)) (medians), \(format(recordedRatioMin, 0, 3)) (minima); target <= 1.2: \(verdict(recordedRatio, 1.2))")
print("idle pair / rdtsc pair:     \(format(idleRatio, 0, 3)) (medians), \(format(idleRatioMin, 0, 3)) (minima); target <= 0.08: \(verdict(idleRatio, 0.08))")
print("events dropped during the recorded loop: \(recordedDrops.map(String.init) ?? "unknown (ring layout changed)"); during the other recording loops: \(otherDrops.map(String.init) ?? "unknown")")

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
