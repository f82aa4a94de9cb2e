import Testing

@testable import Pprof

/// The aggregator's sleep between drains, on its own: it follows the busiest ring, within its
/// bounds, and never grows by more than twice from one drain to the next.
struct DrainScheduleTests {
    static let ms: UInt64 = 1_000_000

    @Test func nothingRecordingSleepsTheIdlePeriod() {
        var schedule = DrainSchedule()
        #expect(schedule.next(fullest: 0.9, now: 5 * Self.ms, recording: false) == DrainSchedule.idle)
        #expect(schedule.next(fullest: 0, now: 25 * Self.ms, recording: false) == DrainSchedule.idle)
    }

    @Test func recordingStartsFromTheInitialSleep() {
        var schedule = DrainSchedule()
        _ = schedule.next(fullest: 0, now: 5 * Self.ms, recording: false)
        // The first drain of a window knows no rate yet.
        #expect(schedule.next(fullest: 0.5, now: 6 * Self.ms, recording: true) == DrainSchedule.initial)
    }

    @Test func aQuietRingLetsTheSleepDoubleUpToTheLongest() {
        var schedule = DrainSchedule()
        var now = 1 * Self.ms
        _ = schedule.next(fullest: 0, now: now, recording: true)
        var sleeps: [Int] = []
        for _ in 0..<8 {
            now += UInt64(schedule.sleep)
            sleeps.append(schedule.next(fullest: 0.001, now: now, recording: true))
        }
        #expect(sleeps.prefix(4) == [2_000_000, 4_000_000, 8_000_000, 10_000_000])
        #expect(sleeps.allSatisfy { $0 <= DrainSchedule.longest })
        #expect(sleeps.last == DrainSchedule.longest)
    }

    @Test func aBusyRingShortensTheSleepToItsTargetFill() {
        var schedule = DrainSchedule()
        _ = schedule.next(fullest: 0, now: 1 * Self.ms, recording: true)
        // Half the ring filled in the last millisecond: an eighth of it takes a quarter of that.
        #expect(schedule.next(fullest: 0.5, now: 2 * Self.ms, recording: true) == 250_000)
        // A full ring (it dropped) in 250 µs: the shortest sleep, not less.
        #expect(schedule.next(fullest: 1, now: 2 * Self.ms + 250_000, recording: true) == DrainSchedule.shortest)
    }

    @Test func stoppingAndStartingAgainForgetsTheRate() {
        var schedule = DrainSchedule()
        var now = 1 * Self.ms
        _ = schedule.next(fullest: 0, now: now, recording: true)
        for _ in 0..<6 {
            now += UInt64(schedule.sleep)
            _ = schedule.next(fullest: 0, now: now, recording: true)
        }
        #expect(schedule.sleep == DrainSchedule.longest)
        now += 20 * Self.ms
        #expect(schedule.next(fullest: 0, now: now, recording: false) == DrainSchedule.idle)
        now += 20 * Self.ms
        #expect(schedule.next(fullest: 0, now: now, recording: true) == DrainSchedule.initial)
    }
}
