import Pprof
import PprofTestKit
import Testing

@Suite struct StatisticsLineTests {
    private static var everyMemberSet: Profile.Statistics {
        var statistics = Profile.Statistics()
        statistics.eventsRecorded = 1 << 40
        statistics.eventsDropped = 3
        statistics.staleExits = 4
        statistics.wrongThreadExits = 5
        statistics.implicitlyClosed = 6
        statistics.openAtThreadExit = 7
        statistics.enteredBeforeRecording = 8
        statistics.threads = 9
        statistics.clockSource = "odd clock=50% ü"
        statistics.hookPairNanoseconds = 18.234567
        statistics.callTreeNodes = 10
        statistics.callTreeNodeLimit = 11
        statistics.callTreeFull = true
        statistics.asyncPathsRefused = 12
        statistics.cpuHz = 13
        statistics.cpuSamples = 14
        statistics.cpuOverruns = 16
        statistics.cpuSamplesDropped = 15
        statistics.cpuUnavailable = "no timer"
        return statistics
    }

    @Test func everyMemberRoundTripsThroughTheEncodedProfile() throws {
        var profile = EncodingFixtures.cprof
        profile.statistics = Self.everyMemberSet
        let line = profile.statisticsLine
        #expect(line.hasPrefix("swift-pprof: mode=cprof events=1099511627776 dropped=3 stale=4 "))
        #expect(line.contains(" clock=odd%20clock%3D50%25%20%C3%BC hookpair_ns=18.234567 "))
        #expect(
            line.hasSuffix(
                " nodes=10 limit=11 full=1 async_refused=12 cpu_hz=13 cpu_samples=14 cpu_overruns=16 cpu_dropped=15 cpu_off=no%20timer"
            )
        )
        #expect(Profile.Statistics.members.count == 19, "a new statistic needs a row (and this count)")

        let decoded = try DecodedProfile.decode(profile.pprof())
        let recorded = try #require(decoded.recorded)
        #expect(recorded.mode == .cprof)
        #expect(recorded.statistics == Self.everyMemberSet)
        #expect(decoded.comments[1] == line, "the line after the mode line")
    }

    @Test func otherLinesAndUnknownKeysAreSkipped() throws {
        #expect(Profile.statistics(fromCommentLine: "mode: fprof (full call paths)") == nil)
        #expect(Profile.statistics(fromCommentLine: "swift-pprof threads: the open scopes") == nil)
        let read = try #require(Profile.statistics(fromCommentLine: "swift-pprof: mode=xprof events=5 later=7 junk"))
        #expect(read.mode == nil)
        var expected = Profile.Statistics()
        expected.eventsRecorded = 5
        #expect(read.statistics == expected)
        // Another producer's profile has no line.
        let decoded = try DecodedProfile.decode(Threads.pprof(threads: []))
        #expect(decoded.recorded == nil)
    }
}
