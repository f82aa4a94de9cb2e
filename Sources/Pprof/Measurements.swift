/// What the recorder measures per call path: one small, fixed set of monotone counters that the
/// fold adds to, windows subtract, and encoders turn into pprof sample values.
///
/// A new measurement (allocations, bytes, CPU samples) is a new member here and a new sample
/// type in the encoder, not a new tree, window or encoder. Members only grow, so a window's
/// measurements are its end's minus its start's.
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

    @inlinable
    package init(calls: UInt64 = 0, wall: UInt64 = 0) {
        self.calls = calls
        self.wall = wall
    }

    package static let zero = Measurements()

    /// Whether every member is zero: a node a window can leave out.
    @inlinable
    package var isZero: Bool { calls == 0 && wall == 0 }

    @inlinable
    package static func + (a: Measurements, b: Measurements) -> Measurements {
        Measurements(calls: a.calls &+ b.calls, wall: a.wall &+ b.wall)
    }

    @inlinable
    package static func - (a: Measurements, b: Measurements) -> Measurements {
        Measurements(calls: a.calls &- b.calls, wall: a.wall &- b.wall)
    }

    @inlinable
    package static func += (a: inout Measurements, b: Measurements) {
        a = a + b
    }

    /// The time members converted from clock ticks to nanoseconds (rounded); counts unchanged.
    /// A `nanosPerTick` of 0 (no clock: cprof) zeroes the time members.
    @inlinable
    package func converted(nanosPerTick: Double) -> Measurements {
        Measurements(calls: calls, wall: UInt64((Double(wall) * nanosPerTick).rounded()))
    }
}
