import CPprof
import CPprofMemory

/// The allocation hooks that linking `PprofMemory` installs, and whether they are active.
///
/// Depending on this product defines `malloc`, `free`, `calloc`, `realloc`, `posix_memalign`,
/// `aligned_alloc`, `memalign`, `valloc`, `pvalloc` and `malloc_usable_size` in the executable.
/// The Swift runtime, Foundation and every other library then allocate through them. Each call
/// is forwarded to the next definition (`dlsym(RTLD_NEXT)`: glibc, or a preloaded jemalloc or
/// heaptrack), after counting it exactly on the calling thread and sampling one block per
/// `PPROF_MEMORY_RATE` bytes on average (default 524288, as Go's `MemProfileRate`; 1 samples
/// every block, 0 none). `PPROF_MEMORY=0` switches them off; under the address or thread
/// sanitizer, which own malloc, they stand aside and only forward. The `PprofDisabled` trait
/// compiles them out.
///
/// ```swift
/// import PprofMemory
///
/// switch MemoryHooks.status {
/// case .active: print("counting allocations, one sample per \(MemoryHooks.rate) bytes")
/// case .standingAside(let reason): print("allocation hooks inactive: \(reason)")
/// case .switchedOff, .compiledOut: break
/// }
/// ```
public enum MemoryHooks {
    /// What the hooks are doing in this process.
    public enum Status: Equatable, Sendable {
        /// Counting every allocation, and sampling if the rate is not 0.
        case active
        /// Linked, but another definition of malloc owns the process (a sanitizer's, or libc.a's
        /// in a `-static-executable` build); the hooks only forward.
        case standingAside(reason: String)
        /// Linked, but switched off with `PPROF_MEMORY=0`.
        case switchedOff
        /// Compiled out by the `PprofDisabled` trait.
        case compiledOut
    }

    /// What the hooks are doing; set before `main` runs, and changed after only by a measurement
    /// that switches counting off and on (`pprof-demo --memory-overhead-rounds`).
    public static var status: Status {
        guard CPprofMemory_compiledIn() != 0 else { return .compiledOut }
        switch CPprof_getMemoryHooks() {
        case 1: return .active
        case 2:
            switch CPprofMemory_getStandAsideReason() {
            case 1: return .standingAside(reason: "the address sanitizer owns malloc")
            case 2: return .standingAside(reason: "the thread sanitizer owns malloc")
            default: return .standingAside(reason: "another definition of malloc is the one in use")
            }
        case 3: return .switchedOff
        default: return .compiledOut
        }
    }

    /// The mean bytes between sampled blocks (`PPROF_MEMORY_RATE`).
    public static var rate: Int { Int(CPprof_getMemoryRate()) }
}
