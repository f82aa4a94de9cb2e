// aggregator-figures: how fast the aggregator folds events into the call tree, on one core, for
// the shapes the issue names, next to the cost of merely reading the same events.
//
//   swift run -c release aggregator-figures [--rounds 5]

import CBaseline
import Figures
@_spi(Benchmarks) import Pprof

#if canImport(Glibc)
import Glibc
#endif

var rounds = 5
var only: String?
var csv = false
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--rounds": rounds = Int(arguments.popFirst() ?? "") ?? rounds
    case "--only": only = arguments.popFirst()
    case "--csv": csv = true
    default:
        print("usage: aggregator-figures [--rounds N] [--only TEXT] [--csv]   (TEXT: part of a shape's name)")
        exit(2)
    }
}

typealias Stream = BenchmarkSupport.EventStream

func seconds(_ body: () -> Void) -> Double {
    let start = CBaseline_monotonicNanos()
    body()
    return Double(CBaseline_monotonicNanos() - start) / 1e9
}

/// A workload: its stream is made when it is measured and dropped after, so that one shape's
/// memory does not weigh on the next.
struct Shape {
    var name: String
    var threads: Int = 1
    var make: () -> Stream
}

let events = 1 << 22
let standard: [Shape] =
    [
        Shape(name: "shallow (depth 2, fanout 4)") { .balancedTree(depth: 2, fanout: 4, events: events) },
        Shape(name: "depth 8 (fanout 2)") { .balancedTree(depth: 8, fanout: 2, events: events) },
        Shape(name: "deep chain (depth 64)") { .chain(depth: 64, events: events) },
        // A tree of 1.4M nodes walked depth-first, as a program's loops walk their paths: each
        // event's node is near the last one's in memory.
        Shape(name: "depth-first, 1.4M-node tree") { .balancedTree(depth: 10, fanout: 4, events: events * 4) },
        // Paths drawn at random among 1M leaves: every enter at the leaves is a cache miss, the
        // worst case a tree of that size can meet.
        Shape(name: "random paths, 1M-node tree") { .randomPaths(fanout: 16, depth: 5, events: events * 4) },
    ]
    + [1, 2, 8, 64].map { threads in
        Shape(name: "depth 8, \(threads) threads", threads: threads) {
            .balancedTree(depth: 8, fanout: 2, events: events)
        }
    }

/// With --csv: the cost per event against the tree's size (two ways of walking it) and against
/// the number of threads, as `shape,threads,nodes,ns` lines for Benchmarks/plots/plot.py.
let sweep: [Shape] =
    [2, 3, 4, 5].map { depth in
        Shape(name: "random") { .randomPaths(fanout: 16, depth: depth, events: events * 2) }
    }
    + [5, 7, 8, 9, 10].map { depth in
        Shape(name: "depth-first") { .balancedTree(depth: depth, fanout: 4, events: events * 2) }
    }
    + [1, 2, 4, 8, 16, 32, 64].map { threads in
        Shape(name: "threads", threads: threads) { .balancedTree(depth: 8, fanout: 2, events: events) }
    }

let shapes = csv ? sweep : standard

if csv {
    print("shape,threads,nodes,ns")
} else {
    print("events folded per second on one core into a grown tree (best of \(rounds) rounds)")
}
for shape in shapes where only.map({ shape.name.contains($0) }) ?? true {
    var stream = shape.make()
    var rates: [Double] = []
    var readRates: [Double] = []
    var nodes = 0
    for _ in 0..<rounds {
        let folding = BenchmarkSupport.Folding(threads: shape.threads)
        // Threads take turns in drains of 4096 events, as the aggregator's drain visits rings.
        let chunk = 4096
        let total = stream.count
        func foldAll() {
            var start = 0
            while start < total {
                let end = min(start + chunk, total)
                for thread in 0..<shape.threads {
                    folding.fold(stream, thread: thread, range: start..<end)
                }
                start = end
            }
        }
        // The first pass grows the tree; the timed one folds into the grown tree, as the
        // aggregator does once a program's paths have all been seen.
        foldAll()
        // The second pass's timestamps must come after the first's, or no own time is charged.
        stream.advanceClock()
        let elapsed = seconds(foldAll)
        rates.append(Double(total * shape.threads) / elapsed)
        nodes = folding.nodes
        let readElapsed = seconds { CBaseline_sink(stream.checksum()) }
        readRates.append(Double(total) / readElapsed)
    }
    // The best round: on a shared VM a round is only ever slowed by others, never sped up.
    let rate = rates.max()!
    let read = readRates.max()!
    if csv {
        print("\(shape.name),\(shape.threads),\(nodes),\(format(1e9 / rate, 0, decimals: 3))")
        continue
    }
    print(
        "  \(pad(shape.name, 30)) \(format(rate / 1e6, 7, decimals: 1)) M/s  \(format(1e9 / rate, 5)) ns/event"
            + "  (reading alone: \(format(1e9 / read, 5)) ns)  tree: \(nodes) nodes"
    )
}
