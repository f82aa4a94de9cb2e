// What a window and a profile's outputs cost as the call tree grows: percentiles and mallocs.
// `swift run -c release output-figures` prints the same figures as ratios and targets in one run.
//
//   swift package benchmark --target Outputs
//
// Inputs (a grown tree, a profile) are built in each benchmark's setup, outside the samples.

import Benchmark
@_spi(Benchmarks) import Pprof

/// The bytes an output came to (the same in every sample).
let outputBytes = BenchmarkMetric.custom("Output bytes", polarity: .prefersSmaller, useScalingFactor: false)

/// `1k`, `100k`, `1M`.
private func size(_ n: Int) -> String { n >= 1_000_000 ? "\(n / 1_000_000)M" : "\(n / 1_000)k" }

let benchmarks: @Sendable () -> Void = {
    // A sample is one window or one output; small inputs would give samples of microseconds,
    // which is fine for the percentiles. Each benchmark stops after 2 s (or 1000 samples).
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .automatic,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )
    let encoding = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, outputBytes],
        timeUnits: .automatic,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // A window on a grown tree: a snapshot of the counters at open, a thousand paths folded,
    // a snapshot at close and the difference built into a profile (BenchmarkSupport.Windows).
    for nodes in [1_000, 100_000, 1_000_000] {
        Benchmark("window open+close, \(size(nodes)) nodes") { benchmark, windows in
            for _ in benchmark.scaledIterations {
                blackHole(windows.openAndClose())
            }
        } setup: {
            BenchmarkSupport.Windows(nodes: nodes)
        }
    }

    // What a window's snapshot cannot be cheaper than: one copy of the counters (16 bytes a
    // node, into a new Array).
    Benchmark("counters copy, 1M nodes") { benchmark, windows in
        for _ in benchmark.scaledIterations {
            blackHole(windows.copyCounters())
        }
    } setup: {
        BenchmarkSupport.Windows(nodes: 1_000_000)
    }

    // The encoders on a profile of N call paths (fanout 8, 511 functions).
    let outputs: [(String, @Sendable (Profile) -> Int)] = [
        ("pprof()", { $0.pprof().count }),
        ("report()", { $0.report().utf8.count }),
        ("folded()", { $0.folded().utf8.count }),
    ]
    // At 1M nodes a sample takes 0.4 to 1.4 s: no warm-up, and a few samples.
    var large = encoding
    large.warmupIterations = 0
    large.maxDuration = .seconds(3)
    for nodes in [1_000, 100_000, 1_000_000] {
        for (name, output) in outputs {
            Benchmark("\(name), \(size(nodes)) nodes", configuration: nodes >= 1_000_000 ? large : encoding) {
                benchmark,
                profile in
                var bytes = 0
                for _ in benchmark.scaledIterations {
                    bytes = output(profile)
                }
                benchmark.stopMeasurement()
                benchmark.measurement(outputBytes, bytes)
            } setup: {
                BenchmarkSupport.profile(nodes: nodes)
            }
        }
    }
}
