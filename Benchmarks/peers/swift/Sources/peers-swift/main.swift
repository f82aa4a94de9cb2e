// peers-swift: the Swift half of Benchmarks/peers/run.sh.
//
// A recursive fib(n) with every call instrumented, against the same fib uninstrumented, in one
// process, in interleaved rounds (a different order each round), each figure a median over the
// rounds. The overhead per instrumented call is (instrumented time - plain time) / calls, where
// calls(n) = 2 fib(n+1) - 1 exactly.
//
// Variants (each its own out-of-line recursive function):
//   plain         fib, nothing else
//   rdtsc         two raw CRdtsc_rdtsc() per call (entry, exit), difference summed: the baseline
//   pprof         Trace.scope("fib") { ... } per call; idle (no window) and recording
//                 (Profiler.start(mode: .fprof) around each timed run)
//   withSpan      swift-distributed-tracing's withSpan("fib") { _ in ... } per call; idle with the
//                 default NoOpTracer (InstrumentationSystem not bootstrapped), recording with
//                 MinimalTracer below, bootstrapped once
//
// InstrumentationSystem.bootstrap can be called once per process, so there are two phases: the
// first (not bootstrapped) times plain, rdtsc, pprof idle, pprof recording, withSpan no-op; the
// second (MinimalTracer bootstrapped) times plain, rdtsc, pprof recording, withSpan recording.
// Each overhead is taken against the plain fib of its own phase.
//
// A recording run opens a window of its own and stops it after the timed region, so each timed
// run starts with an empty ring; fib(22) makes 57,313 calls = 114,626 events, which fit in the
// default ring of 131,072 events even if the aggregator never runs, so nothing is dropped. Drops
// are read from the window's profile and printed (a drop skips the ring write and would flatter
// the figure). Depth is n (< 64).
//
// Output: one tab-separated line per figure, for run.sh:
//   RESULT <peer> <mode> <ns per call> <plain ns per run> <instrumented ns per run> <calls> <dropped>
//
//   swift run -c release peers-swift [--n 22] [--rounds 200]

import CRdtsc
import Instrumentation
import Pprof
import Tracing

#if canImport(Glibc)
import Glibc
#endif

// MARK: Options

nonisolated(unsafe) var n = 22
nonisolated(unsafe) var rounds = 200
var arguments = CommandLine.arguments.dropFirst()
func fail(_ message: String) -> Never {
    let line = Array("peers-swift: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}
while let argument = arguments.popFirst() {
    func number() -> Int {
        guard let text = arguments.popFirst(), let value = Int(text), value > 0 else {
            fail("\(argument) needs a positive integer")
        }
        return value
    }
    switch argument {
    case "--n": n = number()
    case "--rounds": rounds = number()
    case "--help", "-h":
        print("usage: peers-swift [--n 22] [--rounds 200]")
        exit(0)
    default: fail("unknown argument \(argument)")
    }
}
if n >= 60 { fail("--n \(n): depth must stay under 64") }

// MARK: The fibs
//
// The two recursive calls are combined with `&+`; the disassembly shows both calls stay calls in
// every variant (LLVM's accumulator tail-recursion elimination would otherwise change the plain
// fib's call count: check with `objdump -d` on the symbols containing fibPlain).

nonisolated(unsafe) var rdtscTotal: UInt64 = 0

@inline(never)
func fibPlain(_ n: Int) -> Int {
    if n < 2 { return n }
    return fibPlain(n - 1) + fibPlain(n - 2)
}

@inline(never)
func fibRdtsc(_ n: Int) -> Int {
    let start = CRdtsc_rdtsc()
    let result = n < 2 ? n : fibRdtsc(n - 1) + fibRdtsc(n - 2)
    rdtscTotal &+= CRdtsc_rdtsc() &- start
    return result
}

@inline(never)
func fibPprof(_ n: Int) -> Int {
    Trace.scope("fib") {
        n < 2 ? n : fibPprof(n - 1) + fibPprof(n - 2)
    }
}

@inline(never)
func fibSpan(_ n: Int) -> Int {
    withSpan("fib") { _ in
        n < 2 ? n : fibSpan(n - 1) + fibSpan(n - 2)
    }
}

func calls(_ n: Int) -> Int {
    // calls(n) = 2 fib(n+1) - 1
    var (a, b) = (0, 1)
    for _ in 0..<(n + 1) { (a, b) = (b, a + b) }
    return 2 * a - 1
}

// MARK: A minimal in-memory tracer
//
// What a recording tracer cannot do without: each span keeps its name and start instant, and its
// end appends (name, start, end) to a preallocated ring. No ids, no attributes, no lock (the
// benchmark is single-threaded), no allocation per span in the tracer itself. The instants are
// the ones withSpan passes in: DefaultTracerClock.now (clock_gettime(CLOCK_REALTIME)).

final class SpanLog: @unchecked Sendable {
    struct Record {
        var name: String
        var start: UInt64
        var end: UInt64
    }

    let mask: Int
    let records: UnsafeMutablePointer<Record>
    var count = 0

    init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "a power of two")
        mask = capacity - 1
        records = .allocate(capacity: capacity)
        records.initialize(repeating: Record(name: "", start: 0, end: 0), count: capacity)
    }

    @inline(__always)
    func append(_ name: String, _ start: UInt64, _ end: UInt64) {
        records[count & mask] = Record(name: name, start: start, end: end)
        count &+= 1
    }
}

struct MinimalSpan: Tracing.Span {
    let context: InstrumentationContext
    let name: String
    let start: UInt64
    let log: SpanLog

    var isRecording: Bool { true }
    var operationName: String {
        get { name }
        nonmutating set {}
    }
    var attributes: SpanAttributes {
        get { [:] }
        nonmutating set {}
    }
    func setStatus(_ status: SpanStatus) {}
    func addLink(_ link: SpanLink) {}
    func addEvent(_ event: SpanEvent) {}
    func recordError<Instant: TracerInstant>(
        _ error: Error,
        attributes: SpanAttributes,
        at instant: @autoclosure () -> Instant
    ) {}
    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        log.append(name, start, instant().nanosecondsSinceEpoch)
    }
}

struct MinimalTracer: Tracer {
    let log: SpanLog

    func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> InstrumentationContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> MinimalSpan {
        MinimalSpan(context: context(), name: operationName, start: instant().nanosecondsSinceEpoch, log: log)
    }

    func forceFlush() {}
    func inject<Carrier, Inject>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Carrier == Inject.Carrier {}
    func extract<Carrier, Extract>(
        _ carrier: Carrier,
        into context: inout InstrumentationContext,
        using extractor: Extract
    )
    where Extract: Extractor, Carrier == Extract.Carrier {}
}

// MARK: Measurement

enum Variant: String, CaseIterable {
    case plain, rdtsc, pprofIdle, pprofRecording, spanNoop, spanRecording

    var peer: String {
        switch self {
        case .plain: "plain fib"
        case .rdtsc: "rdtsc pair (C shim)"
        case .pprofIdle, .pprofRecording: "swift-pprof Trace.scope"
        case .spanNoop: "swift-distributed-tracing withSpan, NoOpTracer"
        case .spanRecording: "swift-distributed-tracing withSpan, minimal in-memory tracer"
        }
    }

    var mode: String {
        switch self {
        case .plain: "-"
        case .rdtsc: "baseline"
        case .pprofIdle, .spanNoop: "idle"
        case .pprofRecording, .spanRecording: "recording"
        }
    }

    func run(_ n: Int) -> Int {
        switch self {
        case .plain: fibPlain(n)
        case .rdtsc: fibRdtsc(n)
        case .pprofIdle, .pprofRecording: fibPprof(n)
        case .spanNoop, .spanRecording: fibSpan(n)
        }
    }
}

struct Sample {
    var nanoseconds: Double
    var dropped: Int
}

func measure(_ variant: Variant) -> Sample {
    let window = variant == .pprofRecording ? Profiler.start(mode: .fprof) : nil
    let start = CRdtsc_monotonicNanos()
    let result = variant.run(n)
    let end = CRdtsc_monotonicNanos()
    CRdtsc_sink(UInt64(truncatingIfNeeded: result))
    let dropped = window.map { Int($0.stop().eventsDropped) } ?? 0
    return Sample(nanoseconds: Double(end - start), dropped: dropped)
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func format(_ value: Double, decimals: Int = 2) -> String {
    if decimals == 0 { return String(Int(value.rounded())) }
    let scale = pow(10, Double(decimals))
    var digits = String(Int((abs(value) * scale).rounded()))
    while digits.count <= decimals { digits = "0" + digits }
    digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
    return (value < 0 ? "-" : "") + digits
}

let callCount = calls(n)

/// Times the variants in interleaved rounds and prints one RESULT line per instrumented variant.
func phase(_ name: String, _ variants: [Variant]) {
    var samples: [Variant: [Double]] = [:]
    var dropped: [Variant: Int] = [:]
    for variant in variants { _ = measure(variant) }  // warm-up: registers the thread, maps the ring
    for round in 0..<rounds {
        let offset = round % variants.count
        for variant in variants[offset...] + variants[..<offset] {
            let sample = measure(variant)
            samples[variant, default: []].append(sample.nanoseconds)
            dropped[variant, default: 0] += sample.dropped
        }
    }
    let plain = median(samples[.plain]!)
    for variant in variants where variant != .plain {
        let instrumented = median(samples[variant]!)
        let perCall = (instrumented - plain) / Double(callCount)
        let fields = [
            "RESULT", "swift: \(variant.peer)", variant.mode, format(perCall, decimals: 3),
            format(plain, decimals: 0), format(instrumented, decimals: 0), String(callCount),
            String(dropped[variant] ?? 0), name,
        ]
        print(fields.joined(separator: "\t"))
    }
}

// The rdtsc pair in a loop, net of an empty loop, as Benchmarks/hook-ratios measures it: printed
// for reference (the ratios use the per-call pair inside fib, the same workload).
@inline(never)
func emptyLoop(_ count: Int) {
    for i in 0..<count { CRdtsc_sink(UInt64(truncatingIfNeeded: i)) }
}
@inline(never)
func rdtscLoop(_ count: Int) {
    for _ in 0..<count {
        let start = CRdtsc_rdtsc()
        CRdtsc_sink(CRdtsc_rdtsc() &- start)
    }
}
func loopPair() -> Double {
    var empty: [Double] = []
    var pair: [Double] = []
    let count = 60_000
    for _ in 0..<max(10, rounds / 4) {
        var t = CRdtsc_monotonicNanos()
        emptyLoop(count)
        empty.append(Double(CRdtsc_monotonicNanos() - t) / Double(count))
        t = CRdtsc_monotonicNanos()
        rdtscLoop(count)
        pair.append(Double(CRdtsc_monotonicNanos() - t) / Double(count))
    }
    return median(pair) - median(empty)
}

print("# peers-swift: fib(\(n)) = \(fibPlain(n)), \(callCount) calls per run, \(rounds) interleaved rounds")
print(["LOOPPAIR", format(loopPair(), decimals: 3)].joined(separator: "\t"))
// Phase 1: no tracer bootstrapped (withSpan goes to the NoOpTracer).
phase("phase 1", [.plain, .rdtsc, .pprofIdle, .pprofRecording, .spanNoop])
// Phase 2: the minimal in-memory tracer bootstrapped, for the rest of the process.
let log = SpanLog(capacity: 1 << 20)
InstrumentationSystem.bootstrap(MinimalTracer(log: log))
phase("phase 2", [.plain, .rdtsc, .pprofRecording, .spanRecording])
let recordedSpans = log.count
print("# minimal tracer: \(recordedSpans) spans recorded; rdtsc sum \(rdtscTotal % 10)")
