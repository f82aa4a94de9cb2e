// The real recorder under load, in the suite: drops at a given producer rate, and the memory of
// registered threads. `swift run -c release drop-figures` sweeps the rate in one run.

import Benchmark
import CBaseline
@_spi(Benchmarks) import Pprof

#if canImport(Glibc)
import Glibc
#endif

let eventsDropped = BenchmarkMetric.custom("Events dropped", polarity: .prefersSmaller, useScalingFactor: false)
let eventsRecorded = BenchmarkMetric.custom("Events recorded", polarity: .prefersLarger, useScalingFactor: false)
let bytesMappedPerThread = BenchmarkMetric.custom(
    "Bytes mapped a thread",
    polarity: .prefersSmaller,
    useScalingFactor: false
)

/// A thread doing enter/exit pairs of a depth-8 path at a paced rate (or `pairs` of them flat
/// out), as drop-figures does.
final class Producer: @unchecked Sendable {
    let eventsPerSecond: Double
    let deadline: UInt64
    let pairs: Int
    var thread = pthread_t()

    init(eventsPerSecond: Double, seconds: Double, pairs: Int = .max) {
        self.eventsPerSecond = eventsPerSecond
        self.deadline = CBaseline_monotonicNanos() + UInt64(seconds * 1e9)
        self.pairs = pairs
    }

    func start() {
        pthread_create(
            &thread,
            nil,
            { raw in
                Unmanaged<Producer>.fromOpaque(raw!).takeUnretainedValue().run()
                return nil
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }

    func join() { pthread_join(thread, nil) }

    private func run() {
        let nanosPerPair = 2e9 / eventsPerSecond
        let start = CBaseline_monotonicNanos()
        let outer = Trace.enter("outer")
        var done = 0
        while done < pairs {
            let a = Trace.enter("a")
            let b = Trace.enter("b")
            let c = Trace.enter("c")
            let d = Trace.enter("d")
            let e = Trace.enter("e")
            let f = Trace.enter("f")
            let g = Trace.enter("g")
            Trace.exit(g)
            Trace.exit(f)
            Trace.exit(e)
            Trace.exit(d)
            Trace.exit(c)
            Trace.exit(b)
            Trace.exit(a)
            done += 7
            var now = CBaseline_monotonicNanos()
            if now >= deadline { break }
            let due = start + UInt64(Double(done) * nanosPerPair)
            while now < due { now = CBaseline_monotonicNanos() }
        }
        Trace.exit(outer)
    }

    /// `threads` producers inside one window; the window's profile.
    static func window(threads: Int, eventsPerSecond: Double, seconds: Double, pairs: Int = .max) -> Profile {
        let window = Profiler.start(mode: .fprof)
        let producers = (0..<threads).map { _ in
            Producer(eventsPerSecond: eventsPerSecond, seconds: seconds, pairs: pairs)
        }
        for producer in producers { producer.start() }
        for producer in producers { producer.join() }
        return window.stop()
    }
}

func recorderBenchmarks() {
    let recorder = Benchmark.Configuration(
        metrics: [.wallClock, eventsRecorded, eventsDropped],
        timeUnits: .milliseconds,
        warmupIterations: 0,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 5
    )
    // Two threads at 5 M events/s each for a second, the default ring (131072 events a
    // thread): the target is no drop. On this shared VM a window loses 1-6 % now and
    // then, when the drain thread is kept off the CPU for longer than the ring holds (26 ms).
    Benchmark("drops, 2 threads at 5 M events/s each", configuration: recorder) { benchmark in
        let profile = Producer.window(threads: 2, eventsPerSecond: 5e6, seconds: 1)
        benchmark.measurement(eventsRecorded, Int(profile.eventsRecorded))
        benchmark.measurement(eventsDropped, Int(profile.eventsDropped))
    }

    // 64 threads register (each maps its ring), record 7000 pairs and end; the peak resident
    // size of the whole benchmark process, and what each thread maps.
    var memory = recorder
    memory.metrics = [.wallClock, .peakMemoryResident, bytesMappedPerThread, eventsDropped]
    memory.maxIterations = 3
    Benchmark("memory, 64 threads registered", configuration: memory) { benchmark in
        let profile = Producer.window(threads: 64, eventsPerSecond: 1e9, seconds: 10, pairs: 7000)
        benchmark.measurement(bytesMappedPerThread, BenchmarkSupport.threadStateBytes())
        benchmark.measurement(eventsDropped, Int(profile.eventsDropped))
    }
}
