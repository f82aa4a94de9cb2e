import CPprof
import Synchronization

/// One open async frame (an async scope or a span): where it hangs, when it began, and the time
/// its task spent in frames nested in it, so that its own remainder is known when it ends.
///
/// A frame's time is measured by its task, not by a thread: it may end on another thread than it
/// began on. Only frames of the same task (or, outside tasks, the same thread) subtract from their
/// parent; a child task's frames run beside their parent's, not inside its time.
@usableFromInline
package final class AsyncFrame: @unchecked Sendable {
    /// The frame's call path (`CallPaths`). A span's is set when it is placed (`Spans.place`),
    /// before anything reads it.
    @usableFromInline var path: UInt32
    /// Who opened it (`CPprof_currentOwner`): its task, or outside a task its thread. Frames of
    /// one owner run one after another, so a frame's time includes its children's only when they
    /// have the same owner.
    let owner: UnsafeMutableRawPointer?
    /// Clock ticks when it began; 0 without a clock (cprof).
    let start: UInt64
    /// The frame it is nested in, if any (in this task or the one that started it).
    let parent: AsyncFrame?
    /// Ticks spent in frames nested in this one on the same task: async frames and outermost
    /// sync scopes. Only this frame's task writes it, one job at a time.
    var childTicks: UInt64 = 0

    init(path: UInt32, owner: UnsafeMutableRawPointer?, start: UInt64, parent: AsyncFrame?) {
        self.path = path
        self.owner = owner
        self.start = start
        self.parent = parent
    }
}

/// What a task carries in a task-local: its call path (frames and label sets) and its innermost
/// open frame. Child tasks inherit it (`async let`, task groups, `Task {}`); detached tasks start
/// from the root.
@usableFromInline
package struct AsyncContext: Sendable {
    package var path: UInt32
    package var frame: AsyncFrame?

    @usableFromInline
    init(path: UInt32, frame: AsyncFrame?) {
        self.path = path
        self.frame = frame
    }

    package static let root = AsyncContext(path: 0, frame: nil)

    /// The task-local itself (what `@TaskLocal` would declare), reachable from inlinable code so
    /// that an async scope binds it without a call in between.
    @usableFromInline static let taskLocal = TaskLocal<AsyncContext>(wrappedValue: .root)

    static var current: AsyncContext { taskLocal.get() }

    /// Another carrier of contexts, read beside the task-local: `PprofTracing` keeps its spans'
    /// contexts in `ServiceContext`, which it alone can read.
    private final class Provider: Sendable {
        let read: @Sendable () -> AsyncContext?
        init(_ read: @escaping @Sendable () -> AsyncContext?) { self.read = read }
    }

    /// The installed provider's address (retained for good; 0 for none), published once with a
    /// release exchange.
    private static let provider = Atomic<UInt>(0)

    /// Installs `provider` (once; later calls are ignored).
    static func install(provider read: @escaping @Sendable () -> AsyncContext?) {
        let box = Unmanaged.passRetained(Provider(read))
        let (exchanged, _) = provider.compareExchange(
            expected: 0,
            desired: UInt(bitPattern: box.toOpaque()),
            ordering: .acquiringAndReleasing
        )
        if !exchanged { box.release() }
    }

    /// The innermost context of the running task: the task-local's or the provider's, whichever
    /// is deeper. Both carriers are scoped to what runs inside them, so whichever was set last is
    /// nested in the other, and its path is the longer one.
    static func innermost() -> AsyncContext {
        let own = current
        guard let raw = UnsafeRawPointer(bitPattern: provider.load(ordering: .acquiring)),
            let other = Unmanaged<Provider>.fromOpaque(raw).takeUnretainedValue().read()
        else { return own }
        return Recorder.shared.paths.depth(of: other.path) > Recorder.shared.paths.depth(of: own.path) ? other : own
    }
}
