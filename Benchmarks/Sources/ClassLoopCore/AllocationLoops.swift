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

    /// The churn's live blocks, made once per process.
    nonisolated(unsafe) static let blocks: UnsafeMutablePointer<UnsafeMutableRawPointer?> = {
        let blocks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 4096)
        for i in 0..<4096 { blocks[i] = malloc(16 + i) }
        return blocks
    }()

    /// One round of each loop: ns per operation.
    static func round(iterations: Int) -> (classPair: Double, mallocPair: Double, churn: Double) {
        (
            time(iterations) { classLoop(iterations) },
            time(iterations) { mallocLoop(iterations) },
            time(iterations) { churnLoop(iterations, blocks: blocks) }
        )
    }

    /// Median ns per operation of each loop over interleaved rounds.
    public static func run(rounds: Int, iterations: Int) -> (classPair: Double, mallocPair: Double, churn: Double) {
        _ = round(iterations: iterations)  // warm: the blocks, the caches, the hooks' first interval
        var classes: [Double] = []
        var pairs: [Double] = []
        var churns: [Double] = []
        for _ in 0..<rounds {
            let figures = round(iterations: iterations)
            classes.append(figures.classPair)
            pairs.append(figures.mallocPair)
            churns.append(figures.churn)
        }
        return (median(classes), median(pairs), median(churns))
    }

    /// `--serve`: one round of each loop per line read from standard input, one line printed per
    /// round, until end of input. `memory-ab.sh` runs the program with the hooks and the one
    /// without side by side this way, a round of one then a round of the other, so that both
    /// see the same few milliseconds of the machine's state.
    static func serve(label: String, iterations: Int) {
        _ = round(iterations: iterations)
        while readLine() != nil {
            let figures = round(iterations: iterations)
            print("\(label) class \(figures.classPair) malloc \(figures.mallocPair) churn \(figures.churn)")
            fflush(nil)  // all streams: `stdout` itself is shared mutable state to Swift 6
        }
    }

    /// `--idle-thread`: a second thread that only waits. glibc's malloc takes its single-thread
    /// shortcuts (no arena lock, no atomic on its fast bins) only while a process has never started
    /// a thread; a service always has (its event loops), and so has a program with PprofMemory
    /// linked (the recorder's aggregator). `memory-ab.sh` runs the program without the hooks both
    /// ways, so that it can tell the hooks' cost from the lock's.
    static func startIdleThread() {
        var thread = pthread_t()
        let made = pthread_create(
            &thread,
            nil,
            { _ in
                while true { pause() }
            },
            nil
        )
        precondition(made == 0, "pthread_create: \(made)")
    }

    /// `--name N` from the command line, or `fallback`.
    public static func option(_ name: String, _ fallback: Int) -> Int {
        let arguments = CommandLine.arguments
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
        return Int(arguments[index + 1]) ?? fallback
    }

    /// Runs the loops and prints one line: `LABEL class N malloc N churn N` (ns per operation);
    /// with `--serve`, one such line per round asked for (see `serve`).
    public static func main(label: String) {
        if CommandLine.arguments.contains("--idle-thread") { startIdleThread() }
        if CommandLine.arguments.contains("--serve") {
            serve(label: label, iterations: option("--iterations", 200_000))
            return
        }
        let figures = run(rounds: option("--rounds", 20), iterations: option("--iterations", 200_000))
        print("\(label) class \(figures.classPair) malloc \(figures.mallocPair) churn \(figures.churn)")
    }
}
