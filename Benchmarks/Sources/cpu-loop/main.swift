// cpu-loop: what CPU sampling costs a CPU-bound loop of recorded scopes (issue 15).
//
// Each unit of work is a scope with two nested scopes, each doing about 150 ns of arithmetic
// (a dependent xorshift chain), so a unit is about 400 ns and three recorded pairs. Every round
// opens an fprof window, runs --units units, and stops it; the time per unit is read by
// CLOCK_MONOTONIC (wall) and by the thread's own CPU clock (what the machine's other processes
// take the core for is not in it). PPROF_CPU_HZ is read once, when the recorder starts, so the
// rate is compared across processes: `cpu-ab.sh` runs this with PPROF_CPU_HZ=0, 100 and 250 in
// adjacent runs and takes the ratios within each group.
//
// Besides the loop's rate, each round counts:
//   - the samples its profile holds (the "swift-pprof: … cpu_samples=N" comment line of
//     `pprof()`, gunzipped here) and the signals the handler took (CPprof_cpuSignalsHandled);
//   - the CPU time of every other thread of the process (the aggregator, which charges the
//     samples), from /proc/self/task/TID/schedstat (nanoseconds), and the main thread's CPU in
//     `stop()` (which folds what is left): attribution's cost, against the same at 0 Hz.
//
// --signal-hz H (needs PPROF_CPU_HZ > 0, so that the handler is installed) adds a helper thread
// that sends the loop's thread SIGPROF H times a second with tgkill in every other round: the
// loop's extra CPU time in those rounds divided by the extra signals is the cost of one signal's
// delivery, handler and return on the interrupted thread, measured within one process.
//
// --blocked-rounds (needs PPROF_CPU_HZ > 0) blocks SIGPROF on the loop's thread in every other
// round instead, while its timer runs: the signal stays pending (one, taken after the round),
// so those rounds are the same process, windows and timers without the samples, and the ratio
// of adjacent rounds is sampling's cost to the loop without comparing processes.
//
// --self-signal-every K (needs PPROF_CPU_HZ > 0) has the loop's thread send itself SIGPROF with
// tgkill every K units in every other round, and signal 0 (the same system calls, nothing
// delivered) every K units in the rounds between: the difference is delivery, handler and
// sigreturn on the thread, as a timer's signal arrives (on the thread's own CPU, no
// inter-processor interrupt, which a helper thread's tgkill costs a VM).
//
//   PPROF_CPU_HZ=100 swift run -c release cpu-loop [--rounds 10] [--units 1000000]
//   PPROF_CPU_HZ=100 swift run -c release cpu-loop --blocked-rounds --rounds 20
//   PPROF_CPU_HZ=100 swift run -c release cpu-loop --signal-hz 2000 --rounds 20

import CBaseline
import CPprof
import CZlib
import Figures
import Pprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var rounds = 10
    var units = 1_000_000
    var signalHz = 0
    var blockedRounds = false
    var selfSignalEvery = 0

    static func parse(_ arguments: ArraySlice<String>) -> Options {
        var options = Options()
        var rest = arguments
        func number(_ flag: String) -> Int {
            guard let text = rest.popFirst(), let n = Int(text), n >= 0 else { fail("\(flag) needs a count") }
            return n
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--rounds": options.rounds = max(1, number(argument))
            case "--units": options.units = max(1, number(argument))
            case "--signal-hz": options.signalHz = number(argument)
            case "--blocked-rounds": options.blockedRounds = true
            case "--self-signal-every": options.selfSignalEvery = number(argument)
            case "--help", "-h":
                print(
                    "usage: [PPROF_CPU_HZ=H] cpu-loop [--rounds R] [--units N] [--signal-hz H | --blocked-rounds | --self-signal-every K]"
                )
                exit(0)
            default: fail("unknown argument \(argument)")
            }
        }
        return options
    }
}

func fail(_ message: String) -> Never {
    let line = Array("cpu-loop: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

// MARK: The loop

@inline(never)
func spin(_ seed: UInt64, _ steps: Int) -> UInt64 {
    var x = seed | 1
    for _ in 0..<steps {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
    }
    return x
}

@inline(never)
func unitsLoop(_ units: Int) {
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<units {
        x = Trace.scope("unit") {
            let a = Trace.scope("unit.left") { spin(x, 100) }
            return Trace.scope("unit.right") { spin(a, 100) }
        }
    }
    CBaseline_sink(x)
}

/// The loop, with a tgkill of the thread itself every `every` units: `signal` SIGPROF, or 0 (the
/// same system calls, no signal).
@inline(never)
func selfSignalLoop(_ units: Int, every: Int, signal: Int32) {
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    var next = every
    for i in 0..<units {
        x = Trace.scope("unit") {
            let a = Trace.scope("unit.left") { spin(x, 100) }
            return Trace.scope("unit.right") { spin(a, 100) }
        }
        if i == next {
            CBaseline_signalSelf(signal)
            next += every
        }
    }
    CBaseline_sink(x)
}

// MARK: What the process's threads used

/// Nanoseconds on a CPU of every thread of this process but `excluded` (schedstat's first field).
func otherThreadsCPUNanos(excluding excluded: Set<Int32>) -> UInt64 {
    guard let dir = opendir("/proc/self/task") else { return 0 }
    defer { closedir(dir) }
    var total: UInt64 = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let tid = Int32(name), !excluded.contains(tid) else { continue }
        guard let file = fopen("/proc/self/task/\(tid)/schedstat", "r") else { continue }
        var line = [CChar](repeating: 0, count: 128)
        if fgets(&line, 128, file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            total += UInt64(text.split(separator: " ").first ?? "0") ?? 0
        }
        fclose(file)
    }
    return total
}

/// A number after `key` in the profile's machine-readable comment line (gunzipped pprof).
func commentNumber(_ pprof: [UInt8], _ keys: [String]) -> [UInt64] {
    var capacity = max(1 << 16, pprof.count * 16)
    var message: [UInt8] = []
    while true {
        message = [UInt8](repeating: 0, count: capacity)
        var stream = z_stream()
        var result: Int32 = 0
        var produced = 0
        pprof.withUnsafeBufferPointer { input in
            message.withUnsafeMutableBufferPointer { output in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = UInt32(input.count)
                stream.next_out = output.baseAddress
                stream.avail_out = UInt32(output.count)
                inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
                result = inflate(&stream, Z_FINISH)
                produced = output.count - Int(stream.avail_out)
                inflateEnd(&stream)
            }
        }
        // Z_BUF_ERROR: the message did not fit; anything else ends (a broken stream reads 0s).
        if result == Z_BUF_ERROR && capacity < 1 << 30 {
            capacity *= 4
            continue
        }
        message.removeSubrange(produced...)
        break
    }
    // The comment is one string of the string table: printable, between non-printable bytes.
    let text = String(decoding: message.map { $0 >= 32 && $0 < 127 ? $0 : 10 }, as: UTF8.self)
    let marker = "swift-pprof: "
    guard let piece = text.split(separator: "\n").first(where: { $0.contains(marker) }),
        let start = piece.firstRange(of: marker)
    else {
        return keys.map { _ in 0 }
    }
    let line = piece[start.lowerBound...]
    let words = line.split(separator: " ")
    return keys.map { key in
        words.first { $0.hasPrefix(key + "=") }.flatMap { UInt64($0.dropFirst(key.count + 1)) } ?? 0
    }
}

// MARK: The signalling helper

final class Signaller: @unchecked Sendable {
    let target: Int64
    let hz: Int
    /// 1 while the helper should signal; read by the helper, written by the loop's thread.
    let on = Atomic<Int32>(0)
    let sent = Atomic<UInt64>(0)
    let tid = Atomic<Int32>(0)

    init(target: Int64, hz: Int) {
        self.target = target
        self.hz = hz
    }

    func start() {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread,
            nil,
            { argument in
                Unmanaged<Signaller>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            },
            box
        )
        while tid.load(ordering: .acquiring) == 0 { usleep(1000) }
    }

    func run() {
        tid.store(CBaseline_threadID(), ordering: .releasing)
        let period = 1_000_000_000 / UInt64(max(1, hz))
        var next = CBaseline_monotonicNanos()
        while true {
            next += period
            let now = CBaseline_monotonicNanos()
            if next > now {
                var ts = timespec(tv_sec: Int((next - now) / 1_000_000_000), tv_nsec: Int((next - now) % 1_000_000_000))
                nanosleep(&ts, nil)
            } else {
                next = now
            }
            if on.load(ordering: .relaxed) != 0 {
                _ = CPprof_cpuSignalThread(target)
                sent.add(1, ordering: .relaxed)
            }
        }
    }
}

// MARK: Main

let options = Options.parse(CommandLine.arguments.dropFirst())
let hzSetting = getenv("PPROF_CPU_HZ").map { String(cString: $0) } ?? "(default)"
let mainTID = CBaseline_threadID()

// Registers the thread and warms the loop up (and the probes) before any timed round.
do {
    let window = Profiler.start()
    unitsLoop(options.units / 10)
    _ = window.stop()
}

let signaller = options.signalHz > 0 ? Signaller(target: Int64(mainTID), hz: options.signalHz) : nil
signaller?.start()
let excluded: Set<Int32> = [mainTID, signaller?.tid.load(ordering: .acquiring) ?? -1]

struct Round {
    var wall = 0.0, cpu = 0.0, samples = 0.0, signals = 0.0, dropped = 0.0
    var others = 0.0, stop = 0.0, sent = 0.0
}
var plain: [Round] = []
var signalled: [Round] = []
let comparing = signaller != nil || options.blockedRounds || options.selfSignalEvery > 0
func maskSIGPROF(_ how: Int32) {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGPROF)
    pthread_sigmask(how, &set, nil)
}
for round in 0..<(options.rounds * (comparing ? 2 : 1)) {
    // The other rounds: signalled by the helper, or with SIGPROF blocked.
    let signalling = comparing && round % 2 == 1
    let sentBefore = signaller?.sent.load(ordering: .relaxed) ?? 0
    let othersBefore = otherThreadsCPUNanos(excluding: excluded)
    let signalsBefore = CPprof_cpuSignalsHandled()
    let window = Profiler.start()
    if signalling { signaller?.on.store(1, ordering: .relaxed) }
    if signalling && options.blockedRounds { maskSIGPROF(SIG_BLOCK) }
    let wallStart = CBaseline_monotonicNanos()
    let cpuStart = CBaseline_threadCPUNanos()
    if options.selfSignalEvery > 0 {
        selfSignalLoop(options.units, every: options.selfSignalEvery, signal: signalling ? SIGPROF : 0)
    } else {
        unitsLoop(options.units)
    }
    let cpuEnd = CBaseline_threadCPUNanos()
    let wallEnd = CBaseline_monotonicNanos()
    if signalling { signaller?.on.store(0, ordering: .relaxed) }
    if signalling && options.blockedRounds { maskSIGPROF(SIG_UNBLOCK) }
    let profile = window.stop()
    let stopEnd = CBaseline_threadCPUNanos()
    let signals = CPprof_cpuSignalsHandled() - signalsBefore
    let others = otherThreadsCPUNanos(excluding: excluded) - othersBefore
    let counts = commentNumber(profile.pprof(), ["cpu_samples", "cpu_dropped"])
    let units = Double(options.units)
    let figures = Round(
        wall: Double(wallEnd - wallStart) / units,
        cpu: Double(cpuEnd - cpuStart) / units,
        samples: Double(counts[0]),
        signals: Double(signals),
        dropped: Double(counts[1]),
        others: Double(others),
        stop: Double(stopEnd - cpuEnd),
        sent: Double((signaller?.sent.load(ordering: .relaxed) ?? 0) - sentBefore)
    )
    if signalling { signalled.append(figures) } else { plain.append(figures) }
}

func medians(_ rounds: [Round]) -> Round {
    Round(
        wall: median(rounds.map(\.wall)),
        cpu: median(rounds.map(\.cpu)),
        samples: median(rounds.map(\.samples)),
        signals: median(rounds.map(\.signals)),
        dropped: median(rounds.map(\.dropped)),
        others: median(rounds.map(\.others)),
        stop: median(rounds.map(\.stop)),
        sent: median(rounds.map(\.sent))
    )
}

// One line a run, for cpu-ab.sh: medians over the rounds.
let m = medians(plain)
print(
    "cpu-loop hz=\(hzSetting) wall_ns=\(format(m.wall, decimals: 3)) cpu_ns=\(format(m.cpu, decimals: 3))"
        + " samples=\(format(m.samples, decimals: 1)) signals=\(format(m.signals, decimals: 1))"
        + " dropped=\(format(m.dropped, decimals: 0)) others_ns=\(format(m.others, decimals: 0))"
        + " stop_ns=\(format(m.stop, decimals: 0)) units=\(options.units) rounds=\(plain.count)"
)
if options.blockedRounds {
    // Per pair of adjacent rounds (one with samples, one with SIGPROF blocked): the rate ratio,
    // and the loop's extra CPU time over the samples it took.
    var wallRatios: [Double] = []
    var cpuRatios: [Double] = []
    var perSample: [Double] = []
    var perSampleOthers: [Double] = []
    for (a, b) in zip(plain, signalled) {
        wallRatios.append(b.wall / a.wall)
        cpuRatios.append(b.cpu / a.cpu)
        if a.signals > b.signals {
            perSample.append((a.cpu - b.cpu) * Double(options.units) / (a.signals - b.signals))
            perSampleOthers.append((a.others - b.others) / (a.signals - b.signals))
        }
    }
    let b = medians(signalled)
    print(
        "blocked hz=\(hzSetting) wall_ns=\(format(b.wall, decimals: 3)) cpu_ns=\(format(b.cpu, decimals: 3))"
            + " samples=\(format(b.samples, decimals: 1)) signals=\(format(b.signals, decimals: 1))"
            + " others_ns=\(format(b.others, decimals: 0))"
    )
    func spread(_ values: [Double], _ decimals: Int) -> String {
        let sorted = values.sorted()
        return "\(format(median(sorted), decimals: decimals)) (\(format(sorted.first ?? 0, decimals: decimals)) to "
            + "\(format(sorted.last ?? 0, decimals: decimals)), \(sorted.count) pairs)"
    }
    print(
        "rate sampled / SIGPROF blocked, adjacent rounds: wall \(spread(wallRatios, 4)); thread CPU \(spread(cpuRatios, 4))"
    )
    print("per sample: loop thread \(spread(perSample, 0)) ns; other threads \(spread(perSampleOthers, 0)) ns")
}
if signaller != nil || options.selfSignalEvery > 0 {
    // Per pair of adjacent rounds (one without, one with the helper's signals): the loop's
    // extra CPU time over the extra signals it took.
    var perSignal: [Double] = []
    var perSignalOthers: [Double] = []
    for (a, b) in zip(plain, signalled) where b.signals > a.signals {
        perSignal.append((b.cpu - a.cpu) * Double(options.units) / (b.signals - a.signals))
        perSignalOthers.append((b.others - a.others) / (b.signals - a.signals))
    }
    let s = medians(signalled)
    print(
        "signalled hz=\(hzSetting)+\(signaller != nil ? "\(options.signalHz)Hz" : "self/\(options.selfSignalEvery)") wall_ns=\(format(s.wall, decimals: 3))"
            + " cpu_ns=\(format(s.cpu, decimals: 3)) samples=\(format(s.samples, decimals: 1))"
            + " signals=\(format(s.signals, decimals: 1)) sent=\(format(s.sent, decimals: 0))"
            + " dropped=\(format(s.dropped, decimals: 0)) others_ns=\(format(s.others, decimals: 0))"
    )
    let sorted = perSignal.sorted()
    let sortedOthers = perSignalOthers.sorted()
    print(
        "per extra signal (median of \(sorted.count) adjacent round pairs): loop thread "
            + "\(format(median(sorted), decimals: 0)) ns (\(format(sorted.first ?? 0, decimals: 0)) to "
            + "\(format(sorted.last ?? 0, decimals: 0))); other threads (attribution) "
            + "\(format(median(sortedOthers), decimals: 0)) ns (\(format(sortedOthers.first ?? 0, decimals: 0)) to "
            + "\(format(sortedOthers.last ?? 0, decimals: 0)))"
    )
}
