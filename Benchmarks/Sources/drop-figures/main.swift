// drop-figures: at what rate producer threads can record before their rings overflow, with the
// real recorder: threads paced to a given number of events per second each, for a few seconds,
// inside one window, with the default ring (131072 events a thread) unless told otherwise.
//
//   swift run -c release drop-figures [--threads 2] [--seconds 2] [--rates 1,2,5,10,20,40]
//
// Each thread does enter/exit pairs of a depth-8 path (an outer scope held open, seven more
// nested each time), spinning between pairs until its schedule says the next is due; a rate
// above what a thread can produce runs flat out and says so.

import CBaseline
import Figures
import Pprof

#if canImport(Glibc)
import Glibc
#endif

var threads = 2
var seconds = 2.0
var rates: [Double] = [1, 2, 5, 10, 20, 40, 80]
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--threads": threads = Int(arguments.popFirst() ?? "") ?? threads
    case "--seconds": seconds = Double(arguments.popFirst() ?? "") ?? seconds
    case "--rates": rates = (arguments.popFirst() ?? "").split(separator: ",").compactMap { Double($0) }
    default:
        print("usage: drop-figures [--threads N] [--seconds S] [--rates M1,M2,...]   (M: million events/s a thread)")
        exit(2)
    }
}

/// One producer: pairs at `rate` events per second until `deadline`.
final class Producer: @unchecked Sendable {
    let eventsPerSecond: Double
    let deadline: UInt64
    var events = 0
    var thread = pthread_t()

    init(eventsPerSecond: Double, deadline: UInt64) {
        self.eventsPerSecond = eventsPerSecond
        self.deadline = deadline
    }

    /// Runs `run()` on a thread of its own. (Here, not in the top-level code, whose closures
    /// would be the main actor's and trap on another thread.)
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

    func run() {
        let nanosPerPair = 2e9 / eventsPerSecond
        let start = CBaseline_monotonicNanos()
        let outer = Trace.enter("outer")
        var pairs = 0.0
        while true {
            // Seven nested pairs: 14 events, then wait until they are due.
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
            pairs += 7
            let due = start + UInt64(pairs * nanosPerPair)
            var now = CBaseline_monotonicNanos()
            if now >= deadline { break }
            while now < due { now = CBaseline_monotonicNanos() }
        }
        Trace.exit(outer)
        events = Int(pairs) * 2 + 2
    }
}

print(
    "\(threads) producer threads, \(format(seconds, 0, decimals: 1)) s each rate, default ring unless PPROF_RING_EVENTS is set"
)
print("\(pad("asked (M events/s a thread)", 30)) \(pad("achieved", 10)) \(pad("recorded", 12)) \(pad("dropped", 10))")
for rate in rates {
    let window = Profiler.start(mode: .fprof)
    let deadline = CBaseline_monotonicNanos() + UInt64(seconds * 1e9)
    let producers = (0..<threads).map { _ in Producer(eventsPerSecond: rate * 1e6, deadline: deadline) }
    for producer in producers { producer.start() }
    for producer in producers { pthread_join(producer.thread, nil) }
    let profile = window.stop()
    let produced = producers.reduce(0) { $0 + $1.events }
    let achieved = Double(produced) / Double(threads) / seconds / 1e6
    print(
        "\(pad(format(rate, 0, decimals: 0), 30)) \(pad(format(achieved, 0, decimals: 1), 10))"
            + " \(pad(String(profile.eventsRecorded), 12)) \(pad(String(profile.eventsDropped), 10))"
    )
}
