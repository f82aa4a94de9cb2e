#if canImport(Glibc)
import Glibc
#endif

/// The environment variables the recorder reads once, at its first use.
///
/// - `PPROF_OUTPUT=path`: record from the first hook to exit, then write the profile there
///   (`%p` becomes the process id).
/// - `PPROF_MODE=fprof|eprof|cprof`: the mode of that whole-run profile (default fprof).
/// - `PPROF_RING_EVENTS=N`: events per thread's ring, a power of two from 1024 (default 131072).
/// - `PPROF_CLOCK=monotonic`: use CLOCK_MONOTONIC even where the TSC is usable.
/// - `PPROF_TRACE_OUTPUT=path`: record from the first hook to exit and write the events as a
///   timeline there (`%p` becomes the process id): Chrome trace event JSON if the path ends in
///   `.json`, else Perfetto's protobuf trace; at most `PPROF_TRACE_BYTES` bytes of events (default
///   67108864, 64 MiB), after which the timeline is cut and says so. `PPROF_TRACE_EVENTS=N`
///   bounds its events as well (no bound by default).
/// - `PPROF_TRACK_THREADS=1`: keep recording on from the first hook, so that
///   `/debug/pprof/threads` can say what every thread is inside (each hook then costs what a
///   recorded one does).
/// - `PPROF_MAX_NODES=N`: the most call paths the call tree keeps, from 64 (default 1048576,
///   about 100 MB); new paths beyond it are counted under a `(call tree full)` frame.
/// - `PPROF_MEMORY_OUTPUT=path`: with PprofMemory linked, write the heap profile there at exit
///   (`%p` becomes the process id), atomically, as `PPROF_OUTPUT` writes its profile.
///   (`PPROF_MEMORY_RATE` and `PPROF_MEMORY=0` are read by the hooks themselves.)
/// - `PPROF_CPU_HZ=N`: CPU samples a second of each thread's CPU time while an fprof or eprof
///   window is open (default 100, Go's rate; 0 turns sampling off; at most 250, the kernel's
///   tick, above which no more signals arrive).
/// - `PPROF_THREAD_LABELS=1`: a `thread` label (the thread's name) on the samples of sync
///   scopes. Off by default: in Pyroscope each label value is a series of its own.
///
/// A value that makes no sense gets one line on stderr and the default.
struct Environment {
    var variables: [String: String]
    var output: String?
    var mode: Profile.Mode = .fprof
    var ringCapacity: Int = 1 << 17
    var threadLabels = false
    var trackThreads = false
    var traceOutput: String?
    var memoryOutput: String?
    var traceEvents = TimelineWindow.defaultLimit
    var traceBytes = TimelineWindow.defaultBytes
    var nodeLimit = CallTree.defaultNodeLimit
    var cpuHz = 100

    static func read() -> Environment {
        var variables: [String: String] = [:]
        for name in [
            "PPROF_OUTPUT", "PPROF_MODE", "PPROF_RING_EVENTS", "PPROF_CLOCK", "PPROF_THREAD_LABELS",
            "PPROF_TRACE_OUTPUT", "PPROF_TRACE_EVENTS", "PPROF_TRACE_BYTES", "PPROF_TRACK_THREADS", "PPROF_MAX_NODES",
            "PPROF_MEMORY_OUTPUT", "PPROF_CPU_HZ",
        ] {
            if let value = getenv(name) {
                variables[name] = String(
                    decoding: UnsafeRawBufferPointer(start: value, count: strlen(value)),
                    as: UTF8.self
                )
            }
        }
        return parsed(variables)
    }

    /// The configuration `variables` give, each checked as `read()` checks it (tests).
    static func parsed(_ variables: [String: String]) -> Environment {
        var environment = Environment(variables: variables)
        if let output = variables["PPROF_OUTPUT"], !output.isEmpty { environment.output = output }
        if let mode = variables["PPROF_MODE"] {
            if let parsed = Profile.Mode(rawValue: mode) {
                environment.mode = parsed
            } else {
                warn("PPROF_MODE=\(mode) is not fprof, eprof or cprof; recording in fprof mode")
            }
        }
        if let text = variables["PPROF_RING_EVENTS"] {
            if let n = Int(text), n >= 1024, n <= 1 << 28, n & (n - 1) == 0 {
                environment.ringCapacity = n
            } else {
                warn("PPROF_RING_EVENTS=\(text) is not a power of two from 1024 to 268435456; using 131072")
            }
        }
        if let clock = variables["PPROF_CLOCK"], clock != "monotonic", clock != "tsc" {
            warn("PPROF_CLOCK=\(clock) is not tsc or monotonic; choosing by the CPU")
        }
        if let trace = variables["PPROF_TRACE_OUTPUT"], !trace.isEmpty { environment.traceOutput = trace }
        if let memory = variables["PPROF_MEMORY_OUTPUT"], !memory.isEmpty { environment.memoryOutput = memory }
        if let text = variables["PPROF_TRACE_EVENTS"] {
            if let n = Int(text), n >= 1, n <= 1 << 30 {
                environment.traceEvents = n
            } else {
                warn("PPROF_TRACE_EVENTS=\(text) is not a number from 1 to 1073741824; no bound on events")
            }
        }
        if let text = variables["PPROF_TRACE_BYTES"] {
            if let n = Int(text), n >= 1024, n <= 1 << 40 {
                environment.traceBytes = n
            } else {
                warn("PPROF_TRACE_BYTES=\(text) is not a number from 1024 to 1099511627776; keeping 67108864 bytes")
            }
        }
        if let text = variables["PPROF_MAX_NODES"] {
            if let n = Int(text), n >= 64, n <= 1 << 30 {
                environment.nodeLimit = n
            } else {
                warn(
                    "PPROF_MAX_NODES=\(text) is not a number from 64 to 1073741824; keeping \(CallTree.defaultNodeLimit)"
                )
            }
        }
        if let text = variables["PPROF_CPU_HZ"] {
            if let n = Int(text), n >= 0, n <= CPUSampling.maximumHz {
                environment.cpuHz = n
            } else if let n = Int(text), n > CPUSampling.maximumHz {
                warn(
                    "PPROF_CPU_HZ=\(text) is above \(CPUSampling.maximumHz), the kernel's tick, which no more"
                        + " signals pass; sampling at \(CPUSampling.maximumHz) Hz"
                )
                environment.cpuHz = CPUSampling.maximumHz
            } else {
                warn("PPROF_CPU_HZ=\(text) is not a number from 0 to \(CPUSampling.maximumHz); sampling at 100 Hz")
            }
        }
        if let track = variables["PPROF_TRACK_THREADS"] {
            switch track {
            case "1", "true", "yes": environment.trackThreads = true
            case "0", "false", "no", "": break
            default: warn("PPROF_TRACK_THREADS=\(track) is not 1 or 0; not tracking threads")
            }
        }
        if let labels = variables["PPROF_THREAD_LABELS"] {
            switch labels {
            case "1", "true", "yes": environment.threadLabels = true
            case "0", "false", "no", "": break
            default: warn("PPROF_THREAD_LABELS=\(labels) is not 1 or 0; no thread labels")
            }
        }
        return environment
    }
}
