import CPprof

#if canImport(Glibc)
import Glibc
#endif

/// The values of the recording flag that the hooks read (`CPprof_modeFlag`).
@usableFromInline
enum ModeFlag {
    /// Nothing records: a hook is one load and a branch.
    @inlinable static var off: UInt8 { 0 }
    /// Only cprof windows are open: count calls, read no clock.
    @inlinable static var counting: UInt8 { 1 }
    /// Record with the time-stamp counter.
    @inlinable static var tsc: UInt8 { 2 }
    /// Record with CLOCK_MONOTONIC.
    @inlinable static var monotonic: UInt8 { 3 }
    /// Not yet initialised: the first hook takes the slow path, which reads the environment.
    @inlinable static var uninitialized: UInt8 { 255 }
}

/// The recorder's clock: TSC ticks where the CPU keeps a constant, non-stop counter, else
/// CLOCK_MONOTONIC nanoseconds. Events keep raw ticks; a recorder's `ClockBase` converts them at
/// encode time with a ratio measured against CLOCK_MONOTONIC from start-up to now.
@usableFromInline
enum Clock {
    @inlinable @inline(__always)
    static func timestamp(_ mode: UInt8) -> UInt64 {
        if _fastPath(mode == ModeFlag.tsc) { return CPprof_rdtsc() }
        if mode == ModeFlag.monotonic { return monotonic() }
        return 0
    }

    /// Out of line, so that the inlined hooks stay small where the TSC is used.
    @usableFromInline @inline(never)
    static func monotonic() -> UInt64 {
        CPprof_monotonicNanos()
    }

    /// x86: the counter must tick at a constant rate and keep ticking in deep C-states
    /// (`constant_tsc` and `nonstop_tsc` in /proc/cpuinfo). arm64: cntvct_el0 always does.
    fileprivate static func counterIsReliable() -> Bool {
        #if arch(arm64)
        return true
        #elseif arch(x86_64)
        guard let info = readSmallFile("/proc/cpuinfo") else { return false }
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let words = Set(flags.split(separator: " "))
        return words.contains("constant_tsc") && words.contains("nonstop_tsc")
        #else
        return false
        #endif
    }
}

/// The clock a recorder chose and its origin: which timed mode the hooks use, and how its ticks
/// convert to nanoseconds (a ratio measured against CLOCK_MONOTONIC from the origin to now).
///
/// ```swift
/// let clock = ClockBase(environment: [:])      // PPROF_CLOCK=monotonic forces the slower clock
/// let start = clock.now()
/// let nanoseconds = Double(clock.now() - start) * clock.nanosecondsPerTick()
/// ```
struct ClockBase: Sendable {
    /// The flag value for timed recording on this machine (TSC or monotonic).
    let timedMode: UInt8
    private let originTicks: UInt64
    private let originNanos: UInt64

    /// Chooses the clock (`PPROF_CLOCK`, else by the CPU) and notes the origin.
    init(environment: [String: String]) {
        let forced = environment["PPROF_CLOCK"]
        timedMode = forced != "monotonic" && Clock.counterIsReliable() ? ModeFlag.tsc : ModeFlag.monotonic
        originNanos = CPprof_monotonicNanos()
        originTicks = Clock.timestamp(timedMode)
    }

    var sourceName: String { timedMode == ModeFlag.tsc ? "tsc" : "monotonic" }

    /// A timestamp in the timed mode's units.
    func now() -> UInt64 { Clock.timestamp(timedMode) }

    /// Nanoseconds per tick, measured from the origin to now (at least 2 ms of it).
    func nanosecondsPerTick() -> Double {
        if timedMode == ModeFlag.monotonic { return 1 }
        var ticks = now()
        var nanos = CPprof_monotonicNanos()
        while nanos &- originNanos < 2_000_000 {
            ticks = now()
            nanos = CPprof_monotonicNanos()
        }
        return Double(nanos &- originNanos) / Double(ticks &- originTicks)
    }
}

/// Reads a (small, procfs) file whole; nil if it cannot be opened.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
