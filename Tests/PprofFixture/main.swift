// A program with known call counts for the tests that run a child process: PPROF_OUTPUT at
// exit, at exit() inside open scopes, and on SIGINT/SIGTERM.
//
//   pprof-fixture workload         outer x 40, each with inner x 3, on 4 threads; returns from main
//   pprof-fixture exit-inside      workload, then exit(0) inside an open scope
//   pprof-fixture forever          scopes in a loop; prints "ready" once recording, until a signal
//   pprof-fixture own-handler      as forever, with its own SIGTERM handler (installed first) that exits 3
//   pprof-fixture paths N          fixture.many, inside it N distinct named scopes each with a fixture.leaf

import Pprof

#if canImport(Glibc)
import Glibc
#endif

func workload() {
    var threads: [pthread_t] = []
    for _ in 0..<4 {
        var thread = pthread_t()
        pthread_create(
            &thread,
            nil,
            { _ in
                for _ in 0..<40 {
                    let t = Trace.enter("fixture.outer")
                    for _ in 0..<3 { Trace.scope("fixture.inner") {} }
                    Trace.exit(t)
                }
                return nil
            },
            nil
        )
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

func say(_ text: String) {
    print(text)
    fflush(nil)
}

// Foundation's Process starts children with most signals blocked; a real program run from a
// shell has none blocked, so undo that first.
var unblock = sigset_t()
sigemptyset(&unblock)
sigaddset(&unblock, SIGINT)
sigaddset(&unblock, SIGTERM)
pthread_sigmask(SIG_UNBLOCK, &unblock, nil)

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first ?? "workload" {
case "workload":
    workload()
case "exit-inside":
    workload()
    _ = Trace.enter("fixture.open")
    exit(0)
case "forever", "own-handler":
    if arguments.first == "own-handler" {
        signal(SIGTERM) { _ in exit(3) }
    }
    var announced = false
    while true {
        Trace.scope("fixture.loop") { Trace.scope("fixture.step") {} }
        if !announced {
            announced = true
            say("ready")
        }
        usleep(100)
    }
case "paths":
    let count = arguments.dropFirst().first.flatMap { Int($0) } ?? 1000
    Trace.scope("fixture.many") {
        for i in 0..<count {
            Trace.scope(named: "fixture.path.\(i)") { Trace.scope("fixture.leaf") {} }
        }
    }
default:
    say("unknown mode")
    exit(64)
}
