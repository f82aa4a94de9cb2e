/// Measures what one recorded enter/exit pair costs on this machine, so each profile can say
/// how much of its time is the instrumentation's own.
///
/// The pair runs on a private ring that no aggregator sees, through the same inlined code as
/// the hooks (probe cache, bookkeeping, clock, ring writes); the best of 16 batches is kept.
enum Calibration {
    /// Clock ticks per pair in timed mode `mode`; 0 if no ring could be mapped for it.
    static func pairTicks(mode: UInt8) -> Double {
        guard let state = ThreadState.allocate(capacity: 4096, threadID: UInt32.max) else { return 0 }
        defer { state.deallocate() }
        state.cache(probe: UInt32.max, "calibration", #fileID, 1)
        let pairs = 256
        var best = Double.infinity
        for _ in 0..<16 {
            let start = Clock.timestamp(mode)
            for _ in 0..<pairs {
                let probe = state.probe("calibration", #fileID, 1)
                let token = state.enter(probe: probe, mode: mode)
                state.exit(token, timestamp: Clock.timestamp(mode))
            }
            let end = Clock.timestamp(mode)
            best = min(best, Double(end &- start) / Double(pairs))
            state.tail.pointee.store(state.head.pointee.load(ordering: .relaxed), ordering: .releasing)
        }
        return best
    }
}
