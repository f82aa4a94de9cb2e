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

// Unnamed scopes in another module, as a user's code has them: in a release build the hooks are
// inlined here, in a debug build they are called from here. Either way the frame is named after
// the function below, qualified. `@inline(never)` keeps each function its own symbol.

/// A struct with an unnamed scope in a method, a named one, and one in an initialiser.
public struct SecondParser {
    public let size: Int

    @inline(never)
    public init(bytes: [UInt8]) {
        size = Trace.scope { bytes.count }
    }

    @inline(never)
    public func parse(_ text: String) -> Int {
        let t = Trace.enter()
        defer { Trace.exit(t) }
        return text.utf8.count + size
    }

    @inline(never)
    public func parseNamed(_ text: String) -> Int {
        Trace.scope("second.named") { text.utf8.count }
    }
}

/// A generic type with a generic method.
public struct SecondBox<Value> {
    public var value: Value

    public init(_ value: Value) { self.value = value }

    @inline(never)
    public func map<Result>(_ transform: (Value) -> Result) -> Result {
        Trace.scope { transform(value) }
    }
}

/// An unnamed scope inside a closure that stays a closure: it is stored, and called through the
/// property, so no optimizer can inline it into its caller.
public final class SecondHandlers {
    public var handler: (Int) -> Int

    @inline(never)
    public init() {
        handler = { x in Trace.scope { x + 1 } }
    }
}
