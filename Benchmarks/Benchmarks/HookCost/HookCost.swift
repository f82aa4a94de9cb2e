// What one enter/exit pair costs, next to what it cannot be cheaper than: two raw counter reads.
//
// Each benchmark is the same loop of `scaledIterations` (a million) with one `blackHole` per
// iteration, so the cost of a hook pair is its loop's time per iteration minus the empty loop's.
// `swift run -c release hook-ratios` computes those differences and the ratios in one
// interleaved run; this suite adds percentiles, the malloc counts and the drops.
//
//   swift package benchmark --target HookCost
//   swift package benchmark thresholds check --target HookCost   # no allocation per pair

import Benchmark
import CBaseline
import Pprof

/// Events the recording thread dropped during a sample (a million pairs, two events each). Must
/// be 0: a dropped event skips the ring write and would flatter the figure.
let eventsDropped = BenchmarkMetric.custom("Events dropped", polarity: .prefersSmaller, useScalingFactor: false)

/// The window the recording benchmarks run inside. Only the benchmark thread touches it.
nonisolated(unsafe) private var window: ProfileWindow?

private func stopRecording() {
    _ = window?.stop()
    window = nil
}

/// Runs `body` as one measured sample of a recording benchmark, in a window of its own, and
/// records its drops. A fresh window starts with an empty ring: a thread that does nothing but
/// hook pairs writes events faster than the aggregator folds them, so without this, samples
/// after the first would measure a full ring, that is drops.
@inline(__always)
private func recordedSample(_ benchmark: Benchmark, _ body: () -> Void) {
    stopRecording()
    let sampleWindow = Profiler.start(mode: .fprof)
    benchmark.startMeasurement()
    body()
    benchmark.stopMeasurement()
    benchmark.measurement(eventsDropped, Int(sampleWindow.stop().eventsDropped))
}

/// An async function that does not suspend: an async scope's body must await, or Swift picks the
/// sync scope.
@inline(never)
func asyncBlackHole(_ value: Int) async {
    blackHole(value)
}

let benchmarks: @Sendable () -> Void = {
    // A sample is a thousand pairs (2000 events): it fits the default ring of 131072 events even
    // if the aggregator never runs during it, so nothing is dropped, and the ring stays in the
    // caches, as it does for users (a 64 MiB ring makes every event store miss).

    // No allocation per pair: `swift package benchmark thresholds check` compares each sample's
    // malloc count (a sample is a thousand pairs) with Thresholds/HookCost.<name>.p90.json, which
    // says 0, allowing 100. The count is process-wide: the aggregator thread allocates while it
    // drains (`--allocation-stacks` shows every stack in Aggregator.drain / ThreadFolder), and
    // none on the hook's path. One allocation per pair would be a thousand per sample.
    let noAllocations = BenchmarkThresholds(absolute: [.p90: 100])

    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 5_000,
        thresholds: [.mallocCountTotal: noAllocations]
    )
    let recording = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, eventsDropped],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 5_000,
        thresholds: [.mallocCountTotal: noAllocations],
        teardown: stopRecording
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

    Benchmark("recorded pair", configuration: recording) { benchmark in
        recordedSample(benchmark) {
            for i in benchmark.scaledIterations {
                let t = Trace.enter("bench")
                Trace.exit(t)
                blackHole(i)
            }
        }
    }

    Benchmark("idle pair") { benchmark in
        for i in benchmark.scaledIterations {
            let t = Trace.enter("bench")
            Trace.exit(t)
            blackHole(i)
        }
    }

    // The documented pairing: `defer` runs the exit at the end of each iteration.
    Benchmark("recorded defer pair", configuration: recording) { benchmark in
        recordedSample(benchmark) {
            for i in benchmark.scaledIterations {
                let t = Trace.enter("bench")
                defer { Trace.exit(t) }
                blackHole(i)
            }
        }
    }

    Benchmark("recorded scope", configuration: recording) { benchmark in
        recordedSample(benchmark) {
            for i in benchmark.scaledIterations {
                Trace.scope("bench") { blackHole(i) }
            }
        }
    }

    // A label set is entered like a scope once interned: hashing the dictionary and a lock-free
    // lookup, no allocation (the same threshold as the pairs).
    Benchmark("recorded withLabels", configuration: recording) { benchmark in
        let labels = ["route": "/users/{id}", "method": "GET"]
        recordedSample(benchmark) {
            for i in benchmark.scaledIterations {
                Trace.withLabels(labels) { blackHole(i) }
            }
        }
    }

    // An async scope allocates its frame (the task-local it pushes lives in the task's own
    // allocator): about one malloc per scope, so no threshold; the count is the figure.
    var asyncRecording = recording
    asyncRecording.thresholds = [:]
    Benchmark("recorded async scope", configuration: asyncRecording) { benchmark in
        stopRecording()
        let sampleWindow = Profiler.start(mode: .fprof)
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            await Trace.scope("bench.async") { await asyncBlackHole(i) }
        }
        benchmark.stopMeasurement()
        benchmark.measurement(eventsDropped, Int(sampleWindow.stop().eventsDropped))
    }

    // The runtime-named path takes a lock and hashes the name on every enter: slower, so a
    // thousandth as many iterations per sample. No allocation threshold: it may allocate.
    var named = recording
    named.scalingFactor = .kilo
    named.thresholds = [:]
    Benchmark("named pair", configuration: named) { benchmark in
        let name = "bench \(benchmark.scaledIterations.count)"
        recordedSample(benchmark) {
            for i in benchmark.scaledIterations {
                let t = Trace.enter(named: name)
                Trace.exit(t)
                blackHole(i)
            }
        }
    }
}
