// How fast the aggregator folds events into a grown call tree, on one core: percentiles, the
// fold rate and mallocs. `swift run -c release aggregator-figures` prints the rates in one run.
//
//   swift package benchmark --target Aggregation
//   swift package benchmark thresholds check --target Aggregation   # no allocation per fold
//
// Each benchmark's setup generates its stream (BenchmarkSupport.EventStream: ~4M events, 64 MB;
// the random one 16M) and folds it once into a fresh tree, which grows the tree; a sample is one
// more pass of the whole stream into that grown tree, as the aggregator folds once a program's
// paths have all been seen. Between samples, outside the measurement, the stream's timestamps
// are moved past its last one, so every pass continues in time and charges own time.

import Benchmark
import CBaseline
@_spi(Benchmarks) import Pprof

/// Events folded per second in a sample (its events over its own clock reads).
let foldRate = BenchmarkMetric.custom("Events folded (per s)", polarity: .prefersLarger, useScalingFactor: false)

/// A stream and the tree it grew: one benchmark's state.
private final class Shape: @unchecked Sendable {
    var stream: BenchmarkSupport.EventStream
    let folding: BenchmarkSupport.Folding
    let threads: Int
    /// Whether the pass goes in chunks of 4096 events per thread (nil: the whole stream at once).
    let chunk: Int?

    init(_ stream: BenchmarkSupport.EventStream, threads: Int, chunk: Int?) {
        self.stream = stream
        self.threads = threads
        self.chunk = chunk
        folding = BenchmarkSupport.Folding(threads: threads)
        foldAll()
        self.stream.advanceClock()
    }

    /// One pass: each thread folds the whole stream, at once, or taking turns in chunks as the
    /// aggregator's drain visits rings.
    func foldAll() {
        let total = stream.count
        guard let chunk else {
            folding.fold(stream)
            return
        }
        var start = 0
        while start < total {
            let end = min(start + chunk, total)
            for thread in 0..<threads {
                folding.fold(stream, thread: thread, range: start..<end)
            }
            start = end
        }
    }

    var events: Int { stream.count * threads }
}

/// One sample: a pass into the grown tree, then (unmeasured) the clock moved on.
private func sample(_ benchmark: Benchmark, _ shape: Shape) {
    benchmark.startMeasurement()
    let start = CBaseline_monotonicNanos()
    shape.foldAll()
    let elapsed = CBaseline_monotonicNanos() - start
    benchmark.stopMeasurement()
    shape.stream.advanceClock()
    benchmark.measurement(foldRate, Int(Double(shape.events) * 1e9 / Double(max(elapsed, 1))))
}

let benchmarks: @Sendable () -> Void = {
    // Folding into a grown tree allocates nothing: Thresholds/Aggregation.<name>.p90.json say 0
    // mallocs per sample (a pass of millions of events), allowing 10. A new node or a deeper
    // stack would allocate, but the tree and the stacks have grown in setup.
    let noAllocations = BenchmarkThresholds(absolute: [.p90: 10])
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, foldRate],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 100,
        thresholds: [.mallocCountTotal: noAllocations]
    )

    let events = 1 << 22
    let shapes: [(String, Int, Int?, () -> BenchmarkSupport.EventStream)] =
        [
            ("shallow (depth 2, fanout 4)", 1, nil, { .balancedTree(depth: 2, fanout: 4, events: events) }),
            ("depth 8 (fanout 2)", 1, nil, { .balancedTree(depth: 8, fanout: 2, events: events) }),
            ("deep chain (depth 64)", 1, nil, { .chain(depth: 64, events: events) }),
            // A tree of 1.4M nodes walked depth-first: each event's node is near the last one's.
            ("depth-first, 1.4M-node tree", 1, nil, { .balancedTree(depth: 10, fanout: 4, events: events) }),
            // Paths drawn at random among 1M leaves: every enter at the leaves misses the cache.
            ("random paths, 1M-node tree", 1, nil, { .randomPaths(fanout: 16, depth: 5, events: events * 4) }),
        ]
        // Threads taking turns in chunks of 4096 events, as aggregator-figures does; each folds
        // a depth-8 stream of 4M / threads events, so that a sample is ~4M events whatever the
        // count.
        + [1, 2, 8, 64].map { threads in
            let stream: () -> BenchmarkSupport.EventStream = {
                .balancedTree(depth: 8, fanout: 2, events: events / threads)
            }
            return ("depth 8, \(threads) threads", threads, 4096, stream)
        }

    for (name, threads, chunk, makeStream) in shapes {
        Benchmark("fold \(name)") { benchmark, shape in
            sample(benchmark, shape)
        } setup: {
            Shape(makeStream(), threads: threads, chunk: chunk)
        }
    }

    recorderBenchmarks()
}
