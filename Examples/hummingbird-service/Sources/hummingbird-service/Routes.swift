import Hummingbird
import Pprof
import Tracing

extension User: ResponseEncodable {}

/// What `GET /search` answers.
struct SearchResult: ResponseEncodable {
    var tag: String
    var count: Int
    var users: [User]
}

/// The API: `GET /users/{id}`, `POST /users`, `GET /search?tag=T`, and `GET /health`.
func buildRouter(store: UserStore) -> Router<BasicRequestContext> {
    let router = Router()
    // Router middlewares wrap each route's handler, so they run after the route matched.
    router.middlewares.add(TracingMiddleware())
    router.middlewares.add(RouteSpanMiddleware())

    router.get("/health") { _, _ in "ok" }

    router.get("/users/{id}") { _, context -> User in
        let id = try Trace.scope("parse") { try context.parameters.require("id", as: Int.self) }
        let found = await withSpan("store.lookup") { _ in await store.user(id) }
        guard let user = found else { throw HTTPError(.notFound, message: "no user \(id)") }
        return Trace.scope("render") {
            var user = user
            user.tags = user.tags.sorted()
            _ = fingerprint(user)
            return user
        }
    }

    router.post("/users") { request, context -> EditedResponse<User> in
        let new = try await Trace.scope("decode") { try await request.decode(as: NewUser.self, context: context) }
        try Trace.scope("validate") {
            guard !new.name.isEmpty, new.email.contains("@") else {
                throw HTTPError(.badRequest, message: "a user needs a name and an email")
            }
        }
        let user = await withSpan("store.insert") { span in
            span.attributes["user.tags"] = new.tags.count
            return await store.insert(new)
        }
        _ = fingerprint(user)
        return EditedResponse(status: .created, response: user)
    }

    router.get("/search") { request, _ -> SearchResult in
        let tag = try Trace.scope("parse") {
            guard let tag = request.uri.queryParameters.get("tag"), !tag.isEmpty else {
                throw HTTPError(.badRequest, message: "tag= is required")
            }
            return tag
        }
        let users = await withSpan("store.search") { span in
            span.attributes["search.tag"] = tag
            return await store.users(taggedWith: tag)
        }
        return Trace.scope("rank") {
            // Rank by a fingerprint (stable, a little work per user); keep the first 20.
            let ranked = users.map { ($0, fingerprint($0, rounds: 4)) }.sorted { $0.1 < $1.1 }.prefix(20).map(\.0)
            return SearchResult(tag: tag, count: users.count, users: ranked)
        }
    }
    return router
}
