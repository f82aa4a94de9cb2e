import Foundation
import PprofSecondModule
import PprofTestSupport
import Testing

@testable import Pprof

private struct AsyncFailure: Error {}

/// An actor whose methods use async scopes, as a service's would under Swift 6 checking.
private actor Counter {
    var value = 0
    func bump() async {
        await Trace.scope("actor.bump") {
            value += 1
            await Task.yield()
        }
    }
}

/// Async scopes: the call path across awaits, thread hops and child tasks, with exact counts.
@Suite(.serialized, .recorderExclusive)
struct AsyncScopeTests {
    @Test func pathSurvivesAwaitsAndThreadHops() async {
        let window = Profiler.start()
        for _ in 0..<50 {
            await Trace.scope("hop.outer") {
                await Task.yield()
                Trace.scope("hop.sync") {}
                try? await Task.sleep(nanoseconds: 10_000)
                await Trace.scope("hop.inner") {
                    await Task.yield()
                    Trace.scope("hop.sync") { Trace.scope("hop.leaf") {} }
                }
                Trace.scope("hop.sync") {}
            }
        }
        let paths = PathTable(window.stop())
        #expect(paths.calls["hop.outer"] == 50)
        #expect(paths.calls["hop.outer;hop.sync"] == 100)
        #expect(paths.calls["hop.outer;hop.inner"] == 50)
        #expect(paths.calls["hop.outer;hop.inner;hop.sync"] == 50)
        #expect(paths.calls["hop.outer;hop.inner;hop.sync;hop.leaf"] == 50)
        #expect(paths.calls.keys.filter { $0.hasPrefix("hop.sync") || $0.hasPrefix("hop.inner") }.isEmpty)
    }

    @Test func childTasksInheritThePathAndDetachedTasksStartFresh() async {
        let window = Profiler.start()
        await Trace.scope("kids.parent") {
            async let a: Void = Trace.scope("kids.asyncLet") { Trace.scope("kids.work") {} }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { await Trace.scope("kids.group") { Trace.scope("kids.work") {} } }
                }
            }
            await Task { Trace.scope("kids.unstructured") {} }.value
            await Task.detached { Trace.scope("kids.detached") {} }.value
            await a
        }
        let paths = PathTable(window.stop())
        #expect(paths.calls["kids.parent"] == 1)
        #expect(paths.calls["kids.parent;kids.asyncLet"] == 1)
        #expect(paths.calls["kids.parent;kids.asyncLet;kids.work"] == 1)
        #expect(paths.calls["kids.parent;kids.group"] == 8)
        #expect(paths.calls["kids.parent;kids.group;kids.work"] == 8)
        #expect(paths.calls["kids.parent;kids.unstructured"] == 1)
        #expect(paths.calls["kids.detached"] == 1)
        #expect(paths.calls["kids.parent;kids.detached"] == nil)
    }

    @Test func errorsAndCancellationEndTheScopeOnce() async {
        let window = Profiler.start()
        for i in 0..<20 {
            do {
                try await Trace.scope("err.outer") {
                    try await Trace.scope("err.inner") {
                        await Task.yield()
                        if i % 2 == 0 { throw AsyncFailure() }
                    }
                }
            } catch {}
        }
        let task = Task {
            await Trace.scope("cancel.outer") {
                do {
                    try await Trace.scope("cancel.sleep") { try await Task.sleep(nanoseconds: 10_000_000_000) }
                } catch {}
            }
        }
        try? await Task.sleep(nanoseconds: 20_000_000)
        task.cancel()
        await task.value
        let paths = PathTable(window.stop())
        #expect(paths.calls["err.outer"] == 20)
        #expect(paths.calls["err.outer;err.inner"] == 20)
        #expect(paths.calls["cancel.outer"] == 1)
        #expect(paths.calls["cancel.outer;cancel.sleep"] == 1)
    }

    @Test func asyncScopesInsideActorMethods() async {
        let counter = Counter()
        let window = Profiler.start()
        await Trace.scope("mixed.outer") {
            for _ in 0..<10 { await counter.bump() }
        }
        let paths = PathTable(window.stop())
        #expect(paths.calls["mixed.outer;actor.bump"] == 10)
        #expect(await counter.value == 10)
    }

    /// A scope that sleeps 150 ms and does 60 ms of work in a sync scope: the work is work, the
    /// sleep is shown apart, and nothing is counted twice.
    @Test func suspensionIsNotWork() async throws {
        let window = Profiler.start()
        try await Trace.scope("susp.outer") {
            Trace.scope("susp.work") { spin(nanoseconds: 60_000_000) }
            try await Task.sleep(nanoseconds: 150_000_000)
        }
        let paths = PathTable(window.stop())
        let work = Double(paths.own["susp.outer;susp.work"] ?? 0) / 1e6
        let suspended = Double(paths.own["susp.outer;(suspended or unscoped)"] ?? 0) / 1e6
        #expect(work >= 59 && work < 80, "work \(work) ms")
        #expect(suspended >= 149 && suspended < 200, "suspended \(suspended) ms")
        #expect((paths.own["susp.outer"] ?? 0) == 0)
        #expect(paths.calls["susp.outer"] == 1)
    }

    @Test func asyncScopesFromAnotherModuleNestUnderThisOnes() async {
        let window = Profiler.start()
        await Trace.scope("first.outer") { await secondModuleAsyncWorkload(5) }
        let paths = PathTable(window.stop())
        #expect(paths.calls["first.outer;second.async"] == 5, "\(paths.calls)")
        #expect(paths.calls["first.outer;second.async;second.sync"] == 5)
    }
}
