import CPprof
import Pprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the timer watcher saw while the churn ran.
let timersMax = Atomic<Int>(0)
let timerReadings = Atomic<Int>(0)
let timersNonzero = Atomic<Int>(0)
let churnDone = Atomic<Bool>(false)

/// `churn N`: N short-lived sampled threads, `concurrency` at a time, each entering a scope and
/// spinning briefly while a window is open. Every timer they got must be deleted: the count
/// stays near the live threads while the window is open, and is 0 once it has closed.
func churnMode(threads total: Int) throws {
    let concurrency = 8
    let window = Profiler.start(mode: .fprof)
    let watcher = spawn {
        while !churnDone.load(ordering: .relaxed) {
            let count = timerCount()
            timersMax.max(count, ordering: .relaxed)
            timerReadings.add(1, ordering: .relaxed)
            if count > 0 { timersNonzero.add(1, ordering: .relaxed) }
            pause(nanoseconds: 2_000_000)
        }
    }
    let start = now()
    var made = 0
    while made < total {
        let batch = min(concurrency, total - made)
        join((0..<batch).map { _ in spawn { Trace.scope("churn.thread") { spin(nanoseconds: 30_000) } } })
        made += batch
    }
    let seconds = Double(now() - start) / 1e9
    churnDone.store(true, ordering: .relaxed)
    join([watcher])
    let stats = try CPUReport(window.stop()).statistics
    // Ended threads' timers go when the aggregator retires them; the rest when the window closes.
    let after = timerCount()
    let cleared = wait(seconds: 5) { timerCount() == 0 }
    // A timer outlives its thread until the next drain (every 1-10 ms) retires it.
    let bound = 2 * concurrency + 4
    let most = timersMax.load(ordering: .relaxed)
    check(most <= bound, "\(most) timers at once while \(concurrency) threads lived (bound \(bound))")
    check(cleared, "\(timerCount()) timers left after the window closed")
    result(
        "churn",
        [
            "threads=\(made)", "seconds=\(twoDecimals(seconds))", "timers_max=\(most)", "bound=\(bound)",
            "readings=\(timerReadings.load(ordering: .relaxed))",
            "readings_with_timers=\(timersNonzero.load(ordering: .relaxed))", "timers_at_stop=\(after)",
            "timers_after=\(timerCount())", "signals=\(CPprof_cpuSignalsHandled())",
            "cpu_samples=\(stats.cpuSamples)", "cpu_hz=\(stats.cpuHz)",
        ]
    )
}

/// `value` with two decimals, without Foundation.
func twoDecimals(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
