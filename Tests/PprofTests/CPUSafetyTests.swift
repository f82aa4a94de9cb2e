import Foundation
import PprofTestSupport
import Testing

/// CPU sampling never harms the program (issue 15), each case in its own process
/// (pprof-cpu-fixture): blocked threads get no EINTR, a forked child is not sampled, 10,000
/// ended threads leave no timer, threads ending mid-signal do not crash, and a program's own
/// SIGPROF handler stays with the profile saying why it has no CPU samples.
///
/// Exclusive with the suites that drive the recorder, although its cases run in children: they
/// keep both cores busy (spinners at 250 Hz, 10,000 threads; a minute under the thread
/// sanitizer), and the timed suites among those (a crowd of 200 clients with a 30 s read
/// timeout) ran out of time beside them.
@Suite(.serialized, .recorderExclusive) struct CPUSafetyTests {
    static var fixture: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("pprof-cpu-fixture").path
    }

    /// Runs the fixture in `mode`; checks that it exits 0 without a FAIL line, and returns its
    /// result line's `key=value` words.
    static func run(_ mode: [String], hz: Int? = 250) throws -> [String: String] {
        try #require(FileManager.default.isExecutableFile(atPath: fixture), "\(fixture) is missing")
        let environment = hz.map { ["PPROF_CPU_HZ": String($0)] } ?? [:]
        let run = try ChildProcess.run(fixture, mode, environment: environment, mergingStreams: true)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(run.exited && run.status == 0, "\(mode) ended with \(run.status):\n\(run.stdout)")
        #expect(!lines.contains { $0.hasPrefix("FAIL") }, "\(mode):\n\(run.stdout)")
        let line = try #require(lines.last { $0.hasPrefix(mode[0] + " ") }, "\(mode) printed:\n\(run.stdout)")
        print(line)
        var words: [String: String] = [:]
        for word in line.split(separator: " ").dropFirst() {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { words[String(parts[0])] = String(parts[1]) }
        }
        return words
    }

    static func number(_ words: [String: String], _ key: String) -> Int {
        words[key].flatMap { Int($0) } ?? -1
    }

    /// A blocked thread uses no CPU, so its CPU-time timer cannot fire while it waits: calls
    /// that are never restarted (poll, nanosleep, a timed futex wait) must still see no EINTR.
    @Test func blockedThreadsGetNoEINTR() throws {
        let words = try Self.run(["eintr"])
        for kind in ["read", "accept", "poll", "futex", "nanosleep", "task_sleep_thrown", "task_sleep_early"] {
            #expect(Self.number(words, kind) == 0, "\(kind): \(words)")
        }
        // The control round: a SIGPROF sent while blocked is restarted (read, accept: SA_RESTART)
        // or seen (poll, a futex wait with a timeout, nanosleep are never restarted).
        #expect(Self.number(words, "control_read") == 0 && Self.number(words, "control_accept") == 0, "\(words)")
        for kind in ["poll", "futex", "nanosleep"] {
            #expect(Self.number(words, "control_" + kind) >= 1, "control \(kind): \(words)")
        }
        // Sampling ran: the timers fired and the profile has samples.
        // Every blocking thread had a timer: the five above, two spinners, the sleeping task's.
        #expect(Self.number(words, "timers_armed") >= 7 && Self.number(words, "timers_with_task") >= 8, "\(words)")
        #expect(Self.number(words, "timer_signals") > 0, "\(words)")
        #expect(Self.number(words, "cpu_samples") > 0 && Self.number(words, "cpu_hz") == 250, "\(words)")
    }

    /// POSIX timers are not inherited: the child of a sampled process takes no SIGPROF. Not
    /// under the thread sanitizer, which does not support running code in the child of a
    /// multi-threaded fork: its runtime deadlocked there once (the child spinning for ten
    /// minutes), as the sanitizer's documentation warns. Debug, release and ASan runs hold it.
    @Test(.enabled(if: activeSanitizer != "thread", "TSan does not support code after a multi-threaded fork"))
    func aForkedChildIsNotSampled() throws {
        let words = try Self.run(["fork"], hz: nil)
        #expect(words["child_status"] == "0", "\(words)")
        #expect(words["child_timers"] == "0" && words["child_signals"] == "0", "\(words)")
        #expect(Self.number(words, "parent_signals_after_fork") > 0, "\(words)")
        #expect(Self.number(words, "cpu_samples") > 0, "\(words)")
    }

    /// A timer per live thread at most (each thread deletes its own as it ends), none at the end.
    @Test func threadChurnFreesEveryTimer() throws {
        let words = try Self.run(["churn", "10000"])
        #expect(Self.number(words, "threads") == 10000)
        // Timers were made (some threads lived through a drain), and went with their threads.
        #expect(Self.number(words, "readings_with_timers") > 0, "\(words)")
        #expect(Self.number(words, "timers_max") <= Self.number(words, "bound"), "\(words)")
        #expect(words["timers_after"] == "0", "\(words)")
    }

    /// Signals that reach a thread after its exit hook find no state and are only counted.
    @Test func threadsEndingMidSignalAreSafe() throws {
        let words = try Self.run(["exit-mid-signal", "2000"])
        #expect(Self.number(words, "threads") == 2000)
        #expect(Self.number(words, "handled") > 0, "\(words)")
    }

    /// Its handler and ITIMER_PROF keep working; the profile says `cpu_off=…` and has no CPU types.
    @Test func aProgramsOwnSIGPROFHandlerStays() throws {
        let words = try Self.run(["own-handler"], hz: nil)
        #expect(Self.number(words, "own_calls") > 0 && Self.number(words, "own_calls_after") > 0, "\(words)")
        #expect(words["our_calls"] == "0" && words["cpu_hz"] == "0", "\(words)")
        #expect(words["cpu_off_word"] == "1", "\(words)")
        #expect(words["sample_types"] == "calls/count,wall/nanoseconds", "\(words)")
    }
}
