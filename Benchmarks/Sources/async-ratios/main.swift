// async-ratios: what an async scope, a label set and a tracing span cost, against a raw rdtsc
// pair and a no-op `withSpan` (the global function with nothing bootstrapped, as a library calls
// it; and `NoOpTracer().withSpan`, specialised) measured in the same run.
//
// Each loop runs in one task; its net cost is its time per iteration minus the empty async
// loop's. Loops are timed in interleaved rounds (a different order each round) and each figure
// is the median over rounds. Targets (BENCHMARKS.md): a recorded async scope costs at most half
// a no-op `withSpan`; an idle one, no more than an idle sync scope costs plus a call.
//
//   swift run -c release async-ratios [--rounds 30] [--iterations 20000]

import CBaseline
import Figures
import Pprof
import PprofTracing
import Tracing

#if canImport(Glibc)
import Glibc
#endif

var rounds = 30
var iterations = 20_000
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--rounds": rounds = arguments.popFirst().flatMap { Int($0) } ?? rounds
    case "--iterations", "-n": iterations = arguments.popFirst().flatMap { Int($0) } ?? iterations
    case "--help", "-h":
        print("usage: async-ratios [--rounds R] [--iterations N]")
        exit(0)
    default:
        print("async-ratios: unknown argument \(argument)")
        exit(2)
    }
}

let pprofTracer = PprofTracer()
let noOpTracer = NoOpTracer()

enum Loop: String, CaseIterable {
    case empty, rdtsc, syncScope, asyncScope, asyncScopeIdle, asyncNested, withLabels, asyncLabels
    case noOpSpan, globalNoOpSpan, pprofSpan, pprofSpanIdle

    var title: String {
        switch self {
        case .empty: "empty async loop"
        case .rdtsc: "rdtsc pair (C shim)"
        case .syncScope: "recorded sync scope"
        case .asyncScope: "recorded async scope"
        case .asyncScopeIdle: "idle async scope"
        case .asyncNested: "recorded async scope, nested"
        case .withLabels: "recorded withLabels (sync)"
        case .asyncLabels: "recorded withLabels (async)"
        case .noOpSpan: "NoOpTracer().withSpan"
        case .globalNoOpSpan: "withSpan, nothing bootstrapped"
        case .pprofSpan: "recorded PprofTracer withSpan"
        case .pprofSpanIdle: "idle PprofTracer withSpan"
        }
    }

    var records: Bool { ![.empty, .rdtsc, .asyncScopeIdle, .noOpSpan, .globalNoOpSpan, .pprofSpanIdle].contains(self) }
}

/// An async function that never suspends: a body must await something, or Swift picks the sync
/// overload of `Trace.scope` (and of `withLabels`), which is what such code gets.
@inline(never)
func asyncSink(_ value: Int) async {
    CBaseline_sink(UInt64(truncatingIfNeeded: value))
}

@inline(never)
func run(_ loop: Loop, _ n: Int) async {
    switch loop {
    case .empty:
        for i in 0..<n { await asyncSink(i) }
    case .rdtsc:
        for i in 0..<n {
            let start = CBaseline_rdtsc()
            CBaseline_sink(CBaseline_rdtsc() &- start)
            await asyncSink(i)
        }
    case .syncScope:
        for i in 0..<n {
            Trace.scope("bench.sync") { CBaseline_sink(UInt64(truncatingIfNeeded: i)) }
            await asyncSink(i)
        }
    case .asyncScope, .asyncScopeIdle:
        for i in 0..<n { await Trace.scope("bench.async") { await asyncSink(i) } }
    case .asyncNested:
        await Trace.scope("bench.outer") {
            for i in 0..<n { await Trace.scope("bench.async") { await asyncSink(i) } }
        }
    case .withLabels:
        let labels = ["route": "/users/{id}", "method": "GET"]
        for i in 0..<n {
            Trace.withLabels(labels) { CBaseline_sink(UInt64(truncatingIfNeeded: i)) }
            await asyncSink(i)
        }
    case .asyncLabels:
        let labels = ["route": "/users/{id}", "method": "GET"]
        for i in 0..<n { await Trace.withLabels(labels) { await asyncSink(i) } }
    case .noOpSpan:
        for i in 0..<n { await noOpTracer.withSpan("bench.span") { _ in await asyncSink(i) } }
    case .globalNoOpSpan:
        for i in 0..<n { await withSpan("bench.span") { _ in await asyncSink(i) } }
    case .pprofSpan, .pprofSpanIdle:
        for i in 0..<n { await pprofTracer.withSpan("bench.span") { _ in await asyncSink(i) } }
    }
}

func measure(_ loop: Loop, _ n: Int) async -> (Double, UInt64) {
    let window = loop.records ? Profiler.start(mode: .fprof) : nil
    let start = CBaseline_monotonicNanos()
    await run(loop, n)
    let end = CBaseline_monotonicNanos()
    let dropped = window.map { $0.stop().eventsDropped } ?? 0
    return (Double(end - start) / Double(n), dropped)
}

// Each recording loop must record what it claims: per iteration, one record for an async frame,
// an enter and an exit for a sync scope or a sync label set, nothing for an async label set.
for loop in Loop.allCases where loop.records {
    let window = Profiler.start(mode: .fprof)
    await run(loop, 1000)
    let recorded = window.stop().eventsRecorded
    print("check: \(loop.title): \(recorded) events recorded for 1000 iterations")
}

let loops = Loop.allCases
var samples: [Loop: [Double]] = [:]
var dropped: UInt64 = 0
for loop in loops { _ = await measure(loop, iterations) }
for round in 0..<rounds {
    let offset = round % loops.count
    for loop in loops[offset...] + loops[..<offset] {
        let (ns, d) = await measure(loop, iterations)
        samples[loop, default: []].append(ns)
        dropped += d
    }
}
let medians = loops.reduce(into: [Loop: Double]()) { $0[$1] = median(samples[$1]!) }
func net(_ loop: Loop) -> Double { medians[loop]! - medians[.empty]! }

print("async-ratios: \(rounds) interleaved rounds x \(iterations) iterations per loop; events dropped: \(dropped)")
print("")
print("loop                               median ns/it   net ns   / rdtsc pair   / withSpan, nothing bootstrapped")
for loop in loops {
    let n = net(loop)
    let ratios =
        loop == .empty
        ? "" : format(n / net(.rdtsc), 14, decimals: 2) + format(n / net(.globalNoOpSpan), 17, decimals: 3)
    print(pad(loop.title, 33) + format(medians[loop]!, 14) + format(loop == .empty ? 0 : n, 9) + ratios)
}
let asyncRatio = net(.asyncScope) / net(.globalNoOpSpan)
print("")
print(
    "recorded async scope / no-op withSpan (nothing bootstrapped): \(format(asyncRatio, decimals: 3)); target <= 0.5: "
        + (asyncRatio <= 0.5 ? "met" : "NOT met")
)
print("recorded async scope / NoOpTracer().withSpan: \(format(net(.asyncScope) / net(.noOpSpan), decimals: 3))")
print(
    "recorded PprofTracer span / no-op withSpan (nothing bootstrapped): \(format(net(.pprofSpan) / net(.globalNoOpSpan), decimals: 2))"
)
