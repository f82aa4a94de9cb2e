import CPprof
import Foundation

@testable import Pprof

/// Calls, own nanoseconds, and own CPU samples and CPU nanoseconds, per call path
/// ("outer;inner"), read straight from a Profile.
struct PathTable {
    var calls: [String: UInt64] = [:]
    var own: [String: UInt64] = [:]
    var cpuSamples: [String: UInt64] = [:]
    var cpu: [String: UInt64] = [:]

    init(_ profile: Profile) {
        var names: [String] = []
        for node in profile.nodes {
            let name = profile.functions[Int(node.function)].name
            let path = node.parent < 0 ? name : names[Int(node.parent)] + ";" + name
            names.append(path)
            // A node that only CPU samples made (`(no scope)`, or the function a sample
            // interrupted below a scope) is no call path: any window of the shared recorder may
            // have one, wherever its threads happened to be at a tick.
            if node.calls != 0 || node.ownNanoseconds != 0 {
                calls[path, default: 0] += node.calls
                own[path, default: 0] += node.ownNanoseconds
            }
            if node.values.cpuSamples != 0 {
                cpuSamples[path, default: 0] += node.values.cpuSamples
                cpu[path, default: 0] += node.values.cpuNanoseconds
            }
        }
    }

    /// Own time of the path and every path below it.
    func accumulated(_ path: String) -> UInt64 {
        Self.accumulated(own, path)
    }

    /// CPU nanoseconds of the path and every path below it (its leaves among them).
    func accumulatedCPU(_ path: String) -> UInt64 {
        Self.accumulated(cpu, path)
    }

    private static func accumulated(_ values: [String: UInt64], _ path: String) -> UInt64 {
        values.filter { $0.key == path || $0.key.hasPrefix(path + ";") }.values.reduce(0, +)
    }
}

/// A value several threads update under a lock: `NSLock`, not `Synchronization.Mutex`, whose
/// futex the thread sanitizer does not see on Linux (it reports the value as raced).
final class Guarded<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// Runs `body(i)` on `count` new threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let handles = (0..<count).map { i in startThread { body(i) } }
    for handle in handles { pthread_join(handle, nil) }
}

/// Starts `body` on a new thread; join it with `pthread_join`.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(Box(body))
    var handle = pthread_t()
    let result = pthread_create(
        &handle,
        nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        },
        box.toOpaque()
    )
    precondition(result == 0, "pthread_create: \(result)")
    return handle
}

private final class Box: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Spins for `nanoseconds` of CLOCK_MONOTONIC: a busy-wait of known length. Returns how long it
/// really took (more, if the thread was preempted at its end).
@inline(never) @discardableResult
func spin(nanoseconds: UInt64) -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    let start = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    while true {
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let elapsed = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec) - start
        if elapsed >= nanoseconds { return elapsed }
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds (the clock `spin` waits on).
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func CPprofModeForTests() -> UInt8 { CPprof_mode() }

/// A small deterministic generator (SplitMix64), so that a failing random test can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
