import Pprof

/// Hooks inlined into a module other than Pprof, as in a user's program: in a release build the
/// thread-local pointer they read must be the library's own.
@inline(never)
public func secondModuleWorkload(outer: Int, inner: Int) {
    for _ in 0..<outer {
        let t = Trace.enter("second.outer")
        for _ in 0..<inner { Trace.scope("second.inner") {} }
        Trace.exit(t)
    }
}
