import CPprof
import Pprof

#if canImport(Glibc)
import Glibc
#endif

/// `fork`: a sampled process forks; the child, which inherits no timer, spins 200 ms of CPU in
/// a scope (20 samples at 100 Hz, were the timer inherited) and takes no SIGPROF, and exits 0;
/// the parent keeps being sampled.
func forkMode() throws {
    let window = Profiler.start(mode: .fprof)
    let spinning = spinners(1)
    // The forking thread registers before the fork: the child then needs no lock to enter a scope.
    Trace.scope("fork.register") {}
    check(wait(seconds: 10) { timerCount() >= 2 }, "timers: \(timerCount()), want 2")
    check(wait(seconds: 10) { CPprof_cpuSignalsHandled() > 10 }, "no SIGPROF before the fork")
    // The main thread's timer fires too while the child would spin, were it inherited.
    let before = CPprof_cpuSignalsHandled()
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    let child = fork()
    if child == 0 {
        // The child has one thread; glibc's fork leaves its allocator usable, so the timer
        // count and the text it sends back may allocate.
        let inherited = CPprof_cpuSignalsHandled()
        let timers = timerCount()
        let cpuBefore = threadCPU()
        Trace.scope("fork.child") { spinCPU(nanoseconds: 200_000_000) }
        let taken = CPprof_cpuSignalsHandled() - inherited
        let line = "child_timers=\(timers) child_signals=\(taken) child_cpu_ms=\((threadCPU() - cpuBefore) / 1_000_000)"
        _ = line.utf8CString.withUnsafeBufferPointer { write(fds[1], $0.baseAddress, $0.count - 1) }
        _exit(taken == 0 && timers == 0 ? 0 : 1)
    }
    close(fds[1])
    check(child > 0, "fork failed: errno \(errno)")
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    let exited = status & 0x7f == 0
    let code = (status >> 8) & 0xff
    var bytes = [UInt8](repeating: 0, count: 256)
    let n = read(fds[0], &bytes, bytes.count)
    let childLine = String(decoding: bytes.prefix(max(0, n)), as: UTF8.self)
    close(fds[0])
    check(exited && code == 0, "the child ended with status \(status): \(childLine)")
    // The parent keeps its timers and its samples.
    let atWait = CPprof_cpuSignalsHandled()
    Trace.scope("fork.parent") { spin(nanoseconds: 200_000_000) }
    let after = CPprof_cpuSignalsHandled()
    check(after > atWait, "the parent took no SIGPROF after the fork")
    spinnersStop.store(true, ordering: .relaxed)
    join(spinning)
    let stats = try CPUReport(window.stop()).statistics
    check(stats.cpuSamples > 0, "no CPU samples in the parent's profile")
    result(
        "fork",
        [
            "child_status=\(status)", childLine, "parent_signals_before=\(before)",
            "parent_signals_after_fork=\(after - atWait)",
            "timers_after=\(timerCount())", "cpu_samples=\(stats.cpuSamples)",
        ]
    )
}
