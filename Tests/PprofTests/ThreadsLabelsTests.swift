import Foundation
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// What every thread is inside (issue 13): label sets are labels, not frames, in the text and
/// the threads profile; threads are named by the kernel's thread id, as `/proc/PID/task` lists it.
@Suite(.serialized, .recorderExclusive)
struct ThreadsLabelsTests {
    /// The calling thread's kernel id, read from the kernel itself (`/proc/thread-self` links to
    /// `PID/task/TID`), not from the code under test.
    static func kernelThreadID() throws -> Int64 {
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")
        return try #require(Int64(link.split(separator: "/").last ?? ""))
    }

    @Test func labelsAreLabelsAndThreadsAreTheirKernelIDs() throws {
        Threads.setTracking(true)
        defer { Threads.setTracking(false) }
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let ids = KernelIDs()
        let first = Foundation.Thread {
            let id = try? Self.kernelThreadID()
            ids.set(\.labelled, id ?? -1)
            Trace.scope("thl.serve") {
                Trace.withLabels(["route": "/users/:id"]) {
                    Trace.scope("thl.handle") {
                        Trace.withLabels(["db": "primary", "route": "/users/inner"]) {
                            Trace.scope("thl.query") {
                                entered.signal()
                                release.wait()
                            }
                        }
                    }
                }
            }
        }
        let second = Foundation.Thread {
            let id = try? Self.kernelThreadID()
            ids.set(\.plain, id ?? -1)
            Trace.scope("thl.serve") {
                entered.signal()
                release.wait()
            }
        }
        first.start()
        second.start()
        entered.wait()
        entered.wait()
        defer { for _ in 0..<2 { release.signal() } }
        let (labelledID, plainID) = ids.both
        #expect(labelledID > 0 && plainID > 0 && labelledID != plainID)

        let threads = Threads.snapshot()
        let a = try #require(threads.first { $0.kernelID == labelledID }, "\(threads)")
        let b = try #require(threads.first { $0.kernelID == plainID }, "\(threads)")
        #expect(a.frames.map(\.name) == ["thl.serve", "thl.handle", "thl.query"])
        #expect(a.labels == ["route": "/users/inner", "db": "primary"], "the inner value wins")
        #expect(b.frames.map(\.name) == ["thl.serve"])
        #expect(b.labels == [:])
        // Serial numbers are small; kernel ids are what /proc shows (and differ from them here).
        #expect(Int64(a.id) != a.kernelID)

        let full = Threads.text(debug: 2, threads: threads)
        #expect(!full.contains("(labels"), "\(full)")
        let block = try #require(full.components(separatedBy: "\n\n").first { $0.hasPrefix("thread \(labelledID) ") })
        let lines = block.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(block)")
        #expect(lines[1].hasPrefix("    thl.query  ") && lines[3].hasPrefix("    thl.serve  "), "\(block)")
        #expect(lines.last == "    labels: db=primary, route=/users/inner", "\(block)")
        #expect(full.contains("\nthread \(plainID) "), "\(full)")

        let grouped = Threads.text(debug: 1, threads: threads)
        #expect(!grouped.contains("(labels"), "\(grouped)")
        let group = try #require(grouped.components(separatedBy: "\n\n").first { $0.contains("thl.query") })
        let groupLines = group.split(separator: "\n").map(String.init)
        #expect(groupLines.count == 5 && groupLines[0].hasPrefix("1 @ "), "\(group)")
        #expect(groupLines.last == "    labels: db=primary, route=/users/inner", "\(group)")

        let profile = try DecodedProfile.decode(Gzip.decompress(Threads.pprof(threads: threads)))
        #expect(profile.violations() == [])
        let sample = try #require(
            profile.stacks.first { $0.labels["thread_id"] == String(labelledID) },
            "\(profile.stacks)"
        )
        #expect(sample.frames == ["thl.serve", "thl.handle", "thl.query"])
        #expect(sample.labels["route"] == "/users/inner" && sample.labels["db"] == "primary", "\(sample.labels)")
        let other = try #require(profile.stacks.first { $0.labels["thread_id"] == String(plainID) })
        #expect(other.frames == ["thl.serve"] && other.labels["route"] == nil)
        #expect(profile.stacks.allSatisfy { !$0.frames.contains { $0.hasPrefix("(labels") } })
    }
}

/// The two threads' kernel ids, each written by its own thread.
private final class KernelIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var values: (labelled: Int64, plain: Int64) = (0, 0)

    func set(_ which: WritableKeyPath<(labelled: Int64, plain: Int64), Int64>, _ value: Int64) {
        lock.withLock { values[keyPath: which] = value }
    }

    var both: (Int64, Int64) { lock.withLock { (values.labelled, values.plain) } }
}
