import CPprof
import Pprof
import PprofTestKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Checks that failed; any makes the process exit 1.
let failures = Atomic<Int>(0)

func say(_ text: String) {
    print(text)
    fflush(nil)
}

func check(_ condition: Bool, _ text: @autoclosure () -> String) {
    if !condition {
        failures.add(1, ordering: .relaxed)
        say("FAIL \(text())")
    }
}

/// The result line a test reads: the mode, then `key=value` words.
func result(_ mode: String, _ words: [String]) {
    say(([mode] + words).joined(separator: " "))
}

/// CLOCK_MONOTONIC in nanoseconds.
func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The calling thread's CPU time in nanoseconds.
func threadCPU() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Where spinning puts its work, so that the optimizer keeps it.
let sink = Atomic<Int>(0)

/// Uses the CPU for `nanoseconds` of wall time, so that the thread's CPU-time timer fires.
@inline(never)
func spin(nanoseconds: UInt64) {
    let end = now() + nanoseconds
    var x = 1
    while now() < end {
        for i in 0..<200 { x = x &* 31 &+ i }
    }
    sink.add(x & 1, ordering: .relaxed)
}

/// Uses `nanoseconds` of the thread's CPU time (at most `wallLimit` of wall time, on a busy
/// machine), so that a timer, were there one, would fire a known number of times.
@inline(never)
func spinCPU(nanoseconds: UInt64, wallLimit: UInt64 = 3_000_000_000) {
    let end = threadCPU() + nanoseconds
    let deadline = now() + wallLimit
    while threadCPU() < end && now() < deadline { spin(nanoseconds: 100_000) }
}

/// Sleeps `nanoseconds`, resuming after an interruption (helpers' sleeps are not what is tested).
func pause(nanoseconds: UInt64) {
    var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// A thread running `body`, for joining.
func spawn(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let status = pthread_create(
        &thread,
        nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        },
        box
    )
    if status != 0 {
        say("FAIL pthread_create: \(status)")
        exit(1)
    }
    return thread
}

func join(_ threads: [pthread_t]) {
    for thread in threads { pthread_join(thread, nil) }
}

/// The process's POSIX timers now: /proc/self/timers has one "ID:" line per timer.
func timerCount() -> Int {
    let fd = open("/proc/self/timers", O_RDONLY)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    var text: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        text += buffer[0..<n]
    }
    return String(decoding: text, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("ID:") }.count
}

/// Waits up to `seconds` for `condition`, polling every millisecond; returns whether it held.
func wait(seconds: Double, until condition: () -> Bool) -> Bool {
    let end = now() + UInt64(seconds * 1e9)
    while now() < end {
        if condition() { return true }
        pause(nanoseconds: 1_000_000)
    }
    return condition()
}

/// What a window's profile says about CPU samples, read back from its pprof encoding as a
/// consumer reads it: the statistics comment line, the English comments, the sample types.
struct CPUReport {
    var statistics: Profile.Statistics
    var statisticsLine: String
    var comments: [String]
    var sampleTypes: [String]

    init(_ profile: Profile) throws {
        let decoded = try DecodedProfile.decode(profile.pprof())
        comments = decoded.comments
        sampleTypes = decoded.sampleTypeNames
        statisticsLine = comments.first { $0.hasPrefix(Profile.statisticsLinePrefix) } ?? ""
        statistics = decoded.recorded?.statistics ?? Profile.Statistics()
    }
}
