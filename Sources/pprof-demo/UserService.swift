import Pprof

/// A small in-memory user service, instrumented as a user would instrument theirs: each request
/// is parsed, validated, looked up or stored, and rendered, each step in a scope.
final class UserService: @unchecked Sendable {
    struct User {
        var id: Int
        var name: String
        var email: String
        var tags: [String]
    }

    enum Failure: Error { case badRequest, notFound }

    private var users: [Int: User] = [:]
    private var byTag: [String: [Int]] = [:]
    private let lock = Lock()

    init(users count: Int) {
        for id in 0..<count {
            insert(
                User(id: id, name: "user\(id)", email: "user\(id)@example.com", tags: ["t\(id % 7)", "t\(id % 11)"])
            )
        }
    }

    /// One request: `GET /users/ID`, `POST /users` with a body, or `GET /search?tag=T`.
    func handle(method: String, path: String, body: String) -> (status: Int, body: String) {
        let t = Trace.enter("handle")
        defer { Trace.exit(t) }
        do {
            let request = try Trace.scope("parse") { try parse(method: method, path: path, body: body) }
            // What follows carries the route as a label: `go tool pprof -tagfocus=route=/search`.
            return try Trace.withLabels(["route": request.route]) {
                try Trace.scope("validate") { try validate(request) }
                switch request {
                case .get(let id):
                    let user = try Trace.scope("store.lookup") { try lookup(id) }
                    return (200, Trace.scope("render") { render([user]) })
                case .create(let user):
                    Trace.scope("store.insert") { insert(user) }
                    return (201, Trace.scope("render") { render([user]) })
                case .search(let tag):
                    let found = Trace.scope("store.search") { search(tag) }
                    return (200, Trace.scope("render") { render(found) })
                }
            }
        } catch {
            return (error as? Failure == .notFound ? 404 : 400, "{\"error\":\"\(error)\"}")
        }
    }

    private enum Request {
        case get(Int)
        case create(User)
        case search(String)

        /// The route's template, low in cardinality as a label must be.
        var route: String {
            switch self {
            case .get: "/users/:id"
            case .create: "/users"
            case .search: "/search"
            }
        }
    }

    private func parse(method: String, path: String, body: String) throws -> Request {
        let parts = path.split(separator: "/")
        if method == "GET", parts.count == 2, parts[0] == "users", let id = Int(parts[1]) { return .get(id) }
        if method == "GET", parts.count == 1, parts[0].hasPrefix("search?tag=") {
            return .search(String(parts[0].dropFirst("search?tag=".count)))
        }
        guard method == "POST", path == "/users" else { throw Failure.badRequest }
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard let idText = fields["id"], let id = Int(idText), let name = fields["name"] else {
            throw Failure.badRequest
        }
        return .create(
            User(
                id: id,
                name: name,
                email: fields["email"] ?? "",
                tags: (fields["tags"] ?? "").split(separator: ",").map(String.init)
            )
        )
    }

    private func validate(_ request: Request) throws {
        if case .create(let user) = request {
            guard !user.name.isEmpty, user.name.count < 64, user.email.contains("@") else { throw Failure.badRequest }
        }
    }

    private func lookup(_ id: Int) throws -> User {
        guard let user = lock.withLock({ users[id] }) else { throw Failure.notFound }
        return user
    }

    /// Ids kept per tag. Only the last 20 are read, but every insert appends (ids repeat, since
    /// the clients reuse 12 000 of them): without a cap the index grew by about 150 KB/s under
    /// the demo's load, which the soak (Benchmarks/soak.py) saw as resident memory rising.
    private static let idsPerTag = 1024

    private func insert(_ user: User) {
        lock.withLock {
            users[user.id] = user
            for tag in user.tags {
                byTag[tag, default: []].append(user.id)
                // Trimmed in halves, so that the copy is paid once per 1024 inserts, not on each.
                if byTag[tag]!.count >= 2 * Self.idsPerTag { byTag[tag]!.removeFirst(Self.idsPerTag) }
            }
        }
    }

    /// The last 20 users given the tag.
    private func search(_ tag: String) -> [User] {
        lock.withLock { (byTag[tag] ?? []).suffix(20).compactMap { users[$0] } }
    }

    private func render(_ users: [User]) -> String {
        var out = "["
        for (i, user) in users.enumerated() {
            if i > 0 { out += "," }
            out += "{\"id\":\(user.id),\"name\":\"\(user.name)\",\"email\":\"\(user.email)\",\"tags\":["
            out += user.tags.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
        }
        return out + "]"
    }
}
