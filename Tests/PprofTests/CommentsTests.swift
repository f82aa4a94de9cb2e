import Foundation
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// The pprof comments (issue 13): one line of figures and the statistics line, then one line
/// for each loss or misuse that is not zero, and nothing for those that are.
@Suite(.serialized, .recorderExclusive)
struct CommentsTests {
    /// A profile recorded here, with nothing lost or misused.
    static func cleanProfile() -> Profile {
        let window = Profiler.start()
        for _ in 0..<5 {
            Trace.scope("cmt.outer") { Trace.scope("cmt.inner") {} }
        }
        return window.stop()
    }

    /// Every counter of a loss or misuse at a different non-zero value.
    static var everyLoss: Profile.Statistics {
        var statistics = Profile.Statistics()
        statistics.eventsRecorded = 100
        statistics.eventsDropped = 3
        statistics.staleExits = 4
        statistics.wrongThreadExits = 5
        statistics.implicitlyClosed = 6
        statistics.openAtThreadExit = 7
        statistics.enteredBeforeRecording = 8
        statistics.threads = 2
        statistics.clockSource = "tsc"
        statistics.hookPairNanoseconds = 26.06
        statistics.callTreeNodes = 64
        statistics.callTreeNodeLimit = 64
        statistics.callTreeFull = true
        statistics.asyncPathsRefused = 9
        return statistics
    }

    @Test func aCleanProfileHasTwoLines() throws {
        let profile = Self.cleanProfile()
        #expect(profile.statistics.eventsDropped == 0 && profile.statistics.misuse.allSatisfy { $0.count == 0 })
        let comments = try DecodedProfile.decode(Gzip.decompress(profile.pprof())).comments
        #expect(comments.count == 2, "\(comments)")
        #expect(comments.first == profile.figuresLine)
        let (events, threads) = (profile.statistics.eventsRecorded, profile.statistics.threads)
        let counted = threads == 1 ? "1 thread" : "\(threads) threads"
        #expect(comments.first?.hasPrefix("fprof profile: \(events) events, \(counted), clock ") == true, "\(comments)")
        #expect(comments.first?.contains(", call tree ") == true, "\(comments)")
        #expect(comments.last == profile.statisticsLine)
    }

    @Test func eachLossOrMisuseIsItsOwnLineOnlyWhenNotZero() throws {
        var profile = EncodingFixtures.nested
        profile.statistics = Self.everyLoss
        let comments = try DecodedProfile.decode(Gzip.decompress(profile.pprof())).comments
        #expect(
            comments == [
                "fprof profile: 100 events, 2 threads, clock tsc, hook pair 26.1 ns, call tree 64 of 64 nodes"
                    + " (full call paths; calls and own wall time per path)",
                profile.statisticsLine,
                "events dropped: 3 (a thread's ring buffer was full)",
                "stale exits: 4 (a token exited twice, or after an enclosing scope had closed it; ignored)",
                "wrong-thread exits: 5 (a token exited on a thread that did not enter it; ignored)",
                "implicitly closed: 6 (scopes closed by an enclosing scope's exit before their own)",
                "open at thread exit: 7 (scopes still open when their thread ended)",
                "entered before recording: 8 (exits of scopes already open when recording began)",
                "call tree full: 64 nodes, limit 64 (new call paths are counted under (call tree full))",
                "async paths refused: 9 (the path table was full; those frames were counted in their parent's)",
            ]
        )
        // One at a time: each line comes and goes with its own counter.
        var one = Profile.Statistics()
        one.implicitlyClosed = 1
        profile.statistics = one
        #expect(profile.commentLines.count == 3)
        #expect(profile.commentLines.last?.hasPrefix("implicitly closed: 1 (") == true)
        #expect(profile.commentLines.first?.contains("hook pair not measured") == true)
    }

    /// The real consumer: `go tool pprof -comments` prints what we wrote, and `-top`'s header
    /// holds the two lines of a clean recorded profile, not eleven.
    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func goToolPprofShowsTheTwoLines() throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH: the real pprof check cannot run")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-cmt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("clean.pb.gz").path
        let profile = Self.cleanProfile()
        try profile.write(to: path)

        let (status, text) = try GoTool.pprof(go, ["-comments", path], scratch: directory.path)
        #expect(status == 0, "\(text)")
        #expect(text == profile.commentLines.map { $0 + "\n" }.joined(), "\(text)")

        let (topStatus, top) = try GoTool.pprof(go, ["-top", path], scratch: directory.path)
        #expect(topStatus == 0, "\(top)")
        // pprof's own lines (File:, Build ID:) first, then our comments, then Type:.
        let header = top.split(separator: "\n").prefix { !$0.hasPrefix("Type: ") }
            .filter { !$0.hasPrefix("File: ") && !$0.hasPrefix("Build ID: ") }
        #expect(header.map(String.init) == profile.commentLines, "\(top)")

        var lossy = EncodingFixtures.nested
        lossy.statistics = Self.everyLoss
        try lossy.write(to: path)
        let (_, lossyText) = try GoTool.pprof(go, ["-comments", path], scratch: directory.path)
        #expect(lossyText.split(separator: "\n").count == 10, "\(lossyText)")
    }
}
