// Runs CPU sampling (issue 15) against what a program must keep, one mode per case, each in its
// own process: a line `MODE key=value ...` for the test, `FAIL ...` lines and exit status 1 on
// any failure. The test sets PPROF_CPU_HZ.
//
//   pprof-cpu-fixture eintr                 threads blocked in read, accept, poll, a futex wait,
//                                           nanosleep and Task.sleep while sampled: no EINTR
//   pprof-cpu-fixture fork                  a sampled process forks: the child takes no SIGPROF
//   pprof-cpu-fixture churn N               N short-lived sampled threads: every timer deleted
//   pprof-cpu-fixture exit-mid-signal N     N threads ending while SIGPROF is sent to them
//   pprof-cpu-fixture own-handler           the program's own SIGPROF handler and ITIMER_PROF
//                                           stay; the profile says why it has no CPU samples

import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Foundation's Process starts children with signals blocked; a program run from a shell has
// none blocked, and a blocked SIGPROF would hide what sampling does to it.
var unblock = sigset_t()
sigfillset(&unblock)
pthread_sigmask(SIG_UNBLOCK, &unblock, nil)

let arguments = CommandLine.arguments.dropFirst()
let count = arguments.dropFirst().first.flatMap { Int($0) }
do {
    switch (arguments.first, count) {
    case ("eintr", _): try eintrMode()
    case ("fork", _): try forkMode()
    case ("churn", let n?): try churnMode(threads: n)
    case ("exit-mid-signal", let n?): try exitMidSignalMode(threads: n)
    case ("own-handler", _): try ownHandlerMode()
    default:
        say("usage: pprof-cpu-fixture eintr | fork | churn N | exit-mid-signal N | own-handler")
        exit(2)
    }
} catch {
    check(false, "\(error)")
}
exit(failures.load(ordering: .relaxed) == 0 ? 0 : 1)
