import Foundation
import PprofTestSupport
import Synchronization
import Testing

@testable import Pprof

/// Thread churn through the process's real recorder: 10 000 threads, each recording scopes and
/// exiting. Every event is counted, every thread's ring is unmapped, and resident memory comes
/// back to within a small bound of where it started.
@Suite(.serialized, .recorderExclusive)
struct ThreadChurnTests {
    /// Resident memory now, in bytes (`/proc/self/statm`, second field, in pages).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// Waits up to `seconds` for `condition`, checking every 10 ms.
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// Runs `threads` threads, `batch` at a time, each doing 10 outer scopes of 3 inner ones.
    static func churn(threads: Int, batch: Int = 50) {
        for start in stride(from: 0, to: threads, by: batch) {
            onThreads(min(batch, threads - start)) { _ in
                for _ in 0..<10 {
                    Trace.scope("churn.outer") {
                        for _ in 0..<3 { Trace.scope("churn.inner") {} }
                    }
                }
            }
        }
    }

    @Test func tenThousandThreadsAreCountedAndGiveTheirMemoryBack() throws {
        let threads = 10_000
        let window = Profiler.start()
        let ringsAtStart = ThreadState.mappedRings.load(ordering: .relaxed)
        // A first round primes what the C library keeps after threads end (its cache of thread
        // stacks, its malloc arenas), so the bound below is on what the profiler keeps.
        Self.churn(threads: 500)
        #expect(Self.eventually(10) { ThreadState.mappedRings.load(ordering: .relaxed) <= ringsAtStart })
        let ringsBefore = ThreadState.mappedRings.load(ordering: .relaxed)
        let residentBefore = Self.residentBytes()
        let totalsBefore = Recorder.shared.aggregator.totalsNow

        Self.churn(threads: threads)

        // Every ended thread's ring is drained and unmapped by the aggregator.
        let freed = Self.eventually(10) { ThreadState.mappedRings.load(ordering: .relaxed) <= ringsBefore }
        #expect(
            freed,
            "rings still mapped: \(ThreadState.mappedRings.load(ordering: .relaxed)), before: \(ringsBefore)"
        )
        let residentAfter = Self.residentBytes()
        // The totals after the window's last drain: the ring count can fall back to where it was
        // while a churned thread's ring still waits (a ring of another suite's thread unmapped
        // meanwhile: once under TSan, 80 events, one thread's, were read as missing).
        let profile = window.stop()
        let totals = Recorder.shared.aggregator.totalsNow - totalsBefore
        let table = PathTable(profile)

        // Each thread: 10 outer and 30 inner scopes, 80 events; none lost, none left open.
        let produced = UInt64(threads) * 80
        #expect(totals.folded + totals.dropped == produced, "\(totals.folded) folded + \(totals.dropped) dropped")
        #expect(totals.dropped == 0)
        #expect(totals.openAtThreadExit == 0)
        #expect(table.calls["churn.outer"] == UInt64(threads + 500) * 10)
        #expect(table.calls["churn.outer;churn.inner"] == UInt64(threads + 500) * 30)
        let growth = residentAfter - residentBefore
        print(
            "thread churn: \(threads) threads, \(produced) events; resident \(residentBefore / 1024) KiB before,"
                + " \(residentAfter / 1024) KiB after (\(growth / 1024) KiB); rings mapped \(ringsBefore) before,"
                + " \(ThreadState.mappedRings.load(ordering: .relaxed)) after"
        )
        // Each ring is 2 MiB mapped and 24 KiB or more touched: 10 000 kept would be 240 MB. The
        // thread sanitizer's runtime keeps state of its own per thread ended (13 MB seen); the
        // address sanitizer's quarantine keeps freed memory (up to 256 MB) on purpose, so there
        // the rings' counter alone says they were freed.
        switch activeSanitizer {
        case nil: #expect(growth < 16 << 20, "resident memory grew by \(growth / 1024) KiB")
        case "thread": #expect(growth < 64 << 20, "resident memory grew by \(growth / 1024) KiB under TSan")
        default: break
        }
    }
}
