import CPprof
import Dispatch
import Pprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Stops the threads that keep signals flowing.
let spinnersStop = Atomic<Bool>(false)

/// Threads spinning in scopes until `spinnersStop`: their timers fire all the time.
func spinners(_ count: Int) -> [pthread_t] {
    (0..<count).map { _ in
        spawn {
            while !spinnersStop.load(ordering: .relaxed) { Trace.scope("cpu.spin") { spin(nanoseconds: 1_000_000) } }
        }
    }
}

/// `Task.sleep` in a scope on the cooperative pool: it never throws and never wakes early.
final class TaskSleeper: Sendable {
    let thrown = Atomic<Int>(0)
    let early = Atomic<Int>(0)
    let done = DispatchSemaphore(value: 0)

    func start() {
        Task.detached {
            Trace.scope("block.register") {}
            await Trace.scope("block.task-sleep") {
                for _ in 0..<Blocker.rounds {
                    let start = now()
                    do {
                        try await Task.sleep(nanoseconds: Blocker.blockNanoseconds)
                    } catch {
                        self.thrown.add(1, ordering: .relaxed)
                    }
                    if now() - start < Blocker.blockNanoseconds { self.early.add(1, ordering: .relaxed) }
                }
            }
            self.done.signal()
        }
    }
}

/// `eintr`: threads blocked in read, accept, poll, a futex wait, nanosleep and Task.sleep while
/// sampled (PPROF_CPU_HZ=250 from the test) get no EINTR from sampling, then a control round.
func eintrMode() throws {
    let window = Profiler.start(mode: .fprof)
    let spinning = spinners(2)
    let blockers = ["read", "accept", "poll", "futex", "nanosleep"].map(Blocker.init)
    let threads =
        blockInRead(blockers[0]) + blockInAccept(blockers[1]) + blockInPoll(blockers[2])
        + blockInFutex(blockers[3]) + blockInNanosleep(blockers[4])
    check(
        wait(seconds: 10) { blockers.allSatisfy { $0.tid.load(ordering: .acquiring) != 0 } },
        "the blocking threads did not register"
    )
    // Each registered thread's timer, armed at the aggregator's next drain: the rounds begin
    // only once every blocking thread can be sampled.
    let registered = spinning.count + blockers.count
    check(wait(seconds: 10) { timerCount() >= registered }, "timers: \(timerCount()), want \(registered)")
    let timersArmed = timerCount()
    let signalsBefore = CPprof_cpuSignalsHandled()
    let sleeper = TaskSleeper()
    blockersGo.store(true, ordering: .releasing)
    sleeper.start()
    // The pool thread that runs the sleeping task registers in its first scope: one more timer.
    check(wait(seconds: 1) { timerCount() > registered }, "the Task.sleep thread got no timer")
    let timersWithTask = timerCount()

    // The control round: two SIGPROFs sent to each blocked thread directly.
    check(
        wait(seconds: 20) { blockers.allSatisfy { $0.inControl.load(ordering: .acquiring) } },
        "the blocking threads did not reach the control round"
    )
    let signalsBeforeControl = CPprof_cpuSignalsHandled()
    var sent = 0
    for _ in 0..<2 {
        pause(nanoseconds: 100_000_000)
        for blocker in blockers where CPprof_cpuSignalThread(blocker.tid.load(ordering: .relaxed)) == 0 { sent += 1 }
    }
    join(threads)
    sleeper.done.wait()
    spinnersStop.store(true, ordering: .relaxed)
    join(spinning)
    let report = try CPUReport(window.stop())

    let timerSignals = signalsBeforeControl - signalsBefore
    let stats = report.statistics
    var words: [String] = []
    for blocker in blockers {
        let eintr = blocker.interrupted.load(ordering: .relaxed)
        check(eintr == 0, "\(blocker.name): \(eintr) EINTR while sampled")
        words.append("\(blocker.name)=\(eintr)")
    }
    words.append("task_sleep_thrown=\(sleeper.thrown.load(ordering: .relaxed))")
    words.append("task_sleep_early=\(sleeper.early.load(ordering: .relaxed))")
    check(sleeper.thrown.load(ordering: .relaxed) == 0, "Task.sleep threw")
    check(sleeper.early.load(ordering: .relaxed) == 0, "Task.sleep woke early")
    for blocker in blockers {
        let eintr = blocker.controlInterrupted.load(ordering: .relaxed)
        // SA_RESTART restarts read and accept; poll, futex waits with a timeout and nanosleep
        // are never restarted, so the control round must see their EINTR.
        let restarted = blocker.name == "read" || blocker.name == "accept"
        check(restarted ? eintr == 0 : eintr >= 1, "control \(blocker.name): \(eintr) EINTR")
        words.append("control_\(blocker.name)=\(eintr)")
    }
    let wrong = blockers.reduce(0) { $0 + $1.wrong.load(ordering: .relaxed) }
    let blockerCPU = blockers.map { $0.cpuNanoseconds.load(ordering: .relaxed) }.max() ?? 0
    check(wrong == 0, "\(wrong) unexpected results")
    check(timerSignals > 0, "no SIGPROF from the timers: sampling did not run")
    check(stats.cpuHz == 250 && stats.cpuSamples > 0, "profile: \(report.statisticsLine)")
    words += [
        "wrong=\(wrong)", "timers_armed=\(timersArmed)", "timers_with_task=\(timersWithTask)",
        "timer_signals=\(timerSignals)",
        "control_sent=\(sent)", "signals=\(CPprof_cpuSignalsHandled())", "blocker_cpu_us_max=\(blockerCPU / 1000)",
        "cpu_samples=\(stats.cpuSamples)", "cpu_hz=\(stats.cpuHz)",
    ]
    result("eintr", words)
}
