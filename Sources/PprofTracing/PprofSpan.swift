import Pprof
import Tracing

/// The span `PprofTracer` returns: a profile frame, and the wrapped tracer's span if there is one.
///
/// ```swift
/// let span = InstrumentationSystem.tracer.startSpan("flush")
/// defer { span.end() }
/// ```
///
/// Everything a span records besides its name, its time and its label attributes (events,
/// errors, status, links) goes to the wrapped span, or nowhere.
public final class PprofSpan: Tracing.Span, @unchecked Sendable {
    /// The span's frame; nil when no profile recorded as it started.
    let state: SpanState?
    private let wrapped: (any Tracing.Span)?
    /// The span's context: the wrapped span's, with `state` under `PprofSpanKey`.
    public let context: ServiceContext
    private let lock = SpinLock()
    private var name: String  // guarded by `lock` (read from `state` where there is one)
    private var ownAttributes: SpanAttributes = [:]  // guarded by `lock`

    init(state: SpanState?, context: ServiceContext, wrapped: (any Tracing.Span)?, name: String = "") {
        self.state = state
        self.context = context
        self.wrapped = wrapped
        self.name = name
    }

    // MARK: Span

    public var operationName: String {
        get { state?.name ?? wrapped?.operationName ?? lock.withLock { name } }
        set {
            if let state { state.name = newValue } else { lock.withLock { name = newValue } }
            wrapped?.operationName = newValue
        }
    }

    public var attributes: SpanAttributes {
        get { wrapped?.attributes ?? state?.attributes ?? lock.withLock { ownAttributes } }
        set {
            if let wrapped { wrapped.attributes = newValue }
            if let state {
                state.attributes = newValue
            } else if wrapped == nil {
                lock.withLock { ownAttributes = newValue }
            }
        }
    }

    public var isRecording: Bool {
        wrapped?.isRecording ?? (state?.isRecording ?? false)
    }

    public func setStatus(_ status: SpanStatus) {
        wrapped?.setStatus(status)
    }

    public func addEvent(_ event: SpanEvent) {
        wrapped?.addEvent(event)
    }

    public func recordError<Instant: TracerInstant>(
        _ error: Error,
        attributes: SpanAttributes,
        at instant: @autoclosure () -> Instant
    ) {
        wrapped?.recordError(error, attributes: attributes, at: instant())
    }

    public func addLink(_ link: SpanLink) {
        wrapped?.addLink(link)
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        state?.end()
        wrapped?.end(at: instant())
    }
}

/// A span's place in the profile: what its `ServiceContext` carries (not the span itself, which
/// holds that context), so that scopes and spans started inside it find their parent frame.
final class SpanState: @unchecked Sendable {
    private let lock = SpinLock()
    private let parent: AsyncContext
    private let frame: AsyncFrame?
    private let file: String
    private let line: UInt
    private let labelAttributes: [String]

    // Guarded by `lock`.
    private var _name: String
    private var ownAttributes: SpanAttributes = [:]
    private var placed: AsyncContext?
    private var ended = false
    // Weak: the span holds its ServiceContext, which holds this state.
    private weak var _span: PprofSpan?

    init(
        operationName: String,
        parent: AsyncContext,
        frame: AsyncFrame?,
        file: String,
        line: UInt,
        labelAttributes: [String]
    ) {
        self._name = operationName
        self.parent = parent
        self.frame = frame
        self.file = file
        self.line = line
        self.labelAttributes = labelAttributes
    }

    /// The context that frames nested in this span use: placing the span now if it was not.
    var context: AsyncContext? {
        lock.withLock { placeLocked() }
    }

    private func placeLocked() -> AsyncContext? {
        if let placed { return placed }
        guard let frame else { return nil }
        var labels: [String: String] = [:]
        let attributes = ownAttributes
        for key in labelAttributes {
            if let value = attributes[key]?.toSpanAttribute() { labels[key] = Self.text(value) }
        }
        let context = Spans.place(frame, under: parent, name: _name, file: file, line: line, labels: labels)
        placed = context
        return context
    }

    private static func text(_ attribute: SpanAttribute) -> String {
        switch attribute {
        case .string(let s): return s
        case .stringConvertible(let s): return s.description
        case .int64(let n): return String(n)
        case .int32(let n): return String(n)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        default: return "\(attribute)"
        }
    }

    var name: String {
        get { lock.withLock { _name } }
        set { lock.withLock { _name = newValue } }
    }

    /// The attributes labels are read from (the span's own, kept also when a wrapped span has them).
    var attributes: SpanAttributes {
        get { lock.withLock { ownAttributes } }
        set { lock.withLock { ownAttributes = newValue } }
    }

    var isRecording: Bool { frame != nil }

    /// The span this state belongs to, while it is alive and not ended.
    var activeSpan: PprofSpan? {
        get { lock.withLock { ended ? nil : _span } }
        set { lock.withLock { _span = newValue } }
    }

    /// Places the frame if nothing did yet, and closes it; once.
    func end() {
        let frame = lock.withLock { () -> AsyncFrame? in
            guard !ended else { return nil }
            ended = true
            _ = placeLocked()
            return self.frame
        }
        if let frame { Spans.close(frame) }
    }
}
