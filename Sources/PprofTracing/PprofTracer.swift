import Pprof
import Tracing

/// A swift-distributed-tracing `Tracer` that makes every span a profile frame: after
/// `InstrumentationSystem.bootstrap(PprofTracer())`, each `withSpan` and `startSpan` in the
/// program and its libraries (Hummingbird, AsyncHTTPClient, postgres-nio, grpc-swift) is a scope
/// named by the span's operation, with chosen attributes as labels.
///
/// ```swift
/// import PprofTracing
/// import Tracing
///
/// InstrumentationSystem.bootstrap(PprofTracer())
/// try await withSpan("load user") { _ in try await db.user(id) }   // a frame "load user"
/// ```
///
/// Spans and `Trace.scope` share one call path: a scope inside a span nests under it and a span
/// inside a scope under that. A span's frame takes its name and labels when it is first needed:
/// when a scope or span starts inside it, or when it ends; a span renamed after that point
/// (Hummingbird's request span is renamed to its route after the route ran) keeps the earlier
/// name (``activeSpan(identifiedBy:)`` lets a middleware rename such a span before its handler
/// runs). Its time outside the frames nested in it is shown as `(suspended or unscoped)`.
///
/// To keep exporting spans elsewhere (OpenTelemetry, say), wrap that tracer: every span is
/// forwarded to it, with its attributes, events, errors, status and links, and context
/// propagation (`extract`, `inject`) is its.
///
/// ```swift
/// InstrumentationSystem.bootstrap(PprofTracer(forwardingTo: otelTracer))
/// ```
///
/// While no profile records, a span still costs its allocation and the wrapped tracer's work,
/// and no frame.
public struct PprofTracer: Tracer {
    public typealias Span = PprofSpan

    private let wrapped: (any Tracer)?
    private let labelAttributes: [String]

    /// - Parameters:
    ///   - labelAttributes: Span attributes copied as labels onto the span's samples and those of
    ///     everything nested in it, where the span has them when it is placed. Keep them of low
    ///     cardinality (each distinct value is a series in Pyroscope).
    ///   - wrapped: A tracer to forward every span to, or nil.
    public init(
        labelAttributes: [String] = ["http.route", "http.request.method"],
        forwardingTo wrapped: (any Tracer)? = nil
    ) {
        self.wrapped = wrapped
        self.labelAttributes = labelAttributes
        Spans.installContextProvider { ServiceContext.current?[PprofSpanKey.self]?.context }
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> PprofSpan {
        var serviceContext = context()
        var inner: (any Tracing.Span)?
        if let wrapped {
            let span = wrapped.startAnySpan(
                operationName,
                context: serviceContext,
                ofKind: kind,
                at: instant(),
                function: function,
                file: fileID,
                line: line
            )
            serviceContext = span.context
            inner = span
        }
        // While nothing records, a span is only its wrapped span: no frame, no context entry.
        guard Spans.isRecording else {
            return PprofSpan(state: nil, context: serviceContext, wrapped: inner, name: operationName)
        }
        // The parent is the deeper of the span's given context and the task's own scopes.
        let own = Spans.currentContext
        var parent = own
        if let given = serviceContext[PprofSpanKey.self]?.context, given.path != own.path {
            parent = Spans.isDeeper(given, than: own) ? given : own
        }
        let state = SpanState(
            operationName: operationName,
            parent: parent,
            frame: Spans.open(parent: parent),
            file: fileID,
            line: line,
            labelAttributes: labelAttributes
        )
        serviceContext[PprofSpanKey.self] = state
        let span = PprofSpan(state: state, context: serviceContext, wrapped: inner)
        state.activeSpan = span
        return span
    }

    /// The span that `context` is the context of (or is nested in, without a span of its own),
    /// while that span has not ended; otherwise nil.
    ///
    /// This lets code that did not start a span rename it or set its label attributes before
    /// anything nests in it, which is when its frame takes its name and labels. Hummingbird's
    /// `TracingMiddleware` names its request span `HTTP GET route not found` and renames it to
    /// the route after the handler ran; a router middleware added after it can do that before:
    ///
    /// ```swift
    /// struct RouteSpanMiddleware<Context: RequestContext>: RouterMiddleware {
    ///     func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
    ///         if let route = context.endpointPath, let current = ServiceContext.current,
    ///            let span = InstrumentationSystem.tracer.activeSpan(identifiedBy: current) {
    ///             span.operationName = route
    ///             span.attributes["http.route"] = route
    ///         }
    ///         return try await next(request, context)
    ///     }
    /// }
    /// router.middlewares.add(TracingMiddleware())
    /// router.middlewares.add(RouteSpanMiddleware())
    /// ```
    ///
    /// Holds no span alive: a span that was released without ending is not found. Only spans
    /// started while a profile records are found: an idle span is only its wrapped span.
    public func activeSpan(identifiedBy context: ServiceContext) -> PprofSpan? {
        context[PprofSpanKey.self]?.activeSpan
    }

    public func forceFlush() {
        wrapped?.forceFlush()
    }

    public func extract<Carrier, Extract>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    )
    where Extract: Extractor, Extract.Carrier == Carrier {
        wrapped?.extract(carrier, into: &context, using: extractor)
    }

    public func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Inject.Carrier == Carrier {
        wrapped?.inject(context, into: &carrier, using: injector)
    }
}

/// The key under which a span's `ServiceContext` holds the span, so that what starts inside it
/// finds its frame.
enum PprofSpanKey: ServiceContextKey {
    typealias Value = SpanState
}
