// output-figures: what a window and a profile's outputs cost as the call tree grows, and what
// the profiler keeps in memory, in one run, with the targets of issue 4.
//
//   swift run -c release output-figures [--rounds 5] [--only windows|encoding|memory]
//
// - windows: opening and closing one window on a tree of 1k to 1M nodes (two snapshots of the
//   counters, a thousand paths folded between them, the difference built into a profile),
//   next to copying the tree's counters once (an Array of 16 bytes a node: what one snapshot
//   cannot be cheaper than);
// - encoding: `pprof()` (gzipped protobuf, split into building the message and gzipping it),
//   `report()` and `folded()` for profiles of 1k, 100k and 1M call paths, with their sizes;
// - memory: the block mapped for each registered thread, and the call tree's bytes per node.

import CBaseline
import Figures
@_spi(Benchmarks) import Pprof

#if canImport(Glibc)
import Glibc
#endif

var rounds = 5
var only: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--rounds": rounds = max(1, Int(arguments.popFirst() ?? "") ?? rounds)
    case "--only": only = arguments.popFirst()
    default:
        print("usage: output-figures [--rounds N] [--only windows|encoding|memory]")
        exit(2)
    }
}

@MainActor func wanted(_ section: String) -> Bool { only.map { section.contains($0) } ?? true }

/// Seconds `body` takes, run `repetitions` times, per run.
func seconds(_ repetitions: Int = 1, _ body: () -> Void) -> Double {
    let start = CBaseline_monotonicNanos()
    for _ in 0..<repetitions { body() }
    return Double(CBaseline_monotonicNanos() - start) / 1e9 / Double(repetitions)
}

/// A duration in milliseconds, right-aligned.
func ms(_ seconds: Double, _ width: Int = 9) -> String { format(seconds * 1e3, width, decimals: 3) }

/// A duration in microseconds, right-aligned.
func us(_ seconds: Double, _ width: Int = 9) -> String { format(seconds * 1e6, width, decimals: 1) }

/// `1k`, `100k`, `1M`.
func size(_ n: Int) -> String { n >= 1_000_000 ? "\(n / 1_000_000)M" : n >= 1_000 ? "\(n / 1_000)k" : "\(n)" }

func bytes(_ n: Int) -> String {
    n >= 1 << 20
        ? format(Double(n) / Double(1 << 20), 0, decimals: 2) + " MiB"
        : n >= 1 << 10 ? format(Double(n) / 1024, 0, decimals: 1) + " KiB" : "\(n) B"
}

struct Target {
    var name: String
    var limit: Double
    var best: Double
    var median: Double
}
var targets: [Target] = []

print("output-figures: \(rounds) rounds; times are best / median over the rounds")

// MARK: Windows

var windows: [Int: BenchmarkSupport.Windows] = [:]
if wanted("windows") || wanted("memory") {
    for nodes in [1_000, 10_000, 100_000, 1_000_000] {
        windows[nodes] = BenchmarkSupport.Windows(nodes: nodes)
    }
}

if wanted("windows") {
    print("")
    print("windows: open + close one window (a thousand calls folded in it), µs; ratios of the medians")
    print("baselines: copying the tree's counters (16 bytes a node) once, into a new Array as a snapshot")
    print("does (allocation and first touch of its pages included), and into a buffer touched before (a")
    print("memcpy alone)")
    print(
        "  \(pad("nodes", 6)) \(pad("      best", 10)) \(pad("    median", 10)) \(pad("  Array copy", 18))"
            + " \(pad("    memcpy", 18)) ns/node"
    )
    for nodes in [1_000, 10_000, 100_000, 1_000_000] {
        let w = windows[nodes]!
        // Small trees repeat the window inside a round, so that a round lasts a few milliseconds.
        let repetitions = max(1, 200_000 / nodes)
        w.openAndClose()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: w.counterBytes, alignment: 64)
        defer { buffer.deallocate() }
        w.copyCounters(into: buffer)
        var open: [Double] = []
        var copy: [Double] = []
        var memcpy: [Double] = []
        for _ in 0..<rounds {
            open.append(seconds(repetitions) { CBaseline_sink(UInt64(w.openAndClose())) })
            copy.append(seconds(repetitions) { CBaseline_sink(UInt64(w.copyCounters())) })
            memcpy.append(seconds(repetitions) { w.copyCounters(into: buffer) })
        }
        print(
            "  \(pad(size(w.nodes), 6)) \(us(open.min()!, 10)) \(us(median(open), 10))"
                + " \(us(median(copy), 10)) \(format(median(open) / median(copy), 6, decimals: 1))x"
                + " \(us(median(memcpy), 10)) \(format(median(open) / median(memcpy), 6, decimals: 1))x"
                + " \(format(median(open) * 1e9 / Double(w.nodes), 8, decimals: 1))"
        )
        if nodes == 1_000_000 {
            targets.append(
                Target(name: "window open+close, 1M nodes", limit: 0.050, best: open.min()!, median: median(open))
            )
        }
    }
}

// MARK: Encoding

if wanted("encoding") {
    print("")
    print("encoding: a profile of N call paths (fanout 8, 511 functions)")
    print("  pprof = message + gzip; sizes are the output's bytes; ns/node from the medians")
    print(
        "  \(pad("nodes", 6)) \(pad("output", 14)) \(pad("best", 11)) \(pad("median", 11))"
            + " \(pad("ns/node", 8)) bytes"
    )
    for nodes in [1_000, 100_000, 1_000_000] {
        let profile = BenchmarkSupport.profile(nodes: nodes)
        // Large profiles take seconds per output: fewer rounds at 1M.
        let encodingRounds = nodes >= 1_000_000 ? min(rounds, 3) : rounds
        let repetitions = max(1, 20_000 / nodes)
        var outputs: [(String, () -> Int)] = [
            ("pprof()", { profile.pprof().count }),
            ("  message", { BenchmarkSupport.pprofMessage(profile).count }),
        ]
        let message = BenchmarkSupport.pprofMessage(profile)
        outputs.append(("  gzip", { BenchmarkSupport.gzip(message).count }))
        outputs.append(("report()", { profile.report().utf8.count }))
        outputs.append(("folded()", { profile.folded().utf8.count }))
        for (name, output) in outputs {
            var times: [Double] = []
            var count = 0
            for _ in 0..<encodingRounds {
                times.append(seconds(repetitions) { count = output() })
            }
            CBaseline_sink(UInt64(count))
            print(
                "  \(pad(size(nodes), 6)) \(pad(name, 14)) \(ms(times.min()!, 8)) ms \(ms(median(times), 8)) ms"
                    + " \(format(median(times) * 1e9 / Double(nodes), 8, decimals: 0)) \(count)"
                    + (name == "  message" ? "  (uncompressed)" : "")
            )
            if nodes == 100_000 && name == "pprof()" {
                targets.append(
                    Target(name: "pprof(), 100k nodes", limit: 0.100, best: times.min()!, median: median(times))
                )
            }
        }
    }
}

// MARK: Memory

if wanted("memory") {
    print("")
    print("memory")
    let ringEvents = BenchmarkSupport.defaultRingEvents
    let thread = BenchmarkSupport.threadStateBytes(ringEvents: ringEvents)
    let eventsOnly = ringEvents * 16
    print(
        "  per registered thread: \(thread) bytes (\(bytes(thread))) mapped: header + ring of"
            + " \(ringEvents) events; baseline the events alone (\(bytes(eventsOnly))): "
            + "\(format(Double(thread) / Double(eventsOnly), 0, decimals: 3))x"
    )
    print(
        "    plus the aggregator's folder stack: \(BenchmarkSupport.threadFolderStackBytes) bytes"
            + " (64 frames; doubles only past depth 64)"
    )
    print("  call tree, bytes per node (capacities grow by doubling); baseline a node's 16 bytes of counters")
    var trees: [(String, Int, Int)] = []
    for nodes in [1_000, 1_000_000] {
        let w = windows[nodes]!
        trees.append(("\(size(nodes)) nodes, fanout 16 (child tables)", w.nodes, w.treeBytes))
    }
    // A fanout of 4 fits every node's children in its own line: no table.
    let depthFirst = BenchmarkSupport.Folding()
    depthFirst.fold(.balancedTree(depth: 10, fanout: 4, events: 2 * 1_398_100))
    trees.append(("1.4M nodes, fanout 4 (inline)", depthFirst.nodes, depthFirst.treeBytes))
    for (name, nodes, treeBytes) in trees {
        let perNode = Double(treeBytes) / Double(nodes)
        print(
            "    \(pad(name, 36)) \(format(Double(nodes), 8, decimals: 0)) nodes \(pad(bytes(treeBytes), 10))"
                + " \(format(perNode, 7, decimals: 1)) B/node  \(format(perNode / 16, 5, decimals: 1))x"
        )
    }
}

// MARK: Targets

if !targets.isEmpty {
    print("")
    print("targets")
    for target in targets {
        let verdict =
            target.median <= target.limit
            ? "met" : target.best <= target.limit ? "met by the best round only" : "missed"
        print(
            "  \(pad(target.name, 30)) <= \(ms(target.limit, 0)) ms: best \(ms(target.best, 0)) ms,"
                + " median \(ms(target.median, 0)) ms: \(verdict)"
        )
    }
}
