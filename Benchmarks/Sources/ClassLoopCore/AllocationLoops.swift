#if canImport(Glibc)
import Glibc
#endif

/// The allocation loops of `alloc-loops` and `alloc-loops-hooked`: the same code, linked once
/// without PprofMemory and once with it, so that `memory-ab.sh` compares a program with the
/// hooks against the same program without them (what a user gains or loses by linking them),
/// which no single process can (with the hooks linked, every `malloc` goes through them).
///
/// ```swift
/// let figures = AllocationLoops.run(rounds: 20, iterations: 200_000)
/// print(figures.classPair, figures.mallocPair, figures.churn)   // median ns per operation
/// ```
public enum AllocationLoops {
    final class Node {
        var value: Int
        init(_ value: Int) { self.value = value }
    }

    /// Where each instance goes, so that it is a real heap object and the one before is released.
    nonisolated(unsafe) static var kept: Node?

    @inline(never)
    static func classLoop(_ iterations: Int) {
        for i in 0..<iterations { kept = Node(i) }
    }

    /// Where each block's address goes before it is freed: a malloc and free of a block nobody
    /// sees would be removed by the optimizer.
    nonisolated(unsafe) static var sink: UnsafeMutableRawPointer?

    @inline(never)
    static func mallocLoop(_ iterations: Int) {
        for _ in 0..<iterations {
            sink = malloc(64)
            free(sink)
        }
    }

    /// A churn of mixed sizes (16 to 4 KiB) over 4 096 live blocks, each allocation replacing
    /// one chosen at random.
    @inline(never)
    static func churnLoop(_ iterations: Int, blocks: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<iterations {
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            let slot = Int(random & 4095)
            free(blocks[slot])
            blocks[slot] = malloc(16 + Int((random >> 12) & 4095))
        }
    }

    static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func time(_ iterations: Int, _ body: () -> Void) -> Double {
        let start = nanos()
        body()
        return Double(nanos() - start) / Double(iterations)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
    }

    /// Median ns per operation of each loop over interleaved rounds.
    public static func run(rounds: Int, iterations: Int) -> (classPair: Double, mallocPair: Double, churn: Double) {
        let blocks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 4096)
        for i in 0..<4096 { blocks[i] = malloc(16 + i) }
        var classes: [Double] = []
        var pairs: [Double] = []
        var churns: [Double] = []
        classLoop(iterations)
        mallocLoop(iterations)
        churnLoop(iterations, blocks: blocks)
        for _ in 0..<rounds {
            classes.append(time(iterations) { classLoop(iterations) })
            pairs.append(time(iterations) { mallocLoop(iterations) })
            churns.append(time(iterations) { churnLoop(iterations, blocks: blocks) })
        }
        for i in 0..<4096 { free(blocks[i]) }
        blocks.deallocate()
        return (median(classes), median(pairs), median(churns))
    }

    /// `--name N` from the command line, or `fallback`.
    public static func option(_ name: String, _ fallback: Int) -> Int {
        let arguments = CommandLine.arguments
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
        return Int(arguments[index + 1]) ?? fallback
    }

    /// Runs the loops and prints one line: `LABEL class N malloc N churn N` (ns per operation).
    public static func main(label: String) {
        let figures = run(rounds: option("--rounds", 20), iterations: option("--iterations", 200_000))
        print("\(label) class \(figures.classPair) malloc \(figures.mallocPair) churn \(figures.churn)")
    }
}
