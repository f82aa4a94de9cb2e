import Hummingbird
import Tracing

/// Names the request span after its route before the handler runs.
///
/// Hummingbird's `TracingMiddleware` starts the request span as `HTTP GET route not found` and
/// renames it to the route (and sets `http.route`) only after the handler returned. A
/// `PprofTracer` span takes its frame name and labels when something first nests in it, so a
/// handler that starts spans or `Trace.scope`s would file the request under the provisional name.
///
/// Router middlewares run after the route matched (Hummingbird 2's `Router` wraps each route's
/// responder in them; `RouterResponder` sets `context.endpointPath` before calling it), so this
/// one, added after `TracingMiddleware`, finds the route and the request span (through the
/// tracer's `activeSpan(identifiedBy:)`) and renames the span before anything nests in it.
/// Requests that match no route are left as they are.
struct RouteSpanMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let route = context.endpointPath,
            let current = ServiceContext.current,
            let span = InstrumentationSystem.tracer.activeSpan(identifiedBy: current)
        {
            span.operationName = route
            span.attributes["http.route"] = route
        }
        return try await next(request, context)
    }
}
