import CPprof

/// Switches PprofMemory's counting off and on at run time, for measurements that compare a
/// program with and without it in one run (`pprof-demo --memory-overhead-rounds`). Off, the hooks
/// only forward (as with `PPROF_MEMORY=0`) and the recorder stops recording for them; what is
/// allocated meanwhile is not counted, so profiles taken across a switch are not exact.
///
/// ```swift
/// MemorySwitch.set(counting: false)   // the hooks forward only
/// MemorySwitch.set(counting: true)    // counting and sampling again
/// ```
package enum MemorySwitch {
    /// Whether the hooks are counting; false also when they are not linked or stand aside.
    package static var isCounting: Bool { CPprof_getMemoryHooks() == 1 }

    /// Turns counting off or on; does nothing unless the hooks are linked and not standing aside.
    package static func set(counting: Bool) {
        let now = CPprof_getMemoryHooks()
        guard now == 1 || now == 3, counting != (now == 1) else { return }
        Recorder.initializeIfNeeded()
        let aggregator = Recorder.shared.aggregator
        if counting {
            _ = aggregator.hold(.memory)
            CPprof_setMemoryHooks(1)
        } else {
            CPprof_setMemoryHooks(3)
            aggregator.release(.memory)
        }
    }
}
