/// What keeps the hooks recording, counted: every open window, timeline and thread-tracking
/// hold is one. One count decides the recording flag, so nothing opens a throwaway window to
/// turn recording on, and two holders never turn each other off.
///
/// ```swift
/// var demand = Demand()
/// demand.hold(.counting)                        // a cprof window: count calls, read no clock
/// demand.flag(timedMode: ModeFlag.tsc)          // ModeFlag.counting
/// demand.hold(.tracking)                        // thread tracking needs the clock
/// demand.flag(timedMode: ModeFlag.tsc)          // ModeFlag.tsc
/// ```
struct Demand: Equatable {
    enum Kind {
        /// A window that reads the clock (fprof, eprof) or a timeline.
        case timed
        /// A window that only counts calls (cprof).
        case counting
        /// Thread tracking: the threads endpoint's stacks need every hook recorded, timed.
        case tracking
        /// PprofMemory's exact allocations: the call paths from the program's start, so every
        /// hook recorded, counted (no clock needed).
        case memory
    }

    private(set) var timed = 0
    private(set) var counting = 0
    private(set) var tracking = 0
    private(set) var memory = 0

    mutating func hold(_ kind: Kind) {
        switch kind {
        case .timed: timed += 1
        case .counting: counting += 1
        case .tracking: tracking += 1
        case .memory: memory += 1
        }
    }

    /// Gives one hold back; a release without a hold is ignored.
    mutating func release(_ kind: Kind) {
        switch kind {
        case .timed: timed = max(0, timed - 1)
        case .counting: counting = max(0, counting - 1)
        case .tracking: tracking = max(0, tracking - 1)
        case .memory: memory = max(0, memory - 1)
        }
    }

    var isRecording: Bool { timed + counting + tracking + memory > 0 }

    /// The flag the hooks should read: timed while anything needs the clock, counting while only
    /// cprof windows or memory profiling hold it, else off.
    func flag(timedMode: UInt8) -> UInt8 {
        if timed > 0 || tracking > 0 { return timedMode }
        return counting > 0 || memory > 0 ? ModeFlag.counting : ModeFlag.off
    }
}
