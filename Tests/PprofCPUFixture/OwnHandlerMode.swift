import CPprof
import Pprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGPROFs the program's own handler took.
let ownHandlerCalls = Atomic<Int>(0)

/// `own-handler`: the program profiles itself with its own SIGPROF handler and
/// `setitimer(ITIMER_PROF)` before any window. It keeps both: our handler is not installed,
/// and the window's profile says why it has no CPU samples.
func ownHandlerMode() throws {
    // The global exists before a signal could be the first to touch it.
    ownHandlerCalls.store(0, ordering: .relaxed)
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in ownHandlerCalls.add(1, ordering: .relaxed) }
    sigemptyset(&action.sa_mask)
    action.sa_flags = SA_RESTART
    check(sigaction(SIGPROF, &action, nil) == 0, "sigaction: errno \(errno)")
    var every5ms = itimerval(
        it_interval: timeval(tv_sec: 0, tv_usec: 5000),
        it_value: timeval(tv_sec: 0, tv_usec: 5000)
    )
    check(setitimer(__itimer_which_t(ITIMER_PROF.rawValue), &every5ms, nil) == 0, "setitimer: errno \(errno)")

    let window = Profiler.start(mode: .fprof)
    Trace.scope("own.spin") { spin(nanoseconds: 300_000_000) }
    let report = try CPUReport(window.stop())
    let inWindow = ownHandlerCalls.load(ordering: .relaxed)
    // Still the program's after the window: its handler keeps counting.
    spin(nanoseconds: 50_000_000)
    let afterWindow = ownHandlerCalls.load(ordering: .relaxed) - inWindow
    var off = itimerval()
    setitimer(__itimer_which_t(ITIMER_PROF.rawValue), &off, nil)

    let reason = "the program has its own SIGPROF handler"
    let escaped = "cpu_off=the%20program%20has%20its%20own%20SIGPROF%20handler"
    let cpuTypes = report.sampleTypes.filter { $0 == "samples/count" || $0 == "cpu/nanoseconds" }
    check(inWindow > 0, "the program's own handler was not called in the window")
    check(afterWindow > 0, "the program's own handler was not called after the window")
    check(CPprof_cpuSignalsHandled() == 0, "our handler ran \(CPprof_cpuSignalsHandled()) times")
    check(report.statistics.cpuUnavailable == reason, "statistics: \(report.statisticsLine)")
    check(report.statistics.cpuHz == 0, "cpu_hz \(report.statistics.cpuHz)")
    check(report.statisticsLine.split(separator: " ").contains(Substring(escaped)), report.statisticsLine)
    check(report.comments.contains("cpu not sampled: \(reason)"), "comments: \(report.comments)")
    check(cpuTypes.isEmpty, "sample types: \(report.sampleTypes)")
    result(
        "own-handler",
        [
            "own_calls=\(inWindow)", "own_calls_after=\(afterWindow)", "our_calls=\(CPprof_cpuSignalsHandled())",
            "cpu_hz=\(report.statistics.cpuHz)", "cpu_samples=\(report.statistics.cpuSamples)",
            "sample_types=\(report.sampleTypes.joined(separator: ","))",
            "cpu_off_word=\(report.statisticsLine.split(separator: " ").contains(Substring(escaped)) ? 1 : 0)",
        ]
    )
}
