// What one enter/exit pair costs, next to what it cannot be cheaper than: two raw counter reads.
//
// Each benchmark is the same loop of `scaledIterations` (a million) with one `blackHole` per
// iteration, so the cost of a hook pair is its loop's time per iteration minus the empty loop's.
// `swift run -c release hook-ratios` computes those differences and the ratios in one
// interleaved run; this suite adds the percentiles and the malloc counts (zero per iteration
// for every pair that uses a literal name: the hot path allocates nothing).

import Benchmark
import CBaseline
import Pprof

#if canImport(Glibc)
import Glibc
#endif

/// The window that the recording benchmarks run inside (opened in their setup, stopped in their
/// teardown), so that the hooks take their recording path. Only the benchmark thread touches it.
nonisolated(unsafe) private var window: ProfileWindow?

private func startRecording() {
    window = Profiler.start(mode: .fprof)
}

private func stopRecording() {
    _ = window?.stop()
    window = nil
}

let benchmarks: @Sendable () -> Void = {
    // A ring that no benchmark iteration can fill even if the aggregator (which drains every
    // millisecond) is kept off the CPU for a while: a dropped event is cheaper than a written
    // one and would flatter the figures. Set before the first hook, which reads it.
    setenv("PPROF_RING_EVENTS", "4194304", 0)

    // Zero allocations per iteration, at every percentile: `thresholds check` fails otherwise.
    let noAllocations = BenchmarkThresholds(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0])

    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .mega,
        maxDuration: .seconds(2),
        maxIterations: 100,
        thresholds: [.mallocCountTotal: noAllocations]
    )

    Benchmark("empty loop") { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(i)
        }
    }

    Benchmark("rdtsc pair") { benchmark in
        for _ in benchmark.scaledIterations {
            let start = CBaseline_rdtsc()
            let end = CBaseline_rdtsc()
            blackHole(end &- start)
        }
    }

    Benchmark(
        "recorded pair",
        configuration: .init(setup: startRecording, teardown: stopRecording)
    ) { benchmark in
        for i in benchmark.scaledIterations {
            let t = Trace.enter("bench")
            Trace.exit(t)
            blackHole(i)
        }
    }

    Benchmark("idle pair") { benchmark in
        for i in benchmark.scaledIterations {
            let t = Trace.enter("bench")
            Trace.exit(t)
            blackHole(i)
        }
    }

    Benchmark(
        "recorded scope",
        configuration: .init(setup: startRecording, teardown: stopRecording)
    ) { benchmark in
        for i in benchmark.scaledIterations {
            Trace.scope("bench") { blackHole(i) }
        }
    }

    // The runtime-named path takes a lock and hashes the name on every enter: slower, and
    // allowed to allocate, so it has no allocation threshold and runs a thousandth as many
    // iterations per sample.
    Benchmark(
        "named pair",
        configuration: .init(
            scalingFactor: .kilo,
            thresholds: [:],
            setup: startRecording,
            teardown: stopRecording
        )
    ) { benchmark in
        let name = "bench \(benchmark.scaledIterations.count)"
        for i in benchmark.scaledIterations {
            let t = Trace.enter(named: name)
            Trace.exit(t)
            blackHole(i)
        }
    }
}
