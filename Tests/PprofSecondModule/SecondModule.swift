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

/// Async scopes and labels inlined into another module: the task-local they bind is the library's.
@inline(never)
public func secondModuleAsyncWorkload(_ count: Int) async {
    await Trace.withLabels(["module": "second"]) {
        for _ in 0..<count {
            await Trace.scope("second.async") {
                await Task.yield()
                Trace.scope("second.sync") {}
            }
        }
    }
}
