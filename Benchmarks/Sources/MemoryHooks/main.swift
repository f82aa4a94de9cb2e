// MemoryHooks: what the allocation hooks of PprofMemory cost, as ratios to glibc measured in the
// same run. Not an ordo-one/benchmark target: its MallocInterposer defines malloc too, and the
// two cannot both be the executable's.
//
//   (a) __libc_malloc(64) + __libc_free            glibc directly: the baseline
//   (b) malloc(64) + free, thread with recorder state
//   (c) malloc(64) + free, thread without
//   (f) malloc(64) + free with the hooks switched off (forwarding only)
//   (d) a Swift class allocation + release, hooks active against switched off
//   (e) a churn of mixed sizes with random frees, through the hooks against glibc directly
//
// Loops are timed in interleaved rounds with CLOCK_MONOTONIC; each figure is the median over
// the rounds in ns per operation. Targets: (b)/(a) <= 1.5, (d) <= 1.03, (e) <= 1.1.
//
//   swift run -c release MemoryHooks [--rounds 40] [--iterations 200000]

import CBaseline
import CMemoryLoops
import CPprof
import Figures
import Pprof
import PprofMemory

#if canImport(Glibc)
import Glibc
#endif

final class Node {
    var value: Int
    init(_ value: Int) { self.value = value }
}

/// Where each new instance goes, so that it is a real heap object (not promoted to the stack)
/// and the one it replaces is released.
nonisolated(unsafe) var kept: Node?

@inline(never)
func classLoop(_ iterations: Int) {
    for i in 0..<iterations {
        kept = Node(i)
        CBaseline_sink(UInt64(truncatingIfNeeded: i))
    }
}

/// `--name N` from the command line, or `fallback`.
func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
    return Int(arguments[index + 1]) ?? fallback
}
let rounds = option("--rounds", 40)
let iterations = option("--iterations", 200_000)

guard MemoryHooks.status == .active else {
    print("the hooks are not active: \(MemoryHooks.status)")
    exit(1)
}

nonisolated func time(_ body: () -> Void) -> Double {
    let start = CBaseline_monotonicNanos()
    body()
    return Double(CBaseline_monotonicNanos() - start) / Double(iterations)
}

/// Runs `body` on a new thread (one without recorder state) and returns what it returned.
func onFreshThread(_ body: @escaping () -> Double) -> Double {
    final class Box {
        let body: () -> Double
        var result = 0.0
        init(_ body: @escaping () -> Double) { self.body = body }
    }
    let box = Box(body)
    var thread = pthread_t()
    let raw = Unmanaged.passUnretained(box).toOpaque()
    pthread_create(
        &thread,
        nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeUnretainedValue()
            box.result = box.body()
            return nil
        },
        raw
    )
    pthread_join(thread, nil)
    return box.result
}

// The main thread gets recorder state: a window open, one scope.
let window = Profiler.start(mode: .cprof)
Trace.scope("memory.hooks") {}
precondition(CPprof_getThreadState() != nil, "no recorder state on the main thread")

var figures: [String: [Double]] = [:]
let loops: [(String, () -> Double)] = [
    ("a", { time { CMemoryLoops_libcPairs(UInt64(iterations)) } }),
    ("b", { time { CMemoryLoops_pairs(UInt64(iterations)) } }),
    ("c", { onFreshThread { time { CMemoryLoops_pairs(UInt64(iterations)) } } }),
    (
        "f",
        {
            CMemoryLoops_setHooks(3)
            defer { CMemoryLoops_setHooks(1) }
            return time { CMemoryLoops_pairs(UInt64(iterations)) }
        }
    ),
    ("d1", { time { classLoop(iterations) } }),
    (
        "d0",
        {
            CMemoryLoops_setHooks(3)
            defer { CMemoryLoops_setHooks(1) }
            return time { classLoop(iterations) }
        }
    ),
    ("e1", { time { CMemoryLoops_churn(UInt64(iterations), 0) } }),
    ("e0", { time { CMemoryLoops_churn(UInt64(iterations), 1) } }),
]
// Warm up (and fill the churn's blocks).
for (_, loop) in loops { _ = loop() }
for round in 0..<rounds {
    for index in 0..<loops.count {
        let (name, loop) = loops[(index + round) % loops.count]
        figures[name, default: []].append(loop())
    }
}
CMemoryLoops_churnReset(0)
CMemoryLoops_churnReset(1)
_ = window.stop()

let medians = figures.mapValues { median($0) }
func m(_ name: String) -> Double { medians[name]! }
print("MemoryHooks: \(rounds) rounds x \(iterations) iterations, rate \(MemoryHooks.rate); median ns per operation")
print("(a) __libc_malloc(64)+__libc_free             \(format(m("a"), 7))")
print("(b) malloc(64)+free, recorder state            \(format(m("b"), 7))   (b)/(a) \(format(m("b") / m("a"), 0))")
print("(c) malloc(64)+free, no recorder state         \(format(m("c"), 7))   (c)/(a) \(format(m("c") / m("a"), 0))")
print("(f) malloc(64)+free, hooks switched off        \(format(m("f"), 7))   (f)/(a) \(format(m("f") / m("a"), 0))")
print("(d) Swift class alloc+release, hooks active    \(format(m("d1"), 7))")
print(
    "    the same, hooks switched off               \(format(m("d0"), 7))   ratio \(format(m("d1") / m("d0"), 0, decimals: 3))"
)
print("(e) mixed churn, through the hooks             \(format(m("e1"), 7))")
print(
    "    the same, glibc directly                   \(format(m("e0"), 7))   ratio \(format(m("e1") / m("e0"), 0, decimals: 3))"
)
print("samples taken \(CPprof_getSamplesTaken()), lost \(CPprof_getSamplesLost())")
