import CPprof
import Pprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The kernel ids of the threads that are ending now, for the hammer to signal: atomics, not a
/// `Mutex` (the thread sanitizer does not see the futex that Synchronization's Mutex is on Linux).
final class EndingThreads: @unchecked Sendable {
    static let count = 8
    let tids = UnsafeMutablePointer<Atomic<Int64>>.allocate(capacity: count)

    init() {
        for slot in 0..<Self.count { (tids + slot).initialize(to: Atomic(0)) }
    }
}

let ending = EndingThreads()
let hammerStop = Atomic<Bool>(false)
let hammerSent = Atomic<Int>(0)

/// `exit-mid-signal N`: N sampled threads (PPROF_CPU_HZ=250 from the test) spin briefly in a
/// scope and end while another thread sends each SIGPROF as fast as it can, before, during and
/// after its thread-exit hook: signals that find no state must be counted and dropped, never
/// written into a ring the aggregator may have unmapped. The process must not crash.
func exitMidSignalMode(threads total: Int) throws {
    let window = Profiler.start(mode: .fprof)
    let hammer = spawn {
        while !hammerStop.load(ordering: .relaxed) {
            for slot in 0..<EndingThreads.count {
                let tid = ending.tids[slot].load(ordering: .relaxed)
                if tid != 0 && CPprof_cpuSignalThread(tid) == 0 { hammerSent.add(1, ordering: .relaxed) }
            }
        }
    }
    var made = 0
    while made < total {
        let batch = min(EndingThreads.count, total - made)
        let threads = (0..<batch).map { slot in
            spawn {
                ending.tids[slot].store(CPprof_threadKernelID(), ordering: .relaxed)
                Trace.scope("exit.thread") { spin(nanoseconds: 100_000) }
            }
        }
        join(threads)
        made += batch
    }
    hammerStop.store(true, ordering: .relaxed)
    join([hammer])
    let stats = try CPUReport(window.stop()).statistics
    let handled = CPprof_cpuSignalsHandled()
    check(handled > 0, "no SIGPROF handled")
    result(
        "exit-mid-signal",
        [
            "threads=\(made)", "sent=\(hammerSent.load(ordering: .relaxed))", "handled=\(handled)",
            "without_state=\(CPprof_cpuSignalsWithoutState())", "cpu_samples=\(stats.cpuSamples)",
            "cpu_dropped=\(stats.cpuSamplesDropped)",
        ]
    )
}
