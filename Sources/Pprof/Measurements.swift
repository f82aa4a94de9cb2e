/// What the recorder measures per call path: one small, fixed set of monotone counters that the
/// fold adds to, windows subtract, and encoders turn into pprof sample values.
///
/// A new measurement (allocations, bytes, CPU samples) is a new member here and a new sample
/// type in the encoder, not a new tree, window or encoder. Counting members only grow, so a
/// window's measurements are its end's minus its start's; the in-use members are a state, and a
/// window keeps its end's.
///
/// ```swift
/// var node = Measurements(calls: 2, wall: 150)
/// node += Measurements(calls: 1, wall: 50)
/// let window = node - Measurements(calls: 1, wall: 100)   // calls 2, wall 100
/// ```
package struct Measurements: Sendable, Hashable {
    /// Calls that completed along the path.
    package var calls: UInt64
    /// Own wall time: clock ticks in the call tree, nanoseconds once converted for a profile.
    package var wall: UInt64
    /// Blocks allocated in the path's own frame (PprofMemory's hooks; 0 without them), exactly.
    package var allocObjects: UInt64
    /// Their requested bytes.
    package var allocBytes: UInt64
    /// Blocks in use now, estimated from sampled ones (scaled as Go scales them); a state, not
    /// a count: a window keeps its end's, it does not subtract.
    package var inuseObjects: UInt64
    /// Their bytes, estimated likewise.
    package var inuseBytes: UInt64
    /// CPU samples (SIGPROF from the thread's CPU-time timer) taken in the path's own frame.
    package var cpuSamples: UInt64
    /// The CPU time they stand for: each sample its timer's period, in nanoseconds.
    package var cpuNanoseconds: UInt64

    @inlinable
    package init(
        calls: UInt64 = 0,
        wall: UInt64 = 0,
        allocObjects: UInt64 = 0,
        allocBytes: UInt64 = 0,
        inuseObjects: UInt64 = 0,
        inuseBytes: UInt64 = 0,
        cpuSamples: UInt64 = 0,
        cpuNanoseconds: UInt64 = 0
    ) {
        self.calls = calls
        self.wall = wall
        self.allocObjects = allocObjects
        self.allocBytes = allocBytes
        self.inuseObjects = inuseObjects
        self.inuseBytes = inuseBytes
        self.cpuSamples = cpuSamples
        self.cpuNanoseconds = cpuNanoseconds
    }

    package static let zero = Measurements()

    /// Whether every member is zero: a node a window can leave out.
    @inlinable
    package var isZero: Bool {
        calls == 0 && wall == 0 && allocObjects == 0 && allocBytes == 0 && inuseObjects == 0 && inuseBytes == 0
            && cpuSamples == 0 && cpuNanoseconds == 0
    }

    /// The members a call-path window shows (calls, wall and CPU time), the memory members zeroed.
    @inlinable
    package var timing: Measurements {
        Measurements(calls: calls, wall: wall, cpuSamples: cpuSamples, cpuNanoseconds: cpuNanoseconds)
    }

    @inlinable
    package static func + (a: Measurements, b: Measurements) -> Measurements {
        Measurements(
            calls: a.calls &+ b.calls,
            wall: a.wall &+ b.wall,
            allocObjects: a.allocObjects &+ b.allocObjects,
            allocBytes: a.allocBytes &+ b.allocBytes,
            inuseObjects: a.inuseObjects &+ b.inuseObjects,
            inuseBytes: a.inuseBytes &+ b.inuseBytes,
            cpuSamples: a.cpuSamples &+ b.cpuSamples,
            cpuNanoseconds: a.cpuNanoseconds &+ b.cpuNanoseconds
        )
    }

    @inlinable
    package static func - (a: Measurements, b: Measurements) -> Measurements {
        Measurements(
            calls: a.calls &- b.calls,
            wall: a.wall &- b.wall,
            allocObjects: a.allocObjects &- b.allocObjects,
            allocBytes: a.allocBytes &- b.allocBytes,
            // In use is a state: the later one stands.
            inuseObjects: a.inuseObjects,
            inuseBytes: a.inuseBytes,
            cpuSamples: a.cpuSamples &- b.cpuSamples,
            cpuNanoseconds: a.cpuNanoseconds &- b.cpuNanoseconds
        )
    }

    @inlinable
    package static func += (a: inout Measurements, b: Measurements) {
        a = a + b
    }

    /// The time members converted from clock ticks to nanoseconds (rounded); counts unchanged.
    /// A `nanosPerTick` of 0 (no clock: cprof) zeroes the time members.
    @inlinable
    package func converted(nanosPerTick: Double) -> Measurements {
        Measurements(
            calls: calls,
            wall: UInt64((Double(wall) * nanosPerTick).rounded()),
            allocObjects: allocObjects,
            allocBytes: allocBytes,
            inuseObjects: inuseObjects,
            inuseBytes: inuseBytes,
            cpuSamples: cpuSamples,
            cpuNanoseconds: cpuNanoseconds
        )
    }
}
