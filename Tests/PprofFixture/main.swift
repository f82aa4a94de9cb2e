// A program with known call counts for the tests that run a child process: PPROF_OUTPUT at
// exit, at exit() inside open scopes, on SIGINT/SIGTERM, and when the file cannot be written.
//
//   pprof-fixture workload         outer x 40, each with inner x 3, on 4 threads; returns from main
//   pprof-fixture exit-inside      workload, then exit(0) inside an open scope
//   pprof-fixture forever          scopes in a loop; prints "ready" once recording, until a signal
//   pprof-fixture own-handler      as forever, with its own SIGTERM handler (installed first) that exits 3
//   pprof-fixture paths N          fixture.many, inside it N distinct named scopes each with a fixture.leaf
//   pprof-fixture load             4 threads in nested scopes without pause, a microsecond of work in
//                                  each inner one; prints "ready" once each has closed one, until a signal
//   pprof-fixture wide N           N scopes with distinct runtime names, so the profile is large
//                                  (about 25 bytes gzipped per scope: 20000 make 500 KB)
//   pprof-fixture crash            workload, then a trap inside a scope
//
// `--status N` after the mode: end with exit(N) instead of returning from main, so a test can
// tell the program's own status from one the profiler would have set.

import Pprof
import Synchronization

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

/// Load threads that have closed their first scope.
let loadStarted = Atomic<Int>(0)

/// Where the load's work goes, so that the optimizer keeps it.
let loadSink = Atomic<Int>(0)

/// About a microsecond of arithmetic: with empty scopes four threads make events faster than
/// the aggregator can drain them on two cores, and a profile with drops has no exact counts.
@inline(never)
func work(_ seed: Int) -> Int {
    var x = seed
    for i in 0..<1000 { x = x &* 31 &+ i }
    return x
}

/// Threads that open scopes until the process ends; returns once each has closed one.
func load(threads count: Int) {
    for _ in 0..<count {
        var thread = pthread_t()
        pthread_create(
            &thread,
            nil,
            { _ in
                var first = true
                while true {
                    let t = Trace.enter("fixture.load.outer")
                    for i in 0..<3 { Trace.scope("fixture.load.inner") { loadSink.store(work(i), ordering: .relaxed) } }
                    Trace.exit(t)
                    if first {
                        first = false
                        loadStarted.add(1, ordering: .relaxed)
                    }
                }
            },
            nil
        )
        pthread_detach(thread)
    }
    while loadStarted.load(ordering: .relaxed) < count { usleep(1_000) }
}

/// Distinct names that share no long run of characters, so gzip cannot fold them together.
func wide(_ count: Int) {
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    for i in 0..<count {
        x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        Trace.scope(named: "fixture.wide.\(i).\(String(x, radix: 36))") {}
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
let status = arguments.firstIndex(of: "--status").flatMap { $0 + 1 < arguments.count ? Int32(arguments[$0 + 1]) : nil }
switch arguments.first ?? "workload" {
case "workload":
    workload()
case "wide":
    wide(arguments.count > 1 ? Int(arguments[1]) ?? 10_000 : 10_000)
case "load":
    load(threads: 4)
    say("ready")
    while true { pause() }
case "crash":
    workload()
    Trace.scope("fixture.crash") { fatalError("pprof-fixture: crashing on purpose") }
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
if let status { exit(status) }
